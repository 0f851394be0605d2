"""Publish agents on the Hugging Face Hub: one commit of safetensors, JSON, card and video.

`push_to_hub` evaluates an agent, writes ``config.json``, ``model.safetensors``,
``results.json``, a ``README.md`` model card and ``replay.mp4``, and commits them in one
go; `push_evaluated_folder` publishes a finished folder as it is.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from dqn_agents.hub.card import build_model_card, build_results, hardware_info
from dqn_agents.hub.errors import (
    HubAuthError,
    HubError,
    HubRepoNotFoundError,
    HubRevisionNotFoundError,
    HubUnsafeFileError,
    HubUploadError,
    require_huggingface_hub,
)
from dqn_agents.hub.pull import REQUIRED_FILES, check_repo_id, check_revision, translate_hf_error
from dqn_agents.serialization import (
    ModelFormatError,
    PickleRefusedError,
    atomic_write,
    read_model_folder,
)
from dqn_agents.spec import env_id_of

__all__ = [
    "ALLOWED_SUFFIXES",
    "DEFAULT_COMMIT_MESSAGE",
    "MEDIA_SUFFIXES",
    "MODEL_FOLDER_FILES",
    "EvalSummary",
    "PushResult",
    "PushableAgent",
    "check_access",
    "folder_files",
    "is_evaluated_folder",
    "prepare_folder",
    "push_evaluated_folder",
    "push_to_hub",
    "video_available",
]

logger = logging.getLogger(__name__)

ALLOWED_SUFFIXES = (
    ".safetensors",
    ".json",
    ".md",
    ".mp4",
    ".gif",
    ".png",
    ".jpg",
    ".jpeg",
    ".txt",
    ".csv",
    ".yaml",
    ".yml",
)
"""File types a pushed folder may hold: no pickles, no archives, no code."""
VIDEO_NAME = "replay.mp4"
EVALUATED_FILES = ("results.json", "README.md")
DEFAULT_COMMIT_MESSAGE = "Upload DQN agent with dqn-agents"
"""The commit title when none is given."""


class EvalSummary(Protocol):
    """What `push_to_hub` reads of an evaluation (`dqn_agents.evaluation.EvalResult`)."""

    @property
    def mean(self) -> float:
        """Mean raw score."""
        ...

    @property
    def std(self) -> float:
        """Standard deviation of the raw scores."""
        ...

    @property
    def scores(self) -> Sequence[float]:
        """Raw score of each episode."""
        ...

    @property
    def lengths(self) -> Sequence[int]:
        """Length of each episode in agent steps."""
        ...


class PushableAgent(Protocol):
    """What `push_to_hub` needs of an agent (`dqn_agents.DQN` has it)."""

    def save_pretrained(self, folder: str | os.PathLike[str]) -> Path:
        """Write ``config.json`` + ``model.safetensors`` into ``folder``."""
        ...

    def evaluate(
        self,
        n_episodes: int = ...,
        env: Any = ...,
        *,
        deterministic: bool = ...,
        video_path: str | os.PathLike[str] | None = ...,
    ) -> EvalSummary:
        """Play ``n_episodes`` full games (recording the first to ``video_path``)."""
        ...


@dataclass(frozen=True)
class PushResult:
    """What a push created.

    Attributes:
        repo_id: The repo pushed to.
        commit_oid: The 40-hex sha of the new commit.
        commit_url: Its URL.
        files: The paths committed.
        results: The ``results.json`` content (empty when a folder was pushed unchanged
            and had none).
    """

    repo_id: str
    commit_oid: str
    commit_url: str
    files: tuple[str, ...]
    results: dict[str, Any]

    @property
    def mean_reward(self) -> float | None:
        """Mean raw game score on the card, if known."""
        value = self.results.get("mean_reward")
        return float(value) if value is not None else None


def video_available() -> bool:
    """Whether the ``video`` extra (imageio + imageio-ffmpeg) is installed."""
    return all(importlib.util.find_spec(m) is not None for m in ("imageio", "imageio_ffmpeg"))


def folder_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The files of a model folder that a push uploads, checked.

    Only what a model folder is made of goes up: ``config.json``, ``model.safetensors``,
    ``results.json``, ``README.md``, ``training_log.json`` and media files (``.mp4``,
    ``.gif``, ``.png``, ``.jpg``) at the top level. Anything else (a ``credentials.json``,
    ``wandb/settings.yaml``, notes) stays on disk, with a log line naming it.

    Args:
        folder: The model folder.

    Returns:
        The files to upload, sorted.

    Raises:
        HubUnsafeFileError: A pickle, archive or code file in the folder, or a symbolic
            link among the files to upload (it could point at a secret anywhere).
    """
    folder = Path(folder)
    everything = sorted(p for p in folder.rglob("*") if not _hidden(p, folder))
    links = [p.relative_to(folder).as_posix() for p in everything if p.is_symlink()]
    files = [p for p in everything if p.is_file() and not p.is_symlink()]
    bad = [
        p.relative_to(folder).as_posix() for p in files if p.suffix.lower() not in ALLOWED_SUFFIXES
    ]
    if bad:
        raise HubUnsafeFileError(
            f"{folder} holds files dqn-agents does not publish: {bad}. Only safetensors, JSON, "
            f"markdown and media ({', '.join(ALLOWED_SUFFIXES)}) are pushed, never pickles or "
            f"archives: remove them, or push a folder written by agent.save_pretrained()."
        )
    chosen = [p for p in files if _model_folder_file(p, folder)]
    linked = [name for name in links if _model_folder_file(folder / name, folder)]
    if linked:
        raise HubUnsafeFileError(
            f"{folder}: {linked} are symbolic links; a push uploads what a link points to, "
            "which may be a file outside the folder. Copy the real files in instead."
        )
    left = [p.relative_to(folder).as_posix() for p in files if p not in chosen] + [
        name for name in links if name not in linked
    ]
    if left:
        logger.warning("Not pushed (not part of a model folder): %s", left)
    logger.info("Pushing %s", [p.relative_to(folder).as_posix() for p in chosen])
    return chosen


