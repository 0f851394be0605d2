from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dqn_agents.replay import (
    FrameReplayBuffer,
    ReplayBatch,
    VectorReplayBuffer,
    make_replay_buffer,
    n_step_returns,
)

# --------------------------------------------------------------------------- helpers


@dataclass
class Stream:
    """Random episodes of one env: frame stacks with random padding and random ends."""

    rng: np.random.Generator
    k: int
    hw: tuple[int, int]
    mean_len: int
    obs: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.obs = self.reset()

    def frame(self) -> np.ndarray:
        return self.rng.integers(0, 256, self.hw, dtype=np.uint8)

    def reset(self) -> np.ndarray:
        first = self.frame()
        mode = self.rng.choice(["zero", "zero", "repeat", "explicit"])
        if mode == "zero":
            pads = np.zeros((self.k - 1, *self.hw), np.uint8)
        elif mode == "repeat":
            pads = np.repeat(first[None], self.k - 1, axis=0)
        else:
            pads = self.rng.integers(0, 256, (self.k - 1, *self.hw), dtype=np.uint8)
        return np.concatenate([pads, first[None]])

    def step(self) -> tuple[np.ndarray, np.ndarray, bool, bool]:
        obs = self.obs
        nxt = np.concatenate([obs[1:], self.frame()[None]])
        u = self.rng.random()
        p_end = 1.0 / self.mean_len
        term = bool(u < p_end * 0.6)
        trunc = bool(not term and u < p_end)
        self.obs = self.reset() if (term or trunc) else nxt
        return obs, nxt, term, trunc


def reference_window(
    episodes: list[list[tuple[np.ndarray, float, np.ndarray, bool, bool]]],
    ep: int,
    t: int,
    n: int,
    gamma: float,
    complete_only: bool = True,
) -> tuple[float, float, float, np.ndarray] | None:
    """Naive n-step transition (returns, discount, done, next_obs) or None if incomplete."""
    steps = episodes[ep]
    ret, disc = 0.0, 1.0
    for s in range(n):
        if t + s >= len(steps):
            return None
        _, r, nxt, term, trunc = steps[t + s]
        ret += disc * r
        disc *= gamma
        if term or trunc:
            return ret, disc, float(term), nxt
    return ret, disc, 0.0, steps[t + n - 1][2]


def all_sampleable(buf: FrameReplayBuffer | VectorReplayBuffer) -> np.ndarray:
    c = buf.env_capacity
    filled = np.minimum(buf.claimed, c)
    flat = np.concatenate([e * c + np.arange(filled[e]) for e in range(buf.num_envs)])
    return flat[buf.sampleable(flat)]


def two_stream_buffer(
    capacity: int, gamma: float, seed: int, mean_len: int, steps: int, rewards: list[float]
) -> FrameReplayBuffer:
    """A (4, 3, 5) frame buffer of 2 envs (n_step 2) after ``steps`` steps of random streams.

    Env ``i`` gets reward ``rewards[i]`` every step; the action is the step number.
    """
    buf = FrameReplayBuffer((4, 3, 5), capacity, 2, 2, gamma)
    streams = [Stream(np.random.default_rng(seed + i), 4, (3, 5), mean_len) for i in range(2)]
    for t in range(steps):
        rows = [s.step() for s in streams]
        buf.add(
            np.stack([r[0] for r in rows]),
            [t, t],
            rewards,
            np.stack([r[1] for r in rows]),
            [r[2] for r in rows],
            [r[3] for r in rows],
        )
    return buf


