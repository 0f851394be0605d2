"""Hyperparameters of DQN as one frozen, documented, JSON-able dataclass.

`DQNConfig` holds every hyperparameter of the learner. It is immutable (derive
variants with `DQNConfig.replace`), validated
on construction (errors name the field, the value received and what is allowed; counts
are bounded above by `UPPER_BOUNDS`) and saved with every model as plain JSON (`to_dict` /
`from_dict` round-trip exactly).
This module imports neither torch nor gymnasium.

Named presets (`PRESETS`, `DQNConfig.preset`):

* ``"default"`` (alias ``"cleanrl"``): the tuned modern Nature-DQN setup of the best
  open reproductions (CleanRL ``dqn_atari.py``, SB3 rl-zoo ``atari.yml``): Adam 1e-4,
  batch 32, gamma 0.99, one update every 4 steps, target network synced every 1,000
  environment steps (= 250 updates), epsilon 1.0 -> 0.01 over the first 10 % of
  training, 1M replay, learning starts after 80,000 steps (CleanRL; the zoo uses 100k),
  Huber loss, gradient-norm clipping at 10 (SB3).
* ``"nature2015"``: Mnih et al. 2015, *Human-level control through deep reinforcement
  learning*, Extended Data Table 1 (see the preset's notes below).
* ``"mnih2013"``: Mnih et al. 2013, *Playing Atari with Deep Reinforcement Learning*.
* ``"atari-fast"``: Atari in wall-clock on a CPU (Pong to 18 within ~1M agent steps):
  8 envs, 0.125 updates per step, n-step 3, double Q, the 2013 network.

Units. Every count below is in **agent steps** (= environment transitions, summed over
all ``num_envs`` sub-environments; one agent step is 4 emulator frames with the usual
frame skip), except ``target_update_interval``, which counts **gradient updates** (the
unit of the Nature paper's parameter C). DeepMind's papers say "frames" where their
code counts agent steps (the Nature paper's "50 million frames" are 50M agent steps =
200M emulator frames, "around 38 days of game experience"), so the presets read the
papers' "frames" as agent steps.

Example:
    >>> from dqn_agents.config import DQNConfig
    >>> cfg = DQNConfig.preset("nature2015", learning_starts=10_000)
    >>> cfg.optimizer, cfg.network, cfg.learning_starts
    ('rmsprop', 'nature', 10000)
    >>> DQNConfig.from_dict(cfg.to_dict()) == cfg
    True
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "LOSSES",
    "MAX_HIDDEN_LAYERS",
    "NETWORKS",
    "OPTIMIZERS",
    "PRECISIONS",
    "PRESETS",
    "UPPER_BOUNDS",
    "ConfigKeyError",
    "DQNConfig",
    "OptimizerKwargValue",
    "closest_names",
]

LOSSES: tuple[str, ...] = ("huber", "mse")
"""Accepted values of `DQNConfig.loss`."""

OPTIMIZERS: tuple[str, ...] = ("adam", "rmsprop")
"""Accepted values of `DQNConfig.optimizer`."""

NETWORKS: tuple[str, ...] = ("auto", "nature", "mnih2013", "mlp")
"""Accepted values of `DQNConfig.network`."""

PRECISIONS: tuple[str, ...] = ("float32", "bf16")
"""Accepted values of `DQNConfig.precision` (the arithmetic of the update's forwards)."""

UPPER_BOUNDS: dict[str, int] = {
    "buffer_size": 1_000_000_000,
    "learning_starts": 10**12,
    "batch_size": 65_536,
    "train_freq": 10**9,
    "gradient_steps": 10_000,
    "target_update_interval": 10**12,
    "exploration_steps": 10**12,
    "n_step": 1_000,
    "num_envs": 256,
    "eval_qmax_states": 16_384,
    "mlp_hidden_sizes": 65_536,
}
"""The largest value each count of `DQNConfig` accepts (for ``mlp_hidden_sizes``: each width).

Far above what any published setup uses (the papers: replay 1M, batch 32, 1 to 8 envs,
n-step 3, 512 held-out states), and low enough that a config read from an untrusted
model file cannot ask for thousands of environments or a network of billions of
parameters before anything is checked (see ``docs/security.md``)."""

MAX_HIDDEN_LAYERS = 32
"""The most hidden layers ``mlp_hidden_sizes`` may list."""

_OPTIMIZER_KEYS: dict[str, tuple[str, ...]] = {
    "adam": ("betas", "eps", "weight_decay", "amsgrad", "foreach", "fused", "capturable"),
    "rmsprop": ("alpha", "eps", "weight_decay", "momentum", "centered", "foreach", "capturable"),
}

OptimizerKwargValue = bool | int | float | tuple[float, ...]
"""Type of one value in `DQNConfig.optimizer_kwargs` (tuples for e.g. Adam's ``betas``)."""


class ConfigKeyError(ValueError, TypeError):
    """An unknown hyperparameter name (a `ValueError`, and a `TypeError` like Python's own)."""


def closest_names(name: str, valid: list[str] | tuple[str, ...], n: int = 3) -> list[str]:
    """Return up to ``n`` names of ``valid`` closest to ``name`` (difflib ratio >= 0.5).

    Args:
        name: The misspelt name.
        valid: The names to choose from.
        n: How many suggestions at most.

    Returns:
        The suggestions, best first (possibly empty).
    """
    return difflib.get_close_matches(name, list(valid), n=n, cutoff=0.5)


def _unknown_key_error(key: str, valid: list[str], what: str, context: str = "") -> ConfigKeyError:
    hints = closest_names(key, valid)
    hint = f" Did you mean {' or '.join(repr(h) for h in hints)}?" if hints else ""
    return ConfigKeyError(
        f"Unknown {what} {key!r}{context}.{hint} Valid names: {', '.join(sorted(valid))}."
    )


@dataclass(frozen=True)
class DQNConfig:
    """All hyperparameters of a DQN learner (immutable, JSON-able, validated).

    Construct with keyword arguments (unknown names raise `ConfigKeyError`, a
    `ValueError`, naming the closest valid names), from a preset with
    `DQNConfig.preset`, or from saved JSON with `DQNConfig.from_dict`.
    Counts are in agent steps (transitions summed over all environments) unless a
    field says otherwise; see the module docstring.
    """

    learning_rate: float = 1e-4
    """Optimizer step size (CleanRL / rl-zoo: Adam 1e-4; Nature: RMSprop 2.5e-4)."""

    buffer_size: int = 1_000_000
    """Replay capacity in transitions, shared by all ``num_envs`` streams."""

    learning_starts: int = 80_000
    """Agent steps of uniformly random play that fill the replay before the first update
    (the Nature paper's "replay start size"; CleanRL 80k, rl-zoo 100k, Nature 50k)."""

    batch_size: int = 32
    """Transitions per minibatch."""

    gamma: float = 0.99
    """Discount factor, in [0, 1]."""

    train_freq: int = 4
    """One training round every ``train_freq`` agent steps (the Nature paper's "update
    frequency": actions selected between successive SGD updates)."""

    gradient_steps: int = 1
    """Gradient updates per training round."""

    target_update_interval: int = 250
    """Target-network sync period in **gradient updates** (the Nature paper's C);
    ``0`` means no target network (bootstrap from the online network, as in 2013).
    The default 250 updates = 1,000 agent steps at ``train_freq=4``, which is what
    CleanRL (``target_network_frequency=1000``) and SB3 (``target_update_interval=1000``)
    do: both count that 1,000 in environment steps, not updates."""

    tau: float = 1.0
    """Target update coefficient: ``1.0`` copies the online weights (hard update),
    a value in (0, 1) applies Polyak averaging ``target <- tau*online + (1-tau)*target``
    every ``target_update_interval`` updates."""

    exploration_initial_eps: float = 1.0
    """Epsilon of epsilon-greedy at step 0."""

    exploration_final_eps: float = 0.01
    """Epsilon after annealing (CleanRL / rl-zoo 0.01; both papers 0.1)."""

    exploration_fraction: float = 0.1
    """Fraction of ``total_timesteps`` over which epsilon is annealed linearly (ignored
    when ``exploration_steps`` is set)."""

    exploration_steps: int | None = None
    """Absolute annealing duration in agent steps; overrides ``exploration_fraction``
    (the papers anneal over the first 1M steps whatever the run length)."""

    double_q: bool = False
    """Double DQN (van Hasselt et al. 2016): the online network picks the next action,
    the target network evaluates it."""

    dueling: bool = False
    """Dueling head (Wang et al. 2016): separate value and advantage streams,
    ``Q = V + A - mean(A)``."""

    n_step: int = 1
    """Multi-step returns: bootstrap after ``n_step`` rewards (truncated at episode ends);
    1 is the papers' one-step Q-learning."""

    loss: str = "huber"
    """``"huber"`` (the Nature paper's error clipping to [-1, 1]; SB3 and CleanRL's
    smooth L1) or ``"mse"`` (the 2013 paper's squared error)."""

    huber_delta: float = 1.0
    """Threshold of the Huber loss (1.0 = clipping the TD error to [-1, 1])."""

    optimizer: str = "adam"
    """``"adam"`` or ``"rmsprop"`` (``torch.optim.Adam`` / ``torch.optim.RMSprop``)."""

    optimizer_kwargs: tuple[tuple[str, OptimizerKwargValue], ...] = ()
    """Extra keyword arguments of the torch optimizer, e.g. ``{"eps": 1.5e-4}``. A dict
    is accepted and stored as sorted ``(name, value)`` pairs (hashable); ``to_dict``
    writes a JSON object. Use ``dict(cfg.optimizer_kwargs)`` to pass them on."""

    max_grad_norm: float | None = 10.0
    """Clip the global gradient norm to this value (SB3's 10); ``None`` disables."""

    network: str = "auto"
    """Q-network: ``"nature"`` (3 conv + 512), ``"mnih2013"`` (2 conv + 256), ``"mlp"``,
    or ``"auto"`` (Nature CNN for uint8 image stacks, MLP otherwise)."""

    mlp_hidden_sizes: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the MLP network (SB3's default ``[64, 64]``)."""

    num_envs: int = 1
    """Parallel environments feeding the learner."""

    eval_qmax_states: int = 512
    """Number of fixed held-out states for the papers' "average max Q" learning curve
    (collected by random play at the start of training); 0 disables the metric."""

    precision: str = "float32"
    """``"float32"``, or ``"bf16"``: the update's forward passes run under bfloat16
    ``torch.autocast`` (weights, gradients, optimizer state, targets and loss stay
    float32; acting stays float32). Opt-in because it changes the numerics. Measured
    with the ``atari-fast`` preset on an AVX-512 BF16 CPU: updates about 1.3x faster, the
    whole loop about 1.1x; several times *slower* on AVX2-only CPUs (a warning says so)."""

    def __post_init__(self) -> None:
        """Normalise container types and validate every value."""
        kwargs = self.optimizer_kwargs
        if isinstance(kwargs, Mapping):
            pairs = list(kwargs.items())
        elif isinstance(kwargs, (list, tuple)):
            try:
                pairs = [(k, v) for k, v in kwargs]
            except (TypeError, ValueError):
                raise ValueError(
                    "optimizer_kwargs must be a dict or a sequence of (name, value) pairs, "
                    f"got {kwargs!r}."
                ) from None
        else:
            raise ValueError(
                f"optimizer_kwargs must be a dict or a sequence of (name, value) pairs, "
                f"got {type(kwargs).__name__}: {kwargs!r}."
            )
        object.__setattr__(
            self,
            "optimizer_kwargs",
            tuple(sorted((str(k), _normalise_kwarg(str(k), v)) for k, v in pairs)),
        )
        hidden = self.mlp_hidden_sizes
        if isinstance(hidden, int) or not isinstance(hidden, (list, tuple)):
            raise ValueError(
                f"mlp_hidden_sizes must be a sequence of positive ints, got {hidden!r}."
            )
        object.__setattr__(self, "mlp_hidden_sizes", tuple(hidden))
        for name in ("learning_rate", "gamma", "tau", "huber_delta"):
            object.__setattr__(self, name, _as_float(name, getattr(self, name)))
        for name in ("exploration_initial_eps", "exploration_final_eps", "exploration_fraction"):
            object.__setattr__(self, name, _as_float(name, getattr(self, name)))
        if self.max_grad_norm is not None:
            object.__setattr__(
                self, "max_grad_norm", _as_float("max_grad_norm", self.max_grad_norm)
            )
        self._validate()

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:
        _check_int("buffer_size", self.buffer_size, 1)
        _check_int("learning_starts", self.learning_starts, 0)
        _check_int("batch_size", self.batch_size, 1)
        _check_int("train_freq", self.train_freq, 1)
        _check_int("gradient_steps", self.gradient_steps, 1)
        _check_int("target_update_interval", self.target_update_interval, 0)
        _check_int("n_step", self.n_step, 1)
        _check_int("num_envs", self.num_envs, 1)
        _check_int("eval_qmax_states", self.eval_qmax_states, 0)
        if self.exploration_steps is not None:
            _check_int("exploration_steps", self.exploration_steps, 0)
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}.")
        for name in (
            "gamma",
            "exploration_initial_eps",
            "exploration_final_eps",
            "exploration_fraction",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value!r}.")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"tau must be in (0, 1] (1.0 = hard target update), got {self.tau!r}.")
        if not self.huber_delta > 0:
            raise ValueError(f"huber_delta must be > 0, got {self.huber_delta!r}.")
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            raise ValueError(
                f"max_grad_norm must be > 0 or None (no clipping), got {self.max_grad_norm!r}."
            )
        for name, allowed in (
            ("loss", LOSSES),
            ("optimizer", OPTIMIZERS),
            ("network", NETWORKS),
            ("precision", PRECISIONS),
        ):
            value = getattr(self, name)
            if value not in allowed:
                hints = closest_names(str(value), allowed)
                hint = f" Did you mean {hints[0]!r}?" if hints else ""
                raise ValueError(
                    f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}.{hint}"
                )
        for width in self.mlp_hidden_sizes:
            if isinstance(width, bool) or not isinstance(width, int) or width < 1:
                raise ValueError(
                    f"mlp_hidden_sizes must hold positive ints, got {self.mlp_hidden_sizes!r}."
                )
            if width > UPPER_BOUNDS["mlp_hidden_sizes"]:
                raise ValueError(
                    f"mlp_hidden_sizes must hold widths <= {UPPER_BOUNDS['mlp_hidden_sizes']}, "
                    f"got {width}."
                )
        if len(self.mlp_hidden_sizes) > MAX_HIDDEN_LAYERS:
            raise ValueError(
                f"mlp_hidden_sizes may list at most {MAX_HIDDEN_LAYERS} layers, got "
                f"{len(self.mlp_hidden_sizes)}."
            )
        for flag in ("double_q", "dueling"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"{flag} must be a bool, got {getattr(self, flag)!r}.")
        valid_keys = _OPTIMIZER_KEYS[self.optimizer]
        for key, _ in self.optimizer_kwargs:
            if key in ("lr", "params"):
                raise ValueError(
                    f"optimizer_kwargs must not hold {key!r}: set learning_rate instead."
                )
            if key not in valid_keys:
                raise _unknown_key_error(
                    key, list(valid_keys), "optimizer_kwargs key", f" for {self.optimizer!r}"
                )

    # ------------------------------------------------------------------ derived values
    def exploration_duration(self, total_timesteps: int) -> int:
        """Number of agent steps over which epsilon is annealed.

        Args:
            total_timesteps: Length of the training run in agent steps.

        Returns:
            ``exploration_steps`` when set, else ``int(exploration_fraction * total_timesteps)``.
        """
        if self.exploration_steps is not None:
            return self.exploration_steps
        return int(self.exploration_fraction * total_timesteps)

    @property
    def optimizer_kwargs_dict(self) -> dict[str, OptimizerKwargValue]:
        """``optimizer_kwargs`` as a dict, ready for ``torch.optim.<Optimizer>(**kwargs)``."""
        return dict(self.optimizer_kwargs)

    @property
    def use_target_network(self) -> bool:
        """Whether a separate target network is kept (``target_update_interval > 0``)."""
        return self.target_update_interval > 0

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict of all fields (tuples become lists).

        Returns:
            ``{field: value}``; ``optimizer_kwargs`` is a JSON object.
        """
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "optimizer_kwargs":
                value = {k: list(v) if isinstance(v, tuple) else v for k, v in value}
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DQNConfig:
        """Build a config from `to_dict` output (e.g. read back from ``config.json``).

        Missing fields take their defaults (files written by older versions load).

        Args:
            data: Mapping of field names to JSON values.

        Returns:
            The config.

        Raises:
            ValueError: On an unknown key (the message names the closest valid names)
                or an invalid value.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"DQNConfig.from_dict expects a mapping, got {type(data).__name__}.")
        _check_keys(data.keys())
        return cls(**dict(data))

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Return the names of all hyperparameters, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    def replace(self, **changes: Any) -> DQNConfig:
        """Return a copy with some fields changed (validated like construction).

        Args:
            **changes: New field values.

        Returns:
            The new config.

        Raises:
            ValueError: On an unknown field name or an invalid value.
        """
        _check_keys(changes.keys())
        return dataclasses.replace(self, **changes)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> DQNConfig:
        """Return a named preset, optionally with some fields overridden.

        Args:
            name: One of ``"default"``, ``"cleanrl"``, ``"nature2015"``, ``"mnih2013"``.
            **overrides: Fields to change.

        Returns:
            The config.

        Raises:
            ValueError: On an unknown preset or field name.
        """
        if not isinstance(name, str):
            raise ValueError(f"A preset is named by a string {sorted(PRESETS)}, got {name!r}.")
        if name not in PRESETS:
            raise _unknown_key_error(name, list(PRESETS), "DQNConfig preset")
        return PRESETS[name].replace(**overrides) if overrides else PRESETS[name]


