"""DQN construction, acting, vector envs, resume, NaN and Ctrl-C safety."""

from __future__ import annotations

import os
import signal
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from dqn_agents import DQN, DQNConfig
from dqn_agents.agent import NonFiniteLossError
from dqn_agents.wrappers import make_atari, make_atari_vector

SMALL: dict[str, Any] = dict(
    learning_starts=100,
    buffer_size=2_000,
    batch_size=16,
    mlp_hidden_sizes=(16, 16),
    eval_qmax_states=16,
)


# ---------------------------------------------------------------- construction
def test_construct_from_id_env_and_presets() -> None:
    agent = DQN("CartPole-v1", **SMALL)
    assert agent.q_net.describe()["kind"] == "mlp"
    assert agent.env_id == "CartPole-v1" and agent.n_envs == 1
    agent = DQN(gym.make("CartPole-v1"), "nature2015", network="mlp", **SMALL)
    assert agent.config.optimizer == "rmsprop" and agent.env_id == "CartPole-v1"
    cfg = DQNConfig(learning_rate=3e-4)
    assert DQN("CartPole-v1", cfg).config is cfg
    with pytest.raises(ValueError, match="preset"):
        DQN("CartPole-v1", "nature2016")


def test_unknown_hyperparameter_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="learning_rate"):
        DQN("CartPole-v1", learnig_rate=1e-3)


def test_non_discrete_action_space() -> None:
    with pytest.raises(ValueError, match="Discrete action space"):
        DQN("Pendulum-v1")


def test_observations_the_network_cannot_take() -> None:
    class DictObs(gym.Env[Any, Any]):
        observation_space = gym.spaces.Dict({"a": gym.spaces.Discrete(3)})
        action_space = gym.spaces.Discrete(2)

    with pytest.raises(ValueError, match="Box observation space"):
        DQN(DictObs())

    class HWC(gym.Env[Any, Any]):
        observation_space = gym.spaces.Box(0, 255, (84, 84, 4), np.uint8)
        action_space = gym.spaces.Discrete(2)

    with pytest.raises(ValueError, match="channel-first"):
        DQN(HWC())


def test_atari_id_gets_contract_and_nature_cnn() -> None:
    agent = DQN("ALE/Breakout-v5", learning_starts=10, buffer_size=100)
    assert agent.observation_space.shape == (4, 84, 84)
    assert agent.q_net.describe()["kind"] == "nature"
    assert agent.wrapper_options is not None and agent.wrapper_options["frame_skip"] == 4
    agent = DQN("ALE/Breakout-v5", wrapper_options={"frame_stack": 2}, buffer_size=100)
    assert agent.observation_space.shape == (2, 84, 84)


# ---------------------------------------------------------------- acting
def test_predict_shapes_and_exploration() -> None:
    agent = DQN("CartPole-v1", seed=0, **SMALL)
    single, state = agent.predict(np.zeros(4, np.float32), deterministic=True)
    assert single.shape == () and state is None
    batch, _ = agent.predict(np.zeros((5, 4), np.float32))
    assert batch.shape == (5,) and batch.dtype == np.int64
    with pytest.raises(ValueError, match="shape"):
        agent.predict(np.zeros(3, np.float32))
    agent.exploration_rate = 1.0
    actions, _ = agent.predict(np.zeros((200, 4), np.float32))
    assert set(actions.tolist()) == {0, 1}


# ---------------------------------------------------------------- learning
def test_pong_learns_3000_steps_on_cpu(tmp_path: Path) -> None:
    agent = DQN(
        "ALE/Pong-v5",
        learning_starts=2_900,
        buffer_size=4_000,
        seed=0,
        device="cpu",
        eval_qmax_states=32,
    )
    agent.learn(3_000)
    assert agent.num_timesteps == 3_000
    assert agent.n_updates == 25
    assert agent.average_max_q() is not None
    path = agent.save(tmp_path / "pong")
    loaded = DQN.load(path)
    obs = np.asarray(agent.last_obs)
    np.testing.assert_array_equal(
        loaded.predict(obs, deterministic=True)[0], agent.predict(obs, deterministic=True)[0]
    )


