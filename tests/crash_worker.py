"""Processes that save in a loop until they are killed (for ``tests/test_crash.py``).

Run as a script, this file is a *zygote*: it imports torch and dqn-agents once, prints
``ready``, then for each line ``<mode> <path>`` read on stdin forks a worker that saves the
two versions of ``mode`` to ``path`` alternately (A, B, A, ...) until it is killed, prints
the worker's pid, waits for it to die and prints ``dead <wait status>``. Forking from a
warm process makes a trial cost milliseconds instead of the seconds of a fresh
interpreter; the zygote never runs a parallel torch op (one thread), so forking it is safe.

Modes: ``save`` (`DQN.save`, one zip), ``pretrained`` (`DQN.save_pretrained`, a folder;
the versions have different architectures), ``renames`` (the same folder written by
`write_folder_atomically` with the two-rename swap) and ``replay``
(`DQN.save_replay_buffer`'s file, `BaseReplayBuffer.save`). The test builds the same
versions with the functions below and checks what a kill left.
"""

from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dqn_agents import DQN
from dqn_agents.replay import VectorReplayBuffer, make_replay_buffer
from dqn_agents.serialization import write_folder_atomically

MODES = ("save", "pretrained", "renames", "replay")
REPLAY_CAPACITY = 100_000
REPLAY_ENVS = 1_000


def model_versions() -> tuple[DQN, DQN]:
    """Versions A and B of a model: CartPole agents of different architectures."""
    torch.set_num_threads(1)
    a = DQN("CartPole-v1", seed=0, mlp_hidden_sizes=(64, 64), buffer_size=100)
    b = DQN("CartPole-v1", seed=1, mlp_hidden_sizes=(32,), buffer_size=100)
    return a, b


def empty_replay() -> VectorReplayBuffer:
    """A CartPole-shaped replay of `REPLAY_CAPACITY` transitions over `REPLAY_ENVS` streams."""
    import gymnasium as gym

    space = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)
    replay = make_replay_buffer(space, REPLAY_CAPACITY, REPLAY_ENVS)
    assert isinstance(replay, VectorReplayBuffer)
    return replay


def replay_versions() -> tuple[VectorReplayBuffer, VectorReplayBuffer]:
    """Versions A (60 % full, values 1) and B (full, values 2) of a replay memory."""
    versions = []
    for value, calls in ((1.0, 60), (2.0, 100)):
        replay = empty_replay()
        n = REPLAY_ENVS
        for t in range(calls):
            obs = np.full((n, 4), value * t, np.float32)
            replay.add(obs, np.ones(n), np.full(n, value), obs + 1, np.zeros(n), np.zeros(n))
        versions.append(replay)
    return versions[0], versions[1]


def folder_versions(a: DQN, b: DQN, scratch: Path) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """The files of ``a`` and ``b``'s Hub folders, as `write_folder_atomically` takes them."""
    out = []
    for name, agent in (("a", a), ("b", b)):
        folder = agent.save_pretrained(scratch / name)
        out.append({p.name: p.read_bytes() for p in sorted(folder.iterdir())})
    return out[0], out[1]


def savers(scratch: Path) -> dict[str, Any]:
    """For each mode, a function ``path -> [save A, save B]`` (versions built once, here)."""
    a, b = model_versions()
    ra, rb = replay_versions()
    files_a, files_b = folder_versions(a, b, scratch)
    return {
        "save": lambda path: [lambda: a.save(path), lambda: b.save(path)],
        "pretrained": lambda path: [
            lambda: a.save_pretrained(path),
            lambda: b.save_pretrained(path),
        ],
        "renames": lambda path: [
            lambda: write_folder_atomically(path, files_a, exchange=False),
            lambda: write_folder_atomically(path, files_b, exchange=False),
        ],
        "replay": lambda path: [lambda: ra.save(path), lambda: rb.save(path)],
    }


def main() -> None:
    """The zygote loop (see the module docstring)."""
    import tempfile

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="crash-worker-") as scratch:
        modes = savers(Path(scratch))
        print("ready", flush=True)
        for line in sys.stdin:
            mode, _, path = line.strip().partition(" ")
            if mode == "quit":
                return
            both = modes[mode](path)
            pid = os.fork()
            if pid == 0:  # the worker: save A, B, A, ... until killed
                try:
                    while True:
                        for save in both:
                            save()
                except BaseException:
                    traceback.print_exc()
                finally:
                    os._exit(3)
            print(pid, flush=True)
            _, status = os.waitpid(pid, 0)
            print(f"dead {status}", flush=True)


if __name__ == "__main__":
    main()