MODEL_FOLDER_FILES = (
    "config.json",
    "model.safetensors",
    "results.json",
    "README.md",
    "training_log.json",
)
"""The named files of a model folder that a push uploads (besides top-level media)."""
MEDIA_SUFFIXES = (".mp4", ".gif", ".png", ".jpg", ".jpeg")


def _model_folder_file(path: Path, folder: Path) -> bool:
    relative = path.relative_to(folder)
    if len(relative.parts) != 1:
        return False
    return relative.name in MODEL_FOLDER_FILES or relative.suffix.lower() in MEDIA_SUFFIXES


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _upload(
    folder: Path,
    repo_id: str,
    *,
    private: bool,
    commit_message: str,
    token: str | bool | None,
    revision: str | None,
) -> tuple[str, str, tuple[str, ...]]:
    """Create the repo (if needed) and commit every file of ``folder`` in one commit."""
    hf = require_huggingface_hub()
    files = folder_files(folder)
    api = hf.HfApi()
    try:
        api.create_repo(repo_id, private=private, exist_ok=True, token=token)
        operations = [
            hf.CommitOperationAdd(
                path_in_repo=p.relative_to(folder).as_posix(), path_or_fileobj=str(p)
            )
            for p in files
        ]
        info = api.create_commit(
            repo_id,
            operations,
            commit_message=commit_message,
            token=token,
            revision=revision,
        )
    except HubError:
        raise
    except Exception as exc:
        error = translate_hf_error(exc, action="push to", repo_id=repo_id, revision=revision)
        if isinstance(error, (HubAuthError, HubRepoNotFoundError, HubRevisionNotFoundError)):
            raise error from exc
        raise HubUploadError(
            f"{error} The server did not confirm a commit: nothing was published to {repo_id!r}."
        ) from exc
    paths = tuple(op.path_in_repo for op in operations)
    logger.info("Pushed %d files to %s (commit %s)", len(paths), repo_id, info.oid)
    return str(info.oid), str(info.commit_url), paths


