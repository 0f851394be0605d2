"""The model spec: one rule for "same task", one env-fit check, one env-id reader."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from dqn_agents.devices import resolve_device, torch_threads
from dqn_agents.spec import (
    EnvMismatchError,
    ModelSpec,
    can_build,
    env_count,
    env_id_of,
    same_task,
)


def _pong_spec() -> ModelSpec:
    space = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    return ModelSpec(space, 6, "ALE/Pong-v5", {"frame_skip": 4})


def test_spec_round_trips_through_config_json() -> None:
    spec = _pong_spec()
    assert ModelSpec.from_meta(spec.to_meta()) == spec
    assert spec.game == "pong"


def test_spec_from_bad_meta_names_the_problem() -> None:
    with pytest.raises(ValueError, match="observation_space"):
        ModelSpec.from_meta({"action_space": {"n": 2}})


@pytest.mark.parametrize(
    ("trained", "given", "same"),
    [
        ("ALE/Pong-v5", "PongNoFrameskip-v4", True),
        ("ALE/Pong-v5", "ALE/Pong-v5", True),
        ("ALE/Pong-v5", "ALE/Breakout-v5", False),
        ("CartPole-v1", "CartPole-v0", False),
        ("CartPole-v1", "CartPole-v1", True),
    ],
)
def test_same_task(trained: str, given: str, same: bool) -> None:
    assert same_task(trained, given) is same


def test_check_env_refuses_another_game_shape_and_action_set() -> None:
    spec = _pong_spec()
    box = spec.observation_space
    spec.check_env("PongNoFrameskip-v4", box, gym.spaces.Discrete(6))
    with pytest.raises(EnvMismatchError, match="trained on 'ALE/Pong-v5'"):
        spec.check_env("ALE/Breakout-v5", box, gym.spaces.Discrete(6))
    with pytest.raises(EnvMismatchError, match="expects observations"):
        spec.check_env(None, gym.spaces.Box(0, 255, (84, 84, 4), np.uint8), gym.spaces.Discrete(6))
    with pytest.raises(EnvMismatchError, match="6 actions"):
        spec.check_env(None, box, gym.spaces.Discrete(18))
    assert issubclass(EnvMismatchError, ValueError)


def test_env_id_of_reads_ids_envs_and_wrapped_envs() -> None:
    env = gym.make("CartPole-v1")
    assert env_id_of(env) == "CartPole-v1"
    assert env_id_of(gym.wrappers.RecordEpisodeStatistics(env)) == "CartPole-v1"
    assert env_id_of("ALE/Pong-v5") == "ALE/Pong-v5"
    assert env_id_of(None) is None
    assert env_count(env, 4) == 1 and env_count("CartPole-v1", 4) == 4


def test_can_build_never_names_a_module_to_import() -> None:
    assert can_build("CartPole-v1") and can_build("ALE/Pong-v5")
    assert not can_build("this:Zen-v0")
    assert not can_build("NoSuchEnv-v0")


def test_devices() -> None:
    import torch

    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(ValueError, match="Unknown device"):
        resolve_device("tpu:9")
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
