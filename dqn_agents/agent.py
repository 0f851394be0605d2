"""`DQN`: the agent of Mnih et al. (2013, 2015) for Gymnasium envs.

The agent builds its networks, optimizer and `dqn_agents.learner.Learner` from a config
and a `dqn_agents.spec.ModelSpec`, runs the `DQN.learn` loop in the paper's order (act,
step, store, learn, sync), acts with `DQN.predict`, and orchestrates save/load (the codec
is `dqn_agents.checkpoint`). The names SB3 code and the Hub read come from
`dqn_agents.sb3_surface` and `dqn_agents.hub_surface`; resuming and the file layout are in
the user's guide (docs/agent.md).

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

import os
import random
import warnings
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
    invalid_training_state,
    learner_fields,
    model_meta,
    read_saved_model,
    restore_learner,
    restore_rngs,
)
from dqn_agents.config import DQNConfig
from dqn_agents.devices import cnn_cpu_threads, inference_threads, resolve_device, torch_threads
from dqn_agents.envs import EnvAdapter, env_and_spec, env_for_spec
from dqn_agents.evaluation import EvalResult, check_epsilon, evaluate
from dqn_agents.functional import (
    epsilon_at,
    epsilon_greedy,
    make_optimizer,
    rebased_updates_offset,
    updates_scheduled,
)
from dqn_agents.hub_surface import HubSurface
from dqn_agents.interrupts import deferred_sigint
from dqn_agents.learner import Learner, NonFiniteLossError
from dqn_agents.memory import check_fits, check_streams, new_replay, refill_needed
from dqn_agents.networks import QNetwork, build_q_network
from dqn_agents.sb3_surface import SB3Surface
from dqn_agents.spec import ModelSpec, check_observation_space, env_count, is_image_space
from dqn_agents.stats import TrainingStats

__all__ = ["DQN", "NonFiniteLossError"]

EnvLike = str | gym.Env[Any, Any] | VectorEnv


def resolve_config(config: DQNConfig | str | None, hyperparameters: dict[str, Any]) -> DQNConfig:
    """The config an agent is built with: a preset or a `DQNConfig`, plus overrides.

    Args:
        config: A `DQNConfig`, a preset name or ``None`` (the default preset).
        hyperparameters: Field overrides.

    Returns:
        The config.

    Raises:
        dqn_agents.config.ConfigKeyError: An unknown preset or field (a ``ValueError``),
            naming the closest valid ones.
        TypeError: ``config`` of another type.
    """
    if config is None:
        base = DQNConfig()
    elif isinstance(config, str):
        return DQNConfig.preset(config, **hyperparameters)
    elif isinstance(config, DQNConfig):
        base = config
    else:
        raise TypeError(
            f"config must be a DQNConfig, a preset name or None, got {type(config).__name__}."
        )
    return base.replace(**hyperparameters) if hyperparameters else base


class DQN(SB3Surface, HubSurface):
    """Deep Q-Network agent (Mnih et al. 2013, 2015) with SB3-compatible ergonomics.

    Args:
        env: An env id (Atari ids get the DQN wrappers and the Nature CNN), a ``gym.Env``,
            a Gymnasium ``VectorEnv``, or a `dqn_agents.spec.ModelSpec` (no env: predict
            only until `set_env`).
        config: A `DQNConfig`, a preset name (``"nature2015"``...) or ``None`` (default).
        wrapper_options: ``AtariOptions`` overrides for Atari ids.
        num_envs: Parallel envs for an id (overrides ``config.num_envs``; the replay ratio
            is kept).
        seed: Seeds the networks, exploration, replay sampling and the first env reset.
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``...
        tensorboard_log: Folder for TensorBoard logs.
        verbose: 0 silent, 1 prints the SB3 log table.
        torch_threads: Torch CPU threads while learning (default: `training_threads`).
        **hyperparameters: `DQNConfig` fields overriding ``config``.

    Raises:
        ValueError: An unknown hyperparameter, action space or observation shape.

    Example:
        >>> agent = DQN("CartPole-v1", learning_rate=1e-3, mlp_hidden_sizes=(32, 32))
        >>> agent.config.learning_rate, type(agent.q_net).__name__
        (0.001, 'QNetwork')
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
        if isinstance(env, ModelSpec):
            spec, built = env, None
        else:
            built, spec = env_and_spec(env, cfg.num_envs, wrapper_options)
        check_observation_space(spec.observation_space)
        if built is not None:  # a training env: its replay must fit (a loaded model may not train)
            check_fits(spec, cfg, cfg.num_envs)
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
        self.num_timesteps = 0
        self._updates_offset = 0
        self._total_timesteps = 0
        self.exploration_rate = cfg.exploration_final_eps
        self.stats = TrainingStats(cfg.eval_qmax_states)
        self._last_obs: np.ndarray | None = None
        self._pending_autoreset: np.ndarray | None = None
        self._refill = 0
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
        """The hyperparameters.

        A new config reaches the learner too; a new replay ratio (``train_freq``,
        ``gradient_steps``, ``learning_starts``) applies from the current step on.
        """
        return self._config

    @config.setter
    def config(self, config: DQNConfig) -> None:
        self._updates_offset = rebased_updates_offset(
            self._updates_offset, self.num_timesteps, self._config, config
        )
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
        check_streams(self.replay_buffer, num_envs)
        built = env_for_spec(self.spec, env, num_envs, source="this model")
        assert built is not None  # an env was given
        self._attach(built.adapter)
        if force_reset:
            self._last_obs = None

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
            observation: One observation or a batch ``(B, *shape)``.
            state: Ignored (no recurrent state); returned as is.
            episode_start: Ignored.
            deterministic: Greedy actions; else epsilon-greedy with ``exploration_rate``.

        Returns:
            ``(actions, state)``: int64 actions of shape ``()`` or ``(B,)``.

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
    def training_threads(self) -> int:
        """Torch CPU threads `learn` uses: ``torch_threads`` when set, else the default.

        The default is 1 for MLPs and, for CNNs, the cores idle when `learn` starts (at
        most 8, `dqn_agents.devices.cnn_cpu_threads`; why: docs/agent.md).

        Returns:
            The thread count.
        """
        if self.torch_threads is not None:
            return self.torch_threads
        if self.q_net.describe().get("kind") == "mlp":
            return 1
        return cnn_cpu_threads()

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

        The loop follows the paper's order (act, step, store, learn, sync; see
        docs/architecture.md).

        Args:
            total_timesteps: Agent steps to take (more, when ``reset_num_timesteps=False``).
            callback: SB3 callback(s) or a function ``f(locals, globals) -> bool``; ``False``
                stops training.
            log_interval: Dump logs every this many finished episodes (``None``: never).
            tb_log_name: TensorBoard run name.
            reset_num_timesteps: Count from 0 in a fresh episode; ``False`` resumes.
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
        if total_timesteps < 1 or (log_interval is not None and log_interval < 1):
            raise ValueError(
                f"total_timesteps and log_interval must be >= 1, got "
                f"{total_timesteps} and {log_interval}."
            )
        if self._adapter is None:
            raise RuntimeError("This agent has no env; pass env= to DQN.load or call set_env().")
        adapter = self._adapter
        # ---- setup (SB3's _setup_learn)
        if reset_num_timesteps:
            self.num_timesteps = 0
            self._updates_offset = self.n_updates
        else:
            total_timesteps += self.num_timesteps
        self._total_timesteps = total_timesteps
        self.stats.start(self.num_timesteps, reset=reset_num_timesteps)
        if not (reset_num_timesteps or self._last_obs is None) and adapter.moved(self._last_obs):
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
            self._last_obs = adapter.reset(seed=self.seed if self.num_timesteps == 0 else None)
        elif self._pending_autoreset is not None:
            adapter.pending_autoreset = self._pending_autoreset.copy()
        if self.replay_buffer is None:
            self.replay_buffer = new_replay(self.spec, self.config, self.n_envs)
        self._refill = refill_needed(self.config, self.replay_buffer, self.num_timesteps)
        self.start_logging(tb_log_name, reset_num_timesteps)
        cb = init_callback(callback, self, progress_bar)
        cb_locals = new_locals(total_timesteps, tb_log_name, self)
        cb_locals["callback"], cb_locals["log_interval"] = cb, log_interval
        cb.on_training_start(cb_locals, {})
        threads = self.training_threads() if self.device.type == "cpu" else None
        with torch_threads(threads), deferred_sigint() as interrupted:
            try:
                self._loop(total_timesteps, cb, cb_locals, log_interval, interrupted)
                self.learner.check_pending(step=self.num_timesteps)
            except BaseException:
                close_progress_bars(cb)  # before the caller prints "saved ..." (Ctrl-C)
                raise
            finally:
                self._pending_autoreset = adapter.pending_autoreset.copy()
        cb.on_training_end()
        return self

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
        learning_starts = cfg.learning_starts
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
                    missed = updates_scheduled(self.num_timesteps, cfg)
                    self._updates_offset = self.n_updates - missed
            elif self.num_timesteps > learning_starts:
                due = self._updates_offset + updates_scheduled(self.num_timesteps, cfg)
                if due > self.n_updates:
                    self.learner.train(replay, rng, due - self.n_updates, step=self.num_timesteps)
        callback.on_rollout_end()

    def average_max_q(self) -> float | None:
        """The papers' learning-curve metric: mean ``max_a Q(s, a)`` over fixed warm-up states.

        Returns:
            The average, or ``None`` before any state was collected.
        """
        return self.stats.average_max_q(self.q_net, self.device)

    # ------------------------------------------------------------------ saving and loading
    def training_state(self) -> TrainingState:
        """Everything besides the weights that an exact resume needs (what `save` stores).

        Returns:
            A `dqn_agents.checkpoint.TrainingState` (tensors are the live ones: copy
            before changing them).
        """
        pending = self._adapter.pending_autoreset if self._adapter is not None else None
        return TrainingState(
            **learner_fields(self.learner),
            num_timesteps=int(self.num_timesteps),
            updates_offset=int(self._updates_offset),
            episode_num=self.stats.episode_num,
            total_timesteps=int(self._total_timesteps),
            exploration_rate=float(self.exploration_rate),
            seed=self.seed,
            rng=capture_rngs(self.rng),
            predict_rng=dict(self._predict_rng.bit_generator.state),
            ep_info_buffer=list(self.ep_info_buffer),
            pending_autoreset=None if pending is None else pending.tolist(),
            last_obs=self._last_obs,
        )

    def _restore(self, state: TrainingState, where: str, *, restore_optimizer: bool) -> None:
        """Apply a saved training state (the optimizer's hyperparameters stay this config's)."""
        try:
            restore_learner(state, self.learner, restore_optimizer=restore_optimizer)
            restore_rngs(state.rng, self.rng)
            if state.predict_rng is not None:
                self._predict_rng.bit_generator.state = dict(state.predict_rng)
        except (KeyError, TypeError, ValueError, RuntimeError, OverflowError) as exc:
            raise invalid_training_state(where, exc) from exc
        self._last_obs = state.last_obs
        pending = state.pending_autoreset
        self._pending_autoreset = None if pending is None else np.asarray(pending, bool)
        self.num_timesteps, self.exploration_rate = state.num_timesteps, state.exploration_rate
        self._updates_offset, self._total_timesteps = state.updates_offset, state.total_timesteps
        self.stats.episode_num = state.episode_num
        self.stats.ep_info_buffer.extend(state.ep_info_buffer)

    def save(self, path: str | os.PathLike[str], include_training_state: bool = True) -> Path:
        """Save to one zip file, atomically and without pickle (layout: docs/agent.md).

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
        tensors, state = self.training_state().encode() if include_training_state else (None, None)
        meta = model_meta(self.config, self.spec, self.q_net.describe(), self.num_timesteps)
        return ser.write_model_file(target, meta, self.q_net.state_dict(), tensors, state)

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
        """Load a model zip (`save`) or a Hub-layout folder, validating it first; no pickle.

        Args:
            path: A ``.zip`` (suffix optional) or a `save_pretrained` folder.
            env: The env to go on with (id, ``gym.Env`` or ``VectorEnv``; it must fit the
                saved id and spaces); ``None`` builds the saved env id when there is one.
            device: ``"auto"``, ``"cpu"``, ``"cuda"``...
            force_reset: Start the next `learn` from a fresh episode even if ``env`` is live.
            tensorboard_log: TensorBoard folder for further training.
            verbose: Verbosity for further training.
            **overrides: `DQNConfig` fields to change (e.g. ``learning_rate``).

        Returns:
            The agent, with its training state restored when the file has one.

        Raises:
            dqn_agents.serialization.ModelFormatError: Invalid, truncated or pickle file;
                weights that do not match the config.
            ValueError: The env does not match the model.
            FileNotFoundError: Nothing at ``path``.
        """
        saved = read_saved_model(path, overrides)
        where, config, training = saved.where, saved.config, saved.training
        built = env_for_spec(saved.spec, env, config.num_envs, source=f"The model {where}")
        if built is not None:
            config = config.replace(num_envs=built.adapter.num_envs)
        agent = cls(
            saved.spec,
            config,
            seed=None if training is None else training.seed,
            device=device,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
        )
        saved.load_weights(agent.q_net)
        if built is not None:
            agent._attach(built.adapter)
        agent.num_timesteps = saved.num_timesteps
        if training is not None:
            agent._restore(training, where, restore_optimizer=saved.keeps_optimizer())
            # the saved counters follow the saved schedule: an overridden replay ratio
            # applies from here on (the past is not owed again at it)
            agent._updates_offset = rebased_updates_offset(
                agent._updates_offset, agent.num_timesteps, saved.saved_config, config
            )
            if force_reset:
                agent._last_obs = None
        return agent

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
            deterministic: Greedy play (``epsilon`` 0 unless given; else `exploration_rate`).
            epsilon: Exploration rate during evaluation (the Nature paper used 0.05).
            seed: Seed of the evaluation env.
            video_path: Also record the first episode to this mp4.

        Returns:
            An `dqn_agents.evaluation.EvalResult` (mean, std, scores, lengths).

        Raises:
            ValueError: ``epsilon`` outside [0, 1], or an env that does not fit the model.
        """
        check_epsilon(epsilon)  # before the training game is given up
        training = self._adapter
        if isinstance(env, gym.Env) and training is not None:
            if training.env.unwrapped is env.unwrapped:
                self._last_obs = None  # the training game is abandoned: the next learn resets
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
