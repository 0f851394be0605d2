"""What a saved model says about itself, and the training state that lets a run resume.

`model_meta` writes the ``config.json`` of every model (the agent's and the importers');
`TrainingState` is everything besides the weights that `DQN.save` stores for an exact
resume, with its codec to and from tensors + JSON (`TrainingState.encode` /
`TrainingState.decode`); `read_saved_model` reads and validates a whole model file into a
`SavedModel`, all that `DQN.load` builds an agent from. The file format itself is
`dqn_agents.serialization`.

Example:
    >>> import numpy as np
    >>> rng = capture_rngs(np.random.default_rng(0))
    >>> state = TrainingState(num_timesteps=5, n_updates=1, rng=rng)
    >>> tensors, data = state.encode()
    >>> TrainingState.decode(tensors, data, "example").num_timesteps
    5
"""

from __future__ import annotations

import dataclasses
import os
import random
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from dqn_agents import serialization as ser
from dqn_agents.config import DQNConfig
from dqn_agents.spec import ModelSpec
from dqn_agents.version import __version__

if TYPE_CHECKING:  # pragma: no cover
    from dqn_agents.learner import Learner

__all__ = [
    "SavedModel",
    "TrainingState",
    "capture_rngs",
    "invalid_training_state",
    "learner_fields",
    "model_meta",
    "newer_version",
    "read_saved_model",
    "restore_learner",
    "restore_rngs",
]

_TARGET_PREFIX = "target_net."


