"""Share DQN agents on the Hugging Face Hub: safetensors + JSON only, never pickle.

The lazy façade of the hub modules: `errors` (the `HubError` family), `pull` (download and
verify), `push` (upload), `card` (model cards), `importers` (SB3 / CleanRL conversion),
`api` (the functions that build agents) and `cli` (``dqn-agents push``).
``huggingface_hub`` is imported only when a function needs it (the ``hub`` extra).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dqn_agents.lazy import lazy_attributes

if TYPE_CHECKING:  # pragma: no cover
    from dqn_agents.hub.api import from_cleanrl, from_sb3, load_from_hub, push_folder
    from dqn_agents.hub.card import build_model_card
    from dqn_agents.hub.errors import (
        HubAuthError,
        HubConnectionError,
        HubDependencyError,
        HubEnvMismatchError,
        HubError,
        HubFileMissingError,
        HubIntegrityError,
        HubRepoNotFoundError,
        HubRevisionNotFoundError,
        HubUnsafeFileError,
        HubUploadError,
    )
    from dqn_agents.hub.importers import sb3_env_id_from_repo
    from dqn_agents.hub.pull import download_model, find_in_zoo
    from dqn_agents.hub.push import PushResult, push_to_hub

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

_ERRORS = "dqn_agents.hub.errors"
_LAZY = {
    "HubAuthError": _ERRORS,
    "HubConnectionError": _ERRORS,
    "HubDependencyError": _ERRORS,
    "HubEnvMismatchError": _ERRORS,
    "HubError": _ERRORS,
    "HubFileMissingError": _ERRORS,
    "HubIntegrityError": _ERRORS,
    "HubRepoNotFoundError": _ERRORS,
    "HubRevisionNotFoundError": _ERRORS,
    "HubUnsafeFileError": _ERRORS,
    "HubUploadError": _ERRORS,
    "require_huggingface_hub": _ERRORS,
    "PushResult": "dqn_agents.hub.push",
    "push_to_hub": "dqn_agents.hub.push",
    "download_model": "dqn_agents.hub.pull",
    "find_in_zoo": "dqn_agents.hub.pull",
    "build_model_card": "dqn_agents.hub.card",
    "sb3_env_id_from_repo": "dqn_agents.hub.importers",
    "load_from_hub": "dqn_agents.hub.api",
    "from_sb3": "dqn_agents.hub.api",
    "from_cleanrl": "dqn_agents.hub.api",
    "push_folder": "dqn_agents.hub.api",
}


# Import the hub names on first access (keeps ``import dqn_agents.hub`` light).
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals(), __all__)
