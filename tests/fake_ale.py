"""A small, deterministic, ROM-free stand-in for an ale_py Atari env (for wrapper tests)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

H, W = 168, 168  # twice 84: INTER_AREA then is a plain 2x2 mean


def frame_at(t: int) -> np.ndarray:
    """Screen shown after emulator frame ``t`` (t=0: the reset screen).

    All pixels hold ``t % 200``; odd frames also light a 20x20 block (Atari-style flicker),
    so only a max over two consecutive frames always shows it.
    """
    screen = np.full((H, W), t % 200, dtype=np.uint8)
    if t % 2 == 1:
        screen[:20, :20] = 250
    return screen


class FakeALE:
    """The part of ``ale_py.ALEInterface`` the wrappers use."""

    def __init__(self, env: FakeAtariEnv) -> None:
        self._env = env

    def lives(self) -> int:
        return self._env.lives

    def getScreenDims(self) -> tuple[int, int]:
        return (H, W)

    def getScreenGrayscale(self, out: np.ndarray | None = None) -> np.ndarray:
        screen = frame_at(self._env.t)
        if out is not None:
            out[...] = screen
            return out
        return screen

    def getScreenRGB(self, out: np.ndarray | None = None) -> np.ndarray:
        screen = np.repeat(frame_at(self._env.t)[..., None], 3, axis=2)
        screen[..., 0] //= 2
        if out is not None:
            out[...] = screen
            return out
        return screen


class FakeAtariEnv(gym.Env[np.ndarray, int]):
    """One emulator frame per step, scripted rewards, lives and game over.

    Args:
        meanings: Action meanings (``"FIRE"`` at index 1 makes fire-reset apply).
        lives: Lives at the start of a game (0: a game without lives).
        frames_per_life: A life is lost every this many frames.
        reward_every: Frame ``t`` pays ``reward_value`` when ``t % reward_every == 0``.
        game_frames: With ``lives=0``, the game ends after this many frames.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012

    def __init__(
        self,
        meanings: tuple[str, ...] = ("NOOP", "FIRE", "RIGHT", "LEFT"),
        lives: int = 3,
        frames_per_life: int = 50,
        reward_every: int = 3,
        reward_value: float = 5.0,
        game_frames: int = 1000,
    ) -> None:
        self.meanings = list(meanings)
        self.start_lives = lives
        self.frames_per_life = frames_per_life
        self.reward_every = reward_every
        self.reward_value = reward_value
        self.game_frames = game_frames
        self.action_space = gym.spaces.Discrete(len(meanings))
        self.observation_space = gym.spaces.Box(0, 255, (H, W), np.uint8)
        self.ale = FakeALE(self)
        self._frameskip = 1
        self.t = 0
        self.lives = lives
        self.resets = 0
        self.actions: list[int] = []

    def get_action_meanings(self) -> list[str]:
        return list(self.meanings)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.t = 0
        self.lives = self.start_lives
        self.resets += 1
        self.actions = []
        return frame_at(0), {"lives": self.lives}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        assert self.action_space.contains(action), action
        self.actions.append(int(action))
        self.t += 1
        reward = self.reward_value if self.t % self.reward_every == 0 else 0.0
        if self.t % 7 == 0:
            reward -= 1.0
        if self.start_lives > 0:
            if self.t % self.frames_per_life == 0:
                self.lives -= 1
            terminated = self.lives == 0
        else:
            terminated = self.t >= self.game_frames
        return frame_at(self.t), reward, terminated, False, {"lives": self.lives}
