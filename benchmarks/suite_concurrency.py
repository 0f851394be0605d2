"""One vs two concurrent suite trials on this machine: what a second trial slot buys.

Starts one local Ray (2 CPUs), then runs the same small suite twice with
`dqn_agents.suite.run_suite`: ``--trials`` seeds of one game (default ``ALE/Pong-v5``
through the Nature CNN, a few hundred gradient updates each) with ``max_concurrent=1``, then
with ``max_concurrent=2`` (1 CPU per trial). For each it records the wall-clock time of
the whole suite (worker start-up, training, evaluation included), the agent steps of all
trials per second of it, and the median steps/s of one trial while it trains (from the
metrics each trial reports to Tune). Trials are independent processes that never talk to
each other, so on a cluster the throughput grows with the nodes; on one machine it is
bounded by its cores.

Usage:
    python benchmarks/suite_concurrency.py            # ~10 min on a busy 2-core machine
    python benchmarks/suite_concurrency.py --game CartPole-v1 --timesteps 5000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import common

OUT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks" / "results"

#: Small Atari runs: a few hundred Nature-CNN updates after a short warm-up, evaluation of
#: one game. Not meant to learn: to load the CPU like a real Atari trial does.
ATARI_TINY: dict[str, Any] = {
    "buffer_size": 10_000,
    "learning_starts": 500,
    "train_freq": 4,
    "exploration_steps": 1_000,
    "eval_qmax_states": 0,
}


def busy_processes() -> list[str]:
    """Other processes using a core now (``ps``), to state what the machine was doing."""
    import subprocess

    try:
        out = subprocess.run(
            ["ps", "-eo", "pid,pcpu,ni,args", "--sort=-pcpu"], capture_output=True, text=True
        ).stdout.splitlines()[1:]
    except OSError:
        return []
    busy = []
    for line in out:
        parts = line.split(None, 3)
        if len(parts) == 4 and int(parts[0]) != os.getpid() and float(parts[1]) >= 50.0:
            busy.append(f"{parts[3][:90]} ({parts[1]}% CPU, nice {parts[2]})")
    return busy


def training_speed(experiment: Path, learning_starts: int) -> float:
    """Median steps/s a trial reported while training (after the warm-up), over trials."""
    speeds = []
    for result in experiment.glob("*/result.json"):
        for line in result.read_text().splitlines():
            row = json.loads(line)
            if row.get("num_timesteps", 0) > learning_starts and not row.get("finished"):
                speeds.append(float(row["steps_per_s"]))
    return statistics.median(speeds) if speeds else float("nan")


def run(concurrent: int, args: argparse.Namespace, storage: Path) -> dict[str, Any]:
    """Run the suite once with ``concurrent`` trial slots."""
    from dqn_agents.suite import EvalProtocol, run_suite

    overrides = ATARI_TINY if "/" in args.game or "NoFrameskip" in args.game else {}
    start = time.perf_counter()
    result = run_suite(
        [args.game],
        seeds=args.trials,
        total_timesteps=args.timesteps,
        overrides=overrides,
        protocol=EvalProtocol(episodes=1),
        storage_path=storage,
        name=f"concurrent-{concurrent}",
        max_concurrent=concurrent,
        cpus_per_trial=1,
        progress=False,
    )
    wall = time.perf_counter() - start
    if not result.complete:
        raise RuntimeError(f"the suite did not finish: {result}")
    steps = args.trials * args.timesteps
    return {
        "wall_s": wall,
        "steps_per_s": steps / wall,
        "trial_steps_per_s": training_speed(result.experiment, overrides.get("learning_starts", 0)),
    }


def main(argv: list[str] | None = None) -> int:
    """Measure, print and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--game", default="ALE/Pong-v5")
    parser.add_argument("--trials", type=int, default=2, help="trials (seeds) per suite")
    parser.add_argument("--timesteps", type=int, default=2_000, help="agent steps per trial")
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds of (1 slot, 2 slots), alternated"
    )
    parser.add_argument("--out", default=str(OUT / "suite_concurrency.json"))
    args = parser.parse_args(argv)

    import ray

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    busy = busy_processes()
    load_before = os.getloadavg()
    runs: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        with tempfile.TemporaryDirectory(prefix="suite-concurrency-") as tmp:
            for round_ in range(args.rounds):
                for slots in (1, 2):
                    runs[slots].append(run(slots, args, Path(tmp) / f"round{round_}"))
    finally:
        ray.shutdown()
    load_after = os.getloadavg()
    # Each round's two suites ran next to each other: their ratio cancels the machine's drift.
    paired = [
        two["steps_per_s"] / one["steps_per_s"] for one, two in zip(runs[1], runs[2], strict=True)
    ]
    ratio = statistics.median(paired)

    def row(slots: int, label: str) -> list[Any]:
        mine = runs[slots]
        return [
            label,
            round(statistics.median(r["wall_s"] for r in mine), 1),
            round(statistics.median(r["steps_per_s"] for r in mine), 1),
            ", ".join(f"{r['steps_per_s']:.1f}" for r in mine),
            round(statistics.median(r["trial_steps_per_s"] for r in mine), 1),
        ]

    rows = [
        row(1, f"1 trial at a time ({args.trials} trials)"),
        row(2, f"2 trials at once ({args.trials} trials)"),
    ]
    columns = [
        "Setup",
        "Suite wall-clock (s, median)",
        "Agent steps/s, all trials (median)",
        "... each round",
        "Steps/s of one trial (median)",
    ]
    common.print_table(columns, rows)
    print(
        f"\n2 slots / 1 slot throughput, paired per round: {', '.join(f'{p:.2f}' for p in paired)}"
    )
    others = "; ".join(busy) if busy else "none above 50% CPU"
    notes = (
        f"{args.trials} trials of {args.game}, {args.timesteps:,} agent steps each "
        f"(Nature CNN, buffer 10k, warm-up 500 steps, 1 update per 4 steps), 1 CPU per trial, "
        f"a local Ray with 2 CPUs; {args.rounds} rounds, each running the suite with 1 trial "
        f"slot then with 2; wall-clock includes Ray worker start-up and a 1-game evaluation "
        f"per trial. Throughput of 2 slots / 1 slot, paired per round: "
        f"{', '.join(f'{p:.2f}x' for p in paired)} (median {ratio:.2f}x). "
        f"CPU: {common.cpu_description()}. The machine was not idle: busy processes at the "
        f"start: {others}; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after. "
        "Trials are independent processes that never communicate, so on a cluster the "
        "throughput grows with the number of nodes (each node runs its own trials); on one "
        "machine it is bounded by its free cores."
    )
    data = common.results_table(
        title="One vs two concurrent suite trials (local Ray, 2 CPUs)",
        source="benchmarks/suite_concurrency.py",
        device="cpu",
        columns=columns,
        rows=rows,
        notes=notes,
        cpu=common.cpu_description(),
        ratio=round(ratio, 3),
        paired_ratios=[round(p, 3) for p in paired],
        runs={str(k): v for k, v in runs.items()},
        busy=busy,
        load_average=[round(load_before[0], 2), round(load_after[0], 2)],
    )
    common.write_json(args.out, data)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