def test_vector_envs_keep_the_replay_ratio() -> None:
    agent = DQN("CartPole-v1", num_envs=4, train_freq=4, seed=0, **SMALL)
    assert agent.get_env().num_envs == 4  # type: ignore[union-attr]
    agent.learn(400)
    assert agent.num_timesteps == 400
    assert agent.n_updates == (400 - 100) // 4
    single = DQN("CartPole-v1", train_freq=4, seed=0, **SMALL).learn(400)
    assert single.n_updates == agent.n_updates


def test_atari_vector_env() -> None:
    agent = DQN("ALE/Pong-v5", num_envs=2, learning_starts=200, buffer_size=1_000, seed=0)
    agent.learn(240)
    assert agent.num_timesteps == 240 and agent.n_updates == 10


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_user_vector_env_autoreset_modes(mode: AutoresetMode) -> None:
    env = SyncVectorEnv(
        [lambda: gym.wrappers.RecordEpisodeStatistics(gym.make("CartPole-v1"))] * 2,
        autoreset_mode=mode,
    )
    agent = DQN(env, seed=0, **SMALL)
    agent.learn(600)
    assert agent.episode_num > 5
    assert agent.replay_buffer is not None and agent.replay_buffer.capacity >= 600
    stored = len(agent.replay_buffer)  # every stored transition is still there
    if mode == AutoresetMode.NEXT_STEP:
        # every finished episode costs one skipped (reset-only) step for that env
        assert stored < 600
    else:
        assert stored == 600


# ---------------------------------------------------------------- resume
RESUME: dict[str, Any] = dict(
    learning_starts=100,
    buffer_size=5_000,
    batch_size=16,
    mlp_hidden_sizes=(32, 32),
    target_update_interval=40,
    exploration_steps=400,
    train_freq=2,
    eval_qmax_states=0,
)


def test_resume_is_bit_exact(tmp_path: Path) -> None:
    straight = DQN(gym.make("CartPole-v1"), seed=3, device="cpu", **RESUME).learn(600)

    env = gym.make("CartPole-v1")
    first = DQN(env, seed=3, device="cpu", **RESUME).learn(300)
    path = first.save(tmp_path / "half")
    first.save_replay_buffer(tmp_path / "half_replay.npz")
    del first
    torch.manual_seed(12345)  # the load restores the RNG states
    resumed = DQN.load(path, env=env, device="cpu")
    resumed.load_replay_buffer(tmp_path / "half_replay.npz")
    assert resumed.num_timesteps == 300
    resumed.learn(300, reset_num_timesteps=False)

    assert resumed.num_timesteps == straight.num_timesteps == 600
    assert resumed.n_updates == straight.n_updates
    for key, value in straight.q_net.state_dict().items():
        assert torch.equal(value, resumed.q_net.state_dict()[key]), key
    assert straight.q_net_target is not None and resumed.q_net_target is not None
    for key, value in straight.q_net_target.state_dict().items():
        assert torch.equal(value, resumed.q_net_target.state_dict()[key]), key
    s_opt, r_opt = straight.optimizer.state_dict(), resumed.optimizer.state_dict()
    for pid, state in s_opt["state"].items():
        for name, value in state.items():
            assert torch.equal(value, r_opt["state"][pid][name]), (pid, name)


def test_module_prefixed_ids_are_built_like_gym_make() -> None:
    """``"module:EnvId"`` (gym.make imports the module first) still works; typos are clear."""
    agent = DQN("gymnasium.envs.classic_control:CartPole-v1", seed=0, **SMALL).learn(110)
    assert agent.num_timesteps == 110
    with pytest.raises(ValueError, match="Unknown env id 'Cartpole-v9'"):
        DQN("Cartpole-v9")


def test_load_on_a_fresh_env_resets(tmp_path: Path) -> None:
    agent = DQN("CartPole-v1", seed=0, **SMALL).learn(150)
    fresh = gym.make("CartPole-v1")
    loaded = DQN.load(agent.save(tmp_path / "fresh_env_test"), env=fresh)
    loaded.learn(50, reset_num_timesteps=False)
    assert loaded.num_timesteps == 200


ATARI_SMALL: dict[str, Any] = dict(
    learning_starts=100, buffer_size=2_000, batch_size=8, train_freq=8, eval_qmax_states=0
)


