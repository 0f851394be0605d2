"""Speed of the ``atari-fast`` preset on the CPU: where its time goes, and the ratio to SB3.

Two measurements on the machine it runs on (``ALE/Pong-v5``, CPU):

1. **Profile.** ``DQN("ALE/Pong-v5", "atari-fast")`` warmed up past a short warm-up, then
   ``--steps`` agent steps of ``learn`` with a timer around each part of the loop,
   reached through public objects: the learner's updates (one per 8 agent steps), the
   epsilon-greedy choice (one greedy forward for the batch of 8 envs), the vector env's
   step (ale-py's C++ ``AtariVectorEnv`` with the DQN preprocessing) and the replay's
   ``add``; the replay's minibatch ``sample`` is timed inside the update.
2. **Against SB3, identical hyperparameters.** Interleaved fresh subprocesses (so noise
   hits every setup alike) of ``learn(--compare-steps)``:

   * ours, the preset as it is (double Q);
   * ours, the preset with ``double_q=False`` (what SB3's DQN computes);
   * ours, the preset with ``precision="bf16"`` (opt-in bfloat16 autocast of the update's
     forward passes; only fast on CPUs with ``avx512_bf16`` or ``amx_bf16``);
   * with ``--baseline DIR``: ours, the preset as it is, from another checkout of
     dqn-agents (e.g. ``git worktree add ../base 845558a``, the commit the preset landed
     in): the preset's speed before and after the changes since;
   * SB3 2.x ``DQN`` with the same hyperparameters: 8 envs (``make_atari_env`` with
     ``AtariWrapper`` + ``VecFrameStack(4)`` on the same ``ALE/Pong-v5`` with
     ``frameskip=1`` under the wrapper), ``n_steps=3``, one update every 8 agent steps
     (``train_freq=1`` vector step, ``gradient_steps=1``), batch 32, buffer 100k, Adam
     1e-4, Huber loss, gradient clipping 10, target sync every 4,000 agent steps (= our
     500 updates), the 2013 network as a features extractor (16 8x8/4 -> 32 4x4/2 ->
     256), the same warm-up and epsilon schedule.

   The table shows median agent steps/s over ``--repeats`` and the paired ratio (each
   round's run over the SB3 run of that round).

Torch threads: every setup runs with the same ``--threads`` (default 1: the figures in the
docs come from a machine whose other core trained Pong at the same time; two threads
contending with a busy core make every library crawl, SB3's default included). Record
the CPU flags with the figures: the 2013 network's update costs differ about 4x between
AVX-512 and AVX2-only hosts.

Usage:
    python benchmarks/preset_speed.py [--steps 4000] [--compare-steps 12000] [--repeats 2]
        [--threads 1] [--baseline DIR] [--skip-profile] [--skip-compare]
        [--json docs/benchmarks/results/preset_speed.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from statistics import median
from typing import Any

import common

ENV_ID = "ALE/Pong-v5"
WARMUP = 2_000  # learning_starts of the measured runs (the preset waits 10k: same loop after)
NUM_ENVS = 8
#: The preset's values that SB3 can express, with SB3's names (its target sync counts
#: agent steps: 500 updates x 8 agent steps per update).
SB3_SAME = {
    "buffer_size": 100_000,
    "learning_starts": WARMUP,
    "batch_size": 32,
    "learning_rate": 1e-4,
    "gamma": 0.99,
    "train_freq": 1,
    "gradient_steps": 1,
    "n_steps": 3,
    "target_update_interval": 500 * NUM_ENVS,
    "exploration_initial_eps": 1.0,
    "exploration_final_eps": 0.01,
    "max_grad_norm": 10.0,
}


def timed(timers: dict[str, float], key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with its wall-clock time added to ``timers[key]`` on every call."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            timers[key] = timers.get(key, 0.0) + time.perf_counter() - start

    return wrapper


def preset_agent(steps: int, threads: int, **overrides: Any) -> Any:
    """The preset on Pong with a short warm-up (epsilon over the run's first tenth)."""
    from dqn_agents import DQN

    return DQN(
        ENV_ID,
        "atari-fast",
        seed=0,
        device="cpu",
        learning_starts=WARMUP,
        exploration_steps=max(1, steps // 10),
        torch_threads=threads,
        **overrides,
    )


def profile(steps: int, threads: int) -> tuple[list[list[Any]], dict[str, float]]:
    """Time the parts of ``steps`` agent steps of the preset's ``learn``."""
    import torch

    from dqn_agents import agent as agent_module

    agent = preset_agent(WARMUP + steps, threads)
    agent.learn(WARMUP + 800)  # past the warm-up: the loop trains
    adapter, replay, learner = agent.env_adapter, agent.replay_buffer, agent.learner
    assert adapter is not None and replay is not None
    timers: dict[str, float] = {}
    patches = [
        (learner, "train", "update"),
        (learner, "sample", "sample"),
        (agent_module, "epsilon_greedy", "act"),
        (adapter, "step", "env"),
        (replay, "add", "add"),
    ]
    saved = [getattr(holder, name) for holder, name, _ in patches]
    threads: list[int] = []

    def probe(locals_: dict[str, Any], globals_: dict[str, Any]) -> bool:
        if not threads:
            threads.append(torch.get_num_threads())
        return True

    for (holder, name, key), original in zip(patches, saved, strict=True):
        setattr(holder, name, timed(timers, key, original))
    updates, done = agent.n_updates, agent.num_timesteps
    start = time.perf_counter()
    try:
        agent.learn(steps, reset_num_timesteps=False, callback=probe)
    finally:
        for (holder, name, _), original in zip(patches, saved, strict=True):
            setattr(holder, name, original)
    total = time.perf_counter() - start
    n_steps = agent.num_timesteps - done
    n_updates = agent.n_updates - updates
    vector_steps = n_steps / NUM_ENVS
    rest = total - sum(v for k, v in timers.items() if k != "sample")
    ms = 1e3
    per8 = total / vector_steps * ms
    rows = [
        ["learn() loop: everything, per 8 agent steps (one vector step)", round(per8, 2)],
        [
            "  gradient update (one per 8 agent steps), of which:",
            round(timers["update"] / n_updates * ms, 2),
        ],
        [
            "    replay minibatch sample (32 stacks)",
            round(timers.get("sample", 0) / n_updates * ms, 2),
        ],
        [
            "  acting: epsilon-greedy, one greedy forward for 8 envs",
            round(timers["act"] / vector_steps * ms, 2),
        ],
        ["  AtariVectorEnv step, 8 envs", round(timers["env"] / vector_steps * ms, 2)],
        ["  replay add, 8 transitions", round(timers["add"] / vector_steps * ms, 2)],
        ["  rest of the loop, per vector step", round(rest / vector_steps * ms, 2)],
    ]
    facts = {
        "steps_per_s": n_steps / total,
        "updates": n_updates,
        "threads": threads[0] if threads else torch.get_num_threads(),
        "update_share": timers["update"] / total,
    }
    return rows, facts


def mnih2013_extractor() -> type:
    """The 2013 paper's network as an SB3 features extractor (16x8x8/4, 32x4x4/2, 256)."""
    import torch
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

    class Mnih2013(BaseFeaturesExtractor):
        def __init__(self, observation_space: Any, features_dim: int = 256) -> None:
            super().__init__(observation_space, features_dim)
            channels = observation_space.shape[0]
            self.cnn = torch.nn.Sequential(
                torch.nn.Conv2d(channels, 16, 8, stride=4),
                torch.nn.ReLU(),
                torch.nn.Conv2d(16, 32, 4, stride=2),
                torch.nn.ReLU(),
                torch.nn.Flatten(),
            )
            with torch.no_grad():
                n = self.cnn(torch.zeros(1, *observation_space.shape)).shape[1]
            self.linear = torch.nn.Sequential(torch.nn.Linear(n, features_dim), torch.nn.ReLU())

        def forward(self, obs: Any) -> Any:
            return self.linear(self.cnn(obs))

    return Mnih2013


def run_ours(steps: int, overrides: dict[str, Any], threads: int) -> dict[str, Any]:
    """One fresh ``learn(steps)`` of the preset (with ``overrides``); agent steps/s."""
    import torch

    agent = preset_agent(steps, threads, **overrides)
    start = time.perf_counter()
    agent.learn(steps)
    elapsed = time.perf_counter() - start
    import dqn_agents

    return {
        "steps_per_s": agent.num_timesteps / elapsed,
        "code": os.path.dirname(os.path.dirname(os.path.abspath(dqn_agents.__file__))),
        "updates": agent.n_updates,
        "threads": agent.training_threads(),
        "torch_default_threads": torch.get_num_threads(),
    }


def run_sb3(steps: int, threads: int) -> dict[str, Any]:
    """One fresh SB3 ``learn(steps)`` with the same hyperparameters."""
    import ale_py
    import gymnasium as gym
    import torch
    from stable_baselines3 import DQN as SB3DQN
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import VecFrameStack

    torch.set_num_threads(threads)
    gym.register_envs(ale_py)
    env = VecFrameStack(
        make_atari_env(ENV_ID, n_envs=NUM_ENVS, seed=0, env_kwargs={"frameskip": 1}), n_stack=4
    )
    policy_kwargs = {
        "features_extractor_class": mnih2013_extractor(),
        "features_extractor_kwargs": {"features_dim": 256},
        "net_arch": [],
    }
    model = SB3DQN(
        "CnnPolicy",
        env,
        seed=0,
        device="cpu",
        policy_kwargs=policy_kwargs,
        exploration_fraction=0.1,
        verbose=0,
        **SB3_SAME,  # type: ignore[arg-type]
    )
    start = time.perf_counter()
    model.learn(steps)
    elapsed = time.perf_counter() - start
    return {
        "steps_per_s": model.num_timesteps / elapsed,
        "threads": torch.get_num_threads(),
    }


def spawn(kind: str, steps: int, threads: int, baseline: str | None = None) -> dict[str, Any]:
    """Run one worker in a fresh interpreter (``base``: ours from ``baseline``)."""
    env = dict(os.environ)
    if kind == "base":
        assert baseline is not None
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (os.path.abspath(baseline), env.get("PYTHONPATH", "")) if p
        )
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--worker",
        "ours" if kind == "base" else kind,
        "--compare-steps",
        str(steps),
        "--threads",
        str(threads),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[len("RESULT ") :])
            return result
    raise RuntimeError(f"{kind} run failed:\n{proc.stdout[-2000:]}{proc.stderr[-4000:]}")


