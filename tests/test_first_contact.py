"""What a new user hits first: CLI input checks, SB3 names, file modes, videos, threads."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from stable_baselines3.common.callbacks import ConvertCallback

from dqn_agents import DQN
from dqn_agents.cli import build_parser, main


def test_timesteps_accept_scientific_notation_and_underscores() -> None:
    parser = build_parser()
    assert parser.parse_args(["train", "CartPole-v1", "--timesteps", "1e4"]).timesteps == 10_000
    assert parser.parse_args(["train", "CartPole-v1", "--timesteps", "2_000"]).timesteps == 2_000


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "CartPole-v1", "--timesteps", "1.5"],
        ["train", "CartPole-v1", "--checkpoint-freq", "-5"],
        ["train", "CartPole-v1", "--log-interval", "-1"],
        ["enjoy", "some/model", "--max-steps", "0"],
        ["evaluate", "some/model", "--episodes", "0"],
    ],
)
def test_bad_numbers_are_refused_with_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "invalid" in err and "_positive" not in err and "_int" not in err


def test_version_and_defaults_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    from dqn_agents import __version__

    with pytest.raises(SystemExit):
        build_parser().parse_args(["--version"])
    assert __version__ in capsys.readouterr().out
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    help_text = capsys.readouterr().out
    assert "default: 1000000" in help_text and "0 = off" in help_text


def test_checkpoint_freq_zero_means_off(tmp_path: Path) -> None:
    run = tmp_path / "run"
    argv = ["train", "CartPole-v1", "--timesteps", "300", "--checkpoint-freq", "0"]
    code = main([*argv, "--output", str(run), "--quiet", "--no-progress"])
    assert code == 0
    assert (run / "model.zip").is_file()
    assert not list((run / "checkpoints").glob("*")) if (run / "checkpoints").exists() else True


def test_a_failed_train_leaves_no_run_folder(tmp_path: Path) -> None:
    run = tmp_path / "run"
    code = main(["train", "NoSuchEnv-v0", "--output", str(run), "--no-progress"])
    assert code == 2
    assert not run.exists()


def test_cli_evaluate_is_greedy_by_default_like_python(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agent = DQN("CartPole-v1", seed=0)
    path = agent.save(tmp_path / "cartpole")
    assert main(["evaluate", str(path), "--episodes", "1", "--seed", "0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["epsilon"] == 0.0


def test_python_api_refuses_what_the_cli_refuses() -> None:
    agent = DQN("CartPole-v1", seed=0)
    for bad in (0, -5):
        with pytest.raises(ValueError, match="total_timesteps"):
            agent.learn(bad)
    for eps in (-0.5, 2.0):
        with pytest.raises(ValueError, match="epsilon"):
            agent.evaluate(1, epsilon=eps)


def test_sb3_names_a_user_will_try() -> None:
    from dqn_agents import NonFiniteLossError

    assert issubclass(NonFiniteLossError, FloatingPointError)
    agent = DQN("CartPole-v1", gamma=0.9, learning_rate=3e-4, batch_size=16, seed=0)
    assert (agent.gamma, agent.learning_rate, agent.batch_size) == (0.9, 3e-4, 16)
    assert agent.env is not None and agent.env.num_envs == 1


def test_saved_files_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        agent = DQN("CartPole-v1", seed=0)
        zipped = agent.save(tmp_path / "m")
        folder = agent.save_pretrained(tmp_path / "f")
    finally:
        os.umask(old)
    assert zipped.stat().st_mode & 0o777 == 0o644
    assert (folder / "model.safetensors").stat().st_mode & 0o777 == 0o644


def test_replay_checkpoints_are_named_for_what_they_are(tmp_path: Path) -> None:
    agent = DQN("CartPole-v1", learning_starts=10, buffer_size=100, seed=0)
    agent.learn(20)
    # SB3's CheckpointCallback asks for "..._steps.pkl": the file is a NumPy archive
    agent.save_replay_buffer(tmp_path / "replay_buffer_20_steps.pkl")
    assert (tmp_path / "replay_buffer_20_steps.npz").is_file()
    assert not (tmp_path / "replay_buffer_20_steps.pkl").exists()
    other = DQN("CartPole-v1", learning_starts=10, buffer_size=100, seed=0)
    other.load_replay_buffer(tmp_path / "replay_buffer_20_steps.pkl")  # SB3's name still loads
    assert len(other.replay_buffer) == 20


def test_predict_uses_one_torch_thread_on_cpu() -> None:
    agent = DQN("ALE/Pong-v5", seed=0, device="cpu")
    seen: list[int] = []
    agent.q_net.register_forward_pre_hook(lambda *_: seen.append(torch.get_num_threads()))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        agent.predict(np.zeros((4, 84, 84), np.uint8), deterministic=True)
        assert seen == [1]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_atari_replay_videos_play_in_real_time(tmp_path: Path) -> None:
    imageio = pytest.importorskip("imageio.v2")
    from dqn_agents.evaluation import record_video

    agent = DQN("ALE/Pong-v5", seed=0, device="cpu")
    path = record_video(agent, tmp_path / "pong.mp4", seed=0, max_steps=30)
    reader = imageio.get_reader(path)
    assert reader.get_meta_data()["fps"] == pytest.approx(15.0)  # 60 Hz / frame skip 4
    reader.close()


def test_rgb_atari_stacks_get_a_clear_error_not_an_mlp() -> None:
    with pytest.raises(ValueError, match="colour frame stacks"):
        DQN("ALE/Pong-v5", wrapper_options={"grayscale": False})


def test_model_card_shows_effective_settings() -> None:
    from dqn_agents.checkpoint import model_meta
    from dqn_agents.hub.card import build_model_card, build_results

    agent = DQN("ALE/Pong-v5", seed=0, device="cpu")
    meta = model_meta(agent.config, agent.spec, agent.q_net.describe(), 1000)
    results = build_results(
        env_id="ALE/Pong-v5",
        mean_reward=1.0,
        std_reward=0.0,
        n_eval_episodes=1,
        is_deterministic=True,
        wrapper_options=meta["wrapper_options"],
        scores=[1.0],
    )
    card = build_model_card(meta, results, "me/dqn-Pong-v5")
    assert "over 1 full game " in card and "1 full games" not in card
    assert "| `repeat_action_probability` | 0.25 |" in card
    assert "mlp_hidden_sizes" not in card and "| `network` | auto |" not in card
    assert "| `network` | nature |" in card
    assert "--epsilon" not in card  # the suggested command is greedy, like the score


def test_files_from_a_newer_version_warn_and_suggest_an_upgrade(tmp_path: Path) -> None:
    from dqn_agents.serialization import ModelFormatError

    agent = DQN("CartPole-v1", seed=0)
    folder = agent.save_pretrained(tmp_path / "m")
    meta = json.loads((folder / "config.json").read_text())
    meta["versions"]["dqn_agents"] = "9.9.0"
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.warns(UserWarning, match=r"dqn-agents 9\.9\.0.*upgrade"):
        DQN.load(folder)
    meta["config"]["a_field_from_the_future"] = 1
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.warns(UserWarning), pytest.raises(ModelFormatError, match="pip install -U"):
        DQN.load(folder)


def test_vector_backends_return_public_classes() -> None:
    from dqn_agents.wrappers import make_atari_vector

    env = make_atari_vector("ALE/Breakout-v5", 2, backend="sync")
    try:
        assert not type(env).__name__.startswith("_")
        _, info = env.reset(seed=0)
        _, _, _, _, info = env.step(np.zeros(2, dtype=np.int64))
        assert info["game_over"].shape == (2,)
    finally:
        env.close()


def test_pettingzoo_infos_have_lives_and_game_over_at_every_step() -> None:
    pytest.importorskip("pettingzoo")
    from dqn_agents.wrappers import make_pettingzoo_atari

    env = make_pettingzoo_atari("pong_v3")
    try:
        env.reset(seed=0)
        for _ in range(3):
            _, _, _, _, infos = env.step({a: 0 for a in env.agents})
            for agent in env.agents:
                assert "lives" in infos[agent] and infos[agent]["game_over"] is False
    finally:
        env.close()


def test_progress_bar_eta_comes_from_the_training_phase() -> None:
    from dqn_agents.callbacks import ProgressBar

    agent = DQN("CartPole-v1", learning_starts=60, buffer_size=500, seed=0)
    bar = ProgressBar()
    agent.learn(100, callback=bar)
    assert bar.training_from == 60  # the clock restarted when updates began
    assert bar.bar.initial == 60 and bar.closed


def test_progress_bar_closes_before_ctrl_c_reaches_the_caller() -> None:
    from dqn_agents.callbacks import ProgressBar

    agent = DQN("CartPole-v1", learning_starts=10, buffer_size=500, seed=0)
    bar = ProgressBar()

    def interrupt(locals_: dict, globals_: dict) -> bool:
        if locals_["self"].num_timesteps >= 30:
            raise KeyboardInterrupt
        return True

    with pytest.raises(KeyboardInterrupt):
        agent.learn(100, callback=[bar, ConvertCallback(interrupt)])
    assert bar.closed


def _interrupt_at(monkeypatch: pytest.MonkeyPatch, step: int) -> None:
    """Make the next DQN.learn raise KeyboardInterrupt (Ctrl-C) once it reaches ``step``."""
    original = DQN.learn

    def learn(self: DQN, total: int, callback=None, **kwargs):  # type: ignore[no-untyped-def]
        def stop(locals_: dict, globals_: dict) -> bool:
            if self.num_timesteps >= step:
                raise KeyboardInterrupt
            return True

        both = [c for c in (callback, ConvertCallback(stop)) if c is not None]
        return original(self, total, callback=both, **kwargs)

    monkeypatch.setattr(DQN, "learn", learn)


def test_an_interrupted_cli_run_resumes_with_one_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    quiet = ["--no-progress", "--quiet", "--checkpoint-freq", "0"]
    _interrupt_at(monkeypatch, 150)
    first = ["train", "CartPole-v1", "--timesteps", "300", "--output", str(run), "--save-replay"]
    assert main([*first, "--set", "learning_starts=50", *quiet]) == 130
    err = capsys.readouterr().err
    assert f"dqn-agents train --resume {run}" in err and "replay.npz" in err
    monkeypatch.undo()
    assert main(["train", "--resume", str(run), *quiet]) == 0
    out = capsys.readouterr().out
    assert "at step 150 of 300" in out and "replay memory replay.npz" in out
    assert DQN.load(run / "model.zip").num_timesteps == 300


def test_resume_without_the_replay_memory_says_so_and_refills(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    quiet = ["--no-progress", "--quiet", "--checkpoint-freq", "0"]
    _interrupt_at(monkeypatch, 120)
    argv = ["train", "CartPole-v1", "--timesteps", "200", "--output", str(run)]
    assert main([*argv, "--set", "learning_starts=50", *quiet]) == 130
    monkeypatch.undo()
    with pytest.warns(RuntimeWarning, match="refill"):
        assert main(["train", "--resume", str(run), *quiet]) == 0
    assert "no replay memory" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--resume"])
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 2


def test_non_finite_weights_are_refused_at_save_and_load(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from dqn_agents.serialization import ModelFormatError

    agent = DQN("CartPole-v1", seed=0)
    folder = agent.save_pretrained(tmp_path / "good")
    with torch.no_grad():
        next(agent.q_net.parameters()).fill_(float("nan"))
    for save in (
        lambda: agent.save(tmp_path / "bad"),
        lambda: agent.save_pretrained(tmp_path / "b"),
    ):
        with pytest.raises(ModelFormatError, match="non-finite"):
            save()
    assert not (tmp_path / "bad.zip").exists()
    # a file someone else wrote: all-NaN weights under a valid config
    save_file(
        {k: v.contiguous() for k, v in agent.q_net.state_dict().items()},
        folder / "model.safetensors",
    )
    with pytest.raises(ModelFormatError, match="non-finite"):
        DQN.load(folder)


def test_push_errors_exit_2_like_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("huggingface_hub")
    assert main(["push", str(tmp_path / "no-such-model"), "--repo-id", "org/x"]) == 2
    assert "dqn-agents push: error:" in capsys.readouterr().err


def test_parallel_default_runs_never_share_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["train", "CartPole-v1", "--timesteps", "20", "--quiet", "--no-progress"]
    assert main(argv) == 0 and main(argv) == 0  # same second, same process
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 2 and all((run / "model.zip").is_file() for run in runs)


class _NanRewardCartPole(__import__("gymnasium").Wrapper):
    """CartPole whose reward turns NaN after 150 steps (a bug in a user's reward code)."""

    def __init__(self, render_mode: str | None = None) -> None:
        import gymnasium as gym

        super().__init__(gym.make("CartPole-v1", render_mode=render_mode))
        self.t = 0

    def step(self, action):  # type: ignore[no-untyped-def]
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.t += 1
        return obs, float("nan") if self.t > 150 else reward, terminated, truncated, info


def test_train_saves_the_last_good_model_when_learning_fails(tmp_path: Path) -> None:
    import gymnasium as gym

    if "NanRewardCartPole-v0" not in gym.registry:
        gym.register("NanRewardCartPole-v0", entry_point=_NanRewardCartPole)
    run = tmp_path / "run"
    argv = ["train", "NanRewardCartPole-v0", "--timesteps", "2000", "--output", str(run)]
    with pytest.raises(FloatingPointError, match="TD loss"):
        main([*argv, "--set", "learning_starts=100", "--quiet", "--no-progress"])
    saved = DQN.load(run / "model.zip")  # finite weights: the update that saw NaN was not taken
    assert 100 < saved.num_timesteps < 2000


def test_temp_files_of_a_killed_save_do_not_outlive_the_next_save(tmp_path: Path) -> None:
    import subprocess
    import sys

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(dead.stdout)  # a process that has exited, like one killed mid-save
    stale = tmp_path / f".tmp-m.zip-{pid}-abc123"
    stale.write_bytes(b"x" * 1000)
    alive = tmp_path / f".tmp-m.zip-{os.getppid()}-def456"  # a live writer's file stays
    alive.write_bytes(b"y")
    DQN("CartPole-v1", seed=0).save(tmp_path / "m.zip")
    assert not stale.exists() and alive.exists()
    assert sorted(
        p.name
        for p in tmp_path.iterdir()
        if not p.name.startswith(".tmp-m.zip-" + str(os.getppid()))
    ) == ["m.zip"]


def test_hostile_model_files_raise_our_typed_error(tmp_path: Path) -> None:
    import zipfile

    from dqn_agents.serialization import ModelFormatError

    good = DQN("CartPole-v1", seed=0).save(tmp_path / "good")
    config = zipfile.ZipFile(good).read("config.json")
    weights = zipfile.ZipFile(good).read("model.safetensors")

    def forged(name: str, config_bytes: bytes, method: int = zipfile.ZIP_STORED) -> Path:
        path = tmp_path / name
        with zipfile.ZipFile(path, "w", compression=method) as archive:
            archive.writestr("config.json", config_bytes)
            archive.writestr("model.safetensors", weights)
        return path

    nested = forged("nested.zip", b'{"a": ' * 100_000 + b"1" + b"}" * 100_000)
    huge = forged("huge.zip", config.replace(b'"num_timesteps": 0', b'"num_timesteps": 1e999'))
    flipped = forged("flipped.zip", config, zipfile.ZIP_DEFLATED)
    raw = bytearray(flipped.read_bytes())
    start = raw.index(b"config.json") + len(b"config.json") + 5
    for i in range(start, start + 40):
        raw[i] ^= 0x5A
    flipped.write_bytes(bytes(raw))
    for path in (nested, huge, flipped):
        with pytest.raises(ModelFormatError):
            DQN.load(path)


def test_an_env_id_from_a_model_file_never_imports_a_module(tmp_path: Path) -> None:
    import sys

    folder = DQN("CartPole-v1", seed=0).save_pretrained(tmp_path / "m")
    meta = json.loads((folder / "config.json").read_text())
    meta["env_id"] = "this:Zen-v0"  # gym.make would import the module `this`
    (folder / "config.json").write_text(json.dumps(meta))
    sys.modules.pop("this", None)
    agent = DQN.load(folder)
    with pytest.raises(ValueError, match="would import that module"):
        agent.evaluate(1)
    assert main(["evaluate", str(folder), "--episodes", "1"]) == 2
    assert "this" not in sys.modules
