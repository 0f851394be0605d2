"""Greedy scores of a run's checkpoints: how well the agent plays, not how it explores.

The training curve (``progress.json``) shows epsilon-greedy training games; what ships is
the greedy agent. This script plays ``--episodes`` full greedy games (raw scores, all
lives, the sticky actions of the v5 id, seeded) with each checkpoint given, and writes
a docs table: the checkpoint's agent steps and minutes of training, the mean of its last
20 training games, and the greedy mean, standard deviation and range.

A checkpoint is a folder with ``agent.zip`` and ``progress.json`` (a ``time_to_score.py``
run folder, or a copy of one taken when it was written). Results already in ``--json``
for the same agent steps are kept, not replayed, unless ``--replay``. With ``--average``
the checkpoints (of one run, oldest first) make one agent instead: the mean of their
network weights (stochastic weight averaging), evaluated as one row.

Usage:
    python benchmarks/greedy_checkpoints.py CHECKPOINT [CHECKPOINT ...] \
        --json docs/benchmarks/results/pong_fast_greedy.json [--episodes 10] [--label seed-0] \
        [--average]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from statistics import mean, pstdev
from typing import Any

import common

WINDOW = 20
COLUMNS = [
    "Run",
    "Agent steps",
    "Minutes of training",
    f"Mean of the last {WINDOW} training games",
    "Greedy games",
    "Greedy mean",
    "Greedy std",
    "Greedy min-max",
]


def load_average(folders: list[Path]) -> Any:
    """The agent of the last folder with its network's weights averaged over all of them.

    Stochastic weight averaging along one run's trajectory (Nikishin et al. 2018,
    "Improving Stability in Deep Reinforcement Learning with Weight Averaging"): the
    greedy policy of one DQN checkpoint changes from one checkpoint to the next, and
    the mean of the weights of a few late checkpoints can play more steadily than any of
    them. The networks have no batch-norm statistics to recompute.

    Args:
        folders: Checkpoint folders of one run (same network), oldest first.

    Returns:
        A `dqn_agents.DQN` (the last folder's, counters included) with averaged weights.
    """
    from torch.optim.swa_utils import AveragedModel

    from dqn_agents import DQN

    agents = [DQN.load(f / "agent.zip", device="cpu", num_envs=1) for f in folders]
    swa = AveragedModel(agents[-1].q_net)  # torch's SWA: the running mean of the parameters
    for agent in agents:
        swa.update_parameters(agent.q_net)
    agents[-1].q_net.load_state_dict(swa.module.state_dict())
    return agents[-1]


def evaluate_checkpoint(
    folder: Path, episodes: int, seed: int, average: list[Path] | None = None
) -> dict[str, Any]:
    """Play ``episodes`` greedy games with ``folder/agent.zip``; the row's facts.

    With ``average`` (folders of the same run, ``folder`` last), the agent plays with the
    weights averaged over them (`load_average`); the row keeps ``folder``'s counters and
    lists the averaged checkpoints' steps under ``averaged``.
    """
    import torch

    from dqn_agents import DQN

    torch.set_num_threads(1)
    progress = json.loads((folder / "progress.json").read_text(encoding="utf-8"))
    if average:
        agent = load_average(average)
    else:
        agent = DQN.load(folder / "agent.zip", device="cpu", num_envs=1)
    start = time.perf_counter()
    result = agent.evaluate(n_episodes=episodes, seed=seed)
    scores = [float(s) for s in result.scores]
    training = [g["r"] for g in progress["games"][-WINDOW:]]
    facts: dict[str, Any] = {
        "steps": int(agent.num_timesteps),
        "minutes": round(float(progress["train_seconds"]) / 60.0, 1),
        "training_mean": round(mean(training), 2) if training else None,
        "scores": scores,
        "seconds": round(time.perf_counter() - start, 1),
    }
    if average:
        facts["averaged"] = [
            json.loads((f / "progress.json").read_text(encoding="utf-8"))["steps"] for f in average
        ]
    return facts


def row(label: str, result: dict[str, Any]) -> list[Any]:
    """One docs-table row from an evaluation's facts.

    Example:
        >>> row("s0", {"steps": 10, "minutes": 1.0, "training_mean": 3.0,
        ...            "scores": [1.0, 3.0]})
        ['s0', 10, 1.0, 3.0, 2, 2.0, 1.0, '1 to 3']
    """
    scores = result["scores"]
    return [
        label,
        result["steps"],
        result["minutes"],
        result["training_mean"],
        len(scores),
        round(mean(scores), 2),
        round(pstdev(scores), 2),
        f"{min(scores):g} to {max(scores):g}",
    ]


def main(argv: list[str] | None = None) -> int:
    """Evaluate the checkpoints and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoints", nargs="+", help="folders with agent.zip + progress.json")
    parser.add_argument("--json", required=True, help="the docs table (kept rows are reused)")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--label", default="seed 0", help="the Run column of the new rows")
    parser.add_argument("--replay", action="store_true", help="evaluate again kept rows too")
    parser.add_argument(
        "--average",
        action="store_true",
        help="one row: the weights averaged over all CHECKPOINTs (one run, oldest first)",
    )
    args = parser.parse_args(argv)
    out = Path(args.json)
    kept: list[dict[str, Any]] = []
    if out.exists():
        kept = json.loads(out.read_text(encoding="utf-8")).get("evaluations", [])
    done = {(e["label"], e["steps"]) for e in kept}
    folders = [Path(c).expanduser() for c in args.checkpoints]
    for folder in folders[-1:] if args.average else folders:
        steps = json.loads((folder / "progress.json").read_text(encoding="utf-8"))["steps"]
        if (args.label, steps) in done and not args.replay:
            print(f"{folder}: kept ({steps} steps)")
            continue
        result = evaluate_checkpoint(
            folder, args.episodes, args.seed, folders if args.average else None
        )
        kept = [e for e in kept if (e["label"], e["steps"]) != (args.label, result["steps"])]
        kept.append({"label": args.label, **result})
        print(f"{folder}: {row(args.label, result)}", flush=True)
    kept.sort(key=lambda e: (e["label"], e["steps"]))
    data = common.results_table(
        title="Greedy play of the checkpoints (full games, raw scores)",
        source="benchmarks/greedy_checkpoints.py",
        device="cpu",
        columns=COLUMNS,
        rows=[row(e["label"], e) for e in kept],
        notes=(
            f"Each checkpoint plays the row's number of greedy games (epsilon 0, sticky "
            f"actions of the v5 id, env seed {args.seed}); training games are epsilon-greedy "
            f"(0.01). CPU: {common.cpu_description()}."
        ),
        evaluations=kept,
    )
    common.write_json(out, data)
    common.print_table(data["columns"], data["rows"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
