"""The agents shipped in ``zoo/``: they load with no network, play as well as their card
says, are small, and push to the Hub unchanged.

Every test plays real ``ALE/*-v5`` games (real ROMs, sticky actions as the ids define)
with the shipped weights on the CPU, so the file is ``slow`` (about a minute per agent).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from statistics import mean
from typing import Any

import pytest
import yaml
from hub_server import HubServer, client_env

from dqn_agents import DQN
from dqn_agents.suite.protocol import gymnasium_atari_env, play_greedy

ROOT = Path(__file__).resolve().parent.parent
ZOO = ROOT / "zoo"
# Until issue 11's Pong agent reaches 18 and ships, there is nothing here to test: the
# skip says so in every CI log (it is not a pass).
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (ZOO / "dqn-Pong-v5" / "config.json").is_file(),
        reason="zoo/dqn-Pong-v5 is not shipped yet (issue 11: the Pong run has not reached 18)",
    ),
]
MAX_BYTES = 10 * 1024 * 1024
#: What each shipped agent must reach over a few greedy games in CI (issue 11: Pong >= 18).
TARGETS = {"dqn-Pong-v5": 18.0}
CLI = [sys.executable, "-c", "from dqn_agents.cli import main; raise SystemExit(main())"]


def shipped() -> list[str]:
    if not ZOO.is_dir():
        return []
    return sorted(p.name for p in ZOO.iterdir() if (p / "config.json").is_file())


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any request to the Hub would fail: nothing listens on the endpoint."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def card_metadata(folder: Path) -> dict[str, Any]:
    text = (folder / "README.md").read_text()
    assert text.startswith("---\n")
    meta = yaml.safe_load(text.split("---\n")[1])
    assert isinstance(meta, dict)
    return meta


def test_every_target_is_shipped() -> None:
    assert set(TARGETS) <= set(shipped())


@pytest.mark.parametrize("name", shipped())
def test_folder_is_small_and_complete(name: str) -> None:
    folder = ZOO / name
    files = {p.name: p for p in folder.iterdir()}
    assert {"config.json", "model.safetensors", "results.json", "README.md"} <= set(files)
    assert sum(p.stat().st_size for p in files.values()) <= MAX_BYTES
    assert not any(p.is_symlink() for p in files.values())
    results = json.loads(files["results.json"].read_text())
    meta = card_metadata(folder)
    [index] = meta["model-index"]
    [entry] = index["results"]
    [metric] = entry["metrics"]
    assert entry["dataset"]["name"] == json.loads(files["config.json"].read_text())["env_id"]
    assert float(str(metric["value"]).split()[0]) == pytest.approx(results["mean_reward"], abs=0.01)
    if name in TARGETS:
        assert results["mean_reward"] >= TARGETS[name]
        assert results["n_eval_episodes"] >= 10


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_loads_offline_and_scores(name: str, offline: None) -> None:
    agent = DQN.from_pretrained(f"dqn-agents/{name}", device="cpu")
    result = agent.evaluate(n_episodes=5, seed=2026)
    assert len(result.scores) == 5
    assert result.mean >= TARGETS[name], result.scores


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_scores_through_gymnasium_preprocessing(name: str, offline: None) -> None:
    """Gymnasium's own ``AtariPreprocessing`` + ``FrameStackObservation``, no episodic life
    and no fire reset: the agent does not depend on our wrappers' choices."""
    agent = DQN.from_pretrained(f"dqn-agents/{name}", device="cpu")
    env = gymnasium_atari_env(str(agent.env_id))
    scores = play_greedy(agent, env, episodes=3, seed=7)
    env.close()
    assert mean(scores) >= TARGETS[name], scores


def test_cli_evaluates_the_shipped_agent_offline(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": "http://127.0.0.1:9"}
    env["HF_HOME"] = os.fspath(tmp_path / "hf")  # an empty cache: only the zoo can answer
    done = subprocess.run(
        [*CLI, "evaluate", "dqn-agents/dqn-Pong-v5", "--episodes", "2", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert len(out["scores"]) == 2
    assert {"mean", "std"} <= set(out)


def test_push_publishes_the_folder_unchanged(tmp_path: Path) -> None:
    server = HubServer().start()
    try:
        token = "hf_zoo_push_token_0123456789"
        env = {**os.environ, **client_env(server, os.fspath(tmp_path / "hf"), token=token)}
        folder = ZOO / "dqn-Pong-v5"
        done = subprocess.run(
            [*CLI, "push", os.fspath(folder), "--repo-id", "dqn-agents/dqn-Pong-v5"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        repo = server.get_repo("dqn-agents/dqn-Pong-v5")
        assert repo is not None
        commit = repo.resolve("main")
        assert commit is not None
        remote = {p: f.content for p, f in commit.files.items()}
        local = {p.name: p.read_bytes() for p in folder.iterdir()}
        assert {k: v for k, v in remote.items() if k != ".gitattributes"} == local
    finally:
        server.stop()
