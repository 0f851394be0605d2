"""Stable-Baselines3's own callback classes, unchanged, on dqn_agents.DQN."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.callbacks import (
    BaseCallback,
    CallbackList,
    CheckpointCallback,
    EvalCallback,
    EveryNTimesteps,
    ProgressBarCallback,
    StopTrainingOnMaxEpisodes,
    StopTrainingOnNoModelImprovement,
    StopTrainingOnRewardThreshold,
)
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.logger import configure
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from dqn_agents import DQN

SMALL: dict[str, Any] = dict(
    learning_starts=64,
    buffer_size=2_000,
    batch_size=16,
    mlp_hidden_sizes=(16, 16),
    eval_qmax_states=16,
)


def _agent(**kw: Any) -> DQN:
    return DQN("CartPole-v1", seed=0, **{**SMALL, **kw})


class Recorder(BaseCallback):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, int]] = []
        self.started = self.ended = False

    def _on_training_start(self) -> None:
        self.started = True
        assert self.locals["total_timesteps"] > 0

    def _on_step(self) -> bool:
        assert {"dones", "infos", "rewards", "new_obs", "actions"} <= set(self.locals)
        assert self.locals["dones"].shape == (self.training_env.num_envs,)
        self.seen.append((self.n_calls, self.num_timesteps))
        return True

    def _on_training_end(self) -> None:
        self.ended = True


def test_model_surface_for_callbacks() -> None:
    agent = _agent()
    env = agent.get_env()
    assert isinstance(env, VecEnv) and env.num_envs == 1
    assert env.get_attr("spec")[0].id == "CartPole-v1"
    assert agent.get_vec_normalize_env() is None
    with pytest.raises(RuntimeError, match="learn"):
        env.reset()
    rec = Recorder()
    agent.learn(100, callback=rec)
    assert rec.started and rec.ended
    assert rec.seen[0] == (1, 1) and rec.seen[-1] == (100, 100)
    assert agent.replay_buffer is not None


def test_function_callback_can_stop() -> None:
    calls = []

    def stop_at_30(locals_: dict[str, Any], globals_: dict[str, Any]) -> bool:
        calls.append(locals_["self"].num_timesteps)
        return len(calls) < 30

    agent = _agent().learn(1_000, callback=stop_at_30)
    assert agent.num_timesteps == 30


def test_evaluate_policy_works_on_agent() -> None:
    agent = _agent().learn(100)
    env = DummyVecEnv([lambda: Monitor(gym.make("CartPole-v1"))])
    mean, std = evaluate_policy(agent, env, n_eval_episodes=3)  # type: ignore[arg-type]
    assert mean > 0 and std >= 0


def test_eval_callback_and_reward_threshold(tmp_path: Path) -> None:
    agent = _agent()
    stop = StopTrainingOnRewardThreshold(reward_threshold=1.0, verbose=0)
    eval_cb = EvalCallback(
        Monitor(gym.make("CartPole-v1")),
        callback_on_new_best=stop,
        n_eval_episodes=2,
        eval_freq=50,
        best_model_save_path=str(tmp_path / "best"),
        log_path=str(tmp_path / "eval"),
        verbose=0,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Training and eval env are not of the same")
        agent.learn(1_000, callback=eval_cb)
    # any CartPole episode scores >= 1, so the first evaluation stops training
    assert agent.num_timesteps == 50
    assert eval_cb.best_mean_reward >= 1.0
    assert (tmp_path / "best" / "best_model.zip").is_file()
    assert DQN.load(tmp_path / "best" / "best_model.zip").num_timesteps == 50
    data = np.load(tmp_path / "eval" / "evaluations.npz")
    assert list(data["timesteps"]) == [50]


def test_stop_on_no_model_improvement() -> None:
    agent = _agent()
    stop = StopTrainingOnNoModelImprovement(max_no_improvement_evals=1, min_evals=0)
    eval_cb = EvalCallback(
        Monitor(gym.make("CartPole-v1")),
        callback_after_eval=stop,
        n_eval_episodes=1,
        eval_freq=20,
        deterministic=True,
        verbose=0,
    )
    # an untrained greedy policy on a fixed-seed eval env: no improvement quickly
    agent.learn(2_000, callback=eval_cb)
    assert agent.num_timesteps < 2_000
    assert agent.num_timesteps % 20 == 0


def test_stop_on_max_episodes() -> None:
    agent = _agent()
    cb = StopTrainingOnMaxEpisodes(max_episodes=3)
    agent.learn(10_000, callback=cb)
    assert cb.n_episodes == 3
    assert agent.episode_num == 3


def test_checkpoint_callback_with_replay(tmp_path: Path) -> None:
    agent = _agent()
    cb = CheckpointCallback(
        save_freq=40, save_path=str(tmp_path), name_prefix="cp", save_replay_buffer=True
    )
    agent.learn(120, callback=cb)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "cp_120_steps.zip" in names and "cp_replay_buffer_120_steps.npz" in names
    # SB3 asks for "..._steps.pkl"; the replay is a numpy archive, named so
    assert "cp_replay_buffer_120_steps.pkl" not in names
    assert (tmp_path / "cp_replay_buffer_120_steps.npz").read_bytes()[:2] == b"PK"
    loaded = DQN.load(tmp_path / "cp_80_steps.zip", env=gym.make("CartPole-v1"))
    loaded.load_replay_buffer(tmp_path / "cp_replay_buffer_80_steps.pkl")
    assert loaded.num_timesteps == 80 and len(loaded.replay_buffer) > 0


def test_every_n_timesteps_and_callback_list() -> None:
    hits: list[int] = []

    class Hit(BaseCallback):
        def _on_step(self) -> bool:
            hits.append(self.num_timesteps)
            return True

    rec = Recorder()
    agent = _agent()
    agent.learn(100, callback=CallbackList([EveryNTimesteps(25, Hit()), rec]))
    assert hits == [25, 50, 75, 100]
    assert len(rec.seen) == 100


def test_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    pytest.importorskip("rich")
    bar = ProgressBarCallback()
    _agent().learn(50, callback=bar)
    assert bar.pbar.n == 50
    _agent().learn(20, progress_bar=True)


def test_logger_records_raw_scores_and_metrics(tmp_path: Path) -> None:
    agent = _agent(learning_starts=200, eval_qmax_states=32)
    agent.set_logger(configure(str(tmp_path), ["csv"]))
    agent.learn(600, log_interval=2)
    import csv

    rows = list(csv.DictReader((tmp_path / "progress.csv").open()))
    assert rows
    keys = set(rows[-1])
    for key in (
        "rollout/ep_rew_mean",
        "rollout/exploration_rate",
        "time/fps",
        "train/loss",
        "train/avg_max_q",
    ):
        assert key in keys
    scores = [float(r["rollout/ep_rew_mean"]) for r in rows if r["rollout/ep_rew_mean"]]
    assert all(s >= 8 for s in scores)  # CartPole episodes last >= 8 steps
