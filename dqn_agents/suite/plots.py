"""Learning-curve figures of a suite: one trial's, and one panel per game with every seed.

The curves are the raw scores of finished *training* games (epsilon-greedy) against agent
steps, smoothed by a moving mean, as in the zoo's model cards. matplotlib is imported only
here, with the ``Agg`` backend (no window).

Example:
    >>> moving_mean([1.0, 3.0, 5.0], window=2)
    [1.0, 2.0, 4.0]
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dqn_agents.suite.records import TrainingCurve

__all__ = ["moving_mean", "plot_suite_curves", "plot_trial_curve", "steps_label"]


def moving_mean(values: Sequence[float], window: int) -> list[float]:
    """The mean of the last ``window`` values at each position (fewer at the start).

    Args:
        values: The series.
        window: How many values each mean covers (>= 1).

    Returns:
        One mean per value.
    """
    window = max(1, int(window))
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(
            'Plots need matplotlib: pip install "dqn-agents[ray]" (or pip install matplotlib).'
        ) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def steps_label(value: float, _position: object = None) -> str:
    """A compact agent-step tick label: ``500``, ``20k``, ``1.5M``.

    Args:
        value: The step count.
        _position: The tick position (matplotlib's formatter argument, unused).

    Returns:
        The label.

    Example:
        >>> steps_label(20_000), steps_label(1_500_000), steps_label(500)
        ('20k', '1.5M', '500')
    """
    if abs(value) >= 1e6:
        return f"{value / 1e6:g}M"
    if abs(value) >= 1e3:
        return f"{value / 1e3:g}k"
    return f"{value:g}"


def _steps_axis(ax: Any) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    ax.xaxis.set_major_formatter(FuncFormatter(steps_label))


def _window(n_games: int) -> int:
    return max(1, min(20, n_games // 5))


def plot_trial_curve(curve: TrainingCurve, path: str | os.PathLike[str], title: str) -> Path:
    """One trial's training games and their moving mean, against agent steps.

    Args:
        curve: The trial's finished games.
        path: The PNG to write.
        title: The figure's title.

    Returns:
        The path written.

    Raises:
        ImportError: matplotlib is missing.
    """
    plt = _pyplot()
    steps = [g["step"] for g in curve.games]
    scores = [g["r"] for g in curve.games]
    fig, ax = plt.subplots(figsize=(6, 3.4), constrained_layout=True)
    window = _window(len(scores))
    ax.plot(steps, scores, ".", ms=3, alpha=0.35, label="training game (epsilon-greedy)")
    ax.plot(steps, moving_mean(scores, window), "-", lw=2, label=f"mean of the last {window}")
    ax.set_xlabel("agent steps")
    _steps_axis(ax)
    ax.set_ylabel("raw game score")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if scores:
        ax.legend(loc="lower right", fontsize=7)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=90)
    plt.close(fig)
    return target


def plot_suite_curves(
    curves: Mapping[str, Sequence[TrainingCurve]],
    path: str | os.PathLike[str],
    title: str,
) -> Path:
    """One panel per game, one line per seed: the moving mean of its training games.

    Args:
        curves: The curves of each game (by game name), one per seed.
        path: The PNG to write.
        title: The figure's title.

    Returns:
        The path written.

    Raises:
        ImportError: matplotlib is missing.
    """
    plt = _pyplot()
    games = list(curves)
    ncols = max(1, min(4, len(games)))
    nrows = max(1, math.ceil(len(games) / ncols))
    width = max(6.4, 3.6 * ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, 2.8 * nrows + 0.6), squeeze=False)
    for index, ax in enumerate(axes.flat):
        if index >= len(games):
            ax.set_visible(False)
            continue
        game = games[index]
        for curve in sorted(curves[game], key=lambda c: c.seed):
            steps = [g["step"] for g in curve.games]
            scores = [g["r"] for g in curve.games]
            if scores:
                smooth = moving_mean(scores, _window(len(scores)))
                ax.plot(steps, smooth, "-", lw=1.5, label=f"seed {curve.seed}")
        ax.set_title(game, fontsize=10)
        ax.set_xlabel("agent steps", fontsize=8)
        _steps_axis(ax)
        ax.set_ylabel("raw score (training)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=90)
    plt.close(fig)
    return target
