"""A save killed at any moment leaves the old or the new version, and no temp file for long.

The kill -9 trials: a zygote process (``tests/crash_worker.py``) forks workers that save
two versions alternately, as a model zip (`DQN.save`), a Hub folder
(`DQN.save_pretrained`, the versions of different architectures), the same folder by
the two-rename swap (`write_folder_atomically(..., exchange=False)`, the path of systems
without ``RENAME_EXCHANGE``) and a replay memory (`BaseReplayBuffer.save`), until the test
kills them with SIGKILL after a random (seeded) delay. After each kill, what is on disk is
read as it is (no recovery step) and must be version A or B, complete; then the test's own
save must leave no temporary file or folder behind.

The other tests build the states a kill can leave (with the pid of a process that has
ended) and check that the next save or load finishes or cleans them.
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from crash_worker import (
    empty_replay,
    folder_versions,
    model_versions,
    replay_versions,
)

from dqn_agents import DQN
from dqn_agents.serialization import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    read_model_file,
    write_folder_atomically,
    write_model_folder,
)

TRIALS = 20
#: More trials (up to this many) until a few kills have landed while a temp file existed.
MAX_TRIALS = 60
MID_WRITE_KILLS = 3
MID_WRITE = "kills that left a temp behind"
SEED = 15
# The kill trials are marked slow (``pytest -m slow``; CI runs them): the zygote's start
# and 20 kills per mode take about 10 s each on the 2-core test machine.
#: Longest delay before the kill: a save takes ~30-45 ms on the 2-core test machine, so
#: the kills land in every phase of the first two or three saves.
MAX_DELAY_S = 0.1
LEFTOVER = re.compile(r"^\.(tmp|new|old|del)-")

pytestmark = pytest.mark.skipif(
    not hasattr(os, "fork"), reason="the kill -9 trials fork workers (POSIX only)"
)


def trials(tally: Counter[str]) -> Iterator[int]:
    """`TRIALS` trial numbers, then more until `MID_WRITE_KILLS` kills hit a temp file.

    Much of a save is spent before its temp file exists (state dicts, metadata), so a
    random kill finds one in only some trials; the loop goes on (at most `MAX_TRIALS`)
    until enough did (``tally[MID_WRITE]``) for "the next save removes it" to be tested.
    """
    trial = 0
    while trial < TRIALS or (tally[MID_WRITE] < MID_WRITE_KILLS and trial < MAX_TRIALS):
        yield trial
        trial += 1


def leftovers(folder: Path) -> list[str]:
    """Temporary files and folders of saves in ``folder``."""
    return sorted(name for name in os.listdir(folder) if LEFTOVER.match(name))


def dead_pid() -> int:
    """The pid of a process that has exited (like a worker killed mid-save, once reaped)."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


