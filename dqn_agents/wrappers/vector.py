"""Vectorized Atari envs with the DQN contract: a fast path on ALE's C++ vector env.

`make_atari_vector` returns a ``gymnasium.vector.VectorEnv`` with the same
observations, rewards, terminations and ``info`` keys as ``num_envs`` copies of
`make_atari`, built one of two ways:

* ``backend="ale"`` -- `AtariVectorAdapter` on ``ale_py.vector_env.AtariVectorEnv``
  (C++ threads, frame skip + max-pool, grayscale, resize, no-ops, fire reset and sticky
  actions inside). ALE is asked for raw rewards and single frames; this adapter clips the
  rewards, keeps the raw score of each full game, and stacks the frames itself so that the
  stack is zero-padded after a life loss exactly as in the single env. Episodic life uses
  ALE's ``life_loss_info`` (``terminated`` at a life loss, the game goes on); ALE's own
  ``episodic_life`` is *not* used because it restarts the whole game at every life loss.
  With no-ops and sticky actions off, its observations, rewards, terminations and final
  observations are byte-identical to `make_atari` (tested on Pong, Breakout and
  Space Invaders); with them on, the random draws differ (ALE plays ``0..noop_max-1``
  no-ops drawn from its own generator seeded by the reset seed).
* ``backend="sync"`` / ``"async"`` -- ``gymnasium.vector.SyncVectorEnv`` /
  ``AsyncVectorEnv`` of `make_atari`, for what ALE lacks.

``backend="auto"`` (default) picks ``"ale"`` unless the options need what ALE cannot do:
ALE presses FIRE (one frame, like `make_atari`) only at a real reset, never after a
life loss, so games with a FIRE action *and* lives (Breakout, Space Invaders, ...) with
``episodic_life`` and ``fire_reset`` on go to ``"sync"``; games without lives (Pong) or
without FIRE use ``"ale"``. Pass ``backend="ale"`` to accept that one difference (no FIRE
after a life loss: the agent has to learn to press it) for speed.

The vector env must be stepped with integer actions of shape ``(num_envs,)``. Rewards are
``float64`` (clipped to the sign by default).

Autoreset and info conventions (both backends):

* Autoreset mode is ``gymnasium.vector.AutoresetMode.SAME_STEP``, also in
  ``env.metadata["autoreset_mode"]``: when sub-env ``i`` ends (``terminated`` -- at a life
  loss too with episodic life -- or ``truncated``), the observation returned for ``i`` is
  already the first one of its next episode, and the last observation of the episode that
  ended is ``info["final_obs"][i]`` (mask ``info["_final_obs"]``). Store that one as
  ``next_obs`` in a replay buffer.
* ``info["episode"]`` holds ``"r"`` (raw, unclipped full-game score), ``"l"`` (agent steps)
  and ``"t"`` (seconds) arrays, valid where the mask ``info["_episode"]`` is true: only
  when a real game ends (game over or truncation), never at a life loss. This is the
  Gymnasium vector convention of ``RecordEpisodeStatistics``.
* ``info["lives"]`` (lives left) and ``info["game_over"]`` (bool array: a real game ended
  this step) are always present.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import ale_py
import gymnasium as gym
import numpy as np
from ale_py import roms
from ale_py.vector_env import AtariVectorEnv
from gymnasium.spaces import Box
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv, VectorEnv
from gymnasium.vector.utils import batch_space

from dqn_agents.wrappers.atari import AtariOptions, make_atari
from dqn_agents.wrappers.ids import resolve_env_id

__all__ = ["AtariVectorAdapter", "EpisodeStatsLift", "make_atari_vector"]

Backend = Literal["auto", "ale", "sync", "async"]
_NO_CAP = 2**31 - 1


@functools.cache
def _game_traits(game: str, full_action_space: bool) -> tuple[bool, bool]:
    """Return ``(needs_fire, has_lives)`` for an ALE ROM name."""
    ale = ale_py.ALEInterface()
    ale.setLoggerMode(ale_py.LoggerMode.Error)
    rom = roms.get_rom_path(game)
    if rom is None:
        raise ValueError(f"No ALE ROM named {game!r}.")
    ale.loadROM(rom)
    actions = ale.getLegalActionSet() if full_action_space else ale.getMinimalActionSet()
    needs_fire = ale_py.Action.FIRE in list(actions)
    return needs_fire, int(ale.lives()) > 0


def _ale_seed(seed: Any, num_envs: int) -> int | np.ndarray | None:
    """Gymnasium's seed forms, as the int or array that ALE's ``AtariVectorEnv.reset`` takes.

    Example:
        >>> _ale_seed(np.int64(3), 2), _ale_seed([3, 4], 2).tolist(), _ale_seed([None, None], 2)
        (3, [3, 4], None)
    """
    if seed is None:
        return None
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return int(seed)
    seeds = list(np.asarray(seed, dtype=object).reshape(-1))
    if len(seeds) != num_envs:
        raise ValueError(f"seed has {len(seeds)} entries, expected one per sub-env ({num_envs}).")
    if all(s is None for s in seeds):
        return None
    fresh = np.random.default_rng()
    return np.array(
        [int(fresh.integers(2**31)) if s is None else int(s) for s in seeds], dtype=np.int64
    )


class AtariVectorAdapter(VectorEnv):
    """``AtariVectorEnv`` with the exact contract of `make_atari`, SAME_STEP autoreset.

    See the module docstring for the info conventions. Prefer `make_atari_vector`,
    which maps `AtariOptions` onto this class.

    Args:
        game: ALE ROM name in snake_case (``"pong"``).
        num_envs: Number of sub-envs.
        options: The preprocessing options.
        repeat_action_probability: Sticky-action probability (already resolved).
        num_threads: ALE worker threads (0: one per env, capped by ALE to the cores).

    Example:
        >>> env = AtariVectorAdapter("pong", 2, AtariOptions(), 0.25)
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape, env.metadata["autoreset_mode"]
        ((2, 4, 84, 84), <AutoresetMode.SAME_STEP: 'SameStep'>)
    """

    def __init__(
        self,
        game: str,
        num_envs: int,
        options: AtariOptions,
        repeat_action_probability: float,
        *,
        num_threads: int = 0,
    ) -> None:
        self.options = options
        self.ale_env = AtariVectorEnv(
            game,
            num_envs,
            num_threads=num_threads,
            max_num_frames_per_episode=options.max_episode_frames or _NO_CAP,
            repeat_action_probability=float(repeat_action_probability),
            full_action_space=options.full_action_space,
            autoreset_mode=AutoresetMode.SAME_STEP,
            img_height=options.screen_size,
            img_width=options.screen_size,
            grayscale=options.grayscale,
            stack_num=1,
            frameskip=options.frame_skip,
            maxpool=options.max_pool,
            noop_max=options.noop_max,
            episodic_life=False,
            life_loss_info=options.episodic_life,
            reward_clipping=False,
            use_fire_reset=options.fire_reset,
        )
        self.num_envs = num_envs
        self.metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}
        ale_shape = self.ale_env.single_observation_space.shape
        assert ale_shape is not None
        frame_shape = tuple(ale_shape[1:])
        self._frame_shape = frame_shape
        self.single_observation_space = Box(
            0, 255, (options.frame_stack, *frame_shape), dtype=np.uint8
        )
        self.single_action_space = self.ale_env.single_action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._stack = np.zeros((num_envs, *self.single_observation_space.shape), np.uint8)
        self._returns = np.zeros(num_envs, dtype=np.float64)
        self._lengths = np.zeros(num_envs, dtype=np.int64)
        self._starts = np.zeros(num_envs, dtype=np.float64)
        self._episode_frames = np.zeros(num_envs, dtype=np.int64)

    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | np.ndarray | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset all sub-envs (or those in ``options["reset_mask"]``).

        ``seed`` takes every form of Gymnasium's ``VectorEnv.reset``: an int (sub-env
        ``i`` gets ``seed + i``), or one seed per sub-env where ``None`` draws a fresh one.
        """
        frames, info = self.ale_env.reset(seed=_ale_seed(seed, self.num_envs), options=options)
        if options is not None and "reset_mask" in options:
            idx = np.flatnonzero(options["reset_mask"])
        else:
            idx = np.arange(self.num_envs)
        stack = self._stack.copy()
        stack[idx] = 0
        stack[idx, -1] = frames[idx, 0]
        self._stack = stack
        self._returns[idx] = 0.0
        self._lengths[idx] = 0
        self._starts[idx] = time.perf_counter()
        self._episode_frames[idx] = np.asarray(info["episode_frame_number"])[idx]
        out = dict(info)
        out["game_over"] = np.zeros(self.num_envs, dtype=bool)
        return stack, out

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step all sub-envs; ended ones are reset in the same step (see module docs)."""
        actions = np.asarray(actions)
        if actions.dtype != np.int32:
            actions = actions.astype(np.int64, copy=False)
        frames, raw, terminated, truncated, info = self.ale_env.step(actions)
        raw = raw.astype(np.float64)
        self._returns += raw
        self._lengths += 1

        old = self._stack
        stack = np.empty_like(old)
        stack[:, :-1] = old[:, 1:]
        stack[:, -1] = frames[:, 0]
        ended = terminated | truncated
        out: dict[str, Any] = dict(info)
        efn = np.asarray(info["episode_frame_number"])
        # A sub-env was really reset iff its episode frame counter went back.
        game_over = ended & (efn <= self._episode_frames)
        self._episode_frames = efn.astype(np.int64)
        if ended.any():
            final = stack.copy()
            if game_over.any():
                final[game_over, -1] = info["final_obs"][game_over, 0]
            stack[ended] = 0
            stack[ended, -1] = frames[ended, 0]
            out["final_obs"] = final
            out["_final_obs"] = ended
            if game_over.any():
                now = time.perf_counter()
                out["episode"] = {
                    "r": np.where(game_over, self._returns, 0.0),
                    "l": np.where(game_over, self._lengths, 0),
                    "t": np.where(game_over, np.round(now - self._starts, 6), 0.0),
                }
                out["_episode"] = game_over
                self._returns[game_over] = 0.0
                self._lengths[game_over] = 0
                self._starts[game_over] = now
        else:
            out.pop("final_obs", None)
        out["game_over"] = game_over
        self._stack = stack
        rewards = np.sign(raw) if self.options.clip_rewards else raw
        return stack, rewards, terminated, truncated, out

    def close_extras(self, **kwargs: Any) -> None:
        """Close the ALE vector env."""
        self.ale_env.close()


class EpisodeStatsLift(gym.vector.VectorWrapper):
    """Gymnasium's vector env with the ALE backend's info conventions (``sync``/``async``).

    What ``make_atari_vector(backend="sync")`` and ``backend="async"`` return. Copies
    ``final_info["episode"]`` (SAME_STEP autoreset) to ``info["episode"]`` and adds
    ``info["game_over"]`` at every step.
    """

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step the envs; lift ``final_info["episode"]`` and add ``info["game_over"]``."""
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        final = info.get("final_info")
        game_over = np.zeros(self.num_envs, dtype=bool)
        if isinstance(final, Mapping):
            if "episode" in final:
                info["episode"] = final["episode"]
                info["_episode"] = final["_episode"]
            if "game_over" in final:
                game_over = np.asarray(final["game_over"], dtype=bool) & np.asarray(
                    final.get("_game_over", np.ones(self.num_envs, bool)), dtype=bool
                )
        info["game_over"] = game_over
        return obs, rewards, terminated, truncated, info