class _ResetObs(BaseCallback):
    """Records the observation every learn() call starts from (after its env reset)."""

    def __init__(self) -> None:
        super().__init__()
        self.start_obs: list[np.ndarray] = []

    def _on_training_start(self) -> None:
        self.start_obs.append(self.model.last_obs.copy())

    def _on_step(self) -> bool:
        return True


def test_learn_twice_on_atari_cuts_the_stored_episode() -> None:
    """A second learn() (reset_num_timesteps=True resets the env mid-game), real Pong ROM.

    The frame replay must end the stored game there (a truncation) and store the reset
    observation as the start of a new one, instead of refusing the discontinuity.
    """
    agent = DQN("PongNoFrameskip-v4", seed=0, device="cpu", **ATARI_SMALL)
    starts = _ResetObs()
    agent.learn(150, callback=starts)
    replay = agent.replay_buffer
    cut = int(replay.head[0])
    assert replay.in_episode[0] and not replay.truncated[0, cut - 1]
    agent.learn(150, callback=starts)
    assert agent.num_timesteps == 150 and len(replay) == 300
    assert replay.truncated[0, cut - 1]  # the first run's last transition bootstraps
    second = np.flatnonzero(replay.valid[0])
    second = second[second >= cut]
    batch = replay.get_batch(second)
    np.testing.assert_array_equal(batch.obs[0], starts.start_obs[1][0])
    replay.sample(8, np.random.default_rng(0))


def test_resume_on_a_fresh_atari_env_with_the_replay(tmp_path: Path) -> None:
    """Checkpoint (model + replay), load onto a new env, continue: the resume of long runs."""
    first = DQN("PongNoFrameskip-v4", seed=0, device="cpu", **ATARI_SMALL).learn(150)
    path = first.save(tmp_path / "pong")
    first.save_replay_buffer(tmp_path / "pong_replay.npz")
    loaded = DQN.load(path, env="PongNoFrameskip-v4", device="cpu")
    loaded.load_replay_buffer(tmp_path / "pong_replay.npz")
    updates = loaded.n_updates
    loaded.learn(100, reset_num_timesteps=False)
    assert loaded.num_timesteps == 250 and len(loaded.replay_buffer) == 250
    assert loaded.n_updates > updates
    assert loaded.replay_buffer.truncated[0, 149]


def test_continue_on_an_env_reset_elsewhere_starts_a_new_game(tmp_path: Path) -> None:
    """The live env moved since the saved observation (the user reset it): no stale step."""
    env = make_atari("PongNoFrameskip-v4")
    agent = DQN(env, seed=0, device="cpu", **ATARI_SMALL).learn(150)
    path = agent.save(tmp_path / "pong")
    env.reset(seed=123)
    loaded = DQN.load(path, env=env, device="cpu")
    with pytest.warns(RuntimeWarning, match="learn starts a new game"):
        loaded.learn(100, reset_num_timesteps=False)
    assert loaded.num_timesteps == 250 and len(loaded.replay_buffer) == 100

    # Untouched, the same live env continues without a warning (the bit-exact resume).
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        loaded.learn(50, reset_num_timesteps=False)
    assert loaded.num_timesteps == 300


def test_peek_obs_reads_the_live_frame_stack() -> None:
    import ale_py
    from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

    from dqn_agents.envs import EnvAdapter

    gym.register_envs(ale_py)
    gymnasium_stack = FrameStackObservation(
        AtariPreprocessing(gym.make("PongNoFrameskip-v4"), noop_max=0), 4, padding_type="zero"
    )
    for env in (make_atari("PongNoFrameskip-v4"), gymnasium_stack):
        adapter = EnvAdapter(env)
        assert adapter.peek_obs() is None  # not reset yet
        obs = adapter.reset(seed=0)
        np.testing.assert_array_equal(adapter.peek_obs(), obs)
        for _ in range(3):
            step = adapter.step(np.array([1]))
        np.testing.assert_array_equal(adapter.peek_obs(), step.obs)
    cartpole = EnvAdapter(gym.make("CartPole-v1"))
    cartpole.reset(seed=0)
    assert cartpole.peek_obs() is None  # no frame stack: unknown


