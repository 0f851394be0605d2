"""Learning curves of `time_to_score.py` runs: a figure and a docs table, finished or not.

Reads each run's ``progress.json`` (every finished training game with its agent step and
minutes of training) and draws the raw score of every game and its moving mean against
agent steps and against minutes; writes the table the docs' benchmark hook renders.

With ``--minutes M`` every run is cut to its first M minutes of training (the same
wall-clock for each: e.g. the default config beside the preset); the steps shown are then
those of the last game finished within M minutes.

Usage:
    python benchmarks/learning_curve.py RUN_DIR [RUN_DIR ...] [--labels A B ...] \
        [--minutes M] --png docs/assets/pong_fast_curve.png \
        --json docs/benchmarks/results/pong_fast.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from statistics import mean
from typing import Any

import common
import numpy as np

WINDOW = 20


def moving_mean(scores: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Mean of the last ``window`` scores at each game (fewer at the start).

    Example:
        >>> moving_mean(np.array([0.0, 2.0, 4.0]), 2).tolist()
        [0.0, 1.0, 3.0]
    """
    return np.array([scores[max(0, i - window + 1) : i + 1].mean() for i in range(len(scores))])


def first_minutes(progress: dict[str, Any], minutes: float) -> dict[str, Any]:
    """The run as it stood after ``minutes`` of training (games finished by then).

    Example:
        >>> run = {"games": [{"step": 10, "r": -21, "t_s": 30.0}, {"step": 20, "r": -20,
        ...        "t_s": 90.0}], "steps": 25, "train_seconds": 100.0, "reached": None}
        >>> cut = first_minutes(run, 1.0)
        >>> len(cut["games"]), cut["steps"], cut["train_seconds"]
        (1, 10, 60.0)
    """
    limit = minutes * 60.0
    games = [g for g in progress["games"] if g["t_s"] <= limit]
    reached = progress.get("reached")
    if reached and reached.get("minutes", 0.0) > minutes:
        reached = None
    return {
        **progress,
        "games": games,
        "steps": games[-1]["step"] if games else 0,
        "train_seconds": min(float(progress["train_seconds"]), limit),
        "reached": reached,
    }


def plot(runs: list[tuple[str, dict[str, Any]]], path: Path, target: float | None) -> None:
    """Score against agent steps and against minutes of training, one colour per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    for (label, progress), colour in zip(
        runs, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False
    ):
        games = progress["games"]
        scores = np.array([g["r"] for g in games], dtype=float)
        xs = (
            np.array([g["step"] for g in games], dtype=float) / 1e6,
            np.array([g["t_s"] for g in games], dtype=float) / 60.0,
        )
        for ax, x in zip(axes, xs, strict=True):
            ax.plot(x, scores, ".", ms=2, alpha=0.25, color=colour)
            ax.plot(x, moving_mean(scores), "-", lw=2, color=colour, label=label)
    for ax, name in zip(axes, ("agent steps (millions)", "minutes of training"), strict=True):
        if target is not None:
            ax.axhline(target, color="grey", ls="--", lw=1)
        ax.set_xlabel(name)
        ax.set_ylabel(f"raw score (dots: games; line: mean of {WINDOW})")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="lower right", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def table(runs: list[tuple[str, dict[str, Any]]], title: str | None = None) -> dict[str, Any]:
    """The docs table: one row per run, where it stands."""
    rows = []
    for label, progress in runs:
        scores = [g["r"] for g in progress["games"]]
        reached = progress.get("reached")
        rows.append(
            [
                label,
                progress["steps"],
                round(progress["train_seconds"] / 60.0, 1),
                len(scores),
                round(mean(scores[-WINDOW:]), 2) if scores else None,
                (f"{reached['steps']:,} steps, {reached['minutes']} min" if reached else "not yet"),
            ]
        )
    first = runs[0][1]
    cpu = first.get("cpu") or common.cpu_description()
    return common.results_table(
        title=title
        or f"{first['env_id']}: learning with the {first.get('preset') or 'given'} settings",
        source="benchmarks/time_to_score.py + benchmarks/learning_curve.py",
        device="cpu",
        columns=[
            "Run",
            "Agent steps",
            "Minutes of training",
            "Games",
            f"Mean of the last {WINDOW}",
            f"Mean of {WINDOW} >= {first['target']:g}",
        ],
        rows=rows,
        notes=(
            f"Training games (epsilon-greedy, sticky actions of the v5 id, raw full-game "
            f"scores); minutes inside learn() only. CPU: {cpu}. "
            f"Runs started {first.get('started', first.get('date', ''))}; the table is "
            "rewritten as they go on."
        ),
    )


def main(argv: list[str] | None = None) -> int:
    """Draw the figure and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="time_to_score.py checkpoint folders")
    parser.add_argument("--png", required=True)
    parser.add_argument("--json", required=True)
    parser.add_argument("--labels", nargs="*", default=None, help="one per run (default: names)")
    parser.add_argument(
        "--minutes", type=float, default=None, help="cut every run to its first M minutes"
    )
    parser.add_argument("--title", default=None, help="the docs table's title")
    args = parser.parse_args(argv)
    labels = args.labels or [Path(r).name for r in args.runs]
    runs = [
        (label, json.loads((Path(run).expanduser() / "progress.json").read_text()))
        for label, run in zip(labels, args.runs, strict=True)
    ]
    if args.minutes is not None:
        runs = [(label, first_minutes(progress, args.minutes)) for label, progress in runs]
    plot(runs, Path(args.png), float(runs[0][1]["target"]))
    data = table(runs, args.title)
    common.write_json(Path(args.json), data)
    common.print_table(data["columns"], data["rows"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
