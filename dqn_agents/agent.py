"""`DQN`: the agent of Mnih et al. (2013, 2015) for Gymnasium envs.

The agent builds its networks, optimizer and `dqn_agents.learner.Learner` from a config
and a `dqn_agents.spec.ModelSpec`, runs the `DQN.learn` loop in the paper's order (act,
step, store, learn, sync), acts with `DQN.predict`, and orchestrates save/load (the codec
is `dqn_agents.checkpoint`). Stable-Baselines3 callbacks and logger work with it unchanged
(`dqn_agents.callbacks`) without inheriting from SB3. Resuming, exploration in `predict`
and the file layout are described in the user's guide (docs/agent.md).

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
import os
import random
import signal
import threading
import time
import warnings
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import VectorEnv

from dqn_agents import serialization as ser
from dqn_agents.callbacks import MaybeCallback, close_progress_bars, init_callback, new_locals
from dqn_agents.checkpoint import (
    TrainingState,
    capture_rngs,
    model_meta,
    newer_version,
    restore_rngs,
)
from dqn_agents.config import PRESETS, DQNConfig
from dqn_agents.devices import cnn_cpu_threads, inference_threads, resolve_device, torch_threads
from dqn_agents.envs import BuiltEnv, EnvAdapter, make_env
from dqn_agents.evaluation import EvalResult, evaluate
from dqn_agents.functional import epsilon_at, epsilon_greedy, make_optimizer
from dqn_agents.learner import Learner, NonFiniteLossError
from dqn_agents.networks import QNetwork, build_q_network
from dqn_agents.replay import make_replay_buffer
from dqn_agents.sb3_surface import SB3Surface
from dqn_agents.spec import (
    ModelSpec,
    can_build,
    check_observation_space,
    env_count,
    env_id_of,
    is_image_space,
)
from dqn_agents.stats import TrainingStats
from dqn_agents.version import __version__

__all__ = ["DQN", "NonFiniteLossError"]

EnvLike = str | gym.Env[Any, Any] | VectorEnv


def _spec_and_env(
    env: EnvLike | ModelSpec, cfg: DQNConfig, wrapper_options: dict[str, Any] | None
) -> tuple[ModelSpec, BuiltEnv | None, DQNConfig]:
    """The spec an agent is built for, its env (``None`` for a spec) and the env count."""
    if isinstance(env, ModelSpec):
        return env, None, cfg
    if isinstance(env, VectorEnv) and cfg.num_envs != env.num_envs:
        cfg = cfg.replace(num_envs=int(env.num_envs))
    built = make_env(env, cfg.num_envs, wrapper_options)
    adapter = built.adapter
    if not isinstance(adapter.action_space, gym.spaces.Discrete):
        raise ValueError(f"DQN needs a Discrete action space, got {adapter.action_space!r}.")
    obs_space = check_observation_space(adapter.observation_space)
    spec = ModelSpec(obs_space, int(adapter.action_space.n), built.env_id, built.wrapper_options)
    return spec, built, cfg


def _env_for_model(
    spec: ModelSpec, env: EnvLike | None, num_envs: int, where: str
) -> BuiltEnv | None:
    """The env a loaded model gets: the one given, else its own id's (when safe to build)."""
    built: BuiltEnv | None = None
    if env is None and spec.env_id is not None and can_build(spec.env_id):
        built = make_env(spec.env_id, num_envs, spec.wrapper_options)
    elif env is not None:
        options = spec.wrapper_options if isinstance(env, str) else None
        built = make_env(env, env_count(env, num_envs), None if options is None else dict(options))
        if built.env_id is None and isinstance(env, gym.Env | VectorEnv):
            built.env_id = env_id_of(env)
    if built is not None:
        adapter = built.adapter
        spec.check_env(
            built.env_id,
            adapter.observation_space,
            adapter.action_space,
            source=f"The model {where}",
        )
    return built


