"""A small Hugging Face Hub-protocol server for tests (standard library only).

It speaks enough of the Hub's HTTP protocol for the real, unmodified ``huggingface_hub``
client (0.3x, 1.x, 2.x; see ``/work/shared/hub-protocol.md``) to create repos, commit
files (regular and LFS "basic" transfer), list trees, read repo info by branch or commit,
and download files with ``ETag`` / ``X-Repo-Commit`` / ``X-Linked-Etag`` / ``Range``
(tree listings page with a ``Link`` header when ``tree_page_size`` is set).
Repos live in memory with real commits (40-hex sha per commit, branches point at them).

Fault injection (``server.faults``) covers what the loader must survive: a dropped
connection in the middle of a download body, bytes that do not match the advertised
``ETag``, failing or dropped uploads and commits, and authentication (401).

Use it in-process::

    with HubServer() as hub:
        os.environ["HF_ENDPOINT"] = hub.url  # before importing huggingface_hub
        ...

or from a shell: ``python -m tests.hub_server --port 8765`` (prints the URL, serves until
interrupted). The client must run with ``HF_HUB_DISABLE_XET=1`` so that LFS files go
through the basic transfer this server implements.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["Commit", "Faults", "HubServer", "Repo", "StoredFile"]

LFS_SUFFIXES = (
    ".safetensors",
    ".bin",
    ".pt",
    ".pth",
    ".pkl",
    ".zip",
    ".mp4",
    ".gif",
    ".png",
    ".npz",
    ".cleanrl_model",
)
REGULAR_MAX = 10 * 1024 * 1024
SHA40 = re.compile(r"^[0-9a-f]{40}$")


def git_blob_sha1(content: bytes) -> str:
    """Git's blob id of ``content`` (sha1 of ``b"blob <len>\\0" + content``)."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The git-lfs pointer file stored in git in place of an LFS file."""
    return (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n"
    ).encode()


@dataclass(frozen=True)
class StoredFile:
    """One file in a commit."""

    content: bytes
    lfs: bool

    @property
    def sha256(self) -> str:
        """Hex sha256 of the content (the LFS oid)."""
        return hashlib.sha256(self.content).hexdigest()

    @property
    def git_oid(self) -> str:
        """Git blob id: of the content for regular files, of the pointer for LFS files."""
        if self.lfs:
            return git_blob_sha1(lfs_pointer(self.sha256, len(self.content)))
        return git_blob_sha1(self.content)

    @property
    def etag(self) -> str:
        """What the Hub sends as (linked) ETag: sha256 for LFS files, git oid otherwise."""
        return self.sha256 if self.lfs else self.git_oid


@dataclass
class Commit:
    """An immutable snapshot of a repo's files."""

    oid: str
    parent: str | None
    title: str
    files: dict[str, StoredFile]
    created_at: float = field(default_factory=time.time)


@dataclass
class Repo:
    """A repo: branches pointing at commits."""

    repo_id: str
    repo_type: str
    private: bool = False
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)

    def resolve(self, revision: str) -> Commit | None:
        """The commit a branch name, full sha or unique sha prefix (>= 7 chars) names."""
        if revision in self.branches:
            return self.commits[self.branches[revision]]
        if revision in self.commits:
            return self.commits[revision]
        if len(revision) >= 7 and re.fullmatch(r"[0-9a-f]+", revision):
            hits = [c for oid, c in self.commits.items() if oid.startswith(revision)]
            if len(hits) == 1:
                return hits[0]
        return None


