"""`dqn_agents.suite`: games x seeds on a real local Ray, plus its Ray-free parts.

Without Ray (fast): importing the package never imports Ray; the missing-extra error; the
reference scores, human normalization and IQM; the report of a partial run rendered from
the files a run leaves; bad requests refused before Ray starts.

On a local Ray started once for the module (2 CPUs; marked slow, CI runs them): a
2 games x 2 seeds suite (the Catch pixel game through the Nature CNN, CartPole through an
MLP, tiny budgets) that writes the table, the plot and the model folders, retries a trial
whose callback raises once from its last checkpoint, and pushes every finished model to
the loopback Hub (tests/hub_server.py); then a ``dqn-agents suite`` driver in a
subprocess, stopped with SIGINT after its first trial finished, continued with
``--resume``, which runs the unfinished trial and not the finished one.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from suite_helpers import CATCH_ID, TINY, FailOnce, LogStarts, read_starts

from dqn_agents.cli import build_parser, main
from dqn_agents.suite.records import (
    SuiteSpec,
    TrainingCurve,
    TrialRecord,
    trial_dirname,
    write_json,
)
from dqn_agents.suite.report import render_report
from dqn_agents.suite.scores import (
    ATARI_REFERENCE_SCORES,
    human_normalized_score,
    interquartile_mean,
    reference_game,
)

ROOT = Path(__file__).resolve().parent.parent
TESTS = Path(__file__).resolve().parent


# --------------------------------------------------------------------------- without Ray


def test_importing_the_package_never_imports_ray() -> None:
    code = (
        "import sys, dqn_agents, dqn_agents.suite, dqn_agents.suite.report, "
        "dqn_agents.suite.scores, dqn_agents.suite.records\n"
        "from dqn_agents.suite import render_report, interquartile_mean\n"
        "assert 'ray' not in sys.modules, sorted(m for m in sys.modules if 'ray' in m)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)


def test_without_the_ray_extra_the_error_names_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # sys.modules["ray"] = None makes `import ray` raise ImportError: it simulates an
    # install without the `ray` extra (Ray itself is installed in the dev environment).
    monkeypatch.setitem(sys.modules, "ray", None)
    from dqn_agents.suite import RayMissingError, run_suite

    with pytest.raises(RayMissingError, match=r'pip install "dqn-agents\[ray\]"') as caught:
        run_suite(["CartPole-v1"], seeds=1, total_timesteps=10, storage_path=tmp_path)
    assert isinstance(caught.value, ImportError)
    status = main(["suite", "--games", "CartPole-v1", "--storage", str(tmp_path)])
    assert status == 2
    err = capsys.readouterr().err
    assert 'pip install "dqn-agents[ray]"' in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())  # nothing was started or written


def test_reference_scores_cover_the_57_ale_games() -> None:
    from dqn_agents.wrappers.ids import list_atari_games, resolve_env_id

    ale = {resolve_env_id(name).game for name in list_atari_games()}
    assert len(ATARI_REFERENCE_SCORES) == 57
    assert set(ATARI_REFERENCE_SCORES) <= ale  # every key is a real ALE game name
    assert ATARI_REFERENCE_SCORES["pong"] == (-20.7, 14.6)
    assert ATARI_REFERENCE_SCORES["breakout"] == (1.7, 30.5)
    assert all(r.human != r.random for r in ATARI_REFERENCE_SCORES.values())
    for spelling in ("ALE/Pong-v5", "PongNoFrameskip-v4", "pong", "Pong"):
        assert reference_game(spelling) == "pong"
    assert human_normalized_score("ALE/Pong-v5", -20.7) == 0.0
    assert human_normalized_score("ALE/Breakout-v5", 30.5) == pytest.approx(1.0)
    assert human_normalized_score("ALE/Breakout-v5", 401.2) == pytest.approx(399.5 / 28.8)
    # No reference, no normalized score (never a made-up one).
    assert human_normalized_score("CartPole-v1", 500.0) is None
    assert human_normalized_score(CATCH_ID, 1.0) is None


def test_interquartile_mean_is_rliables() -> None:
    assert interquartile_mean([5.0]) == 5.0
    assert interquartile_mean([1.0, 3.0]) == 2.0  # int(0.25 * 2) == 0: nothing dropped
    assert interquartile_mean([0.0, 1.0, 2.0, 100.0]) == 1.5
    assert interquartile_mean(range(1, 9)) == 4.5  # 3..6
    with pytest.raises(ValueError, match="at least one"):
        interquartile_mean([])
    with pytest.raises(ValueError, match="finite"):
        interquartile_mean([1.0, float("nan")])
    # scipy.stats.trim_mean(x, 0.25), what rliable calls, drops int(0.25 * n) at each end:
    assert interquartile_mean([9.0, 1.0, 5.0, 3.0, 7.0]) == 5.0  # n=5: 1 dropped -> 3, 5, 7
    assert interquartile_mean([7.0, 1.0, 6.0, 2.0, 5.0, 3.0, 4.0]) == 4.0  # n=7: 1 dropped
    assert interquartile_mean([-1.0] * 3 + [10.0] * 3) == pytest.approx(4.5)  # n=6: 1 dropped


def write_trial(
    experiment: Path,
    env_id: str,
    seed: int,
    *,
    score: float | None,
    steps: int,
    total: int = 1000,
) -> None:
    """The files a trial leaves (written with the trainable's own record types)."""
    folder = experiment / trial_dirname(env_id, seed)
    curve = TrainingCurve(env_id, seed)
    for i in range(1, 11):
        curve.add(step=i * steps // 10, score=float(i + seed), length=steps // 10, t_s=float(i))
    record = TrialRecord(
        env_id=env_id,
        seed=seed,
        status="finished" if score is not None else "running",
        num_timesteps=steps,
        total_timesteps=total,
        evaluation=None if score is None else {"mean": score, "std": 0.0, "n_episodes": 2},
    )
    write_json(folder / "curve.json", curve.to_dict())
    write_json(folder / "trial.json", record.to_dict())
    if score is not None:
        (folder / "model").mkdir()


def test_report_of_a_partial_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    experiment = tmp_path / "exp"
    spec = SuiteSpec(
        games=("ALE/Pong-v5", "ALE/Breakout-v5", "CartPole-v1"),
        seeds=(0, 1),
        total_timesteps=1000,
        name="exp",
    )
    write_json(experiment / "suite.json", spec.to_dict())
    write_trial(experiment, "ALE/Pong-v5", 0, score=14.6, steps=1000)  # normalized 1.0
    write_trial(experiment, "ALE/Pong-v5", 1, score=-20.7, steps=1000)  # normalized 0.0
    write_trial(experiment, "ALE/Breakout-v5", 0, score=59.3, steps=1000)  # normalized 2.0
    write_trial(experiment, "ALE/Breakout-v5", 1, score=None, steps=400)  # still running
    write_trial(experiment, "CartPole-v1", 0, score=500.0, steps=1000)
    # CartPole seed 1 never started: no folder.

    report = render_report(experiment)
    assert not report.complete and report.trials_finished == 4
    pong, breakout, cartpole = report.games
    assert (pong.seeds_finished, pong.seeds_total) == (2, 2)
    assert pong.mean == pytest.approx(-3.05) and pong.std == pytest.approx(17.65)
    assert pong.human_normalized == pytest.approx(0.5)
    assert (breakout.seeds_finished, breakout.mean) == (1, pytest.approx(59.3))
    assert breakout.human_normalized == pytest.approx(2.0)
    assert cartpole.human_normalized is None and cartpole.mean == 500.0
    # IQM over the pooled runs with references: [0, 1, 2] -> int(0.75) = 0 dropped.
    assert report.iqm == pytest.approx(1.0) and report.iqm_runs == 3
    statuses = {(t.game, t.seed): t.status for t in report.trials}
    assert statuses[("Breakout-v5", 1)] == "running"
    assert statuses[("CartPole-v1", 1)] == "pending"

    table = json.loads((experiment / "suite_table.json").read_text())
    assert table["complete"] is False
    assert table["aggregate"]["iqm_human_normalized"] == pytest.approx(1.0)
    assert "Agent57" in table["references"]
    lines = (experiment / "suite_table.csv").read_text().splitlines()
    assert lines[0].startswith("game,env_id,seeds_finished,seeds_total,mean,std")
    assert lines[1].startswith("Pong-v5,ALE/Pong-v5,2,2,-3.05,17.65")
    assert (experiment / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The CLI re-renders it (no Ray needed).
    (experiment / "suite_table.csv").unlink()
    assert main(["suite-report", str(experiment)]) == 0
    out = capsys.readouterr().out
    assert "Pong-v5" in out and "1/2" in out and "IQM of human-normalized scores: 1.000" in out
    assert (experiment / "suite_table.csv").is_file()
    assert main(["suite-report", str(tmp_path)]) == 2  # not a suite folder: a clear error
    assert "no suite.json" in capsys.readouterr().err


def test_suite_command_line() -> None:
    args = build_parser().parse_args(
        [
            "suite",
            "--games",
            "Pong,Breakout",
            "--seeds",
            "3",
            "--timesteps",
            "1e6",
            "--gpus-per-trial",
            "0.25",
            "--address",
            "auto",
            "--push-org",
            "my-org",
        ]
    )
    assert (args.games, args.seeds, args.timesteps) == ("Pong,Breakout", 3, 1_000_000)
    assert (args.gpus_per_trial, args.cpus_per_trial, args.address) == (0.25, 1.0, "auto")
    assert (args.push_org, args.resume, args.storage) == ("my-org", False, None)


def test_bad_requests_fail_before_ray_starts(tmp_path: Path) -> None:
    pytest.importorskip("ray.tune")
    import ray

    from dqn_agents.suite import run_suite

    started = ray.is_initialized()
    with pytest.raises(ValueError, match="ALE/Pong-v5"):
        run_suite(["ALE/Pongg-v5"], storage_path=tmp_path)
    with pytest.raises(ValueError, match="Unknown game 'NoSuchEnv-v0'"):
        run_suite(["NoSuchEnv-v0"], storage_path=tmp_path)
    with pytest.raises(ValueError, match="learning_rate"):
        run_suite(["CartPole-v1"], overrides={"learnig_rate": 1e-3}, storage_path=tmp_path)
    with pytest.raises(ValueError, match="shared mount"):
        run_suite(["CartPole-v1"], storage_path="s3://bucket/suites")
    with pytest.raises(ValueError, match="Hub user or organisation"):
        run_suite(["CartPole-v1"], push_to="no/slash", storage_path=tmp_path)
    write_json(tmp_path / "taken" / "suite.json", {"games": ["CartPole-v1"], "seeds": [0]})
    with pytest.raises(FileExistsError, match="resume"):
        run_suite(["CartPole-v1"], storage_path=tmp_path, name="taken")
    with pytest.raises(FileNotFoundError, match="No suite to resume"):
        run_suite(resume=True, storage_path=tmp_path / "empty")
    assert ray.is_initialized() == started  # refused before Ray was started


# --------------------------------------------------------------------------- on local Ray


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A local Ray with 2 CPUs for the module; its workers can import tests/ modules."""
    pytest.importorskip("ray.tune")
    import ray

    old = os.environ.get("PYTHONPATH")
    # Ray workers inherit this environment: they import suite_helpers (Catch, callbacks).
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), old) if p)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        yield str(ray.get_runtime_context().gcs_address)
    finally:
        ray.shutdown()
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


@pytest.fixture(scope="module")
def suite_run(ray_address: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One 2 games x 2 seeds suite with an injected fault, pushed to the loopback Hub."""
    pytest.importorskip("huggingface_hub")
    from hub_server import HubServer, patch_client

    from dqn_agents.suite import EvalProtocol, run_suite

    tmp = tmp_path_factory.mktemp("suite")
    server = HubServer().start()
    out = io.StringIO()
    try:
        with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
            patch_client(mp, server, str(tmp / "hf"), token="hf_suite_test_token")
            result = run_suite(
                [CATCH_ID, "CartPole-v1"],
                seeds=2,
                total_timesteps=300,
                overrides=TINY,
                protocol=EvalProtocol(episodes=2),
                storage_path=tmp / "storage",
                name="two-by-two",
                push_to="suite-org",
                save_replay=True,
                checkpoint_every=75,
                report_every=15,
                callbacks=[
                    FailOnce(str(tmp / "fault.marker"), at_step=200, env_id="CartPole-v1", seed=1),
                    LogStarts(str(tmp / "starts.txt")),
                ],
            )
        yield {"result": result, "output": out.getvalue(), "hub": server, "tmp": tmp}
    finally:
        server.stop()


def result_rows(trial_folder: Path) -> list[dict[str, Any]]:
    """The metric rows Tune stored for a trial (its result.json, one JSON per line)."""
    lines = (trial_folder / "result.json").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.slow
def test_suite_writes_the_table_the_plot_and_the_model_folders(suite_run: Any) -> None:
    from dqn_agents import DQN

    result = suite_run["result"]
    experiment = result.experiment
    assert result.complete and result.exit_status == 0, suite_run["output"]
    assert sorted(result.finished) == sorted(
        trial_dirname(g, s) for g in (CATCH_ID, "CartPole-v1") for s in (0, 1)
    )
    rows = {row.game: row for row in result.report.games}
    assert set(rows) == {"Catch-v0", "CartPole-v1"}
    for row in rows.values():
        assert (row.seeds_finished, row.seeds_total) == (2, 2)
        assert row.mean == pytest.approx(np.mean(list(row.scores.values())))
        assert row.human_normalized is None  # neither game has reference scores
    assert all(-1.0 <= s <= 1.0 for s in rows["Catch-v0"].scores.values())  # Catch scores
    table = json.loads((experiment / "suite_table.json").read_text())
    assert table["complete"] is True and table["aggregate"]["trials_finished"] == 4
    assert len((experiment / "suite_table.csv").read_text().splitlines()) == 3
    assert (experiment / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"

    for env_id in (CATCH_ID, "CartPole-v1"):
        for seed in (0, 1):
            folder = experiment / trial_dirname(env_id, seed)
            model = folder / "model"
            for name in ("config.json", "model.safetensors", "results.json", "README.md"):
                assert (model / name).is_file(), (model, name)
            assert (model / "training_log.json").is_file() and (model / "learning_curve.png")
            results = json.loads((model / "results.json").read_text())
            assert results["n_eval_episodes"] == 2 and results["protocol"]["greedy"] is True
            assert results["env_id"] == env_id
            agent = DQN.load(model, env=env_id, device="cpu")  # the saved model loads and plays
            assert agent.num_timesteps == 300
            assert np.isfinite(agent.evaluate(1, env=env_id, seed=0).mean)
            metrics = result_rows(folder)
            assert metrics[-1]["finished"] is True and metrics[-1]["num_timesteps"] == 300
            trained = [m for m in metrics if m.get("loss") is not None]
            assert trained, "no report carried a loss"
            assert {"steps_per_s", "epsilon", "episodes", "score_last_20"} <= set(trained[-1])


@pytest.mark.slow
def test_progress_is_one_line_per_trial_state_change(suite_run: Any) -> None:
    output = suite_run["output"]
    lines = [ln for ln in output.splitlines() if ln.startswith("[suite ")]
    assert sum(": started" in ln for ln in lines) == 4, output
    assert sum(": finished" in ln for ln in lines) == 4, output
    assert sum("injected fault" in ln and "retrying" in ln for ln in lines) == 1, output
    assert sum(": restarted from its last checkpoint" in ln for ln in lines) == 1, output
    assert "Traceback" not in output and "Trial task failed" not in output
    assert len(lines) == 10, output


@pytest.mark.slow
def test_a_failed_trial_resumes_from_its_last_checkpoint(suite_run: Any) -> None:
    experiment = suite_run["result"].experiment
    assert (suite_run["tmp"] / "fault.marker").read_text().startswith("raised at step 200")
    starts = read_starts(suite_run["tmp"] / "starts.txt")
    faulted = [
        (step, attempt)
        for env, seed, step, attempt in starts
        if (env, seed)
        == (
            "CartPole-v1",
            1,
        )
    ]
    # First attempt from step 0; the retry from the checkpoint at step 150 (every 75).
    assert faulted == [(0, 1), (150, 2)], starts
    clean = [s for s in starts if (s[0], s[1]) != ("CartPole-v1", 1)]
    assert sorted(s[2:] for s in clean) == [(0, 1)] * 3  # the others ran once
    records = {
        seed: json.loads(
            (experiment / trial_dirname("CartPole-v1", seed) / "trial.json").read_text()
        )
        for seed in (0, 1)
    }
    assert records[1]["attempt"] == 2 and records[1]["restored_from"] == 150
    # The same result in steps as the run without the fault, and (replay memory restored
    # with the checkpoint) the same number of gradient updates.
    assert records[1]["num_timesteps"] == records[0]["num_timesteps"] == 300
    final = {
        seed: result_rows(experiment / trial_dirname("CartPole-v1", seed))[-1] for seed in (0, 1)
    }
    assert final[1]["n_updates"] == final[0]["n_updates"] > 0
    curve = json.loads((experiment / trial_dirname("CartPole-v1", 1) / "curve.json").read_text())
    steps = [g["step"] for g in curve["games"]]
    assert steps == sorted(steps) and len(set(steps)) == len(steps) and steps[-1] <= 300


@pytest.mark.slow
def test_finished_models_are_pushed_to_the_hub(suite_run: Any) -> None:
    hub, experiment = suite_run["hub"], suite_run["result"].experiment
    for env_id in (CATCH_ID, "CartPole-v1"):
        for seed in (0, 1):
            repo_id = f"suite-org/dqn-{trial_dirname(env_id, seed)}"
            repo = hub.get_repo(repo_id)
            assert repo is not None, repo_id
            commit = repo.resolve("main")
            assert commit is not None
            files = {path: f.content for path, f in commit.files.items()}
            local = experiment / trial_dirname(env_id, seed) / "model"
            for name in ("config.json", "model.safetensors", "results.json", "README.md"):
                assert files[name] == (local / name).read_bytes(), (repo_id, name)
            assert f"pushed to {repo_id}" in suite_run["output"]


@pytest.mark.slow
def test_ctrl_c_then_resume_redoes_no_finished_trial(ray_address: str, tmp_path: Path) -> None:
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY))
    storage = tmp_path / "storage"
    common = ["--storage", str(storage), "--name", "stopped", "--address", ray_address]
    command = [sys.executable, "-m", "dqn_agents", "suite", *common]
    start = [
        *command,
        "--games",
        "CartPole-v1",
        "--seeds",
        "2",
        "--timesteps",
        "4000",
        "--config",
        str(config),
        "--eval-episodes",
        "1",
        "--max-concurrent",
        "1",
        "--checkpoint-every",
        "500",
    ]
    proc = subprocess.Popen(
        start, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    seen: list[str] = []
    assert proc.stdout is not None
    deadline = time.monotonic() + 240
    first_done = None
    for line in proc.stdout:
        seen.append(line)
        if ": finished" in line:
            first_done = line.split("]", 1)[1].split(":", 1)[0].strip()  # "CartPole-v1 seed 0"
            proc.send_signal(signal.SIGINT)  # Ctrl-C on the driver
            break
        assert time.monotonic() < deadline, "".join(seen)
    rest, _ = proc.communicate(timeout=240)
    first_output = "".join(seen) + rest
    assert first_done is not None, first_output
    assert proc.returncode == 130, first_output
    assert "continue it with: dqn-agents suite --resume" in first_output
    experiment = storage / "stopped"
    finished_seed = int(first_done.rsplit(" ", 1)[1])
    other_seed = 1 - finished_seed
    finished = experiment / trial_dirname("CartPole-v1", finished_seed)
    rows_before = len(result_rows(finished))
    model_before = (finished / "model" / "model.safetensors").stat().st_mtime_ns
    assert json.loads((finished / "trial.json").read_text())["status"] == "finished"

    resumed = subprocess.run(
        [*command, "--resume"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    output = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, output
    assert f"CartPole-v1 seed {finished_seed}: " not in output  # never started again
    assert f"CartPole-v1 seed {other_seed}: finished" in output
    assert len(result_rows(finished)) == rows_before
    assert (finished / "model" / "model.safetensors").stat().st_mtime_ns == model_before
    table = json.loads((experiment / "suite_table.json").read_text())
    assert table["complete"] is True
    assert table["games"][0]["seeds_finished"] == 2