@pytest.fixture(scope="module")
def zygote() -> Iterator[subprocess.Popen[str]]:
    worker = Path(__file__).with_name("crash_worker.py")
    proc = subprocess.Popen(
        [sys.executable, str(worker)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline().strip() == "ready"
    yield proc
    proc.stdin.write("quit\n")
    proc.stdin.flush()
    proc.wait(timeout=60)


def kill_mid_save(zygote: subprocess.Popen[str], mode: str, path: Path, delay: float) -> None:
    """Start a worker saving to ``path`` in a loop and kill -9 it after ``delay`` seconds."""
    assert zygote.stdin is not None and zygote.stdout is not None
    zygote.stdin.write(f"{mode} {path}\n")
    zygote.stdin.flush()
    pid = int(zygote.stdout.readline())
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    status = int(zygote.stdout.readline().split()[1])
    # killed while saving: a worker that failed on its own would exit with status 3
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


def version_of(state_dict: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> str:
    """``"A"`` or ``"B"``: whose weights and config these are (both must agree)."""
    for name, agent in zip("AB", VERSIONS.models, strict=True):
        ref = agent.q_net.state_dict()
        if ref.keys() == state_dict.keys() and all(torch.equal(ref[k], state_dict[k]) for k in ref):
            hidden = list(agent.config.mlp_hidden_sizes)
            assert meta["config"]["mlp_hidden_sizes"] == hidden, "weights of one, config of other"
            return name
    raise AssertionError("the weights are neither version A nor version B")


class _Versions:
    """The versions the workers save, built once in this process (same seeds, same bytes)."""

    def __init__(self) -> None:
        self._models: tuple[DQN, DQN] | None = None

    @property
    def models(self) -> tuple[DQN, DQN]:
        if self._models is None:
            self._models = model_versions()
        return self._models


VERSIONS = _Versions()


@pytest.mark.slow  # a fresh interpreter, then 20 kills: ~20 s on 2 cores
def test_kill_during_save_leaves_the_old_or_the_new_zip(
    zygote: subprocess.Popen[str], tmp_path: Path
) -> None:
    a, b = VERSIONS.models
    path = tmp_path / "model.zip"
    a.save(path)
    rng = random.Random(SEED)
    seen: Counter[str] = Counter()
    for trial in trials(seen):
        kill_mid_save(zygote, "save", path, rng.uniform(0, MAX_DELAY_S))
        seen[MID_WRITE] += bool(leftovers(tmp_path))
        meta, weights, extras = read_model_file(path)  # as it is on disk
        seen[version_of(weights, meta)] += 1
        assert "optimizer" in extras and "training_state" in extras
        (a if trial % 2 else b).save(path)  # the next save
        assert leftovers(tmp_path) == [] and os.listdir(tmp_path) == ["model.zip"]
    print(f"{trial + 1} kills: {dict(seen)}")
    assert seen[MID_WRITE] > 0, "no kill landed while a temp file existed"
    loaded = DQN.load(path)  # the full API reads the last save
    last = "A" if trial % 2 else "B"
    assert version_of(loaded.q_net.state_dict(), {"config": loaded.config.to_dict()}) == last


@pytest.mark.slow  # a fresh interpreter, then 20 kills: ~20 s on 2 cores
@pytest.mark.parametrize("mode", ["pretrained", "renames"])
def test_kill_during_save_pretrained_leaves_the_old_or_the_new_folder(
    zygote: subprocess.Popen[str], tmp_path: Path, mode: str
) -> None:
    a, b = VERSIONS.models
    files = folder_versions(a, b, tmp_path / "reference")
    folder = tmp_path / "out" / "model"

    def save(version: int) -> None:
        if mode == "pretrained":
            VERSIONS.models[version].save_pretrained(folder)
        else:
            write_folder_atomically(folder, files[version], exchange=False)

    save(0)
    rng = random.Random(SEED + 1)
    seen: Counter[str] = Counter()
    for trial in trials(seen):
        kill_mid_save(zygote, mode, folder, rng.uniform(0, MAX_DELAY_S))
        seen[MID_WRITE] += bool(leftovers(folder.parent))
        if folder.is_dir():  # as it is on disk, byte for byte
            on_disk = {p.name: p.read_bytes() for p in folder.iterdir()}
            assert on_disk in files, f"trial {trial}: a mix of versions {sorted(on_disk)}"
            seen["AB"[files.index(on_disk)]] += 1
        else:  # only between the two renames of the swap: the next load finishes it
            assert mode == "renames"
            loaded = DQN.load(folder)
            seen[version_of(loaded.q_net.state_dict(), {"config": loaded.config.to_dict()})] += 1
            seen["missing, recovered"] += 1
        save(trial % 2)  # the next save
        assert leftovers(folder.parent) == [] and os.listdir(folder.parent) == ["model"]
    print(f"{trial + 1} kills: {dict(seen)}")
    assert seen[MID_WRITE] > 0, "no kill landed while a temp folder existed"
    loaded = DQN.load(folder)
    last = "A" if trial % 2 == 0 else "B"
    assert version_of(loaded.q_net.state_dict(), {"config": loaded.config.to_dict()}) == last


@pytest.mark.slow  # a fresh interpreter, then 20 kills: ~20 s on 2 cores
def test_kill_during_save_replay_buffer_leaves_the_old_or_the_new_file(
    zygote: subprocess.Popen[str], tmp_path: Path
) -> None:
    ra, rb = replay_versions()
    path = tmp_path / "replay.npz"
    ra.save(path)
    rng = random.Random(SEED + 2)
    seen: Counter[str] = Counter()
    for trial in trials(seen):
        kill_mid_save(zygote, "replay", path, rng.uniform(0, MAX_DELAY_S))
        seen[MID_WRITE] += bool(leftovers(tmp_path))
        loaded = empty_replay()
        loaded.load(path)
        match = [r for r in (ra, rb) if len(r) == len(loaded)]
        assert len(match) == 1
        for name, arr in (("obs", loaded.obs), ("rewards", loaded.rewards)):
            assert np.array_equal(arr, getattr(match[0], name)), name
        seen[f"{len(loaded)} transitions"] += 1
        (ra if trial % 2 else rb).save(path)  # the next save
        assert leftovers(tmp_path) == [] and os.listdir(tmp_path) == ["replay.npz"]
    print(f"{trial + 1} kills: {dict(seen)}")
    assert seen[MID_WRITE] > 0, "no kill landed while a temp file existed"


# ---------------------------------------------------------------- the states a kill leaves
def test_a_save_that_fails_midway_leaves_the_old_folder_whole(tmp_path: Path) -> None:
    a, b = VERSIONS.models
    folder = a.save_pretrained(tmp_path / "model")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    bad_meta = {"format": "dqn-agents", "format_version": 1, "config": {"x": object()}}
    with pytest.raises(TypeError):  # config.json cannot be written
        write_model_folder(folder, bad_meta, b.q_net.state_dict())
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # not B's weights
    assert leftovers(tmp_path) == []
    loaded = DQN.load(folder)
    assert version_of(loaded.q_net.state_dict(), {"config": loaded.config.to_dict()}) == "A"


def test_a_load_finishes_a_swap_killed_between_its_renames(tmp_path: Path) -> None:
    a, b = VERSIONS.models
    pid = dead_pid()
    folder = tmp_path / "model"
    a.save_pretrained(tmp_path / "old")
    b.save_pretrained(tmp_path / "new")
    # the two-rename swap: old folder moved aside, killed before the new one moved in
    (tmp_path / "old").rename(tmp_path / f".old-model-{pid}-abc123")
    (tmp_path / "new").rename(tmp_path / f".new-model-{pid}-abc123")
    loaded = DQN.load(folder)
    assert version_of(loaded.q_net.state_dict(), {"config": loaded.config.to_dict()}) == "B"
    assert sorted(os.listdir(tmp_path)) == ["model"]


def test_a_load_brings_back_a_folder_moved_aside_alone(tmp_path: Path) -> None:
    a, _ = VERSIONS.models
    pid = dead_pid()
    a.save_pretrained(tmp_path / "old").rename(tmp_path / f".old-model-{pid}-xyz")
    loaded = DQN.load(tmp_path / "model")
    assert version_of(loaded.q_net.state_dict(), {"config": loaded.config.to_dict()}) == "A"
    assert sorted(os.listdir(tmp_path)) == ["model"]


def test_the_next_save_removes_leftovers_of_dead_writers_only(tmp_path: Path) -> None:
    a, b = VERSIONS.models
    pid = dead_pid()
    folder = a.save_pretrained(tmp_path / "model")
    partial = tmp_path / f".tmp-model-{pid}-aaa111"  # killed while writing
    partial.mkdir()
    (partial / WEIGHTS_NAME).write_bytes(b"half a file")
    complete = tmp_path / f".new-model-{pid}-bbb222"  # killed before the swap
    b.save_pretrained(complete)
    trash = tmp_path / f".del-model-{pid}-ccc333"  # killed while deleting the old one
    trash.mkdir()
    stale_file = folder / f".tmp-{CONFIG_NAME}-{pid}-ddd444"  # an older per-file save
    stale_file.write_bytes(b"{")
    alive = tmp_path / f".tmp-model-{os.getppid()}-eee555"  # a live writer's: kept
    alive.mkdir()
    b.save_pretrained(folder)
    assert sorted(os.listdir(tmp_path)) == sorted(["model", alive.name])
    assert sorted(os.listdir(folder)) == [CONFIG_NAME, WEIGHTS_NAME]
    loaded = DQN.load(folder)
    assert version_of(loaded.q_net.state_dict(), {"config": loaded.config.to_dict()}) == "B"


def test_an_overwrite_keeps_the_other_files_of_the_folder(tmp_path: Path) -> None:
    a, b = VERSIONS.models
    folder = a.save_pretrained(tmp_path / "model")
    (folder / "README.md").write_text("# card", encoding="utf-8")
    (folder / "media").mkdir()
    (folder / "media" / "replay.mp4").write_bytes(b"\0" * 100)
    (folder / "link").symlink_to("README.md")
    mode = folder.stat().st_mode
    b.save_pretrained(folder)  # a different architecture over the old one
    assert (folder / "README.md").read_text(encoding="utf-8") == "# card"
    assert (folder / "media" / "replay.mp4").stat().st_size == 100
    assert os.readlink(folder / "link") == "README.md"
    assert folder.stat().st_mode == mode
    loaded = DQN.load(folder)
    assert version_of(loaded.q_net.state_dict(), {"config": loaded.config.to_dict()}) == "B"
    assert leftovers(tmp_path) == []


def test_save_pretrained_into_the_working_folder_writes_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = VERSIONS.models
    folder = a.save_pretrained(tmp_path / "repo")
    monkeypatch.chdir(folder)  # a folder cannot be swapped under the process inside it
    b.save_pretrained(".")
    assert Path.cwd() == folder.resolve() and os.path.samefile(".", folder)
    loaded = DQN.load(folder)
    assert version_of(loaded.q_net.state_dict(), {"config": loaded.config.to_dict()}) == "B"


def test_replay_saves_are_fsynced_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A spy around the real os.fsync / os.replace (they still run): a power cut cannot be
    # staged in a test, the order of the two calls can be observed.
    calls: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        calls.append(("replace", os.fspath(src)))
        real_replace(src, dst)

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd to name the fsynced file")
    ra, _ = replay_versions()
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    ra.save(tmp_path / "replay.npz")
    renamed = [path for op, path in calls if op == "replace"]
    assert len(renamed) == 1 and renamed[0].startswith(str(tmp_path / ".tmp-replay.npz-"))
    assert calls.index(("fsync", renamed[0])) < calls.index(("replace", renamed[0]))
