"""What the suite's driver does when a trial changes state: one line, a push, the report.

`SuiteEvents` is a Ray Tune callback run by the driver (the process of ``dqn-agents
suite``, or of ``ray job submit -- dqn-agents suite``). It prints one line per trial state
change instead of Tune's tables and Ray's logs::

    [suite 18:40:03] Pong-v5 seed 0: started                          (1 running, 0/6 finished)
    [suite 18:52:10] Pong-v5 seed 0: failed at step 120,000 (RuntimeError: ...); retrying
                     from its last checkpoint
    [suite 19:40:41] Pong-v5 seed 0: finished, 1,000,000 steps, score 20.10 ± 0.90 (20 games)

and, when a trial finishes, pushes its model folder to the Hub (``push_to``: on the
driver, where the user's Hub token is, never on the workers) and re-renders the report,
so a partial run always has an up-to-date table. Ray is imported at module level: only
the runner imports this module, after checking that Ray is installed.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

from ray import tune

from dqn_agents.suite.records import MODEL_FOLDER, TrialRecord, game_slug, read_json
from dqn_agents.suite.report import render_report
from dqn_agents.suite.trainable import repo_id_for

__all__ = ["QuietTrialErrors", "SuiteEvents", "trial_label"]


def trial_label(config: dict[str, Any]) -> str:
    """``"<game> seed <k>"`` for a trial's config.

    Args:
        config: The trial's Tune config (``env_id``, ``seed``).

    Returns:
        The label.

    Example:
        >>> trial_label({"env_id": "ALE/Pong-v5", "seed": 2})
        'Pong-v5 seed 2'
    """
    return f"{game_slug(str(config.get('env_id', '?')))} seed {config.get('seed', '?')}"


def _last_error_line(trial: Any) -> str:
    path = getattr(trial, "error_file", None)
    if path and Path(path).is_file():
        lines = [ln for ln in Path(path).read_text(errors="replace").splitlines() if ln.strip()]
        if lines:
            return lines[-1].strip()[:200]
    return "see the trial's error.txt"


class QuietTrialErrors(logging.Filter):
    """Drop Tune's "Trial task failed" log record (a traceback per failure).

    `SuiteEvents` says the same in one line and the traceback stays in the trial's
    ``error.txt``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record but Tune's trial-failure traceback."""
        return not str(record.msg).startswith("Trial task failed")


class SuiteEvents(tune.Callback):
    """Print one line per trial state change; push and re-render when a trial finishes.

    The object is pickled into Tune's ``tuner.pkl`` and comes back on ``--resume``: it
    holds only its settings, and its counters start afresh in `setup`.

    Args:
        push_to: The Hub organisation to push each finished model to (``None``: no push).
        progress: Print the lines (``False``: silent).
        render: Re-render the report each time a trial finishes.
        total: How many trials the suite has (Tune creates them lazily).
    """

    def __init__(
        self,
        push_to: str | None = None,
        *,
        progress: bool = True,
        render: bool = True,
        total: int | None = None,
    ):
        self.push_to = push_to
        self.progress = progress
        self.render = render
        self.total = total
        self.pushed: dict[str, str] = {}
        self.running: set[str] = set()
        self.done: set[str] = set()

    def __getstate__(self) -> dict[str, Any]:
        return {
            "push_to": self.push_to,
            "progress": self.progress,
            "render": self.render,
            "total": self.total,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.push_to = state.get("push_to")
        self.progress = bool(state.get("progress", True))
        self.render = bool(state.get("render", True))
        self.total = state.get("total")
        self.pushed, self.running, self.done = {}, set(), set()

    def setup(
        self,
        stop: Any = None,
        num_samples: int | None = None,
        total_num_samples: int | None = None,
        **info: Any,
    ) -> None:
        """Start the counters of a (new or resumed) run."""
        self.pushed, self.running, self.done = {}, set(), set()

    def say(self, trials: list[Any], trial: Any, text: str) -> None:
        """Print one line about ``trial``, with the suite's counts.

        Args:
            trials: Every trial of the run.
            trial: The trial the line is about.
            text: What happened.
        """
        if not self.progress:
            return
        # Tune updates a trial's status after its callbacks: count from the events.
        running = len(self.running)
        finished = len(self.done | {t.trial_id for t in trials if t.status == "TERMINATED"})
        stamp = time.strftime("%H:%M:%S")
        print(
            f"[suite {stamp}] {trial_label(trial.config)}: {text} "
            f"({running} running, {finished}/{self.total or len(trials)} finished)",
            flush=True,
        )

    def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        """A trial started (or restarted from its checkpoint)."""
        restarted = trial.checkpoint is not None
        self.running.add(trial.trial_id)
        self.say(trials, trial, "restarted from its last checkpoint" if restarted else "started")

    def on_trial_recover(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        """A trial failed and will be retried from its last checkpoint."""
        step = (trial.last_result or {}).get("num_timesteps", 0)
        self.running.discard(trial.trial_id)
        self.say(
            trials,
            trial,
            f"failed near step {int(step or 0):,} ({_last_error_line(trial)}); retrying from its "
            f"last checkpoint (failure {trial.num_failures})",
        )

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        """A trial failed for good (out of retries)."""
        self.running.discard(trial.trial_id)
        self.say(
            trials,
            trial,
            f"FAILED after {trial.num_failures} failures ({_last_error_line(trial)}); "
            f"traceback in {trial.path}/error.txt",
        )

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        """A trial finished: say its score, push its model, refresh the report."""
        result = trial.last_result or {}
        text = (
            f"finished, {int(result.get('num_timesteps', 0)):,} steps, score "
            f"{float(result.get('eval_mean', float('nan'))):.2f} ± "
            f"{float(result.get('eval_std', float('nan'))):.2f} "
            f"({int(result.get('eval_episodes', 0))} games)"
        )
        folder = Path(trial.path)
        self.running.discard(trial.trial_id)
        self.done.add(trial.trial_id)
        if self.push_to:
            text += "; " + self.push(folder, trial.config)
        self.say(trials, trial, text)
        if self.render:
            try:
                render_report(folder.parent)
            except (OSError, ValueError) as exc:  # a partial folder: the final report redoes it
                print(f"[suite] report not updated: {exc}", file=sys.stderr, flush=True)

    def push(self, folder: Path, config: dict[str, Any]) -> str:
        """Push a finished trial's model folder to the Hub; say how it went.

        Args:
            folder: The trial's folder.
            config: The trial's Tune config.

        Returns:
            ``"pushed to <repo>"`` or ``"push failed: <why>"`` (a failed push does not stop
            the suite; ``dqn-agents push <folder>/model --repo-id ...`` retries it).
        """
        from dqn_agents.hub.errors import HubError
        from dqn_agents.hub.push import push_evaluated_folder

        assert self.push_to is not None
        record = TrialRecord.from_dict(read_json(folder / "trial.json"))
        repo_id = record.repo_id or repo_id_for(self.push_to, record.env_id, record.seed)
        try:
            result = push_evaluated_folder(folder / MODEL_FOLDER, repo_id)
        except (HubError, OSError, ValueError) as exc:
            return f"push failed: {exc}"
        self.pushed[repo_id] = result.commit_oid
        return f"pushed to {repo_id} (commit {result.commit_oid[:8]})"