def fill_and_check(
    seed: int,
    k: int,
    num_envs: int,
    env_capacity: int,
    n_step: int,
    n_adds: int,
    mean_len: int,
    vector: bool = False,
    vectorised_add: bool = False,
) -> None:
    rng = np.random.default_rng(seed)
    gamma = 0.9
    hw = (3, 5)
    shape = (k, *hw)
    if vector:
        buf: FrameReplayBuffer | VectorReplayBuffer = VectorReplayBuffer(
            shape, np.uint8, env_capacity * num_envs, num_envs, n_step, gamma
        )
    else:
        buf = FrameReplayBuffer(shape, env_capacity * num_envs, num_envs, n_step, gamma)
        buf.vector_add_min_envs = 1 if vectorised_add else 10**9
    streams = [Stream(rng, k, hw, mean_len) for _ in range(num_envs)]
    # per env: list of episodes; transitions keyed by unique id stored as the action.
    episodes: list[list[list[tuple[np.ndarray, float, np.ndarray, bool, bool]]]] = [
        [[]] for _ in range(num_envs)
    ]
    where: dict[int, tuple[int, int, int]] = {}
    uid = 0
    for _ in range(n_adds):
        rows = [s.step() for s in streams]
        obs = np.stack([r[0] for r in rows])
        nxt = np.stack([r[1] for r in rows])
        term = np.array([r[2] for r in rows])
        trunc = np.array([r[3] for r in rows])
        rewards = rng.normal(size=num_envs).astype(np.float32)
        actions = np.arange(uid, uid + num_envs)
        buf.add(obs, actions, rewards, nxt, term, trunc)
        for e in range(num_envs):
            eps = episodes[e]
            where[uid + e] = (e, len(eps) - 1, len(eps[-1]))
            eps[-1].append((obs[e], float(rewards[e]), nxt[e], bool(term[e]), bool(trunc[e])))
            if term[e] or trunc[e]:
                eps.append([])
        uid += num_envs

    idx = all_sampleable(buf)
    batch = buf.get_batch(idx)
    assert len(np.unique(batch.actions)) == len(idx)
    for j, a in enumerate(batch.actions):
        e, ep, t = where[int(a)]
        expected = reference_window(episodes[e], ep, t, n_step, gamma)
        assert expected is not None, "sampled a transition whose n-step window is incomplete"
        ret, disc, done, next_obs = expected
        np.testing.assert_array_equal(batch.obs[j], episodes[e][ep][t][0])
        assert batch.rewards[j] == pytest.approx(ret, rel=1e-5, abs=1e-5)
        assert batch.discounts[j] == pytest.approx(disc, rel=1e-6)
        assert batch.dones[j] == done
        if done:
            # terminated: older frames exact, newest frame zero (frame buffer)
            if not vector:
                np.testing.assert_array_equal(batch.next_obs[j][:-1], next_obs[:-1])
                assert not batch.next_obs[j][-1].any()
        else:
            np.testing.assert_array_equal(batch.next_obs[j], next_obs)
    # Everything recent must be sampleable: the newest transitions of each env whose
    # windows are complete, up to a margin for padding slots and the cursor.
    sampled = set(batch.actions.tolist())
    for e in range(num_envs):
        recent = [u for u, (ee, _, _) in where.items() if ee == e][::-1]
        budget = env_capacity // 2 if not vector else env_capacity - n_step
        checked = 0
        for u in recent[: max(0, budget - 3 * k - 2 * n_step)]:
            _, ep, t = where[u]
            if reference_window(episodes[e], ep, t, n_step, gamma) is None:
                continue
            checked += 1
            assert u in sampled, f"recent transition {u} of env {e} is not sampleable"
    assert len(buf) <= buf.capacity


