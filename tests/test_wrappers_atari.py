"""The Atari contract on real ROMs: equivalence with Gymnasium's and ALE's preprocessing,
random-policy runs, ids and sticky actions, vector-env conventions."""

from __future__ import annotations

import ale_py
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

from dqn_agents.wrappers import (
    AtariOptions,
    AtariVectorAdapter,
    make_atari,
    make_atari_vector,
    wrap_atari,
)

gym.register_envs(ale_py)

# Deterministic settings shared by all three implementations.
PLAIN = {
    "noop_max": 0,
    "repeat_action_probability": 0.0,
    "episodic_life": False,
    "fire_reset": False,
    "clip_rewards": False,
}


def _reference(game: str) -> gym.Env:
    env = gym.make(f"ALE/{game}-v5", frameskip=1, repeat_action_probability=0.0)
    return FrameStackObservation(AtariPreprocessing(env, noop_max=0), 4, padding_type="zero")


@pytest.mark.parametrize("game", ["Breakout", "Pong"])
def test_single_vector_and_gymnasium_are_byte_identical(game: str) -> None:
    steps = 500 if game == "Breakout" else 300
    ours = make_atari(f"ALE/{game}-v5", **PLAIN)
    ref = _reference(game)
    vec = make_atari_vector(f"ALE/{game}-v5", 1, backend="ale", **PLAIN)
    assert isinstance(vec, AtariVectorAdapter)
    o1, _ = ours.reset(seed=7)
    o2, _ = ref.reset(seed=7)
    o3, _ = vec.reset(seed=7)
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(o1, o3[0])
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(steps):
        a = int(rng.integers(ours.action_space.n))
        s1 = ours.step(a)
        s2 = ref.step(a)
        obs3, r3, te3, tr3, info3 = vec.step(np.array([a]))
        assert s1[0].tobytes() == s2[0].tobytes()
        assert s1[1:4] == s2[1:4]
        assert (float(r3[0]), bool(te3[0]), bool(tr3[0])) == s1[1:4]
        if s1[2] or s1[3]:
            ends += 1
            # SAME_STEP: the vector env shows the final frame stack in info.
            assert info3["final_obs"][0].tobytes() == s1[0].tobytes()
            assert info3["episode"]["r"][0] == s1[4]["episode"]["r"]
            o1, _ = ours.reset()
            o2, _ = ref.reset()
            np.testing.assert_array_equal(o1, o2)
        np.testing.assert_array_equal(obs3[0], o1 if (s1[2] or s1[3]) else s1[0])
    if game == "Breakout":
        assert ends >= 2  # game overs were compared too


def test_vector_fast_path_matches_single_env_with_episodic_life() -> None:
    opts = {**PLAIN, "episodic_life": True, "clip_rewards": True}
    single = make_atari("ALE/Breakout-v5", **opts)
    vec = make_atari_vector("ALE/Breakout-v5", 1, backend="ale", **opts)
    o1, _ = single.reset(seed=0)
    o3, _ = vec.reset(seed=0)
    np.testing.assert_array_equal(o1, o3[0])
    rng = np.random.default_rng(1)
    life_losses = game_overs = 0
    for _ in range(500):
        a = int(rng.integers(4))
        o1, r1, te1, tr1, info1 = single.step(a)
        o3, r3, te3, tr3, info3 = vec.step(np.array([a]))
        assert (r1, te1, tr1) == (r3[0], te3[0], tr3[0])
        assert info1["game_over"] == info3["game_over"][0]
        if te1 or tr1:
            np.testing.assert_array_equal(info3["final_obs"][0], o1)
            if info1["game_over"]:
                game_overs += 1
                assert info3["_episode"][0]
                assert info3["episode"]["r"][0] == info1["episode"]["r"]
            else:
                life_losses += 1
                assert "episode" not in info1 and not info3.get("_episode", [False])[0]
            o1, _ = single.reset()
        np.testing.assert_array_equal(o1, o3[0])
    assert life_losses >= 3 and game_overs >= 1


@pytest.mark.parametrize(
    ("game", "episodic_life"), [("Pong", True), ("Breakout", False), ("SpaceInvaders", True)]
)
@pytest.mark.slow
def test_vector_fast_path_matches_single_env_with_fire_reset(
    game: str, episodic_life: bool
) -> None:
    # Default options but no-ops and sticky actions: both press FIRE for one frame at reset.
    opts = {"noop_max": 0, "repeat_action_probability": 0.0, "episodic_life": episodic_life}
    if game == "SpaceInvaders":  # lives + FIRE: ALE cannot fire after a life loss
        opts["fire_reset"] = False
    single = make_atari(game, **opts)
    vec = make_atari_vector(game, 1, backend="ale", **opts)
    o1, _ = single.reset(seed=0)
    o3, _ = vec.reset(seed=0)
    np.testing.assert_array_equal(o1, o3[0])
    n = single.action_space.n
    for t in range(400):
        o1, r1, te1, tr1, _ = single.step(t % n)
        o3, r3, te3, tr3, _ = vec.step(np.array([t % n]))
        assert (r1, te1, tr1) == (r3[0], te3[0], tr3[0])
        if te1 or tr1:
            o1, _ = single.reset()
        np.testing.assert_array_equal(o1, o3[0])