def test_evaluate_on_the_training_env_keeps_it_open_and_training_goes_on() -> None:
    env = make_atari("PongNoFrameskip-v4")
    agent = DQN(env, seed=0, device="cpu", **ATARI_SMALL).learn(150)
    result = agent.evaluate(1, env=env, seed=1)
    assert len(result.scores) == 1 and -21 <= result.scores[0] <= 21
    agent.learn(100, reset_num_timesteps=False)  # starts a new game, no stale transition
    assert agent.num_timesteps == 250 and len(agent.replay_buffer) == 250
    env.step(0)  # the caller's env was not closed


@pytest.mark.slow
def test_evaluate_video_is_the_first_evaluated_game(tmp_path: Path) -> None:
    """The mp4 of ``evaluate(video_path=...)`` shows the game that was scored (real ROM)."""
    pytest.importorskip("imageio_ffmpeg")
    import imageio.v2 as imageio

    agent = DQN("PongNoFrameskip-v4", buffer_size=100, seed=0, device="cpu")
    out = tmp_path / "eval.mp4"
    result = agent.evaluate(1, seed=0, epsilon=0.2, video_path=out)
    reader = imageio.get_reader(str(out))
    frames = reader.count_frames()
    reader.close()
    assert frames == result.lengths[0]  # the first screen, then one per step until the end
    again = agent.evaluate(1, seed=0, epsilon=0.2)  # same seed, no video: the same game
    assert again.scores == result.scores and again.lengths == result.lengths


def test_a_vector_model_loads_onto_one_env(tmp_path: Path) -> None:
    path = DQN("PongNoFrameskip-v4", num_envs=2, seed=0, device="cpu", **ATARI_SMALL).save(
        tmp_path / "pong2"
    )
    loaded = DQN.load(path, env=make_atari("PongNoFrameskip-v4"), device="cpu")
    assert loaded.n_envs == 1 and loaded.config.num_envs == 1
    loaded.learn(120)
    assert loaded.num_timesteps == 120


def test_set_env_with_another_env_count_is_refused_while_the_replay_holds_data() -> None:
    agent = DQN("PongNoFrameskip-v4", num_envs=2, seed=0, device="cpu", **ATARI_SMALL)
    agent.learn(120)
    with pytest.raises(ValueError, match="replay memory holds 2 env streams"):
        agent.set_env(make_atari_vector("PongNoFrameskip-v4", 3))
    with pytest.raises(ValueError, match="got 1 env"):
        agent.set_env(make_atari("PongNoFrameskip-v4"))
    assert agent.n_envs == 2
    agent.replay_buffer = None  # the user drops the stored transitions on purpose
    agent.set_env(make_atari_vector("PongNoFrameskip-v4", 3))
    agent.learn(120)
    assert agent.n_envs == 3 and agent.replay_buffer.num_envs == 3


def test_a_replay_of_another_game_is_refused(tmp_path: Path) -> None:
    pong = DQN("PongNoFrameskip-v4", seed=0, device="cpu", **ATARI_SMALL).learn(120)
    pong.save_replay_buffer(tmp_path / "pong.npz")
    breakout = DQN("BreakoutNoFrameskip-v4", seed=0, device="cpu", **ATARI_SMALL)
    with pytest.raises(ValueError, match=r"recorded with game='pong'.*game='breakout'"):
        breakout.load_replay_buffer(tmp_path / "pong.npz")
    # The same game under another id (v5: sticky actions) is the same data.
    v5 = DQN("ALE/Pong-v5", seed=0, device="cpu", **ATARI_SMALL)
    v5.load_replay_buffer(tmp_path / "pong.npz")
    assert len(v5.replay_buffer) == 120


def test_sb3_evaluate_policy_scores_full_raw_games_on_the_eval_env() -> None:
    """SB3's evaluate_policy / EvalCallback count episodes by ``done``: on the documented
    eval env (no episodic life, no clipping, SB3's Monitor) an episode is one full game
    with its raw score, the same as DQN.evaluate reports (real SpaceInvaders ROM: lives,
    rewards of 5-30)."""
    game = "SpaceInvadersNoFrameskip-v4"
    agent = DQN(game, seed=0, device="cpu", **ATARI_SMALL)
    with torch.no_grad():  # a policy that always fires, so that the game scores points
        agent.q_net.head.weight.zero_()
        agent.q_net.head.bias.copy_(torch.eye(agent.n_actions)[1])
    vec = DummyVecEnv([lambda: Monitor(make_atari(game, episodic_life=False, clip_rewards=False))])
    vec.seed(3)
    rewards, lengths = evaluate_policy(agent, vec, n_eval_episodes=1, return_episode_rewards=True)
    ours = agent.evaluate(1, env=make_atari(game, episodic_life=False, clip_rewards=False), seed=3)
    assert rewards == [ours.scores[0]] and lengths == [ours.lengths[0]]
    assert ours.scores[0] % 5 == 0 and ours.scores[0] > 0  # raw points, not clipped to +-1


