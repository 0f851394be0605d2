"""Push -> pull round trips through the real huggingface_hub client and a loopback Hub
server: one commit with weights, config, results, card and video; revision pinning;
offline reload; the model card's model-index; upload failures; token hygiene; the CLI."""

from __future__ import annotations

import json
import logging
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hub_server import HubServer, client_env, patch_client
from safetensors.torch import save as st_save

pytest.importorskip("huggingface_hub")

from dqn_agents import DQN
from dqn_agents.hub import (
    HubAuthError,
    HubEnvMismatchError,
    HubIntegrityError,
    HubUnsafeFileError,
    HubUploadError,
    load_from_hub,
    push_folder,
    push_to_hub,
)
from dqn_agents.hub.push import video_available

TOKEN = "hf_SECRET_push_token_9f8e7d6c5b4a"
ENV_ID = "CartPole-v1"


class Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (self.marker, "w"))


def make_agent(seed: int = 0) -> DQN:
    return DQN(ENV_ID, seed=seed, mlp_hidden_sizes=(16,), device="cpu")


def probe() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(100, 4)).astype(np.float32)


def actions(agent: DQN) -> np.ndarray:
    return np.asarray(agent.predict(probe(), deterministic=True)[0])


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    server = HubServer().start()
    patch_client(monkeypatch, server, str(tmp_path / "hf"), token=TOKEN)
    yield server
    server.stop()


def repo_files(hub: HubServer, repo_id: str, revision: str = "main") -> dict[str, bytes]:
    repo = hub.get_repo(repo_id)
    assert repo is not None
    commit = repo.resolve(revision)
    assert commit is not None
    return {p: f.content for p, f in commit.files.items()}


def test_push_then_pull_round_trip(hub: HubServer, tmp_path: Path) -> None:
    agent = make_agent()
    result = agent.push_to_hub("org/dqn-CartPole-v1", n_eval_episodes=2, video=True)
    assert len(result.commit_oid) == 40
    files = repo_files(hub, "org/dqn-CartPole-v1")
    expected = {"config.json", "model.safetensors", "results.json", "README.md"}
    if video_available():
        expected.add("replay.mp4")
        assert len(files["replay.mp4"]) > 1000
    assert expected <= set(files)
    assert not any(p.endswith((".pkl", ".bin", ".pth", ".zip")) for p in files)
    # One commit on top of the repo's initial one.
    repo = hub.get_repo("org/dqn-CartPole-v1")
    assert repo is not None and len(repo.commits) == 2

    results = json.loads(files["results.json"])
    for key in (
        "mean_reward",
        "std_reward",
        "n_eval_episodes",
        "is_deterministic",
        "eval_datetime",
    ):
        assert key in results
    assert results["env_id"] == ENV_ID and results["n_eval_episodes"] == 2
    assert results["is_deterministic"] is True

    loaded = DQN.from_pretrained("org/dqn-CartPole-v1", device="cpu")
    np.testing.assert_array_equal(actions(loaded), actions(agent))
    for key, value in agent.q_net.state_dict().items():
        torch.testing.assert_close(loaded.q_net.state_dict()[key], value)


def test_model_card_metadata_parses_back(hub: HubServer, tmp_path: Path) -> None:
    from huggingface_hub import ModelCard

    agent = make_agent()
    result = push_to_hub(agent, "org/card", n_eval_episodes=2, video=False)
    readme = tmp_path / "README.md"
    readme.write_bytes(repo_files(hub, "org/card")["README.md"])
    card = ModelCard.load(readme)
    assert card.data.library_name == "dqn-agents"
    for tag in ("reinforcement-learning", "deep-reinforcement-learning", "dqn", ENV_ID):
        assert tag in card.data.tags
    (eval_result,) = card.data.eval_results
    assert eval_result.metric_type == "mean_reward"
    assert eval_result.dataset_name == ENV_ID
    mean = float(str(eval_result.metric_value).split("+/-")[0])
    assert mean == pytest.approx(result.results["mean_reward"], abs=0.005)
    assert 'DQN.from_pretrained("org/card")' in card.text
    assert "learning_rate" in card.text  # training configuration
    assert "cpu_count" in card.text  # hardware
    # Also through the client's own download path.
    from huggingface_hub import hf_hub_download

    remote = ModelCard.load(hf_hub_download("org/card", "README.md"))
    assert remote.data.eval_results[0].metric_value == eval_result.metric_value


