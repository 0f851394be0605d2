"""Do the speed options hurt learning? Fixed env-step budgets, N=1 vs N parallel envs.

The vector path (``num_envs=N``) steps N envs per loop iteration and acts for them in one
batched forward, keeping the replay ratio (gradient updates per env step) of the
config. This benchmark trains the same config for the same number of **env steps**
(summed over envs) with N=1 and with larger N, a few seeds each, and reports the final
greedy evaluation:

* ``catch``: the pixel test game of ``tests/pixel_games.py`` (``(4, 84, 84)`` uint8
  stacks, 2013 CNN, frame replay): the Atari code path at CPU-friendly size. Score =
  catch rate over 50 games (1.0 = perfect).
* ``cartpole``: ``CartPole-v1`` (MLP, vector replay), score = mean return over 20
  episodes (500 = solved).

* ``pong``: ``ALE/Pong-v5`` with the default config (Nature CNN, 1M frame replay),
  score = mean raw score of 10 greedy full games (-21 .. 21). Only on a GPU: e.g.
  ``--games pong:500000 --num-envs 1 4 --seeds 0 --device cuda``.

Usage:
    python benchmarks/learning.py [--games catch:1500 catch:3000 cartpole:15000]
        [--num-envs 1 4 8] [--seeds 0 1] [--device cpu]
        [--json docs/benchmarks/results/learning.json]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from statistics import mean
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from dqn_agents import DQN

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from pixel_games import make_catch
from test_learning import CARTPOLE_CONFIG, CATCH_CONFIG

# The configs are the ones the test suite proves learn (tests/test_learning.py), so that
# the benchmark and the tests can never drift apart.
CATCH = {"budget": 3_000, "config": CATCH_CONFIG}
CARTPOLE = {"budget": 15_000, "config": CARTPOLE_CONFIG}
PONG = {"budget": 1_000_000, "config": {}}  # the default config of DQN("ALE/Pong-v5")
SPECS = {"catch": CATCH, "cartpole": CARTPOLE, "pong": PONG}


def _env(game: str, n: int) -> Any:
    if game == "catch":
        if n == 1:
            return make_catch()
        return SyncVectorEnv([make_catch] * n, autoreset_mode=AutoresetMode.SAME_STEP)
    return "ALE/Pong-v5" if game == "pong" else "CartPole-v1"


def run(game: str, n: int, seed: int, budget: int | None, device: str = "cpu") -> dict[str, Any]:
    """Train one agent for the game's env-step budget; return its final score."""
    if game not in SPECS:
        raise SystemExit(f"unknown game {game!r}; choose from {sorted(SPECS)}")
    spec = SPECS[game]
    steps = budget or int(spec["budget"])  # type: ignore[call-overload]
    env = _env(game, n)
    kwargs: dict[str, Any] = dict(spec["config"])  # type: ignore[call-overload]
    if isinstance(env, str):
        kwargs["num_envs"] = n
    agent = DQN(env, seed=seed, device=device, **kwargs)
    start = time.perf_counter()
    agent.learn(steps)
    elapsed = time.perf_counter() - start
    if game == "catch":
        result = agent.evaluate(50, env=make_catch(), seed=1000 + seed)
        score = float(np.mean(np.array(result.scores) > 0))
    elif game == "pong":
        score = float(agent.evaluate(10, seed=1000 + seed).mean)
    else:
        result = agent.evaluate(20, env=gym.make("CartPole-v1"), seed=1000 + seed)
        score = float(result.mean)
    return {
        "score": score,
        "steps": agent.num_timesteps,
        "updates": agent.n_updates,
        "warmup": agent.config.learning_starts,
        "seconds": elapsed,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the grid and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--games",
        nargs="+",
        default=["catch:1500", "catch:3000", "cartpole:15000"],
        help="GAME[:ENV_STEP_BUDGET] entries (catch, cartpole, pong)",
    )
    parser.add_argument("--device", default="cpu", help="torch device (pong: cuda)")
    parser.add_argument("--num-envs", nargs="+", type=int, default=[1, 4, 8])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--json", default=None, help="write docs results JSON here")
    args = parser.parse_args(argv)
    rows: list[list[Any]] = []
    t0 = time.perf_counter()
    for entry in args.games:
        game, _, budget_text = entry.partition(":")
        budget = int(budget_text) if budget_text else 0
        for n in args.num_envs:
            runs = []
            for seed in args.seeds:
                res = run(game, n, seed, budget or None, args.device)
                runs.append(res)
                print(
                    f"  {game} N={n} seed={seed}: score {res['score']:.3g}, "
                    f"{res['updates']} updates / {res['steps']} env steps, "
                    f"{res['steps'] / res['seconds']:.0f} steps/s",
                    flush=True,
                )
            rows.append(
                [
                    game,
                    n,
                    runs[0]["steps"],
                    round(runs[0]["updates"] / (runs[0]["steps"] - runs[0]["warmup"]), 3),
                    ", ".join(f"{r['score']:.3g}" for r in runs),
                    round(mean(r["score"] for r in runs), 3),
                    round(mean(r["steps"] / r["seconds"] for r in runs), 1),
                ]
            )
    columns = [
        "Game",
        "Envs (N)",
        "Env steps",
        "Updates per env step (after warm-up)",
        "Final score per seed",
        "Mean score",
        "Steps/s",
    ]
    common.print_table(columns, rows)
    notes = (
        f"Same config and env-step budget for every N (the replay ratio is kept); seeds "
        f"{args.seeds}. Catch: catch rate over 50 greedy games (1.0 = all caught), 2013 "
        f"CNN (config of tests/test_learning.py). CartPole-v1: mean return of 20 greedy "
        f"episodes (500 max), no early stopping (DQN on CartPole oscillates, so one final "
        f"evaluation is noisy). Pong: ALE/Pong-v5, default config, mean raw score of 10 "
        f"greedy full games. Device {args.device}. "
        f"Wall time {time.perf_counter() - t0:.0f} s on a shared machine (steps/s noisy)."
    )
    print()
    print(notes)
    if args.json:
        data = common.results_table(
            title="Learning per env step: 1 env vs N parallel envs (same replay ratio)",
            source="benchmarks/learning.py",
            device=args.device,
            columns=columns,
            rows=rows,
            notes=notes,
        )
        common.write_json(args.json, data)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
