"""The fast paths give the same results as the plain path (speed itself: benchmarks/)."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from dqn_agents import DQN
from dqn_agents.config import DQNConfig
from dqn_agents.device_replay import DeviceFrameStore
from dqn_agents.functional import td_loss, td_targets
from dqn_agents.learner import Learner, enable_fused_optimizer
from dqn_agents.networks import build_q_network
from dqn_agents.replay import FrameReplayBuffer, make_replay_buffer

sys.path.insert(0, str(Path(__file__).parent))
from pixel_games import make_catch

SPACE = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)


def _fill(replay: FrameReplayBuffer, envs: list[gym.Env], steps: int, seed: int) -> None:
    """Random play in real pixel games, stored as the agent stores it."""
    rng = np.random.default_rng(seed)
    replay.end_episodes()  # the envs are reset below
    obs = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(envs)])
    for _ in range(steps):
        actions = rng.integers(3, size=len(envs))
        nxt, rew, term, trunc, acting = [], [], [], [], []
        for env, a in zip(envs, actions, strict=True):
            o, r, te, tr, _ = env.step(int(a))
            nxt.append(o)
            rew.append(r)
            term.append(te)
            trunc.append(tr or rng.random() < 0.02)  # some time-limit truncations too
            acting.append(env.reset()[0] if (te or trunc[-1]) else o)
        replay.add(obs, actions, np.array(rew), np.stack(nxt), np.array(term), np.array(trunc))
        obs = np.stack(acting)


def _assert_same_batch(host: Any, device: tuple[torch.Tensor, ...]) -> None:
    names = ("obs", "actions", "rewards", "next_obs", "dones", "discounts")
    for name, tensor in zip(names, device, strict=True):
        np.testing.assert_array_equal(tensor.cpu().numpy(), getattr(host, name), err_msg=name)


@pytest.mark.parametrize("mirror", [False, True])
@pytest.mark.parametrize("n_step", [1, 3])
def test_device_store_gives_the_numpy_batches(mirror: bool, n_step: int) -> None:
    replay = make_replay_buffer(SPACE, capacity=120, num_envs=2, n_step=n_step, gamma=0.9)
    assert isinstance(replay, FrameReplayBuffer)
    envs = [make_catch(seed=i) for i in range(2)]
    store = DeviceFrameStore(replay, "cpu", mirror=mirror)
    assert store.mirror is mirror
    for round_ in range(6):  # the rings wrap around several times (60 slots per env)
        _fill(replay, envs, 25, seed=round_)
        rng_a, rng_b = np.random.default_rng(round_), np.random.default_rng(round_)
        host = replay.sample(32, rng_a)
        _assert_same_batch(host, store.sample(32, rng_b))
        assert rng_a.bit_generator.state == rng_b.bit_generator.state
    if mirror:  # the mirror holds exactly the host frames
        np.testing.assert_array_equal(store.frames.numpy(), replay.frames)


def test_device_store_resyncs_after_clear_and_load(tmp_path: Path) -> None:
    replay = make_replay_buffer(SPACE, capacity=100, num_envs=1)
    envs = [make_catch(seed=0)]
    _fill(replay, envs, 40, seed=0)
    replay.save(tmp_path / "r.npz")
    store = DeviceFrameStore(replay, "cpu", mirror=True)
    replay.clear()
    _fill(replay, [make_catch(seed=1)], 10, seed=1)
    store.sync()
    replay.load(tmp_path / "r.npz")
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    _assert_same_batch(replay.sample(32, rng_a), store.sample(32, rng_b))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_device_store_on_cuda() -> None:  # pragma: no cover - CPU-only CI
    replay = make_replay_buffer(SPACE, capacity=200, num_envs=2)
    envs = [make_catch(seed=i) for i in range(2)]
    store = DeviceFrameStore(replay, "cuda")
    _fill(replay, envs, 60, seed=0)
    rng_a, rng_b = np.random.default_rng(0), np.random.default_rng(0)
    _assert_same_batch(replay.sample(32, rng_a), store.sample(32, rng_b))


def _reference_update(
    q_net: torch.nn.Module,
    target: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: tuple[torch.Tensor, ...],
    cfg: DQNConfig,
) -> float:
    """The plain DQN update, written from the functional pieces."""
    obs, actions, rewards, next_obs, dones, discounts = batch
    with torch.no_grad():
        y = td_targets(rewards, target(next_obs), None, dones, discounts)
    q = q_net(obs).gather(1, actions.long().unsqueeze(1)).squeeze(1)
    loss = td_loss(q, y, cfg.loss, cfg.huber_delta)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(q_net.parameters(), cfg.max_grad_norm)
    optimizer.step()
    return float(loss.item())


def test_fast_update_matches_the_plain_update() -> None:
    cfg = DQNConfig(learning_rate=1e-3, max_grad_norm=1.0)
    torch.manual_seed(0)
    ref_net = build_q_network(SPACE, 3, cfg)
    ref_target = copy.deepcopy(ref_net).requires_grad_(False)
    fast_net, fast_target = copy.deepcopy(ref_net), copy.deepcopy(ref_target)
    ref_opt = torch.optim.Adam(ref_net.parameters(), lr=cfg.learning_rate, foreach=False)
    fast_opt = torch.optim.Adam(fast_net.parameters(), lr=cfg.learning_rate)
    learner = Learner(fast_net, fast_target, fast_opt, cfg, torch.device("cpu"), image=True)
    assert learner.channels_last and learner.sync_every == 1
    replay = make_replay_buffer(SPACE, capacity=200, num_envs=1)
    _fill(replay, [make_catch(seed=0)], 80, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(3):
        host = replay.sample(16, rng)
        tensors = tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in host)
        ref_loss = _reference_update(ref_net, ref_target, ref_opt, tensors, cfg)
        fast_loss = learner.update(learner.to_device(tensors), check=True)
        assert fast_loss == pytest.approx(ref_loss, rel=1e-5, abs=1e-7)
    fast_state = fast_net.state_dict()
    for name, value in ref_net.state_dict().items():
        # Adam's step is ~lr for any gradient far from 0: allow 1 % of one step.
        torch.testing.assert_close(fast_state[name], value, rtol=0, atol=1e-5, msg=name)


@pytest.mark.parametrize("max_norm", [1e-3, 1e6])  # clipped, and left alone
def test_lean_clip_equals_torch_clip_grad_norm_exactly(max_norm: float) -> None:
    torch.manual_seed(0)
    net = build_q_network(SPACE, 3, DQNConfig())
    twin = copy.deepcopy(net)
    x = torch.randint(0, 256, (4, *SPACE.shape), dtype=torch.uint8)
    for model in (net, twin):
        model(x).square().sum().backward()
    learner = Learner(
        net, None, torch.optim.Adam(net.parameters()), DQNConfig(), torch.device("cpu")
    )
    learner.clip_gradients(max_norm)
    torch.nn.utils.clip_grad_norm_(list(twin.parameters()), max_norm, foreach=True)
    for ours, theirs in zip(net.parameters(), twin.parameters(), strict=True):
        assert ours.grad is not None and theirs.grad is not None
        assert torch.equal(ours.grad, theirs.grad)


def test_non_finite_loss_stops_before_the_step() -> None:
    cfg = DQNConfig(network="mlp")
    net = build_q_network(gym.spaces.Box(-1, 1, (4,), np.float32), 2, cfg)
    before = copy.deepcopy(net.state_dict())
    learner = Learner(net, None, torch.optim.Adam(net.parameters()), cfg, torch.device("cpu"))
    batch = (
        torch.zeros(4, 4),
        torch.zeros(4, dtype=torch.int64),
        torch.full((4,), float("nan")),
        torch.zeros(4, 4),
        torch.zeros(4),
        torch.full((4,), 0.99),
    )
    assert not np.isfinite(learner.update(batch, check=True))  # type: ignore[arg-type]
    for key, value in net.state_dict().items():
        torch.testing.assert_close(value, before[key])


def test_fused_adam_is_optional_and_keeps_the_state() -> None:
    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    net(torch.ones(1, 3)).sum().backward()
    opt.step()
    fused = enable_fused_optimizer(opt)
    assert fused == bool(opt.param_groups[0]["fused"])
    net(torch.ones(1, 3)).sum().backward()
    opt.step()  # still steps with the old moments
    assert int(opt.state[net.weight]["step"].item()) == 2
    assert not enable_fused_optimizer(torch.optim.SGD(net.parameters(), lr=0.1))
    explicit = torch.optim.Adam(net.parameters(), foreach=True)
    assert not enable_fused_optimizer(explicit)


def _catch_agent(**kw: Any) -> DQN:
    return DQN(
        make_catch(seed=0),
        learning_starts=64,
        buffer_size=500,
        batch_size=8,
        train_freq=4,
        target_update_interval=10,
        seed=0,
        device="cpu",
        **kw,
    )


def test_device_replay_path_trains_identically_in_the_agent() -> None:
    plain = _catch_agent().learn(160)
    fast = _catch_agent()
    fast.learner.device_replay = True  # on the CPU: the store shares the numpy frames
    fast.learn(160)
    assert fast.learner.store is not None
    assert plain.n_updates == fast.n_updates == (160 - 64) // 4
    for key, value in plain.q_net.state_dict().items():
        torch.testing.assert_close(fast.q_net.state_dict()[key], value, rtol=0, atol=0)
    for name in ("frames", "actions", "rewards", "terminated", "truncated", "valid"):
        np.testing.assert_array_equal(
            getattr(plain.replay_buffer, name), getattr(fast.replay_buffer, name)
        )


def _count_updates(agent: DQN) -> list[int]:
    calls = [0]
    original = agent.learner.update

    def counting(batch: Any, check: bool) -> float | None:
        calls[0] += 1
        return original(batch, check)

    agent.learner.update = counting  # type: ignore[method-assign]
    return calls


@pytest.mark.parametrize(("num_envs", "gradient_steps"), [(1, 1), (3, 1), (4, 2)])
def test_vector_path_keeps_the_replay_ratio(num_envs: int, gradient_steps: int) -> None:
    agent = DQN(
        "CartPole-v1",
        num_envs=num_envs,
        learning_starts=60,
        buffer_size=1_000,
        train_freq=4,
        gradient_steps=gradient_steps,
        seed=0,
    )
    calls = _count_updates(agent)
    agent.learn(300)
    steps = agent.num_timesteps
    assert 300 <= steps < 300 + num_envs
    expected = ((steps - 60) // 4) * gradient_steps
    assert calls[0] == agent.n_updates == expected
    assert len(agent.replay_buffer) == steps  # every env step stored once


def test_atari_vector_path_keeps_the_replay_ratio() -> None:
    agent = DQN(
        "PongNoFrameskip-v4",
        num_envs=4,
        learning_starts=200,
        buffer_size=2_000,
        batch_size=8,
        train_freq=4,
        seed=0,
        device="cpu",
    )
    calls = _count_updates(agent)
    agent.learn(320)
    assert agent.num_timesteps == 320
    assert calls[0] == agent.n_updates == (320 - 200) // 4


def _learner_with_replay(cfg: DQNConfig) -> tuple[Learner, torch.nn.Module, Any]:
    torch.manual_seed(0)
    net = build_q_network(SPACE, 3, cfg)
    target = copy.deepcopy(net).requires_grad_(False)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate)
    learner = Learner(net, target, opt, cfg, torch.device("cpu"), image=True)
    replay = make_replay_buffer(SPACE, capacity=200, num_envs=1, n_step=cfg.n_step)
    _fill(replay, [make_catch(seed=0)], 80, seed=0)
    return learner, net, replay


@pytest.fixture
def bf16_counts_as_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine's CPU may lack bf16: the speed warning is tested on its own below."""
    import dqn_agents.learner as learner_module

    monkeypatch.setattr(learner_module, "bf16_is_fast", lambda device: True)