def test_revision_pinning_and_offline(
    hub: HubServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = make_agent(0), make_agent(1)
    assert not np.array_equal(actions(first), actions(second)) or True
    c1 = push_to_hub(first, "org/pin", n_eval_episodes=1, video=False).commit_oid
    c2 = push_to_hub(second, "org/pin", n_eval_episodes=1, video=False).commit_oid
    assert c1 != c2
    old = load_from_hub("org/pin", revision=c1, device="cpu")
    new = load_from_hub("org/pin", device="cpu")
    for key, value in first.q_net.state_dict().items():
        torch.testing.assert_close(old.q_net.state_dict()[key], value)
    for key, value in second.q_net.state_dict().items():
        torch.testing.assert_close(new.q_net.state_dict()[key], value)
    # Offline: both revisions come from the cache, with no request to the server.
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    n = len(hub.requests)
    np.testing.assert_array_equal(actions(load_from_hub("org/pin", device="cpu")), actions(second))
    np.testing.assert_array_equal(
        actions(load_from_hub("org/pin", revision=c1, device="cpu")), actions(first)
    )
    assert len(hub.requests) == n


def test_token_never_logged(
    hub: HubServer, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("huggingface_hub", "dqn_agents", "httpx", "httpx2", "httpcore"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    push_to_hub(make_agent(), "org/secret", n_eval_episodes=1, video=False)
    load_from_hub("org/secret", device="cpu")
    hub.faults.require_auth = True
    hub.faults.valid_tokens = {"another"}
    with pytest.raises(HubAuthError) as info:
        push_to_hub(make_agent(), "org/secret", n_eval_episodes=1, video=False)
    out, err = capfd.readouterr()
    assert TOKEN not in caplog.text and TOKEN not in out and TOKEN not in err
    assert TOKEN not in str(info.value)
    assert any(h.get("authorization") == f"Bearer {TOKEN}" for _, _, h in hub.requests)


def test_upload_failures_commit_nothing(hub: HubServer) -> None:
    agent = make_agent()
    push_to_hub(agent, "org/fail", n_eval_episodes=1, video=False)
    repo = hub.get_repo("org/fail")
    assert repo is not None
    head = repo.branches["main"]
    changed = make_agent(3)
    hub.faults.drop_commit = 1  # connection dropped while sending the commit
    with pytest.raises(HubUploadError, match="nothing was published"):
        push_to_hub(changed, "org/fail", n_eval_episodes=1, video=False)
    assert repo.branches["main"] == head
    hub.faults.fail_lfs_upload = (507, 1)  # storage refuses the weights upload
    with pytest.raises(HubUploadError, match="507"):
        push_to_hub(make_agent(4), "org/fail", n_eval_episodes=1, video=False)
    assert repo.branches["main"] == head
    hub.faults.fail_lfs_upload = (0, 1)  # dropped mid-upload once: the client retries
    push_to_hub(make_agent(5), "org/fail", n_eval_episodes=1, video=False)
    assert hub.faults.fail_lfs_upload == (0, 0)
    assert repo.branches["main"] != head


def test_inconsistent_repos_are_refused(hub: HubServer, tmp_path: Path) -> None:
    agent = make_agent()
    push_to_hub(agent, "org/good", n_eval_episodes=1, video=False)
    files = repo_files(hub, "org/good")
    # Truncated weights (consistent checksum: the repo itself holds the bad file).
    hub.put_files(
        "org/truncated",
        {"config.json": files["config.json"], "model.safetensors": files["model.safetensors"][:50]},
    )
    with pytest.raises(HubIntegrityError, match=r"truncated|not valid"):
        load_from_hub("org/truncated", device="cpu")
    # Weights of another shape than the config describes.
    other = DQN(ENV_ID, seed=0, mlp_hidden_sizes=(8,), device="cpu")
    hub.put_files(
        "org/mismatch",
        {
            "config.json": files["config.json"],
            "model.safetensors": st_save(dict(other.q_net.state_dict())),
        },
    )
    with pytest.raises(HubIntegrityError, match="do not"):
        load_from_hub("org/mismatch", device="cpu")
    # A pickle payload disguised as model.safetensors: refused, never run.
    marker = tmp_path / "pwned"
    hub.put_files(
        "org/disguised",
        {
            "config.json": files["config.json"],
            "model.safetensors": pickle.dumps(Evil(str(marker))),
        },
    )
    with pytest.raises((HubIntegrityError, HubUnsafeFileError)):
        load_from_hub("org/disguised", device="cpu")
    assert not marker.exists()
    # A config for another game than the env given.
    with pytest.raises(HubEnvMismatchError, match="Acrobot"):
        load_from_hub("org/good", env="Acrobot-v1", device="cpu")


def test_push_evaluated_folder_unchanged(hub: HubServer, tmp_path: Path) -> None:
    folder = tmp_path / "zoo" / "dqn-CartPole-v1"
    make_agent().save_pretrained(folder)
    (folder / "results.json").write_text(json.dumps({"mean_reward": 9.5, "std_reward": 0.5}))
    (folder / "README.md").write_text("---\nlibrary_name: dqn-agents\n---\n# zoo entry\n")
    result = push_folder(folder, "dqn-agents/dqn-CartPole-v1")
    remote = repo_files(hub, "dqn-agents/dqn-CartPole-v1")
    for path in folder.iterdir():
        assert remote[path.name] == path.read_bytes()
    assert result.mean_reward == 9.5
    (folder / "extra.pkl").write_bytes(b"\x80\x04N.")
    with pytest.raises(HubUnsafeFileError, match=r"extra\.pkl"):
        push_folder(folder, "dqn-agents/dqn-CartPole-v1")


def test_zoo_agent_loads_without_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    zoo = tmp_path / "zoo"
    agent = make_agent()
    agent.save_pretrained(zoo / "dqn-Tiny-CartPole")
    monkeypatch.setenv("DQN_AGENTS_ZOO", os.fspath(zoo))
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens
    loaded = DQN.from_pretrained("dqn-agents/dqn-Tiny-CartPole", device="cpu")
    np.testing.assert_array_equal(actions(loaded), actions(agent))


@pytest.mark.slow
def test_cli_push_then_evaluate(hub: HubServer, tmp_path: Path) -> None:
    model = make_agent().save(tmp_path / "model")
    env = {**os.environ, **client_env(hub, str(tmp_path / "cli-hf"), token=TOKEN)}
    cli = [sys.executable, "-c", "from dqn_agents.cli import main; raise SystemExit(main())"]
    pushed = subprocess.run(
        [*cli, "push", os.fspath(model), "--repo-id", "org/cli", "--episodes", "2", "--no-video"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert pushed.returncode == 0, pushed.stderr
    assert "org/cli" in pushed.stdout
    assert TOKEN not in pushed.stdout + pushed.stderr
    assert {"model.safetensors", "config.json", "results.json", "README.md"} <= set(
        repo_files(hub, "org/cli")
    )
    evaluated = subprocess.run(
        [*cli, "evaluate", "org/cli", "--episodes", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert evaluated.returncode == 0, evaluated.stderr
    assert "mean reward" in pushed.stdout
    assert ENV_ID in evaluated.stdout  # the downloaded agent played its env
    # Offline (HF_HUB_OFFLINE=1 read by the client at import): from the cache, no request.
    n_requests = len(hub.requests)
    offline = subprocess.run(
        [*cli, "evaluate", "org/cli", "--episodes", "1"],
        env={**env, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert offline.returncode == 0, offline.stderr
    assert len(hub.requests) == n_requests
    assert TOKEN not in evaluated.stdout + evaluated.stderr


def test_push_checks_the_hub_before_evaluating(hub: HubServer) -> None:
    agent = make_agent()
    played: list[int] = []
    original = agent.evaluate

    def counting_evaluate(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        played.append(1)
        return original(*args, **kwargs)

    agent.evaluate = counting_evaluate  # type: ignore[method-assign]
    hub.faults.require_auth = True
    hub.faults.valid_tokens = {"hf_another_token"}
    with pytest.raises(HubAuthError):
        push_to_hub(agent, "org/denied", n_eval_episodes=1, video=False)
    assert played == []  # refused in a second, before any game was played
    hub.faults.require_auth, hub.faults.valid_tokens = False, None
    from dqn_agents.hub import HubRevisionNotFoundError

    with pytest.raises(HubRevisionNotFoundError):
        push_to_hub(agent, "org/denied", n_eval_episodes=1, video=False, revision="no-such-branch")
    assert played == []


def test_push_uploads_only_the_model_folder_and_never_follows_links(
    hub: HubServer, tmp_path: Path
) -> None:
    secret = tmp_path / "id_rsa"
    secret.write_text("-----BEGIN OPENSSH PRIVATE KEY----- not for the Hub")
    folder = tmp_path / "model"
    make_agent().save_pretrained(folder)
    (folder / "results.json").write_text(json.dumps({"mean_reward": 1.0, "std_reward": 0.0}))
    (folder / "README.md").write_text("---\nlibrary_name: dqn-agents\n---\n# a model\n")
    (folder / "notes.txt").symlink_to(secret)
    (folder / "credentials.json").write_text('{"token": "hf_secret"}')
    (folder / "wandb").mkdir()
    (folder / "wandb" / "settings.yaml").write_text("api_key: secret\n")
    push_folder(folder, "org/clean")
    remote = repo_files(hub, "org/clean")
    pushed = set(remote) - {".gitattributes"}  # the Hub makes that file with every new repo
    assert pushed == {"config.json", "model.safetensors", "results.json", "README.md"}
    assert not any(b"secret" in content or b"PRIVATE KEY" in content for content in remote.values())
    (folder / "replay.mp4").symlink_to(secret)  # a link among the files a push would send
    with pytest.raises(HubUnsafeFileError, match="symbolic link"):
        push_folder(folder, "org/clean")
