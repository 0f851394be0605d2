"""The files a suite run leaves in its experiment folder, written atomically and read back.

One experiment folder per suite (``<storage>/<name>/``) holds Ray Tune's own state
(``tuner.pkl``, ``experiment_state-*.json``) and ours::

    <storage>/<name>/
      suite.json                 # SuiteSpec: games, seeds, budget, config, protocol
      suite_table.csv / .json    # the aggregated table (dqn_agents.suite.report)
      learning_curves.png        # training-game scores per game, one line per seed
      <Game>-seed<k>/            # one folder per trial (Tune's trial folder)
        trial.json               # TrialRecord: status, steps, attempt, final evaluation
        curve.json               # TrainingCurve: every finished training game
        model/                   # Hub layout: config.json, model.safetensors,
                                 # results.json, README.md, training_log.json, ...
        checkpoint_000003/       # Tune's checkpoints (our agent.zip + curve.json)
        result.json, params.json # Tune's own files

This module only knows the layout and the formats: nothing here imports Ray or torch, so
the report re-renders a finished or partial run anywhere.

Example:
    >>> trial_dirname("ALE/Pong-v5", 2), trial_dirname("my_games:Catch-v0", 0)
    ('Pong-v5-seed2', 'Catch-v0-seed0')
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = [
    "CURVE_FILE",
    "MODEL_FOLDER",
    "SUITE_FILE",
    "TRIAL_FILE",
    "SuiteSpec",
    "TrainingCurve",
    "TrialRecord",
    "game_slug",
    "read_json",
    "read_suite_spec",
    "read_trials",
    "trial_dirname",
    "utc_now",
    "write_json",
]

SUITE_FILE = "suite.json"
"""The suite's specification, at the top of the experiment folder."""
TRIAL_FILE = "trial.json"
"""A trial's `TrialRecord`, in its folder."""
CURVE_FILE = "curve.json"
"""A trial's `TrainingCurve`, in its folder (and in each of its checkpoints)."""
MODEL_FOLDER = "model"
"""A finished trial's model folder (Hub layout), in its folder."""


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second.

    Returns:
        E.g. ``"2026-12-02T18:40:00+00:00"``.
    """
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_json(path: str | os.PathLike[str], data: Mapping[str, Any]) -> Path:
    """Write ``data`` as JSON atomically (temporary file, then rename): never half a file.

    Args:
        path: Destination (its folder is created).
        data: JSON-able content.

    Returns:
        The path written.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2)
            out.write("\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def read_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a JSON object.

    Args:
        path: The file.

    Returns:
        Its content.

    Raises:
        FileNotFoundError: No such file.
        ValueError: Not a JSON object (the message names the file).
    """
    target = Path(path)
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{target}: not valid JSON ({exc}).") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{target}: expected a JSON object, got {type(data).__name__}.")
    return data


def game_slug(env_id: str) -> str:
    """A short, file- and repo-name-safe name of an env id.

    Args:
        env_id: ``"ALE/Pong-v5"``, ``"PongNoFrameskip-v4"``, ``"my_games:Catch-v0"``...

    Returns:
        ``"Pong-v5"``, ``"PongNoFrameskip-v4"``, ``"Catch-v0"``...

    Example:
        >>> game_slug("ALE/SpaceInvaders-v5")
        'SpaceInvaders-v5'
    """
    name = env_id.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")
    return slug or "env"


def trial_dirname(env_id: str, seed: int) -> str:
    """The folder name of the trial of ``env_id`` and ``seed``: ``<slug>-seed<seed>``.

    Args:
        env_id: The game's env id.
        seed: The seed.

    Returns:
        The name.
    """
    return f"{game_slug(env_id)}-seed{int(seed)}"


@dataclass(frozen=True)
class SuiteSpec:
    """What a suite trains: written to ``suite.json`` when it starts, read to resume.

    Attributes:
        games: Env ids, one per game (canonical ids: ``"ALE/Pong-v5"``).
        seeds: Seeds, each game is trained once per seed.
        total_timesteps: Agent steps of each trial.
        preset: The `DQNConfig` preset.
        overrides: `DQNConfig` fields overriding the preset.
        wrapper_options: Atari wrapper options (``None``: the defaults).
        protocol: The evaluation protocol (`dqn_agents.suite.protocol.EvalProtocol` as a
            dict).
        push_to: The Hub organisation (or user) each finished model is pushed to, if any.
        cpus_per_trial: CPUs Ray reserves for each trial.
        gpus_per_trial: GPUs (fractions allowed) Ray reserves for each trial.
        checkpoint_every: Agent steps between two checkpoints of a trial.
        report_every: Agent steps between two metric reports of a trial.
        save_replay: Whether checkpoints include the replay memory.
        max_failures: Retries of a failing trial (from its last checkpoint).
        max_concurrent: Most trials running at once (``None``: as resources allow).
        name: The experiment's name (its folder under the storage path).
        created: When the suite was started (UTC, ISO 8601).
        version: The dqn-agents version that started it.
    """

    games: tuple[str, ...]
    seeds: tuple[int, ...]
    total_timesteps: int
    preset: str = "default"
    overrides: dict[str, Any] = field(default_factory=dict)
    wrapper_options: dict[str, Any] | None = None
    protocol: dict[str, Any] = field(default_factory=dict)
    push_to: str | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    checkpoint_every: int = 250_000
    report_every: int = 10_000
    save_replay: bool = False
    max_failures: int = 2
    max_concurrent: int | None = None
    name: str = ""
    created: str = ""
    version: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict.

        Returns:
            The fields, tuples as lists.
        """
        out = asdict(self)
        out["games"], out["seeds"] = list(self.games), list(self.seeds)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SuiteSpec:
        """Build from `to_dict` output (unknown keys are ignored: newer files still load).

        Args:
            data: The mapping.

        Returns:
            The spec.
        """
        known = set(cls.__dataclass_fields__)
        values = {k: v for k, v in data.items() if k in known}
        values["games"] = tuple(str(g) for g in values.get("games", ()))
        values["seeds"] = tuple(int(s) for s in values.get("seeds", ()))
        return cls(**values)

    def trial_names(self) -> list[str]:
        """The folder name of every trial, game by game.

        Returns:
            ``[trial_dirname(game, seed) for game in games for seed in seeds]``.
        """
        return [trial_dirname(g, s) for g in self.games for s in self.seeds]


@dataclass(frozen=True)
class TrialRecord:
    """Where one trial stands: written to ``trial.json`` at each report and at the end.

    Attributes:
        env_id: The game's env id.
        seed: The seed.
        status: ``"running"`` or ``"finished"`` (``trial.json`` of a trial that died says
            ``"running"``: Tune's state says whether it is retried).
        num_timesteps: Agent steps done.
        total_timesteps: Agent steps to do.
        attempt: 1 for the first run of the trial, +1 for each restart from a checkpoint.
        restored_from: The agent step of the checkpoint this attempt started from.
        evaluation: The final evaluation: ``mean``, ``std``, ``n_episodes``, ``scores``
            (raw game scores) and ``epsilon``, once finished.
        repo_id: The Hub repo the model is meant for (``None`` without a push).
        updated: When this record was written (UTC).
    """

    env_id: str
    seed: int
    status: str
    num_timesteps: int
    total_timesteps: int
    attempt: int = 1
    restored_from: int | None = None
    evaluation: dict[str, Any] | None = None
    repo_id: str | None = None
    updated: str = ""

    @property
    def game(self) -> str:
        """The game's short name (`game_slug` of the env id)."""
        return game_slug(self.env_id)

    @property
    def finished(self) -> bool:
        """Whether the trial finished (trained and evaluated)."""
        return self.status == "finished" and self.evaluation is not None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict.

        Returns:
            The fields.
        """
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrialRecord:
        """Build from `to_dict` output (unknown keys are ignored).

        Args:
            data: The mapping.

        Returns:
            The record.
        """
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class TrainingCurve:
    """Every finished training game of a trial: the data of its learning curve.

    Each game is ``{"step": agent step at its end, "r": raw score, "l": length in agent
    steps, "t_s": seconds of training so far}`` (the keys of the zoo's training logs).

    Attributes:
        env_id: The game's env id.
        seed: The trial's seed.
        games: The finished games, in order.
        train_seconds: Seconds spent training so far, over all attempts.
    """

    env_id: str
    seed: int
    games: list[dict[str, float]] = field(default_factory=list)
    train_seconds: float = 0.0

    def add(self, step: int, score: float, length: int, t_s: float) -> None:
        """Append a finished game.

        Args:
            step: The agent step it ended at.
            score: Its raw score.
            length: Its length in agent steps.
            t_s: Seconds of training at its end.
        """
        self.games.append(
            {"step": int(step), "r": float(score), "l": int(length), "t_s": round(t_s, 3)}
        )

    def truncate(self, step: int) -> None:
        """Forget the games that ended after ``step`` (a restart redoes them).

        Args:
            step: The agent step of the checkpoint a trial restarts from.
        """
        self.games = [g for g in self.games if g["step"] <= step]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict.

        Returns:
            ``{"env_id", "seed", "train_seconds", "games"}``.
        """
        return {
            "env_id": self.env_id,
            "seed": self.seed,
            "train_seconds": round(self.train_seconds, 3),
            "games": list(self.games),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingCurve:
        """Build from `to_dict` output.

        Args:
            data: The mapping.

        Returns:
            The curve.
        """
        return cls(
            env_id=str(data.get("env_id", "")),
            seed=int(data.get("seed", 0)),
            games=[dict(g) for g in data.get("games", [])],
            train_seconds=float(data.get("train_seconds", 0.0)),
        )


def read_suite_spec(experiment: str | os.PathLike[str]) -> SuiteSpec:
    """Read the ``suite.json`` of an experiment folder.

    Args:
        experiment: The experiment folder (``<storage>/<name>``).

    Returns:
        The spec.

    Raises:
        FileNotFoundError: ``experiment`` is not the folder of a suite run.
    """
    path = Path(experiment) / SUITE_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{Path(experiment)} is not the folder of a dqn-agents suite run (no {SUITE_FILE}); "
            "pass <storage>/<name>, the folder that `dqn-agents suite` printed."
        )
    return SuiteSpec.from_dict(read_json(path))


def read_trials(
    experiment: str | os.PathLike[str],
) -> list[tuple[Path, TrialRecord, TrainingCurve]]:
    """Every trial folder of an experiment that has a record, with its curve.

    A trial that never reported has no folder yet; a curve that is missing reads empty.

    Args:
        experiment: The experiment folder.

    Returns:
        ``(folder, record, curve)`` per trial, sorted by folder name.
    """
    found = []
    for record_path in sorted(Path(experiment).glob(f"*/{TRIAL_FILE}")):
        folder = record_path.parent
        record = TrialRecord.from_dict(read_json(record_path))
        curve_path = folder / CURVE_FILE
        curve = (
            TrainingCurve.from_dict(read_json(curve_path))
            if curve_path.is_file()
            else TrainingCurve(record.env_id, record.seed)
        )
        found.append((folder, record, curve))
    return found
