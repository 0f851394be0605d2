"""It learns: CartPole to >= 475 and a Catch pixel game through the CNN + frame-stack path.

Both configs are documented here so the docs can quote them (``CARTPOLE_CONFIG``,
``CATCH_CONFIG``); the DQN docstring in ``dqn_agents/agent.py`` repeats the CartPole one.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from pixel_games import make_catch
from stable_baselines3.common.callbacks import EvalCallback, StopTrainingOnRewardThreshold
from stable_baselines3.common.monitor import Monitor

from dqn_agents import DQN

CARTPOLE_CONFIG: dict[str, Any] = dict(
    learning_rate=1e-3,
    batch_size=128,
    buffer_size=50_000,
    learning_starts=1_000,
    train_freq=4,
    gradient_steps=4,
    target_update_interval=200,
    exploration_steps=8_000,
    exploration_final_eps=0.02,
    mlp_hidden_sizes=(256, 256),
    double_q=True,
)
"""CartPole-v1 in ~20k steps: Adam 1e-3, batch 128, one update per step (4 every 4 steps),
hard target sync every 200 updates, epsilon 1 -> 0.02 over 8k steps, Double DQN, MLP
256x256. Train with an ``EvalCallback`` that stops at a 20-episode mean of 475 (the
SB3 zoo's recipe: CartPole DQN oscillates after it first solves the task)."""

CATCH_CONFIG: dict[str, Any] = dict(
    network="mnih2013",
    learning_rate=1e-3,
    batch_size=32,
    buffer_size=10_000,
    learning_starts=500,
    train_freq=2,
    target_update_interval=100,
    exploration_steps=2_000,
    exploration_final_eps=0.05,
    gamma=0.95,
    eval_qmax_states=0,
)
"""Catch (tests/pixel_games.py) through the 2013 CNN on (4, 84, 84) uint8 stacks."""


@pytest.mark.slow
@pytest.mark.timeout(3600)  # the budget is in agent steps; a busy machine only takes longer
def test_cartpole_reaches_475() -> None:
    eval_env = Monitor(gym.make("CartPole-v1"))
    eval_env.reset(seed=1000)
    stop = StopTrainingOnRewardThreshold(reward_threshold=475)
    eval_cb = EvalCallback(
        eval_env, callback_on_new_best=stop, n_eval_episodes=20, eval_freq=2_500, verbose=0
    )
    agent = DQN("CartPole-v1", seed=0, device="cpu", **CARTPOLE_CONFIG)
    agent.learn(50_000, callback=eval_cb)
    assert eval_cb.best_mean_reward >= 475
    result = agent.evaluate(20, seed=5)
    assert result.mean >= 475, result


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_catch_is_learned_through_the_cnn() -> None:
    env = make_catch(seed=0)
    agent = DQN(env, seed=0, device="cpu", **CATCH_CONFIG)
    assert agent.observation_space.shape == (4, 84, 84)
    assert type(agent.replay_buffer).__name__ in ("NoneType", "FrameReplayBuffer")
    agent.learn(3_000)
    assert type(agent.replay_buffer).__name__ == "FrameReplayBuffer"
    result = agent.evaluate(50, env=make_catch(), seed=123)
    catch_rate = float(np.mean(np.array(result.scores) > 0))
    assert catch_rate >= 0.9, result
