"""The `HubError` family, and the import of the optional ``huggingface_hub``.

Every hub failure raises a `HubError` subclass whose message says what was received and
what to do.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from dqn_agents.spec import EnvMismatchError

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
    "require_huggingface_hub",
]


class HubError(RuntimeError):
    """Base class of every error raised by `dqn_agents.hub`."""


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


class HubEnvMismatchError(HubError, EnvMismatchError):
    """The env given does not fit the model (another game, other spaces or action set).

    Also a `dqn_agents.spec.EnvMismatchError` (so a ``ValueError``): the caller's env is
    at fault, not the repo.
    """


class HubUploadError(HubError):
    """A push failed; nothing was committed."""


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
