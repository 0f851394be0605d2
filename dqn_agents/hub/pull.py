"""Download and verify dqn-agents models from the Hugging Face Hub (or the local zoo).

Finds a model (local zoo first, else the ``huggingface_hub`` cache), checks every file
against the hash the server announced and the env against the model, then hands the
folder to a loader it is given (`load_model`): it never builds an agent itself.
`resolve_source` is the one rule that tells a local path from a Hub repo id.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import torch

from dqn_agents.devices import resolve_device
from dqn_agents.hub.errors import (
    HubAuthError,
    HubConnectionError,
    HubEnvMismatchError,
    HubError,
    HubFileMissingError,
    HubIntegrityError,
    HubRepoNotFoundError,
    HubRevisionNotFoundError,
    HubUnsafeFileError,
    require_huggingface_hub,
)
from dqn_agents.serialization import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    ModelFormatError,
    PickleRefusedError,
    read_folder_meta,
)
from dqn_agents.spec import EnvMismatchError, env_id_of, same_task

__all__ = [
    "HUB_PREFIX",
    "ZOO_ENV_VAR",
    "ZOO_ORG",
    "check_env_matches",
    "check_repo_id",
    "check_revision",
    "download_model",
    "find_in_zoo",
    "load_folder",
    "load_model",
    "resolve_source",
    "translate_hf_error",
    "verify_cached_file",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

ZOO_ORG = "dqn-agents"
"""The Hub organisation whose agents may ship in the local zoo."""
ZOO_ENV_VAR = "DQN_AGENTS_ZOO"
"""Environment variable: extra zoo folders (``os.pathsep``-separated), searched first."""
HUB_PREFIX = "hf://"
"""Prefix that makes a model argument a Hub repo id, never a local path (``hf://org/name``)."""
REQUIRED_FILES = (CONFIG_NAME, WEIGHTS_NAME)
MODEL_FILE_SUFFIXES = (".zip", ".cleanrl_model")
PICKLE_SUFFIXES = (".bin", ".pkl", ".pickle", ".pth", ".pt", ".ckpt", ".cleanrl_model", ".zip")
_REPO_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]{0,95}/)?[A-Za-z0-9][\w.-]{0,95}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SHA1 = re.compile(r"^[0-9a-f]{40}$")


# --------------------------------------------------------------------------- zoo


def _zoo_dirs() -> list[Path]:
    dirs = [Path(p) for p in os.environ.get(ZOO_ENV_VAR, "").split(os.pathsep) if p]
    dirs.append(Path(__file__).resolve().parents[2] / "zoo")
    return dirs


def find_in_zoo(repo_id: str) -> Path | None:
    """Find a shipped agent for ``repo_id`` in the local zoo.

    The zoo holds agents of the ``dqn-agents`` organisation in Hub layout, one folder per
    repo named like the repo without its organisation (``zoo/dqn-Pong-v5`` for
    ``dqn-agents/dqn-Pong-v5``). Folders listed in ``$DQN_AGENTS_ZOO`` are searched
    first, then ``zoo/`` at the project root. Repos of other organisations are never
    served from the zoo.

    Args:
        repo_id: ``"dqn-agents/<name>"`` or ``"<name>"``.

    Returns:
        The folder (holding ``config.json`` and ``model.safetensors``), or ``None``.

    Example:
        >>> find_in_zoo("someone-else/dqn-Pong-v5") is None
        True
    """
    org, _, name = repo_id.rpartition("/")
    if org not in ("", ZOO_ORG) or not name or name.startswith("."):
        return None
    for base in _zoo_dirs():
        folder = base / name
        if all((folder / f).is_file() for f in REQUIRED_FILES):
            return folder
    return None


# --------------------------------------------------------------------------- errors


