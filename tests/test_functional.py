from __future__ import annotations

import numpy as np
import pytest
import torch

from dqn_agents.config import DQNConfig
from dqn_agents.functional import (
    epsilon_at,
    epsilon_greedy,
    linear_schedule,
    make_optimizer,
    q_values_for_actions,
    soft_update_,
    td_loss,
    td_targets,
)
from dqn_agents.networks import build_q_network


def test_td_targets_plain_max() -> None:
    rewards = torch.tensor([1.0, 0.5, -1.0])
    next_q = torch.tensor([[1.0, 3.0], [5.0, 2.0], [7.0, 8.0]])
    dones = torch.tensor([0.0, 0.0, 1.0])
    out = td_targets(rewards, next_q, None, dones, 0.9)
    # 1 + 0.9*3 = 3.7 ; 0.5 + 0.9*5 = 5.0 ; terminal -> -1
    torch.testing.assert_close(out, torch.tensor([3.7, 5.0, -1.0]))


def test_td_targets_double_q_and_per_sample_discounts() -> None:
    rewards = torch.tensor([1.0, 2.0])
    next_q_target = torch.tensor([[1.0, 3.0], [5.0, 2.0]])
    next_q_online = torch.tensor([[9.0, 0.0], [0.0, 9.0]])  # picks a=0 then a=1
    dones = torch.tensor([0.0, 0.0])
    discounts = torch.tensor([0.5, 0.25])  # gamma^1, gamma^2 for gamma = 0.5
    out = td_targets(rewards, next_q_target, next_q_online, dones, discounts)
    # 1 + 0.5*Qt[0,0]=1 -> 1.5 ; 2 + 0.25*Qt[1,1]=2 -> 2.5
    torch.testing.assert_close(out, torch.tensor([1.5, 2.5]))
    with pytest.raises(ValueError, match="same shape"):
        td_targets(rewards, next_q_target, next_q_online[:, :1], dones, 0.5)


def test_q_values_for_actions() -> None:
    q = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    out = q_values_for_actions(q, torch.tensor([2, 0]))
    torch.testing.assert_close(out, torch.tensor([3.0, 4.0]))


def test_losses_by_hand() -> None:
    pred = torch.tensor([0.0, 0.0])
    target = torch.tensor([0.5, 3.0])
    # huber: 0.5*0.25 = 0.125 ; |3| - 0.5 = 2.5 -> mean 1.3125
    torch.testing.assert_close(td_loss(pred, target, "huber"), torch.tensor(1.3125))
    torch.testing.assert_close(td_loss(pred, target, "mse"), torch.tensor((0.25 + 9.0) / 2))
    # the gradient of the Huber loss is the clipped error
    p = torch.tensor([0.0, 0.0], requires_grad=True)
    td_loss(p, target).backward()
    torch.testing.assert_close(p.grad, torch.tensor([-0.25, -0.5]))
    with pytest.raises(ValueError, match="loss"):
        td_loss(pred, target, "l1")


def test_schedules() -> None:
    assert linear_schedule(1.0, 0.1, 100, 0) == 1.0
    assert linear_schedule(1.0, 0.1, 100, 50) == pytest.approx(0.55)
    assert linear_schedule(1.0, 0.1, 100, 100) == 0.1
    assert linear_schedule(1.0, 0.1, 100, 10**9) == 0.1
    assert linear_schedule(1.0, 0.1, 0, 0) == 0.1
    cfg = DQNConfig()  # 10% of the run, 1.0 -> 0.01
    assert epsilon_at(0, cfg, 1000) == 1.0
    assert epsilon_at(50, cfg, 1000) == pytest.approx(0.505)
    assert epsilon_at(100, cfg, 1000) == 0.01
    nature = DQNConfig.preset("nature2015")
    assert epsilon_at(500_000, nature, 50_000_000) == pytest.approx(0.55)


def test_epsilon_greedy() -> None:
    q = np.array([[0.0, 2.0, 1.0], [5.0, 1.0, 1.0]], dtype=np.float32)

    def eg(values: np.ndarray, eps: float, rng: np.random.Generator) -> np.ndarray:
        return epsilon_greedy(lambda: values.argmax(1), len(values), values.shape[1], eps, rng)

    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(eg(q, 0.0, rng), [1, 0])
    assert eg(q, 0.0, rng).dtype == np.int64
    rng = np.random.default_rng(1)
    big = np.zeros((20_000, 4), dtype=np.float32)
    actions = eg(big, 1.0, rng)
    counts = np.bincount(actions, minlength=4) / len(actions)
    np.testing.assert_allclose(counts, 0.25, atol=0.02)
    half = eg(big, 0.5, np.random.default_rng(2))
    # greedy action is 0: P(0) = 0.5 + 0.5/4
    assert abs(np.mean(half == 0) - 0.625) < 0.02
    a = eg(big[:10], 0.3, np.random.default_rng(3))
    b = eg(big[:10], 0.3, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


def test_epsilon_greedy_skips_the_forward_pass_when_every_row_explores() -> None:
    def forward() -> np.ndarray:
        raise AssertionError("greedy actions were not needed")

    actions = epsilon_greedy(forward, 5, 3, 1.0, np.random.default_rng(0))
    assert actions.shape == (5,) and actions.max() < 3


def test_target_updates() -> None:
    torch.manual_seed(0)
    online = build_q_network((3,), 2, DQNConfig(mlp_hidden_sizes=(4,)))
    target = build_q_network((3,), 2, DQNConfig(mlp_hidden_sizes=(4,)))
    before = [p.clone() for p in target.parameters()]
    soft_update_(target, online, 0.25)
    for t, b, o in zip(target.parameters(), before, online.parameters(), strict=True):
        torch.testing.assert_close(t, 0.75 * b + 0.25 * o)
    soft_update_(target, online, 1.0)  # a hard update
    for t, o in zip(target.parameters(), online.parameters(), strict=True):
        assert torch.equal(t, o)
    with pytest.raises(ValueError, match="tau"):
        soft_update_(target, online, 0.0)


def test_make_optimizer() -> None:
    net = build_q_network((3,), 2)
    opt = make_optimizer(net.parameters(), DQNConfig.preset("nature2015"))
    assert isinstance(opt, torch.optim.RMSprop)
    group = opt.param_groups[0]
    assert (group["lr"], group["alpha"], group["eps"], group["centered"]) == (
        0.00025,
        0.95,
        0.01,
        True,
    )
    adam = make_optimizer(net.parameters(), DQNConfig(optimizer_kwargs={"eps": 1.5e-4}))
    assert isinstance(adam, torch.optim.Adam) and adam.param_groups[0]["eps"] == 1.5e-4
