"""Replay memory per Atari transition: dqn-agents' frame-once buffer vs SB3's ReplayBuffer.

What it measures (4x84x84 uint8 observations, Discrete actions):

* ``FrameReplayBuffer`` (ours), filled with ``--capacity`` (default 1M) transitions of
  real Breakout frames (84x84 grayscale, collected with gymnasium's
  ``AtariPreprocessing``) in episodes whose lengths are drawn around ``--mean-episode``
  steps, a ``--truncated-fraction`` of them ending by time limit (which stores the final
  frame in an extra slot). Reported: array ``nbytes`` / capacity, and the growth of the
  process RSS (``VmRSS`` in ``/proc/self/status``) during the fill / transitions.
* SB3 ``ReplayBuffer`` with and without ``optimize_memory_usage``: array ``nbytes`` at
  ``--sb3-capacity`` (default 20k) scaled per transition (SB3's arrays are fixed-size,
  so bytes per transition do not depend on the capacity), and its RSS growth after
  filling that smaller capacity (SB3 at 1M needs 56 GB / 28 GB, more than this machine).
  SB3 refuses ``optimize_memory_usage`` together with ``handle_timeout_termination``
  (its issue #934), so that variant runs with ``handle_timeout_termination=False``.

Run: ``python benchmarks/replay_memory.py --json results/replay_memory.json``
(needs about 8 GB of free RAM at the default 1M capacity; ``--capacity`` scales it).
"""

from __future__ import annotations

import argparse
import gc
import platform
import sys
import time
from pathlib import Path
from typing import Any

import common
import numpy as np

TARGET_BYTES = 7_200


