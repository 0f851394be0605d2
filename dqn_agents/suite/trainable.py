"""The function each Ray Tune trial runs: one game, one seed, trained, checkpointed, evaluated.

`train_trial` is a Tune *function trainable*. It builds the agent (or, when Tune hands it
a checkpoint after a failure or a ``--resume``, loads it with ``DQN.load``), calls
``DQN.learn`` with `SuiteReporter`, an SB3 callback that reports metrics to Tune (agent
steps, finished training games' raw scores, steps/s, loss, epsilon) and saves our own
checkpoints (``agent.zip``: safetensors + JSON with the optimizer, counters and RNG
states; the replay memory only with ``save_replay``), and finally evaluates the agent by
the suite's protocol and writes its model folder (`dqn_agents.suite.protocol`).

Ray is imported inside the functions, only in a Tune worker.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from dqn_agents.suite.protocol import EvalProtocol, write_model_folder
from dqn_agents.suite.records import (
    CURVE_FILE,
    MODEL_FOLDER,
    TRIAL_FILE,
    SuiteSpec,
    TrainingCurve,
    TrialRecord,
    read_json,
    trial_dirname,
    utc_now,
    write_json,
)

__all__ = [
    "CHECKPOINT_AGENT",
    "CHECKPOINT_REPLAY",
    "CallbackFactory",
    "SuiteReporter",
    "TrialContext",
    "repo_id_for",
    "train_trial",
]

CHECKPOINT_AGENT = "agent.zip"
"""The agent in a trial checkpoint (``DQN.save`` with its training state)."""
CHECKPOINT_REPLAY = "replay.npz"
"""The replay memory in a trial checkpoint (only with ``save_replay``)."""


def repo_id_for(org: str, env_id: str, seed: int) -> str:
    """The Hub repo a trial's model is pushed to: ``<org>/dqn-<game>-seed<seed>``.

    Args:
        org: The Hub organisation or user.
        env_id: The game's env id.
        seed: The seed.

    Returns:
        The repo id.

    Example:
        >>> repo_id_for("my-org", "ALE/Pong-v5", 1)
        'my-org/dqn-Pong-v5-seed1'
    """
    return f"{org}/dqn-{trial_dirname(env_id, seed)}"


@dataclass(frozen=True)
class TrialContext:
    """What a callback factory knows of the trial it makes a callback for.

    Attributes:
        env_id: The game's env id.
        seed: The seed.
        folder: The trial's folder in the experiment folder.
        spec: The suite.
        attempt: 1 for the first run of the trial, +1 for each restart.
    """

    env_id: str
    seed: int
    folder: Path
    spec: SuiteSpec
    attempt: int


CallbackFactory = Callable[[TrialContext], BaseCallback | None]
"""Makes one more SB3 callback for a trial's ``learn`` (``None``: none for this trial)."""


