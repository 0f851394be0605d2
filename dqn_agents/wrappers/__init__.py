"""Atari preprocessing of the DQN papers as Gymnasium 1.x wrappers (no torch imported).

Example:
    >>> from dqn_agents.wrappers import make_atari
    >>> env = make_atari("ALE/Breakout-v5")
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape
    (4, 84, 84)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dqn_agents.wrappers.atari import (
    AtariFrameProcessing,
    AtariOptions,
    EpisodicLife,
    FireReset,
    FrameStack,
    game_needs_fire,
    make_atari,
    wrap_atari,
)
from dqn_agents.wrappers.ids import AtariId, is_atari_id, list_atari_games, resolve_env_id
from dqn_agents.wrappers.vector import AtariVectorAdapter, EpisodeStatsLift, make_atari_vector

if TYPE_CHECKING:  # pragma: no cover
    from dqn_agents.wrappers.pettingzoo import AtariParallelWrapper, make_pettingzoo_atari

__all__ = [
    "AtariFrameProcessing",
    "AtariId",
    "AtariOptions",
    "AtariParallelWrapper",
    "AtariVectorAdapter",
    "EpisodeStatsLift",
    "EpisodicLife",
    "FireReset",
    "FrameStack",
    "game_needs_fire",
    "is_atari_id",
    "list_atari_games",
    "make_atari",
    "make_atari_vector",
    "make_pettingzoo_atari",
    "resolve_env_id",
    "wrap_atari",
]


def __getattr__(name: str) -> Any:
    """Import the PettingZoo helpers (optional extra) on first access."""
    if name in ("AtariParallelWrapper", "make_pettingzoo_atari"):
        from dqn_agents.wrappers import pettingzoo

        return getattr(pettingzoo, name)
    raise AttributeError(f"module 'dqn_agents.wrappers' has no attribute {name!r}")
