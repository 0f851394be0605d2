"""The ``dqn-agents`` command line, run as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from dqn_agents import DQN

TINY = ["--set", "learning_starts=100", "--set", "buffer_size=1000", "--set", "batch_size=16"]


def _run(
    *args: str, cwd: Path | None = None, check: bool = True, **env_vars: str
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", **env_vars)
    proc = subprocess.run(
        [sys.executable, "-m", "dqn_agents", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "run"
    proc = _run(
        "train",
        "CartPole-v1",
        "--timesteps",
        "300",
        *TINY,
        "--seed",
        "0",
        "--output",
        str(out),
        "--checkpoint-freq",
        "150",
        "--no-progress",
    )
    assert "saved" in proc.stdout
    return out


@pytest.mark.slow
def test_train_writes_a_clear_run_folder(run_dir: Path) -> None:
    assert (run_dir / "model.zip").is_file()
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [
        "model_150_steps.zip",
        "model_300_steps.zip",
    ]
    assert (run_dir / "logs" / "progress.csv").is_file()
    assert any(p.name.startswith("events.out.tfevents") for p in (run_dir / "logs").iterdir())
    meta = json.loads((run_dir / "config.json").read_text())
    assert meta["env_id"] == "CartPole-v1" and meta["config"]["learning_starts"] == 100
    with zipfile.ZipFile(run_dir / "model.zip") as archive:
        assert "model.safetensors" in archive.namelist()
    assert DQN.load(run_dir / "model.zip").num_timesteps == 300


@pytest.mark.slow
def test_evaluate_prints_raw_scores_and_json(run_dir: Path) -> None:
    proc = _run("evaluate", str(run_dir / "model.zip"), "--episodes", "3", "--seed", "0", "--json")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["env_id"] == "CartPole-v1" and len(result["scores"]) == 3
    assert result["mean"] == pytest.approx(sum(result["scores"]) / 3)
    proc = _run("evaluate", str(run_dir / "model.zip"), "--episodes", "2", "--deterministic")
    assert "raw score" in proc.stdout


@pytest.mark.slow
def test_train_with_toml_config_and_bad_key(tmp_path: Path) -> None:
    config = tmp_path / "cartpole.toml"
    config.write_text(
        'preset = "default"\nlearning_starts = 50\nbuffer_size = 500\nmlp_hidden_sizes = [8, 8]\n'
    )
    _run(
        "train",
        "CartPole-v1",
        "--config",
        str(config),
        "--timesteps",
        "100",
        "--output",
        str(tmp_path / "r"),
        "--no-progress",
        "--quiet",
    )
    assert DQN.load(tmp_path / "r" / "model.zip").config.mlp_hidden_sizes == (8, 8)
    proc = _run(
        "train",
        "CartPole-v1",
        "--set",
        "learnig_rate=0.1",
        "--output",
        str(tmp_path / "bad"),
        check=False,
    )
    assert proc.returncode == 2 and "learning_rate" in proc.stderr
    assert not (tmp_path / "bad").exists()


def test_evaluate_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    proc = _run("evaluate", str(tmp_path / "nope.zip"), check=False)
    assert proc.returncode == 2 and "no such file" in proc.stderr


@pytest.mark.slow
def test_enjoy_records_an_mp4_of_the_real_game(tmp_path: Path) -> None:
    pytest.importorskip("imageio_ffmpeg")
    model = DQN("ALE/Pong-v5", buffer_size=100, seed=0).save(tmp_path / "pong")
    out = tmp_path / "pong.mp4"
    proc = _run("enjoy", str(model), "--video", str(out), "--seed", "0", "--max-steps", "60")
    assert out.is_file() and out.stat().st_size > 1_000, proc.stdout + proc.stderr
    import imageio.v2 as imageio

    reader = imageio.get_reader(str(out))
    frame = reader.get_data(0)
    reader.close()
    assert frame.shape == (210, 160, 3)  # the real game screen, in colour


@pytest.mark.slow
def test_enjoy_without_video_stops_at_max_steps(tmp_path: Path) -> None:
    model = DQN("ALE/Pong-v5", buffer_size=100, seed=0).save(tmp_path / "pong")
    proc = _run("enjoy", str(model), "--seed", "0", "--max-steps", "30")
    assert "did not end within --max-steps 30 steps" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "ALE/Pongg-v5", "--timesteps", "10"], "Closest valid ids: ALE/Pong-v5"),
        (["train", "Cartpole-v9", "--timesteps", "10"], "Unknown env id 'Cartpole-v9'"),
        (["train", "CartPole-v1", "--timesteps", "-5"], "must be >= 1"),
        (["train", "CartPole-v1", "--device", "gpu"], "Unknown device 'gpu'"),
        (["train", "CartPole-v1", "--device", "cuda:0"], "CUDA is not available"),
        (["train", "CartPole-v1", "--config", "."], "is a folder"),
        (["evaluate", "someone/not-cached"], "Could not download config.json"),
        (["evaluate", "x.zip", "--epsilon", "2"], "between 0 and 1"),
    ],
)
def test_bad_input_is_a_message_not_a_traceback(
    tmp_path: Path, args: list[str], message: str
) -> None:
    if "cuda:0" in args:
        import torch

        if torch.cuda.is_available():  # pragma: no cover - CPU-only CI
            pytest.skip("this machine has CUDA")
    proc = _run(*args, cwd=tmp_path, check=False, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
