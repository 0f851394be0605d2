"""Networks laid out the way other libraries lay them out, for the import tests and the docs."""

from __future__ import annotations

import torch
from torch import nn


class CleanRLQNetwork(nn.Module):
    """CleanRL ``dqn_atari.py``'s ``QNetwork`` (the same ``nn.Sequential`` layout and keys).

    Args:
        n_actions: Output width.
    """

    def __init__(self, n_actions: int) -> None:
        super().__init__()
        self.network = nn.Sequential(
            nn.Conv2d(4, 32, 8, stride=4),
            nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2),
            nn.ReLU(),
            nn.Conv2d(64, 64, 3, stride=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(3136, 512),
            nn.ReLU(),
            nn.Linear(512, n_actions),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Q-values of uint8 frame stacks (scaled by 1/255, as CleanRL does)."""
        return self.network(x / 255.0)
