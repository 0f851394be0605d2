"""`run_suite`: train a grid of games x seeds on Ray Tune, locally or on a cluster.

The runner checks the request (game ids, config, paths) before anything starts, starts
Ray on this machine (no address) or connects to a cluster (``"auto"``, ``"ray://..."``,
``"host:port"``; inside ``ray job submit`` the job's own cluster), and builds a
``tune.Tuner`` over ``grid_search(games) x grid_search(seeds)`` with the function
trainable `dqn_agents.suite.trainable.train_trial`, ``cpus_per_trial`` CPUs and
``gpus_per_trial`` (fractional) GPUs per trial, a ``FailureConfig`` that retries a dying
trial from its last checkpoint, and `dqn_agents.suite.events.SuiteEvents` for one
progress line per trial state change. ``resume=True`` continues a stopped suite with
``Tuner.restore(resume_errored=True)``: finished trials are not run again.

Ray is imported only inside `run_suite` (and `require_ray`): without the ``ray`` extra the
error says which extra to install.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dqn_agents.suite.protocol import EvalProtocol
from dqn_agents.suite.records import (
    SUITE_FILE,
    SuiteSpec,
    read_suite_spec,
    trial_dirname,
    utc_now,
    write_json,
)
from dqn_agents.suite.report import SuiteReport, render_report

if TYPE_CHECKING:  # pragma: no cover
    from dqn_agents.suite.trainable import CallbackFactory

__all__ = [
    "DEFAULT_STORAGE",
    "RAY_EXTRA",
    "RayMissingError",
    "SuiteResult",
    "canonical_game",
    "find_experiment",
    "require_ray",
    "run_suite",
    "trial_dirname_creator",
]

RAY_EXTRA = 'pip install "dqn-agents[ray]"'
"""The command that installs what the suite needs."""
DEFAULT_STORAGE = "runs/suite"
"""Where experiments go when no storage path is given (one folder per suite under it)."""

_ORG = re.compile(r"[A-Za-z0-9][\w.-]*")


class RayMissingError(ImportError):
    """Ray (the ``ray`` extra) is not installed; the message says what to install."""


def require_ray() -> Any:
    """Import Ray and Ray Tune, or explain which extra to install.

    Returns:
        The ``ray`` module.

    Raises:
        RayMissingError: ``ray[tune]`` is not installed (an ``ImportError``).
    """
    try:
        import ray
        import ray.tune  # Tune needs more packages (pandas, pyarrow...)
    except ImportError as exc:
        raise RayMissingError(
            f"The suite runs on Ray Tune, which is not installed here ({exc}). Install the "
            f"extra: {RAY_EXTRA} (from a clone: pip install -e '.[ray]')."
        ) from exc
    return ray


@dataclass(frozen=True)
class SuiteResult:
    """How a `run_suite` call ended.

    Attributes:
        experiment: The experiment folder (``<storage>/<name>``): Tune's state, the trial
            folders with their model folders, the table and the figure.
        report: The aggregated report (also written to the experiment folder).
        finished: Trial folder names of the trials that finished.
        failed: Trial folder names of the trials that failed for good.
        unfinished: Trial folder names of the trials neither finished nor failed (the run
            was stopped).
        resume_command: The command that continues the suite.
    """

    experiment: Path
    report: SuiteReport
    finished: tuple[str, ...]
    failed: tuple[str, ...]
    unfinished: tuple[str, ...]
    resume_command: str

    @property
    def complete(self) -> bool:
        """Whether every trial finished."""
        return not self.failed and not self.unfinished

    @property
    def exit_status(self) -> int:
        """The CLI's exit status: 0 complete, 1 a trial failed, 130 stopped before the end."""
        if self.unfinished:
            return 130
        return 1 if self.failed else 0