@pytest.mark.usefixtures("bf16_counts_as_fast")
def test_bf16_precision_runs_the_forwards_in_bfloat16_and_keeps_float32_state() -> None:
    cfg = DQNConfig(network="mnih2013", precision="bf16", double_q=True, learning_rate=1e-3)
    learner, net, replay = _learner_with_replay(cfg)
    assert learner.bf16
    seen: list[torch.dtype] = []
    net.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    learner.train(replay, np.random.default_rng(0), 3)
    # Online forward on the next states (double Q) and on the states, per update.
    assert seen == [torch.bfloat16] * 6
    assert learner.n_updates == 3 and np.isfinite(learner.pop_mean_loss() or 0.0)
    for name, value in net.state_dict().items():
        assert value.dtype == torch.float32, name
        assert not torch.equal(value, before[name]), f"{name} did not learn"
    state = learner.optimizer.state_dict()["state"]
    assert all(t.dtype == torch.float32 for s in state.values() for t in s.values())
    # Acting outside the update stays float32.
    with torch.no_grad():
        assert net(torch.zeros(1, *SPACE.shape, dtype=torch.uint8)).dtype == torch.float32


@pytest.mark.usefixtures("bf16_counts_as_fast")
def test_bf16_loss_stays_close_to_float32() -> None:
    losses = {}
    for precision in ("float32", "bf16"):
        cfg = DQNConfig(network="mnih2013", precision=precision)
        learner, _, replay = _learner_with_replay(cfg)
        host = replay.sample(32, np.random.default_rng(1))
        batch = learner.to_device(tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in host))
        losses[precision] = learner.update(batch, check=True)
    # bfloat16 keeps 8 bits of mantissa: the loss of the same weights agrees to ~1 %.
    assert losses["bf16"] == pytest.approx(losses["float32"], rel=0.05)


