"""Q-networks: the Nature CNN (2015), the 2013 CNN, an MLP, and a dueling head.

Every network is one `QNetwork`: a ``features`` trunk (convolutions + flatten, or just
a flatten for vector observations), a hidden ``fc`` stack and a linear ``head`` that
outputs one Q-value per action, shape ``(batch, n_actions)``. uint8 image observations
are converted to float32 and divided by 255 inside ``forward`` (as SB3 and CleanRL do),
so the replay buffer and the agent pass raw uint8 stacks.

State-dict key layout (what importers map onto; ReLU / Flatten have no parameters,
hence the gaps in the numbering):

| Network | Keys (``.weight`` and ``.bias`` each) | Shapes (weight) |
|---|---|---|
| ``nature`` | ``features.0`` conv 32x8x8 stride 4 | ``(32, C, 8, 8)`` |
| | ``features.2`` conv 64x4x4 stride 2 | ``(64, 32, 4, 4)`` |
| | ``features.4`` conv 64x3x3 stride 1 | ``(64, 64, 3, 3)`` |
| | ``fc.0`` linear 3136 -> 512 | ``(512, 3136)`` |
| | ``head`` linear 512 -> n_actions | ``(n_actions, 512)`` |
| ``mnih2013`` | ``features.0`` conv 16x8x8/4, ``features.2`` conv 32x4x4/2 | |
| | ``fc.0`` linear 2592 -> 256, ``head`` linear 256 -> n_actions | |
| ``mlp`` | ``fc.0``, ``fc.2``, ... hidden linears (ReLU between), ``head`` | |
| dueling | ``features.*`` as above; no ``fc``/``head``; instead | |
| | ``value.0``, ``value.2``, ... hidden linears then ``value.<last>`` -> 1 | |
| | ``advantage.0``, ... hidden linears then ``advantage.<last>`` -> n_actions | |

Mapping from other libraries (Nature CNN, no dueling):

* SB3 ``QNetwork``: ``q_net.features_extractor.cnn.{0,2,4}`` -> ``features.{0,2,4}``,
  ``q_net.features_extractor.linear.0`` -> ``fc.0``, ``q_net.q_net.0`` -> ``head``
  (and ``q_net_target.*`` the same for the target network). SB3 MLP policies:
  ``q_net.q_net.{0,2}`` -> ``fc.{0,2}``, ``q_net.q_net.4`` -> ``head``.
* CleanRL ``dqn_atari.py``: ``network.{0,2,4}`` -> ``features.{0,2,4}``,
  ``network.7`` -> ``fc.0``, ``network.9`` -> ``head``. CleanRL ``dqn.py`` (MLP 120, 84):
  ``network.{0,2}`` -> ``fc.{0,2}``, ``network.4`` -> ``head``.

Flattening order is PyTorch's (channel-major, ``(C, H, W)``), the same as SB3 and CleanRL,
so the ``fc.0`` weights copy over unchanged. Initialisation is PyTorch's default (as
CleanRL). The dueling streams follow Wang et al. (2016): each stream has its own hidden
layer(s) of the same widths as ``fc`` would have; ``Q = V + A - mean_a(A)``.

Example:
    >>> from dqn_agents.config import DQNConfig
    >>> net = build_q_network((4, 84, 84), 6, DQNConfig(), dtype="uint8")
    >>> sorted(net.state_dict())[:2]
    ['fc.0.bias', 'fc.0.weight']
    >>> net.describe()["kind"], net.describe()["num_parameters"]
    ('nature', 1687206)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dqn_agents.config import DQNConfig
from dqn_agents.spec import is_image_space

__all__ = [
    "CONV_SPECS",
    "HIDDEN_SIZES",
    "QNetwork",
    "build_q_network",
    "dueling_state_dict",
]

ConvSpec = tuple[int, int, int]
"""One convolution: ``(out_channels, kernel_size, stride)``, no padding, ReLU after."""

CONV_SPECS: dict[str, tuple[ConvSpec, ...]] = {
    "nature": ((32, 8, 4), (64, 4, 2), (64, 3, 1)),
    "mnih2013": ((16, 8, 4), (32, 4, 2)),
    "mlp": (),
}
"""Convolution stacks of the named networks."""

HIDDEN_SIZES: dict[str, tuple[int, ...]] = {"nature": (512,), "mnih2013": (256,)}
"""Hidden fully connected widths of the named CNNs (the MLP's come from the config)."""


def _conv_output_hw(height: int, width: int, convs: Sequence[ConvSpec]) -> tuple[int, int]:
    for _, kernel, stride in convs:
        height = (height - kernel) // stride + 1
        width = (width - kernel) // stride + 1
    return height, width


def _mlp(in_features: int, hidden: Sequence[int], out_features: int | None) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_features, width), nn.ReLU()]
        in_features = width
    if out_features is not None:
        layers.append(nn.Linear(in_features, out_features))
    return nn.Sequential(*layers)


