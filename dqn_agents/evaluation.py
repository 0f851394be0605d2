"""Play any policy on full games against a model spec: RAW game scores and videos.

A policy is anything with SB3's ``predict`` and a `dqn_agents.spec.ModelSpec` (`Policy`);
this module never imports the agent. Scores come from ``info["episode"]["r"]``
(Gymnasium ``RecordEpisodeStatistics``), which
the Atari wrappers place below episodic-life and reward clipping: an Atari "episode" here
is a whole game (all lives), scored in unclipped game points, as in the papers' tables.
Envs built from an id by this library always record statistics; a ``gym.Env`` given by the
user gets ``RecordEpisodeStatistics`` added when it lacks one.

SB3's ``stable_baselines3.common.evaluation.evaluate_policy`` also works on a
`dqn_agents.DQN` (it calls ``model.predict`` on batched observations).

Example:
    >>> from dqn_agents import DQN
    >>> agent = DQN("CartPole-v1", seed=0)
    >>> result = evaluate(agent, n_episodes=2, seed=0)
    >>> len(result.scores), result.mean > 0
    (2, True)
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

from dqn_agents.envs import EnvAdapter, env_for_spec
from dqn_agents.functional import epsilon_greedy
from dqn_agents.spec import ModelSpec
from dqn_agents.wrappers.ids import is_atari_id

__all__ = [
    "ATARI_FPS",
    "EvalResult",
    "Policy",
    "StepLimitError",
    "check_epsilon",
    "evaluate",
    "record_video",
]


class Policy(Protocol):
    """What `evaluate` and `record_video` play: a model spec and SB3's ``predict``."""

    @property
    def spec(self) -> ModelSpec:
        """What the policy expects of an env."""
        ...

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, Any]:
        """Actions for one observation or a batch."""
        ...


ATARI_FPS = 60
"""Frames per second of the Atari 2600 (NTSC): replay videos of Atari games play in real time."""


class StepLimitError(RuntimeError):
    """`evaluate` reached its ``max_steps`` before the asked-for games ended."""