def test_bf16_warns_where_it_is_slow(monkeypatch: pytest.MonkeyPatch) -> None:
    import dqn_agents.learner as learner_module

    monkeypatch.setattr(learner_module, "bf16_is_fast", lambda device: False)
    with pytest.warns(UserWarning, match="no native bfloat16.*precision='float32'"):
        _learner_with_replay(DQNConfig(network="mnih2013", precision="bf16"))


def test_precision_is_checked_and_float32_by_default() -> None:
    assert DQNConfig().precision == "float32"
    with pytest.raises(ValueError, match=r"precision must be one of 'float32', 'bf16'.*'bf16'"):
        DQNConfig(precision="bf15")
    assert DQNConfig.from_dict(DQNConfig(precision="bf16").to_dict()).precision == "bf16"


def test_bf16_is_fast_reads_the_cpu_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    from dqn_agents import devices

    cpu = torch.device("cpu")
    monkeypatch.setattr(devices, "cpu_flags", lambda: {"avx2", "avx512f", "avx512_bf16"})
    assert devices.bf16_is_fast(cpu) is True
    monkeypatch.setattr(devices, "cpu_flags", lambda: {"avx2", "fma"})
    assert devices.bf16_is_fast(cpu) is False
    monkeypatch.setattr(devices, "cpu_flags", set)
    assert devices.bf16_is_fast(cpu) is None
