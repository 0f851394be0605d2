"""Atari environment ids: parsing, canonical forms and suggestions.

Three spellings are accepted everywhere an Atari id is expected:

* ``"ALE/<Game>-v5"`` -- the modern Gymnasium/ALE id (sticky actions 0.25 by default),
* ``"<Game>NoFrameskip-v4"`` -- the id used by the DQN papers' re-implementations
  (sticky actions off by default),
* a plain game name in CamelCase or snake_case (``"Pong"``, ``"pong"``,
  ``"SpaceInvaders"``, ``"space_invaders"``), treated like the ``v5`` id.

Unknown ids raise a `ValueError` that names the closest valid ids.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from typing import Literal

import ale_py
import gymnasium as gym

__all__ = ["AtariId", "is_atari_id", "list_atari_games", "resolve_env_id"]

Flavour = Literal["v5", "v4", "name"]

_V5 = re.compile(r"^ALE/(?P<game>[A-Za-z0-9]+)-v5$")
_V4 = re.compile(r"^(?P<game>[A-Za-z0-9]+)NoFrameskip-v4$")


@dataclass(frozen=True)
class AtariId:
    """A parsed Atari environment id.

    Attributes:
        game: The ALE ROM name in snake_case, e.g. ``"space_invaders"``.
        camel: The game name in CamelCase as used in Gymnasium ids, e.g. ``"SpaceInvaders"``.
        env_id: The canonical Gymnasium id that is built (``"ALE/<Game>-v5"`` for the
            ``"v5"`` and ``"name"`` flavours, ``"<Game>NoFrameskip-v4"`` for ``"v4"``).
        flavour: How the id was written: ``"v5"``, ``"v4"`` or ``"name"``.

    Example:
        >>> resolve_env_id("pong")
        AtariId(game='pong', camel='Pong', env_id='ALE/Pong-v5', flavour='name')
    """

    game: str
    camel: str
    env_id: str
    flavour: Flavour

    @property
    def default_repeat_action_probability(self) -> float:
        """Sticky-action probability of the id: 0.25 for v5 ids and plain names, 0 for v4."""
        return 0.0 if self.flavour == "v4" else 0.25


@functools.lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, str], frozenset[str]]:
    """Return ``({camel: snake} for every v5 game, {camel with a NoFrameskip-v4 id})``."""
    gym.register_envs(ale_py)
    camel_to_snake: dict[str, str] = {}
    v4: set[str] = set()
    for env_id, spec in gym.registry.items():
        m5 = _V5.match(env_id)
        if m5 is not None:
            camel_to_snake[m5.group("game")] = str(spec.kwargs.get("game", ""))
            continue
        m4 = _V4.match(env_id)
        if m4 is not None:
            v4.add(m4.group("game"))
    return camel_to_snake, frozenset(v4)


def list_atari_games() -> list[str]:
    """List the CamelCase names of every Atari game with an ``ALE/<Game>-v5`` id.

    Returns:
        Sorted CamelCase game names, e.g. ``["Adventure", "AirRaid", ...]``.

    Example:
        >>> "Pong" in list_atari_games()
        True
    """
    return sorted(_tables()[0])


def _valid_ids() -> list[str]:
    camel_to_snake, v4 = _tables()
    ids = [f"ALE/{c}-v5" for c in camel_to_snake]
    ids += [f"{c}NoFrameskip-v4" for c in v4]
    ids += list(camel_to_snake) + list(camel_to_snake.values())
    return ids


def _unknown(env_id: object, reason: str) -> ValueError:
    candidates = _valid_ids()
    close = difflib.get_close_matches(str(env_id), candidates, n=5, cutoff=0.5)
    if not close:
        lowered = {c.lower(): c for c in candidates}
        close = [
            lowered[c]
            for c in difflib.get_close_matches(str(env_id).lower(), list(lowered), n=5, cutoff=0.4)
        ]
    hint = f" Closest valid ids: {', '.join(close)}." if close else ""
    return ValueError(
        f"Unknown Atari env id {env_id!r}: {reason}.{hint} Accepted forms are "
        "'ALE/<Game>-v5', '<Game>NoFrameskip-v4' or a game name such as 'Pong' or "
        "'space_invaders'."
    )


def resolve_env_id(env_id: str) -> AtariId:
    """Parse an Atari id or game name into its canonical form.

    Args:
        env_id: ``"ALE/<Game>-v5"``, ``"<Game>NoFrameskip-v4"`` or a game name
            (CamelCase or snake_case, any letter case).

    Returns:
        The parsed `AtariId`.

    Raises:
        ValueError: If ``env_id`` is not a string or names no known Atari game; the
            message lists the closest valid ids.

    Example:
        >>> resolve_env_id("ALE/Breakout-v5").game
        'breakout'
        >>> resolve_env_id("SpaceInvadersNoFrameskip-v4").flavour
        'v4'
        >>> resolve_env_id("space_invaders").env_id
        'ALE/SpaceInvaders-v5'
    """
    if not isinstance(env_id, str):
        raise ValueError(
            f"env_id must be a string such as 'ALE/Pong-v5', got {type(env_id).__name__} "
            f"{env_id!r}."
        )
    camel_to_snake, v4 = _tables()
    m5 = _V5.match(env_id)
    if m5 is not None:
        camel = m5.group("game")
        if camel not in camel_to_snake:
            raise _unknown(env_id, "no such ALE v5 game")
        return AtariId(camel_to_snake[camel], camel, env_id, "v5")
    m4 = _V4.match(env_id)
    if m4 is not None:
        camel = m4.group("game")
        if camel not in v4:
            raise _unknown(env_id, "no such NoFrameskip-v4 game")
        return AtariId(camel_to_snake.get(camel, ""), camel, env_id, "v4")
    if "/" in env_id or "-v" in env_id:
        raise _unknown(env_id, "not an 'ALE/<Game>-v5' or '<Game>NoFrameskip-v4' id")
    key = env_id.replace("_", "").replace("-", "").replace(" ", "").lower()
    for camel, snake in camel_to_snake.items():
        if camel.lower() == key:
            return AtariId(snake, camel, f"ALE/{camel}-v5", "name")
    raise _unknown(env_id, "no Atari game of that name")


def is_atari_id(env_id: object) -> bool:
    """Tell whether ``env_id`` names an Atari game in any accepted spelling.

    Args:
        env_id: Anything; only strings can be Atari ids.

    Returns:
        ``True`` when `resolve_env_id` would accept it.

    Example:
        >>> is_atari_id("PongNoFrameskip-v4"), is_atari_id("CartPole-v1")
        (True, False)
    """
    if not isinstance(env_id, str):
        return False
    try:
        resolve_env_id(env_id)
    except ValueError:
        return False
    return True
