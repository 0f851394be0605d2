"""The hub functions users call that build agents: load, import and push saved models.

The one hub module that imports the agent: it downloads or converts with the lower hub
modules (`pull`, `importers`, `push`), then builds the `DQN` with ``DQN.load``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from dqn_agents.agent import DQN
from dqn_agents.devices import resolve_device
from dqn_agents.hub.importers import cleanrl_env_id_from_repo, cleanrl_to_folder, sb3_to_folder
from dqn_agents.hub.pull import check_repo_id, load_folder, load_model
from dqn_agents.hub.push import (
    DEFAULT_COMMIT_MESSAGE,
    PushResult,
    is_evaluated_folder,
    push_evaluated_folder,
    push_to_hub,
)
from dqn_agents.spec import env_id_of

__all__ = ["from_cleanrl", "from_sb3", "load_from_hub", "push_folder"]


def load_from_hub(
    repo_id: str,
    *,
    revision: str | None = None,
    env: Any = None,
    device: str | torch.device = "auto",
    cache_dir: str | os.PathLike[str] | None = None,
    token: str | bool | None = None,
) -> DQN:
    """Load a DQN agent from the Hub (or the local zoo): ``DQN.from_pretrained`` + cache/token.

    Args:
        repo_id: ``"org/name"``. Agents of the ``dqn-agents`` org that ship in the local
            zoo are loaded from disk, with no network (see `find_in_zoo`).
        revision: Branch, tag or commit sha to pin (skips the zoo).
        env: Env id or instance to attach; must be the model's task. ``None`` builds the
            env recorded in the model's config when needed.
        device: Torch device for the networks.
        cache_dir: ``huggingface_hub`` cache folder.
        token: Token (``None``: ``HF_TOKEN`` or the ``hf auth login`` cache).

    Returns:
        The agent, ready to ``predict`` / ``evaluate``.

    Raises:
        HubError: A subclass saying what went wrong (see `download_model`), plus
            `HubIntegrityError` / `HubEnvMismatchError` from the consistency checks.

    Example:
        >>> agent = load_from_hub("dqn-agents/dqn-Pong-v5")  # doctest: +SKIP
    """
    return load_model(
        repo_id,
        DQN.load,
        revision=revision,
        env=env,
        device=device,
        cache_dir=cache_dir,
        token=token,
    )


def from_sb3(
    path_or_repo_id: str | os.PathLike[str],
    env: Any = None,
    *,
    device: str | torch.device = "auto",
    token: str | bool | None = None,
) -> DQN:
    """Import an SB3 DQN model (zip file or Hub repo) without unpickling.

    Converts it with `dqn_agents.hub.importers.sb3_to_folder`, then loads it strictly.

    Args:
        path_or_repo_id: A local SB3 ``.zip`` or a repo id such as
            ``"sb3/dqn-PongNoFrameskip-v4"`` (its ``*.zip`` is downloaded).
        env: Env id or instance to attach; default the env id in the repo/file name
            (SB3's ``{algo}-{env}`` naming).
        device: Torch device.
        token: Hub token for a repo id.

    Returns:
        A `DQN` that acts like the SB3 model.

    Raises:
        HubUnsafeFileError: ``policy.pth`` holds code (refused; nothing ran).
        HubIntegrityError: Not an SB3 DQN zip, or an unsupported network.
        ValueError: The env id cannot be inferred and ``env`` was not given.

    Example:
        >>> agent = from_sb3("sb3/dqn-PongNoFrameskip-v4")  # doctest: +SKIP
    """
    resolve_device(device)
    source = f"SB3 model {os.fspath(path_or_repo_id)}"
    with tempfile.TemporaryDirectory(prefix="dqn-agents-import-") as tmp:
        folder = sb3_to_folder(path_or_repo_id, tmp, env_id=env_id_of(env), token=token)
        return load_folder(folder, DQN.load, env=env, device=device, source=source)


def from_cleanrl(
    path_or_repo_id: str | os.PathLike[str],
    env_id: str | None = None,
    *,
    env: Any = None,
    device: str | torch.device = "auto",
    token: str | bool | None = None,
) -> DQN:
    """Import a CleanRL DQN model (``dqn_atari.py`` Nature CNN or ``dqn.py`` MLP).

    Converts it with `dqn_agents.hub.importers.cleanrl_to_folder`, then loads it strictly.

    Args:
        path_or_repo_id: A local ``*.cleanrl_model`` or a repo id such as
            ``"cleanrl/PongNoFrameskip-v4-dqn_atari-seed1"``.
        env_id: The env it was trained on; default from CleanRL's repo naming
            ``{org}/{env}-{exp_name}-seed{seed}``, else the id of ``env``.
        env: Env instance (or id) to attach instead of building one.
        device: Torch device.
        token: Hub token for a repo id.

    Returns:
        A `DQN` that acts like the CleanRL network.

    Raises:
        HubUnsafeFileError: The file holds code (refused; nothing ran).
        HubIntegrityError: Unsupported network layout.
        ValueError: The env id is unknown.
    """
    resolve_device(device)
    source = os.fspath(path_or_repo_id)
    trained_on = env_id or cleanrl_env_id_from_repo(source) or env_id_of(env)
    with tempfile.TemporaryDirectory(prefix="dqn-agents-import-") as tmp:
        folder = cleanrl_to_folder(path_or_repo_id, tmp, env_id=trained_on, token=token)
        return load_folder(
            folder, DQN.load, env=env, device=device, source=f"CleanRL model {source}"
        )


def push_folder(
    path: str | os.PathLike[str],
    repo_id: str,
    *,
    n_eval_episodes: int = 10,
    video: bool = True,
    private: bool = False,
    commit_message: str = DEFAULT_COMMIT_MESSAGE,
    token: str | bool | None = None,
    eval_env: Any = None,
) -> PushResult:
    """Publish a saved model: a ``.zip`` from ``DQN.save`` or a Hub-layout folder.

    A folder that already holds ``results.json`` and ``README.md`` next to
    ``config.json`` + ``model.safetensors`` (an evaluated zoo entry) is pushed unchanged,
    after validation (`push_evaluated_folder`). Anything else is loaded with ``DQN.load``,
    evaluated and pushed like `push_to_hub`.

    Args:
        path: The model file or folder.
        repo_id: ``"org/name"``.
        n_eval_episodes: Games to evaluate (not used for an already-evaluated folder).
        video: Record ``replay.mp4`` (not used for an already-evaluated folder).
        private: Create the repo private.
        commit_message: The commit title.
        token: Token; ``None`` reads the usual places.
        eval_env: Evaluation env override.

    Returns:
        `PushResult`.

    Raises:
        FileNotFoundError: Nothing at ``path``.
        HubUnsafeFileError: The folder holds pickles or other unpublishable files.
        HubError: The upload failed (see `push_to_hub`).
    """
    check_repo_id(repo_id)
    src = Path(path)
    if not src.exists() and Path(f"{src}.zip").is_file():
        src = Path(f"{src}.zip")
    if not src.exists():
        raise FileNotFoundError(f"No model at {src}: pass a .zip from DQN.save or a folder.")
    if is_evaluated_folder(src):
        return push_evaluated_folder(
            src, repo_id, private=private, commit_message=commit_message, token=token
        )
    return push_to_hub(
        DQN.load(src),
        repo_id,
        eval_env=eval_env,
        n_eval_episodes=n_eval_episodes,
        video=video,
        private=private,
        commit_message=commit_message,
        token=token,
    )