def _refill_needed(config: DQNConfig, replay: Any, num_timesteps: int) -> int:
    """Steps of acting without updates a resumed run needs to refill its replay memory."""
    warm = min(config.learning_starts, config.buffer_size)
    if num_timesteps < config.learning_starts or len(replay) >= warm:
        return 0
    warnings.warn(
        f"The replay memory holds {len(replay)} transitions but training is past "
        f"learning_starts ({config.learning_starts}): the next {warm - len(replay)} steps "
        "refill it (acting with the current epsilon, no updates). Load the saved memory "
        "(load_replay_buffer) to continue at once.",
        RuntimeWarning,
        stacklevel=3,
    )
    return warm - len(replay)


def resolve_config(config: DQNConfig | str | None, hyperparameters: dict[str, Any]) -> DQNConfig:
    """The config an agent is built with: a preset or a `DQNConfig`, plus overrides.

    Args:
        config: A `DQNConfig`, a preset name or ``None`` (the default preset).
        hyperparameters: Field overrides.

    Returns:
        The config.

    Raises:
        ValueError: An unknown preset or field.
        TypeError: ``config`` of another type.
    """
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


class DQN(SB3Surface):
    """Deep Q-Network agent (Mnih et al. 2013, 2015) with SB3-compatible ergonomics.

    Args:
        env: An env id (Atari ids get the DQN wrappers and the Nature CNN; other ids use
            ``gym.make``), a ``gym.Env``, a Gymnasium ``VectorEnv``, or a
            `dqn_agents.spec.ModelSpec` for an agent without an env (predict only until
            `set_env`).
        config: A `DQNConfig`, a preset name (``"default"``, ``"cleanrl"``,
            ``"nature2015"``, ``"mnih2013"``...) or ``None`` (the default preset).
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
        env: EnvLike | ModelSpec,
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
        cfg = resolve_config(config, hyperparameters)
        if env is None:
            raise ValueError(
                "DQN(env=None) has no spaces to build a network for; pass an env (id, gym.Env "
                "or VectorEnv), or use DQN.load(path) for a saved model without an env."
            )
        spec, built, cfg = _spec_and_env(env, cfg, wrapper_options)
        check_observation_space(spec.observation_space)
        self.spec = spec
        self.seed = seed
        self.device = resolve_device(device)
        self.tensorboard_log = tensorboard_log
        self.verbose = verbose
        self.torch_threads = torch_threads
        if seed is not None:
            random.seed(seed)
            torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self._predict_rng = np.random.default_rng(None if seed is None else seed + 1)
        space = spec.observation_space
        try:
            self.q_net: QNetwork = build_q_network(space, spec.n_actions, cfg).to(self.device)
        except ValueError as exc:
            raise ValueError(
                f"The observations {space} do not fit network={cfg.network!r}: {exc}"
            ) from exc
        self.q_net_target: QNetwork | None = None
        if cfg.use_target_network:
            self.q_net_target = build_q_network(space, spec.n_actions, cfg)
            self.q_net_target.load_state_dict(self.q_net.state_dict())
            self.q_net_target.to(self.device).requires_grad_(False)
        self.learner = Learner(
            self.q_net,
            self.q_net_target,
            make_optimizer(self.q_net.parameters(), cfg),
            cfg,
            self.device,
            image=is_image_space(space.shape, space.dtype),
        )
        self._config = cfg
        # counters and bookkeeping
        self.num_timesteps = 0
        self._updates_offset = 0
        self._total_timesteps = 0
        self._num_timesteps_at_start = 0
        self.exploration_rate = cfg.exploration_final_eps
        self.stats = TrainingStats(cfg.eval_qmax_states)
        self._last_obs: np.ndarray | None = None
        self._pending_autoreset: np.ndarray | None = None
        self._refill = 0
        self.start_time = time.time_ns()
        self.replay_buffer: Any = None
        self._adapter: EnvAdapter | None = None
        if built is not None:
            self._attach(built.adapter)

    def _attach(self, adapter: EnvAdapter) -> None:
        if adapter.num_envs != self.config.num_envs:
            self.config = self.config.replace(num_envs=adapter.num_envs)
        self._adapter = adapter

    # ------------------------------------------------------------------ state
    @property
    def config(self) -> DQNConfig:
        """The hyperparameters (setting a new config reaches the learner too)."""
        return self._config

    @config.setter
    def config(self, config: DQNConfig) -> None:
        self._config = config
        self.learner.config = config

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """The optimizer of the online network (owned by the `learner`)."""
        return self.learner.optimizer

    @optimizer.setter
    def optimizer(self, optimizer: torch.optim.Optimizer) -> None:
        self.learner.optimizer = optimizer

    @property
    def observation_space(self) -> gym.spaces.Box:
        """The observation space the network takes."""
        return self.spec.observation_space

    @property
    def action_space(self) -> gym.spaces.Discrete:
        """The ``Discrete`` action space."""
        return gym.spaces.Discrete(self.spec.n_actions)

    @property
    def n_actions(self) -> int:
        """Number of actions."""
        return self.spec.n_actions

    @property
    def env_id(self) -> str | None:
        """The env id the model was trained on (``None`` for an env without one)."""
        return self.spec.env_id

    @property
    def wrapper_options(self) -> dict[str, Any] | None:
        """The Atari wrapper options the model was trained with (``None`` otherwise)."""
        options = self.spec.wrapper_options
        return None if options is None else dict(options)

    @property
    def n_updates(self) -> int:
        """Gradient updates done so far."""
        return self.learner.n_updates

    @property
    def episode_num(self) -> int:
        """Episodes (full games for Atari) finished in the current `learn` count."""
        return self.stats.episode_num

    @property
    def last_obs(self) -> np.ndarray | None:
        """The observation the next training action is chosen from (``None``: a new game)."""
        return self._last_obs

    @property
    def env_adapter(self) -> EnvAdapter | None:
        """The training env behind its batched interface (``None`` without an env)."""
        return self._adapter

    def set_env(self, env: EnvLike, force_reset: bool = True) -> None:
        """Replace the training env (validated against the model's spaces and env id).

        Args:
            env: An env id, ``gym.Env`` or ``VectorEnv``.
            force_reset: Start from a fresh episode on the next `learn` (else continue
                from the in-flight observation when the env is live).

        Raises:
            ValueError: The env does not fit the model (id, spaces).
        """
        num_envs = env_count(env, self.config.num_envs)
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
        self.spec.check_env(
            built.env_id, adapter.observation_space, adapter.action_space, source=source
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
        # A few observations: one thread is fastest (see dqn_agents.devices.inference_threads).
        with torch_threads(inference_threads() if self.device.type == "cpu" else None):
            if deterministic or self.exploration_rate <= 0.0:
                actions = self._greedy(batch).astype(np.int64)
            else:
                actions = epsilon_greedy(
                    partial(self._greedy, batch),
                    len(batch),
                    self.n_actions,
                    self.exploration_rate,
                    self._predict_rng,
                )
        return (actions[0] if single else actions), state

    # ------------------------------------------------------------------ learning
    def _make_replay(self) -> Any:
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
        if self.spec.game is not None:
            source["game"] = self.spec.game
        return source

    def training_threads(self) -> int:
        """Torch CPU threads `learn` uses.

        ``torch_threads`` when set; else 1 for MLPs (tiny matrices gain nothing from
        threads) and, for CNNs, the cores idle when `learn` starts (at most 8; see
        `dqn_agents.devices.cnn_cpu_threads`): on a busy 2-core machine 2 threads made
        one update 7x slower, on an idle one about 2x faster.

        Returns:
            The thread count.
        """
        if self.torch_threads is not None:
            return self.torch_threads
        if self.q_net.describe().get("kind") == "mlp":
            return 1
        return cnn_cpu_threads()

    def _reset_env(self) -> np.ndarray:
        assert self._adapter is not None
        seed = self.seed if self.num_timesteps == 0 else None
        return self._adapter.reset(seed=seed)

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
        if isinstance(total_timesteps, bool) or not isinstance(total_timesteps, int | np.integer):
            raise TypeError(f"total_timesteps must be an int, got {total_timesteps!r}.")
        if total_timesteps < 1:
            raise ValueError(f"total_timesteps must be >= 1, got {total_timesteps}.")
        if self._adapter is None:
            raise RuntimeError("This agent has no env; pass env= to DQN.load or call set_env().")
        adapter = self._adapter
        # ---- setup (SB3's _setup_learn)
        self.start_time = time.time_ns()
        if reset_num_timesteps:
            self.num_timesteps = 0
            self.stats.episode_num = 0
            self._updates_offset = self.n_updates
            self.stats.ep_info_buffer.clear()
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
            adapter.pending_autoreset = self._pending_autoreset.copy()
        if self.replay_buffer is None:
            self.replay_buffer = self._make_replay()
        self._refill = _refill_needed(self.config, self.replay_buffer, self.num_timesteps)
        self.start_logging(tb_log_name, reset_num_timesteps)
        cb = init_callback(callback, self, progress_bar)
        cb_locals = new_locals(total_timesteps, tb_log_name, self)
        cb_locals["callback"], cb_locals["log_interval"] = cb, log_interval
        cb.on_training_start(cb_locals, {})
        threads = self.training_threads() if self.device.type == "cpu" else None
        with torch_threads(threads), _deferred_sigint() as interrupted:
            try:
                self._loop(total_timesteps, cb, cb_locals, log_interval, interrupted)
            except BaseException:
                close_progress_bars(cb)  # before the caller prints "saved ..." (Ctrl-C)
                raise
            finally:
                self._pending_autoreset = adapter.pending_autoreset.copy()
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
        replay, rng, stats = self.replay_buffer, self.rng, self.stats
        n_envs, n_actions = adapter.num_envs, self.n_actions
        learning_starts, train_freq, gradient_steps = (
            cfg.learning_starts,
            cfg.train_freq,
            cfg.gradient_steps,
        )
        qmax_stride = max(1, learning_starts // max(1, cfg.eval_qmax_states * n_envs))
        obs = self._last_obs
        all_valid = adapter.all_valid
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
                greedy = partial(self._greedy, obs)
                actions = epsilon_greedy(greedy, n_envs, n_actions, self.exploration_rate, rng)
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
            if stats.wants_state() and (
                self.num_timesteps % qmax_stride == 0 or self.num_timesteps >= learning_starts
            ):
                stats.add_state(obs[0])
            obs = step.obs
            self._last_obs = obs
            self.num_timesteps += n_envs
            # episode bookkeeping (raw game scores from info["episode"])
            if step.dones.any():
                ended = stats.record_episodes(step.infos, step.dones)
                if log_interval and ended and stats.episode_num % log_interval < ended:
                    self.dump_logs()
            cb_locals["actions"], cb_locals["new_obs"] = actions, step.next_obs
            cb_locals["rewards"], cb_locals["dones"] = step.rewards, step.dones
            cb_locals["infos"] = step.infos
            callback.update_locals(cb_locals)
            if not callback.on_step():
                break
            # 4. Sample random minibatches and do gradient descent on the TD error; every C
            #    updates the target network is synced (dqn_agents.learner.Learner.train).
            if self._refill > 0:
                self._refill -= n_envs
                if self._refill <= 0:  # the updates missed while refilling are not owed
                    missed = ((self.num_timesteps - learning_starts) // train_freq) * gradient_steps
                    self._updates_offset = self.n_updates - missed
            elif self.num_timesteps > learning_starts:
                due = (
                    self._updates_offset
                    + ((self.num_timesteps - learning_starts) // train_freq) * gradient_steps
                )
                if due > self.n_updates:
                    self.learner.train(replay, rng, due - self.n_updates, step=self.num_timesteps)
        callback.on_rollout_end()

    def average_max_q(self) -> float | None:
        """The papers' learning-curve metric: mean of ``max_a Q(s, a)`` over fixed states.

        The states (``config.eval_qmax_states`` of them) are collected during the random
        warm-up of `learn`.

        Returns:
            The average, or ``None`` before any state was collected.
        """
        return self.stats.average_max_q(self.q_net, self.device)

    def dump_logs(self) -> None:
        """Write the SB3 log table: raw episode scores, loss, epsilon, fps, average max-Q."""
        self.stats.dump(
            self.logger,
            num_timesteps=self.num_timesteps,
            steps_since_start=self.num_timesteps - self._num_timesteps_at_start,
            start_time_ns=self.start_time,
            exploration_rate=self.exploration_rate,
            loss=self.learner.pop_mean_loss(),
            n_updates=self.n_updates,
            learning_rate=self.config.learning_rate,
            avg_max_q=self.average_max_q() if self.n_updates > 0 else None,
        )

    # ------------------------------------------------------------------ replay files
    def save_replay_buffer(self, path: str | os.PathLike[str]) -> Path:
        """Save the replay memory as a numpy ``.npz`` (no pickle), atomically.

        A ``.pkl`` path (SB3's ``CheckpointCallback`` asks for ``..._steps.pkl``) is
        written as ``.npz``: the file is named for what it is, never a pickle.

        Args:
            path: Destination file.

        Returns:
            The path written.

        Raises:
            RuntimeError: There is no replay memory yet (call `learn` first).
        """
        if self.replay_buffer is None:
            raise RuntimeError("No replay memory yet: it is created by learn().")
        target = _replay_file(path)
        self.replay_buffer.save(os.fspath(target))
        return target

    def load_replay_buffer(self, path: str | os.PathLike[str]) -> None:
        """Load a replay memory written by `save_replay_buffer` (no pickle).

        Args:
            path: The file (a ``.pkl`` name finds the ``.npz`` that `save_replay_buffer`
                wrote for it).
        """
        if self.replay_buffer is None:
            self.replay_buffer = self._make_replay()
        given = Path(os.fspath(path))
        self.replay_buffer.load(os.fspath(given if given.exists() else _replay_file(given)))

    # ------------------------------------------------------------------ saving
    def _meta(self) -> dict[str, Any]:
        return model_meta(self.config, self.spec, self.q_net.describe(), self.num_timesteps)

    def training_state(self) -> TrainingState:
        """Everything besides the weights that an exact resume needs (what `save` stores).

        Returns:
            A `dqn_agents.checkpoint.TrainingState` (tensors are the live ones: copy
            before changing them).
        """
        pending = self._adapter.pending_autoreset if self._adapter is not None else None
        return TrainingState(
            num_timesteps=int(self.num_timesteps),
            n_updates=self.n_updates,
            updates_offset=int(self._updates_offset),
            episode_num=self.stats.episode_num,
            total_timesteps=int(self._total_timesteps),
            exploration_rate=float(self.exploration_rate),
            seed=self.seed,
            rng=capture_rngs(self.rng),
            predict_rng=dict(self._predict_rng.bit_generator.state),
            ep_info_buffer=list(self.ep_info_buffer),
            pending_autoreset=None if pending is None else pending.tolist(),
            loss_sum=self.learner.loss_sum,
            loss_count=self.learner.loss_count,
            last_obs=self._last_obs,
            optimizer=self.optimizer.state_dict(),
            target_net=None if self.q_net_target is None else self.q_net_target.state_dict(),
        )

    def _restore(self, state: TrainingState, where: str, *, restore_optimizer: bool) -> None:
        """Apply a saved training state (the optimizer's hyperparameters stay this config's)."""
        try:
            if restore_optimizer and state.optimizer is not None:
                self.learner.load_optimizer_state(state.optimizer)
            if self.q_net_target is not None and state.target_net:
                self.q_net_target.load_state_dict(state.target_net, strict=True)
            restore_rngs(state.rng, self.rng)
            if state.predict_rng is not None:
                self._predict_rng.bit_generator.state = dict(state.predict_rng)
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ser.ModelFormatError(
                f"{where}: the training state (optimizer/counters/RNG) is invalid: {exc!r}. "
                f"Load the weights only with DQN.load on a folder written by save_pretrained."
            ) from exc
        self._last_obs = None if state.last_obs is None else state.last_obs
        pending = state.pending_autoreset
        self._pending_autoreset = None if pending is None else np.asarray(pending, bool)
        self.num_timesteps = state.num_timesteps
        self.learner.n_updates = state.n_updates
        self.learner.loss_sum, self.learner.loss_count = state.loss_sum, state.loss_count
        self._updates_offset = state.updates_offset
        self.stats.episode_num = state.episode_num
        self._total_timesteps = state.total_timesteps
        self.exploration_rate = state.exploration_rate
        self.stats.ep_info_buffer.extend(state.ep_info_buffer)

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
            tensors, state = self.training_state().encode()
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
        env: EnvLike | None = None,
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
        upgrade = ""
        newer = newer_version(meta)
        if newer is not None:
            upgrade = f" It was saved by dqn-agents {newer}: pip install -U dqn-agents."
            warnings.warn(
                f"{where} was saved by dqn-agents {newer}, newer than this {__version__}; if "
                "it fails to load or acts differently, upgrade: pip install -U dqn-agents.",
                UserWarning,
                stacklevel=2,
            )
        try:
            saved_config = DQNConfig.from_dict(meta["config"])
            spec = ModelSpec.from_meta(meta)
        except (ValueError, TypeError) as exc:
            raise ser.ModelFormatError(f"{where}: invalid config.json: {exc}{upgrade}") from exc
        config = saved_config.replace(**overrides) if overrides else saved_config
        training = None
        if "training_state" in extras:
            training = TrainingState.decode(
                extras.get("optimizer", {}), extras["training_state"], where
            )
        built = _env_for_model(spec, env, config.num_envs, where)
        if built is not None:
            config = config.replace(num_envs=built.adapter.num_envs)
        agent = cls(
            spec,
            config,
            seed=None if training is None else training.seed,
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
            agent._attach(built.adapter)
        agent.num_timesteps = int(meta.get("num_timesteps", 0))
        if training is not None:
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
            agent._restore(training, where, restore_optimizer=same_optimizer)
            if force_reset:
                agent._last_obs = None
        return agent

    # ------------------------------------------------------------------ Hub and evaluation
    @classmethod
    def from_pretrained(
        cls,
        repo_id: str,
        *,
        revision: str | None = None,
        env: EnvLike | None = None,
        device: str | torch.device = "auto",
    ) -> DQN:
        """Download a model from the Hugging Face Hub (or the local zoo) and load it.

        Args:
            repo_id: ``"user/name"`` on the Hub.
            revision: Branch, tag or commit.
            env: Optional env (validated like `load`).
            device: Torch device.

        Returns:
            The agent.

        Raises:
            dqn_agents.hub.HubError: A subclass saying what went wrong.
        """
        # huggingface_hub is an optional extra: the Hub modules load only when used.
        from dqn_agents.hub.pull import load_model

        return load_model(repo_id, cls.load, revision=revision, env=env, device=str(device))

    def push_to_hub(self, repo_id: str, **kwargs: Any) -> Any:
        """Upload this model to the Hugging Face Hub (`dqn_agents.hub.push_to_hub`).

        Args:
            repo_id: ``"user/name"`` on the Hub.
            **kwargs: Passed to ``dqn_agents.hub.push_to_hub``.

        Returns:
            Whatever ``dqn_agents.hub.push_to_hub`` returns (the commit info / URL).
        """
        from dqn_agents.hub.push import push_to_hub

        return push_to_hub(self, repo_id, **kwargs)

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
        if epsilon is not None and not 0.0 <= float(epsilon) <= 1.0:
            raise ValueError(f"epsilon must be between 0 and 1, got {epsilon}.")
        training = self._adapter
        if isinstance(env, gym.Env) and training is not None:
            if training.env.unwrapped is env.unwrapped:
                self._last_obs = None  # the training game is abandoned: the next learn resets
        if epsilon is None and not deterministic:
            epsilon = self.exploration_rate
        return evaluate(self, n_episodes, env, epsilon=epsilon, seed=seed, video_path=video_path)

    def __repr__(self) -> str:
        return (
            f"DQN(env_id={self.env_id!r}, num_timesteps={self.num_timesteps}, "
            f"network={self.q_net.describe().get('kind')!r}, device={str(self.device)!r})"
        )


def _replay_file(path: str | os.PathLike[str]) -> Path:
    target = Path(os.fspath(path))
    return target.with_suffix(".npz") if target.suffix == ".pkl" else target


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
