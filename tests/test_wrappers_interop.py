"""Our Atari envs with the rest of the ecosystem, on real ROMs: Gymnasium's env checker and
vector envs, Stable-Baselines3 (DQN, PPO) and PettingZoo's multi-agent Atari."""

from __future__ import annotations

import os
import warnings

import ale_py
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

from dqn_agents.wrappers import make_atari, make_atari_vector

# PettingZoo warns about a future registry API on every import of an env module.
PZ_WARNING = pytest.mark.filterwarnings("ignore:The old environment creation API")
SB3_KW = {"buffer_size": 1000, "learning_starts": 100, "verbose": 0, "device": "cpu"}


@pytest.mark.parametrize("env_id", ["ALE/Breakout-v5", "PongNoFrameskip-v4"])
def test_gymnasium_env_checker_passes(env_id: str) -> None:
    env = make_atari(env_id)
    with warnings.catch_warnings():
        # The checker only warns that wrappers are applied: checking them is the point.
        warnings.filterwarnings("ignore", message=".*different from the unwrapped.*")
        # Render checks do not apply: no render_mode was asked for.
        check_env(env, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("vector_cls", [SyncVectorEnv, AsyncVectorEnv])
def test_gymnasium_vector_envs_step(vector_cls: type) -> None:
    envs = vector_cls(
        [lambda: make_atari("ALE/Pong-v5") for _ in range(2)],
        autoreset_mode=AutoresetMode.SAME_STEP,
    )
    try:
        obs, _ = envs.reset(seed=0)
        assert obs.shape == (2, 4, 84, 84) and obs.dtype == np.uint8
        for _ in range(30):
            obs, rewards, terminated, _truncated, _ = envs.step(envs.action_space.sample())
        assert envs.observation_space.contains(obs)
        assert rewards.shape == (2,) and terminated.dtype == np.bool_
    finally:
        envs.close()


@pytest.fixture
def sb3():
    """SB3 with torch on one thread: on a shared 2-core box two threads are ~7x slower."""
    torch = pytest.importorskip("torch")
    module = pytest.importorskip("stable_baselines3")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield module
    torch.set_num_threads(threads)


def _sb3_venv(kind: str, env_id: str):
    """``single``: SB3's DummyVecEnv of make_atari; ``vector``: our ALE fast path (2 envs)."""
    from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

    if kind == "single":
        return DummyVecEnv([lambda: make_atari(env_id)])

    class GymnasiumToSB3(VecEnv):
        """SB3's VecEnv API over a SAME_STEP gymnasium VectorEnv (what an adapter needs)."""

        def __init__(self, envs) -> None:
            self.envs = envs
            super().__init__(envs.num_envs, envs.single_observation_space, envs.single_action_space)

        def reset(self):
            obs, _ = self.envs.reset(seed=self._seeds[0] if self._seeds[0] is not None else None)
            self._reset_seeds()
            return obs

        def step_async(self, actions) -> None:
            self._actions = np.asarray(actions)

        def step_wait(self):
            obs, rewards, terminated, truncated, info = self.envs.step(self._actions)
            dones = terminated | truncated
            infos = [{} for _ in range(self.num_envs)]
            for i in np.flatnonzero(dones):
                infos[i]["terminal_observation"] = info["final_obs"][i]
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            if "_episode" in info:
                for i in np.flatnonzero(info["_episode"]):
                    infos[i]["episode"] = {
                        "r": info["episode"]["r"][i],
                        "l": info["episode"]["l"][i],
                    }
            return obs, rewards.astype(np.float32), dones, infos

        def close(self) -> None:
            self.envs.close()

        def get_attr(self, attr_name, indices=None):
            return [getattr(self.envs, attr_name)] * self.num_envs

        def set_attr(self, attr_name, value, indices=None) -> None:
            raise NotImplementedError

        def env_method(self, method_name, *args, indices=None, **kwargs):
            raise NotImplementedError

        def env_is_wrapped(self, wrapper_class, indices=None):
            return [False] * self.num_envs

    envs = make_atari_vector(env_id, 2, backend="ale")
    return GymnasiumToSB3(envs)


@pytest.mark.parametrize("kind", ["single", "vector"])
def test_sb3_dqn_trains_on_our_envs(sb3, kind: str) -> None:
    venv = _sb3_venv(kind, "ALE/Pong-v5")
    model = sb3.DQN("CnnPolicy", venv, seed=0, **SB3_KW)
    model.learn(256)
    assert model.num_timesteps >= 256
    action, _ = model.predict(venv.reset(), deterministic=True)
    assert action.shape == (venv.num_envs,)
    venv.close()


@pytest.mark.parametrize("kind", ["single", "vector"])
def test_sb3_ppo_trains_on_our_envs(sb3, kind: str) -> None:
    venv = _sb3_venv(kind, "ALE/Breakout-v5" if kind == "single" else "ALE/Pong-v5")
    model = sb3.PPO(
        "CnnPolicy",
        venv,
        n_steps=128 // venv.num_envs,
        batch_size=64,
        n_epochs=1,
        seed=0,
        device="cpu",
    )
    model.learn(256)
    assert model.num_timesteps >= 256
    venv.close()


@PZ_WARNING
@pytest.mark.parametrize("env_id", ["pong_v3", "boxing_v2"])
def test_pettingzoo_atari_through_our_wrapper(env_id: str) -> None:
    pz = pytest.importorskip("dqn_agents.wrappers.pettingzoo")
    env = pz.make_pettingzoo_atari(env_id)
    obs, infos = env.reset(seed=0)
    assert sorted(obs) == ["first_0", "second_0"] == sorted(infos)
    for _ in range(150):
        actions = {a: env.action_space(a).sample() for a in env.agents}
        obs, rewards, _terminations, _truncations, infos = env.step(actions)
        for agent, o in obs.items():
            assert o.shape == (4, 84, 84) and o.dtype == np.uint8
            assert env.observation_space(agent).contains(o)
        assert set(rewards.values()) <= {-1.0, 0.0, 1.0}
        if not env.agents:
            break
    env.close()


@PZ_WARNING
def test_pettingzoo_wrapper_on_user_built_env_and_api_test() -> None:
    pz = pytest.importorskip("dqn_agents.wrappers.pettingzoo")
    from pettingzoo.atari import pong_v3
    from pettingzoo.test import parallel_api_test

    roms = os.path.dirname(str(ale_py.roms.get_rom_path("pong")))
    env = pz.AtariParallelWrapper(
        pong_v3.parallel_env(auto_rom_install_path=roms), noop_max=0, max_episode_frames=400
    )
    parallel_api_test(env, num_cycles=50)
    env.reset(seed=1)
    steps = 0
    while env.agents:
        _obs, _, _terminations, truncations, infos = env.step({a: 0 for a in env.agents})
        steps += 1
    assert steps == 100  # 400 frames / frame skip 4
    assert all(truncations.values())
    assert {"r", "l"} <= set(infos["first_0"]["episode"])
    with pytest.raises(ValueError, match="episodic_life=True"):
        pz.AtariParallelWrapper(
            pong_v3.parallel_env(auto_rom_install_path=roms), episodic_life=True
        )
    with pytest.raises(ValueError, match="pong_v3"):
        pz.make_pettingzoo_atari("pong_v2")


def test_vector_env_registered_ids_are_gymnasium_ids() -> None:
    # Our vector fast path is a gymnasium VectorEnv: the standard wrappers accept it.
    envs = make_atari_vector("ALE/Pong-v5", 2)
    wrapped = gym.wrappers.vector.RecordEpisodeStatistics(envs)
    wrapped.reset(seed=0)
    wrapped.step(envs.action_space.sample())
    wrapped.close()


def test_docstring_examples_run() -> None:
    import doctest
    import importlib

    for name in ("ids", "atari", "vector", "pettingzoo"):
        module = importlib.import_module(f"dqn_agents.wrappers.{name}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
        assert result.attempted > 0


@pytest.mark.parametrize("backend", ["ale", "sync"])
def test_vector_reset_takes_every_gymnasium_seed_form(backend: str) -> None:
    """An int or one seed per sub-env (None: unseeded) on both backends, real ROM."""

    def play(seed: object) -> np.ndarray:
        envs = make_atari_vector("BreakoutNoFrameskip-v4", 2, backend=backend)
        envs.reset(seed=seed)
        for t in range(40):
            obs, *_ = envs.step(np.array([1 + t % 3, 3 - t % 3]))
        envs.close()
        return obs

    reference = play(3)
    if backend == "ale":  # Gymnasium's own SyncVectorEnv takes Python ints only
        np.testing.assert_array_equal(play(np.int64(3)), reference)
    np.testing.assert_array_equal(play([3, 4]), reference)  # sub-env i gets seed + i
    np.testing.assert_array_equal(play([3, None])[0], reference[0])