SETUPS = {
    "ours": "dqn-agents, atari-fast (double Q)",
    "ours-single": "dqn-agents, atari-fast with double_q=False",
    "ours-bf16": "dqn-agents, atari-fast with precision='bf16'",
    "sb3": "SB3 DQN, same hyperparameters",
}
BASE = "dqn-agents @ --baseline, atari-fast (double Q)"
#: The preset overrides of each of our setups.
OURS: dict[str, dict[str, Any]] = {
    "ours": {},
    "ours-single": {"double_q": False},
    "ours-bf16": {"precision": "bf16"},
}


def compare(
    steps: int, repeats: int, threads: int, baseline: str | None = None
) -> tuple[list[list[Any]], dict[str, Any]]:
    """Interleaved runs of the setups; rows and raw results."""
    setups = dict(SETUPS)
    if baseline is not None:
        setups = {"base": BASE, **setups}
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in setups}
    for round_ in range(repeats):
        for kind in setups:
            result = spawn(kind, steps, threads, baseline)
            runs[kind].append(result)
            print(f"  round {round_ + 1} {kind}: {result['steps_per_s']:.0f} steps/s", flush=True)
    sb3 = [r["steps_per_s"] for r in runs["sb3"]]
    rows = []
    for kind, label in setups.items():
        speeds = [r["steps_per_s"] for r in runs[kind]]
        paired = [a / b for a, b in zip(speeds, sb3, strict=True)]
        rows.append(
            [
                label,
                round(median(speeds), 1),
                runs[kind][0]["threads"],
                f"{median(speeds) / median(sb3):.2f}x",
                ", ".join(f"{p:.2f}" for p in paired),
            ]
        )
    return rows, runs


