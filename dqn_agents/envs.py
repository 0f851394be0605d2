"""Environment construction and adaptation for the agent.

`make_env` turns what the user gives ``DQN`` (an env id, a ``gym.Env`` or a
Gymnasium ``VectorEnv``) into an `EnvAdapter`: one batched stepping interface
whose observations always have a leading ``num_envs`` axis and whose ``step`` returns the
**true** next observation for the replay memory next to the observation to act from:

* single ``gym.Env``: the adapter resets the env itself after ``terminated or truncated``;
  the stored ``next_obs`` is the final observation, the returned ``obs`` the reset one.
* ``VectorEnv`` with ``autoreset_mode`` ``SAME_STEP``: ``info["final_obs"]`` holds the
  final observation of the envs that ended; it is put into ``next_obs``.
* ``VectorEnv`` with ``NEXT_STEP`` (Gymnasium's and ALE's default): the step after a done
  only resets that sub-env (its action is ignored); the adapter marks it ``valid=False`` so
  the agent never stores that fake transition.
* ``VectorEnv`` with ``DISABLED``: the adapter calls ``reset(options={"reset_mask": ...})``.

`VecEnvView` is the read-mostly Stable-Baselines3 ``VecEnv`` view of the training
env returned by ``DQN.get_env()`` (what SB3 callbacks look at: ``num_envs``, spaces,
``get_attr``, ``env_method``, ``render``); stepping it directly is refused because the
training loop owns the env's state.

Example:
    >>> import gymnasium as gym
    >>> adapter = make_env("CartPole-v1").adapter
    >>> obs = adapter.reset(seed=0)
    >>> obs.shape
    (1, 4)
    >>> step = adapter.step(np.zeros(1, dtype=np.int64))
    >>> step.next_obs.shape, step.rewards.dtype, bool(step.valid[0])
    ((1, 4), dtype('float32'), True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from stable_baselines3.common.vec_env import DummyVecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from dqn_agents.spec import ModelSpec, can_build, check_observation_space, env_count, env_id_of

__all__ = [
    "BuiltEnv",
    "EnvAdapter",
    "StepResult",
    "VecEnvView",
    "env_and_spec",
    "env_for_spec",
    "make_env",
    "unbatch_info",
]


@dataclass
class StepResult:
    """What `EnvAdapter.step` returns; every array has a leading ``num_envs`` axis.

    Attributes:
        obs: Observations to act from next (reset observations where an episode ended).
        next_obs: The true next observations for the replay memory (final observations
            where an episode ended).
        rewards: float32 rewards.
        terminated: bool, the MDP ended (no bootstrap).
        truncated: bool, a time limit cut the episode (bootstrap from ``next_obs``).
        dones: ``terminated | truncated`` (SB3's ``dones``).
        infos: One info dict per env (SB3 convention); ended episodes carry
            ``info["episode"] = {"r", "l", "t"}`` when the env records statistics.
        valid: False for sub-envs whose step was only an autoreset (``NEXT_STEP`` mode):
            the transition must not be stored or counted as an episode step.
    """

    obs: np.ndarray
    next_obs: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    dones: np.ndarray
    infos: list[dict[str, Any]]
    valid: np.ndarray


def unbatch_info(info: dict[str, Any], num_envs: int) -> list[dict[str, Any]]:
    """Split a Gymnasium vector ``info`` dict (arrays + ``_key`` masks) into per-env dicts.

    Args:
        info: The vector env's info dict.
        num_envs: Number of sub-envs.

    Returns:
        A list of ``num_envs`` dicts holding only the keys present for that env.

    Example:
        >>> info = {"episode": {"r": np.array([1.0, 0.0]), "_r": np.array([True, False])},
        ...         "_episode": np.array([True, False])}
        >>> unbatch_info(info, 2)
        [{'episode': {'r': np.float64(1.0)}}, {}]
    """
    out: list[dict[str, Any]] = [{} for _ in range(num_envs)]
    for key, value in info.items():
        if key.startswith("_"):
            continue
        mask = info.get("_" + key)
        if isinstance(value, dict):
            sub = unbatch_info(value, num_envs)
            for i in range(num_envs):
                if mask is None or mask[i]:
                    out[i][key] = sub[i]
        else:
            for i in range(num_envs):
                if mask is None or mask[i]:
                    try:
                        out[i][key] = value[i]
                    except (TypeError, IndexError, KeyError):
                        out[i][key] = value
    return out


def _has_wrapper(env: Any, wrapper_type: type) -> bool:
    while env is not None:
        if isinstance(env, wrapper_type):
            return True
        env = getattr(env, "env", None)
    return False


class EnvAdapter:
    """One batched stepping interface over a ``gym.Env`` or a Gymnasium ``VectorEnv``.

    Args:
        env: The env to drive.

    Raises:
        ValueError: The action space is not ``Discrete`` (DQN needs a finite action set).

    Attributes:
        pending_autoreset: ``(num_envs,)`` bool, ``NEXT_STEP`` vector envs only: the
            sub-envs whose next step is only an autoreset (their episode ended on the last
            step). The agent saves and restores it to resume training mid-episode.
        all_valid: ``(num_envs,)`` all True: the ``valid`` mask of a step without
            autoresets (shared between steps, never written).

    Example:
        >>> adapter = EnvAdapter(gym.make("CartPole-v1"))
        >>> adapter.num_envs, adapter.action_space
        (1, Discrete(2))
    """

    def __init__(self, env: gym.Env | VectorEnv) -> None:
        self.env = env
        self.is_vector = isinstance(env, VectorEnv)
        if self.is_vector:
            assert isinstance(env, VectorEnv)
            self.num_envs = int(env.num_envs)
            self.observation_space: gym.Space[Any] = env.single_observation_space
            self.action_space: gym.Space[Any] = env.single_action_space
            mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
            self.autoreset_mode = AutoresetMode(mode)
        else:
            self.num_envs = 1
            self.observation_space = env.observation_space
            self.action_space = env.action_space
            self.autoreset_mode = AutoresetMode.SAME_STEP
        if not isinstance(self.action_space, gym.spaces.Discrete):
            raise ValueError(
                f"DQN needs a Discrete action space, got {self.action_space!r}. "
                f"Discretize the actions (e.g. a gymnasium ActionWrapper) or use an algorithm "
                f"for continuous actions (SAC, TD3)."
            )
        self.n_actions = int(self.action_space.n)
        self.pending_autoreset = np.zeros(self.num_envs, dtype=bool)
        self.all_valid = np.ones(self.num_envs, dtype=bool)
        self._has_reset = False

    @property
    def has_reset(self) -> bool:
        """Whether the env has been reset (by this adapter, or before it was wrapped)."""
        if self._has_reset:
            return True
        if not self.is_vector:
            from gymnasium.wrappers.common import OrderEnforcing

            env: Any = self.env
            while env is not None:
                if isinstance(env, OrderEnforcing):
                    return bool(env.has_reset)
                env = getattr(env, "env", None)
        return False

    def peek_obs(self) -> np.ndarray | None:
        """The observation the env would act on now, read without stepping, where known.

        Known for a single env whose outermost observation comes from a frame stack
        (`dqn_agents.wrappers.FrameStack` or Gymnasium's ``FrameStackObservation``); lets
        ``learn`` notice an env that was reset or stepped by other code since the agent's
        last observation.

        Returns:
            The observation with a leading ``num_envs`` axis, or ``None`` when unknown.
        """
        shape = getattr(self.observation_space, "shape", None)
        if self.is_vector or not shape or len(shape) < 2 or not self.has_reset:
            return None  # only frame stacks can be read back
        from gymnasium.wrappers import FrameStackObservation

        from dqn_agents.wrappers.atari import FrameStack

        env: Any = self.env
        while env is not None:
            if isinstance(env, FrameStack):
                stack = env.stack
                break
            if isinstance(env, FrameStackObservation):
                stack = np.stack(list(env.obs_queue))
                break
            if isinstance(env, gym.ObservationWrapper):
                return None  # something above the stack transforms the observation
            env = getattr(env, "env", None)
        else:
            return None
        if stack.shape != self.observation_space.shape:
            return None
        return stack[None]

    def moved(self, last_obs: np.ndarray) -> bool:
        """Whether the env is known to be elsewhere than ``last_obs`` (see `peek_obs`).

        Args:
            last_obs: The observation the agent last saw, with a leading ``num_envs`` axis.

        Returns:
            ``True`` when the env's current observation is known and differs.
        """
        current = self.peek_obs()
        return current is not None and not np.array_equal(current, last_obs)

    def reset(self, seed: int | None = None) -> np.ndarray:
        """Reset every sub-env.

        Args:
            seed: Seed for the first reset (sub-env ``i`` of a vector env gets ``seed + i``).

        Returns:
            Observations with a leading ``num_envs`` axis.
        """
        self._has_reset = True
        self.pending_autoreset[:] = False
        obs, _ = self.env.reset(seed=seed)
        obs = np.asarray(obs)
        return obs if self.is_vector else obs[None]

    def step(self, actions: np.ndarray) -> StepResult:
        """Step every sub-env with ``actions`` (shape ``(num_envs,)``).

        Args:
            actions: Integer actions, one per sub-env.

        Returns:
            A `StepResult`.
        """
        if not self.is_vector:
            return self._step_single(int(actions[0]))
        return self._step_vector(actions)

    def _step_single(self, action: int) -> StepResult:
        env = self.env
        obs, reward, terminated, truncated, info = env.step(action)
        next_obs = np.asarray(obs)[None]
        done = bool(terminated or truncated)
        if done:
            info = dict(info)
            info["terminal_observation"] = obs
            reset_obs, _ = env.reset()
            acting = np.asarray(reset_obs)[None]
        else:
            acting = next_obs
        term = np.array([bool(terminated)])
        trunc = np.array([bool(truncated)])
        return StepResult(
            obs=acting,
            next_obs=next_obs,
            rewards=np.array([reward], dtype=np.float32),
            terminated=term,
            truncated=trunc,
            dones=term | trunc,
            infos=[info],
            valid=self.all_valid,
        )

    def _step_vector(self, actions: np.ndarray) -> StepResult:
        env = self.env
        obs, rewards, terminated, truncated, info = env.step(actions)
        obs = np.asarray(obs)
        terminated = np.asarray(terminated, dtype=bool)
        truncated = np.asarray(truncated, dtype=bool)
        dones = terminated | truncated
        infos = unbatch_info(info, self.num_envs)
        next_obs = obs
        valid = self.all_valid
        mode = self.autoreset_mode
        if mode == AutoresetMode.NEXT_STEP:
            if self.pending_autoreset.any():
                valid = ~self.pending_autoreset
                dones = dones & valid
            self.pending_autoreset = dones.copy()
        elif mode == AutoresetMode.SAME_STEP:
            if dones.any():
                next_obs = obs.copy()
                final_obs = info["final_obs"]
                final_infos = unbatch_info(info.get("final_info", {}), self.num_envs)
                for i in np.flatnonzero(dones):
                    next_obs[i] = final_obs[i]
                    merged = dict(infos[i])
                    merged.pop("final_obs", None)
                    merged.pop("final_info", None)
                    merged.update(final_infos[i])
                    merged["terminal_observation"] = final_obs[i]
                    infos[i] = merged
        else:  # DISABLED: reset the finished sub-envs ourselves
            if dones.any():
                next_obs = obs.copy()
                reset_obs, _ = env.reset(options={"reset_mask": dones})
                obs = np.asarray(reset_obs)
        return StepResult(
            obs=obs,
            next_obs=next_obs,
            rewards=np.asarray(rewards, dtype=np.float32),
            terminated=terminated & valid,
            truncated=truncated & valid,
            dones=dones,
            infos=infos,
            valid=valid,
        )

    def close(self) -> None:
        """Close the underlying env."""
        self.env.close()


class VecEnvView(DummyVecEnv):
    """A Stable-Baselines3 ``VecEnv`` view of the training env, for SB3 callbacks.

    It subclasses ``DummyVecEnv`` only so that SB3's type checks (``EvalCallback`` compares
    the training and evaluation env types) stay quiet; it does not own the envs. Attribute
    access (``get_attr``, ``set_attr``, ``env_method``, ``env_is_wrapped``), rendering and
    ``close`` go to the real env; ``reset``/``step`` raise because ``DQN.learn`` owns the
    env's state (make a separate env to step by hand).

    Args:
        adapter: The agent's `EnvAdapter`.

    Example:
        >>> view = VecEnvView(EnvAdapter(gym.make("CartPole-v1")))
        >>> view.num_envs, view.get_attr("spec")[0].id
        (1, 'CartPole-v1')
    """

    def __init__(self, adapter: EnvAdapter) -> None:
        self.adapter = adapter
        self.envs = [] if adapter.is_vector else [adapter.env]  # type: ignore[list-item]
        self.metadata = dict(adapter.env.metadata)
        VecEnv.__init__(self, adapter.num_envs, adapter.observation_space, adapter.action_space)
        self.actions = np.zeros(adapter.num_envs, dtype=np.int64)

    def _refuse(self) -> RuntimeError:
        return RuntimeError(
            "DQN.get_env() is a view of the env that DQN.learn() drives; stepping or resetting "
            "it would corrupt the training loop. Create a separate env to step by hand."
        )

    def reset(self) -> Any:  # noqa: D102
        raise self._refuse()

    def step_async(self, actions: np.ndarray) -> None:  # noqa: D102
        raise self._refuse()

    def step_wait(self) -> Any:  # noqa: D102
        raise self._refuse()

    def close(self) -> None:  # noqa: D102
        self.adapter.close()

    def get_images(self) -> Sequence[np.ndarray | None]:  # noqa: D102
        if self.adapter.is_vector:
            frames: Any = self.adapter.env.render()
            return list(frames) if frames is not None else [None] * self.num_envs
        return super().get_images()

    def _indices(self, indices: Any) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        if isinstance(indices, int):
            return [indices]
        return list(indices)

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:  # noqa: D102
        if not self.adapter.is_vector:
            return super().get_attr(attr_name, indices)
        env: Any = self.adapter.env
        try:
            values = list(env.get_attr(attr_name))
        except (AttributeError, NotImplementedError):
            values = [getattr(env, attr_name)] * self.num_envs
        return [values[i] for i in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:  # noqa: D102
        if not self.adapter.is_vector:
            return super().set_attr(attr_name, value, indices)
        env: Any = self.adapter.env
        env.set_attr(attr_name, value)
        return None

    def env_method(  # noqa: D102
        self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any
    ) -> list[Any]:
        if not self.adapter.is_vector:
            return super().env_method(method_name, *method_args, indices=indices, **method_kwargs)
        env: Any = self.adapter.env
        values = list(env.call(method_name, *method_args, **method_kwargs))
        return [values[i] for i in self._indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: Any = None) -> list[bool]:  # noqa: D102
        if not self.adapter.is_vector:
            return super().env_is_wrapped(wrapper_class, indices)
        return [False for _ in self._indices(indices)]


@dataclass
class BuiltEnv:
    """The result of `make_env`.

    Attributes:
        adapter: The batched stepping interface.
        env_id: The env id (``None`` for an env built by hand without ``gym.make``).
        wrapper_options: The Atari options used (``AtariOptions.to_dict()``), or ``None``.
        is_atari: Whether the Atari contract wrappers were applied by this library.
    """

    adapter: EnvAdapter
    env_id: str | None
    wrapper_options: dict[str, Any] | None
    is_atari: bool


def _atari_options(overrides: Mapping[str, Any] | None) -> tuple[Any, dict[str, Any]]:
    from dqn_agents.wrappers import AtariOptions

    options = AtariOptions.from_dict(dict(overrides or {})) if overrides else AtariOptions()
    return options, options.to_dict()


def make_env(
    env: str | gym.Env | VectorEnv,
    num_envs: int = 1,
    wrapper_options: Mapping[str, Any] | None = None,
    render_mode: str | None = None,
) -> BuiltEnv:
    """Build the training env from an id, a ``gym.Env`` or a ``VectorEnv``.

    Atari ids (``"ALE/Pong-v5"``, ``"PongNoFrameskip-v4"``, ``"pong"``) get the DQN contract
    from :mod:`dqn_agents.wrappers` (``make_atari`` for one env, ``make_atari_vector`` for
    ``num_envs > 1``). Other ids are made with ``gym.make`` (``gym.make_vec`` for
    ``num_envs > 1``) plus ``RecordEpisodeStatistics``. Env objects are used as given
    (``RecordEpisodeStatistics`` is added to a ``gym.Env`` that lacks it).

    Args:
        env: Env id, ``gym.Env`` or Gymnasium ``VectorEnv``.
        num_envs: Number of parallel envs (ids only).
        wrapper_options: ``AtariOptions`` overrides (Atari ids only).
        render_mode: Render mode for envs built from an id.

    Returns:
        A `BuiltEnv`.

    Raises:
        ValueError: ``num_envs`` or ``wrapper_options`` do not fit the kind of ``env``, or the
            action space is not Discrete.
        TypeError: ``env`` is none of the accepted kinds.

    Example:
        >>> built = make_env("CartPole-v1")
        >>> built.env_id, built.is_atari, built.adapter.num_envs
        ('CartPole-v1', False, 1)
    """
    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}.")
    if isinstance(env, str):
        from dqn_agents.wrappers import is_atari_id

        if is_atari_id(env):
            from dqn_agents.wrappers import make_atari, make_atari_vector, resolve_env_id

            options, options_dict = _atari_options(wrapper_options)
            built: gym.Env | VectorEnv
            if num_envs == 1:
                built = make_atari(env, options, render_mode=render_mode)
            else:
                built = make_atari_vector(env, num_envs, options)
            canonical = resolve_env_id(env).env_id
            return BuiltEnv(EnvAdapter(built), canonical, options_dict, True)
        if wrapper_options:
            raise ValueError(
                f"wrapper_options are Atari options but {env!r} is not an Atari id; "
                f"wrap the env yourself and pass the gym.Env instead."
            )
        if env.startswith("ALE/") or env.endswith(("NoFrameskip-v4", "NoFrameskip-v0")):
            from dqn_agents.wrappers import resolve_env_id

            resolve_env_id(env)  # an Atari spelling of an unknown game: names the closest ids
        try:
            if num_envs == 1:
                single = gym.make(env, render_mode=render_mode)
                single = gym.wrappers.RecordEpisodeStatistics(single)
                return BuiltEnv(EnvAdapter(single), env, None, False)
            vec = gym.make_vec(
                env,
                num_envs=num_envs,
                vectorization_mode="sync",
                wrappers=[gym.wrappers.RecordEpisodeStatistics],
                vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
            )
        except (gym.error.UnregisteredEnv, gym.error.DeprecatedEnv) as exc:
            raise ValueError(
                f"Unknown env id {env!r} ({exc}). Atari games: e.g. 'ALE/Pong-v5' or "
                f"'PongNoFrameskip-v4'; other envs: any registered Gymnasium id."
            ) from exc
        return BuiltEnv(EnvAdapter(vec), env, None, False)
    if num_envs != 1 and not (isinstance(env, VectorEnv) and env.num_envs == num_envs):
        raise ValueError(
            f"num_envs={num_envs} needs an env id (the agent builds the vector env); got an "
            f"env object {type(env).__name__}. Pass a gymnasium VectorEnv instead."
        )
    if isinstance(env, VectorEnv):
        return BuiltEnv(EnvAdapter(env), env_id_of(env), None, False)
    if isinstance(env, gym.Env):
        if not _has_wrapper(env, gym.wrappers.RecordEpisodeStatistics):
            env = gym.wrappers.RecordEpisodeStatistics(env)
        return BuiltEnv(EnvAdapter(env), env_id_of(env), None, False)
    raise TypeError(
        f"env must be an env id (str), a gymnasium.Env or a gymnasium VectorEnv, got "
        f"{type(env).__name__}. SB3 VecEnvs are not accepted: pass the gymnasium env instead."
    )


def env_and_spec(
    env: str | gym.Env | VectorEnv, num_envs: int, wrapper_options: Mapping[str, Any] | None
) -> tuple[BuiltEnv, ModelSpec]:
    """Build the env of a new model and read what the model will expect of envs.

    Args:
        env: Env id, ``gym.Env`` or Gymnasium ``VectorEnv``.
        num_envs: Number of parallel envs for an id (a ``VectorEnv`` keeps its own count;
            a ``gym.Env`` with ``num_envs > 1`` is refused).
        wrapper_options: ``AtariOptions`` overrides (Atari ids only).

    Returns:
        ``(built, spec)``.

    Raises:
        ValueError: See `make_env`, or observations no network takes.

    Example:
        >>> built, spec = env_and_spec("CartPole-v1", 1, None)
        >>> spec.env_id, spec.n_actions, built.adapter.num_envs
        ('CartPole-v1', 2, 1)
    """
    if isinstance(env, VectorEnv):
        num_envs = int(env.num_envs)
    built = make_env(env, num_envs, wrapper_options)
    adapter = built.adapter
    space = check_observation_space(adapter.observation_space)
    return built, ModelSpec(space, adapter.n_actions, built.env_id, built.wrapper_options)


def env_for_spec(
    spec: ModelSpec,
    env: str | gym.Env | VectorEnv | None,
    num_envs: int = 1,
    *,
    source: str = "The model",
    render_mode: str | None = None,
) -> BuiltEnv | None:
    """The env a model plays: ``env`` checked against its spec, else one of its own id.

    An id (given, or the model's own) is built with the model's wrapper options. The
    model's own id is built only when that is safe (`dqn_agents.spec.can_build`: an id
    read from a file never picks a module to import).

    Args:
        spec: What the model expects of an env.
        env: Env id, ``gym.Env``, ``VectorEnv``, or ``None`` for the model's own id.
        num_envs: Number of parallel envs for an id.
        source: What the model is, for error messages (e.g. its path).
        render_mode: Render mode for an env built from an id.

    Returns:
        The env, or ``None`` when ``env`` is ``None`` and the model has no id that is safe
        to build.

    Raises:
        dqn_agents.spec.EnvMismatchError: The env does not fit the model (a ``ValueError``).

    Example:
        >>> _, spec = env_and_spec("CartPole-v1", 1, None)
        >>> env_for_spec(spec, None).env_id
        'CartPole-v1'
    """
    if env is None:
        if spec.env_id is None or not can_build(spec.env_id):
            return None
        env = spec.env_id
    options = spec.wrapper_options if isinstance(env, str) else None
    built = make_env(
        env,
        env_count(env, num_envs),
        None if options is None else dict(options),
        render_mode=render_mode,
    )
    adapter = built.adapter
    spec.check_env(built.env_id, adapter.observation_space, adapter.action_space, source=source)
    return built
