"""The face the Hugging Face Hub sees on an agent: the Hub layout, download, upload.

As ``huggingface_hub``'s ``ModelHubMixin``: a model that describes itself (``config``,
``spec``, ``q_net``, ``num_timesteps``) and can ``load`` a folder gets `save_pretrained`,
`from_pretrained` and `push_to_hub` from `HubSurface`, mixed into `dqn_agents.DQN`. The
Hub modules (``huggingface_hub`` is an optional extra) are imported only when used.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import torch

from dqn_agents.checkpoint import model_meta
from dqn_agents.config import DQNConfig
from dqn_agents.serialization import write_model_folder
from dqn_agents.spec import ModelSpec

if TYPE_CHECKING:  # pragma: no cover
    from dqn_agents.hub.push import PushableAgent

__all__ = ["HubSurface"]

ModelT = TypeVar("ModelT", bound="HubSurface")


class HubSurface:
    """The Hugging Face Hub methods, mixed into `dqn_agents.DQN`.

    The host class provides ``config``, ``spec``, ``q_net``, ``num_timesteps``, the
    classmethod ``load(folder, env=..., device=...)`` and ``evaluate`` (for the push).
    """

    config: DQNConfig
    spec: ModelSpec
    q_net: Any
    num_timesteps: int

    @classmethod
    def load(  # pragma: no cover - the agent defines it
        cls: type[ModelT],
        path: str | os.PathLike[str],
        env: Any = None,
        device: str | torch.device = "auto",
    ) -> ModelT:
        """Load a model zip or a Hub-layout folder (the host's own loader)."""
        raise NotImplementedError

    def save_pretrained(self, folder: str | os.PathLike[str]) -> Path:
        """Write the Hugging Face Hub layout: ``config.json`` + ``model.safetensors``.

        Args:
            folder: Destination folder (created if needed; other files are left alone).

        Returns:
            The folder.
        """
        meta = model_meta(self.config, self.spec, self.q_net.describe(), self.num_timesteps)
        return write_model_folder(folder, meta, self.q_net.state_dict())

    @classmethod
    def from_pretrained(
        cls: type[ModelT],
        repo_id: str,
        *,
        revision: str | None = None,
        env: Any = None,
        device: str | torch.device = "auto",
    ) -> ModelT:
        """Download a model from the Hugging Face Hub (or the local zoo) and load it.

        Args:
            repo_id: ``"user/name"`` on the Hub.
            revision: Branch, tag or commit.
            env: Optional env (validated like ``load``).
            device: Torch device.

        Returns:
            The agent.

        Raises:
            dqn_agents.hub.HubError: A subclass saying what went wrong.
        """
        from dqn_agents.hub.pull import load_model

        return load_model(repo_id, cls.load, revision=revision, env=env, device=str(device))

    def push_to_hub(self, repo_id: str, **kwargs: Any) -> Any:
        """Upload this model to the Hugging Face Hub (`dqn_agents.hub.push_to_hub`).

        Args:
            repo_id: ``"user/name"`` on the Hub.
            **kwargs: Passed to ``dqn_agents.hub.push_to_hub``.

        Returns:
            Whatever ``dqn_agents.hub.push_to_hub`` returns (the commit info / URL).
        """
        from dqn_agents.hub.push import push_to_hub

        return push_to_hub(cast("PushableAgent", self), repo_id, **kwargs)