@dataclass(frozen=True)
class EvalResult:
    """Raw-score evaluation of an agent.

    Attributes:
        mean: Mean raw score over the episodes.
        std: Standard deviation of the raw scores.
        scores: Raw score of each episode (full games for Atari).
        lengths: Length of each episode in agent steps.
    """

    mean: float
    std: float
    scores: tuple[float, ...]
    lengths: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict.

        Returns:
            ``{"mean", "std", "scores", "lengths"}``.

        Example:
            >>> EvalResult(1.0, 0.0, (1.0,), (5,)).to_dict()["scores"]
            [1.0]
        """
        out = asdict(self)
        out["scores"], out["lengths"] = list(self.scores), list(self.lengths)
        return out


def check_epsilon(epsilon: float | None) -> None:
    """Refuse an evaluation epsilon outside [0, 1].

    Args:
        epsilon: The probability of a random action (``None``: not given).

    Raises:
        ValueError: ``epsilon`` is not between 0 and 1.

    Example:
        >>> check_epsilon(1.5)
        Traceback (most recent call last):
        ...
        ValueError: epsilon must be between 0 and 1, got 1.5.
    """
    if epsilon is not None and not 0.0 <= float(epsilon) <= 1.0:
        raise ValueError(f"epsilon must be between 0 and 1, got {epsilon}.")


def _greedy_one(policy: Policy, obs: np.ndarray) -> np.ndarray:
    return np.reshape(policy.predict(obs, deterministic=True)[0], 1)


def _eval_env(spec: ModelSpec, env: Any, render_mode: str | None = None) -> EnvAdapter:
    built = env_for_spec(spec, env, render_mode=render_mode)
    if built is None:
        if spec.env_id is None:
            raise ValueError(
                "This model has no env id to build an evaluation env from; pass env=..."
            )
        # An id from a file (maybe a stranger's) must never pick a module to import.
        raise ValueError(
            f"The model's env id {spec.env_id!r} is not an Atari id nor a registered "
            "Gymnasium id (a 'module:Env' id would import that module); build the env "
            "yourself and pass env=..."
        )
    return built.adapter


def evaluate(
    agent: Policy,
    n_episodes: int = 10,
    env: str | gym.Env[Any, Any] | None = None,
    *,
    deterministic: bool = True,
    epsilon: float | None = None,
    seed: int | None = None,
    video_path: str | os.PathLike[str] | None = None,
    max_steps: int = 1_000_000,
) -> EvalResult:
    """Play ``n_episodes`` full games and return raw scores.

    Args:
        agent: The policy (a `dqn_agents.DQN` or anything with ``spec`` and ``predict``).
        n_episodes: Number of full games (>= 1).
        env: An env id or ``gym.Env`` (default: a fresh env from ``agent.env_id`` with the
            saved wrapper options).
        deterministic: Greedy play when ``epsilon`` is not given.
        epsilon: Probability of a random action (e.g. 0.05 as in the Nature paper);
            default 0 when ``deterministic`` else the policy's ``exploration_rate`` (0
            when it has none).
        seed: Seed of the env's first reset and of the exploration draws.
        video_path: Record the first of these games (the real game screen) to this mp4
            (needs ``imageio[ffmpeg]``). A ``gym.Env`` passed as ``env`` must render
            ``rgb_array`` frames for that; otherwise a separate greedy game on a fresh env
            of the model's id is recorded.
        max_steps: Safety limit on the total number of agent steps.

    Returns:
        An `EvalResult`.

    Raises:
        ValueError: ``n_episodes < 1``, ``max_steps < 1``, ``epsilon`` outside [0, 1], or
            the env does not fit the model.
        StepLimitError: ``max_steps`` was reached before ``n_episodes`` games ended (a
            ``RuntimeError``).
        ImportError: ``video_path`` is given and ``imageio`` is missing.
    """
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}.")
    if max_steps < 1:
        raise ValueError(f"max_steps must be >= 1 agent step, got {max_steps}.")
    check_epsilon(epsilon)
    imageio = _imageio() if video_path is not None else None
    if epsilon is None:
        epsilon = 0.0 if deterministic else float(getattr(agent, "exploration_rate", 0.0))
    rng = np.random.default_rng(seed)
    spec = agent.spec
    adapter = _eval_env(spec, env, render_mode="rgb_array" if video_path is not None else None)
    owned = env is None or isinstance(env, str)  # a passed env belongs to the caller
    renderer: Any = None
    if video_path is not None:
        if getattr(adapter.env, "render_mode", None) == "rgb_array":
            renderer = adapter.env
        else:
            record_video(agent, video_path, seed=seed)
    frames: list[np.ndarray] = []
    try:
        obs = adapter.reset(seed=seed)
        if renderer is not None:
            frames.append(np.asarray(renderer.render()))
        scores: list[float] = []
        lengths: list[int] = []
        steps = 0
        while len(scores) < n_episodes:
            actions = epsilon_greedy(
                partial(_greedy_one, agent, obs), 1, spec.n_actions, epsilon, rng
            )
            step = adapter.step(actions)
            obs = step.obs
            steps += 1
            ended = False
            if step.dones[0]:
                episode = step.infos[0].get("episode")
                if episode is not None:
                    scores.append(float(episode["r"]))
                    lengths.append(int(episode["l"]))
                    ended = True
            if renderer is not None and not scores and not ended:
                frames.append(np.asarray(renderer.render()))
            if steps >= max_steps:
                raise StepLimitError(
                    f"evaluate: {max_steps} steps played but only {len(scores)} of {n_episodes} "
                    f"episodes ended; raise max_steps or check the env's time limit."
                )
    finally:
        if owned:
            adapter.close()
    if renderer is not None and video_path is not None:
        _write_mp4(imageio, frames, video_path, _video_fps(spec, renderer, None))
    return EvalResult(float(np.mean(scores)), float(np.std(scores)), tuple(scores), tuple(lengths))


def _imageio() -> Any:
    try:
        import imageio.v2 as imageio
    except ImportError as exc:  # pragma: no cover - extra not installed
        raise ImportError(
            "Recording videos needs imageio and imageio-ffmpeg: pip install 'dqn-agents[video]'"
        ) from exc
    return imageio


def _video_fps(spec: ModelSpec, env: Any, fps: int | None) -> int:
    """Frames per second for one video frame per agent step: real time.

    Atari: the console's 60 Hz divided by the frame skip (ALE's ``render_fps`` metadata
    says 30, which made videos play at half speed); other envs: their ``render_fps``
    divided by the frame skip.
    """
    if fps is not None:
        return fps
    skip = int((spec.wrapper_options or {}).get("frame_skip", 1) or 1)
    if spec.env_id is not None and is_atari_id(spec.env_id):
        return max(1, ATARI_FPS // skip)  # ALE's metadata says 30; the console ran at 60 Hz
    render_fps = int(env.metadata.get("render_fps", 60) or 60)
    return max(1, render_fps // skip)


def _write_mp4(
    imageio: Any, frames: list[np.ndarray], path: str | os.PathLike[str], fps: int
) -> Path:
    """Encode RGB frames to an H.264 mp4, atomically (temporary file, then rename)."""
    target = Path(os.fspath(path))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".tmp-{os.getpid()}-{target.stem}.mp4")
    try:
        writer = imageio.get_writer(
            tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264", macro_block_size=1
        )
        for frame in frames:
            writer.append_data(frame)
        writer.close()
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def record_video(
    agent: Policy,
    path: str | os.PathLike[str],
    env: str | None = None,
    *,
    seed: int | None = None,
    deterministic: bool = True,
    fps: int | None = None,
    max_steps: int = 27_000,
) -> Path:
    """Play one full game and write its RGB frames (the real game screen) to an mp4.

    Args:
        agent: The policy (a `dqn_agents.DQN` or anything with ``spec`` and ``predict``).
        path: Destination ``.mp4`` (written atomically).
        env: Env id (default: ``agent.env_id``); built with ``render_mode="rgb_array"``.
        seed: Seed of the env reset.
        deterministic: Greedy actions.
        fps: Frames per second (default: the env's ``render_fps`` divided by the frame skip).
        max_steps: Stop after this many agent steps.

    Returns:
        The path written.

    Raises:
        ImportError: ``imageio`` / ``imageio-ffmpeg`` are missing (``pip install
            dqn-agents[video]``).
    """
    imageio = _imageio()
    adapter = _eval_env(agent.spec, env, render_mode="rgb_array")
    inner: Any = adapter.env
    frames: list[np.ndarray] = []
    try:
        obs = adapter.reset(seed=seed)
        frames.append(np.asarray(inner.render()))
        for _ in range(max_steps):
            actions, _ = agent.predict(obs, deterministic=deterministic)
            step = adapter.step(np.asarray(actions).reshape(1))
            obs = step.obs
            if step.dones[0] and "episode" in step.infos[0]:
                break
            frames.append(np.asarray(inner.render()))
    finally:
        adapter.close()
    return _write_mp4(imageio, frames, path, _video_fps(agent.spec, inner, fps))
