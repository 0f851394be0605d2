"""The DQN Atari preprocessing contract as Gymnasium 1.x wrappers.

`make_atari` builds the stack of Mnih et al. (2015) from an id, `wrap_atari`
applies it to an env you built. From the emulator up, the layers are:

1. `AtariFrameProcessing` -- fire reset (one FIRE frame after each real reset, in
   games with a FIRE action, as ALE's ``AtariVectorEnv`` does), no-op reset (up to
   ``noop_max``), frame skip with max-pool over the last two frames, ALE grayscale,
   ``cv2.INTER_AREA`` resize to 84x84 and the episode cap in emulator frames
   (``max_episode_frames``, truncation). One fused
   wrapper: it reads only the two screens it pools, straight from the ALE, and calls the
   emulator directly when the env underneath is a plain ``ale_py`` env (otherwise it steps
   through the wrapped env frame by frame). Its observations are byte-identical to
   Gymnasium's ``AtariPreprocessing`` with the same settings, and it is faster.
2. ``gymnasium.wrappers.RecordEpisodeStatistics`` -- below episodic life and clipping, so
   ``info["episode"]["r"]`` is the raw, unclipped score of the full game and it appears
   only when the real game ends (or is truncated), never at a life loss.
3. `EpisodicLife` -- ``terminated=True`` at a life loss for learning; the next
   ``reset()`` keeps playing the same game (it returns the last frame without stepping).
   ``info["game_over"]`` tells a real end, ``info["lives"]`` the lives left.
4. `FireReset` -- with episodic life, presses FIRE (one agent step) after the
   pseudo-reset that follows a life loss, so that games such as Breakout go on.
5. ``gymnasium.wrappers.TransformReward`` with the sign function (reward clipping).
6. `FrameStack` -- the observations of Gymnasium's
   ``FrameStackObservation(frame_stack, padding_type="zero")`` with less overhead:
   channel-first ``(4, 84, 84)`` ``uint8`` observations, zero-padded at episode start
   (including after a life loss), as ``ale_py.vector_env.AtariVectorEnv`` and SB3's
   ``VecFrameStack`` do.

Sticky actions are the ALE's own ``repeat_action_probability``: 0.25 for ``ALE/*-v5`` ids and
plain game names, 0 for ``*NoFrameskip-v4`` ids, unless set.

Differences from SB3's ``AtariWrapper`` (OpenAI Baselines lineage), all chosen so that the
single env and the ALE vector fast path give the same bytes: the fire reset is one FIRE
frame (SB3: a FIRE step then an UP step); the reset after a life loss plays no extra
no-op step (SB3 plays one) and re-pads the stack with zeros; the no-op count is drawn as
Gymnasium's ``AtariPreprocessing`` draws it (``1..noop_max`` from ``env.np_random``).
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, SupportsFloat

import ale_py
import cv2
import gymnasium as gym
import numpy as np
from gymnasium.spaces import Box
from gymnasium.wrappers import (
    OrderEnforcing,
    PassiveEnvChecker,
    RecordEpisodeStatistics,
    TransformReward,
)

from dqn_agents.wrappers.ids import resolve_env_id

__all__ = [
    "AtariFrameProcessing",
    "AtariOptions",
    "EpisodicLife",
    "FireReset",
    "FrameStack",
    "game_needs_fire",
    "make_atari",
    "wrap_atari",
]

_INT_FIELDS = ("noop_max", "frame_skip", "screen_size", "frame_stack")
_BOOL_FIELDS = (
    "max_pool",
    "grayscale",
    "episodic_life",
    "fire_reset",
    "clip_rewards",
    "full_action_space",
)


@dataclass(frozen=True)
class AtariOptions:
    """Every knob of the Atari preprocessing contract (defaults: Mnih et al. 2015).

    Attributes:
        noop_max: Up to this many no-op actions (drawn uniformly from ``1..noop_max`` with
            the env's ``np_random``) after each real reset; 0 switches it off.
        frame_skip: Emulator frames per agent step, the action repeated (use 3 for Space
            Invaders as in the 2013 paper).
        max_pool: Max-pool the last two frames of each skip (removes Atari flicker).
        screen_size: Side of the square, resized (``cv2.INTER_AREA``) frame.
        grayscale: ALE grayscale frames; ``False`` keeps RGB (``(stack, H, W, 3)``).
        episodic_life: A life loss ends the episode for learning (the game goes on).
        fire_reset: In games with a FIRE action, press FIRE for one frame after each real
            reset and, with ``episodic_life``, for one step after each life loss.
        clip_rewards: Replace each reward by its sign (-1, 0 or 1).
        frame_stack: Frames stacked (channel-first) in each observation.
        max_episode_frames: Episode cap in emulator frames (truncation); ``None`` for none.
        repeat_action_probability: Sticky-action probability; ``None`` means the id's
            default (0.25 for ``ALE/*-v5`` and plain names, 0 for ``*NoFrameskip-v4``).
        full_action_space: Use all 18 Atari actions instead of the game's minimal set.

    Example:
        >>> opts = AtariOptions(frame_skip=3)
        >>> AtariOptions.from_dict(opts.to_dict()) == opts
        True
    """

    noop_max: int = 30
    frame_skip: int = 4
    max_pool: bool = True
    screen_size: int = 84
    grayscale: bool = True
    episodic_life: bool = True
    fire_reset: bool = True
    clip_rewards: bool = True
    frame_stack: int = 4
    max_episode_frames: int | None = 108_000
    repeat_action_probability: float | None = None
    full_action_space: bool = False

    def __post_init__(self) -> None:
        for name in _INT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise ValueError(f"AtariOptions.{name} must be an int, got {value!r}.")
        for name in _BOOL_FIELDS:
            value = getattr(self, name)
            if not isinstance(value, bool | np.bool_):
                raise ValueError(f"AtariOptions.{name} must be a bool, got {value!r}.")
        if self.noop_max < 0:
            raise ValueError(f"AtariOptions.noop_max must be >= 0, got {self.noop_max!r}.")
        if self.frame_skip < 1:
            raise ValueError(f"AtariOptions.frame_skip must be >= 1, got {self.frame_skip!r}.")
        if self.screen_size < 1:
            raise ValueError(f"AtariOptions.screen_size must be >= 1, got {self.screen_size!r}.")
        if self.frame_stack < 1:
            raise ValueError(f"AtariOptions.frame_stack must be >= 1, got {self.frame_stack!r}.")
        mef = self.max_episode_frames
        if mef is not None and (
            isinstance(mef, bool) or not isinstance(mef, int | np.integer) or mef < 1
        ):
            raise ValueError(
                f"AtariOptions.max_episode_frames must be a positive int or None, got {mef!r}."
            )
        rap = self.repeat_action_probability
        if rap is not None and (
            isinstance(rap, bool)
            or not isinstance(rap, int | float | np.floating)
            or not 0.0 <= float(rap) <= 1.0
        ):
            raise ValueError(
                "AtariOptions.repeat_action_probability must be a float in [0, 1] or None, "
                f"got {rap!r}."
            )

    def to_dict(self) -> dict[str, Any]:
        """Return the options as a JSON-able dict (plain ints, floats, bools and None).

        Example:
            >>> AtariOptions().to_dict()["frame_skip"]
            4
        """
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool | np.bool_):
                value = bool(value)
            elif isinstance(value, int | np.integer):
                value = int(value)
            elif isinstance(value, float | np.floating):
                value = float(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AtariOptions:
        """Build options from a dict such as one written by `to_dict`.

        Args:
            data: Field names to values; missing fields keep their defaults.

        Raises:
            ValueError: On an unknown key (naming the closest valid names) or a bad value.

        Example:
            >>> AtariOptions.from_dict({"noop_max": 0}).noop_max
            0
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"AtariOptions.from_dict expects a mapping, got {data!r}.")
        names = [f.name for f in dataclasses.fields(cls)]
        for key in data:
            if key not in names:
                close = difflib.get_close_matches(str(key), names, n=3)
                hint = f" Did you mean {', '.join(close)}?" if close else ""
                raise ValueError(
                    f"Unknown Atari option {key!r}.{hint} Valid options: {', '.join(names)}."
                )
        return cls(**dict(data))

    @classmethod
    def coerce(
        cls, options: AtariOptions | Mapping[str, Any] | None = None, **overrides: Any
    ) -> AtariOptions:
        """Merge ``options`` (an instance, a dict or ``None``) with keyword overrides.

        Example:
            >>> AtariOptions.coerce({"frame_skip": 3}, noop_max=0).frame_skip
            3
        """
        if options is None:
            base: dict[str, Any] = {}
        elif isinstance(options, AtariOptions):
            base = options.to_dict()
        elif isinstance(options, Mapping):
            base = dict(options)
        else:
            raise ValueError(f"options must be an AtariOptions, a dict or None, got {options!r}.")
        base.update(overrides)
        return cls.from_dict(base)


def game_needs_fire(env: gym.Env[Any, Any]) -> bool:
    """Tell whether a game has a FIRE action (the test ALE's ``AtariVectorEnv`` uses).

    Args:
        env: An Atari env (``env.unwrapped.get_action_meanings()`` must exist).

    Example:
        >>> import gymnasium as gym, ale_py
        >>> gym.register_envs(ale_py)
        >>> game_needs_fire(gym.make("ALE/Breakout-v5"))
        True
    """
    meanings = env.unwrapped.get_action_meanings()  # type: ignore[attr-defined]
    return "FIRE" in meanings


def _direct_ale(env: gym.Env[Any, Any]) -> bool:
    """True when ``env`` is a plain ale_py env (only passive wrappers) we may drive directly."""
    inner: Any = env
    while isinstance(inner, gym.Wrapper):
        if type(inner) not in (OrderEnforcing, PassiveEnvChecker):
            return False
        inner = inner.env
    return (
        type(inner) is ale_py.env.AtariEnv
        and not getattr(inner, "continuous", False)
        and getattr(inner, "_frameskip", None) == 1
    )


class AtariFrameProcessing(gym.Wrapper[np.ndarray, int, Any, Any], gym.utils.RecordConstructorArgs):
    """No-op reset, frame skip + max-pool, grayscale, resize and frame cap in one wrapper.

    Observations are byte-identical to ``gymnasium.wrappers.AtariPreprocessing`` with the
    same settings (same no-op draws from ``env.unwrapped.np_random``, same screens pooled,
    same ``cv2.INTER_AREA`` resize), but only the two pooled screens are read per step and,
    on a plain ``ale_py`` env, the emulator is driven directly.

    Args:
        env: An Atari env with ``frameskip=1`` exposing ``env.unwrapped.ale`` (``lives``,
            ``getScreenGrayscale``/``getScreenRGB``, ``getScreenDims``) and
            ``get_action_meanings()``.
        noop_max: Up to this many no-ops after each reset (0: off); action 0 must be NOOP.
        frame_skip: Frames per step, the action repeated.
        max_pool: Max over the last two frames of each step.
        screen_size: Side of the square output frame.
        grayscale: ALE grayscale (``(H, W)``) or RGB (``(H, W, 3)``) frames.
        max_episode_frames: Truncate once this many emulator frames were played since the
            reset (after the no-ops, as ALE counts); ``None`` for no cap.
        fire_reset: Press FIRE for one frame after each reset (before the no-ops, as ALE's
            ``AtariVectorEnv``) if the game has a FIRE action; ``reset`` then adds
            ``info["fired"] = True``.

    Info keys added: ``"lives"`` and ``"game_over"`` (the game really ended or was cut).

    Example:
        >>> import gymnasium as gym, ale_py
        >>> gym.register_envs(ale_py)
        >>> env = AtariFrameProcessing(gym.make("ALE/Pong-v5", frameskip=1))
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape, obs.dtype
        ((84, 84), dtype('uint8'))
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        *,
        noop_max: int = 30,
        frame_skip: int = 4,
        max_pool: bool = True,
        screen_size: int = 84,
        grayscale: bool = True,
        max_episode_frames: int | None = 108_000,
        fire_reset: bool = False,
    ) -> None:
        settings: dict[str, Any] = {
            "noop_max": noop_max,
            "frame_skip": frame_skip,
            "max_pool": max_pool,
            "screen_size": screen_size,
            "grayscale": grayscale,
            "max_episode_frames": max_episode_frames,
            "fire_reset": fire_reset,
        }
        AtariOptions(**settings)  # validates, with clear messages
        gym.utils.RecordConstructorArgs.__init__(self, **settings)
        super().__init__(env)
        ale = getattr(env.unwrapped, "ale", None)
        if ale is None:
            raise ValueError(
                f"AtariFrameProcessing needs an Atari env with `env.unwrapped.ale`, got {env!r}."
            )
        inner_skip = getattr(env.unwrapped, "_frameskip", 1)
        if inner_skip != 1 and frame_skip > 1:
            raise ValueError(
                f"The env already skips frames (frameskip={inner_skip!r}); build it with "
                "frameskip=1 (e.g. gym.make('ALE/Pong-v5', frameskip=1)) or use make_atari()."
            )
        meanings = env.unwrapped.get_action_meanings()  # type: ignore[attr-defined]
        if noop_max > 0:
            if meanings[0] != "NOOP":
                raise ValueError(
                    f"No-op reset needs action 0 to be NOOP, got {meanings[0]!r}; pass noop_max=0."
                )
        self._fire = meanings.index("FIRE") if fire_reset and "FIRE" in meanings else None
        self.noop_max = int(noop_max)
        self.frame_skip = int(frame_skip)
        self.max_pool = bool(max_pool) and frame_skip > 1
        self.screen_size = int(screen_size)
        self.grayscale = bool(grayscale)
        self.max_episode_frames = max_episode_frames
        self._ale = ale
        self._direct = _direct_ale(env)
        self._action_set = getattr(env.unwrapped, "_action_set", None)
        height, width = (int(d) for d in ale.getScreenDims())
        raw = (height, width) if grayscale else (height, width, 3)
        self._buf = np.zeros((2, *raw), dtype=np.uint8)
        self._grab = ale.getScreenGrayscale if grayscale else ale.getScreenRGB
        self._resize = (height, width) != (screen_size, screen_size)
        shape = (screen_size, screen_size) if grayscale else (screen_size, screen_size, 3)
        self.observation_space = Box(low=0, high=255, shape=shape, dtype=np.uint8)
        self._frames = 0

    def _act(self, action: int) -> tuple[float, bool, bool]:
        """Play one emulator frame; return ``(reward, terminated, truncated)``."""
        self._frames += 1
        cap = self.max_episode_frames
        if self._direct:
            ale = self._ale
            reward = float(ale.act(self._action_set[action], 1.0))  # type: ignore[index]
            terminated = bool(ale.game_over(with_truncation=False))
            truncated = bool(ale.game_truncated())
        else:
            _, r, terminated, truncated, _ = self.env.step(action)
            reward = float(r)
        if cap is not None and self._frames >= cap:
            truncated = True
        return reward, terminated, truncated

    def _obs(self) -> np.ndarray:
        frame = self._buf[0]
        if self.max_pool:
            np.maximum(frame, self._buf[1], out=frame)
        if self._resize:
            size = (self.screen_size, self.screen_size)
            return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        return frame.copy()

    def step(self, action: int) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        """Repeat ``action`` for ``frame_skip`` frames and return the processed frame."""
        total = 0.0
        terminated = truncated = False
        skip = self.frame_skip
        for t in range(skip):
            reward, terminated, truncated = self._act(action)
            total += reward
            if terminated or truncated:
                break
            if t == skip - 1:
                self._grab(self._buf[0])
            elif t == skip - 2 and self.max_pool:
                self._grab(self._buf[1])
        info = {"lives": int(self._ale.lives()), "game_over": terminated or truncated}
        return self._obs(), total, terminated, truncated, info

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset the game, play the random no-ops and return the first processed frame."""
        _, info = self.env.reset(seed=seed, options=options)
        self._frames = 0
        if self._fire is not None:
            self._act(self._fire)
        noops = int(self.np_random.integers(1, self.noop_max + 1)) if self.noop_max > 0 else 0
        for _ in range(noops):
            _, terminated, truncated = self._act(0)
            if terminated or truncated:
                _, info = self.env.reset(seed=seed, options=options)
        self._frames = 0
        self._grab(self._buf[0])
        self._buf[1].fill(0)
        info = dict(info)
        if self._fire is not None:
            info["fired"] = True
        info["lives"] = int(self._ale.lives())
        info["game_over"] = False
        return self._obs(), info


class EpisodicLife(gym.Wrapper[Any, Any, Any, Any], gym.utils.RecordConstructorArgs):
    """End the episode at each life loss for learning, but restart the game only when it ends.

    At a life loss ``step`` returns ``terminated=True``; the following ``reset()`` does not
    reset the game: it returns the last observation (no extra step) and ``info`` with
    ``"game_over": False``. Any other reset (after a game over or truncation, seeded, or
    in the middle of an episode) resets the game. Put ``RecordEpisodeStatistics`` *below*
    this wrapper to log full-game scores.

    Args:
        env: An env whose ``info`` carries ``"lives"`` (e.g. `AtariFrameProcessing`)
            or whose ``env.unwrapped.ale`` has ``lives()``.

    Example:
        >>> env = EpisodicLife(AtariFrameProcessing(gym.make("ALE/Breakout-v5", frameskip=1)))
        >>> obs, info = env.reset(seed=0)
        >>> info["lives"], info["game_over"]
        (5, False)
    """

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        super().__init__(env)
        self._lives = 0
        self._life_lost = False
        self._last_obs: Any = None
        self._last_info: dict[str, Any] = {}

    def _read_lives(self, info: Mapping[str, Any]) -> int:
        if "lives" in info:
            return int(info["lives"])
        return int(self.env.unwrapped.ale.lives())  # type: ignore[attr-defined]

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step; ``terminated`` also becomes ``True`` when a life was lost."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        game_over = bool(terminated or truncated)
        lives = self._read_lives(info)
        self._life_lost = not game_over and 0 < lives < self._lives
        if self._life_lost:
            terminated = True
        self._lives = lives
        info["game_over"] = game_over
        self._last_obs, self._last_info = obs, info
        return obs, reward, terminated, truncated, info

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Continue the game right after a life loss; any other reset resets the game."""
        if self._life_lost and seed is None and options is None:
            obs = self._last_obs
            info = {k: v for k, v in self._last_info.items() if not k.startswith(("episode", "_"))}
        else:
            obs, info = self.env.reset(seed=seed, options=options)
        self._life_lost = False
        info["game_over"] = False
        self._lives = self._read_lives(info)
        return obs, info


class FireReset(gym.Wrapper[Any, Any, Any, Any], gym.utils.RecordConstructorArgs):
    """Take one FIRE step after each reset, for games that wait for it (e.g. Breakout).

    Resets whose ``info`` says ``"fired": True`` (`AtariFrameProcessing` with
    ``fire_reset=True`` already pressed FIRE) are left alone, so on top of
    `EpisodicLife` this fires exactly after the pseudo-resets of life losses.

    Args:
        env: An Atari env with a ``"FIRE"`` action.

    Raises:
        ValueError: If the env has no FIRE action.

    Example:
        >>> env = FireReset(AtariFrameProcessing(gym.make("ALE/Breakout-v5", frameskip=1)))
        >>> obs, info = env.reset(seed=0)
    """

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        super().__init__(env)
        if not game_needs_fire(env):
            meanings = env.unwrapped.get_action_meanings()  # type: ignore[attr-defined]
            raise ValueError(f"FireReset needs a 'FIRE' action, got action meanings {meanings!r}.")
        self._fire_action = env.unwrapped.get_action_meanings().index("FIRE")  # type: ignore[attr-defined]

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset, then take the FIRE action (resetting again if that ended the episode)."""
        for _ in range(8):
            obs, info = self.env.reset(seed=seed, options=options)
            if info.get("fired", False):
                return obs, info
            obs, _, terminated, truncated, step_info = self.env.step(self._fire_action)
            if not (terminated or truncated):
                info = {**info, **step_info}
                return obs, info
            seed, options = None, None
        return self.env.reset()


class FrameStack(gym.Wrapper[np.ndarray, Any, np.ndarray, Any], gym.utils.RecordConstructorArgs):
    """Stack the last ``stack_size`` frames on a new first axis, zero-padded after reset.

    Same observations as ``gymnasium.wrappers.FrameStackObservation(env, stack_size,
    padding_type="zero")``, with one small copy per step instead of a generic
    concatenation (about 10x less overhead). Each returned array is new (safe to store).

    Args:
        env: An env with ``Box`` uint8 observations.
        stack_size: Number of frames stacked (>= 1).

    Example:
        >>> env = FrameStack(AtariFrameProcessing(gym.make("ALE/Pong-v5", frameskip=1)), 4)
        >>> obs, _ = env.reset(seed=0)
        >>> obs.shape, bool(obs[:3].any())
        ((4, 84, 84), False)
    """

    def __init__(self, env: gym.Env[Any, Any], stack_size: int) -> None:
        if isinstance(stack_size, bool) or not isinstance(stack_size, int) or stack_size < 1:
            raise ValueError(f"stack_size must be a positive int, got {stack_size!r}.")
        gym.utils.RecordConstructorArgs.__init__(self, stack_size=stack_size)
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, Box):
            raise ValueError(f"FrameStack needs a Box observation space, got {space!r}.")
        self.stack_size = stack_size
        self.observation_space = Box(
            low=np.repeat(space.low[None], stack_size, axis=0),
            high=np.repeat(space.high[None], stack_size, axis=0),
            dtype=space.dtype,
        )
        self._stack = np.zeros(self.observation_space.shape, dtype=space.dtype)

    @property
    def stack(self) -> np.ndarray:
        """The current observation: the last one `step` or `reset` returned (zeros before).

        The wrapper never writes into an observation it has returned (each step makes a
        new array), so this is that array itself, not a copy.
        """
        return self._stack

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step and push the new frame."""
        frame, reward, terminated, truncated, info = self.env.step(action)
        stack = np.empty_like(self._stack)
        stack[:-1] = self._stack[1:]
        stack[-1] = frame
        self._stack = stack
        return stack, reward, terminated, truncated, info

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset and return zeros followed by the first frame."""
        frame, info = self.env.reset(seed=seed, options=options)
        stack = np.zeros_like(self._stack)
        stack[-1] = frame
        self._stack = stack
        return stack, info


def _sign(reward: SupportsFloat) -> float:
    """Clip a reward to its sign."""
    r = float(reward)
    return 1.0 if r > 0 else (-1.0 if r < 0 else 0.0)


def wrap_atari(
    env: gym.Env[Any, Any],
    options: AtariOptions | Mapping[str, Any] | None = None,
    **overrides: Any,
) -> gym.Env[Any, Any]:
    """Apply the DQN preprocessing contract to an Atari env you built.

    The env must play one emulator frame per step (``frameskip=1``, e.g.
    ``gym.make("ALE/Pong-v5", frameskip=1)`` or ``gym.make("PongNoFrameskip-v4")``); sticky
    actions and the action set are the env's own, so ``repeat_action_probability`` and
    ``full_action_space`` must be left unset here (set them when building the env).

    Args:
        env: The Atari env (``env.unwrapped.ale`` and ``get_action_meanings`` needed).
        options: An `AtariOptions`, a dict of options, or ``None`` for defaults.
        **overrides: Single options overriding ``options`` (e.g. ``frame_skip=3``).

    Returns:
        The wrapped env: ``(frame_stack, screen_size, screen_size)`` uint8 observations.

    Raises:
        ValueError: On a bad option, or an env that skips frames itself.

    Example:
        >>> import gymnasium as gym, ale_py
        >>> gym.register_envs(ale_py)
        >>> env = wrap_atari(gym.make("ALE/Breakout-v5", frameskip=1), noop_max=10)
        >>> env.observation_space.shape
        (4, 84, 84)
    """
    opts = AtariOptions.coerce(options, **overrides)
    if opts.repeat_action_probability is not None or opts.full_action_space:
        raise ValueError(
            "wrap_atari cannot change the sticky actions or action set of a built env, got "
            f"repeat_action_probability={opts.repeat_action_probability!r}, "
            f"full_action_space={opts.full_action_space!r}; pass them to gym.make(...) "
            "or use make_atari()."
        )
    return _wrap(env, opts)


def _wrap(env: gym.Env[Any, Any], opts: AtariOptions) -> gym.Env[Any, Any]:
    env = AtariFrameProcessing(
        env,
        noop_max=opts.noop_max,
        frame_skip=opts.frame_skip,
        max_pool=opts.max_pool,
        screen_size=opts.screen_size,
        grayscale=opts.grayscale,
        max_episode_frames=opts.max_episode_frames,
        fire_reset=opts.fire_reset,
    )
    env = RecordEpisodeStatistics(env)
    if opts.episodic_life:
        env = EpisodicLife(env)
    if opts.episodic_life and opts.fire_reset and game_needs_fire(env):
        env = FireReset(env)
    if opts.clip_rewards:
        env = TransformReward(env, _sign)
    return FrameStack(env, opts.frame_stack)


def make_atari(
    env_id: str,
    options: AtariOptions | Mapping[str, Any] | None = None,
    *,
    render_mode: str | None = None,
    **overrides: Any,
) -> gym.Env[Any, Any]:
    """Build an Atari env with the DQN preprocessing contract from an id.

    ``gym.register_envs(ale_py)`` is done for you. ``ALE/<Game>-v5`` ids and plain names are
    built with ``frameskip=1`` inside (so the skip and max-pool here apply) and keep the v5
    sticky actions (0.25) unless ``repeat_action_probability`` is set; ``NoFrameskip-v4``
    ids have sticky actions off.

    Args:
        env_id: ``"ALE/Pong-v5"``, ``"PongNoFrameskip-v4"``, ``"Pong"``, ``"space_invaders"``...
        options: An `AtariOptions`, a dict of options, or ``None`` for defaults.
        render_mode: Passed to the ALE env (``"rgb_array"`` for videos).
        **overrides: Single options overriding ``options`` (e.g. ``frame_skip=3``).

    Returns:
        The wrapped env: ``(frame_stack, screen_size, screen_size)`` uint8 observations,
        ``Discrete`` actions, raw full-game scores in ``info["episode"]``.

    Raises:
        ValueError: On an unknown id (naming the closest ids) or a bad option.

    Example:
        >>> env = make_atari("ALE/Pong-v5")
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape, obs.dtype
        ((4, 84, 84), dtype('uint8'))
    """
    opts = AtariOptions.coerce(options, **overrides)
    atari_id = resolve_env_id(env_id)
    gym.register_envs(ale_py)
    rap = opts.repeat_action_probability
    if rap is None:
        rap = atari_id.default_repeat_action_probability
    kwargs: dict[str, Any] = {
        "frameskip": 1,
        "repeat_action_probability": float(rap),
        "full_action_space": opts.full_action_space,
        "obs_type": "ram",  # the screens are read from the ALE; RAM is the cheapest obs
        "max_num_frames_per_episode": 0,  # no ALE cap: AtariFrameProcessing counts frames
    }
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    env = gym.make(atari_id.env_id, **kwargs)
    return _wrap(env, opts)
