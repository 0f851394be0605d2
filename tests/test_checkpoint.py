"""The training-state codec and the learner that owns the update."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dqn_agents import DQN
from dqn_agents.checkpoint import TrainingState, capture_rngs, model_meta, restore_rngs
from dqn_agents.learner import NonFiniteLossError
from dqn_agents.serialization import ModelFormatError, validate_meta


def test_training_state_round_trips() -> None:
    agent = DQN("CartPole-v1", learning_starts=20, buffer_size=200, seed=0)
    agent.learn(60)
    state = agent.training_state()
    tensors, data = state.encode()
    back = TrainingState.decode(tensors, data, "test")
    assert back.num_timesteps == 60 and back.n_updates == agent.n_updates > 0
    assert back.optimizer is not None and back.target_net is not None
    np.testing.assert_array_equal(back.last_obs, agent.last_obs)


def test_training_state_decode_refuses_missing_fields() -> None:
    with pytest.raises(ModelFormatError, match="training state"):
        TrainingState.decode({}, {"num_timesteps": 1}, "bad.zip")


def test_rng_capture_restores_all_generators() -> None:
    rng = np.random.default_rng(3)
    saved = capture_rngs(rng)
    a = (rng.random(), torch.rand(1).item())
    restore_rngs(saved, rng)
    assert (rng.random(), torch.rand(1).item()) == a


def test_model_meta_is_valid_config_json() -> None:
    agent = DQN("CartPole-v1", seed=0)
    meta = model_meta(agent.config, agent.spec, agent.q_net.describe(), 5)
    validate_meta(meta)
    assert meta["num_timesteps"] == 5 and meta["env_id"] == "CartPole-v1"


def test_learner_train_counts_syncs_and_stops_on_nan() -> None:
    agent = DQN(
        "CartPole-v1", learning_starts=20, buffer_size=200, seed=0, target_update_interval=3
    )
    agent.learn(40)
    learner = agent.learner
    before = learner.n_updates
    n = 3 + (-before) % 3  # end on a multiple of the sync interval
    learner.train(agent.replay_buffer, agent.rng, n)
    assert learner.n_updates == before + n and learner.n_updates % 3 == 0
    for p, q in zip(agent.q_net.parameters(), agent.q_net_target.parameters(), strict=True):
        assert torch.equal(p, q)
    with torch.no_grad():
        next(agent.q_net.parameters()).fill_(float("nan"))
    with pytest.raises(NonFiniteLossError, match="at step 7"):
        learner.train(agent.replay_buffer, agent.rng, 1, step=7)


def test_resume_with_another_replay_ratio_applies_it_from_the_resumed_step(tmp_path) -> None:
    # a run resumed with train_freq 8 -> 4 must not owe every past update again at the new
    # rate (it did: 1.4M catch-up updates on an 11M-step Pong run)
    agent = DQN("CartPole-v1", learning_starts=50, buffer_size=500, train_freq=8, seed=0)
    agent.learn(200)
    assert agent.n_updates == (200 - 50) // 8
    path = agent.save(tmp_path / "run")
    replay = agent.save_replay_buffer(tmp_path / "replay")
    loaded = DQN.load(path, train_freq=4)
    loaded.load_replay_buffer(replay)
    before = loaded.n_updates
    loaded.learn(40, reset_num_timesteps=False)
    assert loaded.n_updates - before == 40 // 4
    again = DQN.load(loaded.save(tmp_path / "again"))  # same ratio: nothing rebased
    assert again.training_state().updates_offset == loaded.training_state().updates_offset
    # the same on a live agent given a new config mid-run
    loaded.config = loaded.config.replace(train_freq=2)
    before = loaded.n_updates
    loaded.learn(40, reset_num_timesteps=False)
    assert loaded.n_updates - before == 40 // 2


def test_resume_without_the_replay_refills_it_before_updating(tmp_path) -> None:
    agent = DQN("CartPole-v1", learning_starts=50, buffer_size=500, train_freq=4, seed=0)
    agent.learn(100)
    loaded = DQN.load(agent.save(tmp_path / "run"))
    before = loaded.n_updates
    with pytest.warns(RuntimeWarning, match="refill"):
        loaded.learn(40, reset_num_timesteps=False)
    assert loaded.n_updates == before and len(loaded.replay_buffer) == 40
    with pytest.warns(RuntimeWarning, match="next 10 steps refill"):
        loaded.learn(30, reset_num_timesteps=False)
    # refilled at step 150; then one update per 4 steps, none owed for the refill
    assert loaded.n_updates - before == (170 - 50) // 4 - (150 - 50) // 4