def _check_keys(keys: Any) -> None:
    valid = [f.name for f in dataclasses.fields(DQNConfig)]
    for key in keys:
        if key not in valid:
            raise _unknown_key_error(str(key), valid, "DQNConfig field")


_dataclass_init = DQNConfig.__init__


def _checked_init(self: DQNConfig, *args: Any, **kwargs: Any) -> None:
    _check_keys(kwargs.keys())
    _dataclass_init(self, *args, **kwargs)


_checked_init.__doc__ = _dataclass_init.__doc__
_checked_init.__signature__ = inspect.signature(_dataclass_init)  # type: ignore[attr-defined]
_checked_init.__wrapped__ = _dataclass_init  # type: ignore[attr-defined]
setattr(DQNConfig, "__init__", _checked_init)  # noqa: B010


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {type(value).__name__}: {value!r}.")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {value!r}.")
    return out


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {type(value).__name__}: {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}.")
    maximum = UPPER_BOUNDS.get(name)
    if maximum is not None and value > maximum:
        raise ValueError(
            f"{name} must be <= {maximum:_}, got {value:_} (far beyond any real setup: a "
            "typo, or a model file asking for more than it can need)."
        )


def _normalise_kwarg(key: str, value: Any) -> OptimizerKwargValue:
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (list, tuple)) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
    ):
        return tuple(float(v) for v in value)
    raise ValueError(
        f"optimizer_kwargs[{key!r}] must be a bool, a number or a list of numbers, "
        f"got {type(value).__name__}: {value!r}."
    )


