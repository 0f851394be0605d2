"""The DQN Atari contract for PettingZoo's multi-agent Atari games (parallel API).

`make_pettingzoo_atari` builds e.g. ``pong_v3`` or ``boxing_v2`` with the ROMs that
ship with ``ale-py`` (no AutoROM needed) and wraps it in `AtariParallelWrapper`,
which applies per agent: no-op reset, frame skip with max-pool over the last two frames,
ALE grayscale, ``cv2.INTER_AREA`` resize, reward clipping to the sign, a zero-padded
channel-first frame stack -- every agent sees ``(4, 84, 84)`` uint8 frames -- and the
episode cap in frames. When the game ends, each agent's ``info["episode"]`` holds its
raw, unclipped score ``"r"`` and length ``"l"`` (agent steps).

Episodic life and fire reset are single-player notions and are not applied here
(passing ``episodic_life=True`` or ``fire_reset=True`` raises). Sticky actions default
to 0, PettingZoo's own default.

Needs the ``pettingzoo`` extra: ``pip install "dqn-agents[pettingzoo]"``.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import warnings
from collections.abc import Mapping
from typing import Any

import ale_py
import cv2
import numpy as np
from gymnasium.spaces import Box, Space

from dqn_agents.wrappers.atari import AtariOptions

try:
    import pettingzoo.atari
    from pettingzoo import ParallelEnv
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "dqn_agents.wrappers.pettingzoo needs PettingZoo's Atari games: "
        'pip install "dqn-agents[pettingzoo]" (pettingzoo, multi-agent-ale-py, pygame).'
    ) from exc

__all__ = ["AtariParallelWrapper", "list_pettingzoo_atari", "make_pettingzoo_atari"]


def list_pettingzoo_atari() -> list[str]:
    """List PettingZoo's Atari env names (``"pong_v3"``, ``"boxing_v2"``, ...).

    Example:
        >>> "pong_v3" in list_pettingzoo_atari()
        True
    """
    return sorted(
        m.name
        for m in pkgutil.iter_modules(pettingzoo.atari.__path__)
        if m.name not in ("all_modules", "base_atari_env")
    )


def _options(options: AtariOptions | Mapping[str, Any] | None, overrides: Any) -> AtariOptions:
    given = options.to_dict() if isinstance(options, AtariOptions) else dict(options or {})
    # Multi-agent defaults: no life-loss episodes, no FIRE on reset.
    opts = AtariOptions.coerce({"episodic_life": False, "fire_reset": False, **given}, **overrides)
    if opts.episodic_life or opts.fire_reset:
        raise ValueError(
            "Multi-agent Atari does not support episodic_life or fire_reset, got "
            f"episodic_life={opts.episodic_life!r}, fire_reset={opts.fire_reset!r}; "
            "pass episodic_life=False, fire_reset=False."
        )
    return opts


class AtariParallelWrapper(ParallelEnv):
    """Apply the DQN frame contract per agent to a PettingZoo Atari ``ParallelEnv``.

    Args:
        env: A PettingZoo Atari parallel env (``pong_v3.parallel_env(...)``), any
            ``obs_type``; screens are read from its ALE.
        options: An `AtariOptions`, a dict, or ``None``; ``episodic_life`` and
            ``fire_reset`` must be off (they default to off here).
        **overrides: Single options overriding ``options``.

    Example:
        >>> import os, ale_py
        >>> from pettingzoo.atari import pong_v3
        >>> roms = os.path.dirname(ale_py.roms.get_rom_path("pong"))
        >>> env = AtariParallelWrapper(pong_v3.parallel_env(auto_rom_install_path=roms))
        >>> obs, infos = env.reset(seed=0)
        >>> obs["first_0"].shape
        (4, 84, 84)
    """

    def __init__(
        self,
        env: Any,
        options: AtariOptions | Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> None:
        opts = _options(options, overrides)
        if opts.repeat_action_probability not in (None, 0.0):
            raise ValueError(
                "AtariParallelWrapper cannot change sticky actions of a built env, got "
                f"repeat_action_probability={opts.repeat_action_probability!r}; use "
                "make_pettingzoo_atari()."
            )
        self.env = env
        self.options = opts
        self._ale = env.unwrapped.ale
        self.possible_agents = list(env.possible_agents)
        self.agents: list[str] = []
        self.metadata = dict(getattr(env, "metadata", {}))
        self.render_mode = getattr(env, "render_mode", None)
        width, height = (int(d) for d in self._ale.getScreenDims())
        if opts.grayscale:
            self._raw_shape: tuple[int, ...] = (height, width)
            frame: tuple[int, ...] = (opts.screen_size, opts.screen_size)
        else:
            self._raw_shape = (height, width, 3)
            frame = (opts.screen_size, opts.screen_size, 3)
        self._buf = np.zeros((2, *self._raw_shape), dtype=np.uint8)
        self._obs_space = Box(0, 255, (opts.frame_stack, *frame), dtype=np.uint8)
        self._stack = np.zeros(self._obs_space.shape, dtype=np.uint8)
        self._returns: dict[str, float] = {}
        self._lengths = 0
        self._frames = 0
        self._rng = np.random.default_rng()

    def observation_space(self, agent: str) -> Space[Any]:
        """The ``(frame_stack, screen_size, screen_size)`` uint8 space of every agent."""
        return self._obs_space

    def action_space(self, agent: str) -> Space[Any]:
        """The agent's action space (unchanged)."""
        return self.env.action_space(agent)

    def _grab(self, out: np.ndarray) -> None:
        screen = (
            self._ale.getScreenGrayscale() if self.options.grayscale else self._ale.getScreenRGB()
        )
        out[...] = screen.reshape(self._raw_shape)

    def _push_frame(self) -> dict[str, np.ndarray]:
        frame = self._buf[0]
        if self.options.max_pool and self.options.frame_skip > 1:
            np.maximum(frame, self._buf[1], out=frame)
        size = (self.options.screen_size, self.options.screen_size)
        if frame.shape[:2] != size:
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        self._stack[:-1] = self._stack[1:]
        self._stack[-1] = frame
        return {agent: self._stack.copy() for agent in self.agents}

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        """Reset the game, play the random no-ops and return each agent's first stack."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        _, infos = self.env.reset(seed=seed, options=options)
        noop_max = self.options.noop_max
        noops = int(self._rng.integers(1, noop_max + 1)) if noop_max > 0 else 0
        for _ in range(noops):
            _, _, terms, truncs, _ = self.env.step(dict.fromkeys(self.env.agents, 0))
            if not self.env.agents or any(terms.values()) or any(truncs.values()):
                _, infos = self.env.reset(options=options)
        self.agents = list(self.env.agents)
        self._frames = 0
        self._lengths = 0
        self._returns = dict.fromkeys(self.agents, 0.0)
        self._grab(self._buf[0])
        self._buf[1].fill(0)
        self._stack.fill(0)
        return self._push_frame(), {a: dict(infos.get(a, {})) for a in self.agents}

    def step(
        self, actions: Mapping[str, Any]
    ) -> tuple[
        dict[str, np.ndarray],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        """Repeat the joint action ``frame_skip`` frames; return per-agent results."""
        agents = list(self.agents)
        totals = dict.fromkeys(agents, 0.0)
        terms = dict.fromkeys(agents, False)
        truncs = dict.fromkeys(agents, False)
        infos: dict[str, dict[str, Any]] = {a: {} for a in agents}
        skip = self.options.frame_skip
        cap = self.options.max_episode_frames
        for t in range(skip):
            _, rewards, f_terms, f_truncs, f_infos = self.env.step(
                {a: actions[a] for a in self.env.agents if a in actions}
            )
            self._frames += 1
            for a, r in rewards.items():
                totals[a] = totals.get(a, 0.0) + float(r)
            terms.update({a: bool(v) for a, v in f_terms.items()})
            truncs.update({a: bool(v) for a, v in f_truncs.items()})
            for a, info in f_infos.items():
                infos.setdefault(a, {}).update(info)
            if cap is not None and self._frames >= cap:
                truncs = dict.fromkeys(agents, True)
            if any(terms.values()) or any(truncs.values()) or not self.env.agents:
                break
            if t == skip - 1:
                self._grab(self._buf[0])
            elif t == skip - 2:
                self._grab(self._buf[1])
        self._lengths += 1
        for a in agents:
            self._returns[a] = self._returns.get(a, 0.0) + totals[a]
        obs = {a: o for a, o in self._push_frame_for(agents).items()}
        done = {a for a in agents if terms[a] or truncs[a]}
        lives = int(self._ale.lives())
        for a in agents:  # the same keys as the single-agent wrappers, at every step
            infos[a]["lives"] = lives
            infos[a]["game_over"] = terms[a]
        for a in done:
            infos[a]["episode"] = {"r": self._returns[a], "l": self._lengths}
        self.agents = [a for a in agents if a not in done]
        if self.options.clip_rewards:
            out_rewards = {a: float(np.sign(r)) for a, r in totals.items()}
        else:
            out_rewards = totals
        return obs, out_rewards, terms, truncs, infos

    def _push_frame_for(self, agents: list[str]) -> dict[str, np.ndarray]:
        current, self.agents = self.agents, agents
        try:
            return self._push_frame()
        finally:
            self.agents = current

    def render(self) -> Any:
        """Render with the wrapped env."""
        return self.env.render()

    def close(self) -> None:
        """Close the wrapped env."""
        self.env.close()

    @property
    def unwrapped(self) -> Any:
        """The PettingZoo env underneath."""
        return self.env.unwrapped


def make_pettingzoo_atari(
    env_id: str,
    options: AtariOptions | Mapping[str, Any] | None = None,
    *,
    render_mode: str | None = None,
    **overrides: Any,
) -> AtariParallelWrapper:
    """Build a PettingZoo multi-agent Atari game with the DQN contract per agent.

    The ROMs bundled with ``ale-py`` are used (``auto_rom_install_path`` is set for you).

    Args:
        env_id: A PettingZoo Atari name such as ``"pong_v3"`` or ``"boxing_v2"``.
        options: An `AtariOptions`, a dict, or ``None``; ``episodic_life`` and
            ``fire_reset`` default to (and must stay) off; ``repeat_action_probability``
            ``None`` means 0 (PettingZoo's default).
        render_mode: Passed to the PettingZoo env.
        **overrides: Single options overriding ``options``.

    Returns:
        The wrapped parallel env; each agent observes ``(4, 84, 84)`` uint8 stacks.

    Raises:
        ValueError: On an unknown name (listing the valid ones) or a bad option.

    Example:
        >>> env = make_pettingzoo_atari("boxing_v2")
        >>> obs, infos = env.reset(seed=0)
        >>> sorted(obs), obs["first_0"].shape
        (['first_0', 'second_0'], (4, 84, 84))
    """
    opts = _options(options, overrides)
    names = list_pettingzoo_atari()
    if env_id not in names:
        import difflib

        close = difflib.get_close_matches(str(env_id), names, n=3, cutoff=0.4)
        hint = f" Closest: {', '.join(close)}." if close else ""
        raise ValueError(
            f"Unknown PettingZoo Atari env {env_id!r}.{hint} Valid: {', '.join(names)}."
        )
    with warnings.catch_warnings():
        # PettingZoo warns on every env-module import about a future registry API.
        warnings.filterwarnings("ignore", message=".*old environment creation API.*")
        module = importlib.import_module(f"pettingzoo.atari.{env_id}")
    rom_path = ale_py.roms.get_rom_path("pong")
    assert rom_path is not None
    env = module.parallel_env(
        obs_type="ram",
        full_action_space=opts.full_action_space,
        max_cycles=opts.max_episode_frames or 2**62,
        render_mode=render_mode,
        auto_rom_install_path=os.path.dirname(rom_path),
    )
    rap = opts.repeat_action_probability or 0.0
    if rap > 0.0:
        base = env.unwrapped
        base.ale.setFloat(b"repeat_action_probability", float(rap))
        base.ale.loadROM(base.rom_path)
        base.ale.setMode(base.mode)
    return AtariParallelWrapper(env, opts.to_dict() | {"repeat_action_probability": None})
