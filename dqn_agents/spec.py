"""What a model expects of an env, and the one check that an env fits it.

A `ModelSpec` holds the observation space, the action count and the env identity (id and
wrapper options) a model was trained with; it is saved in every ``config.json`` and read
back before anything is built. `same_task` is the one rule for "same game", `check_env`
the one fit check.

Example:
    >>> import gymnasium as gym, numpy as np
    >>> spec = ModelSpec(gym.spaces.Box(0, 1, (4,), np.float32), 2, "CartPole-v1")
    >>> ModelSpec.from_meta(spec.to_meta()) == spec
    True
    >>> same_task("ALE/Pong-v5", "PongNoFrameskip-v4")
    True
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import VectorEnv

from dqn_agents.serialization import jsonable

__all__ = [
    "EnvMismatchError",
    "ModelSpec",
    "can_build",
    "check_observation_space",
    "env_count",
    "env_id_of",
    "is_image_space",
    "same_task",
    "space_from_summary",
    "space_summary",
]


class EnvMismatchError(ValueError):
    """An env does not fit a model: another game, other spaces or another action set."""


def is_image_space(shape: Sequence[int], dtype: Any) -> bool:
    """Whether observations of this shape and dtype are channel-first uint8 images.

    Args:
        shape: Observation shape.
        dtype: Observation dtype (anything `numpy.dtype` accepts).

    Returns:
        True for uint8 arrays of shape ``(C, H, W)`` with ``C`` smaller than ``H`` and ``W``.

    Example:
        >>> is_image_space((4, 84, 84), "uint8"), is_image_space((84, 84, 4), "uint8")
        (True, False)
    """
    return (
        np.dtype(dtype) == np.uint8
        and len(shape) == 3
        and shape[0] < shape[1]
        and shape[0] < shape[2]
    )


def check_observation_space(space: gym.Space[Any]) -> gym.spaces.Box:
    """Refuse observation spaces DQN cannot take.

    Args:
        space: The env's observation space.

    Returns:
        The space (a ``Box``).

    Raises:
        ValueError: Not a ``Box``, or a uint8 3-D stack that is not channel-first.
    """
    if not isinstance(space, gym.spaces.Box):
        raise ValueError(
            f"DQN needs a Box observation space (an image stack or a vector), got {space!r}. "
            f"Flatten Dict/Tuple observations (gymnasium.wrappers.FlattenObservation) or "
            f"one-hot encode Discrete ones."
        )
    shape = space.shape
    if space.dtype == np.uint8 and len(shape) == 4 and shape[-1] in (3, 4):
        raise ValueError(
            f"The CNNs take grayscale frame stacks (C, H, W); got colour frame stacks of shape "
            f"{shape} (stack, H, W, RGB), which would otherwise be flattened into an MLP. Use "
            f"grayscale frames (the papers' setting: wrapper_options grayscale=True, the "
            f"default), or merge the colours into channels yourself (e.g. a "
            f"gymnasium.wrappers.TransformObservation to ({shape[0] * shape[-1]}, "
            f"{shape[1]}, {shape[2]}))."
        )
    if space.dtype == np.uint8 and len(shape) == 3 and not is_image_space(shape, space.dtype):
        raise ValueError(
            f"Image observations must be channel-first stacks (C, H, W) with C < H, W; got "
            f"shape {shape}. Use dqn_agents.wrappers.make_atari / wrap_atari, or a "
            f"channel-first transform (e.g. gymnasium.wrappers.FrameStackObservation over "
            f"grayscale frames)."
        )
    return space


def space_summary(space: gym.spaces.Box) -> dict[str, Any]:
    """The JSON form of a ``Box`` (bounds collapsed to min/max for large spaces).

    Args:
        space: The observation space.

    Returns:
        ``{"shape", "dtype", "low", "high"}``.
    """
    if not isinstance(space, gym.spaces.Box):
        raise ValueError(f"Only Box observation spaces are supported, got {space!r}.")
    out: dict[str, Any] = {"shape": list(space.shape), "dtype": str(space.dtype)}
    if space.low.size <= 64:
        out["low"], out["high"] = jsonable(space.low), jsonable(space.high)
    else:
        out["low"], out["high"] = jsonable(space.low.min()), jsonable(space.high.max())
    return out


def space_from_summary(summary: Mapping[str, Any]) -> gym.spaces.Box:
    """Rebuild the ``Box`` that `space_summary` described.

    Args:
        summary: The JSON form.

    Returns:
        The space.
    """
    dtype = np.dtype(summary["dtype"])
    shape = tuple(int(s) for s in summary["shape"])
    low = np.broadcast_to(np.asarray(summary.get("low", -np.inf), dtype=np.float64), shape)
    high = np.broadcast_to(np.asarray(summary.get("high", np.inf), dtype=np.float64), shape)
    return gym.spaces.Box(low.astype(dtype), high.astype(dtype), shape, dtype)


def env_id_of(env: Any) -> str | None:
    """The registered id of an env: the string itself, ``env.spec.id`` or the unwrapped one's.

    Args:
        env: An env id, a ``gym.Env``, a ``VectorEnv`` or ``None``.

    Returns:
        The id, or ``None`` when there is none (an env not made with ``gym.make``).

    Example:
        >>> env_id_of(gym.make("CartPole-v1")), env_id_of("ALE/Pong-v5"), env_id_of(None)
        ('CartPole-v1', 'ALE/Pong-v5', None)
    """
    if env is None or isinstance(env, str):
        return env
    for candidate in (env, getattr(env, "unwrapped", None)):
        env_id = getattr(getattr(candidate, "spec", None), "id", None)
        if isinstance(env_id, str) and env_id:
            return env_id
    return None


def _base_name(env_id: str) -> str:
    name = re.sub(r"-v\d+$", "", env_id.split("/")[-1])
    return name.removesuffix("NoFrameskip").removesuffix("Deterministic").lower()


def same_task(trained: str, given: str) -> bool:
    """Whether two env ids name the same task (Atari ids compare by game).

    Args:
        trained: The id a model was trained on.
        given: The id of the env offered to it.

    Returns:
        True for equal ids and for two ids of the same Atari game (``ALE/Pong-v5``,
        ``PongNoFrameskip-v4``, ``Pong-v4``...).

    Example:
        >>> same_task("ALE/Breakout-v5", "ALE/Pong-v5"), same_task("CartPole-v1", "CartPole-v0")
        (False, False)
    """
    if trained == given:
        return True
    from dqn_agents.wrappers.ids import is_atari_id, resolve_env_id

    try:
        if is_atari_id(trained) and is_atari_id(given):
            return bool(resolve_env_id(trained).game == resolve_env_id(given).game)
    except ValueError:
        pass
    return _base_name(trained) == _base_name(given) and (
        "/" in trained or "/" in given or "NoFrameskip" in trained + given
    )


def can_build(env_id: str) -> bool:
    """Whether this library builds ``env_id`` without importing a module the id names.

    Atari ids and ids already in Gymnasium's registry qualify; ``"module:Env-v0"`` ids
    (which make ``gym.make`` import ``module``) never do.

    Args:
        env_id: The id.

    Returns:
        True when the id can be built safely.
    """
    from dqn_agents.wrappers.ids import is_atari_id

    if ":" in env_id:
        return False
    return is_atari_id(env_id) or env_id in gym.registry


def env_count(env: str | gym.Env[Any, Any] | VectorEnv, configured: int) -> int:
    """Envs that ``env`` gives: its own count, 1 for a ``gym.Env``, ``configured`` for an id.

    Args:
        env: An env id, ``gym.Env`` or ``VectorEnv``.
        configured: The count an id is built with.

    Returns:
        The number of envs.
    """
    if isinstance(env, VectorEnv):
        return int(env.num_envs)
    return int(configured) if isinstance(env, str) else 1


@dataclass(frozen=True, eq=False)
class ModelSpec:
    """What a model expects of an env.

    Attributes:
        observation_space: The observation ``Box`` the network takes.
        n_actions: The size of the ``Discrete`` action space.
        env_id: The env id it was trained on (``None`` for an env without one).
        wrapper_options: The Atari wrapper options of an Atari id (``None`` otherwise).
    """

    observation_space: gym.spaces.Box
    n_actions: int
    env_id: str | None = None
    wrapper_options: Mapping[str, Any] | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ModelSpec):
            return NotImplemented
        return self.to_meta() == other.to_meta()

    def to_meta(self) -> dict[str, Any]:
        """The JSON fields of ``config.json`` that describe the env.

        Returns:
            ``{"env_id", "wrapper_options", "observation_space", "action_space"}``.
        """
        return {
            "env_id": self.env_id,
            "wrapper_options": None if self.wrapper_options is None else dict(self.wrapper_options),
            "observation_space": space_summary(self.observation_space),
            "action_space": {"n": int(self.n_actions)},
        }

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> ModelSpec:
        """Read the spec back from a model's ``config.json``.

        Args:
            meta: The parsed ``config.json``.

        Returns:
            The spec.

        Raises:
            ValueError: The fields are missing or malformed.
        """
        try:
            space = space_from_summary(meta["observation_space"])
            n_actions = int(meta["action_space"]["n"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(
                f"config.json lacks a valid observation_space/action_space ({exc!r})."
            ) from exc
        env_id = meta.get("env_id")
        options = meta.get("wrapper_options")
        return cls(
            space,
            n_actions,
            env_id if isinstance(env_id, str) else None,
            dict(options) if isinstance(options, Mapping) else None,
        )

    @property
    def game(self) -> str | None:
        """The Atari game name of an Atari id, else the env id itself (replay files use it)."""
        if self.env_id is None:
            return None
        from dqn_agents.wrappers.ids import is_atari_id, resolve_env_id

        return resolve_env_id(self.env_id).game if is_atari_id(self.env_id) else self.env_id

    def check_env(
        self,
        env_id: str | None,
        observation_space: gym.Space[Any],
        action_space: gym.Space[Any],
        *,
        source: str = "The model",
    ) -> None:
        """Refuse an env of another task, other observations or another action set.

        Args:
            env_id: The env's id (``None``: not compared).
            observation_space: The env's observation space.
            action_space: The env's action space.
            source: What the model is, for the message (e.g. its path).

        Raises:
            EnvMismatchError: What differs, and what to pass instead.
        """
        model_id = self.env_id
        if model_id is not None and env_id is not None and not same_task(model_id, env_id):
            raise EnvMismatchError(
                f"{source} was trained on {model_id!r} but the env is {env_id!r}; pass an "
                f"{model_id!r} env (or no env: DQN.load(path) builds it from the id)."
            )
        want = self.observation_space
        if (
            tuple(getattr(observation_space, "shape", None) or ()) != tuple(want.shape)
            or getattr(observation_space, "dtype", None) != want.dtype
        ):
            raise EnvMismatchError(
                f"{source} expects observations of shape {want.shape} {want.dtype}, the env "
                f"gives {getattr(observation_space, 'shape', None)} "
                f"{getattr(observation_space, 'dtype', None)}."
            )
        n = getattr(action_space, "n", None)
        if not isinstance(action_space, gym.spaces.Discrete) or int(n or 0) != self.n_actions:
            raise EnvMismatchError(
                f"{source} has {self.n_actions} actions, the env has {action_space}; pick the "
                f"same game / action set (full_action_space) as in training."
            )