def make_atari_vector(
    env_id: str,
    num_envs: int,
    options: AtariOptions | Mapping[str, Any] | None = None,
    *,
    backend: Backend = "auto",
    num_threads: int = 0,
    **overrides: Any,
) -> VectorEnv:
    """Build ``num_envs`` Atari envs with the DQN contract as one vector env.

    Args:
        env_id: Any id `make_atari` accepts.
        num_envs: Number of sub-envs (>= 1).
        options: An `AtariOptions`, a dict of options, or ``None`` for defaults.
        backend: ``"auto"``, ``"ale"`` (C++ fast path), ``"sync"`` or ``"async"`` (Gymnasium
            vector envs of `make_atari`); see the module docstring.
        num_threads: ALE worker threads for the ``"ale"`` backend (0: automatic).
        **overrides: Single options overriding ``options``.

    Returns:
        A ``VectorEnv`` with ``num_envs``, ``single_observation_space`` ``(4, 84, 84)`` uint8,
        ``single_action_space`` ``Discrete``, SAME_STEP autoreset
        (``env.metadata["autoreset_mode"]``) and raw scores in ``info["episode"]``.

    Raises:
        ValueError: On an unknown id, a bad option, ``num_envs`` or ``backend``.

    Example:
        >>> envs = make_atari_vector("ALE/Pong-v5", num_envs=4)
        >>> obs, info = envs.reset(seed=0)
        >>> obs.shape
        (4, 4, 84, 84)
        >>> obs, rewards, terminated, truncated, info = envs.step(envs.action_space.sample())
    """
    opts = AtariOptions.coerce(options, **overrides)
    atari_id = resolve_env_id(env_id)
    if isinstance(num_envs, bool) or not isinstance(num_envs, int | np.integer) or num_envs < 1:
        raise ValueError(f"num_envs must be a positive int, got {num_envs!r}.")
    if backend not in ("auto", "ale", "sync", "async"):
        raise ValueError(f"backend must be 'auto', 'ale', 'sync' or 'async', got {backend!r}.")
    if backend == "auto":
        needs_fire, has_lives = _game_traits(atari_id.game, opts.full_action_space)
        fire_after_life_loss = opts.episodic_life and opts.fire_reset and needs_fire and has_lives
        backend = "sync" if fire_after_life_loss else "ale"
    if backend == "ale":
        rap = opts.repeat_action_probability
        if rap is None:
            rap = atari_id.default_repeat_action_probability
        return AtariVectorAdapter(
            atari_id.game, int(num_envs), opts, float(rap), num_threads=num_threads
        )
    fns = [functools.partial(make_atari, env_id, opts) for _ in range(int(num_envs))]
    vec: VectorEnv
    if backend == "sync":
        vec = SyncVectorEnv(fns, autoreset_mode=AutoresetMode.SAME_STEP)
    else:
        vec = AsyncVectorEnv(fns, autoreset_mode=AutoresetMode.SAME_STEP)
    return EpisodeStatsLift(vec)