def canonical_game(game: str) -> str:
    """The env id a game name stands for, checked now (before Ray starts).

    Args:
        game: An Atari id or name (``"Pong"``, ``"ALE/Pong-v5"``,
            ``"PongNoFrameskip-v4"``), a registered Gymnasium id (``"CartPole-v1"``) or a
            ``"module:Env-v0"`` id (``gym.make`` imports ``module``, which registers
            ``Env-v0``, in every Ray worker too).

    Returns:
        The env id each trial builds (Atari names become ``"ALE/<Game>-v5"``).

    Raises:
        ValueError: An unknown id (the message names close Atari ids when there are).
    """
    import gymnasium as gym

    name = game.strip()
    if not name:
        raise ValueError("Empty game name in the list of games.")
    if ":" not in name:
        from dqn_agents.wrappers.ids import is_atari_id, resolve_env_id

        if is_atari_id(name):
            return resolve_env_id(name).env_id
        if name.startswith("ALE/") or "NoFrameskip" in name:
            resolve_env_id(name)  # raises a ValueError naming the closest games
    try:
        module, _, registered = name.rpartition(":")
        if module:  # what gym.make does with such an id, in every worker too
            importlib.import_module(module)
        gym.spec(registered)
    except (gym.error.Error, ImportError) as exc:
        raise ValueError(
            f"Unknown game {game!r} ({exc}). Use an Atari name or id (Pong, ALE/Pong-v5, "
            "PongNoFrameskip-v4), a registered Gymnasium id (CartPole-v1) or a "
            "'module:Env-v0' id whose module registers the env."
        ) from exc
    return name


def _seed_tuple(seeds: int | Iterable[int]) -> tuple[int, ...]:
    if isinstance(seeds, bool):
        raise TypeError(f"seeds must be a count or a list of seeds, got {seeds!r}.")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"seeds must be >= 1 (the number of seeds per game), got {seeds}.")
        return tuple(range(seeds))
    out = tuple(int(s) for s in seeds)
    if not out or len(set(out)) != len(out):
        raise ValueError(f"seeds must be distinct and at least one, got {list(out)}.")
    return out


def _storage(storage_path: str | os.PathLike[str] | None) -> Path:
    text = os.fspath(storage_path) if storage_path is not None else DEFAULT_STORAGE
    if "://" in text:
        raise ValueError(
            f"storage {text!r}: the suite writes its model folders and report with plain file "
            "operations, so the storage must be a folder: local, or on a cluster a shared "
            "mount (NFS, EFS, a GCS/S3 bucket mounted with gcsfuse/mountpoint) at the same "
            "path on every node."
        )
    return Path(text).expanduser().resolve()


def find_experiment(storage_path: str | os.PathLike[str] | None, name: str | None) -> Path:
    """The experiment folder to resume: ``<storage>/<name>``, or the newest suite there.

    Args:
        storage_path: The storage folder (``None``: `DEFAULT_STORAGE`).
        name: The experiment name (``None``: the most recently started suite under the
            storage folder).

    Returns:
        The experiment folder.

    Raises:
        FileNotFoundError: No such suite.
    """
    storage = _storage(storage_path)
    if name:
        experiment = storage / name
        read_suite_spec(experiment)  # raises FileNotFoundError with what to pass
        return experiment
    candidates = sorted(
        storage.glob(f"*/{SUITE_FILE}"), key=lambda p: p.stat().st_mtime_ns, reverse=True
    )
    if not candidates:
        raise FileNotFoundError(
            f"No suite to resume under {storage}: pass --storage (and --name) of the run."
        )
    return candidates[0].parent


def trial_dirname_creator(trial: Any) -> str:
    """Tune's name and folder name of a trial: ``<game>-seed<k>`` (`trial_dirname`).

    Args:
        trial: A Tune trial (its config has ``env_id`` and ``seed``).

    Returns:
        The name.
    """
    return trial_dirname(str(trial.config["env_id"]), int(trial.config["seed"]))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _resume_command(experiment: Path, address: str | None) -> str:
    where = f" --address {address}" if address else ""
    return (
        f"dqn-agents suite --resume --storage {experiment.parent} --name {experiment.name}{where}"
    )