# ---------------------------------------------------------------------- presets
_DEFAULT = DQNConfig()

_NATURE_2015 = DQNConfig(
    learning_rate=2.5e-4,
    buffer_size=1_000_000,
    learning_starts=50_000,
    batch_size=32,
    gamma=0.99,
    train_freq=4,
    gradient_steps=1,
    target_update_interval=10_000,
    tau=1.0,
    exploration_initial_eps=1.0,
    exploration_final_eps=0.1,
    exploration_steps=1_000_000,
    loss="huber",
    huber_delta=1.0,
    optimizer="rmsprop",
    optimizer_kwargs=(("alpha", 0.95), ("centered", True), ("eps", 0.01), ("momentum", 0.0)),
    max_grad_norm=None,
    network="nature",
)

_MNIH_2013 = DQNConfig(
    learning_rate=2e-4,
    buffer_size=1_000_000,
    learning_starts=50_000,
    batch_size=32,
    gamma=0.99,
    train_freq=1,
    gradient_steps=1,
    target_update_interval=0,
    tau=1.0,
    exploration_initial_eps=1.0,
    exploration_final_eps=0.1,
    exploration_steps=1_000_000,
    loss="mse",
    optimizer="rmsprop",
    optimizer_kwargs=(("alpha", 0.99), ("centered", False), ("eps", 1e-6), ("momentum", 0.0)),
    max_grad_norm=None,
    network="mnih2013",
)