def check_access(
    repo_id: str,
    *,
    private: bool = False,
    token: str | bool | None = None,
    revision: str | None = None,
) -> None:
    """Create the repo (if missing) and check the branch, before minutes of evaluation.

    A bad endpoint, token or revision fails here, in a second, not after the games and
    the video.

    Args:
        repo_id: ``"org/name"``.
        private: Create the repo private.
        token: Token; ``None`` reads the usual places.
        revision: The branch to commit to (``None``: ``main``).

    Raises:
        HubAuthError: The server refused the token.
        HubRevisionNotFoundError: The branch does not exist.
        HubError: Another failure (connection, server), explained.
    """
    check_revision(revision)
    hf = require_huggingface_hub()
    api = hf.HfApi()
    try:
        api.create_repo(repo_id, private=private, exist_ok=True, token=token)
        if revision is not None:
            api.repo_info(repo_id, revision=revision, token=token)
    except HubError:
        raise
    except Exception as exc:
        raise translate_hf_error(exc, action="push to", repo_id=repo_id, revision=revision) from exc


def _evaluate(
    agent: PushableAgent, eval_env: Any, n_eval_episodes: int, video_path: Path | None
) -> EvalSummary:
    if video_path is not None:
        try:
            return agent.evaluate(
                n_eval_episodes, eval_env, deterministic=True, video_path=os.fspath(video_path)
            )
        except (ImportError, OSError) as exc:  # no ffmpeg / no renderer: push without video
            logger.warning("Could not record %s (%s); pushing without a video.", video_path, exc)
            Path(video_path).unlink(missing_ok=True)
    return agent.evaluate(n_eval_episodes, eval_env, deterministic=True)