@pytest.mark.parametrize("game", ["Pong", "Breakout"])
@pytest.mark.slow
def test_random_policy_2000_steps(game: str) -> None:
    env = make_atari(f"ALE/{game}-v5")
    obs, _ = env.reset(seed=0)
    rewards, scores = set(), []
    for _ in range(2000):
        assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        rewards.add(reward)
        if "episode" in info:
            scores.append(info["episode"]["r"])
        if terminated or truncated:
            obs, _ = env.reset()
    assert rewards <= {-1.0, 0.0, 1.0}
    assert scores, "a full game ends within 2000 random steps"
    if game == "Pong":
        assert all(-21 <= s <= 21 and s == int(s) for s in scores)  # full-game scores
    else:
        assert all(s == int(s) >= 0 for s in scores)


@pytest.mark.parametrize(
    ("env_id", "sticky"),
    [
        ("ALE/Pong-v5", 0.25),
        ("Pong", 0.25),
        ("space_invaders", 0.25),
        ("PongNoFrameskip-v4", 0.0),
    ],
)
def test_ids_and_sticky_action_defaults(env_id: str, sticky: float) -> None:
    env = make_atari(env_id)
    ale = env.unwrapped.ale
    assert ale.getFloat("repeat_action_probability") == pytest.approx(sticky)
    assert env.unwrapped._frameskip == 1  # our skip + max-pool do the skipping
    env = make_atari(env_id, repeat_action_probability=0.1)
    assert env.unwrapped.ale.getFloat("repeat_action_probability") == pytest.approx(0.1)


def test_unknown_id_suggests_real_ids() -> None:
    with pytest.raises(ValueError, match="ALE/Breakout-v5"):
        make_atari("ALE/Breakot-v5")


def test_space_invaders_frame_skip_3_and_options_object() -> None:
    opts = AtariOptions(frame_skip=3, noop_max=0)
    env = make_atari("SpaceInvadersNoFrameskip-v4", opts)
    env.reset(seed=0)
    before = env.unwrapped.ale.getEpisodeFrameNumber()
    env.step(0)
    assert env.unwrapped.ale.getEpisodeFrameNumber() - before == 3
    vec = make_atari_vector("space_invaders", 2, opts.to_dict())
    assert vec.single_observation_space.shape == (4, 84, 84)


def test_wrap_atari_on_user_env() -> None:
    env = wrap_atari(gym.make("ALE/Breakout-v5", frameskip=1), noop_max=0)
    obs, info = env.reset(seed=0)
    assert obs.shape == (4, 84, 84) and info["lives"] == 5
    with pytest.raises(ValueError, match="frameskip=4"):
        wrap_atari(gym.make("ALE/Breakout-v5"))


def test_vector_backends_and_autoreset_conventions() -> None:
    fast = make_atari_vector("Pong", 2)
    assert isinstance(fast, AtariVectorAdapter)  # Pong has no lives: ALE's fire reset is ours
    fallback = make_atari_vector("Breakout", 2)  # needs FIRE after each life loss
    assert not isinstance(fallback, AtariVectorAdapter)
    for envs in (fast, fallback):
        assert envs.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
        assert envs.num_envs == 2
        assert envs.single_observation_space.shape == (4, 84, 84)
        assert envs.single_action_space.n == (6 if envs is fast else 4)
    # Fallback: run until a real game ends; info["episode"] lifted to the top level.
    fallback.reset(seed=0)
    life_loss_seen = False
    for _ in range(400):
        _, rewards, terminated, _, info = fallback.step(fallback.action_space.sample())
        assert set(np.unique(rewards)) <= {-1.0, 0.0, 1.0}
        if terminated.any() and not info["game_over"].any():
            life_loss_seen = True
            assert not info.get("_episode", np.zeros(2, bool)).any()
            assert info["_final_obs"][terminated].all()
        if info["game_over"].any():
            assert (info["_episode"] == info["game_over"]).all()
            assert (info["episode"]["r"][info["_episode"]] >= 0).all()
            break
    else:
        pytest.fail("no Breakout game ended in 400 random steps")
    assert life_loss_seen
    fast.close()
    fallback.close()


def test_vector_partial_reset_keeps_other_envs() -> None:
    envs = make_atari_vector("Pong", 3, backend="ale")
    obs, _ = envs.reset(seed=0)
    for _ in range(5):
        obs, *_ = envs.step(np.zeros(3, dtype=np.int64))
    after, _ = envs.reset(options={"reset_mask": np.array([False, True, False])})
    np.testing.assert_array_equal(after[0], obs[0])
    np.testing.assert_array_equal(after[2], obs[2])
    assert not after[1][:3].any() and after[1][3].any()
    envs.close()


@pytest.mark.parametrize(
    "options",
    [
        {"grayscale": False},
        {"screen_size": 64, "frame_stack": 2, "frame_skip": 3},
        {"max_pool": False, "clip_rewards": False},
    ],
)
def test_vector_fast_path_maps_every_option(options: dict[str, object]) -> None:
    opts = {"noop_max": 0, "repeat_action_probability": 0.0, "episodic_life": False, **options}
    single = make_atari("Breakout", **opts)
    vec = make_atari_vector("Breakout", 1, backend="ale", **opts)
    assert vec.single_observation_space == single.observation_space
    o1, _ = single.reset(seed=0)
    o3, _ = vec.reset(seed=0)
    np.testing.assert_array_equal(o1, o3[0])
    for t in range(200):
        o1, r1, te1, tr1, _ = single.step(t % 4)
        o3, r3, te3, tr3, _ = vec.step(np.array([t % 4]))
        assert (r1, te1, tr1) == (r3[0], te3[0], tr3[0])
        if te1 or tr1:
            o1, _ = single.reset()
        np.testing.assert_array_equal(o1, o3[0])
