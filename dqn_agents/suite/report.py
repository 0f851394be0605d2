"""Aggregate a suite run into its table and figure, from the files on disk alone.

`render_report` reads an experiment folder (``suite.json`` and each trial's ``trial.json``
and ``curve.json``, see `dqn_agents.suite.records`) and writes, next to them:

* ``suite_table.csv`` and ``suite_table.json``: per game, the mean and standard deviation
  over seeds of the final evaluation score (raw game points; each seed's score is the mean
  of its evaluation games), each seed's score, the human-normalized score (games with
  reference scores only, `dqn_agents.suite.scores`) and, over the whole suite, the
  interquartile mean of the human-normalized scores of every finished run (rliable);
* ``learning_curves.png``: one panel per game, one line per seed.

It works on a finished or a partial run (a trial still running or that died counts as
not finished: its game shows the seeds done so far), needs neither Ray nor torch, and is
what ``dqn-agents suite-report PATH`` calls.

Example:
    >>> report = render_report("runs/suite/suite-20261202-184000")  # doctest: +SKIP
    >>> print(report.format_table())  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dqn_agents.suite.records import (
    SuiteSpec,
    TrainingCurve,
    TrialRecord,
    game_slug,
    read_suite_spec,
    read_trials,
    utc_now,
    write_json,
)
from dqn_agents.suite.scores import (
    REFERENCE_CITATION,
    human_normalized_score,
    interquartile_mean,
    reference_scores,
)

__all__ = [
    "PLOT_FILE",
    "TABLE_CSV",
    "TABLE_JSON",
    "GameRow",
    "SuiteReport",
    "TrialRow",
    "render_report",
    "summarize",
]

TABLE_CSV = "suite_table.csv"
"""The per-game table, as CSV, in the experiment folder."""
TABLE_JSON = "suite_table.json"
"""The per-game table, the trials and the aggregate, as JSON, in the experiment folder."""
PLOT_FILE = "learning_curves.png"
"""The learning curves of every game, in the experiment folder."""


@dataclass(frozen=True)
class TrialRow:
    """One trial in the report.

    Attributes:
        game: The game's short name.
        env_id: Its env id.
        seed: The seed.
        status: ``"finished"``, ``"running"`` (or stopped, or died) or ``"pending"`` (no
            folder yet).
        num_timesteps: Agent steps done.
        total_timesteps: Agent steps to do.
        attempt: Attempts so far (more than 1 after a restart from a checkpoint).
        score: The final evaluation's mean raw score (finished trials).
        human_normalized: `score` human-normalized, when the game has references.
        model: The model folder, relative to the experiment folder (finished trials).
        repo_id: The Hub repo of the model, when pushed.
    """

    game: str
    env_id: str
    seed: int
    status: str
    num_timesteps: int = 0
    total_timesteps: int = 0
    attempt: int = 0
    score: float | None = None
    human_normalized: float | None = None
    model: str | None = None
    repo_id: str | None = None


@dataclass(frozen=True)
class GameRow:
    """One game in the report: its finished seeds aggregated.

    Attributes:
        game: The game's short name (``"Pong-v5"``).
        env_id: Its env id.
        seeds_finished: Seeds whose trial finished.
        seeds_total: Seeds the suite trains.
        mean: Mean over finished seeds of the final evaluation score (raw).
        std: Standard deviation over finished seeds (population, ``ddof=0``).
        scores: Each finished seed's score, by seed.
        human_normalized: Mean over finished seeds of the human-normalized score.
        random: The game's random reference score.
        human: The game's human reference score.
    """

    game: str
    env_id: str
    seeds_finished: int
    seeds_total: int
    mean: float | None = None
    std: float | None = None
    scores: dict[int, float] = field(default_factory=dict)
    human_normalized: float | None = None
    random: float | None = None
    human: float | None = None


@dataclass(frozen=True)
class SuiteReport:
    """The aggregated results of a suite run.

    Attributes:
        experiment: The experiment folder.
        spec: The suite's specification (``None`` when ``suite.json`` is missing).
        games: One row per game, in the suite's order.
        trials: One row per trial.
        iqm: Interquartile mean of the human-normalized scores of every finished run of a
            game with references (``None`` when there is none).
        iqm_runs: How many runs the IQM pools.
        files: What `render_report` wrote (``csv``, ``json``, ``plot``).
    """

    experiment: Path
    spec: SuiteSpec | None
    games: list[GameRow]
    trials: list[TrialRow]
    iqm: float | None
    iqm_runs: int
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def trials_finished(self) -> int:
        """How many trials finished."""
        return sum(t.status == "finished" for t in self.trials)

    @property
    def complete(self) -> bool:
        """Whether every trial of the suite finished."""
        return bool(self.trials) and self.trials_finished == len(self.trials)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON content of ``suite_table.json``.

        Returns:
            ``{"experiment", "updated", "complete", "suite", "games", "trials",
            "aggregate", "references"}``.
        """
        games = []
        for row in self.games:
            data = asdict(row)
            data["scores"] = {str(k): v for k, v in row.scores.items()}
            games.append(data)
        return {
            "experiment": str(self.experiment),
            "updated": utc_now(),
            "complete": self.complete,
            "suite": None if self.spec is None else self.spec.to_dict(),
            "games": games,
            "trials": [asdict(t) for t in self.trials],
            "aggregate": {
                "trials_finished": self.trials_finished,
                "trials_total": len(self.trials),
                "iqm_human_normalized": self.iqm,
                "iqm_runs": self.iqm_runs,
                "iqm_definition": "rliable: mean of the middle 50% of the pooled runs' "
                "human-normalized scores (scipy.stats.trim_mean(x, 0.25))",
            },
            "references": REFERENCE_CITATION,
        }

    def csv_text(self) -> str:
        """Return the content of ``suite_table.csv``: one line per game.

        Returns:
            CSV text with a header line.
        """
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(
            [
                "game",
                "env_id",
                "seeds_finished",
                "seeds_total",
                "mean",
                "std",
                "scores",
                "human_normalized",
                "random",
                "human",
            ]
        )
        for row in self.games:
            writer.writerow(
                [
                    row.game,
                    row.env_id,
                    row.seeds_finished,
                    row.seeds_total,
                    _cell(row.mean),
                    _cell(row.std),
                    " ".join(f"{s}:{_cell(v)}" for s, v in sorted(row.scores.items())),
                    _cell(row.human_normalized),
                    _cell(row.random),
                    _cell(row.human),
                ]
            )
        return out.getvalue()

    def format_table(self) -> str:
        """The table as aligned text, with the IQM line (what the CLI prints).

        Returns:
            Text lines.
        """
        header = ["game", "seeds", "score (mean ± std)", "per seed", "human-normalized"]
        lines = [header]
        for row in self.games:
            score = "—" if row.mean is None else f"{row.mean:.2f} ± {_std(row.std)}"
            seeds = ", ".join(f"{v:.2f}" for _, v in sorted(row.scores.items())) or "—"
            normalized = "—" if row.human_normalized is None else f"{row.human_normalized:.3f}"
            lines.append(
                [row.game, f"{row.seeds_finished}/{row.seeds_total}", score, seeds, normalized]
            )
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        text = [
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
            for line in lines
        ]
        text.insert(1, "  ".join("-" * w for w in widths))
        text.append("")
        text.append(f"trials finished: {self.trials_finished} of {len(self.trials)}")
        if self.iqm is None:
            text.append("IQM of human-normalized scores: — (no finished game with references)")
        else:
            text.append(
                f"IQM of human-normalized scores: {self.iqm:.3f} "
                f"(rliable, over {self.iqm_runs} runs)"
            )
        return "\n".join(text)


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def _std(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _score(record: TrialRecord) -> float | None:
    evaluation = record.evaluation or {}
    value = evaluation.get("mean")
    return None if value is None or not record.finished else float(value)


def summarize(
    experiment: str | os.PathLike[str],
    spec: SuiteSpec | None,
    trials: Sequence[tuple[Path, TrialRecord, TrainingCurve]],
) -> SuiteReport:
    """Aggregate trial records into a `SuiteReport` (nothing is read or written).

    Args:
        experiment: The experiment folder (model paths are relative to it).
        spec: The suite's specification: its games and seeds make the rows, and a trial
            without a record counts as ``"pending"``. ``None``: the trials found.
        trials: ``(folder, record, curve)`` per trial (`dqn_agents.suite.records.read_trials`).

    Returns:
        The report.
    """
    root = Path(experiment)
    by_key = {(record.env_id, int(record.seed)): (folder, record) for folder, record, _ in trials}
    if spec is not None:
        games = list(spec.games)
        seeds = list(spec.seeds)
        keys = [(g, s) for g in games for s in seeds]
    else:
        games = sorted({record.env_id for _, record, _ in trials})
        keys = sorted(by_key)
    trial_rows: list[TrialRow] = []
    for env_id, seed in keys:
        found = by_key.get((env_id, seed))
        if found is None:
            trial_rows.append(TrialRow(game_slug(env_id), env_id, seed, "pending"))
            continue
        folder, record = found
        score = _score(record)
        model = folder / "model"
        trial_rows.append(
            TrialRow(
                game=record.game,
                env_id=env_id,
                seed=seed,
                status="finished" if record.finished else "running",
                num_timesteps=record.num_timesteps,
                total_timesteps=record.total_timesteps,
                attempt=record.attempt,
                score=score,
                human_normalized=None if score is None else human_normalized_score(env_id, score),
                model=(
                    model.relative_to(root).as_posix()
                    if record.finished and model.is_dir() and model.is_relative_to(root)
                    else None
                ),
                repo_id=record.repo_id,
            )
        )
    rows: list[GameRow] = []
    pooled: list[float] = []
    for env_id in games:
        mine = [t for t in trial_rows if t.env_id == env_id]
        scores = {t.seed: float(t.score) for t in mine if t.score is not None}
        refs = reference_scores(env_id)
        values = list(scores.values())
        normalized = [t.human_normalized for t in mine if t.human_normalized is not None]
        pooled.extend(normalized)
        rows.append(
            GameRow(
                game=game_slug(env_id),
                env_id=env_id,
                seeds_finished=len(scores),
                seeds_total=len(mine),
                mean=math.fsum(values) / len(values) if values else None,
                std=_pstdev(values) if values else None,
                scores=scores,
                human_normalized=math.fsum(normalized) / len(normalized) if normalized else None,
                random=None if refs is None else refs.random,
                human=None if refs is None else refs.human,
            )
        )
    iqm = interquartile_mean(pooled) if pooled else None
    return SuiteReport(root, spec, rows, trial_rows, iqm, len(pooled))


def _pstdev(values: Sequence[float]) -> float:
    center = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - center) ** 2 for v in values) / len(values))