# ---------------------------------------------------------------- failure safety
def test_nan_loss_names_the_step() -> None:
    env = gym.wrappers.TransformReward(gym.make("CartPole-v1"), lambda r: float("nan"))
    agent = DQN(env, seed=0, train_freq=4, **SMALL)
    with pytest.raises(NonFiniteLossError, match="at step 104") as info:
        agent.learn(1_000)
    assert isinstance(info.value, FloatingPointError)
    assert agent.num_timesteps == 104


def test_keyboard_interrupt_leaves_a_consistent_agent(tmp_path: Path) -> None:
    def interrupt(locals_: dict[str, Any], globals_: dict[str, Any]) -> bool:
        if locals_["self"].num_timesteps == 150:
            raise KeyboardInterrupt
        return True

    agent = DQN("CartPole-v1", seed=0, **SMALL)
    with pytest.raises(KeyboardInterrupt):
        agent.learn(1_000, callback=interrupt)
    assert agent.num_timesteps == 150
    assert len(agent.replay_buffer) == 150
    assert torch.get_num_threads() >= 1
    path = agent.save(tmp_path / "interrupted")
    loaded = DQN.load(path, env=gym.make("CartPole-v1"))
    assert loaded.num_timesteps == 150
    loaded.learn(50, reset_num_timesteps=False)
    assert loaded.num_timesteps == 200


def test_sigint_is_deferred_to_a_step_boundary() -> None:
    def send_sigint(locals_: dict[str, Any], globals_: dict[str, Any]) -> bool:
        if locals_["self"].num_timesteps == 120:
            os.kill(os.getpid(), signal.SIGINT)
        return True

    agent = DQN("CartPole-v1", seed=0, **SMALL)
    # Python's own handler, as in a terminal (a background job may start with SIGINT ignored).
    outer = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            agent.learn(1_000, callback=send_sigint)
        assert agent.num_timesteps == 120
        assert agent.n_updates == (120 - 100) // 4
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, outer)


def test_ignored_sigint_stays_ignored_while_learning() -> None:
    """Under ``nohup`` (SIGINT ignored) learn does not start listening to Ctrl-C."""
    seen: list[Any] = []

    def record(locals_: dict[str, Any], globals_: dict[str, Any]) -> bool:
        seen.append(signal.getsignal(signal.SIGINT))
        return True

    outer = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        DQN("CartPole-v1", seed=0, **SMALL).learn(20, callback=record)
        assert seen and all(handler is signal.SIG_IGN for handler in seen)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, outer)


def test_load_overrides_reach_the_optimizer(tmp_path: Path) -> None:
    """``DQN.load(path, learning_rate=...)`` trains with the new rate, not the saved one."""
    path = DQN("CartPole-v1", seed=0, learning_rate=1e-3, **SMALL).learn(150).save(tmp_path / "a")
    same = DQN.load(path)
    assert same.optimizer.param_groups[0]["lr"] == 1e-3 and same.optimizer.state
    slower = DQN.load(path, learning_rate=1e-5)
    assert slower.config.learning_rate == 1e-5
    assert slower.optimizer.param_groups[0]["lr"] == 1e-5
    assert slower.optimizer.state  # Adam's moments are kept: only the rate changed
    slower.learn(60, reset_num_timesteps=False)
    assert slower.optimizer.param_groups[0]["lr"] == 1e-5

    with pytest.warns(RuntimeWarning, match="optimizer changed on load"):
        rms = DQN.load(path, optimizer="rmsprop")
    assert isinstance(rms.optimizer, torch.optim.RMSprop) and not rms.optimizer.state
    rms.learn(60, reset_num_timesteps=False)  # used to fail: KeyError 'square_avg'
    assert rms.num_timesteps == 210
