"""Wall-clock time to a score: how long ``DQN("ALE/Pong-v5")`` takes to play well.

Trains ``DQN(env_id, preset)`` (the default config unless ``--preset`` / ``--hyperparameters``
say otherwise) and measures the training time (and
agent steps) until the mean raw score of the last ``--window`` finished games reaches
``--target`` (issue 6: Pong, mean of the last 20 games >= 18; Tianshou's published
anchor is about 30 minutes to 20 on a workstation GPU).

The run can span several processes (a lent GPU machine runs at most 10 minutes a
command): with ``--time-limit`` it stops cleanly before that limit and writes a
checkpoint (model with training state, replay memory, progress) to ``--checkpoint``;
the next call with the same ``--checkpoint`` resumes it (weights, optimizer, target
network, counters, RNG states and replay memory; the game in progress at a stop is
abandoned, as after any env reset) and keeps counting the training time where the last
one stopped. Only time inside ``learn()`` is counted:
not the start-up, not the checkpoint writes.

``--hyperparameters`` on a resumed run changes those values from the current step on
(``DQN.load`` overrides, e.g. a lower learning rate for the rest of the run); the
progress file records each change with its step under ``changes``.

The progress file (``progress.json`` in the checkpoint folder, and ``--json`` when
given) holds every finished game's raw score with its agent step and training time, and
``reached`` (``null`` until the target is met). A finished run resumed with a higher
``--target`` trains on; the target it met stays on record under ``earlier_targets``.

Usage:
    python benchmarks/time_to_score.py [--env ALE/Pong-v5] [--target 18] [--window 20]
        [--max-steps 10000000] [--time-limit 540] [--checkpoint runs/pong]
        [--device auto] [--preset atari-fast] [--json $OUT/time_to_score.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from statistics import mean
from typing import Any

import common

from dqn_agents import DQN

PROGRESS = "progress.json"
MODEL = "agent.zip"
REPLAY = "replay.npz"


def window_reached(scores: list[float], window: int, target: float) -> bool:
    """Whether the mean of the last ``window`` scores is at least ``target``.

    Args:
        scores: Raw scores of the finished games, oldest first.
        window: Games in the moving window (fewer finished games never count).
        target: The score to reach.

    Returns:
        True once ``window`` games are done and their mean is ``>= target``.

    Example:
        >>> window_reached([-21.0, 19.0, 20.0], 2, 18.0)
        True
        >>> window_reached([20.0], 2, 18.0)
        False
    """
    return len(scores) >= window and mean(scores[-window:]) >= target


def _table(progress: dict[str, Any]) -> dict[str, Any]:
    """The docs' table keys (``columns``, ``rows``, ``notes``) of a progress record."""
    scores = [g["r"] for g in progress["games"]]
    window = int(progress["window"])
    reached = progress["reached"]
    overrides = progress["hyperparameters"] or "none (the default config)"
    return {
        "columns": [
            "Env",
            "Target (mean of the last games)",
            "Reached",
            "Minutes of training",
            "Agent steps",
            "Games",
            f"Mean of the last {window} games",
        ],
        "rows": [
            [
                progress["env_id"],
                f"{progress['target']:g} over {window}",
                "yes" if reached else "not yet",
                round(progress["train_seconds"] / 60.0, 1),
                progress["steps"],
                len(scores),
                round(mean(scores[-window:]), 2) if scores else None,
            ]
        ],
        "notes": (
            f"Wall-clock time inside learn() only (start-up and checkpoint writes not "
            f"counted), over {progress['calls']} call(s); config overrides: {overrides}; "
            f"seed {progress['seed']}; raw full-game scores."
        ),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start or resume the run; return the progress record."""
    folder = Path(args.checkpoint)
    progress_path = folder / PROGRESS
    hyperparameters = json.loads(args.hyperparameters) if args.hyperparameters else {}
    if progress_path.exists():
        progress = json.loads(progress_path.read_text(encoding="utf-8"))
        if progress["env_id"] != args.env:
            raise SystemExit(
                f"{folder} holds a run on {progress['env_id']!r}, not {args.env!r}; "
                "pass another --checkpoint folder."
            )
        if progress["reached"] is not None:
            if args.target <= progress["target"]:
                print(f"already reached: {progress['reached']}")
                return progress
            # a higher target goes on training; the target met before stays on record
            progress.setdefault("earlier_targets", []).append(
                {"target": progress["target"], **progress["reached"]}
            )
            progress["reached"] = None
        progress["target"] = args.target  # the target this call trains for
        progress["title"] = f"Time to a mean score of {args.target} over {args.window} games"
        config = progress["config"]  # the config trained with now (rewritten on a change)
        changes = {k: v for k, v in hyperparameters.items() if config.get(k) != v}
        agent = DQN.load(folder / MODEL, env=args.env, device=args.device, **changes)
        agent.torch_threads = args.torch_threads
        if changes:  # e.g. a lower learning rate from here on: the record says from when
            progress.setdefault("changes", []).append(
                {"step": agent.num_timesteps, "hyperparameters": changes}
            )
            progress["config"] = agent.config.to_dict()
            print(f"from step {agent.num_timesteps} on: {changes}", flush=True)
        if (folder / REPLAY).exists():
            agent.load_replay_buffer(folder / REPLAY)
        else:  # e.g. a checkpoint committed without its (GB-sized) replay memory
            print("no replay memory in the checkpoint: learn refills it first", flush=True)
        print(
            f"resumed at step {agent.num_timesteps}, {progress['train_seconds']:.0f} s of "
            f"training, {len(progress['games'])} games",
            flush=True,
        )
    else:
        agent = DQN(
            args.env,
            args.preset,
            seed=args.seed,
            device=args.device,
            torch_threads=args.torch_threads,
            **hyperparameters,
        )
        progress = {
            "title": f"Time to a mean score of {args.target} over {args.window} games",
            "source": "benchmarks/time_to_score.py",
            "env_id": args.env,
            "hyperparameters": hyperparameters,
            "config": agent.config.to_dict(),
            "seed": args.seed,
            "target": args.target,
            "window": args.window,
            "machine": common.machine(str(agent.device)),
            "cpu": common.cpu_description(),
            "preset": args.preset,
            "train_seconds": 0.0,
            "steps": 0,
            "calls": 0,
            "games": [],
            "reached": None,
        }
    games: list[dict[str, float]] = progress["games"]
    seen = agent.episode_num
    start = time.perf_counter()
    base = float(progress["train_seconds"])
    state = {"stop": "max_steps"}

    def watch(locals_: dict[str, Any], globals_: dict[str, Any]) -> bool:
        nonlocal seen
        now = time.perf_counter() - start
        if agent.episode_num > seen:
            new = agent.episode_num - seen
            seen = agent.episode_num
            for info in list(agent.ep_info_buffer)[-new:]:
                games.append({"step": agent.num_timesteps, "r": info["r"], "t_s": base + now})
                if args.verbose:
                    print(
                        f"  game {len(games)}: {info['r']:+.0f} at step {agent.num_timesteps}, "
                        f"{(base + now) / 60:.1f} min",
                        flush=True,
                    )
            if window_reached([g["r"] for g in games[-args.window :]], args.window, args.target):
                state["stop"] = "reached"
                return False
        if args.time_limit and now >= args.time_limit:
            state["stop"] = "time_limit"
            return False
        return True

    remaining = args.max_steps - agent.num_timesteps
    if remaining > 0:
        agent.learn(remaining, callback=watch, reset_num_timesteps=agent.num_timesteps == 0)
    progress["train_seconds"] = base + (time.perf_counter() - start)
    progress["steps"] = agent.num_timesteps
    progress["calls"] = int(progress["calls"]) + 1
    progress["date"] = common.utc_now()
    progress["stopped_by"] = state["stop"]
    if state["stop"] == "reached":
        progress["reached"] = {
            "seconds": round(progress["train_seconds"], 1),
            "minutes": round(progress["train_seconds"] / 60.0, 2),
            "steps": agent.num_timesteps,
            "games": len(games),
            "mean_last_window": mean(g["r"] for g in games[-args.window :]),
        }
    progress.update(_table(progress))
    # Checkpoint first, progress last: a progress file always names a complete checkpoint.
    folder.mkdir(parents=True, exist_ok=True)
    agent.save(folder / MODEL)
    agent.save_replay_buffer(folder / REPLAY)
    common.write_json(progress_path, progress)
    return progress


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run, print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="ALE/Pong-v5")
    parser.add_argument("--target", type=float, default=18.0)
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--max-steps", type=int, default=10_000_000)
    parser.add_argument(
        "--time-limit", type=float, default=0.0, help="seconds of training in this call (0: none)"
    )
    parser.add_argument("--checkpoint", default="runs/time_to_score")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--preset", default=None, help="DQNConfig preset (default: default)")
    parser.add_argument(
        "--hyperparameters", default="", help="JSON of config overrides (default: none)"
    )
    parser.add_argument("--json", default=None, help="also write the progress here")
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch CPU threads while learning (default: the idle cores when learn starts)",
    )
    parser.add_argument("--verbose", action="store_true", help="print every finished game")
    args = parser.parse_args(argv)
    progress = run(args)
    if args.json:
        common.write_json(Path(args.json), progress)
    scores = [g["r"] for g in progress["games"]]
    last = mean(scores[-args.window :]) if scores else float("nan")
    print(
        f"{progress['env_id']}: {progress['steps']} steps, "
        f"{progress['train_seconds'] / 60:.2f} min of training in {progress['calls']} call(s), "
        f"{len(scores)} games, mean of the last {min(len(scores), args.window)}: {last:.2f}; "
        f"reached: {progress['reached']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