class SuiteReporter(BaseCallback):
    """Report a trial's progress to Tune from inside ``learn``, and checkpoint it.

    Every finished training game (``info["episode"]``: raw score, all lives) is added to
    the trial's `TrainingCurve`. Every ``report_every`` agent steps the metrics go to
    ``report`` and the trial's ``trial.json`` and ``curve.json`` are rewritten; every
    ``checkpoint_every`` steps a checkpoint folder (``agent.zip``, ``curve.json``,
    ``trial.json``, optionally ``replay.npz``) goes with the report.

    Args:
        record: The trial's record so far (its attempt and restore step).
        curve: The trial's curve so far (restored from the checkpoint on a restart).
        folder: The trial's folder.
        report_every: Agent steps between two reports.
        checkpoint_every: Agent steps between two checkpoints.
        save_replay: Put the replay memory in the checkpoints.
        report: ``ray.tune.report`` (a function taking ``metrics`` and ``checkpoint``).
        make_checkpoint: ``ray.tune.Checkpoint.from_directory``.
    """

    def __init__(
        self,
        record: TrialRecord,
        curve: TrainingCurve,
        folder: Path,
        *,
        report_every: int,
        checkpoint_every: int,
        save_replay: bool,
        report: Callable[..., None],
        make_checkpoint: Callable[[str], Any],
    ) -> None:
        super().__init__()
        self.record = record
        self.curve = curve
        self.folder = folder
        self.report_every = max(1, int(report_every))
        self.checkpoint_every = max(1, int(checkpoint_every))
        self.save_replay = save_replay
        self.report_fn = report
        self.make_checkpoint = make_checkpoint
        self.started = time.monotonic()
        self.seconds_before = curve.train_seconds
        self.last_step = 0
        self.last_time = self.started
        self.next_report = 0
        self.next_checkpoint = 0
        self.checkpointed_at: int | None = None

    def _on_training_start(self) -> None:
        now = int(self.model.num_timesteps)
        self.started = self.last_time = time.monotonic()
        self.last_step = now
        self.next_report = (now // self.report_every + 1) * self.report_every
        self.next_checkpoint = (now // self.checkpoint_every + 1) * self.checkpoint_every

    def train_seconds(self) -> float:
        """Seconds of training over every attempt so far.

        Returns:
            The seconds.
        """
        return self.seconds_before + (time.monotonic() - self.started)

    def _on_step(self) -> bool:
        dones = self.locals.get("dones")
        if dones is not None and np.any(dones):
            infos = self.locals.get("infos") or []
            for i in np.flatnonzero(dones):
                episode = infos[int(i)].get("episode") if int(i) < len(infos) else None
                if episode is not None:
                    self.curve.add(
                        int(self.model.num_timesteps),
                        float(episode["r"]),
                        int(episode["l"]),
                        self.train_seconds(),
                    )
        step = int(self.model.num_timesteps)
        if step >= self.next_report:
            checkpoint = step >= self.next_checkpoint
            self.send(checkpoint=checkpoint)
            self.next_report = (step // self.report_every + 1) * self.report_every
            if checkpoint:
                self.next_checkpoint = (step // self.checkpoint_every + 1) * self.checkpoint_every
        return True

    def metrics(self) -> dict[str, Any]:
        """The metrics of one report (what Tune's ``result.json`` shows per row).

        Returns:
            ``num_timesteps``, ``total_timesteps``, ``episodes``, ``score_last_20`` (mean
            raw score of the last 20 training games), ``steps_per_s`` (since the last
            report), ``loss`` (mean TD loss since the last report), ``epsilon``,
            ``n_updates``, ``attempt``, ``restored_from`` and ``finished`` (False).
        """
        agent: Any = self.model
        step = int(agent.num_timesteps)
        now = time.monotonic()
        elapsed = max(now - self.last_time, 1e-9)
        speed = (step - self.last_step) / elapsed
        self.last_step, self.last_time = step, now
        out: dict[str, Any] = {
            "num_timesteps": step,
            "total_timesteps": self.record.total_timesteps,
            "episodes": len(self.curve.games),
            "steps_per_s": round(speed, 2),
            "epsilon": float(agent.exploration_rate),
            "n_updates": int(agent.n_updates),
            "attempt": self.record.attempt,
            "restored_from": self.record.restored_from,
            "finished": False,
        }
        last = [g["r"] for g in self.curve.games[-20:]]
        if last:
            out["score_last_20"] = float(np.mean(last))
        learner = getattr(agent, "learner", None)
        loss = learner.pop_mean_loss() if learner is not None else None
        if loss is not None and math.isfinite(loss):
            out["loss"] = float(loss)
        return out

    def write_files(self, status: str = "running", **changes: Any) -> TrialRecord:
        """Rewrite the trial's ``trial.json`` and ``curve.json`` with the current state.

        Args:
            status: The record's status.
            **changes: Other `TrialRecord` fields to set.

        Returns:
            The record written.
        """
        self.curve.train_seconds = self.train_seconds()
        fields = self.record.to_dict()
        fields.update(
            status=status,
            num_timesteps=int(self.model.num_timesteps),
            updated=utc_now(),
            **changes,
        )
        self.record = TrialRecord.from_dict(fields)
        write_json(self.folder / CURVE_FILE, self.curve.to_dict())
        write_json(self.folder / TRIAL_FILE, self.record.to_dict())
        return self.record

    def send(self, *, checkpoint: bool, extra: Mapping[str, Any] | None = None) -> None:
        """Report the metrics now (with a checkpoint when asked).

        Args:
            checkpoint: Save and attach a checkpoint.
            extra: More metrics (the final evaluation).
        """
        metrics = {**self.metrics(), **(extra or {})}
        finished = bool(metrics.get("finished"))
        self.write_files("finished" if finished else "running")
        if not checkpoint:
            self.report_fn(metrics)
            return
        with self.checkpoint_folder() as folder:
            self.report_fn(metrics, checkpoint=self.make_checkpoint(str(folder)))
        self.checkpointed_at = int(self.model.num_timesteps)

    @contextlib.contextmanager
    def checkpoint_folder(self) -> Iterator[Path]:
        """A temporary folder holding a checkpoint of the trial (Tune copies it away).

        Yields:
            The folder: ``agent.zip``, ``curve.json``, ``trial.json`` and, with
            ``save_replay``, ``replay.npz``.
        """
        agent: Any = self.model
        folder = Path(tempfile.mkdtemp(prefix="dqn-agents-checkpoint-"))
        try:
            agent.save(folder / CHECKPOINT_AGENT)
            if self.save_replay and agent.replay_buffer is not None:
                agent.save_replay_buffer(folder / CHECKPOINT_REPLAY)
            write_json(folder / CURVE_FILE, self.curve.to_dict())
            write_json(folder / TRIAL_FILE, self.record.to_dict())
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _new_agent(spec: SuiteSpec, env_id: str, seed: int, device: str) -> Any:
    from dqn_agents.agent import DQN
    from dqn_agents.wrappers.ids import is_atari_id

    options = spec.wrapper_options if (spec.wrapper_options and is_atari_id(env_id)) else None
    return DQN(
        env_id,
        spec.preset,
        wrapper_options=options,
        seed=seed,
        device=device,
        **dict(spec.overrides),
    )


def _restore(
    folder: Path, env_id: str, device: str, save_replay: bool
) -> tuple[Any, TrainingCurve, TrialRecord]:
    from dqn_agents.agent import DQN

    agent = DQN.load(folder / CHECKPOINT_AGENT, env=env_id, device=device)
    replay = folder / CHECKPOINT_REPLAY
    if save_replay and replay.is_file():
        agent.load_replay_buffer(replay)
    curve = TrainingCurve.from_dict(read_json(folder / CURVE_FILE))
    curve.truncate(int(agent.num_timesteps))
    record = TrialRecord.from_dict(read_json(folder / TRIAL_FILE))
    return agent, curve, record


def train_trial(config: dict[str, Any], callbacks: Sequence[CallbackFactory] = ()) -> None:
    """Train, checkpoint, evaluate and save one trial (a Ray Tune function trainable).

    Args:
        config: The trial's Tune config: ``env_id``, ``seed``, ``suite`` (a `SuiteSpec`
            dict) and ``experiment`` (the experiment folder).
        callbacks: Factories of more SB3 callbacks for ``learn`` (given to Tune with
            ``tune.with_parameters``).
    """
    from ray import tune

    spec = SuiteSpec.from_dict(config["suite"])
    env_id, seed = str(config["env_id"]), int(config["seed"])
    folder = Path(config["experiment"]) / trial_dirname(env_id, seed)
    folder.mkdir(parents=True, exist_ok=True)
    device = "cuda" if spec.gpus_per_trial > 0 else "cpu"
    repo_id = repo_id_for(spec.push_to or "local", env_id, seed)
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as where:
            agent, curve, saved = _restore(Path(where), env_id, device, spec.save_replay)
        record = TrialRecord.from_dict(
            {
                **saved.to_dict(),
                "attempt": saved.attempt + 1,
                "restored_from": int(agent.num_timesteps),
                "status": "running",
            }
        )
    else:
        agent = _new_agent(spec, env_id, seed, device)
        curve = TrainingCurve(env_id, seed)
        record = TrialRecord(
            env_id=env_id,
            seed=seed,
            status="running",
            num_timesteps=0,
            total_timesteps=spec.total_timesteps,
            repo_id=repo_id if spec.push_to else None,
        )
    agent.torch_threads = max(1, int(spec.cpus_per_trial))
    reporter = SuiteReporter(
        record,
        curve,
        folder,
        report_every=spec.report_every,
        checkpoint_every=spec.checkpoint_every,
        save_replay=spec.save_replay,
        report=tune.report,
        make_checkpoint=tune.Checkpoint.from_directory,
    )
    context = TrialContext(env_id, seed, folder, spec, record.attempt)
    extra = [cb for cb in (factory(context) for factory in callbacks) if cb is not None]
    remaining = spec.total_timesteps - int(agent.num_timesteps)
    if remaining > 0:
        agent.learn(
            remaining,
            callback=[reporter, *extra],
            log_interval=None,
            reset_num_timesteps=int(agent.num_timesteps) == 0,
        )
        # The trained agent is kept before the evaluation: a failure there retries only it.
        reporter.send(checkpoint=reporter.checkpointed_at != int(agent.num_timesteps))
    else:
        reporter.init_callback(agent)
    training = {
        "agent steps": int(agent.num_timesteps),
        "gradient updates": int(agent.n_updates),
        "training games": len(curve.games),
        "minutes of training (inside learn)": round(reporter.train_seconds() / 60.0, 1),
        "seed": seed,
        "suite": spec.name,
        "attempts": record.attempt,
    }
    protocol = EvalProtocol.from_dict(spec.protocol)
    results = write_model_folder(
        agent,
        folder / MODEL_FOLDER,
        repo_id,
        protocol,
        env_id=env_id,
        curve=curve,
        training=training,
    )
    evaluation = {
        "mean": float(results["mean_reward"]),
        "std": float(results["std_reward"]),
        "n_episodes": int(results["n_eval_episodes"]),
        "scores": [float(s) for s in results.get("scores", [])],
        "epsilon": 0.0,
    }
    reporter.record = TrialRecord.from_dict({**reporter.record.to_dict(), "evaluation": evaluation})
    reporter.send(
        checkpoint=False,
        extra={
            "finished": True,
            "eval_mean": evaluation["mean"],
            "eval_std": evaluation["std"],
            "eval_episodes": evaluation["n_episodes"],
        },
    )