# --------------------------------------------------------------------------- properties


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31),
    k=st.sampled_from([1, 2, 4]),
    num_envs=st.integers(1, 3),
    env_capacity=st.integers(20, 60),
    n_step=st.integers(1, 4),
    n_adds=st.integers(1, 150),
    mean_len=st.integers(2, 40),
    vectorised_add=st.booleans(),
)
def test_frame_buffer_matches_naive_reference(
    seed: int,
    k: int,
    num_envs: int,
    env_capacity: int,
    n_step: int,
    n_adds: int,
    mean_len: int,
    vectorised_add: bool,
) -> None:
    fill_and_check(
        seed, k, num_envs, env_capacity, n_step, n_adds, mean_len, vectorised_add=vectorised_add
    )


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    num_envs=st.integers(1, 3),
    env_capacity=st.integers(6, 40),
    n_step=st.integers(1, 4),
    n_adds=st.integers(1, 100),
    mean_len=st.integers(2, 30),
)
def test_vector_buffer_matches_naive_reference(
    seed: int, num_envs: int, env_capacity: int, n_step: int, n_adds: int, mean_len: int
) -> None:
    fill_and_check(seed, 2, num_envs, env_capacity, n_step, n_adds, mean_len, vector=True)


@pytest.mark.parametrize("vectorised_add", [False, True])
@pytest.mark.parametrize("n_step", [1, 3])
def test_long_wraparound_many_laps(n_step: int, vectorised_add: bool) -> None:
    fill_and_check(7, 4, 4, 50, n_step, 600, 25, vectorised_add=vectorised_add)


# --------------------------------------------------------------------------- semantics


def one_env_buffer(n_step: int = 1, gamma: float = 0.5, k: int = 2) -> FrameReplayBuffer:
    return FrameReplayBuffer((k, 2, 2), 64, 1, n_step, gamma)


def frame(v: int) -> np.ndarray:
    return np.full((2, 2), v, np.uint8)


def stack(*vals: int) -> np.ndarray:
    return np.stack([frame(v) for v in vals])[None]


def test_episode_start_is_zero_padded_never_mixed() -> None:
    buf = one_env_buffer(k=4)
    # episode 1: frames 1, 2 then terminated; episode 2 starts with frame 7
    buf.add(stack(0, 0, 0, 1), [0], [0.0], stack(0, 0, 1, 2), [False], [False])
    buf.add(stack(0, 0, 1, 2), [1], [0.0], stack(0, 1, 2, 3), [True], [False])
    buf.add(stack(0, 0, 0, 7), [2], [0.0], stack(0, 0, 7, 8), [False], [False])
    batch = buf.get_batch(all_sampleable(buf))
    order = np.argsort(batch.actions)
    np.testing.assert_array_equal(batch.obs[order[2]], stack(0, 0, 0, 7)[0])
    np.testing.assert_array_equal(batch.next_obs[order[2]], stack(0, 0, 7, 8)[0])
    np.testing.assert_array_equal(batch.obs[order[1]], stack(0, 0, 1, 2)[0])
    # terminated: newest next frame is not stored -> zeros, the rest exact
    np.testing.assert_array_equal(batch.next_obs[order[1]], stack(0, 1, 2, 0)[0])
    np.testing.assert_array_equal(batch.dones[order], [0.0, 1.0, 0.0])


def test_terminated_vs_truncated() -> None:
    buf = one_env_buffer(gamma=0.9)
    buf.add(stack(0, 1), [0], [1.0], stack(1, 2), [False], [True])  # time limit
    buf.add(stack(0, 5), [1], [2.0], stack(5, 6), [True], [False])  # terminal
    batch = buf.get_batch(all_sampleable(buf))
    order = np.argsort(batch.actions)
    trunc, term = order
    assert batch.dones[trunc] == 0.0 and batch.discounts[trunc] == pytest.approx(0.9)
    np.testing.assert_array_equal(batch.next_obs[trunc], stack(1, 2)[0])  # true final obs
    assert batch.dones[term] == 1.0
    assert batch.rewards[trunc] == 1.0 and batch.rewards[term] == 2.0