@dataclass
class Faults:
    """Fault injection knobs; change them between client calls.

    Attributes:
        require_auth: Answer 401 to any request without a bearer token (or with one not in
            ``valid_tokens`` when that is set).
        valid_tokens: Accepted tokens; ``None`` accepts any token.
        drop_download: ``{path: (after_bytes, times)}``: the next ``times`` GETs of that file
            send headers and body bytes up to absolute offset ``after_bytes``, then close the
            connection. A resumed (``Range``) request past that offset sends no byte.
        corrupt_download: Paths whose GET body has one byte flipped (headers unchanged, so the
            bytes no longer match the ``ETag``/``X-Linked-Etag`` sha256).
        fail_lfs_upload: ``(status, times)``: the next ``times`` LFS PUTs answer ``status``;
            status 0 means read half the body and drop the connection.
        drop_commit: The next ``drop_commit`` commit POSTs are dropped after reading the body
            (nothing is committed).
        fail_status: ``{path_regex: (status, times)}`` generic error injection by URL path.
    """

    require_auth: bool = False
    valid_tokens: set[str] | None = None
    drop_download: dict[str, tuple[int, int]] = field(default_factory=dict)
    corrupt_download: set[str] = field(default_factory=set)
    fail_lfs_upload: tuple[int, int] | None = None
    drop_commit: int = 0
    fail_status: dict[str, tuple[int, int]] = field(default_factory=dict)


class _DropConnection(Exception):
    """Raised inside a handler to close the socket without a complete response."""


