"""Human-normalized Atari scores and the interquartile mean: the suite's score arithmetic.

A raw game score ``s`` becomes ``(s - random) / (human - random)``: 0 is a uniformly random
policy, 1 the human reference. `ATARI_REFERENCE_SCORES` holds the random and human
scores of the 57 games of the Atari-57 benchmark as published in

* Badia et al. (2020), *Agent57: Outperforming the Atari Human Benchmark*, ICML, the
  appendix table of random and human scores (the same numbers as R2D2 and MuZero), and
* DeepMind's DQN Zoo (``dqn_zoo/atari_data.py``, Apache-2.0), which ships that table
  machine-readable; every number below was checked against it.

Those references were measured with up to 30 no-op starts and episodes capped at 108,000
frames (30 minutes), without sticky actions. *Nature* DQN (Mnih et al. 2015, Extended Data
Table 2) normalized against an earlier human baseline for 49 games, so its normalized
scores are not comparable with these. A game without a reference (CartPole, any non-Atari
env) gets no normalized score: `human_normalized_score` returns ``None``, never a guess.

`interquartile_mean` follows *rliable* (Agarwal et al. 2021, *Deep Reinforcement
Learning at the Edge of the Statistical Precipice*): the mean of the middle 50% of the
pooled scores, ``scipy.stats.trim_mean(scores, 0.25)`` (``int(0.25 * n)`` dropped at each
end).

Nothing here imports Ray, torch or NumPy.

Example:
    >>> human_normalized_score("ALE/Pong-v5", 14.6)
    1.0
    >>> human_normalized_score("CartPole-v1", 500.0) is None
    True
    >>> interquartile_mean([0.0, 1.0, 2.0, 100.0])
    1.5
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

__all__ = [
    "ATARI_REFERENCE_SCORES",
    "REFERENCE_CITATION",
    "ReferenceScores",
    "human_normalized_score",
    "interquartile_mean",
    "reference_game",
    "reference_scores",
]


class ReferenceScores(NamedTuple):
    """Raw scores of a game's two reference players.

    Attributes:
        random: A uniformly random policy.
        human: The professional human game tester.
    """

    random: float
    human: float


REFERENCE_CITATION = (
    "Random and human scores of Atari-57: Badia et al. (2020), Agent57, appendix table "
    "(also DeepMind's DQN Zoo, dqn_zoo/atari_data.py); 30 no-op starts, 108k-frame cap."
)
"""Where `ATARI_REFERENCE_SCORES` comes from, for tables and plots."""

ATARI_REFERENCE_SCORES: dict[str, ReferenceScores] = {
    "alien": ReferenceScores(227.8, 7127.7),
    "amidar": ReferenceScores(5.8, 1719.5),
    "assault": ReferenceScores(222.4, 742.0),
    "asterix": ReferenceScores(210.0, 8503.3),
    "asteroids": ReferenceScores(719.1, 47388.7),
    "atlantis": ReferenceScores(12850.0, 29028.1),
    "bank_heist": ReferenceScores(14.2, 753.1),
    "battle_zone": ReferenceScores(2360.0, 37187.5),
    "beam_rider": ReferenceScores(363.9, 16926.5),
    "berzerk": ReferenceScores(123.7, 2630.4),
    "bowling": ReferenceScores(23.1, 160.7),
    "boxing": ReferenceScores(0.1, 12.1),
    "breakout": ReferenceScores(1.7, 30.5),
    "centipede": ReferenceScores(2090.9, 12017.0),
    "chopper_command": ReferenceScores(811.0, 7387.8),
    "crazy_climber": ReferenceScores(10780.5, 35829.4),
    "defender": ReferenceScores(2874.5, 18688.9),
    "demon_attack": ReferenceScores(152.1, 1971.0),
    "double_dunk": ReferenceScores(-18.6, -16.4),
    "enduro": ReferenceScores(0.0, 860.5),
    "fishing_derby": ReferenceScores(-91.7, -38.7),
    "freeway": ReferenceScores(0.0, 29.6),
    "frostbite": ReferenceScores(65.2, 4334.7),
    "gopher": ReferenceScores(257.6, 2412.5),
    "gravitar": ReferenceScores(173.0, 3351.4),
    "hero": ReferenceScores(1027.0, 30826.4),
    "ice_hockey": ReferenceScores(-11.2, 0.9),
    "jamesbond": ReferenceScores(29.0, 302.8),
    "kangaroo": ReferenceScores(52.0, 3035.0),
    "krull": ReferenceScores(1598.0, 2665.5),
    "kung_fu_master": ReferenceScores(258.5, 22736.3),
    "montezuma_revenge": ReferenceScores(0.0, 4753.3),
    "ms_pacman": ReferenceScores(307.3, 6951.6),
    "name_this_game": ReferenceScores(2292.3, 8049.0),
    "phoenix": ReferenceScores(761.4, 7242.6),
    "pitfall": ReferenceScores(-229.4, 6463.7),
    "pong": ReferenceScores(-20.7, 14.6),
    "private_eye": ReferenceScores(24.9, 69571.3),
    "qbert": ReferenceScores(163.9, 13455.0),
    "riverraid": ReferenceScores(1338.5, 17118.0),
    "road_runner": ReferenceScores(11.5, 7845.0),
    "robotank": ReferenceScores(2.2, 11.9),
    "seaquest": ReferenceScores(68.4, 42054.7),
    "skiing": ReferenceScores(-17098.1, -4336.9),
    "solaris": ReferenceScores(1236.3, 12326.7),
    "space_invaders": ReferenceScores(148.0, 1668.7),
    "star_gunner": ReferenceScores(664.0, 10250.0),
    "surround": ReferenceScores(-10.0, 6.5),
    "tennis": ReferenceScores(-23.8, -8.3),
    "time_pilot": ReferenceScores(3568.0, 5229.2),
    "tutankham": ReferenceScores(11.4, 167.6),
    "up_n_down": ReferenceScores(533.4, 11693.2),
    "venture": ReferenceScores(0.0, 1187.5),
    "video_pinball": ReferenceScores(16256.9, 17667.9),
    "wizard_of_wor": ReferenceScores(563.5, 4756.5),
    "yars_revenge": ReferenceScores(3092.9, 54576.9),
    "zaxxon": ReferenceScores(32.5, 9173.3),
}
"""Random and human raw scores of the 57 Atari games, keyed by ALE's snake_case game name."""


