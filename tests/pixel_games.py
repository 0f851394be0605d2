"""A tiny Catch-like pixel game for testing the CNN + frame-stack replay path on CPU.

A ball falls from a random column of a ``GRID x GRID`` board, one row per step; the agent
moves a paddle on the bottom row (0 = left, 1 = stay, 2 = right). When the ball reaches
the bottom row the episode terminates with reward +1 (caught) or -1 (missed). Frames are
84x84 uint8 grayscale (each cell a 12x12 block), so ``FrameStackObservation(4,
padding_type="zero")`` turns them into the Atari-shaped ``(4, 84, 84)`` uint8 observation.

Example:
    >>> env = make_catch(seed=0)
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape, obs.dtype
    ((4, 84, 84), dtype('uint8'))
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import FrameStackObservation, RecordEpisodeStatistics

GRID = 7
CELL = 84 // GRID


class CatchEnv(gym.Env[np.ndarray, np.int64]):
    """Catch on a 7x7 board rendered to 84x84 uint8 frames.

    Args:
        render_mode: ``"rgb_array"`` or ``None``.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, render_mode: str | None = None) -> None:
        self.observation_space = gym.spaces.Box(0, 255, (84, 84), np.uint8)
        self.action_space = gym.spaces.Discrete(3)
        self.render_mode = render_mode
        self._ball = (0, 0)
        self._paddle = GRID // 2

    def _frame(self) -> np.ndarray:
        frame = np.zeros((84, 84), dtype=np.uint8)
        row, col = self._ball
        frame[row * CELL : (row + 1) * CELL, col * CELL : (col + 1) * CELL] = 255
        frame[(GRID - 1) * CELL :, self._paddle * CELL : (self._paddle + 1) * CELL] = 128
        return frame

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._ball = (0, int(self.np_random.integers(GRID)))
        self._paddle = GRID // 2
        return self._frame(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._paddle = int(np.clip(self._paddle + int(action) - 1, 0, GRID - 1))
        row, col = self._ball
        self._ball = (row + 1, col)
        terminated = self._ball[0] == GRID - 1
        reward = 0.0
        if terminated:
            reward = 1.0 if col == self._paddle else -1.0
        return self._frame(), reward, terminated, False, {}

    def render(self) -> np.ndarray:
        return np.repeat(self._frame()[:, :, None], 3, axis=2)


def make_catch(seed: int | None = None, render_mode: str | None = None) -> gym.Env:
    """Catch with episode statistics and a zero-padded stack of 4 frames.

    Args:
        seed: Seeds the action space (the env itself is seeded by ``reset(seed=...)``).
        render_mode: Passed to :class:`CatchEnv`.

    Returns:
        The wrapped env with ``(4, 84, 84)`` uint8 observations.
    """
    env: gym.Env = CatchEnv(render_mode=render_mode)
    env = RecordEpisodeStatistics(env)
    env = FrameStackObservation(env, 4, padding_type="zero")
    if seed is not None:
        env.action_space.seed(seed)
    return env