def _linear(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    assert isinstance(layer, nn.Linear)
    return F.linear(x, layer.weight, layer.bias)  # what nn.Linear.forward computes


def _mlp_forward(mlp: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """``mlp(x)`` for a `_mlp` stack (Linear, ReLU, ..., optional last Linear)."""
    for layer in mlp:
        x = _linear(layer, x) if isinstance(layer, nn.Linear) else F.relu(x)
    return x


class QNetwork(nn.Module):
    """Convolutional (or not) Q-network with an optional dueling head.

    Args:
        observation_shape: Shape of one observation: ``(C, H, W)`` for images (channel
            first, e.g. a stack of 4 84x84 frames), anything for vector observations
            (flattened).
        n_actions: Number of discrete actions (output width).
        kind: ``"nature"``, ``"mnih2013"`` or ``"mlp"`` (recorded in `describe`).
        convs: Convolutions ``(out_channels, kernel, stride)``; empty for an MLP.
        hidden_sizes: Widths of the hidden fully connected layers.
        dueling: Use a dueling head (value and advantage streams).
        scale_inputs: Divide inputs by 255 (uint8 pixels) in ``forward``.

    Raises:
        ValueError: If the shapes do not fit (e.g. images too small for the convolutions).
    """

    def __init__(
        self,
        observation_shape: Sequence[int],
        n_actions: int,
        *,
        kind: str,
        convs: Sequence[ConvSpec] = (),
        hidden_sizes: Sequence[int] = (),
        dueling: bool = False,
        scale_inputs: bool = False,
    ) -> None:
        super().__init__()
        shape = tuple(int(s) for s in observation_shape)
        if n_actions < 1:
            raise ValueError(f"n_actions must be >= 1, got {n_actions}.")
        self.observation_shape = shape
        self.n_actions = int(n_actions)
        self.kind = kind
        self.convs = tuple((int(c), int(k), int(s)) for c, k, s in convs)
        self.hidden_sizes = tuple(int(h) for h in hidden_sizes)
        self.dueling = bool(dueling)
        self.scale_inputs = bool(scale_inputs)

        layers: list[nn.Module] = []
        if self.convs:
            if len(shape) != 3:
                raise ValueError(
                    f"A {kind!r} CNN needs channel-first image observations (C, H, W), "
                    f"got shape {shape}. Use network='mlp' for vector observations."
                )
            channels = shape[0]
            height, width = _conv_output_hw(shape[1], shape[2], self.convs)
            if height < 1 or width < 1:
                raise ValueError(
                    f"Observations of shape {shape} are too small for the {kind!r} CNN "
                    f"(convolutions {self.convs}); it needs e.g. (C, 84, 84)."
                )
            for out_channels, kernel, stride in self.convs:
                layers += [nn.Conv2d(channels, out_channels, kernel, stride), nn.ReLU()]
                channels = out_channels
            n_features = channels * height * width
        else:
            n_features = int(np.prod(shape)) if shape else 1
        layers.append(nn.Flatten())
        self.features = nn.Sequential(*layers)
        self._conv_layers: tuple[nn.Conv2d, ...] = tuple(
            m for m in self.features if isinstance(m, nn.Conv2d)
        )
        self.n_features = n_features

        if self.dueling:
            self.value = _mlp(n_features, self.hidden_sizes, 1)
            self.advantage = _mlp(n_features, self.hidden_sizes, self.n_actions)
        else:
            self.fc = _mlp(n_features, self.hidden_sizes, None)
            last = self.hidden_sizes[-1] if self.hidden_sizes else n_features
            self.head = nn.Linear(last, self.n_actions)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Return Q-values of shape ``(batch, n_actions)``.

        The layers' functional ops are called directly, not through the submodules'
        ``__call__``: the same results, bit for bit, without nn.Module's per-call
        machinery (about 3 us a layer, a third of an MLP forward at batch 1). Forward
        hooks registered on the submodules (``features``, ``fc``, ``head``, ...)
        therefore do not fire; hooks on the QNetwork itself do.

        Args:
            obs: Batch of observations ``(batch, *observation_shape)``; uint8 pixels or
                floats.

        Returns:
            float32 Q-values.
        """
        x = obs.to(torch.float32)
        if self.scale_inputs:
            x = x / 255.0
        for conv in self._conv_layers:
            x = F.relu(F.conv2d(x, conv.weight, conv.bias, conv.stride))
        x = x.flatten(1)
        if self.dueling:
            advantage = _mlp_forward(self.advantage, x)
            return _mlp_forward(self.value, x) + advantage - advantage.mean(dim=1, keepdim=True)
        return _linear(self.head, _mlp_forward(self.fc, x))

    def describe(self) -> dict[str, Any]:
        """The JSON-able description (saved in ``config.json``) of this network.

        Returns:
            ``{"kind", "observation_shape", "n_actions", "convs", "hidden_sizes", "dueling",
            "scale_inputs", "num_parameters"}``; `build_q_network` with the saved config
            builds the same network again.
        """
        return {
            "kind": self.kind,
            "observation_shape": list(self.observation_shape),
            "n_actions": self.n_actions,
            "convs": [list(c) for c in self.convs],
            "hidden_sizes": list(self.hidden_sizes),
            "dueling": self.dueling,
            "scale_inputs": self.scale_inputs,
            "num_parameters": sum(p.numel() for p in self.parameters()),
        }


def build_q_network(
    observation: Any,
    n_actions: int,
    config: DQNConfig | None = None,
    *,
    dtype: Any = None,
) -> QNetwork:
    """Build the Q-network that a config asks for.

    Args:
        observation: A gymnasium ``Box`` observation space (shape and dtype are read from
            it) or an observation shape such as ``(4, 84, 84)``.
        n_actions: Number of discrete actions.
        config: Hyperparameters (``network``, ``dueling``, ``mlp_hidden_sizes`` are used);
            defaults to ``DQNConfig()``.
        dtype: Observation dtype when ``observation`` is a shape (default: uint8 for 3-D
            shapes, float32 otherwise). Ignored for a space.

    Returns:
        The network (on CPU, PyTorch default initialisation).

    Raises:
        ValueError: If the network kind does not fit the observations.
    """
    config = config if config is not None else DQNConfig()
    if hasattr(observation, "shape") and hasattr(observation, "dtype"):
        shape = tuple(int(s) for s in observation.shape)
        obs_dtype = np.dtype(observation.dtype)
    else:
        shape = tuple(int(s) for s in observation)
        if dtype is None:
            obs_dtype = np.dtype(np.uint8 if len(shape) == 3 else np.float32)
        else:
            obs_dtype = np.dtype(dtype)
    image = is_image_space(shape, obs_dtype)
    kind = config.network
    if kind == "auto":
        kind = "nature" if image else "mlp"
    if kind in ("nature", "mnih2013") and len(shape) != 3:
        raise ValueError(
            f"network={kind!r} needs image observations (C, H, W); got shape {shape} "
            f"({obs_dtype}). Use network='mlp' or 'auto'."
        )
    hidden = HIDDEN_SIZES.get(kind, config.mlp_hidden_sizes)
    return QNetwork(
        shape,
        n_actions,
        kind=kind,
        convs=CONV_SPECS[kind],
        hidden_sizes=hidden,
        dueling=config.dueling,
        scale_inputs=obs_dtype == np.uint8,
    )


def dueling_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The weights of a dueling `QNetwork` that computes what a non-dueling one computes.

    Both streams start as copies of the hidden ``fc`` layers; the advantage output is
    ``head`` and the value output is the mean of ``head``'s rows, so
    ``V + A - mean_a(A) = mean_a(head) + head - mean_a(head) = head``: the same Q-values
    (up to float rounding) from a network that can then learn as a dueling one (with
    twice the hidden units). A trained agent's network grows a dueling head this way
    without forgetting what it learned (a function-preserving change, as in Net2Net,
    Chen et al. 2016). Applied to same-shaped per-parameter tensors (e.g. Adam's moment
    estimates), it carries those over the same way.

    Args:
        state_dict: The keys of a non-dueling network: ``features.*``, ``fc.*``, ``head.*``.

    Returns:
        The keys of the dueling network of the same kind: ``features.*``, ``value.*``,
        ``advantage.*``.

    Raises:
        ValueError: ``state_dict`` is not a non-dueling network's (no ``head.weight``, or
            already dueling).

    Example:
        >>> net = build_q_network((4, 84, 84), 6, DQNConfig(network="mnih2013"))
        >>> twin = build_q_network((4, 84, 84), 6, DQNConfig(network="mnih2013", dueling=True))
        >>> _ = twin.load_state_dict(dueling_state_dict(net.state_dict()))
        >>> obs = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
        >>> torch.allclose(net(obs), twin(obs), atol=1e-6)
        True
    """
    if "head.weight" not in state_dict or any(
        key.startswith(("value.", "advantage.")) for key in state_dict
    ):
        raise ValueError(
            "dueling_state_dict needs the weights of a non-dueling network (features.*, "
            f"fc.*, head.*); got the keys {sorted(state_dict)[:6]}."
        )
    hidden = {int(key.split(".")[1]) for key in state_dict if key.startswith("fc.")}
    last = 2 * len(hidden)  # Linear, ReLU, ... then the output Linear: see _mlp
    out: dict[str, torch.Tensor] = {}
    for key, tensor in state_dict.items():
        if key.startswith("fc."):
            rest = key[len("fc.") :]
            out["value." + rest] = tensor.clone()
            out["advantage." + rest] = tensor.clone()
        elif key.startswith("head."):
            rest = key[len("head.") :]
            out[f"advantage.{last}.{rest}"] = tensor.clone()
            out[f"value.{last}.{rest}"] = tensor.mean(dim=0, keepdim=True)
        else:
            out[key] = tensor.clone()
    return out