class HubServer:
    """An in-memory Hub-protocol server on 127.0.0.1 (free port by default).

    Args:
        port: TCP port; 0 picks a free one.

    Attributes:
        url: ``http://127.0.0.1:<port>`` (use as ``HF_ENDPOINT``).
        repos: ``{"model:ns/name": Repo}``.
        lfs: Uploaded LFS objects by sha256.
        faults: The fault injection knobs.
        requests: ``(method, path, headers)`` of every request received (header names
            lower-cased), for assertions.
    """

    def __init__(self, port: int = 0) -> None:
        self.repos: dict[str, Repo] = {}
        self.lfs: dict[str, bytes] = {}
        self.faults = Faults()
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.lock = threading.RLock()
        handler = type("_BoundHandler", (_Handler,), {"hub": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.port: int = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None
        self.connections: set[socket.socket] = set()
        self.tree_page_size: int | None = None
        """Page tree listings (``Link: <...>; rel="next"``) by this many entries."""

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> HubServer:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the listening socket and every open (keep-alive) connection."""
        self.httpd.shutdown()
        self.httpd.server_close()
        with self.lock:
            open_connections = list(self.connections)
        for conn in open_connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- direct access for tests ----------------------------------------------------------
    def get_repo(self, repo_id: str, repo_type: str = "model") -> Repo | None:
        """The repo or None."""
        return self.repos.get(f"{repo_type}:{repo_id}")

    def create_repo(self, repo_id: str, repo_type: str = "model", private: bool = False) -> Repo:
        """Create an empty repo (with an initial commit holding .gitattributes, like the Hub)."""
        with self.lock:
            key = f"{repo_type}:{repo_id}"
            if key not in self.repos:
                repo = Repo(repo_id, repo_type, private)
                self.repos[key] = repo
                attrs = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
                self.commit(
                    repo, "main", "initial commit", {".gitattributes": StoredFile(attrs, False)}
                )
            return self.repos[key]

    def commit(
        self,
        repo: Repo,
        branch: str,
        title: str,
        add: dict[str, StoredFile],
        delete: tuple[str, ...] = (),
    ) -> Commit:
        """Create a commit on ``branch`` adding/replacing ``add`` and deleting ``delete``."""
        with self.lock:
            parent_oid = repo.branches.get(branch)
            files = dict(repo.commits[parent_oid].files) if parent_oid else {}
            for path in delete:
                prefix = path.rstrip("/") + "/"
                for existing in list(files):
                    if existing == path or existing.startswith(prefix):
                        del files[existing]
            files.update(add)
            seed = f"{parent_oid}:{title}:{time.time_ns()}:{sorted(files)}:{len(repo.commits)}"
            oid = hashlib.sha1(seed.encode()).hexdigest()
            commit = Commit(oid, parent_oid, title, files)
            repo.commits[oid] = commit
            repo.branches[branch] = oid
            return commit

    def put_files(
        self, repo_id: str, files: dict[str, bytes], title: str = "upload", branch: str = "main"
    ) -> str:
        """Commit raw files straight into a repo (bypassing the client); returns the sha."""
        repo = self.get_repo(repo_id) or self.create_repo(repo_id)
        add = {
            p: StoredFile(c, p.endswith(LFS_SUFFIXES) or len(c) > REGULAR_MAX)
            for p, c in files.items()
        }
        return self.commit(repo, branch, title, add).oid


_REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}


class _Handler(BaseHTTPRequestHandler):
    hub: HubServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        with self.hub.lock:
            self.hub.connections.add(self.connection)

    def finish(self) -> None:
        with self.hub.lock:
            self.hub.connections.discard(self.connection)
        super().finish()

    # Quiet: the test output stays readable.
    def log_message(self, format: str, *args: Any) -> None:
        return

    # -- plumbing --------------------------------------------------------------------------
    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            return self.rfile.read(length)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    def _send(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
        content_length: int | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        length = len(body) if content_length is None else content_length
        self.send_header("Content-Length", str(length))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers)

    def _error(
        self, status: int, code: str | None, message: str, headers: dict[str, str] | None = None
    ) -> None:
        hdrs = {"X-Error-Message": message, **(headers or {})}
        if code:
            hdrs["X-Error-Code"] = code
        self._json(status, {"error": message}, hdrs)

    def _drop(self) -> None:
        raise _DropConnection

    def _dispatch(self) -> None:
        hub = self.hub
        split = urlsplit(self.path)
        path, query = split.path, parse_qs(split.query)
        with hub.lock:
            hub.requests.append(
                (self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
            )
        try:
            for pattern, (status, times) in list(hub.faults.fail_status.items()):
                if times > 0 and re.search(pattern, path):
                    hub.faults.fail_status[pattern] = (status, times - 1)
                    self._body()
                    self._error(status, None, f"injected failure {status}")
                    return
            if not self._authorized():
                self._body()
                self._error(401, None, "Invalid credentials in Authorization header")
                return
            self._route(path, query)
        except _DropConnection:
            self.close_connection = True
            try:
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _authorized(self) -> bool:
        faults = self.hub.faults
        if not faults.require_auth:
            return True
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return False
        token = auth[len("Bearer ") :]
        return faults.valid_tokens is None or token in faults.valid_tokens

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    # -- routing ---------------------------------------------------------------------------
    def _route(self, path: str, query: dict[str, list[str]]) -> None:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        method = self.command
        if method == "POST" and path == "/api/repos/create":
            return self._create_repo()
        if method in ("DELETE", "POST") and path == "/api/repos/delete":
            return self._delete_repo()
        if method == "POST" and path == "/api/validate-yaml":
            self._body()
            return self._json(200, {"errors": [], "warnings": []})
        if method == "PUT" and len(parts) == 2 and parts[0] == "lfs-upload":
            return self._lfs_put(parts[1])
        if parts[:1] == ["api"] and len(parts) >= 4 and parts[1] in _REPO_TYPES:
            repo_type = _REPO_TYPES[parts[1]]
            repo_id = f"{parts[2]}/{parts[3]}"
            rest = parts[4:]
            return self._api(method, repo_type, repo_id, rest, query)
        # LFS batch: /{[datasets/]ns}/{name}.git/info/lfs/objects/batch
        if method == "POST" and path.endswith(".git/info/lfs/objects/batch"):
            repo_type, rest = self._type_prefix(parts)
            repo_id = "/".join(rest[:2])[: -len(".git")]
            return self._lfs_batch(repo_type, repo_id)
        # resolve: /{[datasets/]ns}/{name}/resolve/{rev}/{path}
        repo_type, rest = self._type_prefix(parts)
        if method in ("GET", "HEAD") and len(rest) >= 5 and rest[2] == "resolve":
            repo_id = f"{rest[0]}/{rest[1]}"
            return self._resolve(repo_type, repo_id, rest[3], "/".join(rest[4:]))
        if method == "GET" and path == "/api/whoami-v2":
            return self._json(200, {"name": "tester", "type": "user", "orgs": []})
        self._body()
        return self._error(404, None, f"no route for {method} {path}")

    @staticmethod
    def _type_prefix(parts: list[str]) -> tuple[str, list[str]]:
        if parts and parts[0] in ("datasets", "spaces"):
            return _REPO_TYPES[parts[0]], parts[1:]
        return "model", parts

    def _repo_or_404(self, repo_type: str, repo_id: str) -> Repo | None:
        repo = self.hub.get_repo(repo_id, repo_type)
        if repo is None:
            self._error(404, "RepoNotFound", f"Repository not found: {repo_id}")
        return repo

    def _commit_or_404(self, repo: Repo, revision: str) -> Commit | None:
        commit = repo.resolve(revision)
        if commit is None:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
        return commit

    # -- repos -----------------------------------------------------------------------------
    def _create_repo(self) -> None:
        payload = json.loads(self._body() or b"{}")
        name = payload.get("name")
        org = payload.get("organization") or "tester"
        repo_type = payload.get("type") or "model"
        repo_id = f"{org}/{name}"
        url = f"{self.hub.url}/{'' if repo_type == 'model' else repo_type + 's/'}{repo_id}"
        if self.hub.get_repo(repo_id, repo_type) is not None:
            return self._json(409, {"error": "You already created this repo", "url": url})
        private = bool(payload.get("private")) or payload.get("visibility") == "private"
        self.hub.create_repo(repo_id, repo_type, private)
        self._json(200, {"url": url, "name": repo_id, "id": repo_id})

    def _delete_repo(self) -> None:
        payload = json.loads(self._body() or b"{}")
        repo_id = f"{payload.get('organization') or 'tester'}/{payload.get('name')}"
        key = f"{payload.get('type') or 'model'}:{repo_id}"
        with self.hub.lock:
            if self.hub.repos.pop(key, None) is None:
                return self._error(404, "RepoNotFound", f"Repository not found: {repo_id}")
        self._json(200, {})

    def _api(
        self,
        method: str,
        repo_type: str,
        repo_id: str,
        rest: list[str],
        query: dict[str, list[str]],
    ) -> None:
        body = self._body() if method in ("POST", "PUT") else b""
        repo = self._repo_or_404(repo_type, repo_id)
        if repo is None:
            return
        if method == "GET" and (not rest or rest[0] == "revision"):
            revision = rest[1] if len(rest) > 1 else "main"
            commit = self._commit_or_404(repo, revision)
            if commit is None:
                return
            return self._json(200, self._info(repo, commit))
        if method == "GET" and rest[:1] == ["tree"] and len(rest) >= 2:
            commit = self._commit_or_404(repo, rest[1])
            if commit is None:
                return
            recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
            cursor = int(query.get("cursor", ["0"])[0])
            return self._tree(commit, "/".join(rest[2:]), recursive, cursor)
        if method == "GET" and rest[:1] == ["refs"]:
            branches = [
                {"name": b, "ref": f"refs/heads/{b}", "targetCommit": o}
                for b, o in repo.branches.items()
            ]
            return self._json(200, {"branches": branches, "tags": [], "converts": []})
        if method == "POST" and rest[:1] == ["preupload"] and len(rest) >= 2:
            return self._preupload(repo, rest[1], body)
        if method == "POST" and rest[:1] == ["commit"] and len(rest) >= 2:
            return self._commit(repo, rest[1], body)
        return self._error(404, None, f"unsupported API call {method} {rest}")

    def _info(self, repo: Repo, commit: Commit) -> dict[str, Any]:
        return {
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": commit.oid,
            "private": repo.private,
            "disabled": False,
            "gated": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "lastModified": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(commit.created_at)),
            "siblings": [{"rfilename": p} for p in sorted(commit.files)],
        }

    def _tree(self, commit: Commit, prefix: str, recursive: bool, cursor: int = 0) -> None:
        prefix = prefix.strip("/")
        base = prefix + "/" if prefix else ""
        if prefix and prefix in commit.files:
            return self._error(404, "EntryNotFound", f"{prefix} is a file, not a folder")
        entries: dict[str, dict[str, Any]] = {}
        for path, stored in sorted(commit.files.items()):
            if not path.startswith(base):
                continue
            relative = path[len(base) :]
            dirs = relative.split("/")[:-1]
            for depth in range(len(dirs)):
                if not recursive and depth > 0:
                    break
                dir_path = base + "/".join(dirs[: depth + 1])
                entries.setdefault(
                    dir_path,
                    {
                        "type": "directory",
                        "path": dir_path,
                        "oid": git_blob_sha1(dir_path.encode()),
                    },
                )
            if not recursive and dirs:
                continue
            entry: dict[str, Any] = {
                "type": "file",
                "path": path,
                "size": len(stored.content),
                "oid": stored.git_oid,
            }
            if stored.lfs:
                pointer = lfs_pointer(stored.sha256, len(stored.content))
                entry["lfs"] = {
                    "oid": stored.sha256,
                    "size": len(stored.content),
                    "pointerSize": len(pointer),
                }
            entries[path] = entry
        if prefix and not entries:
            return self._error(404, "EntryNotFound", f"{prefix} does not exist")
        listing = list(entries.values())
        size = self.hub.tree_page_size
        headers: dict[str, str] = {}
        if size is not None and cursor + size < len(listing):
            base_url = f"{self.hub.url}{urlsplit(self.path).path}"
            query = f"recursive={str(recursive).lower()}&cursor={cursor + size}"
            headers["Link"] = f'<{base_url}?{query}>; rel="next"'
        if size is not None:
            listing = listing[cursor : cursor + size]
        self._json(200, listing, headers)

    # -- upload ----------------------------------------------------------------------------
    def _preupload(self, repo: Repo, revision: str, body: bytes) -> None:
        payload = json.loads(body or b"{}")
        commit = repo.resolve(revision)
        result = []
        for item in payload.get("files", []):
            path = item["path"]
            size = int(item.get("size", 0))
            lfs = path.endswith(LFS_SUFFIXES) or size > REGULAR_MAX
            remote = commit.files.get(path) if commit is not None else None
            entry: dict[str, Any] = {
                "path": path,
                "uploadMode": "lfs" if lfs else "regular",
                "shouldIgnore": False,
            }
            if remote is not None:
                entry["oid"] = remote.sha256 if lfs else remote.git_oid
            result.append(entry)
        self._json(200, {"files": result, "commitOid": commit.oid if commit else None})

    def _lfs_batch(self, repo_type: str, repo_id: str) -> None:
        payload = json.loads(self._body() or b"{}")
        if self.hub.get_repo(repo_id, repo_type) is None:
            return self._error(404, "RepoNotFound", f"Repository not found: {repo_id}")
        objects = []
        for obj in payload.get("objects", []):
            oid, size = obj["oid"], int(obj["size"])
            out: dict[str, Any] = {"oid": oid, "size": size, "authenticated": True}
            if oid not in self.hub.lfs:
                out["actions"] = {"upload": {"href": f"{self.hub.url}/lfs-upload/{oid}"}}
            objects.append(out)
        self._send(
            200,
            json.dumps({"transfer": "basic", "objects": objects, "hash_algo": "sha256"}).encode(),
            content_type="application/vnd.git-lfs+json",
        )

    def _lfs_put(self, oid: str) -> None:
        faults = self.hub.faults
        if faults.fail_lfs_upload is not None and faults.fail_lfs_upload[1] > 0:
            status, times = faults.fail_lfs_upload
            faults.fail_lfs_upload = (status, times - 1)
            if status == 0:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length // 2)
                self._drop()
            self._body()
            return self._error(status, None, f"injected upload failure {status}")
        data = self._body()
        if hashlib.sha256(data).hexdigest() != oid:
            return self._error(400, None, f"sha256 of uploaded bytes does not match oid {oid}")
        with self.hub.lock:
            self.hub.lfs[oid] = data
        self._send(200, b"")

    def _commit(self, repo: Repo, revision: str, body: bytes) -> None:
        if self.hub.faults.drop_commit > 0:
            self.hub.faults.drop_commit -= 1
            self._drop()
        title = ""
        add: dict[str, StoredFile] = {}
        delete: list[str] = []
        parent: str | None = None
        for line in body.splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            key, value = item.get("key"), item.get("value", {})
            if key == "header":
                title = value.get("summary", "")
                parent = value.get("parentCommit")
            elif key == "file":
                add[value["path"]] = StoredFile(base64.b64decode(value["content"]), False)
            elif key == "lfsFile":
                data = self.hub.lfs.get(value["oid"])
                if data is None:
                    return self._error(400, None, f"LFS object {value['oid']} was never uploaded")
                add[value["path"]] = StoredFile(data, True)
            elif key in ("deletedFile", "deletedFolder"):
                delete.append(value["path"])
            else:
                return self._error(400, None, f"unknown commit operation {key!r}")
        branch = revision
        with self.hub.lock:
            if branch not in repo.branches and repo.branches:
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            if parent is not None and repo.branches.get(branch) != parent:
                return self._error(
                    412, None, "A commit has happened since. Please refresh and try again."
                )
            commit = self.hub.commit(repo, branch, title, add, tuple(delete))
        prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
        self._json(
            200,
            {
                "commitUrl": f"{self.hub.url}/{prefix}{repo.repo_id}/commit/{commit.oid}",
                "commitOid": commit.oid,
                "success": True,
            },
        )

    # -- download --------------------------------------------------------------------------
    def _resolve(self, repo_type: str, repo_id: str, revision: str, path: str) -> None:
        repo = self._repo_or_404(repo_type, repo_id)
        if repo is None:
            return
        commit = self._commit_or_404(repo, revision)
        if commit is None:
            return
        stored = commit.files.get(path)
        if stored is None:
            return self._error(
                404,
                "EntryNotFound",
                f"{path} does not exist at {revision}",
                {"X-Repo-Commit": commit.oid},
            )
        content = stored.content
        headers = {
            "X-Repo-Commit": commit.oid,
            "ETag": f'"{stored.etag}"',
            "Accept-Ranges": "bytes",
        }
        if stored.lfs:
            headers["X-Linked-Etag"] = f'"{stored.sha256}"'
            headers["X-Linked-Size"] = str(len(content))
        start, end = 0, len(content)
        status = 200
        range_header = self.headers.get("Range")
        if range_header:
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", range_header.strip())
            if match is None or int(match.group(1)) > len(content):
                return self._send(416, b"", {"Content-Range": f"bytes */{len(content)}"})
            start = int(match.group(1))
            end = int(match.group(2)) + 1 if match.group(2) else len(content)
            end = min(end, len(content))
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(content)}"
        if self.command == "HEAD":
            return self._send(status, b"", headers, "application/octet-stream", end - start)
        body = content[start:end]
        faults = self.hub.faults
        if path in faults.corrupt_download and body:
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        drop = faults.drop_download.get(path)
        if drop is not None and drop[1] > 0:
            after, times = drop
            faults.drop_download[path] = (after, times - 1)
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body[: max(0, after - start)])
            self._drop()
        self._send(status, body, headers, "application/octet-stream")


def _main() -> None:
    parser = argparse.ArgumentParser(description="Serve an in-memory Hub-protocol server.")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = HubServer(args.port)
    print(server.url, flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    _main()


# --------------------------------------------------------------------------- client helpers


def client_env(server: HubServer, home: str, token: str | None = "hf_test_token") -> dict[str, str]:
    """Environment variables that point a *new* process's huggingface_hub at ``server``."""
    env = {
        "HF_ENDPOINT": server.url,
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_HOME": home,
        "HF_HUB_CACHE": f"{home}/hub",
    }
    if token is not None:
        env["HF_TOKEN"] = token
    return env


def patch_client(monkeypatch: Any, server: HubServer, home: str, token: str | None = None) -> None:
    """Point the already-imported huggingface_hub of this process at ``server``.

    The client reads ``HF_ENDPOINT`` and friends at import time into
    ``huggingface_hub.constants``; this patches those constants (via pytest's
    ``monkeypatch``, undone after the test) and sets ``HF_TOKEN``.
    """
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", server.url)
    monkeypatch.setattr(
        constants,
        "HUGGINGFACE_CO_URL_TEMPLATE",
        server.url + "/{repo_id}/resolve/{revision}/{filename}",
    )
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HOME", home)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", f"{home}/hub")
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", f"{home}/token")
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", f"{home}/stored_tokens")
    if token is None:
        monkeypatch.delenv("HF_TOKEN", raising=False)
    else:
        monkeypatch.setenv("HF_TOKEN", token)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
