"""The agent's replay memory over a run: built for a model, saved, loaded, refilled.

`new_replay` builds the memory a `dqn_agents.spec.ModelSpec` and a config call for (tagged
with the game and action count its files must match); `save_replay` / `load_replay` name
the ``.npz`` file for what it is (SB3 asks for ``.pkl``); `refill_needed` says how many
steps a resumed run acts without updates to refill a memory that was not loaded. The
memory itself is `dqn_agents.replay`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from dqn_agents.config import DQNConfig
from dqn_agents.replay import (
    FrameReplayBuffer,
    VectorReplayBuffer,
    check_replay_memory,
    make_replay_buffer,
)
from dqn_agents.spec import ModelSpec

__all__ = [
    "ReplayMemory",
    "check_fits",
    "check_streams",
    "load_replay",
    "new_replay",
    "refill_needed",
    "replay_file",
    "save_replay",
]

ReplayMemory = FrameReplayBuffer | VectorReplayBuffer
"""Either replay memory `dqn_agents.replay.make_replay_buffer` builds."""


def new_replay(spec: ModelSpec, config: DQNConfig, num_envs: int) -> ReplayMemory:
    """The replay memory of an agent, tagged with what its files must match.

    Args:
        spec: The model's spec (observation space, action count, env id).
        config: Its hyperparameters (``buffer_size``, ``n_step``, ``gamma``).
        num_envs: Env streams.

    Returns:
        The empty memory; ``source`` holds the action count and, for a known env, the game.

    Example:
        >>> import gymnasium as gym, numpy as np
        >>> spec = ModelSpec(gym.spaces.Box(0, 1, (4,), np.float32), 2, "CartPole-v1")
        >>> new_replay(spec, DQNConfig(buffer_size=100), 1).source
        {'n_actions': 2, 'game': 'CartPole-v1'}
    """
    replay = make_replay_buffer(
        spec.observation_space,
        config.buffer_size,
        num_envs,
        n_step=config.n_step,
        gamma=config.gamma,
    )
    replay.source = {"n_actions": int(spec.n_actions)}
    if spec.game is not None:
        replay.source["game"] = spec.game
    return replay


def check_fits(spec: ModelSpec, config: DQNConfig, num_envs: int) -> None:
    """Refuse, when an agent is built, a replay memory the machine's free RAM cannot hold.

    The memory itself is allocated when ``learn`` starts (a loaded model may never train);
    this check runs first, so a 20 GB ``buffer_size`` fails now, not hours into a run.

    Args:
        spec: The model's spec (observation space).
        config: Its hyperparameters (``buffer_size``, ``batch_size``).
        num_envs: Env streams.

    Raises:
        dqn_agents.replay.ReplayTooLargeError: More than the available memory (set
            ``DQN_AGENTS_ALLOW_LARGE_REPLAY=1`` to allow it).
    """
    check_replay_memory(spec.observation_space, config.buffer_size, num_envs, config.batch_size)


def check_streams(replay: ReplayMemory | None, num_envs: int) -> None:
    """Refuse a training env with another number of envs than the memory's streams.

    Args:
        replay: The agent's memory (``None``: none yet, anything goes).
        num_envs: The envs of the new training env.

    Raises:
        ValueError: The counts differ; says how to fix it.
    """
    if replay is not None and replay.num_envs != num_envs:
        raise ValueError(
            f"set_env got {num_envs} env(s), but this agent's replay memory holds "
            f"{replay.num_envs} env streams. Pass {replay.num_envs} envs (an id builds "
            f"them: num_envs={replay.num_envs}), or drop the stored transitions first "
            "with agent.replay_buffer = None."
        )


def replay_file(path: str | os.PathLike[str]) -> Path:
    """The file a replay memory is written to: a ``.pkl`` name becomes ``.npz``.

    Args:
        path: The path asked for (SB3's ``CheckpointCallback`` asks for ``.pkl``).

    Returns:
        The path with a ``.npz`` suffix in place of ``.pkl`` (others unchanged).

    Example:
        >>> replay_file("ckpt/replay_buffer_10_steps.pkl").name
        'replay_buffer_10_steps.npz'
    """
    target = Path(os.fspath(path))
    return target.with_suffix(".npz") if target.suffix == ".pkl" else target


def save_replay(replay: ReplayMemory | None, path: str | os.PathLike[str]) -> Path:
    """Save a replay memory as a NumPy archive (no pickle), atomically.

    Args:
        replay: The memory (``None``: not created yet).
        path: Destination (a ``.pkl`` name is written as ``.npz``).

    Returns:
        The path written.

    Raises:
        RuntimeError: There is no replay memory yet.
    """
    if replay is None:
        raise RuntimeError("No replay memory yet: it is created by learn().")
    target = replay_file(path)
    replay.save(os.fspath(target))
    return target


def load_replay(replay: ReplayMemory, path: str | os.PathLike[str]) -> None:
    """Fill a replay memory from a file `save_replay` wrote.

    Args:
        replay: The memory to fill (its ``source`` must match the file's).
        path: The file; a ``.pkl`` name that does not exist finds the ``.npz`` written for it.
    """
    given = Path(os.fspath(path))
    replay.load(os.fspath(given if given.exists() else replay_file(given)))


def refill_needed(config: DQNConfig, replay: ReplayMemory, num_timesteps: int) -> int:
    """Steps of acting without updates a resumed run needs to refill its replay memory.

    Warns (``RuntimeWarning``, pointing at the caller of ``learn``) when there are any.

    Args:
        config: The hyperparameters (``learning_starts``, ``buffer_size``).
        replay: The memory.
        num_timesteps: Agent steps taken so far.

    Returns:
        0 before ``learning_starts`` or with a memory filled to the warm-up size; else the
        transitions missing to it.
    """
    warm = min(config.learning_starts, config.buffer_size)
    if num_timesteps < config.learning_starts or len(replay) >= warm:
        return 0
    warnings.warn(
        f"The replay memory holds {len(replay)} transitions but training is past "
        f"learning_starts ({config.learning_starts}): the next {warm - len(replay)} steps "
        "refill it (acting with the current epsilon, no updates). Load the saved memory "
        "(load_replay_buffer) to continue at once.",
        RuntimeWarning,
        stacklevel=3,
    )
    return warm - len(replay)