def model_meta(
    config: DQNConfig,
    spec: ModelSpec,
    network: Mapping[str, Any],
    num_timesteps: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    """The ``config.json`` of a model.

    Args:
        config: Its hyperparameters.
        spec: What it expects of an env.
        network: ``QNetwork.describe()`` of its network.
        num_timesteps: Agent steps it was trained for.
        **extra: More fields (e.g. ``imported_from``).

    Returns:
        The JSON-able dict `dqn_agents.serialization.validate_meta` accepts.
    """
    return {
        "format": ser.FORMAT_NAME,
        "format_version": ser.FORMAT_VERSION,
        "config": config.to_dict(),
        **spec.to_meta(),
        "network": dict(network),
        "versions": ser.library_versions(),
        "num_timesteps": int(num_timesteps),
        "algorithm": "DQN",
        **extra,
    }


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def newer_version(meta: Mapping[str, Any]) -> str | None:
    """The dqn-agents version that saved a model, when it is newer than this one.

    Args:
        meta: The model's ``config.json``.

    Returns:
        E.g. ``"9.9.0"``, or ``None`` for a model of this version or an older one.

    Example:
        >>> newer_version({"versions": {"dqn_agents": "999.0.0"}})
        '999.0.0'
    """
    saved = (meta.get("versions") or {}).get("dqn_agents")
    if isinstance(saved, str) and _release(saved) > _release(__version__):
        return saved
    return None


def capture_rngs(rng: np.random.Generator) -> dict[str, Any]:
    """The JSON form of the torch, numpy (``rng``) and Python ``random`` states.

    Args:
        rng: The agent's numpy generator.

    Returns:
        JSON-able states.
    """
    return dict(
        ser.rng_state_to_json(torch.get_rng_state(), rng.bit_generator.state, random.getstate())
    )


def restore_rngs(data: Mapping[str, Any], rng: np.random.Generator) -> None:
    """Set the torch, numpy (``rng``) and Python ``random`` states from `capture_rngs` JSON.

    Args:
        data: The JSON states.
        rng: The generator to restore in place.
    """
    torch_rng, numpy_rng, python_rng = ser.rng_state_from_json(dict(data))
    torch.set_rng_state(torch_rng)
    rng.bit_generator.state = numpy_rng
    random.setstate(python_rng)


def invalid_training_state(where: str, exc: BaseException) -> ser.ModelFormatError:
    """The error for a training state that cannot be read or applied.

    Args:
        where: The file.
        exc: What went wrong.

    Returns:
        A `dqn_agents.serialization.ModelFormatError` that says how to load the weights only.
    """
    return ser.ModelFormatError(
        f"{where}: the training state (optimizer/counters/RNG) is invalid: {exc!r}. "
        f"Load the weights only with DQN.load on a folder written by save_pretrained."
    )


@dataclass
class TrainingState:
    """Everything besides the weights that an exact resume needs.

    Attributes:
        num_timesteps: Agent steps taken.
        n_updates: Gradient updates done.
        updates_offset: ``n_updates`` when the current ``learn`` count started.
        episode_num: Finished episodes.
        total_timesteps: The target of the last ``learn`` call.
        exploration_rate: Epsilon at the last step.
        seed: The agent's seed.
        rng: `capture_rngs` states.
        predict_rng: The state of the generator `DQN.predict` explores with.
        ep_info_buffer: The last finished episodes (``r``, ``l``, ``t``).
        pending_autoreset: Which envs reset on their next step (vector envs).
        loss_sum: Losses summed since the last log line.
        loss_count: How many.
        last_obs: The observation the next action is chosen from.
        optimizer: The optimizer's ``state_dict`` (``None``: not stored / not restored).
        target_net: The target network's ``state_dict``.
    """

    num_timesteps: int = 0
    n_updates: int = 0
    updates_offset: int = 0
    episode_num: int = 0
    total_timesteps: int = 0
    exploration_rate: float = 1.0
    seed: int | None = None
    rng: dict[str, Any] = field(default_factory=dict)
    predict_rng: dict[str, Any] | None = None
    ep_info_buffer: list[dict[str, float]] = field(default_factory=list)
    pending_autoreset: list[bool] | None = None
    loss_sum: float = 0.0
    loss_count: int = 0
    last_obs: np.ndarray | None = None
    optimizer: dict[str, Any] | None = None
    target_net: dict[str, torch.Tensor] | None = None

    def encode(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Split into tensors (``optimizer.safetensors``) and JSON (``training_state.json``).

        Returns:
            ``(tensors, json)``.
        """
        tensors: dict[str, torch.Tensor] = {}
        data: dict[str, Any] = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("last_obs", "optimizer", "target_net")
        }
        if self.optimizer is not None:
            opt_tensors, data["optimizer"] = ser.flatten_optimizer_state(self.optimizer)
            tensors.update(opt_tensors)
        for key, value in (self.target_net or {}).items():
            tensors[_TARGET_PREFIX + key] = value
        if self.last_obs is not None:
            tensors["last_obs"] = torch.from_numpy(np.ascontiguousarray(self.last_obs))
        return tensors, ser.jsonable(data)

    @classmethod
    def decode(
        cls, tensors: Mapping[str, torch.Tensor], data: Mapping[str, Any], where: str
    ) -> TrainingState:
        """Read a training state back.

        Args:
            tensors: The tensors of ``optimizer.safetensors``.
            data: The parsed ``training_state.json``.
            where: The file, for messages.

        Returns:
            The state.

        Raises:
            dqn_agents.serialization.ModelFormatError: Missing or malformed fields.
        """
        try:
            optimizer = None
            if "optimizer" in data:
                opt_tensors = {k: v for k, v in tensors.items() if k.startswith("state.")}
                optimizer = ser.unflatten_optimizer_state(opt_tensors, data["optimizer"])
            target = {
                k[len(_TARGET_PREFIX) :]: v
                for k, v in tensors.items()
                if k.startswith(_TARGET_PREFIX)
            }
            last_obs = tensors.get("last_obs")
            pending = data.get("pending_autoreset")
            predict_rng = data.get("predict_rng")
            seed = data.get("seed")
            return cls(
                num_timesteps=int(data["num_timesteps"]),
                n_updates=int(data["n_updates"]),
                updates_offset=int(data.get("updates_offset", 0)),
                episode_num=int(data.get("episode_num", 0)),
                total_timesteps=int(data.get("total_timesteps", 0)),
                exploration_rate=float(data.get("exploration_rate", 1.0)),
                seed=None if seed is None else int(seed),
                rng=dict(data["rng"]),
                predict_rng=None if predict_rng is None else dict(predict_rng),
                ep_info_buffer=[
                    {k: float(v) for k, v in info.items()}
                    for info in data.get("ep_info_buffer", [])
                ],
                pending_autoreset=None if pending is None else [bool(p) for p in pending],
                loss_sum=float(data.get("loss_sum", 0.0)),
                loss_count=int(data.get("loss_count", 0)),
                last_obs=None if last_obs is None else last_obs.numpy().copy(),
                optimizer=optimizer,
                target_net=target or None,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise invalid_training_state(where, exc) from exc


def learner_fields(learner: Learner) -> dict[str, Any]:
    """The `TrainingState` fields that a `dqn_agents.learner.Learner` holds.

    Args:
        learner: The learner.

    Returns:
        ``n_updates``, ``loss_sum``, ``loss_count``, ``optimizer`` and ``target_net``
        (live tensors).
    """
    target = learner.q_net_target
    return {
        "n_updates": learner.n_updates,
        "loss_sum": learner.loss_sum,
        "loss_count": learner.loss_count,
        "optimizer": learner.optimizer.state_dict(),
        "target_net": None if target is None else target.state_dict(),
    }


def restore_learner(state: TrainingState, learner: Learner, *, restore_optimizer: bool) -> None:
    """Give a learner back its part of a training state (`learner_fields`).

    Args:
        state: The saved state.
        learner: The learner of a freshly built agent.
        restore_optimizer: Also load the optimizer's state (not when the optimizer changed;
            its hyperparameters always stay the learner's config's).

    Raises:
        KeyError: The saved optimizer or target network does not fit (also ``ValueError``,
            ``TypeError`` or ``RuntimeError``, from torch).
    """
    if restore_optimizer and state.optimizer is not None:
        learner.load_optimizer_state(state.optimizer)
    if learner.q_net_target is not None and state.target_net:
        learner.q_net_target.load_state_dict(state.target_net, strict=True)
    learner.n_updates = state.n_updates
    learner.loss_sum, learner.loss_count = state.loss_sum, state.loss_count


@dataclass
class SavedModel:
    """A model file read and validated: all that `DQN.load` builds an agent from.

    Attributes:
        where: The path it was read from (for messages).
        spec: What the model expects of an env.
        saved_config: The config stored in the file.
        config: ``saved_config`` with the caller's overrides.
        state_dict: The Q-network's weights.
        num_timesteps: Agent steps the model was trained for.
        training: The training state (``None`` for a weights-only file).
    """

    where: str
    spec: ModelSpec
    saved_config: DQNConfig
    config: DQNConfig
    state_dict: dict[str, torch.Tensor]
    num_timesteps: int = 0
    training: TrainingState | None = None

    def keeps_optimizer(self) -> bool:
        """Whether the saved optimizer state applies: the optimizer was not overridden.

        Warns (``RuntimeWarning``, pointing at the caller of ``DQN.load``) when it was.

        Returns:
            ``True`` when the optimizer and its kwargs are the saved ones.
        """
        saved, config = self.saved_config, self.config
        if (config.optimizer, config.optimizer_kwargs) == (
            saved.optimizer,
            saved.optimizer_kwargs,
        ):
            return True
        warnings.warn(
            f"{self.where}: the optimizer changed on load ({saved.optimizer} "
            f"{dict(saved.optimizer_kwargs)} -> {config.optimizer} "
            f"{dict(config.optimizer_kwargs)}); its saved state (moment estimates) "
            "is not restored, the new optimizer starts fresh.",
            RuntimeWarning,
            stacklevel=3,
        )
        return False

    def load_weights(self, q_net: torch.nn.Module) -> None:
        """Load the weights into a network built from `config`, strictly.

        Args:
            q_net: The online network.

        Raises:
            dqn_agents.serialization.ModelFormatError: The weights do not fit the network.
        """
        try:
            q_net.load_state_dict(self.state_dict, strict=True)
        except RuntimeError as exc:
            raise ser.ModelFormatError(
                f"{self.where}: the weights in model.safetensors do not match the network the "
                f"config describes ({self.config.network}, dueling={self.config.dueling}): {exc}"
            ) from exc


def read_saved_model(path: str | os.PathLike[str], overrides: Mapping[str, Any]) -> SavedModel:
    """Read a model zip or Hub-layout folder and validate it before anything is built.

    Warns (``UserWarning``, pointing at the caller of ``DQN.load``) when a newer
    dqn-agents saved it.

    Args:
        path: A ``.zip`` (suffix optional) or a folder with ``config.json`` +
            ``model.safetensors``.
        overrides: `DQNConfig` fields to change.

    Returns:
        The `SavedModel`.

    Raises:
        dqn_agents.serialization.ModelFormatError: Invalid, truncated or pickle file.
        FileNotFoundError: Nothing at ``path``.
        ValueError: An override that is not a valid `DQNConfig` field or value.
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
            stacklevel=3,
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
    return SavedModel(
        where,
        spec,
        saved_config,
        config,
        state_dict,
        int(meta.get("num_timesteps", 0)),
        training,
    )