def test_n_step_returns_function_by_hand() -> None:
    gamma = 0.5
    rewards = np.array(
        [[1.0, 2.0, 4.0], [1.0, 2.0, 4.0], [1.0, 2.0, 4.0], [1.0, 2.0, 4.0]], dtype=np.float32
    )
    term = np.array([[0, 0, 0], [0, 1, 0], [1, 1, 1], [0, 0, 0]], dtype=bool)
    trunc = np.array([[0, 0, 0], [0, 0, 0], [0, 0, 0], [1, 0, 1]], dtype=bool)
    ret, disc, dones, lengths = n_step_returns(rewards, term, trunc, gamma)
    # row 0: 1 + .5*2 + .25*4 = 3, bootstrap gamma^3
    # row 1: terminated at step 1: 1 + .5*2 = 2, done
    # row 2: terminated at step 0: 1, done
    # row 3: truncated at step 0: 1, bootstrap gamma^1, not done
    np.testing.assert_allclose(ret, [3.0, 2.0, 1.0, 1.0])
    np.testing.assert_allclose(disc, [0.125, 0.25, 0.5, 0.5])
    np.testing.assert_array_equal(dones, [0.0, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(lengths, [3, 2, 1, 1])
    assert ret.dtype == disc.dtype == dones.dtype == np.float32
    one = n_step_returns(rewards[:, :1], term[:, :1], trunc[:, :1], 0.99)
    np.testing.assert_allclose(one[1], [0.99] * 4)


def test_n_step_returns_by_hand() -> None:
    buf = one_env_buffer(n_step=3, gamma=0.5)
    rewards = [1.0, 2.0, 4.0, 8.0, 16.0]
    for t, r in enumerate(rewards):
        term = t == 4
        buf.add(stack(t, t + 1), [t], [r], stack(t + 1, t + 2), [term], [False])
    batch = buf.get_batch(all_sampleable(buf))
    order = np.argsort(batch.actions)
    # t=0: 1 + .5*2 + .25*4 = 3 ; t=1: 2 + 2 + 2 = 6
    # t=2: 4 + 4 + 4 = 12, ends with the termination at t=4 -> done
    # t=3: 8 + .5*16 = 16 (terminated inside) ; t=4: 16
    np.testing.assert_allclose(batch.rewards[order], [3.0, 6.0, 12.0, 16.0, 16.0])
    np.testing.assert_allclose(batch.discounts[order], [0.125, 0.125, 0.125, 0.25, 0.5])
    np.testing.assert_array_equal(batch.dones[order], [0, 0, 1, 1, 1])
    np.testing.assert_array_equal(batch.next_obs[order[0]], stack(3, 4)[0])
    np.testing.assert_array_equal(batch.next_obs[order[1]], stack(4, 5)[0])
    np.testing.assert_array_equal(batch.next_obs[order[2]], stack(5, 0)[0])  # terminated


def test_incomplete_n_step_window_not_sampled() -> None:
    buf = one_env_buffer(n_step=3)
    buf.add(stack(0, 1), [0], [1.0], stack(1, 2), [False], [False])
    buf.add(stack(1, 2), [1], [1.0], stack(2, 3), [False], [False])
    assert len(all_sampleable(buf)) == 0
    with pytest.raises(ValueError, match="No transition can be sampled"):
        buf.sample(4, np.random.default_rng(0))
    buf.add(stack(2, 3), [2], [1.0], stack(3, 4), [False], [False])
    np.testing.assert_array_equal(buf.get_batch(all_sampleable(buf)).actions, [0])


def test_same_seed_same_batch_and_out_arrays() -> None:
    buf = two_stream_buffer(200, 0.99, seed=0, mean_len=10, steps=150, rewards=[1.0, 2.0])
    a = buf.sample(32, np.random.default_rng(5))
    b = buf.sample(32, np.random.default_rng(5))
    out = buf.allocate_batch(32)
    c = buf.get_batch(buf.sample_indices(32, np.random.default_rng(5)), out=out)
    assert c is out
    for x, y, z in zip(a, b, c, strict=True):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(x, z)
    assert a.actions.dtype == np.int64 and a.obs.dtype == np.uint8
    assert a.rewards.dtype == a.dones.dtype == a.discounts.dtype == np.float32
    assert isinstance(a, ReplayBatch)


def test_add_checks() -> None:
    buf = one_env_buffer(k=4)
    with pytest.raises(ValueError, match=r"obs must have shape \(1, 4, 2, 2\)"):
        buf.add(stack(0, 1), [0], [0.0], stack(1, 2), [False], [False])
    buf.add(stack(0, 0, 0, 1), [0], [0.0], stack(0, 0, 1, 2), [False], [False])
    with pytest.raises(ValueError, match="does not continue"):
        buf.add(stack(0, 0, 0, 9), [0], [0.0], stack(0, 0, 9, 2), [False], [False])
    with pytest.raises(ValueError, match="not frame stacks"):
        buf.add(stack(0, 0, 1, 2), [0], [0.0], stack(5, 5, 5, 5), [False], [False])
    assert len(buf) == 1


def test_env_mask_skips_envs() -> None:
    buf = FrameReplayBuffer((2, 2, 2), 64, 2, 1, 0.5)
    obs = np.concatenate([stack(0, 1), stack(0, 5)])
    nxt = np.concatenate([stack(1, 2), stack(5, 6)])
    buf.add(obs, [0, 1], [0.0, 0.0], nxt, [False, False], [False, False])
    garbage = np.concatenate([stack(1, 2), stack(9, 9)])
    buf.add(
        garbage,
        [2, 3],
        [0.0, 0.0],
        stack(2, 3).repeat(2, 0),
        [False, False],
        [False] * 2,
        env_mask=[True, False],
    )
    assert len(buf) == 3


def test_make_replay_buffer_picks_class() -> None:
    img = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    assert isinstance(make_replay_buffer(img, 1000, 2), FrameReplayBuffer)
    vec = gym.spaces.Box(-1, 1, (4,), np.float32)
    buf = make_replay_buffer(vec, 1000, 2, n_step=3, gamma=0.9)
    assert isinstance(buf, VectorReplayBuffer) and buf.env_capacity == 500
    hwc = gym.spaces.Box(0, 255, (84, 84, 3), np.uint8)
    assert isinstance(make_replay_buffer(hwc, 100), VectorReplayBuffer)
    big = FrameReplayBuffer((4, 84, 84), 1000)
    assert big.nbytes / big.capacity < 7_100


def test_vector_buffer_cartpole_like() -> None:
    buf = VectorReplayBuffer((4,), np.float32, 10, 1, 1, 0.99)
    for t in range(15):
        o = np.full((1, 4), t, np.float32)
        buf.add(o, [t], [1.0], o + 1, [t % 5 == 4], [False])
    assert len(buf) == 10
    batch = buf.sample(64, np.random.default_rng(0))
    assert set(batch.actions.tolist()) == set(range(5, 15))
    np.testing.assert_array_equal(batch.obs[:, 0], batch.actions)
    np.testing.assert_array_equal(batch.next_obs[:, 0], batch.actions + 1)
    np.testing.assert_array_equal(batch.dones, (batch.actions % 5 == 4).astype(np.float32))


# --------------------------------------------------------------------------- save / load


def filled_frame_buffer() -> FrameReplayBuffer:
    return two_stream_buffer(120, 0.9, seed=10, mean_len=8, steps=200, rewards=[0.5, 1.5])


@pytest.mark.parametrize("suffix", [".npz", ".pkl", ""])
def test_save_load_roundtrip(tmp_path: Path, suffix: str) -> None:
    buf = filled_frame_buffer()
    path = tmp_path / f"replay{suffix}"
    buf.save(path)
    assert path.exists() and [p.name for p in tmp_path.iterdir()] == [path.name]
    other = FrameReplayBuffer((4, 3, 5), 120, 2, 2, 0.9)
    other.load(path)
    assert len(other) == len(buf)
    for x, y in zip(
        buf.sample(16, np.random.default_rng(3)),
        other.sample(16, np.random.default_rng(3)),
        strict=True,
    ):
        np.testing.assert_array_equal(x, y)
    # the loaded buffer keeps accepting the streams where they were
    assert (other.head == buf.head).all() and (other.in_episode == buf.in_episode).all()

    vec = VectorReplayBuffer((3,), np.float32, 20, 2)
    for t in range(7):
        vec.add(np.full((2, 3), t, np.float32), [t, t], [1, 2], np.zeros((2, 3)), [0, 1], [0, 0])
    vec.save(path)
    vec2 = VectorReplayBuffer((3,), np.float32, 20, 2)
    vec2.load(path)
    np.testing.assert_array_equal(vec2.obs, vec.obs)
    assert len(vec2) == len(vec) == 14


def test_load_refuses_pickle_truncated_and_mismatch(tmp_path: Path) -> None:
    buf = filled_frame_buffer()
    pkl = tmp_path / "evil.pkl"
    pkl.write_bytes(pickle.dumps({"frames": np.zeros(3)}))
    with pytest.raises(ValueError, match="pickles are refused"):
        buf.load(pkl)
    good = tmp_path / "good.npz"
    buf.save(good)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="not a readable"):
        buf.load(cut)
    wrong = FrameReplayBuffer((4, 3, 5), 240, 2)
    with pytest.raises(ValueError, match="env_capacity=60 but this buffer expects 120"):
        wrong.load(good)
    with pytest.raises(ValueError, match="kind='frames' but this buffer expects 'vector'"):
        VectorReplayBuffer((4, 3, 5), np.uint8, 120, 2).load(good)
    with pytest.raises(FileNotFoundError):
        buf.load(tmp_path / "missing.npz")


def test_end_episodes_cuts_streams() -> None:
    buf = FrameReplayBuffer((2, 2, 2), 64, 1, 2, 0.5)
    buf.add(stack(0, 1), [0], [1.0], stack(1, 2), [False], [False])
    buf.add(stack(1, 2), [1], [1.0], stack(2, 3), [False], [False])
    with pytest.raises(ValueError, match="does not continue"):
        buf.add(stack(0, 7), [2], [1.0], stack(7, 8), [False], [False])
    buf.end_episodes()
    buf.end_episodes()  # idempotent
    buf.add(stack(0, 7), [2], [1.0], stack(7, 8), [False], [False])
    buf.add(stack(7, 8), [3], [1.0], stack(8, 9), [False], [False])
    batch = buf.get_batch(all_sampleable(buf))
    order = np.argsort(batch.actions)
    np.testing.assert_array_equal(batch.actions[order], [0, 1, 2])
    # transition 1 is now a truncation: one reward, bootstraps from its stored next obs
    assert batch.rewards[order[1]] == 1.0 and batch.dones[order[1]] == 0.0
    np.testing.assert_array_equal(batch.next_obs[order[1]], stack(2, 3)[0])
    np.testing.assert_allclose(batch.rewards[order], [1.5, 1.0, 1.5])

    vec = VectorReplayBuffer((1,), np.float32, 20, 1, 3, 0.5)
    for t in range(3):
        vec.add([[t]], [t], [1.0], [[t + 1]], [False], [False])
    vec.end_episodes()
    for t in range(10, 13):
        vec.add([[t]], [t], [1.0], [[t + 1]], [False], [False])
    batch = vec.get_batch(all_sampleable(vec))
    order = np.argsort(batch.actions)
    np.testing.assert_array_equal(batch.actions[order], [0, 1, 2, 10])
    np.testing.assert_allclose(batch.rewards[order], [1.75, 1.5, 1.0, 1.75])
    np.testing.assert_array_equal(batch.next_obs[order, 0], [3, 3, 3, 13])


def test_load_refuses_object_arrays_and_corrupt_members(tmp_path: Path) -> None:
    import zipfile

    buf = filled_frame_buffer()
    good = tmp_path / "good.npz"
    buf.save(good)
    with np.load(good) as data:
        arrays = {name: data[name] for name in data.files}
    # an object array in place of the frames (would need unpickling to read)
    evil = dict(arrays)
    evil["frames"] = np.array([object()], dtype=object)
    evil_path = tmp_path / "evil.npz"
    np.savez(evil_path, **evil)  # type: ignore[arg-type]
    target = FrameReplayBuffer((4, 3, 5), 120, 2, 2, 0.9)
    with pytest.raises(ValueError, match="object array"):
        target.load(evil_path)
    assert len(target) == 0
    # a corrupted byte inside the (stored, uncompressed) frames member: CRC error
    raw = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as zf:
        info = zf.getinfo("frames.npy")
    middle = info.header_offset + 200 + info.compress_size // 2
    raw[middle] ^= 0xFF
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(raw))
    target = FrameReplayBuffer((4, 3, 5), 120, 2, 2, 0.9)
    with pytest.raises(ValueError, match="fails its checksum"):
        target.load(bad)
    assert len(target) == 0  # refused before any byte was copied
    kept = filled_frame_buffer()
    before = len(kept)
    with pytest.raises(ValueError, match="fails its checksum"):
        kept.load(bad)
    assert len(kept) == before  # a refused file leaves the memory in place
    # and the good file still loads into the same buffer afterwards
    target.load(good)
    assert len(target) == len(buf)
    # an unexpected extra array is refused
    extra = dict(arrays)
    extra["something"] = np.zeros(3)
    extra_path = tmp_path / "extra.npz"
    np.savez(extra_path, **extra)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unexpected arrays"):
        target.load(extra_path)


