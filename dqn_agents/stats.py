"""Training statistics and the log table: finished games, average max-Q, SB3's logger.

`TrainingStats` keeps the last finished episodes (raw game scores from
``info["episode"]``), the fixed states of the papers' average-max-Q curve (collected during
the random warm-up), when the current ``learn`` call started (for fps) and writes SB3's log
table.

Example:
    >>> import numpy as np
    >>> stats = TrainingStats(qmax_states=0)
    >>> stats.record_episodes([{"episode": {"r": 3.0, "l": 10, "t": 0.1}}], np.array([True]))
    1
    >>> stats.episode_num, stats.ep_info_buffer[-1]["r"]
    (1, 3.0)
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.utils import safe_mean

__all__ = ["TrainingStats"]


class TrainingStats:
    """Finished episodes and the average-max-Q probe of one agent.

    Args:
        qmax_states: How many fixed states the average-max-Q curve uses (0: none).

    Attributes:
        ep_info_buffer: The last 100 finished episodes (``r``, ``l``, ``t``), SB3's buffer.
        episode_num: Episodes finished in the current count.
        start_time_ns: When the current ``learn`` call started (``time.time_ns()``).
        steps_at_start: Agent steps taken before it.
    """

    def __init__(self, qmax_states: int) -> None:
        self.ep_info_buffer: deque[dict[str, float]] = deque(maxlen=100)
        self.episode_num = 0
        self.qmax_capacity = int(qmax_states)
        self.qmax_states: np.ndarray | None = None
        self.qmax_filled = 0
        self.start_time_ns = time.time_ns()
        self.steps_at_start = 0

    def start(self, num_timesteps: int, *, reset: bool) -> None:
        """Note the start of a ``learn`` call.

        Args:
            num_timesteps: Agent steps taken so far.
            reset: A new count: forget the finished episodes.
        """
        if reset:
            self.episode_num = 0
            self.ep_info_buffer.clear()
        self.start_time_ns = time.time_ns()
        self.steps_at_start = int(num_timesteps)

    def record_episodes(self, infos: Sequence[dict[str, Any]], dones: np.ndarray) -> int:
        """Record the episodes that ended at this step.

        Args:
            infos: One info dict per env.
            dones: Which envs ended an episode.

        Returns:
            How many episodes were recorded (ends without ``info["episode"]``, such as
            lives lost under episodic life, do not count).
        """
        recorded = 0
        for i in np.flatnonzero(dones):
            episode = infos[int(i)].get("episode")
            if episode is None:
                continue
            self.ep_info_buffer.append(
                {"r": float(episode["r"]), "l": float(episode["l"]), "t": float(episode["t"])}
            )
            self.episode_num += 1
            recorded += 1
        return recorded

    def wants_state(self) -> bool:
        """Whether the average-max-Q probe still collects states."""
        return self.qmax_filled < self.qmax_capacity

    def add_state(self, obs: np.ndarray) -> None:
        """Keep one observation as a fixed state of the average-max-Q curve.

        Args:
            obs: One observation.
        """
        if self.qmax_states is None:
            self.qmax_states = np.zeros((self.qmax_capacity, *obs.shape), obs.dtype)
        self.qmax_states[self.qmax_filled] = obs
        self.qmax_filled += 1

    @torch.no_grad()
    def average_max_q(self, q_net: torch.nn.Module, device: torch.device) -> float | None:
        """The papers' learning-curve metric: mean of ``max_a Q(s, a)`` over the fixed states.

        Args:
            q_net: The online network.
            device: Its device.

        Returns:
            The average, or ``None`` before any state was collected.
        """
        if self.qmax_states is None or self.qmax_filled == 0:
            return None
        states = torch.as_tensor(self.qmax_states[: self.qmax_filled], device=device)
        return float(q_net(states).max(dim=1).values.mean().item())

    def dump(
        self,
        logger: Logger,
        *,
        num_timesteps: int,
        exploration_rate: float,
        loss: float | None,
        n_updates: int,
        learning_rate: float,
        avg_max_q: float | None,
    ) -> None:
        """Write SB3's log table: raw episode scores, loss, epsilon, fps, average max-Q.

        Args:
            logger: SB3's logger.
            num_timesteps: Agent steps so far.
            exploration_rate: The current epsilon.
            loss: Mean TD loss since the last table (``None``: no update).
            n_updates: Gradient updates so far.
            learning_rate: The optimizer's learning rate.
            avg_max_q: `average_max_q`, when known.
        """
        elapsed = max((time.time_ns() - self.start_time_ns) / 1e9, sys.float_info.epsilon)
        logger.record("time/episodes", self.episode_num, exclude="tensorboard")
        if self.ep_info_buffer:
            logger.record("rollout/ep_rew_mean", safe_mean([e["r"] for e in self.ep_info_buffer]))
            logger.record("rollout/ep_len_mean", safe_mean([e["l"] for e in self.ep_info_buffer]))
        logger.record("rollout/exploration_rate", exploration_rate)
        logger.record("time/fps", int((num_timesteps - self.steps_at_start) / elapsed))
        logger.record("time/time_elapsed", int(elapsed), exclude="tensorboard")
        logger.record("time/total_timesteps", num_timesteps, exclude="tensorboard")
        if loss is not None:
            logger.record("train/loss", loss)
        logger.record("train/n_updates", n_updates, exclude="tensorboard")
        logger.record("train/learning_rate", learning_rate)
        if avg_max_q is not None:
            logger.record("train/avg_max_q", avg_max_q)
        logger.dump(step=num_timesteps)
