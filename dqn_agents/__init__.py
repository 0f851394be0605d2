"""dqn-agents: the DQN of Mnih et al. as a first-class Gymnasium citizen.

The top-level package is lazy: ``import dqn_agents.wrappers`` never imports torch.
The agent (``dqn_agents.DQN``) and its config are loaded on first attribute access.

Example:
    >>> from dqn_agents import DQN  # doctest: +SKIP
    >>> DQN("ALE/Pong-v5").learn(10_000_000)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dqn_agents.lazy import lazy_attributes
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


# Import heavy (torch-using) public names on first access.
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals(), __all__)