def _status_of(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _server_message(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    message = headers.get("X-Error-Message") if headers is not None else None
    return f' (server said: "{message}")' if message else ""


def translate_hf_error(
    exc: BaseException, *, action: str, repo_id: str, revision: str | None = None
) -> HubError:
    """Map a ``huggingface_hub``/``httpx`` exception onto a `HubError` subclass.

    Args:
        exc: What the client raised.
        action: What we were doing ("download config.json from", "push to").
        repo_id: The repo.
        revision: The revision asked for, if any.

    Returns:
        The error to raise (``raise translate_hf_error(...) from exc``).
    """
    hf = require_huggingface_hub()
    errors = hf.errors
    rev = f" at revision {revision!r}" if revision else ""
    where = f"{action} {repo_id!r}{rev}"
    status = _status_of(exc)
    detail = _server_message(exc)
    if status is None and not isinstance(exc, errors.EntryNotFoundError):
        # The client wraps some HTTP errors (upload failures, forced downloads): use the
        # innermost error that carries an HTTP status.
        cause = exc.__cause__ or exc.__context__
        while cause is not None:
            if _status_of(cause) is not None:
                return translate_hf_error(cause, action=action, repo_id=repo_id, revision=revision)
            cause = cause.__cause__ or cause.__context__
    if status in (401, 403) or isinstance(exc, errors.GatedRepoError):
        return HubAuthError(
            f"Could not {where}: the server answered HTTP {status}{detail}. Log in with "
            f"`hf auth login` or set HF_TOKEN to a token that can access this repo."
        )
    if isinstance(exc, errors.RevisionNotFoundError):
        return HubRevisionNotFoundError(
            f"Could not {where}: the repo has no revision {revision!r}{detail}. Use a branch "
            f"name or a full commit sha that exists (see the repo's commit history)."
        )
    if isinstance(exc, errors.RepositoryNotFoundError):
        return HubRepoNotFoundError(
            f"Could not {where}: repository not found (HTTP {status}){detail}. Check the "
            f"spelling (org/name); if the repo is private, log in with `hf auth login`."
        )
    if isinstance(exc, errors.EntryNotFoundError):
        offline = isinstance(exc, errors.LocalEntryNotFoundError)
        hint = (
            "The file is not in the local cache and the Hub could not be reached (or "
            "HF_HUB_OFFLINE=1 is set): connect once to download it."
            if offline
            else "The repo does not hold it: is this a dqn-agents model repo?"
        )
        if offline and exc.__cause__ is not None and _status_of(exc.__cause__) is None:
            hint += f" Underlying error: {exc.__cause__!r}."
        return HubFileMissingError(f"Could not {where}: file not found. {hint}")
    if isinstance(exc, errors.HfHubHTTPError):
        return HubConnectionError(
            f"Could not {where}: the server answered HTTP {status}{detail}. Try again later."
        )
    if isinstance(exc, (ConnectionError, TimeoutError, OSError)) or type(exc).__module__.startswith(
        ("httpx", "httpcore", "requests", "urllib3")
    ):
        kept = " Nothing partial was kept;" if action.startswith("download") else ""
        return HubConnectionError(
            f"Could not {where}: the network failed ({type(exc).__name__}: {exc}).{kept} "
            f"Check the connection and try again."
        )
    return HubError(f"Could not {where}: {type(exc).__name__}: {exc}")


# --------------------------------------------------------------------------- integrity


def _git_blob_sha1(path: Path) -> str:
    digest = hashlib.sha1()
    digest.update(b"blob %d\0" % path.stat().st_size)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _blob_of(path: Path) -> Path:
    """The per-repo cache blob a snapshot entry links to (``blobs/<etag>``), or the file."""
    if path.is_symlink():
        target = Path(os.readlink(path))
        return target if target.is_absolute() else path.parent / target
    return path


def _evict(path: Path) -> None:
    """Remove a cached file: the snapshot link, its ``blobs/<etag>`` entry and the content."""
    victims = [path, _blob_of(path), path.resolve()]
    for victim in victims:
        try:
            victim.unlink()
        except FileNotFoundError:
            pass


def verify_cached_file(path: Path, *, repo_id: str) -> None:
    """Check a file in the ``huggingface_hub`` cache against the ETag it was stored under.

    The cache names each blob by the ETag the server announced: the sha256 for LFS files,
    the git blob sha1 for regular files. A mismatch means the bytes were corrupted in
    transit or on disk; the entry is evicted so that the next call downloads it again.

    Args:
        path: A file under ``snapshots/<sha>/``.
        repo_id: For the error message.

    Raises:
        HubIntegrityError: The content does not match its ETag.
    """
    # One link level only: with Xet, ``blobs/<etag>`` may itself link to a shared store
    # entry named by its Xet hash, which is not a content checksum we can recompute.
    blob_name = _blob_of(path).name
    if _SHA256.fullmatch(blob_name):
        actual, kind = _sha256(path), "sha256"
    elif _SHA1.fullmatch(blob_name):
        actual, kind = _git_blob_sha1(path), "git blob sha1"
    else:  # not a cache blob (a local folder, or a cache without symlinks): nothing to check
        return
    if actual != blob_name:
        _evict(path)
        raise HubIntegrityError(
            f"{path.name} downloaded from {repo_id!r} is corrupted or truncated: its {kind} is "
            f"{actual} but the server announced {blob_name}. The bad copy was removed from the "
            f"cache; try again (if it persists, the repo or a proxy serves damaged files)."
        )


# --------------------------------------------------------------------------- download


def check_repo_id(repo_id: str) -> None:
    """Refuse a repo id that is not ``"org/name"`` (or ``"name"``) before any request.

    Args:
        repo_id: The repo id.

    Raises:
        ValueError: It is not a string of letters, digits, ``-``, ``_``, ``.`` and one ``/``.

    Example:
        >>> check_repo_id("dqn-agents/dqn-Pong-v5")
        >>> check_repo_id("not a repo id")
        Traceback (most recent call last):
        ...
        ValueError: repo_id must look like 'org/name' (letters, digits, '-', '_', '.'), got 'not a repo id'.
    """  # noqa: E501
    if not isinstance(repo_id, str) or not _REPO_ID.fullmatch(repo_id):
        raise ValueError(
            f"repo_id must look like 'org/name' (letters, digits, '-', '_', '.'), got {repo_id!r}."
        )


_REVISION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]*(/[A-Za-z0-9][A-Za-z0-9._\-]*)*")


def check_revision(revision: str | None) -> None:
    """Refuse a revision that is not a branch, tag or commit name, before any request.

    A revision becomes part of URLs and of cache paths: ``../../x`` made a hostile server's
    answer land outside the cache. Branch and tag names (``main``, ``v1.0``,
    ``refs/pr/1``) and commit shas pass; ``..``, absolute paths, backslashes, spaces and
    control characters do not.

    Args:
        revision: The revision (``None``: the default branch).

    Raises:
        ValueError: It is not a plain revision name.

    Example:
        >>> check_revision("refs/pr/1")
        >>> check_revision("../../etc")
        Traceback (most recent call last):
        ...
        ValueError: revision must be a branch, tag or commit name, got '../../etc'.
    """
    if revision is None:
        return
    if (
        not isinstance(revision, str)
        or len(revision) > 255
        or not _REVISION.fullmatch(revision)
        or any(part in (".", "..") or part.endswith(".") for part in revision.split("/"))
    ):
        raise ValueError(f"revision must be a branch, tag or commit name, got {revision!r}.")


def resolve_source(path_or_repo_id: str | os.PathLike[str]) -> tuple[Path | None, str | None]:
    """Tell whether a model argument is a local file or folder, or a Hub repo id.

    The one rule of ``dqn-agents evaluate`` / ``enjoy``, ``from_sb3`` and ``from_cleanrl``,
    so that a folder on disk never silently stands in for a Hub repo, nor a Hub repo for
    a mistyped path:

    * ``hf://org/name`` is the Hub repo ``org/name``, never a local path;
    * ``org/name`` (one ``/``, Hub characters, not ending in ``.zip`` or
      ``.cleanrl_model``) is the Hub repo, unless a file or folder of that name exists
      here: then it is refused as ambiguous (write ``./org/name`` for the local one,
      ``hf://org/name`` for the repo);
    * anything else (a ``Path``, an absolute or ``./`` path, a path of more parts, a single
      name, a ``.zip`` file) is a local path, which must exist; it is never looked up on
      the Hub.

    Args:
        path_or_repo_id: The argument as given.

    Returns:
        ``(path, None)`` for a local path, ``(None, repo_id)`` for a Hub repo.

    Raises:
        FileNotFoundError: A local path where nothing exists.
        ValueError: An ``org/name`` that also exists here; a malformed ``hf://`` id.

    Example:
        >>> resolve_source("hf://sb3/dqn-PongNoFrameskip-v4")
        (None, 'sb3/dqn-PongNoFrameskip-v4')
        >>> resolve_source("./no/such/model.zip")
        Traceback (most recent call last):
        ...
        FileNotFoundError: ./no/such/model.zip: no such file or folder (a local path: it is never looked up on the Hub; a Hub repo is written org/name or hf://org/name).
    """  # noqa: E501
    if not isinstance(path_or_repo_id, str):
        path = Path(path_or_repo_id)
        if not _exists(str(path)):
            raise FileNotFoundError(f"{path}: no such file or folder.")
        return path, None
    text = path_or_repo_id
    if text.startswith(HUB_PREFIX):
        repo_id = text[len(HUB_PREFIX) :].strip("/")
        check_repo_id(repo_id)
        return None, repo_id
    hub_like = text.count("/") == 1 and not text.endswith(MODEL_FILE_SUFFIXES)
    if hub_like and _REPO_ID.fullmatch(text):
        if _exists(text):
            raise ValueError(
                f"{text!r} is both a local path and a Hub repo id: write ./{text} for the "
                f"local file or folder, or {HUB_PREFIX}{text} for the Hub repo."
            )
        return None, text
    if not _exists(text):
        raise FileNotFoundError(
            f"{text}: no such file or folder (a local path: it is never looked up on the Hub; "
            f"a Hub repo is written org/name or {HUB_PREFIX}org/name)."
        )
    return Path(text), None


def _exists(path: str) -> bool:
    """Something at ``path`` (or at ``path.zip``: model zips may be named without it)."""
    return os.path.lexists(path) or os.path.lexists(f"{path}.zip")


@contextmanager
def _hf_errors(action: str, repo_id: str, revision: str | None) -> Iterator[None]:
    try:
        yield
    except HubError:
        raise
    except Exception as exc:
        raise translate_hf_error(exc, action=action, repo_id=repo_id, revision=revision) from exc


def _list_files(repo_id: str, revision: str | None, token: str | bool | None) -> list[str] | None:
    """The repo's file list, or None when it cannot be fetched (offline, errors)."""
    hf = require_huggingface_hub()
    if hf.constants.is_offline_mode():
        return None
    try:
        files: list[str] = hf.HfApi().list_repo_files(repo_id, revision=revision, token=token)
    except Exception:  # only used to improve an error message
        return None
    return files


def _refuse_or_missing(
    repo_id: str, revision: str | None, token: str | bool | None, missing: str, exc: BaseException
) -> HubError:
    """Explain a missing model file: pickles only (refused), an SB3/CleanRL repo, or missing."""
    files = _list_files(repo_id, revision, token)
    if files is not None:
        pickles = sorted(f for f in files if f.lower().endswith(PICKLE_SUFFIXES))
        if pickles:
            sb3 = [f for f in pickles if f.endswith(".zip")]
            cleanrl = [f for f in pickles if f.endswith(".cleanrl_model")]
            hint = (
                "It looks like an SB3 model: use dqn_agents.hub.from_sb3(repo_id), which reads "
                "the weights without unpickling."
                if sb3
                else "It looks like a CleanRL model: use dqn_agents.hub.from_cleanrl(repo_id, "
                "env_id=...)."
                if cleanrl
                else "Ask the author to publish safetensors weights (model.safetensors)."
            )
            return HubUnsafeFileError(
                f"{repo_id!r} has no {missing}; it holds pickle-format files {pickles}. "
                f"dqn-agents never unpickles (loading a pickle can run arbitrary code), so they "
                f"were not downloaded. {hint}"
            )
        return HubFileMissingError(
            f"{repo_id!r}{' at ' + repr(revision) if revision else ''} has no {missing} (it holds "
            f"{sorted(files)}); a dqn-agents model repo needs {list(REQUIRED_FILES)}. Push it "
            f"with agent.push_to_hub(...) or `dqn-agents push`."
        )
    return translate_hf_error(
        exc, action=f"download {missing} from", repo_id=repo_id, revision=revision
    )


def _download(
    repo_id: str,
    filename: str,
    *,
    revision: str | None,
    cache_dir: str | os.PathLike[str] | None,
    token: str | bool | None,
) -> Path:
    hf = require_huggingface_hub()
    try:
        path = hf.hf_hub_download(
            repo_id, filename, revision=revision, cache_dir=cache_dir, token=token
        )
    except HubError:
        raise
    except Exception as exc:
        if isinstance(exc, hf.errors.EntryNotFoundError) and not isinstance(
            exc, hf.errors.LocalEntryNotFoundError
        ):
            raise _refuse_or_missing(repo_id, revision, token, filename, exc) from exc
        raise translate_hf_error(
            exc, action=f"download {filename} from", repo_id=repo_id, revision=revision
        ) from exc
    result = Path(path)
    verify_cached_file(result, repo_id=repo_id)
    return result


def download_model(
    repo_id: str,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    token: str | bool | None = None,
    use_zoo: bool = True,
) -> Path:
    """Download a dqn-agents model (``config.json`` + ``model.safetensors``) to the cache.

    Both files come from the same commit: ``config.json`` is fetched at ``revision`` (default
    the ``main`` branch), then the weights at the commit sha that resolved to. Each file is
    checked against its announced sha256 / git blob id.

    Args:
        repo_id: ``"org/name"`` on the Hub (or the server named by ``HF_ENDPOINT``).
        revision: Branch, tag or full commit sha to pin; ``None`` for the latest ``main``.
        cache_dir: The ``huggingface_hub`` cache folder (default ``$HF_HOME/hub``).
        token: A token, ``False`` for none, ``None`` for the usual places (``HF_TOKEN``,
            ``hf auth login``).
        use_zoo: Look in the local zoo first (only when ``revision`` is None).

    Returns:
        A folder holding at least ``config.json`` and ``model.safetensors`` (a snapshot
        folder of the cache, or a zoo folder).

    Raises:
        HubRepoNotFoundError: No such repo (or not visible with this token).
        HubRevisionNotFoundError: No such revision.
        HubFileMissingError: A needed file is not in the repo, or not in the cache offline.
        HubUnsafeFileError: The repo only has pickle-format weights.
        HubAuthError: The server refused the credentials.
        HubConnectionError: The network failed; nothing partial was kept.
        HubIntegrityError: A file did not match its checksum (evicted from the cache).
    """
    check_repo_id(repo_id)
    check_revision(revision)
    if use_zoo and revision is None:
        zoo = find_in_zoo(repo_id)
        if zoo is not None:
            logger.info("Loading %s from the local zoo at %s", repo_id, zoo)
            return zoo
    config_path = _download(
        repo_id, CONFIG_NAME, revision=revision, cache_dir=cache_dir, token=token
    )
    snapshot = config_path.parent
    commit = snapshot.name if _SHA1.fullmatch(snapshot.name) else revision
    weights_path = _download(
        repo_id, WEIGHTS_NAME, revision=commit, cache_dir=cache_dir, token=token
    )
    if weights_path.parent != snapshot:  # pragma: no cover - defensive
        raise HubIntegrityError(
            f"{repo_id!r}: config.json and model.safetensors resolved to different commits "
            f"({snapshot.name} vs {weights_path.parent.name}); try again."
        )
    return snapshot


# --------------------------------------------------------------------------- load


def check_env_matches(meta: Mapping[str, Any], env: Any, *, source: str) -> None:
    """Refuse an ``env`` for another task than the one the model was trained on.

    Args:
        meta: The model's ``config.json``.
        env: An env id or env instance (or ``None``: nothing to check).
        source: Where the model came from, for the message.

    Raises:
        HubEnvMismatchError: The env ids name different games/tasks (see
            `dqn_agents.spec.same_task`).

    Example:
        >>> check_env_matches({"env_id": "ALE/Pong-v5"}, "PongNoFrameskip-v4", source="m")
    """
    trained = meta.get("env_id")
    given = env_id_of(env)
    if not isinstance(trained, str) or given is None:
        return
    if not same_task(trained, given):
        raise HubEnvMismatchError(
            f"{source} was trained on {trained!r} but env={given!r} was given. Pass an env of "
            f"the same game (or env=None to build {trained!r} from the model's config)."
        )


def load_folder(
    folder: str | os.PathLike[str],
    load: Callable[..., T],
    *,
    env: Any = None,
    device: str | torch.device = "auto",
    source: str | None = None,
) -> T:
    """Check a Hub-layout folder against ``env``, then build the model with ``load``.

    Only ``config.json`` is read here (format header, env id); ``load`` reads and checks
    the whole model once. Its errors are translated by type: a refused pickle becomes
    `HubUnsafeFileError`, any other invalid file `HubIntegrityError`, an env that does
    not fit `HubEnvMismatchError`.

    Args:
        folder: Holds ``config.json`` + ``model.safetensors``.
        load: Builds the model, called as ``load(folder, env=env, device=device)``
            (``DQN.load``).
        env: Optional env id or instance to attach (must be the model's task).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``... (checked before anything is read).
        source: Where the folder came from (repo id), for error messages.

    Returns:
        What ``load`` returned.

    Raises:
        ValueError: An unknown or unavailable ``device``.
        HubUnsafeFileError: Pickle-format files in place of the model.
        HubIntegrityError: Invalid or inconsistent files (config vs weights shapes).
        HubEnvMismatchError: ``env`` is for another game, or does not fit the model.
    """
    where = source or os.fspath(folder)
    resolve_device(device)  # a bad device is the caller's ValueError, not the repo's fault
    try:
        meta = read_folder_meta(folder)
    except PickleRefusedError as exc:
        raise HubUnsafeFileError(f"{where}: {exc}") from exc
    except ModelFormatError as exc:
        raise HubIntegrityError(f"{where}: the downloaded model is not valid: {exc}") from exc
    check_env_matches(meta, env, source=where)
    try:
        return load(folder, env=env, device=device)
    except HubError:
        raise
    except PickleRefusedError as exc:
        raise HubUnsafeFileError(f"{where}: {exc}") from exc
    except ModelFormatError as exc:
        raise HubIntegrityError(
            f"{where}: the model is not valid: {exc} The repo is broken: re-push it from a "
            f"saved agent."
        ) from exc
    except EnvMismatchError as exc:
        if env is None:  # the env built from the model's own config does not fit it
            raise _inconsistent(where, exc) from exc
        raise HubEnvMismatchError(f"The env given does not fit the model {where}: {exc}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        if env is not None:  # the caller's env may be at fault: keep the loader's error
            raise
        raise _inconsistent(where, exc) from exc


def _inconsistent(where: str, exc: BaseException) -> HubIntegrityError:
    return HubIntegrityError(
        f"{where}: config.json and model.safetensors do not fit together "
        f"({type(exc).__name__}: {exc}). The repo is inconsistent: re-push it from a saved "
        f"agent."
    )


def load_model(
    repo_id: str,
    load: Callable[..., T],
    *,
    revision: str | None = None,
    env: Any = None,
    device: str | torch.device = "auto",
    cache_dir: str | os.PathLike[str] | None = None,
    token: str | bool | None = None,
) -> T:
    """Find a model (local zoo, else download), verify it, and build it with ``load``.

    What ``DQN.from_pretrained`` calls, with ``load=DQN.load``.

    Args:
        repo_id: ``"org/name"``. Agents of the ``dqn-agents`` org that ship in the local
            zoo are loaded from disk, with no network (see `find_in_zoo`).
        load: Builds the model from the folder: ``load(folder, env=env, device=device)``.
        revision: Branch, tag or commit sha to pin (skips the zoo).
        env: Env id or instance to attach; must be the model's task. ``None`` lets
            ``load`` build the env recorded in the model's config.
        device: Torch device for the networks.
        cache_dir: ``huggingface_hub`` cache folder.
        token: Token (``None``: ``HF_TOKEN`` or the ``hf auth login`` cache).

    Returns:
        What ``load`` returned (the agent).

    Raises:
        HubError: A subclass saying what went wrong (see `download_model` and
            `load_folder`).
        ValueError: A malformed ``repo_id`` or an unknown ``device``.

    Example:
        >>> from dqn_agents import DQN  # doctest: +SKIP
        >>> agent = load_model("dqn-agents/dqn-Pong-v5", DQN.load)  # doctest: +SKIP
    """
    resolve_device(device)
    folder = download_model(repo_id, revision=revision, cache_dir=cache_dir, token=token)
    source = f"{repo_id!r}" + (f" at {revision!r}" if revision else "")
    return load_folder(folder, load, env=env, device=device, source=source)