def test_clear() -> None:
    buf = filled_frame_buffer()
    buf.clear()
    assert len(buf) == 0
    with pytest.raises(ValueError, match="empty"):
        buf.sample(4, np.random.default_rng(0))
    obs = np.zeros((2, 4, 3, 5), np.uint8)
    obs[:, -1] = 1
    nxt = np.concatenate([obs[:, 1:], np.full((2, 1, 3, 5), 2, np.uint8)], axis=1)
    buf.add(obs, [0, 0], [0.0, 0.0], nxt, [False, False], [False, False])
    assert len(buf) == 2 and len(all_sampleable(buf)) == 0  # n_step=2: window incomplete
    nxt2 = np.concatenate([nxt[:, 1:], np.full((2, 1, 3, 5), 3, np.uint8)], axis=1)
    buf.add(nxt, [1, 1], [0.0, 0.0], nxt2, [False, False], [False, False])
    batch = buf.get_batch(all_sampleable(buf))
    assert len(batch.actions) == 2
    np.testing.assert_array_equal(batch.obs, obs)
    np.testing.assert_array_equal(batch.next_obs, nxt2)


def _rewrite(src: Path, dst: Path, **changes: object) -> Path:
    with np.load(src) as data:
        arrays = {name: data[name] for name in data.files}
    meta = json.loads(str(arrays["meta"]))
    for key, value in changes.items():
        if key in arrays:
            arrays[key] = np.full_like(arrays[key], value)
        else:
            meta[key] = value
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(dst, **arrays)  # type: ignore[arg-type]
    return dst


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format_version": 99}, "format_version 99"),
        ({"head": 10**12}, "counters out of range"),
        ({"head": -5}, "counters out of range"),
        ({"claimed": -1}, "counters out of range"),
    ],
)
def test_replay_files_are_validated_before_anything_changes(
    tmp_path: Path, change: dict, message: str
) -> None:
    good = tmp_path / "good.npz"
    filled_frame_buffer().save(good)
    bad = _rewrite(good, tmp_path / "bad.npz", **change)
    kept = filled_frame_buffer()
    before = len(kept)
    with pytest.raises(ValueError, match=message):
        kept.load(bad)
    assert len(kept) == before
