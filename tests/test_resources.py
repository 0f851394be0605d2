"""Resource guards and the deferred NaN check (hardening points 7 and 14 of issue #15).

* A non-finite loss never reaches the weights, even when the loss is read on the host only
  every ``nan_check_every`` updates (CUDA's default; forced here on CPU): the optimizer
  steps are skipped on the device from the first bad loss until the check raises.
* A replay memory or minibatch larger than the free memory is refused before it is
  allocated, with our error (never a raw ``MemoryError``) saying how much it needs, how
  much is free and what to change; counts below 1 are refused with a clear message; a
  ``dqn-agents train`` that fails before it saved anything leaves no run folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

from dqn_agents import DQN
from dqn_agents.cli import main
from dqn_agents.devices import torch_threads
from dqn_agents.learner import Learner, NonFiniteLossError
from dqn_agents.replay import (
    ALLOW_LARGE_ENV,
    ReplayTooLargeError,
    available_memory,
    batch_nbytes,
    check_replay_memory,
    make_replay_buffer,
    replay_nbytes,
)

ATARI = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
CARTPOLE = gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)


def free_memory() -> int:
    """The machine's available memory, or skip (the guard has nothing to compare with)."""
    available = available_memory()
    if available is None:
        pytest.skip("no /proc/meminfo, cgroup or psutil to read the free memory from")
    return available


# ---------------------------------------------------------------- point 7: the NaN guard
@pytest.fixture
def one_thread() -> Iterator[None]:
    """One torch thread, as `DQN.learn` uses for MLPs (two on a busy 2-core machine: 100x)."""
    with torch_threads(1):
        yield