def rss_bytes() -> int:
    """Resident set size of this process (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("VmRSS not found in /proc/self/status")


def collect_frames(n: int, seed: int) -> np.ndarray:
    """Real 84x84 grayscale Breakout frames (random play), or noise if ALE is missing."""
    try:
        import ale_py
        import gymnasium as gym
        from gymnasium.wrappers import AtariPreprocessing

        gym.register_envs(ale_py)
        env = AtariPreprocessing(
            gym.make("ALE/Breakout-v5", frameskip=1, repeat_action_probability=0.0),
            noop_max=0,
            frame_skip=4,
        )
        frames = np.empty((n, 84, 84), np.uint8)
        obs, _ = env.reset(seed=seed)
        for i in range(n):
            frames[i] = obs
            obs, _, term, trunc, _ = env.step(env.action_space.sample())
            if term or trunc:
                obs, _ = env.reset()
        env.close()
        return frames
    except Exception as exc:  # pragma: no cover - fallback
        print(f"(ALE unavailable: {exc}; using random frames)", file=sys.stderr)
        return np.random.default_rng(seed).integers(0, 256, (n, 84, 84), dtype=np.uint8)


def fill_ours(
    capacity: int, num_envs: int, frames: np.ndarray, mean_episode: int, trunc_frac: float
) -> dict[str, Any]:
    from dqn_agents.replay import FrameReplayBuffer

    gc.collect()
    rss0 = rss_bytes()
    buf = FrameReplayBuffer((4, 84, 84), capacity, num_envs=num_envs, n_step=1, check=True)
    rng = np.random.default_rng(0)
    n_frames = len(frames)
    stacks = np.zeros((num_envs, 4, 84, 84), np.uint8)
    nxt = np.zeros_like(stacks)
    left = np.zeros(num_envs, np.int64)
    cursor = rng.integers(n_frames, size=num_envs)
    episodes = 0
    truncations = 0

    def new_episode(e: int) -> None:
        nonlocal episodes
        episodes += 1
        left[e] = max(1, int(rng.exponential(mean_episode)))
        stacks[e] = 0
        stacks[e, -1] = frames[cursor[e] % n_frames]
        cursor[e] += 1

    for e in range(num_envs):
        new_episode(e)
    actions = np.zeros(num_envs, np.int64)
    rewards = np.zeros(num_envs, np.float32)
    term = np.zeros(num_envs, bool)
    trunc = np.zeros(num_envs, bool)
    steps = capacity // num_envs
    t0 = time.perf_counter()
    for _ in range(steps):
        nxt[:, :-1] = stacks[:, 1:]
        nxt[:, -1] = frames[cursor % n_frames]
        cursor += 1
        left -= 1
        ended = left <= 0
        is_trunc = ended & (rng.random(num_envs) < trunc_frac)
        np.logical_and(ended, ~is_trunc, out=term)
        trunc[:] = is_trunc
        truncations += int(is_trunc.sum())
        actions[:] = rng.integers(4, size=num_envs)
        buf.add(stacks, actions, rewards, nxt, term, trunc)
        stacks, nxt = nxt, stacks
        for e in np.flatnonzero(ended):
            new_episode(int(e))
    fill_s = time.perf_counter() - t0
    gc.collect()
    rss1 = rss_bytes()
    transitions = steps * num_envs
    batch = buf.allocate_batch(32)
    t0 = time.perf_counter()
    for _ in range(200):
        buf.get_batch(buf.sample_indices(32, rng), out=batch)
    sample_us = (time.perf_counter() - t0) / 200 * 1e6
    result = {
        "buffer": "dqn-agents FrameReplayBuffer",
        "capacity": buf.capacity,
        "transitions_added": transitions,
        "transitions_stored": len(buf),
        "episodes": episodes,
        "truncated_episodes": truncations,
        "mean_episode_length": transitions / max(episodes, 1),
        "nbytes": buf.nbytes,
        "nbytes_per_transition": buf.nbytes / buf.capacity,
        "rss_growth_bytes": rss1 - rss0,
        "rss_per_transition": (rss1 - rss0) / buf.capacity,
        "fill_seconds": fill_s,
        "add_us_per_transition": fill_s / transitions * 1e6,
        "sample32_us": sample_us,
    }
    del buf
    gc.collect()
    return result


def fill_sb3(
    capacity: int, frames: np.ndarray, optimize: bool, fill: bool = True
) -> dict[str, Any]:
    import gymnasium as gym
    from stable_baselines3.common.buffers import ReplayBuffer

    obs_space = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    act_space = gym.spaces.Discrete(4)
    gc.collect()
    rss0 = rss_bytes()
    buf = ReplayBuffer(
        capacity,
        obs_space,
        act_space,
        device="cpu",
        n_envs=1,
        optimize_memory_usage=optimize,
        handle_timeout_termination=not optimize,
    )
    arrays = [buf.observations, buf.actions, buf.rewards, buf.dones, buf.timeouts]
    if not optimize:
        arrays.append(buf.next_observations)
    nbytes = sum(a.nbytes for a in arrays)
    t0 = time.perf_counter()
    n_frames = len(frames)
    obs = np.zeros((1, 4, 84, 84), np.uint8)
    nxt = np.zeros_like(obs)
    for i in range(capacity if fill else 0):
        nxt[0, :-1] = obs[0, 1:]
        nxt[0, -1] = frames[i % n_frames]
        buf.add(obs, nxt, np.array([0]), np.array([0.0]), np.array([False]), [{}])
        obs, nxt = nxt, obs
    fill_s = time.perf_counter() - t0
    gc.collect()
    rss1 = rss_bytes()
    result = {
        "buffer": f"SB3 ReplayBuffer(optimize_memory_usage={optimize})",
        "capacity": capacity,
        "nbytes": nbytes,
        "nbytes_per_transition": nbytes / capacity,
        "rss_growth_bytes": rss1 - rss0,
        "rss_per_transition": (rss1 - rss0) / capacity,
        "fill_seconds": fill_s,
        "scaled_to_1M_GB": nbytes / capacity * 1e6 / 1e9,
    }
    del buf, arrays
    gc.collect()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--capacity", type=int, default=1_000_000)
    parser.add_argument("--num-envs", type=int, default=1)
    parser.add_argument("--mean-episode", type=int, default=250, help="mean episode length")
    parser.add_argument("--truncated-fraction", type=float, default=0.02)
    parser.add_argument("--sb3-capacity", type=int, default=20_000)
    parser.add_argument("--frames", type=int, default=4096, help="distinct real frames")
    parser.add_argument("--json", type=Path, default=None, help="write results here")
    args = parser.parse_args(argv)

    frames = collect_frames(args.frames, seed=0)
    ours = fill_ours(
        args.capacity, args.num_envs, frames, args.mean_episode, args.truncated_fraction
    )
    sb3 = fill_sb3(args.sb3_capacity, frames, optimize=False)
    sb3_opt = fill_sb3(args.sb3_capacity, frames, optimize=True)
    rows = [ours, sb3, sb3_opt]

    print(
        f"\nReplay memory per Atari transition (4x84x84 uint8), python {platform.python_version()}"
    )
    print(f"{'buffer':<46} {'capacity':>10} {'nbytes/tr':>10} {'RSS/tr':>10} {'GB at 1M':>9}")
    for r in rows:
        print(
            f"{r['buffer']:<46} {r['capacity']:>10,} {r['nbytes_per_transition']:>10,.0f} "
            f"{r['rss_per_transition']:>10,.0f} {r['nbytes_per_transition'] * 1e6 / 1e9:>9.2f}"
        )
    ok = (
        ours["nbytes_per_transition"] <= TARGET_BYTES and ours["rss_per_transition"] <= TARGET_BYTES
    )
    print(
        f"\nours: {ours['transitions_added']:,} transitions in {ours['episodes']:,} episodes "
        f"(mean length {ours['mean_episode_length']:.0f}, {ours['truncated_episodes']} truncated), "
        f"filled in {ours['fill_seconds']:.0f} s ({ours['add_us_per_transition']:.1f} us/add), "
        f"sample+gather of 32: {ours['sample32_us']:.0f} us"
    )
    print(f"target <= {TARGET_BYTES:,} bytes per transition: {'MET' if ok else 'MISSED'}")
    if args.json is not None:
        payload = common.results_table(
            title="Replay memory per Atari transition (4x84x84 uint8), measured",
            source="benchmarks/replay_memory.py",
            device="cpu",
            columns=[
                "Buffer",
                "Capacity measured",
                "Array bytes / transition",
                "RSS growth / transition",
                "GB at 1M transitions",
            ],
            rows=[
                [
                    r["buffer"],
                    r["capacity"],
                    round(r["nbytes_per_transition"], 1),
                    round(r["rss_per_transition"], 1),
                    round(r["nbytes_per_transition"] * 1e6 / 1e9, 2),
                ]
                for r in rows
            ],
            notes=(
                f"Ours filled with {ours['transitions_added']:,} transitions of real Breakout "
                f"frames in {ours['episodes']:,} episodes (mean length "
                f"{ours['mean_episode_length']:.0f}, {ours['truncated_episodes']} ending by "
                "time limit, each storing its final frame). SB3 measured at a smaller "
                "capacity (its arrays are fixed-size per transition) and scaled; "
                "optimize_memory_usage runs with handle_timeout_termination=False, which "
                "SB3 requires."
            ),
            benchmark="replay_memory",
            target_bytes_per_transition=TARGET_BYTES,
            target_met=ok,
            results=rows,
            args={k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        )
        common.write_json(args.json, payload)
        print(f"wrote {args.json}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