_ATARI_FAST = DQNConfig(
    learning_rate=1e-4,
    buffer_size=100_000,
    learning_starts=10_000,
    batch_size=32,
    gamma=0.99,
    train_freq=8,
    gradient_steps=1,
    target_update_interval=500,
    tau=1.0,
    exploration_initial_eps=1.0,
    exploration_final_eps=0.01,
    exploration_steps=250_000,
    double_q=True,
    n_step=3,
    loss="huber",
    optimizer="adam",
    max_grad_norm=10.0,
    network="mnih2013",
    num_envs=8,
)

PRESETS: dict[str, DQNConfig] = {
    "default": _DEFAULT,
    "cleanrl": _DEFAULT,
    "nature2015": _NATURE_2015,
    "mnih2013": _MNIH_2013,
    "atari-fast": _ATARI_FAST,
}
"""Named configurations.

* ``"default"`` / ``"cleanrl"``: CleanRL ``dqn_atari.py`` / SB3 rl-zoo tuned Nature DQN
  (the class defaults).
* ``"nature2015"``: Extended Data Table 1 of Mnih et al. 2015: minibatch 32, replay 1M,
  agent history 4, target update C = 10,000 parameter updates (the table's unit;
  DeepMind's Lua code counted it in agent steps, i.e. 2,500 updates: override
  ``target_update_interval=2500`` for that), discount 0.99, action repeat 4 (wrapper),
  update frequency 4, learning rate 0.00025, RMSprop gradient momentum 0.95, squared
  gradient momentum 0.95, min squared gradient 0.01, epsilon 1 -> 0.1 over the first 1M
  steps, replay start 50,000, no-op max 30 (wrapper), error clipping to [-1, 1] (= Huber
  loss, delta 1), no gradient-norm clipping. DeepMind's RMSprop is the centered variant
  ``g / sqrt(E[g^2] - E[g]^2 + 0.01)``; the closest torch optimizer is
  ``RMSprop(alpha=0.95, eps=0.01, centered=True)``, which adds eps *outside* the square
  root (``g / (sqrt(E[g^2] - E[g]^2) + 0.01)``), so steps differ slightly when the
  variance is tiny. DeepMind's code also kept epsilon at 1 until replay start; here the
  annealing starts at step 0, as the paper's text says.
* ``"mnih2013"``: Mnih et al. 2013: conv 16x8x8/4 + 32x4x4/2 + 256 hidden units, RMSprop,
  minibatch 32, replay 1M, epsilon 1 -> 0.1 over the first 1M "frames" (read as agent
  steps, like the Nature paper and Sprague's ``deep_q_rl`` reproduction), no target
  network, squared-error loss, one update per step (Algorithm 1). The paper states
  neither learning rate, RMSprop constants, discount nor replay start; we take
  lr 2e-4 with RMSprop decay 0.99 and eps 1e-6 from ``deep_q_rl``'s ``run_nips.py`` (the
  reference reproduction of this paper), the Nature paper's discount 0.99 (``deep_q_rl``
  used 0.95) and DeepMind's replay start of 50,000 steps (``deep_q_rl``: 100).
* ``"atari-fast"``: learn Atari in wall-clock on a CPU, where the number of updates sets
  the time. One update per 8 agent steps over 8 envs (0.125 updates per step; Tianshou's
  Atari DQN uses 0.1 with 10 envs), n-step 3 returns (Rainbow; Tianshou), double Q, target
  sync every 500 updates, replay 100k and Adam 1e-4 (Tianshou; Lapan's Pong setup), a
  10k-step warm-up (Lapan), epsilon 1 -> 0.01 over 250k steps (Lapan decays over ~150k
  frames to 0.01/0.02), Huber loss and gradient-norm clipping at 10 (SB3), and the 2013
  paper's network (2 conv + 256 units), whose update costs about half the Nature CNN's
  on our CPUs (measured: 18.7 vs 39.1 ms per batch-32 update, docs/benchmarks.md).
"""