def render_report(experiment: str | os.PathLike[str], *, plot: bool = True) -> SuiteReport:
    """Read a suite's experiment folder and write its table (CSV + JSON) and figure.

    Args:
        experiment: The experiment folder (``<storage>/<name>``, printed by
            ``dqn-agents suite``).
        plot: Also draw ``learning_curves.png`` (skipped, with no error, when matplotlib
            is missing).

    Returns:
        The report, with ``files`` naming what was written.

    Raises:
        FileNotFoundError: ``experiment`` is not the folder of a suite run.
    """
    root = Path(experiment).expanduser().resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder (expected <storage>/<name> of a suite).")
    spec = read_suite_spec(root)
    trials = read_trials(root)
    report = summarize(root, spec, trials)
    files: dict[str, Path] = {}
    csv_path = root / TABLE_CSV
    tmp = csv_path.with_name(f".{TABLE_CSV}.{os.getpid()}")
    tmp.write_text(report.csv_text(), encoding="utf-8")
    os.replace(tmp, csv_path)
    files["csv"] = csv_path
    files["json"] = write_json(root / TABLE_JSON, report.to_dict())
    if plot:
        from dqn_agents.suite.plots import plot_suite_curves

        curves: dict[str, list[TrainingCurve]] = {game_slug(g): [] for g in spec.games}
        for _, record, curve in trials:
            curves.setdefault(record.game, []).append(curve)
        try:
            files["plot"] = plot_suite_curves(
                curves,
                root / PLOT_FILE,
                f"{root.name}: training games (moving mean)\n"
                f"{report.trials_finished} of {len(report.trials)} runs finished",
            )
        except ImportError:
            pass
    return SuiteReport(
        report.experiment,
        report.spec,
        report.games,
        report.trials,
        report.iqm,
        report.iqm_runs,
        files,
    )
