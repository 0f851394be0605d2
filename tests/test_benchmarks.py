"""The benchmark scripts' own logic (their figures come from running them, not from here)."""

from __future__ import annotations

import doctest
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

# A CartPole config that learns in seconds, so a whole "time to score" run fits a test.
FAST_CARTPOLE = {
    "learning_starts": 500,
    "buffer_size": 10_000,
    "mlp_hidden_sizes": [64, 64],
    "exploration_steps": 3_000,
    "learning_rate": 1e-3,
    "target_update_interval": 100,
}


def _load(name: str) -> ModuleType:
    if str(BENCHMARKS) not in sys.path:  # the scripts import their shared common module
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "name", ["throughput", "time_to_score", "learning_curve", "zoo_table", "greedy_checkpoints"]
)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(_load(name))
    assert result.attempted > 0 and result.failed == 0


def test_paired_ratios_take_the_faster_sb3_run_of_each_round() -> None:
    throughput = _load("throughput")
    setups = [
        ("ours", "ours", "Pong", 1, 100, None),
        ("sb3 default", "sb3", "Pong", 1, 100, None),
        ("sb3 1 thread", "sb3", "Pong", 1, 100, 1),
        ("ours 4 envs", "ours", "Pong", 4, 100, None),
        ("ours cartpole", "ours", "CartPole", 1, 100, None),
    ]

    def runs(*values: float) -> list[dict[str, Any]]:
        return [{"steps_per_s": v} for v in values]

    results = {
        "ours": runs(130.0, 100.0),
        "sb3 default": runs(100.0, 50.0),  # the second round hit a slow spell of the machine
        "sb3 1 thread": runs(60.0, 80.0),
        "ours 4 envs": runs(200.0, 160.0),
        "ours cartpole": runs(1.0, 1.0),
    }
    paired = throughput.paired_ratios(setups, results, 2)
    assert paired == {"ours": [1.3, 1.25], "ours 4 envs": [2.0, 2.0]}


def _time_to_score(tmp_path: Path, *args: str) -> dict[str, Any]:
    module = _load("time_to_score")
    out = tmp_path / "out.json"
    argv = [
        "--env",
        "CartPole-v1",
        "--checkpoint",
        str(tmp_path / "run"),
        "--device",
        "cpu",
        "--hyperparameters",
        json.dumps(FAST_CARTPOLE),
        "--json",
        str(out),
        *args,
    ]
    assert module.main(argv) == 0
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data


def test_time_to_score_resumes_across_calls_and_stops_at_the_target(tmp_path: Path) -> None:
    first = _time_to_score(tmp_path, "--target", "1000", "--window", "5", "--max-steps", "1500")
    assert first["reached"] is None and first["stopped_by"] == "max_steps"
    assert first["steps"] == 1500 and first["calls"] == 1
    assert first["config"]["learning_starts"] == 500 and first["games"]
    assert all(g["step"] <= 1500 for g in first["games"])

    # The second call resumes from the checkpoint: steps, games and training time go on.
    second = _time_to_score(tmp_path, "--target", "30", "--window", "5", "--max-steps", "20000")
    assert second["calls"] == 2 and second["steps"] > 1500
    assert second["games"][: len(first["games"])] == first["games"]
    assert second["train_seconds"] > first["train_seconds"]
    assert second["stopped_by"] == "reached"
    reached = second["reached"]
    assert reached["steps"] == second["steps"] and reached["mean_last_window"] >= 30
    last5 = [g["r"] for g in second["games"][-5:]]
    assert sum(last5) / 5 == pytest.approx(reached["mean_last_window"])
    assert (tmp_path / "run" / "agent.zip").exists()

    # A finished run is not trained further; a higher target trains on.
    third = _time_to_score(tmp_path, "--target", "30", "--window", "5")
    assert third == second
    fourth = _time_to_score(
        tmp_path, "--target", "1000", "--window", "5", "--max-steps", str(second["steps"] + 300)
    )
    assert fourth["reached"] is None and fourth["target"] == 1000
    assert fourth["steps"] == second["steps"] + 300
    assert fourth["earlier_targets"] == [{"target": 30.0, **second["reached"]}]


