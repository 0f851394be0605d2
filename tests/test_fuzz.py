"""Fuzzing the loaders: mutated model zips and folders, config.json, SB3 zips and replay files.

Every mutated file is loaded by the real loader (``DQN.load``, ``from_sb3``,
``load_replay_buffer``) in a child process whose address space is capped with
``RLIMIT_AS``; the child reports, per file, whether it loaded or which error it raised.
Each family of loaders passes when only our typed errors escape (`ModelFormatError`, a
`HubError`, an `EnvMismatchError`; for replay files the `ValueError` their loader
documents) and the child's peak memory stays under a cap (zip bombs included).

Mutations are seeded (the same files on every run) and the child stops at a deadline, so
the run is bounded in time whatever the machine. The quick run (about 70 files, one child
of about 10 s) runs with the default test command; the full one (about 420 files) is
marked slow.

Run by hand: ``python tests/test_fuzz.py OUT_DIR N_PER_KIND SECONDS SEED`` prints the report.
"""

from __future__ import annotations

import io
import json
import os
import random
import resource
import struct
import subprocess
import sys
import time
import traceback
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

#: Extra address space the child may map beyond what it holds after its warm-up loads.
ADDRESS_SPACE_HEADROOM = 2 * 1024**3
#: Most resident memory (peak) the child may add beyond its warm-up peak while loading.
PEAK_RSS_HEADROOM = 768 * 1024**2


# --------------------------------------------------------------------------- mutations

INTERESTING_VALUES: list[Any] = [
    0,
    -1,
    1,
    2**31,
    2**63,
    10**9,
    10**30,
    1e308,
    -1e308,
    float("inf"),
    float("nan"),
    0.5,
    True,
    None,
    "",
    "x" * 300,
    "this:Zen-v0",
    "ALE/Pong-v5",
    "CartPole-v0",
    [],
    [0] * 50,
    [30000, 30000],
    [10**8],
    {},
    {"n": 10**8},
    "__DEEP__",
]


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """One byte-level mutation: bit flips, a byte set, truncation, insertion or a repeat."""
    buf = bytearray(data)
    op = rng.randrange(6)
    if not buf:
        return bytes(rng.randrange(256) for _ in range(8))
    if op == 0:
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
    elif op == 1:
        for _ in range(rng.randint(1, 4)):
            buf[rng.randrange(len(buf))] = rng.choice([0, 0xFF, 0x7F, 0x80, 0x20])
    elif op == 2:
        return bytes(buf[: rng.randrange(len(buf))])
    elif op == 3:
        i = rng.randrange(len(buf))
        buf[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    elif op == 4:
        i = rng.randrange(len(buf))
        j = min(len(buf), i + rng.randint(1, 64))
        buf[i:i] = buf[i:j] * rng.randint(2, 8)
    else:
        i = rng.randrange(len(buf))
        buf[i : i + rng.randint(1, 32)] = b"\x00" * rng.randint(1, 32)
    return bytes(buf)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for key, value in obj.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(obj, list) and len(obj) <= 64:
        for i, value in enumerate(obj):
            out += _paths(value, (*prefix, i))
    return out


def mutate_json(data: bytes, rng: random.Random) -> bytes:
    """One structure-aware mutation of a JSON document (falls back to bytes if unparsable)."""
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):
        return mutate_bytes(data, rng)
    paths = _paths(obj)[1:]
    if not paths:
        return mutate_bytes(data, rng)
    path = rng.choice(paths)
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    op = rng.randrange(10)
    if op == 0 and isinstance(parent, dict):
        del parent[path[-1]]
    elif op == 1 and isinstance(parent, dict):
        parent[f"unknown_{rng.randrange(100)}"] = rng.choice(INTERESTING_VALUES)
    else:
        value = rng.choice(INTERESTING_VALUES)
        old = parent[path[-1]]
        if isinstance(old, int) and not isinstance(old, bool) and rng.random() < 0.5:
            value = rng.choice([old * 1000, -old, old + 1, old * 10**6, 0])
        parent[path[-1]] = value
    text = json.dumps(obj, allow_nan=True)
    return text.replace('"__DEEP__"', "[" * 50_000 + "]" * 50_000).encode()


def mutate_safetensors(data: bytes, rng: random.Random) -> bytes:
    """Mutate the JSON header of a safetensors file (shapes, dtypes, offsets) or its bytes."""
    if len(data) < 8 or rng.random() < 0.3:
        return mutate_bytes(data, rng)
    (n,) = struct.unpack("<Q", data[:8])
    header, body = data[8 : 8 + n], data[8 + n :]
    new = mutate_json(header, rng)
    return struct.pack("<Q", len(new)) + new + body


