"""dqn-agents: the DQN of Mnih et al. as a first-class Gymnasium citizen.

The top-level package is lazy: ``import dqn_agents.wrappers`` never imports torch.
The agent (``dqn_agents.DQN``) and its config are loaded on first attribute access.

Example:
    >>> from dqn_agents import DQN  # doctest: +SKIP
    >>> DQN("ALE/Pong-v5").learn(10_000_000)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from dqn_agents.version import __version__

if TYPE_CHECKING:  # pragma: no cover
    from dqn_agents.agent import DQN
    from dqn_agents.config import PRESETS, DQNConfig
    from dqn_agents.learner import NonFiniteLossError

__all__ = ["DQN", "PRESETS", "DQNConfig", "NonFiniteLossError", "__version__"]

_LAZY = {
    "DQN": "dqn_agents.agent",
    "DQNConfig": "dqn_agents.config",
    "PRESETS": "dqn_agents.config",
    "NonFiniteLossError": "dqn_agents.learner",
}


def __getattr__(name: str) -> Any:
    """Import heavy (torch-using) public names on first access."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dqn_agents' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