def reference_game(env_id: str) -> str | None:
    """The key of ``env_id`` in `ATARI_REFERENCE_SCORES`, if it is an Atari id with one.

    Args:
        env_id: Any env id (``"ALE/Pong-v5"``, ``"PongNoFrameskip-v4"``, ``"pong"``,
            ``"CartPole-v1"``...).

    Returns:
        The snake_case game name (``"pong"``), or ``None`` for ids that are not Atari games
        of the table.

    Example:
        >>> reference_game("SpaceInvadersNoFrameskip-v4"), reference_game("CartPole-v1")
        ('space_invaders', None)
    """
    if ":" in env_id:  # "module:Env-v0": a user's registered env, never an Atari game
        return None
    from dqn_agents.wrappers.ids import is_atari_id, resolve_env_id

    try:
        if not is_atari_id(env_id):
            return None
        game = resolve_env_id(env_id).game
    except ValueError:
        return None
    return game if game in ATARI_REFERENCE_SCORES else None


def reference_scores(env_id: str) -> ReferenceScores | None:
    """The random and human scores of ``env_id``'s game, if the table has them.

    Args:
        env_id: Any env id.

    Returns:
        The `ReferenceScores`, or ``None``.
    """
    game = reference_game(env_id)
    return None if game is None else ATARI_REFERENCE_SCORES[game]


def human_normalized_score(env_id: str, raw_score: float) -> float | None:
    """``(raw - random) / (human - random)`` for a game of the table, else ``None``.

    Args:
        env_id: The env id the score was obtained on.
        raw_score: A raw (unclipped, full-game) score.

    Returns:
        The human-normalized score (0: random play, 1: the human reference), or ``None``
        when the game has no reference scores.

    Example:
        >>> round(human_normalized_score("breakout", 30.5), 6)
        1.0
    """
    refs = reference_scores(env_id)
    if refs is None:
        return None
    return (float(raw_score) - refs.random) / (refs.human - refs.random)


def interquartile_mean(values: Iterable[float]) -> float:
    """The interquartile mean (IQM) of rliable: the mean of the middle 50% of ``values``.

    The same as ``scipy.stats.trim_mean(values, 0.25)``: the ``int(0.25 * n)`` lowest
    and highest values are dropped, the rest averaged. rliable pools every run of every
    game into ``values``.

    Args:
        values: Scores (finite numbers).

    Returns:
        The IQM.

    Raises:
        ValueError: ``values`` is empty or holds NaN/inf.

    Example:
        >>> interquartile_mean([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
        4.5
    """
    ordered = sorted(float(v) for v in values)
    if not ordered:
        raise ValueError("interquartile_mean needs at least one score, got none.")
    if not all(math.isfinite(v) for v in ordered):
        raise ValueError(f"interquartile_mean needs finite scores, got {ordered}.")
    cut = int(0.25 * len(ordered))
    middle = ordered[cut : len(ordered) - cut]
    return math.fsum(middle) / len(middle)
