"""Share DQN agents on the Hugging Face Hub: safetensors + JSON only, never pickle.

Publish an agent (one commit with ``model.safetensors``, ``config.json``,
``results.json``, a ``README.md`` model card and a ``replay.mp4``):

```python
agent.push_to_hub("my-org/dqn-Pong-v5")          # = push_to_hub(agent, ...)
```

Load one back (through the ``huggingface_hub`` cache; works offline once cached):

```python
agent = DQN.from_pretrained("my-org/dqn-Pong-v5")  # = load_from_hub(...)
```

Bring in the existing SB3 and CleanRL DQN zoo without unpickling anything:

```python
agent = from_sb3("sb3/dqn-PongNoFrameskip-v4")
agent = from_cleanrl("cleanrl/PongNoFrameskip-v4-dqn_atari-seed1")
```

``huggingface_hub`` is an optional dependency (``pip install "dqn-agents[hub]"``); it is
imported only when a function here needs it. Every failure raises a `HubError`
subclass whose message says what was received and what to do.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from dqn_agents.hub.card import build_model_card
    from dqn_agents.hub.importers import from_cleanrl, from_sb3, sb3_env_id_from_repo
    from dqn_agents.hub.pull import download_model, find_in_zoo, load_from_hub
    from dqn_agents.hub.push import PushResult, push_folder, push_to_hub

__all__ = [
    "HubAuthError",
    "HubConnectionError",
    "HubDependencyError",
    "HubEnvMismatchError",
    "HubError",
    "HubFileMissingError",
    "HubIntegrityError",
    "HubRepoNotFoundError",
    "HubRevisionNotFoundError",
    "HubUnsafeFileError",
    "HubUploadError",
    "PushResult",
    "build_model_card",
    "download_model",
    "find_in_zoo",
    "from_cleanrl",
    "from_sb3",
    "load_from_hub",
    "push_folder",
    "push_to_hub",
    "sb3_env_id_from_repo",
]


class HubError(RuntimeError):
    """Base class of every error raised by `hub`."""


class HubDependencyError(HubError, ImportError):
    """``huggingface_hub`` (or another optional package) is not installed."""


class HubRepoNotFoundError(HubError):
    """The repo does not exist on the server (or is private and the token cannot see it)."""


class HubRevisionNotFoundError(HubError):
    """The requested branch, tag or commit does not exist in the repo."""


class HubFileMissingError(HubError):
    """A file the model needs is missing from the repo or from the local cache."""


class HubAuthError(HubError):
    """The server refused the credentials (HTTP 401/403)."""


class HubConnectionError(HubError):
    """The network failed (connection refused or dropped mid-transfer)."""


class HubIntegrityError(HubError):
    """A downloaded file is truncated, corrupted or inconsistent with the rest of the model."""


class HubUnsafeFileError(HubError):
    """A file would need unpickling (arbitrary code execution) to load; it was refused."""


class HubEnvMismatchError(HubError, ValueError):
    """The model was trained on another environment than the one given."""


class HubUploadError(HubError):
    """A push failed; nothing was committed."""


_LAZY = {
    "PushResult": "dqn_agents.hub.push",
    "push_to_hub": "dqn_agents.hub.push",
    "push_folder": "dqn_agents.hub.push",
    "load_from_hub": "dqn_agents.hub.pull",
    "download_model": "dqn_agents.hub.pull",
    "find_in_zoo": "dqn_agents.hub.pull",
    "build_model_card": "dqn_agents.hub.card",
    "from_sb3": "dqn_agents.hub.importers",
    "from_cleanrl": "dqn_agents.hub.importers",
    "sb3_env_id_from_repo": "dqn_agents.hub.importers",
}


def require_huggingface_hub() -> ModuleType:
    """Import ``huggingface_hub`` or raise a `HubDependencyError` saying how to get it.

    Returns:
        The ``huggingface_hub`` module.

    Raises:
        HubDependencyError: When it is not installed.
    """
    try:
        return importlib.import_module("huggingface_hub")
    except ImportError as exc:
        raise HubDependencyError(
            "dqn_agents.hub needs the optional dependency huggingface_hub, which is not "
            'installed: pip install "dqn-agents[hub]"'
        ) from exc


def __getattr__(name: str) -> Any:
    """Import the hub functions on first access (keeps ``import dqn_agents.hub`` light)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dqn_agents.hub' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
