"""Training throughput of `DQN.learn` vs Stable-Baselines3's DQN, side by side.

Agent steps per second of a full ``learn()`` call (acting, env stepping, replay, gradient
updates) with **identical hyperparameters** on ``PongNoFrameskip-v4`` (Nature CNN) and
``CartPole-v1`` (MLP): buffer 100k, learning_starts 1k, train_freq 4, batch 32, Adam
1e-4, gradient clipping 10, Huber loss, target sync every 1,000 env steps (SB3's
``target_update_interval=1000`` counts env steps; ours counts gradient updates: 250),
epsilon 1 -> 0.01 over the first 10 % of the steps, the same torch device for both
(``--device``, CPU by default; ``--device cuda`` on a GPU machine).

SB3 runs as its users run it on Atari: ``make_atari_env`` (``AtariWrapper``) +
``VecFrameStack(4)``, ``CnnPolicy``, torch's default thread count. Ours: ``DQN(env_id)``
with its defaults (threads chosen by the agent), and the vector fast path
(``num_envs=N`` on ale-py's C++ ``AtariVectorEnv``, batched acting, the same replay
ratio of one update per 4 env steps).

Each run is a fresh subprocess (so the peak RSS is per run); runs are interleaved
(ours, SB3, ours-vector, ours, SB3, ...) so that the shared machine's noise hits all of
them alike. The table shows the median steps/s over ``--repeats``, the ratio to SB3's
median, and the paired ratios (each round's run over the SB3 run of the same round).

With ``--baseline DIR`` (another checkout of dqn-agents, e.g. ``git worktree add
/tmp/base HEAD~1``) each of our setups also runs on that code, interleaved, and the
table adds the paired ratio against it: a change's speed, measured in one run. ``--no-sb3``
leaves SB3 out for such a comparison.

Usage:
    python benchmarks/throughput.py [--steps 6000] [--cartpole-steps 20000]
        [--repeats 2] [--num-envs 4] [--device cpu] [--baseline DIR] [--no-sb3]
        [--json docs/benchmarks/results/throughput.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from statistics import median
from typing import Any

import common

PONG = "PongNoFrameskip-v4"
CARTPOLE = "CartPole-v1"
COMMON = {
    "buffer_size": 100_000,
    "learning_starts": 1_000,
    "train_freq": 4,
    "batch_size": 32,
    "learning_rate": 1e-4,
    "gamma": 0.99,
    "exploration_fraction": 0.1,
    "exploration_initial_eps": 1.0,
    "exploration_final_eps": 0.01,
    "max_grad_norm": 10.0,
    "gradient_steps": 1,
}
TARGET_SYNC_ENV_STEPS = 1_000


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_ours(
    env_id: str, steps: int, num_envs: int, seed: int, device: str = "cpu"
) -> dict[str, Any]:
    """One ``DQN.learn`` run; returns steps/s, threads, updates and peak RSS."""
    import torch

    from dqn_agents import DQN

    kwargs = dict(COMMON)
    kwargs["target_update_interval"] = TARGET_SYNC_ENV_STEPS // COMMON["train_freq"]
    if env_id == CARTPOLE:
        kwargs["mlp_hidden_sizes"] = (64, 64)
    agent = DQN(env_id, num_envs=num_envs, seed=seed, device=device, **kwargs)
    threads: list[int] = []

    def probe(locals_: dict[str, Any], globals_: dict[str, Any]) -> bool:
        if not threads:
            threads.append(torch.get_num_threads())
        return True

    start = time.perf_counter()
    agent.learn(steps, callback=probe)
    elapsed = time.perf_counter() - start
    # A --baseline checkout from before the redesign (2026-12-02) kept the count private;
    # reading that old attribute by name is the one way to compare with it.
    updates = agent.n_updates if hasattr(agent, "n_updates") else vars(agent)["_n_updates"]
    return {
        "steps_per_s": agent.num_timesteps / elapsed,
        "steps": agent.num_timesteps,
        "updates": updates,
        "threads": threads[0] if threads else torch.get_num_threads(),
        "peak_rss_mb": _peak_rss_mb(),
    }


def run_sb3(
    env_id: str, steps: int, seed: int, threads: int | None, device: str = "cpu"
) -> dict[str, Any]:
    """One SB3 ``DQN.learn`` run with the same hyperparameters."""
    import torch
    from stable_baselines3 import DQN as SB3DQN
    from stable_baselines3.common.env_util import make_atari_env, make_vec_env
    from stable_baselines3.common.vec_env import VecFrameStack

    if threads is not None:
        torch.set_num_threads(threads)
    kwargs = dict(COMMON)
    kwargs["target_update_interval"] = TARGET_SYNC_ENV_STEPS
    if env_id == PONG:
        import ale_py
        import gymnasium as gym

        gym.register_envs(ale_py)
        env = VecFrameStack(make_atari_env(env_id, n_envs=1, seed=seed), n_stack=4)
        policy, policy_kwargs = "CnnPolicy", {}
    else:
        env = make_vec_env(env_id, n_envs=1, seed=seed)
        policy, policy_kwargs = "MlpPolicy", {"net_arch": [64, 64]}
    model = SB3DQN(
        policy, env, seed=seed, device=device, policy_kwargs=policy_kwargs, verbose=0, **kwargs
    )
    start = time.perf_counter()
    model.learn(steps)
    elapsed = time.perf_counter() - start
    return {
        "steps_per_s": model.num_timesteps / elapsed,
        "steps": model.num_timesteps,
        "updates": model._n_updates,  # SB3 keeps the count private
        "threads": torch.get_num_threads(),
        "peak_rss_mb": _peak_rss_mb(),
    }


def _worker(args: argparse.Namespace) -> None:
    if args.worker == "sb3":
        result = run_sb3(args.env, args.steps, args.seed, args.sb3_threads, args.device)
    else:
        result = run_ours(args.env, args.steps, args.num_envs, args.seed, args.device)
    print("RESULT " + json.dumps(result), flush=True)


def _spawn(
    kind: str, env_id: str, steps: int, num_envs: int, threads: int | None, args: argparse.Namespace
) -> Any:
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        kind,
        "--env",
        env_id,
        "--steps",
        str(steps),
        "--num-envs",
        str(num_envs),
        "--seed",
        str(args.seed),
        "--device",
        args.device,
    ]
    if threads is not None:
        cmd += ["--sb3-threads", str(threads)]
    env = dict(os.environ)
    if kind == "base":  # our worker, importing dqn_agents from the baseline tree
        cmd[cmd.index("--worker") + 1] = "ours"
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (os.path.abspath(args.baseline), env.get("PYTHONPATH", "")) if p
        )
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    tail = proc.stdout[-2000:] + proc.stderr[-4000:]
    raise RuntimeError(f"{kind} run on {env_id} failed:\n{tail}")


def _load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or one worker run) and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=5_000, help="agent steps per Pong run")
    parser.add_argument("--cartpole-steps", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=2, help="interleaved runs per setup")
    parser.add_argument("--num-envs", type=int, default=4, help="envs of the vector fast path")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sb3-threads", type=int, default=None, help="torch threads for SB3")
    parser.add_argument("--skip-cartpole", action="store_true")
    parser.add_argument(
        "--baseline", default=None, metavar="DIR", help="also run our setups on this checkout"
    )
    parser.add_argument("--no-sb3", action="store_true", help="leave SB3 out")
    parser.add_argument(
        "--device", default="cpu", help="torch device of both libraries (cpu, cuda, cuda:1)"
    )
    parser.add_argument("--json", type=str, default=None, help="write docs results JSON here")
    parser.add_argument("--worker", choices=["ours", "sb3"], help=argparse.SUPPRESS)
    parser.add_argument("--env", default=PONG, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args)
        return 0

    on_cpu = args.device == "cpu"
    if args.no_sb3:
        sb3_threads: list[int | None] = []
    elif args.sb3_threads is not None:
        sb3_threads = [args.sb3_threads]
    else:  # one torch thread is a common SB3 setting on CPU; on a GPU it changes little
        sb3_threads = [None, 1] if on_cpu else [None]
    Setup = tuple[str, str, str, int, int, int | None]
    envs = [(PONG, args.steps)]
    if not args.skip_cartpole:
        envs.append((CARTPOLE, args.cartpole_steps))
    setups: list[Setup] = []
    for env_id, steps in envs:
        setups.append((f"dqn-agents, 1 env ({env_id})", "ours", env_id, 1, steps, None))
        for threads in sb3_threads:
            label = "torch default threads" if threads is None else f"{threads} torch thread(s)"
            setups.append((f"SB3 DQN, 1 env, {label} ({env_id})", "sb3", env_id, 1, steps, threads))
        if env_id == PONG:
            name = f"dqn-agents, {args.num_envs} envs vector ({env_id})"
            setups.append((name, "ours", env_id, args.num_envs, steps, None))
    if args.baseline:
        setups += [
            (f"{name} @ baseline", "base", env_id, n, steps, None)
            for name, kind, env_id, n, steps, _ in list(setups)
            if kind == "ours"
        ]
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, *_ in setups}
    load_before = _load()
    t0 = time.perf_counter()
    for rep in range(args.repeats):
        order = setups if rep % 2 == 0 else list(reversed(setups))
        for name, kind, env_id, n, steps, threads in order:
            res = _spawn(kind, env_id, steps, n, threads, args)
            results[name].append(res)
            print(
                f"  [{rep + 1}/{args.repeats}] {name}: {res['steps_per_s']:.1f} steps/s, "
                f"{res['updates']} updates, {res['threads']} threads, "
                f"{res['peak_rss_mb']:.0f} MB",
                flush=True,
            )
    wall = time.perf_counter() - t0

    # Ratios are taken against the FASTER SB3 configuration on the same env.
    baseline: dict[str, float] = {}
    for name, kind, env_id, *_ in setups:
        if kind == "sb3":
            sps = median(r["steps_per_s"] for r in results[name])
            baseline[env_id] = max(baseline.get(env_id, 0.0), sps)
    paired = paired_ratios(setups, results, args.repeats)
    versus_base = paired_ratios(setups, results, args.repeats, against="base")
    columns = [
        "Setup",
        "Agent steps",
        "Torch threads",
        "Steps/s (median)",
        "Steps/s (all runs)",
        "vs SB3",
        "vs SB3, paired per round (median, min-max)",
        "vs baseline, paired per round (median, min-max)",
        "Updates per env step",
        "Peak RSS (MB)",
    ]
    rows: list[list[Any]] = []
    for name, _kind, env_id, _n, steps, _threads in setups:
        runs = results[name]
        sps = median(r["steps_per_s"] for r in runs)
        rows.append(
            [
                name,
                steps,
                runs[0]["threads"],
                round(sps, 1),
                ", ".join(f"{r['steps_per_s']:.1f}" for r in runs),
                round(sps / baseline[env_id], 2) if env_id in baseline else None,
                spread(paired[name]) if paired.get(name) else None,
                spread(versus_base[name]) if versus_base.get(name) else None,
                round(runs[0]["updates"] / max(1, runs[0]["steps"] - COMMON["learning_starts"]), 4),
                round(max(r["peak_rss_mb"] for r in runs)),
            ]
        )
    common.print_table(columns, rows)
    load_after = _load()
    notes = (
        f"Same hyperparameters for both (buffer 100k, learning_starts 1k, train_freq 4, batch "
        f"32, Adam 1e-4, clip 10, target sync every 1,000 env steps); every run a fresh "
        f"process, runs interleaved; {args.repeats} runs per setup; device {args.device}; "
        f"ratio = median / the faster SB3 configuration's median on the same env; paired = "
        f"each round's run / the faster SB3 run of the same round (neighbours in time, so "
        f"the machine's drift cancels). Load average before "
        f"{load_before}, after {load_after}; "
        f"benchmark wall time {wall:.0f} s."
    )
    print()
    print(notes)
    if args.json:
        data = common.results_table(
            title=(
                "Training throughput: dqn-agents vs SB3 DQN "
                f"(same hyperparameters, {'CPU' if on_cpu else 'GPU'})"
            ),
            source="benchmarks/throughput.py",
            device=args.device,
            columns=columns,
            rows=rows,
            notes=notes,
            plot={
                "kind": "bar",
                "label": 0,
                "values": [3],
                "xlabel": f"Agent steps per second (median, {'CPU' if on_cpu else 'GPU'})",
            },
        )
        common.write_json(args.json, data)
        print(f"wrote {args.json}")
    return 0


def paired_ratios(
    setups: list[tuple[str, str, str, int, int, int | None]],
    results: dict[str, list[dict[str, Any]]],
    repeats: int,
    against: str = "sb3",
) -> dict[str, list[float]]:
    """Per-round ratios: each of our runs / the faster ``against`` run of the same round.

    ``against="sb3"``: SB3 on the same env; ``against="base"``: our own setup (same env
    and env count) run on the ``--baseline`` checkout.

    The runs of one round are neighbours in time, so a slow spell of the shared machine
    hits both sides of a paired ratio; the ratio of medians does not have that property.

    Args:
        setups: ``(name, kind, env_id, num_envs, steps, threads)`` per setup.
        results: Runs per setup name, one per round, in round order.
        repeats: Rounds.
        against: The kind of setup to divide by (``"sb3"`` or ``"base"``).

    Returns:
        Ratios per setup of ours (empty where there is nothing to compare with).

    Example:
        >>> s = [("a", "ours", "E", 1, 9, None), ("b", "sb3", "E", 1, 9, None)]
        >>> r = {"a": [{"steps_per_s": 3.0}], "b": [{"steps_per_s": 2.0}]}
        >>> paired_ratios(s, r, 1)
        {'a': [1.5]}
    """
    out: dict[str, list[float]] = {}
    for name, kind, env_id, *_ in setups:
        if kind != "ours":
            continue
        n_envs = setups[[s[0] for s in setups].index(name)][3]
        sb3 = [
            n
            for n, k, e, ne, *_ in setups
            if k == against and e == env_id and (against == "sb3" or ne == n_envs)
        ]
        if not sb3:
            continue
        out[name] = [
            results[name][i]["steps_per_s"] / max(results[n][i]["steps_per_s"] for n in sb3)
            for i in range(repeats)
        ]
    return out


def spread(values: list[float]) -> str:
    """The median of paired ratios and their range, as the table shows them.

    Example:
        >>> spread([1.3, 1.25, 1.5])
        '1.30 (1.25-1.50)'
    """
    return f"{median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


if __name__ == "__main__":
    raise SystemExit(main())
