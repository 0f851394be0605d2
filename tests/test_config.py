from __future__ import annotations

import json

import pytest

from dqn_agents.config import PRESETS, ConfigKeyError, DQNConfig


def roundtrip(cfg: DQNConfig) -> DQNConfig:
    return DQNConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))


def test_defaults_follow_cleanrl_zoo() -> None:
    cfg = DQNConfig()
    assert cfg.learning_rate == 1e-4
    assert cfg.optimizer == "adam"
    assert (cfg.batch_size, cfg.gamma, cfg.train_freq) == (32, 0.99, 4)
    assert cfg.target_update_interval * cfg.train_freq == 1000  # 1000 env steps
    assert (cfg.exploration_initial_eps, cfg.exploration_final_eps) == (1.0, 0.01)
    assert cfg.exploration_fraction == 0.1
    assert cfg.buffer_size == 1_000_000
    assert cfg.learning_starts == 80_000
    assert PRESETS["default"] == cfg == PRESETS["cleanrl"]


def test_nature_preset_matches_extended_data_table_1() -> None:
    cfg = DQNConfig.preset("nature2015")
    assert cfg.network == "nature"
    assert cfg.learning_rate == 0.00025
    assert cfg.optimizer == "rmsprop"
    assert cfg.optimizer_kwargs_dict == {
        "alpha": 0.95,
        "eps": 0.01,
        "centered": True,
        "momentum": 0.0,
    }
    assert (cfg.batch_size, cfg.buffer_size, cfg.gamma) == (32, 1_000_000, 0.99)
    assert (cfg.target_update_interval, cfg.learning_starts, cfg.train_freq) == (10_000, 50_000, 4)
    assert (cfg.exploration_final_eps, cfg.exploration_steps) == (0.1, 1_000_000)
    assert cfg.loss == "huber" and cfg.huber_delta == 1.0
    assert cfg.max_grad_norm is None


def test_mnih2013_preset() -> None:
    cfg = DQNConfig.preset("mnih2013")
    assert cfg.network == "mnih2013"
    assert cfg.target_update_interval == 0 and not cfg.use_target_network
    assert cfg.optimizer == "rmsprop" and cfg.loss == "mse"
    assert cfg.train_freq == 1 and cfg.batch_size == 32 and cfg.buffer_size == 1_000_000
    assert cfg.exploration_final_eps == 0.1 and cfg.exploration_duration(10**7) == 1_000_000


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_json_roundtrip_exact(name: str) -> None:
    cfg = PRESETS[name]
    back = roundtrip(cfg)
    assert back == cfg
    assert back.to_dict() == cfg.to_dict()
    assert isinstance(back.mlp_hidden_sizes, tuple)
    assert isinstance(back.optimizer_kwargs, tuple)


def test_roundtrip_with_tuple_values_and_dict_kwargs() -> None:
    cfg = DQNConfig(optimizer_kwargs={"betas": [0.9, 0.99], "eps": 1.5e-4}, mlp_hidden_sizes=[7, 3])
    assert cfg.optimizer_kwargs == (("betas", (0.9, 0.99)), ("eps", 1.5e-4))
    assert cfg.mlp_hidden_sizes == (7, 3)
    assert roundtrip(cfg) == cfg
    assert hash(roundtrip(cfg)) == hash(cfg)
    assert json.loads(json.dumps(cfg.to_dict()))["optimizer_kwargs"] == {
        "betas": [0.9, 0.99],
        "eps": 1.5e-4,
    }


def test_unknown_keys_name_closest() -> None:
    with pytest.raises(ValueError, match=r"'learning_rat'.*'learning_rate'"):
        DQNConfig.from_dict({"learning_rat": 1e-3})
    with pytest.raises(ValueError, match=r"'gama'.*'gamma'"):
        DQNConfig(gama=0.9)  # type: ignore[call-arg]
    with pytest.raises(ConfigKeyError, match=r"'batchsize'.*'batch_size'"):
        DQNConfig().replace(batchsize=3)
    with pytest.raises(ValueError, match=r"'natur2015'.*'nature2015'"):
        DQNConfig.preset("natur2015")
    with pytest.raises(ValueError, match=r"'betaz'.*'betas'"):
        DQNConfig(optimizer_kwargs={"betaz": (0.9, 0.9)})
    with pytest.raises(ValueError, match="learning_rate"):
        DQNConfig(optimizer_kwargs={"lr": 0.1})


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"gamma": 1.5}, r"gamma must be in \[0, 1\], got 1.5"),
        ({"learning_rate": 0}, "learning_rate must be > 0"),
        ({"batch_size": 0}, "batch_size must be >= 1, got 0"),
        ({"batch_size": 3.0}, "batch_size must be an int"),
        ({"tau": 0.0}, "tau must be in"),
        ({"loss": "hubber"}, "Did you mean 'huber'"),
        ({"optimizer": "sgd"}, "optimizer must be one of"),
        ({"network": "natur"}, "Did you mean 'nature'"),
        ({"max_grad_norm": -1}, "max_grad_norm must be > 0 or None"),
        ({"exploration_steps": -1}, "exploration_steps must be >= 0"),
        ({"double_q": 1}, "double_q must be a bool"),
        ({"mlp_hidden_sizes": (64, 0)}, "mlp_hidden_sizes"),
        ({"n_step": 0}, "n_step must be >= 1"),
        ({"learning_rate": float("nan")}, "finite"),
    ],
)
def test_invalid_values(changes: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        DQNConfig().replace(**changes)


def test_frozen_and_replace() -> None:
    cfg = DQNConfig()
    with pytest.raises(AttributeError):
        cfg.gamma = 0.5  # type: ignore[misc]
    other = cfg.replace(double_q=True, n_step=3)
    assert other.double_q and other.n_step == 3 and not cfg.double_q
    assert DQNConfig.preset("nature2015", learning_starts=5).learning_starts == 5


def test_exploration_duration() -> None:
    assert DQNConfig().exploration_duration(1_000_000) == 100_000
    assert DQNConfig(exploration_steps=7).exploration_duration(1_000_000) == 7


def test_from_dict_missing_keys_take_defaults() -> None:
    assert DQNConfig.from_dict({"gamma": 0.9}) == DQNConfig(gamma=0.9)
    with pytest.raises(ValueError, match="mapping"):
        DQNConfig.from_dict([("gamma", 0.9)])  # type: ignore[arg-type]