def snapshot(agent: DQN, optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    tensors = [p.detach().clone() for p in agent.q_net.parameters()]
    for state in optimizer.state.values():
        tensors += [v.detach().clone() for v in state.values() if isinstance(v, torch.Tensor)]
    return tensors


@pytest.mark.parametrize(
    ("make_optimizer", "takes_found_inf"),
    [
        (lambda params: torch.optim.Adam(params, lr=1e-3), True),  # fused: found_inf
        (lambda params: torch.optim.Adam(params, lr=1e-3, foreach=True), False),
        (lambda params: torch.optim.RMSprop(params, lr=1e-3, momentum=0.9), False),
    ],
    ids=["fused-adam", "foreach-adam", "rmsprop"],
)
@pytest.mark.usefixtures("one_thread")
def test_a_deferred_nan_check_never_applies_a_non_finite_step(
    make_optimizer: object, takes_found_inf: bool, tmp_path: Path
) -> None:
    agent = DQN("CartPole-v1", seed=0, learning_starts=100, buffer_size=500)
    agent.learn(200)  # a filled replay
    optimizer = make_optimizer(agent.q_net.parameters())  # type: ignore[operator]
    learner = Learner(
        agent.q_net, agent.q_net_target, optimizer, agent.config, agent.device, nan_check_every=50
    )
    assert learner.sync_every == 50 and learner.fused == takes_found_inf
    learner.train(agent.replay_buffer, agent.rng, 7)  # finite losses, not read yet
    before = snapshot(agent, optimizer)
    assert learner.n_updates == 7 and learner.pending_count == 7
    agent.replay_buffer.rewards[...] = np.nan  # a reward bug: every loss from now on is NaN
    with pytest.raises(NonFiniteLossError, match=r"at step 1234 \(gradient update 50; one of"):
        learner.train(agent.replay_buffer, agent.rng, 100, step=1234)
    assert learner.n_updates == 49  # 42 updates ran on NaN losses before the check...
    after = snapshot(agent, optimizer)
    assert len(after) == len(before)
    for old, new in zip(before, after, strict=True):  # ...and none of them took a step
        assert torch.equal(old, new)
        assert bool(torch.isfinite(new).all())
    path = agent.save(tmp_path / "last-good")  # finite weights: the model can be saved
    assert DQN.load(path).num_timesteps == 200


@pytest.mark.usefixtures("one_thread")
def test_check_pending_reports_a_nan_loss_before_the_next_check() -> None:
    agent = DQN("CartPole-v1", seed=0, learning_starts=100, buffer_size=500)
    agent.learn(150)
    learner = Learner(
        agent.q_net, None, agent.optimizer, agent.config, agent.device, nan_check_every=1000
    )
    weights = [p.detach().clone() for p in agent.q_net.parameters()]
    agent.replay_buffer.rewards[...] = np.inf
    learner.train(agent.replay_buffer, agent.rng, 5)  # no check among these 5
    with pytest.raises(NonFiniteLossError, match="at step 150"):
        learner.check_pending(step=150)
    assert learner.pending_count == 0
    for old, new in zip(weights, agent.q_net.parameters(), strict=True):
        assert torch.equal(old, new)


@pytest.mark.parametrize("value", [0, -1, 2.5, True])
def test_nan_check_every_must_be_a_positive_whole_number(value: object) -> None:
    net = torch.nn.Linear(4, 2)
    with pytest.raises(ValueError, match="nan_check_every must be a whole number >= 1"):
        Learner(
            net,
            None,
            torch.optim.Adam(net.parameters()),
            object(),
            torch.device("cpu"),
            nan_check_every=value,  # type: ignore[arg-type]
        )


# ---------------------------------------------------------------- point 14: memory
def test_a_replay_larger_than_the_free_memory_is_refused_before_it_is_allocated() -> None:
    available = free_memory()
    capacity = 2 * available // 7_069 + 1  # Atari frames: 7,069 bytes per transition
    with pytest.raises(ReplayTooLargeError) as info:
        make_replay_buffer(ATARI, capacity)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert f"buffer_size {capacity:,} x 7,069 bytes" in message  # how big
    assert "GB of memory is available" in message  # how much there is
    assert "Lower buffer_size (about" in message and f"{ALLOW_LARGE_ENV}=1" in message  # what to do


def test_the_memory_estimate_is_what_the_buffers_allocate() -> None:
    for space, capacity, envs in ((ATARI, 1_000, 2), (CARTPOLE, 3_000, 3)):
        replay = make_replay_buffer(space, capacity, envs)
        assert replay.nbytes == replay_nbytes(space.shape, space.dtype, capacity, envs)
        batch = replay.allocate_batch(32)
        assert sum(a.nbytes for a in batch) == batch_nbytes(space.shape, space.dtype, 32)


def test_an_allowed_oversized_replay_still_fails_with_our_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 10**15 transitions cannot be allocated on any machine: numpy raises MemoryError
    for allow in ({"allow_large": True}, {}):
        if not allow:
            monkeypatch.setenv(ALLOW_LARGE_ENV, "1")
        with pytest.raises(ReplayTooLargeError, match="cannot allocate") as info:
            make_replay_buffer(CARTPOLE, 10**15, **allow)  # type: ignore[arg-type]
        assert isinstance(info.value.__cause__, MemoryError)


def test_absurd_batch_sizes_give_our_error_not_memory_error() -> None:
    free_memory()
    replay = make_replay_buffer(CARTPOLE, 1_000)
    with pytest.raises(ReplayTooLargeError, match="Lower batch_size"):
        replay.allocate_batch(10**12)
    with pytest.raises(ValueError, match="batch_size") as info:
        # refused by the config's bound, else by the first update's minibatch
        DQN("CartPole-v1", seed=0, batch_size=10**11, buffer_size=200, learning_starts=20).learn(40)
    assert not isinstance(info.value, MemoryError)
    with pytest.raises(ReplayTooLargeError, match="two minibatches of batch_size"):
        check_replay_memory(CARTPOLE, 1_000, 1, 10**11)


def test_dqn_refuses_a_replay_larger_than_the_free_memory() -> None:
    # Atari frames (7,069 bytes per transition): twice the free memory stays a buffer_size
    # the config accepts (<= 10**9), so the memory guard is what refuses it
    buffer_size = 2 * free_memory() // 7_069 + 1
    # refused when the agent is built, before learn would allocate the memory
    with pytest.raises(ReplayTooLargeError, match=f"buffer_size {buffer_size:,} x 7,069"):
        DQN("ALE/Pong-v5", seed=0, buffer_size=buffer_size, learning_starts=10)


@pytest.mark.parametrize(
    ("build", "name"),
    [
        (lambda: make_replay_buffer(CARTPOLE, 0), "capacity"),
        (lambda: make_replay_buffer(CARTPOLE, -5), "capacity"),
        (lambda: make_replay_buffer(CARTPOLE, 100.0), "capacity"),
        (lambda: make_replay_buffer(CARTPOLE, True), "capacity"),
        (lambda: make_replay_buffer(ATARI, -1_000, 2), "capacity"),
        (lambda: make_replay_buffer(CARTPOLE, 100, 0), "num_envs"),
        (lambda: make_replay_buffer(CARTPOLE, 100, 1, 0), "n_step"),
        (lambda: make_replay_buffer(CARTPOLE, 100).allocate_batch(-1), "batch_size"),
        (lambda: check_replay_memory(CARTPOLE, 0), "buffer_size"),
        (lambda: check_replay_memory(CARTPOLE, 100, 1, 0), "batch_size"),
    ],
)
def test_counts_below_one_are_refused_by_name(build: object, name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name}\b.* must be (a whole number )?>= [01]"):
        build()  # type: ignore[operator]


@pytest.mark.parametrize("batch_size", [0, -3])
def test_sampling_fewer_than_one_transition_is_refused(batch_size: int) -> None:
    replay = make_replay_buffer(CARTPOLE, 100)
    obs = np.zeros((1, 4), np.float32)
    replay.add(obs, np.zeros(1), np.zeros(1), obs, np.zeros(1), np.zeros(1))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        replay.sample(batch_size, np.random.default_rng(0))


# ---------------------------------------------------------------- point 14: the CLI
def test_train_refuses_a_replay_too_big_before_making_a_run_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    buffer_size = 2 * free_memory() // 7_069 + 1  # Atari frames
    monkeypatch.chdir(tmp_path)
    argv = ["train", "ALE/Pong-v5", "--timesteps", "100", "--set", f"buffer_size={buffer_size}"]
    assert main([*argv, "--quiet", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"buffer_size {buffer_size:,} x 7,069 bytes" in err and ALLOW_LARGE_ENV in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


class BrokenStepCartPole(CartPoleEnv):
    """CartPole whose first step fails (a user's env with a bug in ``step``)."""

    def step(self, action: int):  # type: ignore[no-untyped-def,override]
        raise RuntimeError("the robot's sensor is unplugged")


def test_a_run_that_fails_before_saving_anything_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if "BrokenStepCartPole-v0" not in gym.registry:
        gym.register("BrokenStepCartPole-v0", entry_point=BrokenStepCartPole)
    monkeypatch.chdir(tmp_path)
    argv = ["train", "BrokenStepCartPole-v0", "--timesteps", "100", "--quiet", "--no-progress"]
    with pytest.raises(RuntimeError, match="sensor"):
        main(argv)
    assert list((tmp_path / "runs").iterdir()) == []
    mine = tmp_path / "mine"  # a folder the user made is never removed
    mine.mkdir()
    (mine / "notes.txt").write_text("keep", encoding="utf-8")
    with pytest.raises(RuntimeError, match="sensor"):
        main([*argv, "--output", str(mine)])
    assert (mine / "notes.txt").read_text(encoding="utf-8") == "keep"
    assert not (mine / "model.zip").exists()  # an untrained model is not worth a file


@pytest.mark.parametrize(
    "extra",
    [
        ["--timesteps", "0"],
        ["--num-envs", "0"],
        ["--checkpoint-freq", "-5"],
        ["--log-interval", "-1"],
        ["--set", "buffer_size=0"],
        ["--set", "batch_size=-4"],
        ["--set", "train_freq=0"],
        ["--set", "gradient_steps=0"],
    ],
)
def test_train_refuses_counts_below_their_minimum_with_exit_2(
    extra: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["train", "CartPole-v1", *extra, "--quiet", "--no-progress"]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse refuses the option itself
        code = int(exc.code or 0)
    assert code == 2
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_available_memory_reads_meminfo() -> None:
    if not os.path.isfile("/proc/meminfo"):
        pytest.skip("Linux only")
    with open("/proc/meminfo", encoding="ascii") as handle:
        fields = dict(line.split(":", 1) for line in handle)
    total = int(fields["MemTotal"].split()[0]) * 1024
    available = available_memory()
    assert available is not None and 0 < available <= total
