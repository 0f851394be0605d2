"""Downloading from a Hub-protocol server with the real huggingface_hub client: revisions,
offline cache, the local zoo, and every failure case (each a clear HubError, no partial
file left in the cache, no pickle ever run)."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from hub_server import HubServer, patch_client
from safetensors.torch import save as st_save

pytest.importorskip("huggingface_hub")

from dqn_agents.hub import (
    HubAuthError,
    HubConnectionError,
    HubEnvMismatchError,
    HubFileMissingError,
    HubIntegrityError,
    HubRepoNotFoundError,
    HubRevisionNotFoundError,
    HubUnsafeFileError,
)
from dqn_agents.hub.pull import check_env_matches, download_model, find_in_zoo

TOKEN = "hf_pull_test_token_0123456789"


def model_files(scale: float = 1.0, env_id: str = "CartPole-v1") -> dict[str, bytes]:
    meta = {
        "format": "dqn-agents",
        "format_version": 1,
        "config": {"network": "mlp"},
        "env_id": env_id,
        "wrapper_options": None,
        "observation_space": {"shape": [4], "dtype": "float32"},
        "action_space": {"n": 2},
    }
    weights = {"head.weight": torch.full((2, 4), scale), "head.bias": torch.zeros(2)}
    return {"config.json": json.dumps(meta).encode(), "model.safetensors": st_save(weights)}


class Evil:
    """Unpickling this creates the marker file: proof that a payload ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (self.marker, "w"))


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    server = HubServer().start()
    patch_client(monkeypatch, server, str(tmp_path / "hf"), token=TOKEN)
    yield server
    server.stop()


def cache_root(tmp_path: Path) -> Path:
    return tmp_path / "hf" / "hub"


def assert_cache_clean(root: Path) -> None:
    """No temp/partial file anywhere; every snapshot file matches the blob hash it is named by."""
    if not root.exists():
        return
    leftovers = [p for p in root.rglob("*") if p.name.endswith(".incomplete")]
    assert leftovers == []
    for path in root.glob("*/snapshots/*/*"):
        blob = path.resolve()
        data = blob.read_bytes()
        if len(blob.name) == 64:
            assert hashlib.sha256(data).hexdigest() == blob.name, path
        else:
            header = b"blob %d\0" % len(data)
            assert hashlib.sha1(header + data).hexdigest() == blob.name, path


def test_download_latest_and_pinned_revision(hub: HubServer, tmp_path: Path) -> None:
    first = hub.put_files("org/tiny", model_files(1.0), "v1")
    second = hub.put_files("org/tiny", model_files(2.0), "v2")
    latest = download_model("org/tiny")
    assert latest.name == second
    pinned = download_model("org/tiny", revision=first)
    assert pinned.name == first
    assert (pinned / "model.safetensors").read_bytes() == model_files(1.0)["model.safetensors"]
    assert (latest / "model.safetensors").read_bytes() == model_files(2.0)["model.safetensors"]
    # The token from HF_TOKEN was sent, as a bearer token.
    assert any(h.get("authorization") == f"Bearer {TOKEN}" for _, _, h in hub.requests)
    assert_cache_clean(cache_root(tmp_path))