def _start_ray(ray: Any, address: str | None, num_cpus: int | None) -> bool:
    """Connect to or start Ray; ``True`` when this call started (and must stop) it."""
    if ray.is_initialized():
        return False
    # No address: a Ray of our own on this machine, unless this runs inside a Ray job
    # (``ray job submit`` sets RAY_ADDRESS), which belongs on the job's cluster.
    target = address if address else (None if os.environ.get("RAY_ADDRESS") else "local")
    options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR}
    if target == "local":
        options.update(include_dashboard=False, num_cpus=num_cpus)
    ray.init(address=target, **options)
    return True


def run_suite(
    games: str | Sequence[str] | None = None,
    seeds: int | Iterable[int] = 3,
    total_timesteps: int = 1_000_000,
    *,
    preset: str = "default",
    overrides: Mapping[str, Any] | None = None,
    wrapper_options: Mapping[str, Any] | None = None,
    protocol: EvalProtocol | None = None,
    cpus_per_trial: float = 1.0,
    gpus_per_trial: float = 0.0,
    storage_path: str | os.PathLike[str] | None = None,
    name: str | None = None,
    push_to: str | None = None,
    address: str | None = None,
    resume: bool = False,
    max_failures: int = 2,
    max_concurrent: int | None = None,
    checkpoint_every: int | None = None,
    report_every: int | None = None,
    save_replay: bool = False,
    callbacks: Sequence[CallbackFactory] = (),
    num_cpus: int | None = None,
    progress: bool = True,
) -> SuiteResult:
    """Train, evaluate (and push) every game x seed on Ray Tune; aggregate the results.

    Args:
        games: Game ids or names, a list or one comma-separated string (`canonical_game`).
            Not needed with ``resume`` (the suite's own ``suite.json`` says).
        seeds: How many seeds per game (0, 1, ...) or the seeds themselves.
        total_timesteps: Agent steps of each trial.
        preset: The `dqn_agents.DQNConfig` preset of every trial.
        overrides: `DQNConfig` fields overriding the preset.
        wrapper_options: Atari wrapper options (``AtariOptions`` fields).
        protocol: How each finished trial is evaluated (default `EvalProtocol()`: 20
            greedy full games, the zoo's protocol).
        cpus_per_trial: CPUs Ray reserves for each trial (also its torch threads).
        gpus_per_trial: GPUs per trial; fractions share a GPU (``0.25``: four trials per
            GPU). More than 0 trains on CUDA.
        storage_path: The folder experiments go to (local, or a shared mount on a cluster);
            default `DEFAULT_STORAGE`.
        name: The experiment's name (default ``suite-<date>-<time>``; with ``resume``, the
            newest suite under the storage folder).
        push_to: Push each finished model to ``<push_to>/dqn-<game>-seed<k>`` on the Hub
            (from this process, with its Hub token).
        address: Ray cluster to use: ``None`` starts Ray here (inside ``ray job submit``:
            the job's cluster), ``"auto"`` the running cluster of this machine,
            ``"ray://host:10001"`` a remote one through Ray Client.
        resume: Continue a stopped suite (``Tuner.restore(resume_errored=True)``); its
            settings come from its ``suite.json``, the ones given here are not used.
        max_failures: Retries of a failing trial, each from its last checkpoint.
        max_concurrent: Most trials at once (default: as many as the resources allow).
        checkpoint_every: Agent steps between checkpoints (default ``min(250_000,
            total_timesteps // 4)``).
        report_every: Agent steps between metric reports (default ``min(10_000,
            total_timesteps // 20)``).
        save_replay: Include the replay memory in checkpoints (0.7 GB per 100k Atari
            transitions): a restart then continues exactly instead of refilling it.
        callbacks: Factories of more SB3 callbacks for each trial's ``learn`` (called in
            the worker with a `dqn_agents.suite.trainable.TrialContext`); they must be
            importable there.
        num_cpus: CPUs of the Ray started on this machine (default: all).
        progress: Print one line per trial state change.

    Returns:
        A `SuiteResult` (its ``exit_status`` is what the CLI returns).

    Raises:
        RayMissingError: The ``ray`` extra is not installed.
        ValueError: An unknown game, preset or config field, a bad seed list or storage.
        FileNotFoundError: ``resume`` and no such suite.
        FileExistsError: A new suite named like an existing one.
    """
    ray = require_ray()
    if resume:
        experiment = find_experiment(storage_path, name)
        spec = read_suite_spec(experiment)
    else:
        spec, experiment = _new_spec(
            games,
            seeds,
            total_timesteps,
            preset=preset,
            overrides=overrides,
            wrapper_options=wrapper_options,
            protocol=protocol,
            cpus_per_trial=cpus_per_trial,
            gpus_per_trial=gpus_per_trial,
            storage_path=storage_path,
            name=name,
            push_to=push_to,
            max_failures=max_failures,
            max_concurrent=max_concurrent,
            checkpoint_every=checkpoint_every,
            report_every=report_every,
            save_replay=save_replay,
        )
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # Tune's old, quiet output at verbose=0
    from ray import tune

    from dqn_agents.suite.events import QuietTrialErrors, SuiteEvents
    from dqn_agents.suite.trainable import train_trial

    started = _start_ray(ray, address, num_cpus)
    quiet = QuietTrialErrors()
    controller = logging.getLogger("ray.tune.execution.tune_controller")
    if progress:
        controller.addFilter(quiet)
    try:
        trainable = tune.with_resources(
            tune.with_parameters(train_trial, callbacks=tuple(callbacks)),
            {"cpu": spec.cpus_per_trial, "gpu": spec.gpus_per_trial},
        )
        if resume:
            if not tune.Tuner.can_restore(str(experiment)):
                raise FileNotFoundError(
                    f"{experiment}: Ray Tune saved no state there (the suite stopped before "
                    "its first trial started); start it again without --resume."
                )
            if progress:
                print(f"[suite] resuming {experiment}", flush=True)
            tuner = tune.Tuner.restore(str(experiment), trainable=trainable, resume_errored=True)
        else:
            experiment.mkdir(parents=True, exist_ok=True)
            write_json(experiment / SUITE_FILE, spec.to_dict())
            if progress:
                print(
                    f"[suite] {_count(len(spec.games), 'game')} x "
                    f"{_count(len(spec.seeds), 'seed')} = "
                    f"{_count(len(spec.games) * len(spec.seeds), 'trial')} of "
                    f"{spec.total_timesteps:,} steps; results in {experiment}",
                    flush=True,
                )
            tuner = tune.Tuner(
                trainable,
                param_space={
                    "env_id": tune.grid_search(list(spec.games)),
                    "seed": tune.grid_search(list(spec.seeds)),
                    "suite": spec.to_dict(),
                    "experiment": str(experiment),
                },
                tune_config=tune.TuneConfig(
                    max_concurrent_trials=spec.max_concurrent,
                    reuse_actors=True,
                    trial_name_creator=trial_dirname_creator,
                    trial_dirname_creator=trial_dirname_creator,
                ),
                run_config=tune.RunConfig(
                    name=spec.name,
                    storage_path=str(experiment.parent),
                    failure_config=tune.FailureConfig(max_failures=spec.max_failures),
                    checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
                    callbacks=[
                        SuiteEvents(spec.push_to, progress=progress, total=len(spec.trial_names()))
                    ],
                    verbose=0,
                ),
            )
        grid = tuner.fit()
        finished, failed = [], []
        for index in range(len(grid)):
            result = grid[index]
            config = result.config or {}
            label = trial_dirname(str(config.get("env_id")), int(config.get("seed", -1)))
            if result.metrics and result.metrics.get("finished"):
                finished.append(label)
            elif result.error is not None:
                failed.append(label)
        # Trials Tune had not created yet when the run stopped are unfinished too.
        unfinished = [t for t in spec.trial_names() if t not in finished and t not in failed]
    finally:
        controller.removeFilter(quiet)
        if started:
            ray.shutdown()
    report = render_report(experiment)
    outcome = SuiteResult(
        experiment,
        report,
        tuple(sorted(finished)),
        tuple(sorted(failed)),
        tuple(sorted(unfinished)),
        _resume_command(experiment, address),
    )
    if progress:
        print(report.format_table(), flush=True)
        print(f"[suite] table, figure and model folders: {experiment}", flush=True)
        if outcome.unfinished or outcome.failed:
            print(f"[suite] continue it with: {outcome.resume_command}", flush=True)
    return outcome