def main(argv: list[str] | None = None) -> int:
    """Run the profile and the comparison and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=4_000, help="profiled agent steps")
    parser.add_argument("--compare-steps", type=int, default=12_000, help="agent steps per run")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads, every setup")
    parser.add_argument("--baseline", default=None, metavar="DIR", help="another checkout")
    parser.add_argument("--skip-profile", action="store_true")
    parser.add_argument("--skip-compare", action="store_true")
    parser.add_argument("--json", default=None, help="write the docs' results JSON here")
    parser.add_argument("--worker", choices=sorted(SETUPS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        if args.worker == "sb3":
            result = run_sb3(args.compare_steps, args.threads)
        else:
            result = run_ours(args.compare_steps, OURS[args.worker], args.threads)
        print("RESULT " + json.dumps(result), flush=True)
        return 0
    cpu = common.cpu_description()
    print(f"machine: {cpu}; load before: {os.getloadavg()}")
    out: dict[str, Any] = {
        "title": "The atari-fast preset on the CPU (ALE/Pong-v5)",
        "source": "benchmarks/preset_speed.py",
        "machine": cpu,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_before": list(os.getloadavg()),
        "threads": args.threads,
        "tables": [],
    }
    if not args.skip_profile:
        rows, facts = profile(args.steps, args.threads)
        print(f"\nprofile ({facts['threads']} torch threads): {facts['steps_per_s']:.0f} steps/s")
        for label, value in rows:
            print(f"  {value:>8} ms  {label}")
        out["profile"] = facts
        out["tables"].append(
            {"caption": "Where the time goes (ms)", "columns": ["part", "ms"], "rows": rows}
        )
    if not args.skip_compare:
        print(f"\nagainst SB3 ({args.compare_steps} agent steps per run, {args.repeats} rounds):")
        rows, runs = compare(args.compare_steps, args.repeats, args.threads, args.baseline)
        for row in rows:
            print("  " + " | ".join(str(c) for c in row))
        out["runs"] = runs
        out["tables"].append(
            {
                "caption": "Agent steps/s, identical hyperparameters (median of the rounds)",
                "columns": ["setup", "steps/s", "threads", "vs SB3", "paired ratios"],
                "rows": rows,
            }
        )
    out["load_after"] = list(os.getloadavg())
    if args.json:
        common.write_json(args.json, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
