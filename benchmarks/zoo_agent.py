"""Turn a finished training run into a zoo folder (Hub layout, ready to push unchanged).

Reads a `time_to_score.py` run folder (``agent.zip`` + ``progress.json``), evaluates the
agent greedily on full games with our `evaluate`, cross-checks it through Gymnasium's own
``AtariPreprocessing(noop_max=30)`` + ``FrameStackObservation(4)`` (no episodic life, no
fire reset: the agent must not depend on our wrappers' quirks), and writes
``zoo/<name>/``: ``config.json``, ``model.safetensors``, ``results.json``, ``README.md``
(model card with the model-index, the curve, the run's facts and the command that
reproduces it), ``learning_curve.png``, ``training_log.json`` and ``replay.mp4``.

Usage:
    python benchmarks/zoo_agent.py --run ~/.cache/dqn-agents/runs/pong-fast-s0 \
        --out zoo/dqn-Pong-v5 --repo-id dqn-agents/dqn-Pong-v5 --episodes 20
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from statistics import mean, pstdev
from typing import Any

import common
import numpy as np

from dqn_agents import DQN
from dqn_agents.hub.push import prepare_folder
from dqn_agents.suite.protocol import gymnasium_cross_check

CURVE = "learning_curve.png"
LOG = "training_log.json"


def plot_curve(progress: dict[str, Any], path: Path, window: int = 20) -> None:
    """Raw score of every training game and its moving mean, against agent steps and minutes.

    The dashed line is the run's target score (``progress["target"]``, 18 for Pong).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    games = progress["games"]
    steps = np.array([g["step"] for g in games], dtype=float)
    scores = np.array([g["r"] for g in games], dtype=float)
    minutes = np.array([g["t_s"] for g in games], dtype=float) / 60.0
    moving = np.array([scores[max(0, i - window + 1) : i + 1].mean() for i in range(len(scores))])
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), constrained_layout=True)
    for ax, x, label in (
        (axes[0], steps / 1e6, "agent steps (millions)"),
        (axes[1], minutes, "minutes of training"),
    ):
        ax.plot(x, scores, ".", ms=3, alpha=0.35, label="training game (epsilon-greedy)")
        ax.plot(x, moving, "-", lw=2, label=f"mean of the last {window}")
        ax.axhline(progress.get("target", 18.0), color="grey", ls="--", lw=1)
        ax.set_xlabel(label)
        ax.set_ylabel("raw game score")
        ax.grid(alpha=0.3)
    axes[0].legend(loc="lower right", fontsize=8)
    fig.suptitle(f"{progress['env_id']}: training games ({progress.get('date', '')})")
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Build the zoo folder and print its scores."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True, help="time_to_score.py checkpoint folder")
    parser.add_argument("--out", required=True, help="zoo folder to write")
    parser.add_argument("--repo-id", required=True)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--cross-check-episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--command", default="", help="the command that reproduces the run")
    args = parser.parse_args(argv)

    run, out = Path(args.run).expanduser(), Path(args.out)
    progress = json.loads((run / "progress.json").read_text(encoding="utf-8"))
    agent = DQN.load(run / "agent.zip", device="cpu", num_envs=1)
    out.mkdir(parents=True, exist_ok=True)
    plot_curve(progress, out / CURVE)
    shutil.copyfile(run / "progress.json", out / LOG)
    reached = progress.get("reached") or {}
    target, window = float(progress.get("target", 18.0)), int(progress.get("window", 20))
    training = {
        "date": progress.get("date"),
        "agent steps": progress["steps"],
        "gradient updates": agent.n_updates,
        "training games": len(progress["games"]),
        "minutes of training (inside learn)": round(progress["train_seconds"] / 60.0, 1),
        f"mean of the last {window} training games >= {target:g} at": (
            f"{reached['steps']:,} steps, {reached['minutes']} min" if reached else "not reached"
        ),
        "machine": progress.get("machine"),
        "CPU": progress.get("cpu") or common.cpu_description(),
        "command": args.command,
        "curve": CURVE,
        "log": LOG,
    }
    results = prepare_folder(
        agent,
        out,
        args.repo_id,
        n_eval_episodes=args.episodes,
        video=True,
        training={k: v for k, v in training.items() if v not in (None, "")},
    )
    check = gymnasium_cross_check(agent, str(agent.env_id), args.cross_check_episodes, args.seed)
    results["gymnasium_preprocessing"] = check
    cross = check["scores"]
    common.write_json(out / "results.json", results)
    print(
        f"{out}: {results['mean_reward']:.2f} +/- {results['std_reward']:.2f} over "
        f"{results['n_eval_episodes']} games (ours); {mean(cross):.2f} +/- {pstdev(cross):.2f} "
        f"over {len(cross)} games (Gymnasium's AtariPreprocessing)"
    )
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"{size / 1e6:.1f} MB in {len(list(out.iterdir()))} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