def _new_spec(
    games: str | Sequence[str] | None,
    seeds: int | Iterable[int],
    total_timesteps: int,
    *,
    preset: str,
    overrides: Mapping[str, Any] | None,
    wrapper_options: Mapping[str, Any] | None,
    protocol: EvalProtocol | None,
    cpus_per_trial: float,
    gpus_per_trial: float,
    storage_path: str | os.PathLike[str] | None,
    name: str | None,
    push_to: str | None,
    max_failures: int,
    max_concurrent: int | None,
    checkpoint_every: int | None,
    report_every: int | None,
    save_replay: bool,
) -> tuple[SuiteSpec, Path]:
    """Check a new suite's settings and name its experiment folder."""
    from dqn_agents.config import DQNConfig
    from dqn_agents.version import __version__

    if games is None:
        raise ValueError("run_suite needs games (e.g. ['Pong', 'Breakout']), or resume=True.")
    names = [g for g in games.split(",")] if isinstance(games, str) else list(games)
    ids = tuple(canonical_game(g) for g in names)
    if not ids:
        raise ValueError("run_suite needs at least one game.")
    slugs = [trial_dirname(g, 0) for g in ids]
    if len(set(slugs)) != len(slugs):
        raise ValueError(f"Two games of {list(ids)} share a name; list each game once.")
    if isinstance(total_timesteps, bool) or int(total_timesteps) < 1:
        raise ValueError(f"total_timesteps must be >= 1, got {total_timesteps!r}.")
    total = int(total_timesteps)
    DQNConfig.preset(preset, **dict(overrides or {}))  # unknown preset/field: fails here
    if wrapper_options:
        from dqn_agents.wrappers import AtariOptions

        AtariOptions.from_dict(dict(wrapper_options))
    if cpus_per_trial <= 0 or gpus_per_trial < 0:
        raise ValueError(
            f"cpus_per_trial must be > 0 and gpus_per_trial >= 0, got {cpus_per_trial} and "
            f"{gpus_per_trial}."
        )
    if gpus_per_trial > 1 and not float(gpus_per_trial).is_integer():
        raise ValueError(f"gpus_per_trial above 1 must be whole, got {gpus_per_trial}.")
    if push_to is not None and not _ORG.fullmatch(push_to):
        raise ValueError(f"push_to must be a Hub user or organisation name, got {push_to!r}.")
    if max_failures < 0:
        raise ValueError(f"max_failures must be >= 0, got {max_failures}.")
    if max_concurrent is not None and max_concurrent < 1:
        raise ValueError(f"max_concurrent must be >= 1, got {max_concurrent}.")
    storage = _storage(storage_path)
    label = name or time.strftime("suite-%Y%m%d-%H%M%S")
    if not re.fullmatch(r"[\w.-]+", label):
        raise ValueError(f"name {label!r}: use letters, digits, '_', '-' and '.' only.")
    experiment = storage / label
    if (experiment / SUITE_FILE).exists():
        raise FileExistsError(
            f"{experiment} already holds a suite; continue it with resume (--resume) or pass "
            "another name."
        )
    spec = SuiteSpec(
        games=ids,
        seeds=_seed_tuple(seeds),
        total_timesteps=total,
        preset=preset,
        overrides=dict(overrides or {}),
        wrapper_options=dict(wrapper_options) if wrapper_options else None,
        protocol=(protocol or EvalProtocol()).to_dict(),
        push_to=push_to,
        cpus_per_trial=float(cpus_per_trial),
        gpus_per_trial=float(gpus_per_trial),
        checkpoint_every=int(checkpoint_every or max(1, min(250_000, total // 4))),
        report_every=int(report_every or max(1, min(10_000, total // 20))),
        save_replay=bool(save_replay),
        max_failures=int(max_failures),
        max_concurrent=max_concurrent,
        name=label,
        created=utc_now(),
        version=__version__,
    )
    return spec, experiment
