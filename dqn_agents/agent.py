"""`DQN`: the agent of Mnih et al. (2013, 2015) for Gymnasium envs.

The agent owns the Q-network, its target copy, the optimizer and the replay memory, and
drives the env through one batched interface (`dqn_agents.envs.EnvAdapter`). Its
`DQN.learn` loop is one function that reads top to bottom in the paper's order:
act epsilon-greedily, step the env, store the transition, learn from a sampled minibatch,
sync the target network. Stable-Baselines3 callbacks, logger and ``evaluate_policy`` work
with it unchanged (see `dqn_agents.callbacks`), but it does not inherit from SB3.

Exploration in `DQN.predict`: ``deterministic=False`` acts epsilon-greedily with the
agent's current ``exploration_rate`` (SB3's convention): the epsilon of the last training
step, ``exploration_final_eps`` for a model loaded from the Hub layout.

Resuming. A zip written by `DQN.save` holds, besides the weights, the optimizer state,
the target network, the counters, the RNG states (torch, numpy, python ``random``) and
the in-flight last observation. ``DQN.load(path, env=env)`` followed by
``learn(n, reset_num_timesteps=False)`` continues exactly where the saved run stopped
when ``env`` is the *same live env* the run was using (an env's emulator state cannot be
written to a file). A fresh env that has never been reset is reset instead (or pass
``force_reset=True``); training then continues from a new episode. For bit-exact resumes
also save/load the replay memory (`DQN.save_replay_buffer`) and use an absolute
exploration schedule (``exploration_steps``): with ``exploration_fraction`` the schedule is
relative to the ``total_timesteps`` of each ``learn`` call, as in SB3.

Example:
    >>> from dqn_agents import DQN
    >>> agent = DQN("CartPole-v1", learning_starts=100, buffer_size=1_000, seed=0)
    >>> agent = agent.learn(200)
    >>> agent.num_timesteps
    200
    >>> action, _ = agent.predict(agent.observation_space.sample(), deterministic=True)
    >>> action.shape
    ()
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import signal
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import VectorEnv
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.utils import configure_logger, safe_mean

from dqn_agents import serialization as ser
from dqn_agents.callbacks import MaybeCallback, init_callback, new_locals
from dqn_agents.config import PRESETS, DQNConfig
from dqn_agents.envs import BuiltEnv, EnvAdapter, VecEnvView, env_id_of, make_env
from dqn_agents.functional import epsilon_at, make_optimizer, soft_update_
from dqn_agents.learner import Learner, cnn_cpu_threads
from dqn_agents.networks import QNetwork, build_q_network, describe_network, is_image_space

if TYPE_CHECKING:  # pragma: no cover
    from dqn_agents.evaluation import EvalResult

__all__ = ["DQN", "NonFiniteLossError"]


class NonFiniteLossError(FloatingPointError):
    """The TD loss became NaN or infinite; training stopped (the message names the step)."""


def _resolve_device(device: str | torch.device) -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"Unknown device {device!r}; use 'auto', 'cpu', 'cuda' or 'cuda:N'."
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} but CUDA is not available here (torch {torch.__version__}, "
            f"{'built without CUDA' if torch.version.cuda is None else 'no GPU visible'}); "
            "use device='cpu' or 'auto'."
        )
    return resolved


def _resolve_config(config: DQNConfig | str | None, hyperparameters: dict[str, Any]) -> DQNConfig:
    if config is None:
        base = DQNConfig()
    elif isinstance(config, str):
        if config not in PRESETS:
            raise ValueError(
                f"Unknown preset {config!r}; choose one of {sorted(PRESETS)} or pass a DQNConfig."
            )
        base = PRESETS[config]
    elif isinstance(config, DQNConfig):
        base = config
    else:
        raise TypeError(
            f"config must be a DQNConfig, a preset name or None, got {type(config).__name__}."
        )
    return base.replace(**hyperparameters) if hyperparameters else base


def _space_summary(space: gym.Space[Any]) -> dict[str, Any]:
    if not isinstance(space, gym.spaces.Box):
        raise ValueError(f"Only Box observation spaces are supported, got {space!r}.")
    out: dict[str, Any] = {"shape": list(space.shape), "dtype": str(space.dtype)}
    if space.low.size <= 64:
        out["low"], out["high"] = ser.jsonable(space.low), ser.jsonable(space.high)
    else:
        out["low"], out["high"] = ser.jsonable(space.low.min()), ser.jsonable(space.high.max())
    return out


def _space_from_summary(summary: dict[str, Any]) -> gym.spaces.Box:
    dtype = np.dtype(summary["dtype"])
    shape = tuple(int(s) for s in summary["shape"])
    low = np.broadcast_to(np.asarray(summary.get("low", -np.inf), dtype=np.float64), shape)
    high = np.broadcast_to(np.asarray(summary.get("high", np.inf), dtype=np.float64), shape)
    return gym.spaces.Box(low.astype(dtype), high.astype(dtype), shape, dtype)


def _check_observation_space(space: gym.Space[Any]) -> None:
    if not isinstance(space, gym.spaces.Box):
        raise ValueError(
            f"DQN needs a Box observation space (an image stack or a vector), got {space!r}. "
            f"Flatten Dict/Tuple observations (gymnasium.wrappers.FlattenObservation) or "
            f"one-hot encode Discrete ones."
        )
    shape = space.shape
    if space.dtype == np.uint8 and len(shape) == 3 and not is_image_space(shape, space.dtype):
        raise ValueError(
            f"Image observations must be channel-first stacks (C, H, W) with C < H, W; got "
            f"shape {shape}. Use dqn_agents.wrappers.make_atari / wrap_atari, or a "
            f"channel-first transform (e.g. gymnasium.wrappers.FrameStackObservation over "
            f"grayscale frames)."
        )


class DQN:
    """Deep Q-Network agent (Mnih et al. 2013, 2015) with SB3-compatible ergonomics.

    Args:
        env: An env id (Atari ids get the DQN wrappers and the Nature CNN; other ids use
            ``gym.make``), a ``gym.Env`` or a Gymnasium ``VectorEnv``.
        config: A `DQNConfig`, a preset name (``"default"``, ``"cleanrl"``,
            ``"nature2015"``, ``"mnih2013"``) or ``None`` (the default preset).
        wrapper_options: ``AtariOptions`` overrides for Atari ids, e.g.
            ``{"repeat_action_probability": 0.0}``.
        num_envs: Number of parallel envs for an id (overrides ``config.num_envs``); acting
            is batched and the replay ratio (updates per env step) is kept.
        seed: Seeds the network initialisation, exploration, replay sampling and the
            first env reset.
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``...
        tensorboard_log: Folder for TensorBoard logs (SB3's ``configure_logger``).
        verbose: 0 silent, 1 prints the SB3 log table.
        torch_threads: Torch CPU threads while learning (default: 1 for MLPs; for CNNs the
            cores idle when `learn` starts, at most 8; restored after `learn`).
        **hyperparameters: `DQNConfig` fields overriding ``config``; an unknown name raises
            a ``ValueError`` naming the closest valid ones.

    Raises:
        ValueError: Unknown hyperparameter, a non-Discrete action space, observations the
            network cannot take.

    Example:
        >>> agent = DQN("CartPole-v1", learning_rate=1e-3, mlp_hidden_sizes=(32, 32))
        >>> agent.config.learning_rate, type(agent.q_net).__name__
        (0.001, 'QNetwork')
        >>> DQN("CartPole-v1", learnig_rate=1e-3)
        Traceback (most recent call last):
        ...
        dqn_agents.config.ConfigKeyError: Unknown DQNConfig field 'learnig_rate'. ...
    """

    def __init__(
        self,
        env: str | gym.Env[Any, Any] | VectorEnv,
        config: DQNConfig | str | None = None,
        *,
        wrapper_options: dict[str, Any] | None = None,
        num_envs: int | None = None,
        seed: int | None = None,
        device: str | torch.device = "auto",
        tensorboard_log: str | None = None,
        verbose: int = 0,
        torch_threads: int | None = None,
        **hyperparameters: Any,
    ) -> None:
        if num_envs is not None:
            hyperparameters["num_envs"] = int(num_envs)
        cfg = _resolve_config(config, hyperparameters)
        if isinstance(env, VectorEnv) and cfg.num_envs != env.num_envs:
            cfg = cfg.replace(num_envs=int(env.num_envs))
        if env is None:
            raise ValueError(
                "DQN(env=None) has no spaces to build a network for; pass an env (id, gym.Env "
                "or VectorEnv), or use DQN.load(path) for a saved model without an env."
            )
        built = make_env(env, cfg.num_envs, wrapper_options)
        self._init_common(
            cfg,
            built.adapter.observation_space,
            built.adapter.action_space,
            env_id=built.env_id,
            wrapper_options=built.wrapper_options,
            seed=seed,
            device=device,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
        )
        self.torch_threads: int | None = torch_threads
        self._attach(built.adapter)

    # ------------------------------------------------------------------ construction
    def _init_common(
        self,
        config: DQNConfig,
        observation_space: gym.Space[Any],
        action_space: gym.Space[Any],
        *,
        env_id: str | None,
        wrapper_options: dict[str, Any] | None,
        seed: int | None,
        device: str | torch.device,
        tensorboard_log: str | None,
        verbose: int,
    ) -> None:
        _check_observation_space(observation_space)
        if not isinstance(action_space, gym.spaces.Discrete):
            raise ValueError(f"DQN needs a Discrete action space, got {action_space!r}.")
        self.config = config
        self.observation_space: gym.spaces.Box = observation_space  # type: ignore[assignment]
        self.action_space: gym.spaces.Discrete = action_space
        self.n_actions = int(action_space.n)
        self.env_id = env_id
        self.wrapper_options = wrapper_options
        self.seed = seed
        self.device = _resolve_device(device)
        self.tensorboard_log = tensorboard_log
        self.verbose = verbose
        if not hasattr(self, "torch_threads"):
            self.torch_threads = None
        if seed is not None:
            random.seed(seed)
            torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self._predict_rng = np.random.default_rng(None if seed is None else seed + 1)
        try:
            self.q_net: QNetwork = build_q_network(observation_space, self.n_actions, config)
        except ValueError as exc:
            raise ValueError(
                f"The observations {observation_space} do not fit network={config.network!r}: {exc}"
            ) from exc
        self.q_net.to(self.device)
        self.q_net_target: QNetwork | None = None
        if config.use_target_network:
            self.q_net_target = build_q_network(observation_space, self.n_actions, config)
            self.q_net_target.load_state_dict(self.q_net.state_dict())
            self.q_net_target.to(self.device).requires_grad_(False)
        self.optimizer = make_optimizer(self.q_net.parameters(), config)
        # counters and bookkeeping
        self.num_timesteps = 0
        self._n_updates = 0
        self._updates_offset = 0
        self._episode_num = 0
        self._total_timesteps = 0
        self._num_timesteps_at_start = 0
        self.exploration_rate = config.exploration_final_eps
        self.ep_info_buffer: deque[dict[str, float]] = deque(maxlen=100)
        self._last_obs: np.ndarray | None = None
        self._pending_autoreset: np.ndarray | None = None
        self._loss_sum = 0.0
        self._loss_count = 0
        self._batch: tuple[Any, tuple[torch.Tensor, ...]] | None = None
        self._learner: Learner | None = None
        self._qmax_states: np.ndarray | None = None
        self._qmax_filled = 0
        self.start_time = time.time_ns()
        self.replay_buffer: Any = None
        self._logger: Logger | None = None
        self._custom_logger = False
        self._adapter: EnvAdapter | None = None
        self._env_view: VecEnvView | None = None

    def _attach(self, adapter: EnvAdapter) -> None:
        if adapter.num_envs != self.config.num_envs:
            self.config = self.config.replace(num_envs=adapter.num_envs)
        self._adapter = adapter
        self._env_view = None

    # ------------------------------------------------------------------ SB3 surface
    @property
    def logger(self) -> Logger:
        """The SB3 ``Logger`` (stdout / CSV / TensorBoard), configured at `learn` start."""
        if self._logger is None:
            self._logger = configure_logger(self.verbose, self.tensorboard_log, "DQN", True)
        return self._logger

    def set_logger(self, logger: Logger) -> None:
        """Use a custom SB3 logger (e.g. ``stable_baselines3.common.logger.configure``).

        Args:
            logger: The logger; `learn` will not replace it.
        """
        self._logger = logger
        self._custom_logger = True

    def get_env(self) -> VecEnvView | None:
        """The training env as an SB3 ``VecEnv`` view (``None`` without an env).

        Returns:
            A `dqn_agents.envs.VecEnvView` with ``num_envs``, the spaces, ``get_attr``...
        """
        if self._adapter is None:
            return None
        if self._env_view is None:
            self._env_view = VecEnvView(self._adapter)
        return self._env_view

    def get_vec_normalize_env(self) -> None:
        """SB3 API: there is never a ``VecNormalize`` wrapper (returns ``None``)."""
        return None

    @property
    def n_envs(self) -> int:
        """Number of parallel training envs (SB3 name)."""
        return self._adapter.num_envs if self._adapter is not None else self.config.num_envs

    @property
    def policy(self) -> QNetwork:
        """The online Q-network (alias of ``q_net``, for SB3-style code)."""
        return self.q_net

    def set_env(self, env: str | gym.Env[Any, Any] | VectorEnv, force_reset: bool = True) -> None:
        """Replace the training env (validated against the model's spaces and env id).

        Args:
            env: An env id, ``gym.Env`` or ``VectorEnv``.
            force_reset: Start from a fresh episode on the next `learn` (else continue
                from the in-flight observation when the env is live).

        Raises:
            ValueError: The env does not fit the model (id, spaces).
        """
        num_envs = _env_count(env, self.config.num_envs)
        replay = self.replay_buffer
        if replay is not None and replay.num_envs != num_envs:
            raise ValueError(
                f"set_env got {num_envs} env(s), but this agent's replay memory holds "
                f"{replay.num_envs} env streams. Pass {replay.num_envs} envs (an id builds "
                f"them: num_envs={replay.num_envs}), or drop the stored transitions first "
                "with agent.replay_buffer = None."
            )
        built = make_env(env, num_envs, self.wrapper_options if isinstance(env, str) else None)
        self._check_env_fits(built, source="this model")
        self._attach(built.adapter)
        if force_reset:
            self._last_obs = None

    def _check_env_fits(self, built: BuiltEnv, source: str) -> None:
        adapter = built.adapter
        model_id, env_id = self.env_id, built.env_id
        if model_id is not None and env_id is not None and not _same_env(model_id, env_id):
            raise ValueError(
                f"{source} was trained on {model_id!r} but the env is {env_id!r}; pass an "
                f"{model_id!r} env (or no env: DQN.load(path) builds it from the id)."
            )
        obs_space = adapter.observation_space
        if (
            tuple(obs_space.shape or ()) != tuple(self.observation_space.shape)
            or obs_space.dtype != self.observation_space.dtype
        ):
            raise ValueError(
                f"{source} expects observations of shape {self.observation_space.shape} "
                f"{self.observation_space.dtype}, the env gives {obs_space.shape} "
                f"{obs_space.dtype}."
            )
        if int(adapter.action_space.n) != self.n_actions:  # type: ignore[attr-defined]
            raise ValueError(
                f"{source} has {self.n_actions} actions, the env has "
                f"{adapter.action_space}; pick the same game / action set "
                f"(full_action_space) as in training."
            )

    # ------------------------------------------------------------------ acting
    def _greedy(self, obs: np.ndarray) -> np.ndarray:
        # inference_mode: no autograd bookkeeping at all (cheaper than no_grad at batch 1).
        with torch.inference_mode():
            tensor = torch.as_tensor(obs, device=self.device)
            return self.q_net(tensor).argmax(dim=1).cpu().numpy()

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, Any]:
        """Pick actions for one observation or a batch (SB3's signature).

        Args:
            observation: One observation (shape of the observation space) or a batch
                ``(B, *shape)``.
            state: Ignored (no recurrent state); returned as is.
            episode_start: Ignored.
            deterministic: Greedy actions; otherwise epsilon-greedy with the current
                ``exploration_rate``.

        Returns:
            ``(actions, state)``: an int64 array of shape ``()`` for one observation, ``(B,)``
            for a batch.

        Raises:
            ValueError: The observation shape does not fit the model.

        Example:
            >>> agent = DQN("CartPole-v1", seed=0)
            >>> agent.predict(np.zeros((3, 4), np.float32), deterministic=True)[0].shape
            (3,)
        """
        obs = np.asarray(observation)
        shape = tuple(self.observation_space.shape)
        single = obs.shape == shape
        if not single and obs.shape[1:] != shape:
            raise ValueError(
                f"predict expects an observation of shape {shape} or a batch (B, {shape}), got "
                f"{obs.shape}."
            )
        batch = obs[None] if single else obs
        if batch.dtype != self.observation_space.dtype:
            batch = batch.astype(self.observation_space.dtype)
        if deterministic or self.exploration_rate <= 0.0:
            actions = self._greedy(batch).astype(np.int64)
        else:
            rng = self._predict_rng
            explore = rng.random(len(batch)) < self.exploration_rate
            actions = rng.integers(self.n_actions, size=len(batch))
            if not explore.all():
                actions = np.where(explore, actions, self._greedy(batch)).astype(np.int64)
        return (actions[0] if single else actions), state

    # ------------------------------------------------------------------ learning
    def _make_replay(self) -> Any:
        from dqn_agents.replay import make_replay_buffer

        replay = make_replay_buffer(
            self.observation_space,
            self.config.buffer_size,
            self.n_envs,
            n_step=self.config.n_step,
            gamma=self.config.gamma,
        )
        replay.source = self._replay_source()
        return replay

    def _replay_source(self) -> dict[str, Any]:
        """What a replay file of this agent must match: the game and the action count."""
        source: dict[str, Any] = {"n_actions": int(self.n_actions)}
        if self.env_id is not None:
            from dqn_agents.wrappers import is_atari_id, resolve_env_id

            atari = is_atari_id(self.env_id)
            source["game"] = resolve_env_id(self.env_id).game if atari else self.env_id
        return source

    def _cpu_threads(self) -> int:
        """Torch threads for learning on CPU.

        ``torch_threads`` when set; else 1 for MLPs (tiny matrices gain nothing from
        threads) and, for CNNs, the cores idle when `learn` starts (at most 8; see
        `dqn_agents.learner.cnn_cpu_threads`): on a busy 2-core machine 2 threads made
        one update 7x slower, on an idle one about 2x faster.
        """
        if self.torch_threads is not None:
            return self.torch_threads
        if self.q_net.describe().get("kind") == "mlp":
            return 1
        return cnn_cpu_threads()

    def _reset_env(self) -> np.ndarray:
        assert self._adapter is not None
        seed = self.seed if self.num_timesteps == 0 else None
        obs = self._adapter.reset(seed=seed)
        return obs

    def learn(
        self,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int | None = 4,
        tb_log_name: str = "DQN",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> DQN:
        """Train for ``total_timesteps`` agent steps (summed over parallel envs).

        The loop, in the paper's order: act epsilon-greedily (random during
        ``learning_starts``), step the env(s), store the transition (true final observation,
        terminated vs truncated), then every ``train_freq`` steps do ``gradient_steps``
        minibatch updates (TD target from the target network) and sync the target every
        ``target_update_interval`` updates. Logs go through SB3's logger every
        ``log_interval`` finished games.

        Args:
            total_timesteps: Agent steps to take (added to ``num_timesteps`` when
                ``reset_num_timesteps=False``).
            callback: SB3 callback(s) or a function ``f(locals, globals) -> bool``; returning
                ``False`` stops training.
            log_interval: Dump logs every this many finished episodes (``None``: never).
            tb_log_name: TensorBoard run name.
            reset_num_timesteps: Start counting from 0 (and a fresh episode); ``False``
                continues a previous run (resume).
            progress_bar: Show SB3's progress bar (tqdm + rich).

        Returns:
            ``self``.

        Raises:
            NonFiniteLossError: The loss became NaN/inf (a ``FloatingPointError``).
            KeyboardInterrupt: Re-raised after leaving the agent consistent.
            RuntimeError: The agent has no env.

        Example:
            >>> agent = DQN("CartPole-v1", learning_starts=50, buffer_size=500, seed=0)
            >>> agent.learn(100).num_timesteps
            100
        """
        if self._adapter is None:
            raise RuntimeError("This agent has no env; pass env= to DQN.load or call set_env().")
        adapter = self._adapter
        cfg = self.config
        # ---- setup (SB3's _setup_learn)
        self.start_time = time.time_ns()
        if reset_num_timesteps:
            self.num_timesteps = 0
            self._episode_num = 0
            self._updates_offset = self._n_updates
            self.ep_info_buffer.clear()
        else:
            total_timesteps += self.num_timesteps
        self._total_timesteps = total_timesteps
        self._num_timesteps_at_start = self.num_timesteps
        if not (reset_num_timesteps or self._last_obs is None) and self._env_moved(adapter):
            warnings.warn(
                "The env's current observation is not the one this agent last saw (the env "
                "was reset or stepped by other code, or the model comes from an older "
                "checkpoint of this env); learn starts a new game.",
                RuntimeWarning,
                stacklevel=2,
            )
            self._last_obs = None
        if reset_num_timesteps or self._last_obs is None or not adapter.has_reset:
            if self.replay_buffer is not None:
                # The stored episodes stop here (as truncations): the next transition starts
                # a new stream instead of claiming to continue the old one.
                self.replay_buffer.end_episodes()
            self._last_obs = self._reset_env()
        elif self._pending_autoreset is not None:
            adapter._pending_autoreset = self._pending_autoreset.copy()
        if self.replay_buffer is None:
            self.replay_buffer = self._make_replay()
        if not self._custom_logger:
            self._logger = configure_logger(
                self.verbose, self.tensorboard_log, tb_log_name, reset_num_timesteps
            )
        if cfg.eval_qmax_states > 0 and self._qmax_states is None:
            self._qmax_states = np.zeros(
                (cfg.eval_qmax_states, *self.observation_space.shape), self.observation_space.dtype
            )
            self._qmax_filled = 0
        cb = init_callback(callback, self, progress_bar)
        cb_locals = new_locals(total_timesteps, tb_log_name, self)
        cb_locals["callback"], cb_locals["log_interval"] = cb, log_interval
        cb.on_training_start(cb_locals, {})
        previous_threads = torch.get_num_threads()
        if self.device.type == "cpu":
            torch.set_num_threads(self._cpu_threads())
        with _deferred_sigint() as interrupted:
            try:
                self._loop(total_timesteps, cb, cb_locals, log_interval, interrupted)
            finally:
                self._pending_autoreset = adapter._pending_autoreset.copy()
                torch.set_num_threads(previous_threads)
        cb.on_training_end()
        return self

    def _env_moved(self, adapter: EnvAdapter) -> bool:
        """Whether the live env is known to be elsewhere than ``self._last_obs``."""
        current = adapter.peek_obs()
        last = self._last_obs
        return current is not None and last is not None and not np.array_equal(current, last)

    def _loop(
        self,
        total_timesteps: int,
        callback: Any,
        cb_locals: dict[str, Any],
        log_interval: int | None,
        interrupted: list[bool],
    ) -> None:
        cfg = self.config
        adapter = self._adapter
        assert adapter is not None and self._last_obs is not None
        replay, rng, n_envs, n_actions = (
            self.replay_buffer,
            self.rng,
            adapter.num_envs,
            self.n_actions,
        )
        learning_starts, train_freq, gradient_steps = (
            cfg.learning_starts,
            cfg.train_freq,
            cfg.gradient_steps,
        )
        qmax_stride = max(1, learning_starts // max(1, cfg.eval_qmax_states * n_envs))
        obs = self._last_obs
        all_valid = adapter._all_valid
        callback.on_rollout_start()
        while self.num_timesteps < total_timesteps:
            if interrupted[0]:
                raise KeyboardInterrupt
            # 1. Select an action: epsilon-greedy on Q(s, .); uniform during the warm-up.
            if self.num_timesteps < learning_starts:
                self.exploration_rate = 1.0
                actions = rng.integers(n_actions, size=n_envs)
            else:
                self.exploration_rate = epsilon_at(self.num_timesteps, cfg, total_timesteps)
                explore = rng.random(n_envs) < self.exploration_rate
                actions = rng.integers(n_actions, size=n_envs)
                if not explore.all():
                    actions = np.where(explore, actions, self._greedy(obs))
            # 2. Execute it in the emulator; observe reward and next frame stack.
            step = adapter.step(actions)
            # 3. Store the transition (the true next observation; truncation bootstraps).
            replay.add(
                obs,
                actions,
                step.rewards,
                step.next_obs,
                step.terminated,
                step.truncated,
                env_mask=None if step.valid is all_valid else step.valid,
            )
            if self._qmax_states is not None and self._qmax_filled < len(self._qmax_states):
                if self.num_timesteps % qmax_stride == 0 or self.num_timesteps >= learning_starts:
                    self._qmax_states[self._qmax_filled] = obs[0]
                    self._qmax_filled += 1
            obs = step.obs
            self._last_obs = obs
            self.num_timesteps += n_envs
            # episode bookkeeping (raw game scores from info["episode"])
            if step.dones.any():
                self._record_episodes(step.infos, step.dones, log_interval)
            cb_locals["actions"], cb_locals["new_obs"] = actions, step.next_obs
            cb_locals["rewards"], cb_locals["dones"] = step.rewards, step.dones
            cb_locals["infos"] = step.infos
            callback.update_locals(cb_locals)
            if not callback.on_step():
                break
            # 4. Sample random minibatches and do gradient descent on the TD error.
            if self.num_timesteps > learning_starts:
                due = (
                    self._updates_offset
                    + ((self.num_timesteps - learning_starts) // train_freq) * gradient_steps
                )
                while self._n_updates < due:
                    self._train_step()
        callback.on_rollout_end()

    def _record_episodes(
        self, infos: list[dict[str, Any]], dones: np.ndarray, log_interval: int | None
    ) -> None:
        for i in np.flatnonzero(dones):
            episode = infos[i].get("episode")
            if episode is None:
                continue
            self.ep_info_buffer.append(
                {"r": float(episode["r"]), "l": float(episode["l"]), "t": float(episode["t"])}
            )
            self._episode_num += 1
            if log_interval and self._episode_num % log_interval == 0:
                self.dump_logs()

    def _batch_buffers(self) -> tuple[Any, tuple[torch.Tensor, ...]]:
        """Preallocated minibatch arrays (numpy views of torch tensors; pinned on CUDA)."""
        if self._batch is None:
            template = self.replay_buffer.allocate_batch(self.config.batch_size)
            pin = self.device.type == "cuda"
            tensors = tuple(
                torch.empty(a.shape, dtype=torch.from_numpy(a[:0]).dtype, pin_memory=pin)
                for a in template
            )
            self._batch = (type(template)(*(t.numpy() for t in tensors)), tensors)
        return self._batch

    def _learner_for_run(self) -> Learner:
        """The update step (fused Adam, batch staging, loss syncs), built once per optimizer."""
        learner = self._learner
        if (
            learner is None
            or learner.optimizer is not self.optimizer
            or learner.config is not self.config
        ):
            learner = Learner(
                self.q_net,
                self.q_net_target,
                self.optimizer,
                self.config,
                self.device,
                image=is_image_space(self.observation_space.shape, self.observation_space.dtype),
            )
            self._learner = learner
        return learner

    def _train_step(self) -> None:
        cfg = self.config
        replay = self.replay_buffer
        learner = self._learner_for_run()
        batch = learner.batch(replay, self.rng, cfg.batch_size, self._batch_buffers)
        # TD target y = r + gamma^n * max_a' Q_target(s', a') (no bootstrap at terminals),
        # loss, backward, clipping and the optimizer step: dqn_agents.learner.Learner.
        count = learner.pending_count + 1
        check = (self._n_updates + 1) % learner.sync_every == 0
        loss_sum = learner.update(batch, check=check)
        if loss_sum is not None:
            if not math.isfinite(loss_sum):
                raise NonFiniteLossError(
                    f"The TD loss is {loss_sum} at step {self.num_timesteps} (gradient update "
                    f"{self._n_updates + 1}); training stopped. Lower learning_rate, keep "
                    f"max_grad_norm set, or check the rewards/observations for NaN/inf."
                )
            self._loss_sum += loss_sum
            self._loss_count += count
        self._n_updates += 1
        # Every C updates: target network <- online network (hard, or Polyak if tau < 1).
        if self.q_net_target is not None and self._n_updates % cfg.target_update_interval == 0:
            soft_update_(self.q_net_target, self.q_net, cfg.tau)

    @torch.no_grad()
    def average_max_q(self) -> float | None:
        """The papers' learning-curve metric: mean of ``max_a Q(s, a)`` over fixed states.

        The states (``config.eval_qmax_states`` of them) are collected during the random
        warm-up of `learn`.

        Returns:
            The average, or ``None`` before any state was collected.
        """
        if self._qmax_states is None or self._qmax_filled == 0:
            return None
        states = torch.as_tensor(self._qmax_states[: self._qmax_filled], device=self.device)
        return float(self.q_net(states).max(dim=1).values.mean().item())

    def dump_logs(self) -> None:
        """Write the SB3 log table: raw episode scores, loss, epsilon, fps, average max-Q."""
        logger = self.logger
        elapsed = max((time.time_ns() - self.start_time) / 1e9, sys.float_info.epsilon)
        fps = int((self.num_timesteps - self._num_timesteps_at_start) / elapsed)
        logger.record("time/episodes", self._episode_num, exclude="tensorboard")
        if self.ep_info_buffer:
            logger.record("rollout/ep_rew_mean", safe_mean([e["r"] for e in self.ep_info_buffer]))
            logger.record("rollout/ep_len_mean", safe_mean([e["l"] for e in self.ep_info_buffer]))
        logger.record("rollout/exploration_rate", self.exploration_rate)
        logger.record("time/fps", fps)
        logger.record("time/time_elapsed", int(elapsed), exclude="tensorboard")
        logger.record("time/total_timesteps", self.num_timesteps, exclude="tensorboard")
        if self._loss_count:
            logger.record("train/loss", self._loss_sum / self._loss_count)
            self._loss_sum, self._loss_count = 0.0, 0
        logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        logger.record("train/learning_rate", self.config.learning_rate)
        if self._n_updates > 0:
            qmax = self.average_max_q()
            if qmax is not None:
                logger.record("train/avg_max_q", qmax)
        logger.dump(step=self.num_timesteps)

    # ------------------------------------------------------------------ replay files
    def save_replay_buffer(self, path: str | os.PathLike[str]) -> None:
        """Save the replay memory as a numpy ``.npz`` (no pickle), atomically.

        The path is used as given (SB3's ``CheckpointCallback`` passes ``..._steps.pkl``;
        the content is still a numpy archive, never a pickle).

        Args:
            path: Destination file.

        Raises:
            RuntimeError: There is no replay memory yet (call `learn` first).
        """
        if self.replay_buffer is None:
            raise RuntimeError("No replay memory yet: it is created by learn().")
        self.replay_buffer.save(os.fspath(path))

    def load_replay_buffer(self, path: str | os.PathLike[str]) -> None:
        """Load a replay memory written by `save_replay_buffer` (no pickle).

        Args:
            path: The file.
        """
        if self.replay_buffer is None:
            self.replay_buffer = self._make_replay()
        self.replay_buffer.load(os.fspath(path))
        self._batch = None

    # ------------------------------------------------------------------ saving
    def _meta(self) -> dict[str, Any]:
        return {
            "format": ser.FORMAT_NAME,
            "format_version": ser.FORMAT_VERSION,
            "config": self.config.to_dict(),
            "env_id": self.env_id,
            "wrapper_options": self.wrapper_options,
            "observation_space": _space_summary(self.observation_space),
            "action_space": {"n": self.n_actions},
            "network": describe_network(self.q_net),
            "versions": ser.library_versions(),
            "num_timesteps": int(self.num_timesteps),
            "algorithm": "DQN",
        }

    def _training_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        opt_tensors, opt_json = ser.flatten_optimizer_state(self.optimizer.state_dict())
        tensors = dict(opt_tensors)
        if self.q_net_target is not None:
            for key, value in self.q_net_target.state_dict().items():
                tensors[f"target_net.{key}"] = value
        if self._last_obs is not None:
            tensors["last_obs"] = torch.from_numpy(np.ascontiguousarray(self._last_obs))
        pending = self._adapter._pending_autoreset if self._adapter is not None else None
        state = {
            "num_timesteps": int(self.num_timesteps),
            "n_updates": int(self._n_updates),
            "updates_offset": int(self._updates_offset),
            "episode_num": int(self._episode_num),
            "total_timesteps": int(self._total_timesteps),
            "exploration_rate": float(self.exploration_rate),
            "seed": self.seed,
            "optimizer": ser.jsonable(opt_json),
            "rng": ser.rng_state_to_json(
                torch.get_rng_state(), self.rng.bit_generator.state, random.getstate()
            ),
            "predict_rng": ser.jsonable(self._predict_rng.bit_generator.state),
            "ep_info_buffer": list(self.ep_info_buffer),
            "pending_autoreset": None if pending is None else pending.tolist(),
            "loss_sum": self._loss_sum,
            "loss_count": self._loss_count,
        }
        return tensors, state

    def save(self, path: str | os.PathLike[str], include_training_state: bool = True) -> Path:
        """Save to one zip file (``.zip`` appended when the path has no suffix, as SB3).

        Members: ``config.json``, ``model.safetensors`` and, with
        ``include_training_state``, ``optimizer.safetensors`` + ``training_state.json`` for
        an exact resume. The write is atomic (temp file + ``os.replace``). No pickle.

        Args:
            path: Destination, e.g. ``"runs/pong"`` -> ``runs/pong.zip``.
            include_training_state: Also store the optimizer, target net, counters, RNGs.

        Returns:
            The path written.

        Example:
            >>> import tempfile, os
            >>> agent = DQN("CartPole-v1", seed=0)
            >>> agent.save(os.path.join(tempfile.mkdtemp(), "cartpole")).name
            'cartpole.zip'
        """
        target = Path(os.fspath(path))
        if not target.suffix:
            target = target.with_name(target.name + ".zip")
        tensors: dict[str, torch.Tensor] | None = None
        state: dict[str, Any] | None = None
        if include_training_state:
            tensors, state = self._training_state()
        return ser.write_model_file(target, self._meta(), self.q_net.state_dict(), tensors, state)

    def save_pretrained(self, folder: str | os.PathLike[str]) -> Path:
        """Write the Hugging Face Hub layout: ``config.json`` + ``model.safetensors``.

        Args:
            folder: Destination folder (created if needed; other files are left alone).

        Returns:
            The folder.
        """
        return ser.write_model_folder(folder, self._meta(), self.q_net.state_dict())

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        env: str | gym.Env[Any, Any] | VectorEnv | None = None,
        device: str | torch.device = "auto",
        *,
        force_reset: bool = False,
        tensorboard_log: str | None = None,
        verbose: int = 0,
        **overrides: Any,
    ) -> DQN:
        """Load a model zip (``DQN.save``) or a Hub-layout folder, validating first.

        Nothing is unpickled: pickle/SB3/PyTorch files are refused with a clear error.

        Args:
            path: A ``.zip`` (suffix optional) or a folder with ``config.json`` +
                ``model.safetensors``.
            env: The env to continue training / evaluate on (an id, ``gym.Env`` or
                ``VectorEnv``); ``None`` builds it from the saved env id when there is one.
                It must match the saved env id and spaces.
            device: ``"auto"``, ``"cpu"``, ``"cuda"``...
            force_reset: Start the next `learn` from a fresh episode even if ``env`` is live.
            tensorboard_log: TensorBoard folder for further training.
            verbose: Verbosity for further training.
            **overrides: `DQNConfig` fields to change (e.g. ``learning_rate``).

        Returns:
            The agent (with optimizer, counters and RNG states restored when the file has
            a training state).

        Raises:
            dqn_agents.serialization.ModelFormatError: Invalid, truncated or pickle file;
                weights that do not match the config.
            ValueError: The env does not match the model.
            FileNotFoundError: Nothing at ``path``.
        """
        meta, state_dict, extras = ser.read_model(path)
        where = os.fspath(path)
        try:
            config = DQNConfig.from_dict(meta["config"])
        except (ValueError, TypeError) as exc:
            raise ser.ModelFormatError(f"{where}: invalid config in config.json: {exc}") from exc
        saved_config = config
        if overrides:
            config = config.replace(**overrides)
        try:
            obs_space = _space_from_summary(meta["observation_space"])
            action_space = gym.spaces.Discrete(int(meta["action_space"]["n"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ser.ModelFormatError(
                f"{where}: config.json lacks a valid observation_space/action_space ({exc})."
            ) from exc
        env_id = meta.get("env_id")
        wrapper_options = meta.get("wrapper_options")
        built: BuiltEnv | None = None
        if env is None and env_id is not None and _can_build(env_id):
            built = make_env(env_id, config.num_envs, wrapper_options)
        elif env is not None:
            num_envs = _env_count(env, config.num_envs)
            built = make_env(env, num_envs, wrapper_options if isinstance(env, str) else None)
        if built is not None and built.adapter.num_envs != config.num_envs:
            config = config.replace(num_envs=built.adapter.num_envs)
        training = extras.get("training_state", {})
        agent = cls.__new__(cls)
        agent._init_common(
            config,
            obs_space,
            action_space,
            env_id=env_id,
            wrapper_options=wrapper_options,
            seed=training.get("seed"),
            device=device,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
        )
        try:
            agent.q_net.load_state_dict(state_dict, strict=True)
        except RuntimeError as exc:
            raise ser.ModelFormatError(
                f"{where}: the weights in model.safetensors do not match the network the "
                f"config describes ({config.network}, dueling={config.dueling}): {exc}"
            ) from exc
        if built is not None:
            agent._check_env_fits(built, source=f"The model {where}")
            if built.env_id is None and isinstance(env, gym.Env | VectorEnv):
                built.env_id = env_id_of(env)
            agent._attach(built.adapter)
        agent.num_timesteps = int(meta.get("num_timesteps", 0))
        if training:
            same_optimizer = (config.optimizer, config.optimizer_kwargs) == (
                saved_config.optimizer,
                saved_config.optimizer_kwargs,
            )
            if not same_optimizer:
                warnings.warn(
                    f"{where}: the optimizer changed on load ({saved_config.optimizer} "
                    f"{dict(saved_config.optimizer_kwargs)} -> {config.optimizer} "
                    f"{dict(config.optimizer_kwargs)}); its saved state (moment estimates) "
                    "is not restored, the new optimizer starts fresh.",
                    RuntimeWarning,
                    stacklevel=2,
                )
            agent._restore_training_state(
                training, extras.get("optimizer", {}), where, restore_optimizer=same_optimizer
            )
            if force_reset:
                agent._last_obs = None
        return agent

    def _restore_training_state(
        self,
        state: dict[str, Any],
        tensors: dict[str, torch.Tensor],
        where: str,
        *,
        restore_optimizer: bool = True,
    ) -> None:
        """Restore optimizer, target network, counters and RNG states of a saved agent.

        ``restore_optimizer=False`` skips the optimizer's saved state (the optimizer
        changed on load). The optimizer's hyperparameters
        (learning rate, betas, ...) are always this agent's config, so that overrides given
        to `load` take effect; with no override they equal the saved ones.
        """
        try:
            if restore_optimizer:
                fresh = [
                    {k: v for k, v in group.items() if k != "params"}
                    for group in self.optimizer.param_groups
                ]
                opt_tensors = {k: v for k, v in tensors.items() if k.startswith("state.")}
                self.optimizer.load_state_dict(
                    ser.unflatten_optimizer_state(opt_tensors, state["optimizer"])
                )
                for group, hyper in zip(self.optimizer.param_groups, fresh, strict=True):
                    group.update(hyper)
            if self.q_net_target is not None:
                target = {
                    k[len("target_net.") :]: v
                    for k, v in tensors.items()
                    if k.startswith("target_net.")
                }
                if target:
                    self.q_net_target.load_state_dict(target, strict=True)
            last_obs = tensors.get("last_obs")
            self._last_obs = None if last_obs is None else last_obs.numpy().copy()
            pending = state.get("pending_autoreset")
            self._pending_autoreset = None if pending is None else np.asarray(pending, bool)
            self.num_timesteps = int(state["num_timesteps"])
            self._n_updates = int(state["n_updates"])
            self._updates_offset = int(state.get("updates_offset", 0))
            self._episode_num = int(state.get("episode_num", 0))
            self._total_timesteps = int(state.get("total_timesteps", 0))
            self.exploration_rate = float(state.get("exploration_rate", self.exploration_rate))
            self._loss_sum = float(state.get("loss_sum", 0.0))
            self._loss_count = int(state.get("loss_count", 0))
            for info in state.get("ep_info_buffer", []):
                self.ep_info_buffer.append({k: float(v) for k, v in info.items()})
            torch_rng, numpy_rng, python_rng = ser.rng_state_from_json(state["rng"])
            torch.set_rng_state(torch_rng)
            self.rng.bit_generator.state = numpy_rng
            random.setstate(python_rng)
            if "predict_rng" in state:
                self._predict_rng.bit_generator.state = dict(state["predict_rng"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ser.ModelFormatError(
                f"{where}: the training state (optimizer/counters/RNG) is invalid: {exc!r}. "
                f"Load the weights only with DQN.load on a folder written by save_pretrained."
            ) from exc

    @classmethod
    def from_pretrained(
        cls,
        repo_id: str,
        *,
        revision: str | None = None,
        env: str | gym.Env[Any, Any] | VectorEnv | None = None,
        device: str | torch.device = "auto",
    ) -> DQN:
        """Download a model from the Hugging Face Hub (delegates to `dqn_agents.hub`).

        Args:
            repo_id: ``"user/name"`` on the Hub.
            revision: Branch, tag or commit.
            env: Optional env (validated like `load`).
            device: Torch device.

        Returns:
            The agent.
        """
        from dqn_agents.hub import load_from_hub

        agent: DQN = load_from_hub(repo_id, revision=revision, env=env, device=str(device))
        return agent

    def push_to_hub(self, repo_id: str, **kwargs: Any) -> Any:
        """Upload this model to the Hugging Face Hub (delegates to `dqn_agents.hub`).

        Args:
            repo_id: ``"user/name"`` on the Hub.
            **kwargs: Passed to ``dqn_agents.hub.push_to_hub``.

        Returns:
            Whatever ``dqn_agents.hub.push_to_hub`` returns (the commit info / URL).
        """
        from dqn_agents.hub import push_to_hub

        return push_to_hub(self, repo_id, **kwargs)

    # ------------------------------------------------------------------ evaluation
    def evaluate(
        self,
        n_episodes: int = 10,
        env: str | gym.Env[Any, Any] | None = None,
        *,
        deterministic: bool = True,
        epsilon: float | None = None,
        seed: int | None = None,
        video_path: str | os.PathLike[str] | None = None,
    ) -> EvalResult:
        """Play full games and report RAW game scores (see `dqn_agents.evaluation`).

        Args:
            n_episodes: Number of full games.
            env: Env to play (default: a fresh env built from the model's env id).
            deterministic: Greedy play (``epsilon`` 0 unless given).
            epsilon: Exploration rate during evaluation (the Nature paper used 0.05).
            seed: Seed of the evaluation env.
            video_path: Also record the first episode to this mp4.

        Returns:
            An `dqn_agents.evaluation.EvalResult` (mean, std, scores, lengths).
        """
        from dqn_agents.evaluation import evaluate

        return evaluate(
            self,
            n_episodes,
            env,
            deterministic=deterministic,
            epsilon=epsilon,
            seed=seed,
            video_path=video_path,
        )

    def __repr__(self) -> str:
        return (
            f"DQN(env_id={self.env_id!r}, num_timesteps={self.num_timesteps}, "
            f"network={self.q_net.describe().get('kind')!r}, device={str(self.device)!r})"
        )


def _can_build(env_id: str) -> bool:
    from dqn_agents.wrappers import is_atari_id

    return is_atari_id(env_id) or env_id in gym.registry


def _env_count(env: str | gym.Env[Any, Any] | VectorEnv, configured: int) -> int:
    """Envs that ``env`` gives: its own count, 1 for a ``gym.Env``, ``configured`` for an id."""
    if isinstance(env, VectorEnv):
        return int(env.num_envs)
    return int(configured) if isinstance(env, str) else 1


def _same_env(a: str, b: str) -> bool:
    if a == b:
        return True
    from dqn_agents.wrappers import is_atari_id, resolve_env_id

    if is_atari_id(a) and is_atari_id(b):
        return resolve_env_id(a).game == resolve_env_id(b).game
    return False


@contextlib.contextmanager
def _deferred_sigint() -> Iterator[list[bool]]:
    """Turn the first Ctrl-C into a flag the loop checks at a clean step boundary.

    A second Ctrl-C interrupts immediately. Only active in the main thread.
    """
    flag = [False]
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        if flag[0]:
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        flag[0] = True

    try:
        signal.signal(signal.SIGINT, handler)
    except ValueError:  # pragma: no cover - not the main interpreter
        yield flag
        return
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)