def prepare_folder(
    agent: PushableAgent,
    folder: str | os.PathLike[str],
    repo_id: str,
    *,
    eval_env: Any = None,
    n_eval_episodes: int = 10,
    video: bool = True,
    training: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write what `push_to_hub` publishes into ``folder``: model, results, card, video.

    The folder is then a finished model folder (`is_evaluated_folder`): the zoo ships such
    folders, and `push_evaluated_folder` publishes one unchanged.

    Args:
        agent: A trained agent (a `dqn_agents.DQN`).
        folder: Destination (created if needed).
        repo_id: Where it will be published (named in the card's usage snippet).
        eval_env: Env (id or instance) for the evaluation; default the agent's env id.
        n_eval_episodes: Full games to play (raw scores, greedy).
        video: Record ``replay.mp4`` of the first evaluation game (needs the ``video``
            extra; skipped with a log line when it is not installed).
        training: The training run for the card (see
            `dqn_agents.hub.card.build_model_card`).

    Returns:
        The ``results.json`` content.
    """
    folder = Path(folder)
    agent.save_pretrained(folder)
    meta = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    want_video = video and video_available()
    if video and not want_video:
        logger.info('No replay video: install the video extra (pip install "dqn-agents[video]").')
    video_path = folder / VIDEO_NAME if want_video else None
    result = _evaluate(agent, eval_env, n_eval_episodes, video_path)
    results = build_results(
        env_id=env_id_of(eval_env) or meta.get("env_id"),
        mean_reward=float(result.mean),
        std_reward=float(result.std),
        n_eval_episodes=n_eval_episodes,
        is_deterministic=True,
        wrapper_options=meta.get("wrapper_options"),
        scores=[float(s) for s in result.scores],
        episode_lengths=[int(n) for n in result.lengths] or None,
    )
    with atomic_write(folder / "results.json", "w") as handle:  # a kill leaves old or new
        handle.write(json.dumps(results, indent=2))
    has_video = video_path is not None and video_path.is_file() and video_path.stat().st_size > 0
    if video_path is not None and not has_video:
        video_path.unlink(missing_ok=True)
    card = build_model_card(
        meta, results, repo_id, hardware=hardware_info(), has_video=has_video, training=training
    )
    with atomic_write(folder / "README.md", "w") as handle:
        handle.write(card)
    return results


def push_to_hub(
    agent: PushableAgent,
    repo_id: str,
    *,
    eval_env: Any = None,
    n_eval_episodes: int = 10,
    video: bool = True,
    private: bool = False,
    commit_message: str = DEFAULT_COMMIT_MESSAGE,
    token: str | bool | None = None,
    revision: str | None = None,
) -> PushResult:
    """Evaluate ``agent`` and publish it to ``repo_id`` in one commit.

    Args:
        agent: A trained agent (a `dqn_agents.DQN`).
        repo_id: ``"org/name"``; created if missing.
        eval_env: Env (id or instance) for the evaluation; default the agent's env id.
            For the video it must render ``rgb_array`` frames (ids are made that way).
        n_eval_episodes: Full games to play (raw scores).
        video: Record ``replay.mp4`` of one evaluation game (needs the ``video`` extra;
            skipped with a log line when it is not installed).
        private: Create the repo private.
        commit_message: The commit title.
        token: Token; ``None`` reads ``HF_TOKEN`` / the ``hf auth login`` cache.
        revision: Branch to commit to (default ``main``).

    Returns:
        `PushResult` with the commit sha and the results.

    Raises:
        ValueError: A malformed ``repo_id`` or ``n_eval_episodes`` < 1.
        HubAuthError: The server refused the token.
        HubUploadError: The upload or commit failed (nothing was committed).
        HubError: Another failure, explained.

    Example:
        >>> agent.push_to_hub("my-org/dqn-CartPole-v1", n_eval_episodes=5)  # doctest: +SKIP
    """
    require_huggingface_hub()
    check_repo_id(repo_id)
    if n_eval_episodes < 1:
        raise ValueError(f"n_eval_episodes must be >= 1, got {n_eval_episodes}.")
    check_access(repo_id, private=private, token=token, revision=revision)
    with tempfile.TemporaryDirectory(prefix="dqn-agents-push-") as tmp:
        folder = Path(tmp)
        results = prepare_folder(
            agent, folder, repo_id, eval_env=eval_env, n_eval_episodes=n_eval_episodes, video=video
        )
        oid, url, files = _upload(
            folder,
            repo_id,
            private=private,
            commit_message=commit_message,
            token=token,
            revision=revision,
        )
    return PushResult(repo_id, oid, url, files, results)


def is_evaluated_folder(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a finished folder: a model plus ``results.json`` and ``README.md``.

    Args:
        path: A file or folder.

    Returns:
        True for a folder holding ``results.json`` and ``README.md`` (a zoo entry), which
        `push_evaluated_folder` publishes as it is.
    """
    folder = Path(path)
    return folder.is_dir() and all((folder / name).is_file() for name in EVALUATED_FILES)


def push_evaluated_folder(
    folder: str | os.PathLike[str],
    repo_id: str,
    *,
    private: bool = False,
    commit_message: str = DEFAULT_COMMIT_MESSAGE,
    token: str | bool | None = None,
    revision: str | None = None,
) -> PushResult:
    """Publish a finished folder unchanged, after checking the model in it.

    Args:
        folder: Holds ``config.json``, ``model.safetensors``, ``results.json`` and
            ``README.md`` (and optionally media), nothing else.
        repo_id: ``"org/name"``; created if missing.
        private: Create the repo private.
        commit_message: The commit title.
        token: Token; ``None`` reads the usual places.
        revision: Branch to commit to (default ``main``).

    Returns:
        `PushResult` with the folder's ``results.json``.

    Raises:
        HubUnsafeFileError: The folder holds pickles or other unpublishable files.
        HubError: The model in it is not valid, or the upload failed.
    """
    check_repo_id(repo_id)
    check_revision(revision)
    src = Path(folder)
    try:
        read_model_folder(src)
    except PickleRefusedError as exc:
        raise HubUnsafeFileError(f"Refusing to push {src}: {exc}") from exc
    except ModelFormatError as exc:
        raise HubError(f"Refusing to push {src}: {exc}") from exc
    missing = [n for n in (*REQUIRED_FILES, *EVALUATED_FILES) if not (src / n).is_file()]
    if missing:
        raise HubError(f"Refusing to push {src}: missing {missing}.")
    results = json.loads((src / "results.json").read_text(encoding="utf-8"))
    oid, url, files = _upload(
        src,
        repo_id,
        private=private,
        commit_message=commit_message,
        token=token,
        revision=revision,
    )
    return PushResult(repo_id, oid, url, files, results if isinstance(results, dict) else {})
