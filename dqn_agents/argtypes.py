"""Argument types for the command lines: counts written the way people write them.

`dqn_agents.cli` and the subcommands that plug into it (``dqn-agents push``) share them, so
``--timesteps 1e6``, ``--episodes 10_000`` and ``--epsilon 0.05`` mean the same everywhere,
and a bad value fails when the line is parsed, before anything is built or downloaded.
"""

from __future__ import annotations

import argparse

__all__ = ["count", "positive_count", "probability", "whole_number"]


def whole_number(text: str, minimum: int) -> int:
    """A whole number written as ``10000``, ``10_000`` or ``1e4``, at least ``minimum``.

    Args:
        text: The command-line value.
        minimum: The smallest value accepted.

    Returns:
        The number.

    Raises:
        argparse.ArgumentTypeError: Not a whole number, or below ``minimum``.

    Example:
        >>> whole_number("1e4", 1), whole_number("10_000", 1)
        (10000, 10000)
    """
    cleaned = text.strip().replace("_", "")
    try:
        value = int(cleaned)
    except ValueError:
        try:
            number = float(cleaned)
        except ValueError:
            number = float("nan")
        if not number.is_integer():
            raise argparse.ArgumentTypeError(
                f"invalid value {text!r}: expected a whole number (e.g. 10000, 10_000 or 1e4)"
            ) from None
        value = int(number)
    if value < minimum:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: must be >= {minimum}")
    return value


def count(text: str) -> int:
    """A whole number >= 0 (`whole_number`)."""
    return whole_number(text, 0)


def positive_count(text: str) -> int:
    """A whole number >= 1 (`whole_number`)."""
    return whole_number(text, 1)


def probability(text: str) -> float:
    """A number between 0 and 1.

    Raises:
        argparse.ArgumentTypeError: Not a number in [0, 1].
    """
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}: must be between 0 and 1")
    return value