def test_time_to_score_changes_hyperparameters_from_the_resumed_step(tmp_path: Path) -> None:
    first = _time_to_score(tmp_path, "--target", "1000", "--max-steps", "800")
    assert "changes" not in first
    lower = json.dumps({**FAST_CARTPOLE, "learning_rate": 2.5e-4})
    module = _load("time_to_score")
    argv = ["--env", "CartPole-v1", "--checkpoint", str(tmp_path / "run"), "--device", "cpu"]
    out = tmp_path / "out.json"
    for max_steps in ("1200", "1600"):  # the second resume repeats the change: no new entry
        extra = ["--target", "1000", "--max-steps", max_steps, "--json", str(out)]
        assert module.main([*argv, "--hyperparameters", lower, *extra]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["changes"] == [{"step": 800, "hyperparameters": {"learning_rate": 2.5e-4}}]
    assert data["config"]["learning_rate"] == 2.5e-4 and data["steps"] == 1600
    from dqn_agents import DQN

    agent = DQN.load(tmp_path / "run" / "agent.zip", device="cpu")
    assert agent.learner.optimizer.param_groups[0]["lr"] == 2.5e-4


def test_dueling_copy_plays_the_same_and_resumes_as_a_dueling_run(tmp_path: Path) -> None:
    first = _time_to_score(tmp_path, "--target", "1000", "--max-steps", "900")
    copy = _load("dueling_copy")
    destination = tmp_path / "duel"
    assert copy.main([str(tmp_path / "run"), str(destination)]) == 0
    from dqn_agents import DQN

    plain = DQN.load(tmp_path / "run" / "agent.zip", device="cpu")
    duel = DQN.load(destination / "agent.zip", device="cpu")
    assert duel.config.dueling and duel.num_timesteps == plain.num_timesteps == 900
    assert duel.n_updates == plain.n_updates
    obs = torch.randn(16, 4)
    with torch.no_grad():
        torch.testing.assert_close(duel.q_net(obs), plain.q_net(obs), rtol=1e-5, atol=1e-5)
        target, plain_target = duel.learner.q_net_target, plain.learner.q_net_target
        assert target is not None and plain_target is not None
        torch.testing.assert_close(target(obs), plain_target(obs), rtol=1e-5, atol=1e-5)
    # Adam goes on from its moments: the same step count, the hidden moments copied
    moments = duel.optimizer.state_dict()["state"]
    assert len(moments) == len(list(duel.q_net.parameters()))
    plain_moments = plain.optimizer.state_dict()["state"]
    assert float(moments[0]["step"]) == float(plain_moments[0]["step"])
    with pytest.raises(SystemExit, match="already"):
        copy.main([str(destination), str(tmp_path / "again")])

    module = _load("time_to_score")
    out = tmp_path / "out.json"
    argv = ["--env", "CartPole-v1", "--checkpoint", str(destination), "--device", "cpu"]
    assert module.main([*argv, "--target", "1000", "--max-steps", "1300", "--json", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["steps"] == 1300 and data["config"]["dueling"] is True
    assert data["games"][: len(first["games"])] == first["games"]
    assert data["changes"][-1]["step"] == 900
    assert data["changes"][-1]["hyperparameters"] == {"dueling": True}


def test_time_to_score_refuses_a_checkpoint_of_another_env(tmp_path: Path) -> None:
    _time_to_score(tmp_path, "--target", "1000", "--max-steps", "600")
    module = _load("time_to_score")
    with pytest.raises(SystemExit, match="CartPole-v1"):
        module.main(["--env", "Acrobot-v1", "--checkpoint", str(tmp_path / "run")])


def test_time_to_score_json_renders_as_a_docs_table(tmp_path: Path) -> None:
    data = _time_to_score(tmp_path, "--target", "1000", "--max-steps", "600")
    sys.path.insert(0, str(BENCHMARKS.parent / "docs" / "hooks"))
    try:
        import benchmark_tables
    finally:
        sys.path.pop(0)
    results = tmp_path / "results"
    results.mkdir()
    (results / "time_to_score.json").write_text(json.dumps(data), encoding="utf-8")
    table = benchmark_tables.render_table("time_to_score", results)
    assert "| CartPole-v1 | 1000 over 20 | not yet |" in table
    assert "Script: `benchmarks/time_to_score.py`" in table


def test_greedy_checkpoints_rows_and_weight_averages(tmp_path: Path) -> None:
    import shutil

    import torch

    greedy = _load("greedy_checkpoints")
    snaps = []
    for max_steps in ("700", "1400"):  # two checkpoints of one run, copied as they were written
        _time_to_score(tmp_path, "--target", "1000", "--max-steps", max_steps)
        snaps.append(shutil.copytree(tmp_path / "run", tmp_path / f"snap-{max_steps}"))
    out = tmp_path / "greedy.json"
    common = ["--json", str(out), "--episodes", "2"]
    assert greedy.main([*map(str, snaps), *common]) == 0
    assert greedy.main([*map(str, snaps), *common, "--average", "--label", "average"]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    rows = {(e["label"], e["steps"]): e for e in data["evaluations"]}
    assert set(rows) == {("seed 0", 700), ("seed 0", 1400), ("average", 1400)}
    assert rows[("average", 1400)]["averaged"] == [700, 1400]
    assert "averaged" not in rows[("seed 0", 1400)]
    assert [len(r) for r in data["rows"]] == [len(data["columns"])] * 3

    averaged = greedy.load_average(snaps)
    from dqn_agents import DQN

    members = [DQN.load(s / "agent.zip", device="cpu").q_net.state_dict() for s in snaps]
    for name, tensor in averaged.q_net.state_dict().items():
        torch.testing.assert_close(tensor, (members[0][name] + members[1][name]) / 2)
    assert averaged.num_timesteps == 1400


def test_zoo_table_reads_every_shipped_folder_and_renders(tmp_path: Path) -> None:
    zoo_table = _load("zoo_table")
    zoo = tmp_path / "zoo"
    for name, score in (("dqn-Pong-v5", 19.25), ("dqn-Breakout-v5", 40.0)):
        folder = zoo / name
        folder.mkdir(parents=True)
        results = {"env_id": f"ALE/{name[4:]}", "mean_reward": score, "std_reward": 1.0}
        results |= {"n_eval_episodes": 20, "eval_datetime": "2026-12-03T14:00:00+00:00"}
        (folder / "results.json").write_text(json.dumps(results), encoding="utf-8")
    (zoo / "notes").mkdir()  # not an agent: no results.json
    out = tmp_path / "results" / "zoo.json"
    assert zoo_table.main(["--zoo", str(zoo), "--json", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert [row[1] for row in data["rows"]] == ["ALE/Breakout-v5", "ALE/Pong-v5"]
    assert data["rows"][1][2] == "19.2 ± 1.0 (20 games)"
    assert data["rows"][1][3] == "not run"  # no cross-check recorded: said, not invented
    sys.path.insert(0, str(BENCHMARKS.parent / "docs" / "hooks"))
    try:
        import benchmark_tables
    finally:
        sys.path.pop(0)
    table = benchmark_tables.render_table("zoo", out.parent)
    assert "[dqn-Pong-v5](https://huggingface.co/dqn-agents/dqn-Pong-v5)" in table
    with pytest.raises(SystemExit, match="no zoo folder"):
        zoo_table.main(["--zoo", str(tmp_path / "results")])


@pytest.mark.slow
def test_cpu_profile_times_every_part_of_the_loop(tmp_path: Path) -> None:
    """A short run of benchmarks/cpu_profile.py on the real Pong ROM writes a docs table."""
    out = tmp_path / "cpu_profile.json"
    assert (
        _load("cpu_profile").main(
            ["--steps", "40", "--updates", "2", "--skip-compile", "--json", str(out)]
        )
        == 0
    )
    data = json.loads(out.read_text(encoding="utf-8"))
    parts = [row[0].strip() for row in data["rows"]]
    assert (
        parts[0].startswith("learn() loop") and "backward" in parts and "fused Adam step" in parts
    )
    assert all(isinstance(row[1], float) and row[1] > 0 for row in data["rows"])
    assert data["source"] == "benchmarks/cpu_profile.py"