def rezip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=method) as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return out.getvalue()


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def mutate_zip(data: bytes, rng: random.Random, member_mutators: dict[str, Callable]) -> bytes:
    """Mutate one member and zip again (valid CRCs: reaches the parsers), or the raw zip."""
    if rng.random() < 0.3:
        return mutate_bytes(data, rng)
    members = unzip(data)
    name = rng.choice(sorted(members))
    mutator = member_mutators.get(name, mutate_bytes)
    members[name] = mutator(members[name], rng)
    if rng.random() < 0.1:
        members[f"extra_{rng.randrange(10)}"] = b"\x00" * 10
    return rezip(members)


def deflate_bomb(name_and_size: dict[str, int], keep: dict[str, bytes]) -> bytes:
    """A zip whose named members are ``size`` bytes of spaces (deflate: about 1000:1)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, payload in keep.items():
            archive.writestr(name, payload)
        for name, size in name_and_size.items():
            with archive.open(name, "w", force_zip64=True) as member:
                chunk = b" " * (1 << 20)
                for _ in range(size >> 20):
                    member.write(chunk)
    return out.getvalue()


# --------------------------------------------------------------------------- the child


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _vm_size() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def run_child(out: Path, per_kind: int, seconds: float, seed: int = 0) -> dict[str, Any]:
    """Build the seed files, mutate them, load each one; return the report (also printed)."""
    import warnings

    import torch

    warnings.simplefilter("ignore")
    torch.set_num_threads(1)

    import stable_baselines3 as sb3

    from dqn_agents import DQN
    from dqn_agents.hub import HubError, from_sb3
    from dqn_agents.serialization import ModelFormatError
    from dqn_agents.spec import EnvMismatchError

    out.mkdir(parents=True, exist_ok=True)
    agent = DQN("CartPole-v1", seed=0, learning_starts=100, buffer_size=500, batch_size=8)
    agent.learn(150)
    model_zip = agent.save(out / "seed-model.zip").read_bytes()
    folder = agent.save_pretrained(out / "seed-folder")
    config_json, weights = (
        (folder / "config.json").read_bytes(),
        (folder / "model.safetensors").read_bytes(),
    )
    replay = agent.save_replay_buffer(out / "seed-replay.npz").read_bytes()
    sb3_path = out / "seed-sb3.zip"
    sb3.DQN("MlpPolicy", "CartPole-v1", learning_starts=0, buffer_size=100, seed=0).save(sb3_path)
    sb3_zip = sb3_path.read_bytes()
    receiver = DQN("CartPole-v1", seed=0, learning_starts=100, buffer_size=500, batch_size=8)
    receiver.learn(110)  # a replay memory to load into
    atari = DQN("ALE/Pong-v5", seed=0, buffer_size=100).save_pretrained(out / "seed-atari")
    atari_config, atari_weights = (
        (atari / "config.json").read_bytes(),
        (atari / "model.safetensors").read_bytes(),
    )

    model_errors: tuple[type[BaseException], ...] = (ModelFormatError, EnvMismatchError)
    loaders: dict[str, tuple[Callable[[Path], Any], tuple[type[BaseException], ...]]] = {
        "model-zip": (lambda p: DQN.load(p, device="cpu"), model_errors),
        "folder": (lambda p: DQN.load(p, device="cpu"), model_errors),
        "config-json": (lambda p: DQN.load(p, device="cpu"), model_errors),
        "atari-config": (lambda p: DQN.load(p, device="cpu"), model_errors),
        "sb3-zip": (lambda p: from_sb3(p, env="CartPole-v1", device="cpu"), (HubError,)),
        "replay": (receiver.load_replay_buffer, (ValueError,)),
    }
    rng = random.Random(seed)
    zip_mutators = {
        "config.json": mutate_json,
        "training_state.json": mutate_json,
        "model.safetensors": mutate_safetensors,
        "optimizer.safetensors": mutate_safetensors,
    }
    sb3_members = unzip(sb3_zip)

    def make(kind: str) -> bytes | dict[str, bytes]:
        if kind == "model-zip":
            return mutate_zip(model_zip, rng, zip_mutators)
        if kind == "folder":
            which = rng.random()
            if which < 0.5:
                return {
                    "config.json": config_json,
                    "model.safetensors": mutate_safetensors(weights, rng),
                }
            return {"config.json": mutate_bytes(config_json, rng), "model.safetensors": weights}
        if kind == "config-json":
            mutated = config_json
            for _ in range(rng.randint(1, 3)):
                mutated = mutate_json(mutated, rng)
            return {"config.json": mutated, "model.safetensors": weights}
        if kind == "atari-config":  # Atari ids and wrapper options; a valid one builds Pong
            mutated = mutate_json(atari_config, rng)
            return {"config.json": mutated, "model.safetensors": atari_weights}
        if kind == "sb3-zip":
            return mutate_zip(sb3_zip, rng, {"data": mutate_json, "policy.pth": mutate_bytes})
        return mutate_zip(replay, rng, {"meta.npy": mutate_bytes})

    cases: list[tuple[str, Path]] = []
    for i in range(per_kind):
        for kind in loaders:
            if kind == "atari-config" and i % 4:
                continue  # a quarter as many: each one that loads builds an Atari env
            payload = make(kind)
            target = out / f"{kind}-{i:04d}"
            if isinstance(payload, dict):
                target.mkdir()
                for name, content in payload.items():
                    (target / name).write_bytes(content)
            else:
                target = target.with_suffix(".npz" if kind == "replay" else ".zip")
                target.write_bytes(payload)
            cases.append((kind, target))
    # zip bombs: 64 MiB of spaces in a few tens of KB
    bombs = {
        "model-zip": deflate_bomb({"config.json": 64 << 20}, {"model.safetensors": weights}),
        "sb3-zip": deflate_bomb({"data": 64 << 20}, {"policy.pth": sb3_members["policy.pth"]}),
    }
    inner = deflate_bomb({"archive/data/0": 64 << 20}, {})
    bombs_sb3_inner = rezip({"data": sb3_members["data"], "policy.pth": inner})
    for kind, payload in [*bombs.items(), ("sb3-zip", bombs_sb3_inner)]:
        target = out / f"{kind}-bomb-{len(cases)}.zip"
        target.write_bytes(payload)
        cases.insert(0, (kind, target))

    # warm-up on the valid seeds: what loading a real model costs
    DQN.load(out / "seed-model.zip", device="cpu")
    from_sb3(sb3_path, env="CartPole-v1", device="cpu")
    receiver.load_replay_buffer(out / "seed-replay.npz")
    baseline_rss = _peak_rss()
    limit = _vm_size() + ADDRESS_SPACE_HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    deadline = time.monotonic() + seconds
    results: list[dict[str, Any]] = []
    for kind, path in cases:
        if time.monotonic() > deadline:
            break
        load, allowed = loaders[kind]
        entry: dict[str, Any] = {"kind": kind, "file": path.name}
        try:
            load(path)
        except allowed as exc:
            entry["outcome"] = f"refused: {type(exc).__name__}"
        except BaseException as exc:  # what the test looks for: anything else
            entry["outcome"] = f"RAW {type(exc).__module__}.{type(exc).__name__}"
            entry["detail"] = "".join(traceback.format_exception(exc)[-6:])[-1500:]
        else:
            entry["outcome"] = "loaded"
        results.append(entry)
    report = {
        "cases": len(cases),
        "run": len(results),
        "baseline_rss": baseline_rss,
        "peak_rss": _peak_rss(),
        "address_space_limit": limit,
        "results": results,
    }
    print(json.dumps(report))
    return report


# --------------------------------------------------------------------------- the tests


def fuzz(tmp_path: Path, per_kind: int, seconds: float, seed: int) -> dict[str, Any]:
    """Run the child; return its report after checking it ran to a report at all."""
    args = [str(tmp_path / "fuzz"), str(per_kind), str(seconds), str(seed)]
    proc = subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        timeout=seconds + 240,
        env={**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"},
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    report: dict[str, Any] = json.loads(lines[-1])
    return report


FAMILIES = {
    "models": ("model-zip", "folder", "config-json", "atari-config"),  # DQN.load
    "sb3": ("sb3-zip",),  # dqn_agents.hub.from_sb3
    "replay": ("replay",),  # DQN.load_replay_buffer
}


def check(report: dict[str, Any], family: str, minimum_run: int) -> None:
    """Only typed errors, enough files run, memory under the cap, every zip bomb refused."""
    mine = [r for r in report["results"] if r["kind"] in FAMILIES[family]]
    raw = [r for r in mine if r["outcome"].startswith("RAW")]
    assert not raw, "raw exceptions escaped:\n" + "\n".join(
        f"{r['kind']} {r['file']}: {r['outcome']}\n{r['detail']}" for r in raw[:8]
    )
    assert len(mine) >= minimum_run, (len(mine), report["run"], report["cases"])
    grown = report["peak_rss"] - report["baseline_rss"]
    assert grown < PEAK_RSS_HEADROOM, f"peak memory grew by {grown / 2**20:.0f} MiB"
    bombs = [r for r in mine if "bomb" in r["file"]]
    assert all(r["outcome"].startswith("refused") for r in bombs), bombs


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """About 70 mutated files and 3 zip bombs (seed 0), at most 20 s of loading."""
    return fuzz(tmp_path_factory.mktemp("quick"), per_kind=12, seconds=20, seed=0)


@pytest.fixture(scope="module")
def full_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """About 420 mutated files and 3 zip bombs (seed 1), at most 2 minutes of loading."""
    return fuzz(tmp_path_factory.mktemp("full"), per_kind=80, seconds=120, seed=1)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fuzzed_files_raise_only_typed_errors_quick(
    quick_report: dict[str, Any], family: str
) -> None:
    check(quick_report, family, minimum_run=8)


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fuzzed_files_raise_only_typed_errors(full_report: dict[str, Any], family: str) -> None:
    check(full_report, family, minimum_run=50)


if __name__ == "__main__":
    run_child(Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]))
