"""What the suite tests hand to Ray workers: the Catch game by id, and callback factories.

Ray workers are other processes: they import this module by name (``tests/`` is put on
their ``PYTHONPATH`` by the tests), so everything here is importable and picklable.

* ``CATCH_ID`` (``"suite_helpers:Catch-v0"``): ``gym.make`` imports this module, which
  registers ``Catch-v0`` (tests/pixel_games.py's pixel game, 4 stacked 84x84 frames), in
  whichever process builds the env: the driver, a trial, the evaluation.
* `FailOnce`: a factory of an SB3 callback that raises once at a given agent step of one
  seed, with a marker file so the retried trial does not raise again: an injected fault.
* `LogStarts`: a factory of an SB3 callback that appends ``<env> <seed> <step>`` to a file
  each time a trial's ``learn`` starts: how many times each trial ran, and from where.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
from gymnasium.wrappers import FrameStackObservation
from pixel_games import CatchEnv
from stable_baselines3.common.callbacks import BaseCallback

CATCH_ID = "suite_helpers:Catch-v0"

#: One tiny config for both games of the tests (network "auto": the Nature CNN on Catch's
#: frames, an MLP on CartPole): a few updates per run, to run the code paths, not to learn.
TINY: dict[str, Any] = dict(
    mlp_hidden_sizes=(32, 32),
    batch_size=8,
    buffer_size=1_000,
    learning_starts=150,
    train_freq=8,
    target_update_interval=10,
    exploration_steps=200,
    eval_qmax_states=0,
)


def make_catch_stack(render_mode: str | None = None) -> gym.Env:
    """Catch with a zero-padded stack of 4 frames (the agent adds the episode statistics)."""
    return FrameStackObservation(CatchEnv(render_mode=render_mode), 4, padding_type="zero")


if "Catch-v0" not in gym.registry:
    gym.register("Catch-v0", entry_point=make_catch_stack)


class RaiseOnce(BaseCallback):
    """Raise ``RuntimeError`` at agent step ``at_step`` unless ``marker`` exists (it creates it)."""

    def __init__(self, marker: Path, at_step: int) -> None:
        super().__init__()
        self.marker = marker
        self.at_step = at_step

    def _on_step(self) -> bool:
        if self.model.num_timesteps >= self.at_step and not self.marker.exists():
            self.marker.write_text(f"raised at step {self.model.num_timesteps}\n")
            raise RuntimeError(f"injected fault at step {self.model.num_timesteps}")
        return True


@dataclass(frozen=True)
class FailOnce:
    """Callback factory: the trial of ``env_id`` and ``seed`` raises once at ``at_step``."""

    marker: str
    at_step: int
    env_id: str
    seed: int

    def __call__(self, trial: Any) -> BaseCallback | None:
        if (trial.env_id, trial.seed) != (self.env_id, self.seed):
            return None
        return RaiseOnce(Path(self.marker), self.at_step)


class AppendStart(BaseCallback):
    """Append ``<env_id> <seed> <num_timesteps> <attempt>`` to ``path`` when ``learn`` starts."""

    def __init__(self, path: Path, trial: Any) -> None:
        super().__init__()
        self.path = path
        self.trial = trial

    def _on_training_start(self) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            out.write(
                f"{self.trial.env_id} {self.trial.seed} {self.model.num_timesteps} "
                f"{self.trial.attempt}\n"
            )

    def _on_step(self) -> bool:
        return True


@dataclass(frozen=True)
class LogStarts:
    """Callback factory: every trial logs each start of its ``learn`` to ``path``."""

    path: str

    def __call__(self, trial: Any) -> BaseCallback:
        return AppendStart(Path(self.path), trial)


def read_starts(path: Path) -> list[tuple[str, int, int, int]]:
    """The lines `LogStarts` wrote: ``(env_id, seed, num_timesteps, attempt)``."""
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        env_id, seed, step, attempt = line.split()
        out.append((env_id, int(seed), int(step), int(attempt)))
    return out
