"""ROM-free unit tests of the Atari contract wrappers, on a small fake ALE env."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from dqn_agents.wrappers import (
    AtariFrameProcessing,
    AtariOptions,
    EpisodicLife,
    FireReset,
    make_atari_vector,
    resolve_env_id,
    wrap_atari,
)
from tests.fake_ale import FakeAtariEnv, frame_at

NO_EXTRAS = {"noop_max": 0, "episodic_life": False, "fire_reset": False, "clip_rewards": False}


def _resize(frame: np.ndarray) -> np.ndarray:
    return cv2.resize(frame, (84, 84), interpolation=cv2.INTER_AREA)


def test_noop_reset_bounds_and_uses_noop_action() -> None:
    counts = set()
    for seed in range(40):
        fake = FakeAtariEnv(lives=0)
        env = AtariFrameProcessing(fake, noop_max=5)
        env.reset(seed=seed)
        assert set(fake.actions) <= {0}
        assert 1 <= fake.t <= 5
        counts.add(fake.t)
    assert len(counts) >= 3  # really random
    fake = FakeAtariEnv(lives=0)
    AtariFrameProcessing(fake, noop_max=0).reset(seed=0)
    assert fake.t == 0


def test_noop_reset_needs_noop_action() -> None:
    with pytest.raises(ValueError, match="'FIRE'"):
        AtariFrameProcessing(FakeAtariEnv(meanings=("FIRE", "NOOP", "LEFT")), noop_max=3)


def test_frame_skip_and_max_pool() -> None:
    fake = FakeAtariEnv(lives=0)
    env = AtariFrameProcessing(fake, noop_max=0, frame_skip=4)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs, _resize(frame_at(0)))
    obs, reward, *_ = env.step(2)
    assert fake.t == 4 and fake.actions == [2, 2, 2, 2]
    expected = _resize(np.maximum(frame_at(3), frame_at(4)))
    np.testing.assert_array_equal(obs, expected)
    assert obs[0, 0] == 250  # the flickering block survives the max-pool
    assert reward == 5.0  # frame 3 pays 5
    # Without max-pool only the last frame is kept: frame 8 is even, no block.
    env = AtariFrameProcessing(FakeAtariEnv(lives=0), noop_max=0, max_pool=False)
    env.reset(seed=0)
    env.step(0)
    obs, *_ = env.step(0)
    np.testing.assert_array_equal(obs, _resize(frame_at(8)))


def test_frame_skip_three_and_rgb_and_screen_size() -> None:
    env = AtariFrameProcessing(
        FakeAtariEnv(lives=0), noop_max=0, frame_skip=3, grayscale=False, screen_size=42
    )
    obs, _ = env.reset(seed=0)
    assert obs.shape == (42, 42, 3) and env.observation_space.contains(obs)
    env.step(0)
    assert env.unwrapped.t == 3  # type: ignore[attr-defined]


def test_episode_frame_cap_truncates() -> None:
    env = wrap_atari(FakeAtariEnv(lives=0), NO_EXTRAS, max_episode_frames=10)
    env.reset(seed=0)
    results = [env.step(0) for _ in range(3)]
    assert [r[3] for r in results] == [False, False, True]
    assert results[-1][4]["episode"]["l"] == 3


def test_life_loss_versus_true_game_over() -> None:
    fake = FakeAtariEnv(lives=3, frames_per_life=20)
    env = wrap_atari(fake, NO_EXTRAS, episodic_life=True)
    env.reset(seed=0)
    ends = []
    for _ in range(200):
        obs, _, terminated, truncated, info = env.step(0)
        if terminated or truncated:
            ends.append((info["lives"], info["game_over"], "episode" in info))
            if info["game_over"]:
                raw_score = info["episode"]["r"]
                break
            resets_before = fake.resets
            obs, info = env.reset()
            assert fake.resets == resets_before  # a life loss does not restart the game
            assert not obs[:-1].any()  # fresh zero-padded stack
            assert info["game_over"] is False
    assert ends == [(2, False, False), (1, False, False), (0, True, True)]
    # Raw score of the whole game (60 frames): +5 every 3rd frame, -1 every 7th.
    assert raw_score == 5 * (60 // 3) - (60 // 7)
    env.reset()
    assert fake.resets == 2  # a game over does restart the game


def test_fire_reset_after_reset_and_after_life_loss() -> None:
    fake = FakeAtariEnv(lives=2, frames_per_life=12)
    env = wrap_atari(fake, noop_max=0)
    assert any(isinstance(w, FireReset) for w in _chain(env))
    _, info = env.reset(seed=0)
    assert fake.actions == [1]  # one FIRE frame at a real reset, as ALE's vector env
    assert info["fired"] is True
    terminated = False
    while not terminated:
        _, _, terminated, _, info = env.step(3)
    assert info["game_over"] is False
    n = len(fake.actions)
    env.reset()
    assert fake.actions[n:] == [1, 1, 1, 1]  # one FIRE agent step after a life loss
    # Without episodic life only real resets fire (no FireReset layer needed).
    fake = FakeAtariEnv(lives=2, frames_per_life=12)
    env = wrap_atari(fake, noop_max=3, episodic_life=False)
    assert not any(isinstance(w, FireReset) for w in _chain(env))
    env.reset(seed=0)
    assert fake.actions[0] == 1 and set(fake.actions[1:]) == {0}  # FIRE, then no-ops
    # FireReset alone presses FIRE for one agent step after every reset.
    fake = FakeAtariEnv(lives=2)
    FireReset(AtariFrameProcessing(fake, noop_max=0)).reset(seed=0)
    assert fake.actions == [1, 1, 1, 1]
    # No FIRE in the game: nothing is pressed, and FireReset refuses it.
    plain = FakeAtariEnv(meanings=("NOOP", "UP", "DOWN"))
    assert not any(isinstance(w, FireReset) for w in _chain(wrap_atari(plain)))
    with pytest.raises(ValueError, match="FIRE"):
        FireReset(plain)


def _chain(env: object) -> list[object]:
    out = []
    while hasattr(env, "env"):
        out.append(env)
        env = env.env  # type: ignore[attr-defined]
    return out


def test_reward_clipping_keeps_raw_score_in_info() -> None:
    env = wrap_atari(
        FakeAtariEnv(lives=0, game_frames=40, reward_every=10, reward_value=7.0), noop_max=0
    )
    env.reset(seed=0)
    rewards, done = [], False
    while not done:
        _, r, terminated, truncated, info = env.step(0)
        rewards.append(r)
        done = terminated or truncated
    assert set(rewards) <= {-1.0, 0.0, 1.0} and 1.0 in rewards and -1.0 in rewards
    assert info["episode"]["r"] == 7 * (40 // 10) - (40 // 7)  # all 40 frames, FIRE ones too


def test_frame_stack_order_and_zero_padding() -> None:
    env = wrap_atari(FakeAtariEnv(lives=0), NO_EXTRAS, max_pool=False)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    assert not obs[:3].any()
    np.testing.assert_array_equal(obs[3], _resize(frame_at(0)))
    for _ in range(5):
        obs, *_ = env.step(0)
    for k in range(4):  # oldest first, newest last: frames 8, 12, 16, 20
        np.testing.assert_array_equal(obs[k], _resize(frame_at(4 * (k + 2))))


def test_seeding_is_deterministic() -> None:
    def run(seed: int) -> list[bytes]:
        env = wrap_atari(FakeAtariEnv(lives=2, frames_per_life=30), noop_max=30)
        obs, _ = env.reset(seed=seed)
        out = [obs.tobytes()]
        for _ in range(40):
            obs, _, terminated, truncated, _ = env.step(2)
            out.append(obs.tobytes())
            if terminated or truncated:
                obs, _ = env.reset()
        return out

    assert run(3) == run(3)
    assert any(run(s) != run(3) for s in (4, 5, 6))


def test_options_roundtrip_through_json() -> None:
    opts = AtariOptions(frame_skip=3, repeat_action_probability=0.0, max_episode_frames=None)
    data = json.loads(json.dumps(opts.to_dict()))
    assert AtariOptions.from_dict(data) == opts
    assert AtariOptions.coerce(opts, noop_max=0).noop_max == 0


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"frame_skip": 0}, "frame_skip must be >= 1, got 0"),
        ({"noop_max": -1}, "got -1"),
        ({"screen_size": 84.0}, "got 84.0"),
        ({"episodic_life": "yes"}, "got 'yes'"),
        ({"repeat_action_probability": 1.5}, "got 1.5"),
        ({"max_episode_frames": 0}, "got 0"),
        ({"frame_stack": 0}, "got 0"),
    ],
)
def test_bad_options_say_what_they_got(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        AtariOptions(**kwargs)  # type: ignore[arg-type]


def test_unknown_option_names_closest() -> None:
    with pytest.raises(ValueError, match="frame_skip"):
        AtariOptions.from_dict({"frameskip": 4})
    with pytest.raises(ValueError, match="noop_max"):
        wrap_atari(FakeAtariEnv(), noop_mx=3)


def test_wrap_atari_refuses_what_it_cannot_do() -> None:
    fake = FakeAtariEnv()
    fake._frameskip = 4
    with pytest.raises(ValueError, match="frameskip=4"):
        wrap_atari(fake)
    with pytest.raises(ValueError, match=r"repeat_action_probability=0\.25"):
        wrap_atari(FakeAtariEnv(), repeat_action_probability=0.25)
    with pytest.raises(ValueError, match="ale"):
        AtariFrameProcessing(__import__("gymnasium").make("CartPole-v1"))


def test_episodic_life_reads_lives_from_info() -> None:
    env = EpisodicLife(AtariFrameProcessing(FakeAtariEnv(lives=2, frames_per_life=8), noop_max=0))
    _, info = env.reset(seed=0)
    assert info["lives"] == 2
    _, _, terminated, _, info = env.step(0)
    assert not terminated
    _, _, terminated, _, info = env.step(0)
    assert terminated and info["lives"] == 1 and not info["game_over"]


def test_unknown_ids_name_closest_matches() -> None:
    with pytest.raises(ValueError, match=r"Closest valid ids: .*Pong"):
        resolve_env_id("ALE/Pongg-v5")
    with pytest.raises(ValueError, match="Breakout"):
        resolve_env_id("breakot")
    with pytest.raises(ValueError, match="got int 3"):
        resolve_env_id(3)  # type: ignore[arg-type]
    assert resolve_env_id("space_invaders").env_id == "ALE/SpaceInvaders-v5"
    assert resolve_env_id("SpaceInvaders").game == "space_invaders"
    assert resolve_env_id("PONG").camel == "Pong"
    v4 = resolve_env_id("BreakoutNoFrameskip-v4")
    assert (v4.flavour, v4.default_repeat_action_probability) == ("v4", 0.0)
    assert resolve_env_id("ALE/Pong-v5").default_repeat_action_probability == 0.25


def test_make_atari_vector_bad_arguments() -> None:
    with pytest.raises(ValueError, match="got 0"):
        make_atari_vector("Pong", 0)
    with pytest.raises(ValueError, match="got 'gpu'"):
        make_atari_vector("Pong", 2, backend="gpu")  # type: ignore[arg-type]


def test_import_does_not_pull_torch() -> None:
    code = (
        "import sys, dqn_agents.wrappers; "
        "assert 'torch' not in sys.modules and 'stable_baselines3' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_pettingzoo_missing_extra_gives_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    monkeypatch.setitem(sys.modules, "pettingzoo", None)
    monkeypatch.delitem(sys.modules, "dqn_agents.wrappers.pettingzoo", raising=False)
    with pytest.raises(ImportError, match=r"dqn-agents\[pettingzoo\]"):
        importlib.import_module("dqn_agents.wrappers.pettingzoo")


def test_mid_episode_reset_restarts_the_game() -> None:
    fake = FakeAtariEnv(lives=3, frames_per_life=20)
    env = wrap_atari(fake, NO_EXTRAS, episodic_life=True)
    env.reset(seed=0)
    env.step(0)
    env.reset()  # no life was lost: this is a real reset
    assert fake.resets == 2 and fake.t == 0
