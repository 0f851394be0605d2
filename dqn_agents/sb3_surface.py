"""The face Stable-Baselines3 code sees on an agent: logger, env view, SB3's attribute names.

SB3's callbacks, ``evaluate_policy`` and users' SB3 habits read ``model.logger``,
``model.get_env()``, ``model.n_envs``, ``model.policy``, ``model.gamma``, call
``model.save_replay_buffer(path)``, ``model.dump_logs()``... `SB3Surface` gives
`dqn_agents.DQN` those names in one place, computed from its public state; the agent does
not inherit SB3's classes.
"""

from __future__ import annotations

import os
from collections import deque
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.utils import configure_logger

from dqn_agents.config import DQNConfig
from dqn_agents.envs import EnvAdapter, VecEnvView
from dqn_agents.memory import load_replay, new_replay, save_replay
from dqn_agents.spec import ModelSpec
from dqn_agents.stats import TrainingStats

__all__ = ["SB3Surface"]


class SB3Surface:
    """SB3's model attributes and methods, mixed into `dqn_agents.DQN`.

    The host class provides ``config``, ``spec``, ``q_net``, ``learner``, ``device``,
    ``stats``, ``replay_buffer``, ``num_timesteps``, ``exploration_rate``, ``env_adapter``,
    ``verbose`` and ``tensorboard_log``; everything here is read from those.
    """

    config: DQNConfig
    spec: ModelSpec
    q_net: Any
    learner: Any
    device: torch.device
    stats: TrainingStats
    replay_buffer: Any
    num_timesteps: int
    exploration_rate: float
    verbose: int
    tensorboard_log: str | None
    _logger: Logger | None = None
    _custom_logger = False
    _view: VecEnvView | None = None

    @property
    def env_adapter(self) -> EnvAdapter | None:  # pragma: no cover - the agent defines it
        """The training env behind its batched interface (``None`` without an env)."""
        raise NotImplementedError

    @property
    def observation_space(self) -> gym.spaces.Box:
        """The observation space the network takes."""
        return self.spec.observation_space

    @property
    def action_space(self) -> gym.spaces.Discrete:
        """The ``Discrete`` action space."""
        return gym.spaces.Discrete(self.spec.n_actions)

    @property
    def logger(self) -> Logger:
        """The SB3 ``Logger`` (stdout / CSV / TensorBoard), configured at ``learn`` start."""
        if self._logger is None:
            self._logger = configure_logger(self.verbose, self.tensorboard_log, "DQN", True)
        return self._logger

    def set_logger(self, logger: Logger) -> None:
        """Use a custom SB3 logger (e.g. ``stable_baselines3.common.logger.configure``).

        Args:
            logger: The logger; ``learn`` will not replace it.
        """
        self._logger = logger
        self._custom_logger = True

    def start_logging(self, tb_log_name: str, reset_num_timesteps: bool) -> None:
        """Configure SB3's logger for a ``learn`` call, unless the user set one.

        Args:
            tb_log_name: TensorBoard run name.
            reset_num_timesteps: A new run (a new TensorBoard folder) or a continued one.
        """
        if not self._custom_logger:
            self._logger = configure_logger(
                self.verbose, self.tensorboard_log, tb_log_name, reset_num_timesteps
            )

    @property
    def start_time(self) -> int:
        """When the current ``learn`` call started (``time.time_ns()``, as SB3)."""
        return self.stats.start_time_ns

    def dump_logs(self) -> None:
        """Write SB3's log table: raw episode scores, loss, epsilon, fps, average max-Q."""
        learner = self.learner
        self.stats.dump(
            self.logger,
            num_timesteps=self.num_timesteps,
            exploration_rate=self.exploration_rate,
            loss=learner.pop_mean_loss(),
            n_updates=learner.n_updates,
            learning_rate=self.config.learning_rate,
            avg_max_q=self.stats.average_max_q(self.q_net, self.device)
            if learner.n_updates > 0
            else None,
        )

    def get_env(self) -> VecEnvView | None:
        """The training env as an SB3 ``VecEnv`` view (``None`` without an env).

        Returns:
            A `dqn_agents.envs.VecEnvView` with ``num_envs``, the spaces, ``get_attr``...
        """
        adapter = self.env_adapter
        if adapter is None:
            return None
        if self._view is None or self._view.adapter is not adapter:
            self._view = VecEnvView(adapter)
        return self._view

    @property
    def env(self) -> VecEnvView | None:
        """The training env as SB3 sees it (``model.env``; same as `get_env`)."""
        return self.get_env()

    def get_vec_normalize_env(self) -> None:
        """SB3 API: there is never a ``VecNormalize`` wrapper (returns ``None``)."""
        return None

    @property
    def n_envs(self) -> int:
        """Number of parallel training envs (SB3 name)."""
        adapter = self.env_adapter
        return adapter.num_envs if adapter is not None else self.config.num_envs

    @property
    def policy(self) -> Any:
        """The online Q-network (alias of ``q_net``, for SB3-style code)."""
        return self.q_net

    @property
    def gamma(self) -> float:
        """The discount factor (``config.gamma``; SB3's attribute)."""
        return self.config.gamma

    @property
    def learning_rate(self) -> float:
        """The learning rate (``config.learning_rate``; SB3's attribute)."""
        return self.config.learning_rate

    @property
    def batch_size(self) -> int:
        """The minibatch size (``config.batch_size``; SB3's attribute)."""
        return self.config.batch_size

    @property
    def ep_info_buffer(self) -> deque[dict[str, float]]:
        """The last 100 finished episodes: raw score ``r``, length ``l``, time ``t`` (SB3)."""
        return self.stats.ep_info_buffer

    def save_replay_buffer(self, path: str | os.PathLike[str]) -> Path:
        """Save the replay memory as a NumPy ``.npz`` (no pickle), atomically.

        Args:
            path: Destination file (a ``.pkl`` name, as SB3 asks for, is written as ``.npz``).

        Returns:
            The path written.

        Raises:
            RuntimeError: There is no replay memory yet (call ``learn`` first).
        """
        return save_replay(self.replay_buffer, path)

    def load_replay_buffer(self, path: str | os.PathLike[str]) -> None:
        """Load a replay memory written by `save_replay_buffer` (no pickle).

        Args:
            path: The file (a ``.pkl`` name finds the ``.npz`` written for it).
        """
        if self.replay_buffer is None:
            self.replay_buffer = new_replay(self.spec, self.config, self.n_envs)
        load_replay(self.replay_buffer, path)
