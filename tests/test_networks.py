from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch

from dqn_agents.config import DQNConfig
from dqn_agents.networks import (
    CONV_SPECS,
    build_q_network,
    dueling_state_dict,
)

IMAGE = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)


def shapes(net: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def test_nature_layout() -> None:
    net = build_q_network(IMAGE, 6, DQNConfig())
    assert net.kind == "nature"
    assert shapes(net) == {
        "features.0.weight": (32, 4, 8, 8),
        "features.0.bias": (32,),
        "features.2.weight": (64, 32, 4, 4),
        "features.2.bias": (64,),
        "features.4.weight": (64, 64, 3, 3),
        "features.4.bias": (64,),
        "fc.0.weight": (512, 3136),
        "fc.0.bias": (512,),
        "head.weight": (6, 512),
        "head.bias": (6,),
    }
    out = net(torch.zeros(3, 4, 84, 84, dtype=torch.uint8))
    assert out.shape == (3, 6) and out.dtype == torch.float32


def test_mnih2013_layout() -> None:
    net = build_q_network(IMAGE, 4, DQNConfig(network="mnih2013"))
    assert shapes(net) == {
        "features.0.weight": (16, 4, 8, 8),
        "features.0.bias": (16,),
        "features.2.weight": (32, 16, 4, 4),
        "features.2.bias": (32,),
        "fc.0.weight": (256, 2592),
        "fc.0.bias": (256,),
        "head.weight": (4, 256),
        "head.bias": (4,),
    }


def test_uint8_scaled_inside_forward() -> None:
    net = build_q_network(IMAGE, 3)
    x = torch.randint(0, 256, (2, 4, 84, 84), dtype=torch.uint8)
    manual = net.head(net.fc(net.features(x.float() / 255.0)))
    torch.testing.assert_close(net(x), manual, rtol=0, atol=0)


def test_mlp_and_dueling() -> None:
    space = gym.spaces.Box(-1, 1, (4,), np.float32)
    net = build_q_network(space, 2, DQNConfig(mlp_hidden_sizes=(120, 84)))
    assert net.kind == "mlp" and not net.scale_inputs
    assert list(shapes(net)) == [
        "fc.0.weight",
        "fc.0.bias",
        "fc.2.weight",
        "fc.2.bias",
        "head.weight",
        "head.bias",
    ]
    duel = build_q_network(space, 3, DQNConfig(dueling=True, mlp_hidden_sizes=(8,)))
    assert set(shapes(duel)) == {
        "value.0.weight",
        "value.0.bias",
        "value.2.weight",
        "value.2.bias",
        "advantage.0.weight",
        "advantage.0.bias",
        "advantage.2.weight",
        "advantage.2.bias",
    }
    x = torch.randn(5, 4)
    q = duel(x)
    feats = duel.features(x)
    adv = duel.advantage(feats)
    # Q - mean(Q) == A - mean(A), and mean(Q) == V.
    torch.testing.assert_close(q.mean(dim=1, keepdim=True), duel.value(feats))
    torch.testing.assert_close(q - q.mean(1, keepdim=True), adv - adv.mean(1, keepdim=True))


def test_description_records_the_architecture() -> None:
    for cfg, kind in (
        (DQNConfig(), "nature"),
        (DQNConfig(network="mnih2013", dueling=True), "mnih2013"),
    ):
        net = build_q_network(IMAGE, 5, cfg)
        desc = json.loads(json.dumps(net.describe()))
        assert desc["kind"] == kind and desc["dueling"] == cfg.dueling
        assert desc["convs"] == [list(c) for c in CONV_SPECS[kind]]
        assert desc["num_parameters"] == sum(p.numel() for p in net.parameters())
        again = build_q_network(IMAGE, 5, cfg)  # the saved config builds it again
        assert again.describe() == net.describe() and shapes(again) == shapes(net)


def test_errors() -> None:
    with pytest.raises(ValueError, match="needs image observations"):
        build_q_network((4,), 2, DQNConfig(network="nature"))
    with pytest.raises(ValueError, match="too small"):
        build_q_network((4, 20, 20), 2, DQNConfig(network="nature"))
    # A shape tuple works too; dtype defaults to uint8 for 3-D shapes.
    assert build_q_network((4, 84, 84), 2).scale_inputs


@pytest.mark.parametrize(
    "module",
    ["dqn_agents.config", "dqn_agents.networks", "dqn_agents.functional", "dqn_agents.replay"],
)
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(
        importlib.import_module(module), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    assert result.failed == 0 and result.attempted > 0


def test_functional_forward_equals_the_module_path_exactly() -> None:
    """forward() skips the submodules' __call__; values and gradients must not change."""
    torch.manual_seed(0)
    cases = [
        (build_q_network(IMAGE, 3), torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)),
        (
            build_q_network(
                gym.spaces.Box(-1, 1, (4,), np.float32), 2, DQNConfig(mlp_hidden_sizes=(8, 8))
            ),
            torch.randn(5, 4),
        ),
        (
            build_q_network(gym.spaces.Box(-1, 1, (4,), np.float32), 2, DQNConfig(dueling=True)),
            torch.randn(5, 4),
        ),
    ]
    for net, x in cases:
        xf = x.float() / 255.0 if x.dtype == torch.uint8 else x
        feats = net.features(xf)
        if net.dueling:
            adv = net.advantage(feats)
            manual = net.value(feats) + adv - adv.mean(dim=1, keepdim=True)
        else:
            manual = net.head(net.fc(feats))
        manual.square().sum().backward()
        manual_grads = [p.grad.clone() for p in net.parameters()]
        net.zero_grad(set_to_none=True)
        out = net(x)
        torch.testing.assert_close(out, manual, rtol=0, atol=0)
        out.square().sum().backward()
        for p, g in zip(net.parameters(), manual_grads, strict=True):
            torch.testing.assert_close(p.grad, g, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("space", "config"),
    [
        (IMAGE, DQNConfig(network="nature")),
        (IMAGE, DQNConfig(network="mnih2013")),
        (gym.spaces.Box(-1, 1, (4,), np.float32), DQNConfig(mlp_hidden_sizes=(16, 8))),
        (gym.spaces.Box(-1, 1, (4,), np.float32), DQNConfig(mlp_hidden_sizes=())),
    ],
)
def test_dueling_state_dict_keeps_the_q_values_and_then_learns_as_a_dueling_net(
    space: gym.spaces.Box, config: DQNConfig
) -> None:
    torch.manual_seed(0)
    plain = build_q_network(space, 5, config)
    with torch.no_grad():  # a head whose rows differ, as a trained one's do
        plain.head.bias.copy_(torch.arange(5.0))
    twin = build_q_network(space, 5, config.replace(dueling=True))
    twin.load_state_dict(dueling_state_dict(plain.state_dict()), strict=True)
    if space.dtype == np.uint8:
        obs = torch.randint(0, 256, (7, *space.shape), dtype=torch.uint8)
    else:
        obs = torch.randn(7, *space.shape)
    with torch.no_grad():
        torch.testing.assert_close(twin(obs), plain(obs), rtol=1e-5, atol=1e-5)
    # the streams are copies, not shared tensors: training one leaves the original alone
    with torch.no_grad():
        for p in twin.parameters():
            p.add_(1.0)
    assert not torch.equal(plain.head.weight, twin.advantage[-1].weight)


def test_dueling_state_dict_refuses_a_dueling_or_foreign_state_dict() -> None:
    duel = build_q_network(IMAGE, 6, DQNConfig(network="mnih2013", dueling=True))
    with pytest.raises(ValueError, match="non-dueling"):
        dueling_state_dict(duel.state_dict())
    with pytest.raises(ValueError, match="non-dueling"):
        dueling_state_dict({"q_net.0.weight": torch.zeros(2, 2)})