def test_offline_from_cache(
    hub: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sha = hub.put_files("org/tiny", model_files())
    download_model("org/tiny")
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    n_requests = len(hub.requests)
    assert download_model("org/tiny").name == sha
    assert download_model("org/tiny", revision=sha).name == sha
    assert len(hub.requests) == n_requests  # nothing went over the network
    with pytest.raises(HubFileMissingError, match="not in the local cache"):
        download_model("org/never-downloaded")


def test_offline_partial_cache_is_detected(
    hub: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.put_files("org/tiny", model_files())
    import huggingface_hub

    huggingface_hub.hf_hub_download("org/tiny", "config.json")  # only half of the model
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubFileMissingError, match=r"model\.safetensors"):
        download_model("org/tiny")


def test_server_down_uses_cache(hub: HubServer, tmp_path: Path) -> None:
    sha = hub.put_files("org/tiny", model_files())
    download_model("org/tiny")
    hub.stop()
    assert download_model("org/tiny").name == sha  # connection refused -> cached copy
    # (An uncached repo with the server down is retried by the client for ~20 s before the
    # same HubFileMissingError as offline mode; not exercised here to keep the suite fast.)


def test_repo_not_found(hub: HubServer) -> None:
    with pytest.raises(HubRepoNotFoundError, match="org/missing"):
        download_model("org/missing")


def test_wrong_revision(hub: HubServer) -> None:
    hub.put_files("org/tiny", model_files())
    with pytest.raises(HubRevisionNotFoundError, match="no-such-branch"):
        download_model("org/tiny", revision="no-such-branch")
    with pytest.raises(HubRevisionNotFoundError):
        download_model("org/tiny", revision="0" * 40)


def test_missing_weights_file(hub: HubServer, tmp_path: Path) -> None:
    hub.put_files("org/half", {"config.json": model_files()["config.json"]})
    with pytest.raises(HubFileMissingError, match=r"model\.safetensors"):
        download_model("org/half")
    assert_cache_clean(cache_root(tmp_path))


def test_bad_repo_id(hub: HubServer) -> None:
    with pytest.raises(ValueError, match="org/name"):
        download_model("not a repo id")


def test_401_without_token(hub: HubServer, monkeypatch: pytest.MonkeyPatch) -> None:
    hub.put_files("org/private", model_files())
    hub.faults.require_auth = True
    hub.faults.valid_tokens = {"the-right-token"}
    with pytest.raises(HubAuthError, match="401") as info:
        download_model("org/private")
    assert "HF_TOKEN" in str(info.value)
    assert TOKEN not in str(info.value)
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(HubAuthError, match="401"):
        download_model("org/private")
    monkeypatch.setenv("HF_TOKEN", "the-right-token")
    assert (download_model("org/private") / "config.json").is_file()


def test_connection_dropped_mid_download_is_resumed(hub: HubServer, tmp_path: Path) -> None:
    files = model_files()
    hub.put_files("org/tiny", files)
    hub.faults.drop_download["model.safetensors"] = (40, 1)  # one drop, then it resumes
    folder = download_model("org/tiny")
    assert (folder / "model.safetensors").read_bytes() == files["model.safetensors"]
    gets = [p for m, p, _ in hub.requests if m == "GET" and p.endswith("model.safetensors")]
    assert len(gets) == 2  # dropped once, retried by the client
    assert_cache_clean(cache_root(tmp_path))


def test_connection_dropped_for_good_leaves_nothing(hub: HubServer, tmp_path: Path) -> None:
    hub.put_files("org/tiny", model_files())
    hub.faults.drop_download["model.safetensors"] = (40, 100)
    with pytest.raises(HubConnectionError, match="network failed"):
        download_model("org/tiny")
    root = cache_root(tmp_path)
    assert not list(root.glob("*/snapshots/*/model.safetensors"))
    assert_cache_clean(root)
    hub.faults.drop_download.clear()
    assert (download_model("org/tiny") / "model.safetensors").is_file()  # retry works


def test_corrupted_bytes_are_detected_and_evicted(hub: HubServer, tmp_path: Path) -> None:
    hub.put_files("org/tiny", model_files())
    hub.faults.corrupt_download.add("model.safetensors")
    with pytest.raises(HubIntegrityError, match="corrupted"):
        download_model("org/tiny")
    root = cache_root(tmp_path)
    assert not list(root.glob("*/snapshots/*/model.safetensors"))
    assert_cache_clean(root)
    hub.faults.corrupt_download.clear()
    assert (download_model("org/tiny") / "model.safetensors").is_file()


def test_pickle_only_repo_is_refused_without_download(hub: HubServer, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps(Evil(str(marker)))
    hub.put_files(
        "org/pickled",
        {"config.json": model_files()["config.json"], "pytorch_model.bin": payload},
    )
    with pytest.raises(HubUnsafeFileError, match=r"never unpickles.*pytorch_model\.bin|pytorch"):
        download_model("org/pickled")
    assert not marker.exists()
    assert not any("pytorch_model.bin" in p for m, p, _ in hub.requests if m in ("GET", "HEAD"))


def test_sb3_repo_is_pointed_at_from_sb3(hub: HubServer) -> None:
    hub.put_files("sb3/dqn-CartPole-v1", {"dqn-CartPole-v1.zip": b"PK\x03\x04"})
    with pytest.raises(HubUnsafeFileError, match="from_sb3"):
        download_model("sb3/dqn-CartPole-v1")


def test_env_mismatch_check() -> None:
    meta = {"env_id": "ALE/Pong-v5"}
    check_env_matches(meta, None, source="x")
    check_env_matches(meta, "PongNoFrameskip-v4", source="x")
    check_env_matches(meta, "ALE/Pong-v5", source="x")
    with pytest.raises(HubEnvMismatchError, match="Breakout"):
        check_env_matches(meta, "ALE/Breakout-v5", source="x")
    with pytest.raises(HubEnvMismatchError):
        check_env_matches({"env_id": "CartPole-v1"}, "Acrobot-v1", source="x")


def test_zoo_lookup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    zoo = tmp_path / "zoo"
    entry = zoo / "dqn-Tiny-v0"
    entry.mkdir(parents=True)
    for name, data in model_files().items():
        (entry / name).write_bytes(data)
    monkeypatch.setenv("DQN_AGENTS_ZOO", os.fspath(zoo))
    assert find_in_zoo("dqn-agents/dqn-Tiny-v0") == entry
    assert find_in_zoo("dqn-Tiny-v0") == entry
    assert find_in_zoo("someone/dqn-Tiny-v0") is None
    assert find_in_zoo("dqn-agents/absent") is None
    # No server configured at all: the zoo answers without any network.
    assert download_model("dqn-agents/dqn-Tiny-v0") == entry


def test_server_range_and_headers(hub: HubServer) -> None:
    import urllib.request

    files = model_files()
    sha = hub.put_files("org/tiny", files)
    url = f"{hub.url}/org/tiny/resolve/main/model.safetensors"
    request = urllib.request.Request(url, headers={"Range": "bytes=10-19"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 206
        assert response.read() == files["model.safetensors"][10:20]
        assert response.headers["X-Repo-Commit"] == sha
        etag = hashlib.sha256(files["model.safetensors"]).hexdigest()
        assert response.headers["X-Linked-Etag"] == f'"{etag}"'
        assert response.headers["Content-Range"] == f"bytes 10-19/{len(files['model.safetensors'])}"


def test_missing_huggingface_hub_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from dqn_agents.hub import HubDependencyError, require_huggingface_hub

    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(HubDependencyError, match=r"dqn-agents\[hub\]"):
        require_huggingface_hub()
    with pytest.raises(ImportError):  # HubDependencyError is an ImportError too
        download_model("org/tiny")


def test_verify_follows_one_link_level_only(tmp_path: Path) -> None:
    """With Xet's shared blob store, blobs/<etag> links on to a file named by its Xet hash."""
    from dqn_agents.hub.pull import verify_cached_file

    data = model_files()["model.safetensors"]
    shared = tmp_path / "blobs" / "ab" / ("f" * 64)  # a Xet hash, not the sha256
    shared.parent.mkdir(parents=True)
    shared.write_bytes(data)
    blob = tmp_path / "models--o--r" / "blobs" / hashlib.sha256(data).hexdigest()
    blob.parent.mkdir(parents=True)
    blob.symlink_to(os.path.relpath(shared, blob.parent))
    snap = tmp_path / "models--o--r" / "snapshots" / ("1" * 40) / "model.safetensors"
    snap.parent.mkdir(parents=True)
    snap.symlink_to(os.path.relpath(blob, snap.parent))
    verify_cached_file(snap, repo_id="o/r")  # passes: checked against blobs/<sha256>
    shared.write_bytes(data[:-1] + b"!")
    with pytest.raises(HubIntegrityError):
        verify_cached_file(snap, repo_id="o/r")
    assert not snap.exists() and not blob.is_symlink() and not shared.exists()


def test_tree_listing_pages(hub: HubServer) -> None:
    from huggingface_hub import HfApi, snapshot_download

    files = {f"dir/f{i}.json": b"{}" for i in range(7)} | model_files()
    sha = hub.put_files("org/many", files)
    hub.tree_page_size = 3
    listed = HfApi().list_repo_files("org/many")
    assert sorted(listed) == sorted([*files, ".gitattributes"])
    pages = [p for m, p, _ in hub.requests if m == "GET" and "/tree/" in p]
    assert len(pages) >= 3 and any("cursor=" in p for p in pages)
    folder = Path(snapshot_download("org/many", allow_patterns=["dir/*"]))
    assert folder.name == sha and len(list((folder / "dir").iterdir())) == 7


def test_a_user_env_that_does_not_fit_is_the_users_error(hub: HubServer, tmp_path: Path) -> None:
    """Same game, other action set: HubEnvMismatchError (a ValueError), not a repo fault."""
    from dqn_agents import DQN
    from dqn_agents.hub import HubIntegrityError
    from dqn_agents.wrappers import make_atari

    folder = DQN("PongNoFrameskip-v4", buffer_size=100, seed=0).save_pretrained(tmp_path / "m")
    files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    hub.put_files("org/pong", files, "v1")
    wide = make_atari("PongNoFrameskip-v4", full_action_space=True)
    with pytest.raises(HubEnvMismatchError, match="does not fit the model") as info:
        DQN.from_pretrained("org/pong", env=wide)
    assert isinstance(info.value, ValueError)
    assert DQN.from_pretrained("org/pong", env=make_atari("PongNoFrameskip-v4")).n_actions == 6
    # A repo whose weights do not fit its own config is still the repo's fault.
    broken = dict(files, **{"model.safetensors": model_files()["model.safetensors"]})
    hub.put_files("org/broken", broken, "v1")
    with pytest.raises(HubIntegrityError):
        DQN.from_pretrained("org/broken", env=make_atari("PongNoFrameskip-v4"))


def test_load_model_hands_the_folder_to_the_loader_and_translates_by_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """load_model never builds an agent: it calls the loader once and maps its errors."""
    from dqn_agents.hub import HubError
    from dqn_agents.hub.pull import load_model
    from dqn_agents.serialization import ModelFormatError, PickleRefusedError
    from dqn_agents.spec import EnvMismatchError

    entry = tmp_path / "zoo" / "dqn-Tiny-v0"
    entry.mkdir(parents=True)
    for name, data in model_files().items():
        (entry / name).write_bytes(data)
    monkeypatch.setenv("DQN_AGENTS_ZOO", os.fspath(entry.parent))
    calls: list[tuple[Path, object, object]] = []

    def loader(folder: Path, *, env: object, device: object) -> str:
        calls.append((Path(folder), env, device))
        return "built"

    assert load_model("dqn-agents/dqn-Tiny-v0", loader, device="cpu") == "built"
    assert calls == [(entry, None, "cpu")]
    with pytest.raises(ValueError, match="device"):  # the caller's mistake, found first
        load_model("dqn-agents/dqn-Tiny-v0", loader, device="no-such-device")
    with pytest.raises(HubEnvMismatchError, match="Acrobot"):  # from config.json alone
        load_model("dqn-agents/dqn-Tiny-v0", loader, env="Acrobot-v1")
    assert len(calls) == 1

    cases: list[tuple[Exception, object, type[HubError]]] = [
        (PickleRefusedError("a pickle"), None, HubUnsafeFileError),
        (ModelFormatError("weights do not match"), None, HubIntegrityError),
        (EnvMismatchError("18 actions, the model has 2"), "CartPole-v1", HubEnvMismatchError),
        (EnvMismatchError("its own env does not fit"), None, HubIntegrityError),
    ]
    for error, env, expected in cases:

        def failing(folder: Path, *, env: object, device: object, error: Exception = error):
            raise error

        with pytest.raises(expected) as info:
            load_model("dqn-agents/dqn-Tiny-v0", failing, env=env, device="cpu")
        assert info.value.__cause__ is error
    assert issubclass(HubEnvMismatchError, EnvMismatchError)


def test_only_the_api_module_imports_the_agent() -> None:
    """pull, push, importers, card, errors and cli never import dqn_agents.agent."""
    import ast

    import dqn_agents.hub as hub_package

    def imports_agent(node: ast.AST) -> bool:
        if isinstance(node, ast.Import):
            return any(alias.name == "dqn_agents.agent" for alias in node.names)
        if isinstance(node, ast.ImportFrom):
            if node.module == "dqn_agents.agent":
                return True
            return node.module == "dqn_agents" and any(
                a.name in ("DQN", "agent") for a in node.names
            )
        return False

    folder = Path(hub_package.__file__).parent
    users = {
        path.name
        for path in folder.glob("*.py")
        if any(imports_agent(n) for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))))
    }
    assert users == {"api.py"}


@pytest.mark.parametrize(
    "revision", ["../../x", "/etc/passwd", "a/../b", "main\\x", "a b", "v1.", "..", "a\nb"]
)
def test_revisions_that_look_like_paths_are_refused_before_any_request(
    hub: HubServer, revision: str
) -> None:
    from dqn_agents import DQN
    from dqn_agents.hub import load_from_hub, push_to_hub

    with pytest.raises(ValueError, match="revision must be a branch, tag or commit name"):
        load_from_hub("org/x", revision=revision)
    with pytest.raises(ValueError, match="revision"):
        push_to_hub(DQN("CartPole-v1", seed=0), "org/x", revision=revision, video=False)
    assert hub.requests == []  # nothing reached the server


def test_plain_revisions_still_pass() -> None:
    from dqn_agents.hub.pull import check_revision

    for ok in ("main", "v1.0", "refs/pr/1", "a" * 40, "feature/x-1_2"):
        check_revision(ok)
