"""The zoo's evaluation protocol, and the model folder it leaves for each finished trial.

The protocol of the project's zoo (``benchmarks/zoo_agent.py``): the trained agent plays
``episodes`` full games greedily (epsilon 0) through `dqn_agents.hub.push.prepare_folder`,
which scores raw, unclipped game points (``info["episode"]["r"]``, all lives) and writes
the Hub layout; optionally, for Atari games, a cross-check plays ``cross_check_episodes``
more games through Gymnasium's own ``AtariPreprocessing(noop_max=30)`` +
``FrameStackObservation(4)`` (no episodic life, no fire reset), so a score never depends
on this library's wrappers. The folder is ready to push unchanged::

    model/
      config.json, model.safetensors   # the agent (safetensors + JSON)
      results.json                     # raw scores of every game, the protocol
      README.md                        # model card with the model-index
      training_log.json                # every training game (the learning curve's data)
      learning_curve.png               # training games against agent steps
      replay.mp4                       # one evaluation game (with video=True)

Example:
    >>> EvalProtocol(episodes=5).to_dict()["episodes"]
    5
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import mean, pstdev
from typing import Any

import numpy as np

from dqn_agents.suite.records import TrainingCurve, read_json, write_json

__all__ = [
    "CURVE_PNG",
    "TRAINING_LOG",
    "EvalProtocol",
    "gymnasium_atari_env",
    "gymnasium_cross_check",
    "play_greedy",
    "write_model_folder",
]

CURVE_PNG = "learning_curve.png"
"""The learning-curve figure in a model folder."""
TRAINING_LOG = "training_log.json"
"""Every training game of the run, in a model folder (a file the Hub push uploads)."""


@dataclass(frozen=True)
class EvalProtocol:
    """How each finished trial is evaluated (the zoo's protocol, see the module docstring).

    Args:
        episodes: Full games played greedily (raw scores); the zoo plays 20.
        video: Record ``replay.mp4`` of the first game (needs the ``video`` extra).
        cross_check_episodes: For Atari games, games played through Gymnasium's own
            ``AtariPreprocessing`` as a cross-check (0: none).
        seed: Seed of the cross-check games (game ``i`` resets with ``seed + i``).

    Raises:
        ValueError: ``episodes < 1`` or ``cross_check_episodes < 0``.
    """

    episodes: int = 20
    video: bool = False
    cross_check_episodes: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        if int(self.episodes) < 1:
            raise ValueError(f"the evaluation needs at least 1 game, got episodes={self.episodes}.")
        if int(self.cross_check_episodes) < 0:
            raise ValueError(f"cross_check_episodes must be >= 0, got {self.cross_check_episodes}.")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict.

        Returns:
            The fields.
        """
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> EvalProtocol:
        """Build from `to_dict` output (``None`` or ``{}``: the defaults).

        Args:
            data: The mapping.

        Returns:
            The protocol.
        """
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in (data or {}).items() if k in known})


def gymnasium_atari_env(env_id: str, render_mode: str | None = None) -> Any:
    """``env_id`` through Gymnasium's own Atari preprocessing and frame stack only.

    Args:
        env_id: An Atari id (``"ALE/Pong-v5"``, ``"PongNoFrameskip-v4"``).
        render_mode: Passed to ``gym.make`` (``"rgb_array"`` to record the game).

    Returns:
        ``FrameStackObservation(AtariPreprocessing(gym.make(env_id, frameskip=1),
        noop_max=30), 4)``.
    """
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)
    env = gym.make(env_id, frameskip=1, render_mode=render_mode)
    env = gym.wrappers.AtariPreprocessing(
        env, noop_max=30, frame_skip=4, screen_size=84, grayscale_obs=True
    )
    return gym.wrappers.FrameStackObservation(env, 4)


def gymnasium_cross_check(agent: Any, env_id: str, episodes: int, seed: int) -> dict[str, Any]:
    """Greedy games through `gymnasium_atari_env`, for a zoo ``results.json``.

    The ``gymnasium_preprocessing`` entry: the agent must not depend on our wrappers' choices.

    Args:
        agent: Anything with SB3's ``predict``.
        env_id: The agent's Atari id.
        episodes: Games to play (>= 1).
        seed: Game ``i`` resets with ``seed + i``.

    Returns:
        ``{"wrappers", "n_eval_episodes", "mean_reward", "std_reward", "scores"}``.
    """
    env = gymnasium_atari_env(env_id)
    try:
        scores = play_greedy(agent, env, episodes, seed)
    finally:
        env.close()
    return {
        "wrappers": "AtariPreprocessing(noop_max=30, frame_skip=4) + FrameStackObservation(4)",
        "n_eval_episodes": len(scores),
        "mean_reward": mean(scores),
        "std_reward": pstdev(scores),
        "scores": scores,
    }


def play_greedy(agent: Any, env: Any, episodes: int, seed: int) -> list[float]:
    """Greedy full games on a plain Gymnasium env; raw scores summed from its rewards.

    Args:
        agent: Anything with SB3's ``predict``.
        env: A Gymnasium env whose observations the agent takes.
        episodes: Games to play.
        seed: Game ``i`` resets with ``seed + i``.

    Returns:
        The raw score of each game.
    """
    scores = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            action, _ = agent.predict(np.asarray(obs), deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(int(action))
            total += float(reward)
            done = bool(terminated or truncated)
        scores.append(total)
    return scores


def write_model_folder(
    agent: Any,
    folder: str | os.PathLike[str],
    repo_id: str,
    protocol: EvalProtocol,
    *,
    env_id: str,
    curve: TrainingCurve,
    training: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate a finished agent by `protocol` and write its model folder (Hub layout).

    Args:
        agent: The trained `dqn_agents.DQN`.
        folder: Destination (created; files of an earlier attempt are replaced).
        repo_id: The repo the card names (where a push would publish it).
        protocol: The evaluation protocol.
        env_id: The env to evaluate on (the game's id).
        curve: The run's training games (``training_log.json`` and the figure).
        training: Facts about the run for the model card (steps, minutes, command...).

    Returns:
        The ``results.json`` content (``mean_reward``, ``std_reward``, ``scores``...,
        plus ``protocol`` and, with a cross-check, ``gymnasium_preprocessing``).
    """
    from dqn_agents.hub.push import prepare_folder
    from dqn_agents.suite.plots import plot_trial_curve
    from dqn_agents.wrappers.ids import is_atari_id

    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    write_json(target / TRAINING_LOG, curve.to_dict())
    facts: dict[str, Any] = {"log": TRAINING_LOG, **(training or {})}
    try:
        plot_trial_curve(curve, target / CURVE_PNG, f"{env_id}, seed {curve.seed}")
        facts["curve"] = CURVE_PNG
    except ImportError:  # no matplotlib: the folder goes without the figure
        pass
    prepare_folder(
        agent,
        target,
        repo_id,
        eval_env=env_id,
        n_eval_episodes=int(protocol.episodes),
        video=bool(protocol.video),
        training=facts,
    )
    results = read_json(target / "results.json")
    results["protocol"] = {
        "name": "dqn-agents zoo",
        "greedy": True,
        "epsilon": 0.0,
        **protocol.to_dict(),
    }
    if protocol.cross_check_episodes > 0 and is_atari_id(env_id) and ":" not in env_id:
        results["gymnasium_preprocessing"] = gymnasium_cross_check(
            agent, env_id, int(protocol.cross_check_episodes), protocol.seed
        )
    write_json(target / "results.json", results)
    return results
