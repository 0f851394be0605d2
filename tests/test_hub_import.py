"""Importing SB3 and CleanRL DQN models without unpickling: same actions as the originals,
malicious payloads refused (and never run)."""

from __future__ import annotations

import base64
import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hub_server import HubServer, patch_client
from torch import nn

pytest.importorskip("huggingface_hub")

from foreign_models import CleanRLQNetwork

from dqn_agents.hub import HubIntegrityError, HubUnsafeFileError, from_cleanrl, from_sb3
from dqn_agents.hub.importers import (
    cleanrl_to_folder,
    read_sb3_zip,
    sb3_env_id_from_repo,
    sb3_to_folder,
)
from dqn_agents.wrappers import make_atari

ENV_ID = "PongNoFrameskip-v4"


class Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (self.marker, "w"))


def real_observations(n: int = 100, seed: int = 0) -> np.ndarray:
    env = make_atari(ENV_ID)
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    out = [obs]
    while len(out) < n:
        obs, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
        if terminated or truncated:
            obs, _ = env.reset()
        out.append(obs)
    env.close()
    return np.stack(out)


@pytest.fixture(scope="module")
def observations() -> np.ndarray:
    return real_observations()


@pytest.fixture(scope="module")
def sb3_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SB3 DQN CnnPolicy trained a few hundred steps on our wrappers, saved by SB3."""
    from stable_baselines3 import DQN as SB3DQN

    env = make_atari(ENV_ID)
    model = SB3DQN(
        "CnnPolicy",
        env,
        buffer_size=500,
        learning_starts=100,
        train_freq=4,
        batch_size=8,
        target_update_interval=50,
        seed=0,
        device="cpu",
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model.learn(200)
    finally:
        torch.set_num_threads(threads)
    path = tmp_path_factory.mktemp("sb3") / f"dqn-{ENV_ID}.zip"
    model.save(path)
    env.close()
    return path


def test_sb3_same_actions_as_sb3(sb3_zip: Path, observations: np.ndarray) -> None:
    from stable_baselines3 import DQN as SB3DQN

    sb3_model = SB3DQN.load(sb3_zip, device="cpu")  # SB3's own (pickling) loader, for reference
    agent = from_sb3(sb3_zip, env=ENV_ID, device="cpu")
    theirs, _ = sb3_model.predict(observations, deterministic=True)
    ours, _ = agent.predict(observations, deterministic=True)
    np.testing.assert_array_equal(ours, theirs)
    with torch.no_grad():
        q_theirs = sb3_model.q_net(torch.as_tensor(observations)).numpy()
        q_ours = agent.q_net(torch.as_tensor(observations)).numpy()
    np.testing.assert_allclose(q_ours, q_theirs, rtol=1e-5, atol=1e-5)
    assert agent.env_id == ENV_ID
    assert agent.wrapper_options["noop_max"] == 30
    assert agent.config.buffer_size == 500 and agent.config.learning_starts == 100
    assert agent.config.target_update_interval == 50 // 4  # SB3 env steps -> our updates


def test_sb3_channel_order_matches_sb3_pipeline(observations: np.ndarray) -> None:
    """SB3's AtariWrapper + VecFrameStack stack channel-last, newest frame last; our stack
    is channel-first with the same order, so a (84,84,4) SB3 obs is ours transposed."""
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import VecFrameStack

    venv = VecFrameStack(make_atari_env(ENV_ID, n_envs=1, seed=0), n_stack=4)
    sb3_obs = venv.reset()
    venv.close()
    assert sb3_obs.shape == (1, 84, 84, 4)
    assert not sb3_obs[0, ..., :3].any() and sb3_obs[0, ..., 3].any()  # zero-padded, newest last
    first = observations[0]  # ours right after reset
    assert first.shape == (4, 84, 84)
    assert not first[:3].any() and first[3].any()
    # And SB3's policy transposes channel-last input to exactly this channel-first layout.
    from stable_baselines3.common.preprocessing import maybe_transpose

    space = pytest.importorskip("gymnasium").spaces.Box(0, 255, (4, 84, 84), np.uint8)
    transposed = maybe_transpose(sb3_obs, space)
    np.testing.assert_array_equal(transposed[0], np.moveaxis(sb3_obs[0], -1, 0))


def test_sb3_reader_skips_cloudpickled_values(sb3_zip: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned-data"
    tampered = tmp_path / f"dqn-{ENV_ID}.zip"
    with zipfile.ZipFile(sb3_zip) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "data":
                obj = json.loads(data)
                payload = base64.b64encode(pickle.dumps(Evil(str(marker)))).decode()
                obj["exploration_schedule"] = {":type:": "<class 'x'>", ":serialized:": payload}
                data = json.dumps(obj).encode()
            dst.writestr(item, data)
    hyper, weights = read_sb3_zip(tampered)
    assert not any(isinstance(v, dict) and ":serialized:" in v for v in hyper.values())
    assert hyper["buffer_size"] == 500 and "exploration_schedule" not in hyper
    assert any(k.startswith("q_net.") for k in weights)
    from_sb3(tampered, env=ENV_ID, device="cpu")
    assert not marker.exists()


def test_sb3_malicious_policy_is_refused(sb3_zip: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned-policy"
    evil_zip = tmp_path / "evil.zip"
    with zipfile.ZipFile(sb3_zip) as src, zipfile.ZipFile(evil_zip, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "policy.pth":
                buffer = io.BytesIO()
                torch.save({"q_net.q_net.0.weight": Evil(str(marker))}, buffer)
                data = buffer.getvalue()
            dst.writestr(item, data)
    with pytest.raises(HubUnsafeFileError, match="refused"):
        from_sb3(evil_zip, env=ENV_ID, device="cpu")
    assert not marker.exists()


def test_sb3_from_hub_repo(
    sb3_zip: Path, observations: np.ndarray, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert sb3_env_id_from_repo(f"sb3/dqn-{ENV_ID}") == ENV_ID
    with HubServer() as hub:
        patch_client(monkeypatch, hub, str(tmp_path / "hf"), token="t")
        hub.put_files(f"sb3/dqn-{ENV_ID}", {f"dqn-{ENV_ID}.zip": sb3_zip.read_bytes()})
        agent = from_sb3(f"sb3/dqn-{ENV_ID}", device="cpu")
    local = from_sb3(sb3_zip, env=ENV_ID, device="cpu")
    assert agent.env_id == ENV_ID
    np.testing.assert_array_equal(
        agent.predict(observations[:20], deterministic=True)[0],
        local.predict(observations[:20], deterministic=True)[0],
    )


def test_cleanrl_same_actions(observations: np.ndarray, tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = CleanRLQNetwork(6)
    path = tmp_path / "dqn_atari.cleanrl_model"
    torch.save(net.state_dict(), path)
    agent = from_cleanrl(path, env_id=ENV_ID, device="cpu")
    with torch.no_grad():
        theirs = net(torch.as_tensor(observations, dtype=torch.float32)).argmax(1).numpy()
    ours, _ = agent.predict(observations, deterministic=True)
    np.testing.assert_array_equal(ours, theirs)
    assert agent.env_id == ENV_ID


def test_cleanrl_mlp_same_actions(tmp_path: Path) -> None:
    torch.manual_seed(1)
    net = nn.Sequential(
        nn.Linear(4, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 2)
    )
    path = tmp_path / "dqn.cleanrl_model"
    torch.save({f"network.{k}": v for k, v in net.state_dict().items()}, path)
    agent = from_cleanrl(path, env_id="CartPole-v1", device="cpu")
    obs = np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32)
    with torch.no_grad():
        theirs = net(torch.as_tensor(obs)).argmax(1).numpy()
    np.testing.assert_array_equal(agent.predict(obs, deterministic=True)[0], theirs)


def test_conversion_writes_a_model_folder_without_an_agent(sb3_zip: Path, tmp_path: Path) -> None:
    """sb3_to_folder / cleanrl_to_folder write config.json + model.safetensors only."""
    from dqn_agents.serialization import read_model_folder

    folder = sb3_to_folder(sb3_zip, tmp_path / "sb3")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    meta, weights = read_model_folder(folder)
    assert meta["env_id"] == ENV_ID  # from SB3's dqn-<env> file naming
    assert meta["imported_from"] == f"SB3 model {sb3_zip}"
    assert meta["wrapper_options"]["frame_stack"] == 4 and "head.weight" in weights
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    path = tmp_path / "dqn.cleanrl_model"
    torch.save({f"network.{k}": v for k, v in net.state_dict().items()}, path)
    with pytest.raises(ValueError, match="env_id"):
        cleanrl_to_folder(path, tmp_path / "cleanrl")
    meta, weights = read_model_folder(
        cleanrl_to_folder(path, tmp_path / "cleanrl", env_id="CartPole-v1")
    )
    assert meta["env_id"] == "CartPole-v1" and meta["wrapper_options"] is None
    assert torch.equal(weights["head.weight"], net.state_dict()["2.weight"])


def test_cleanrl_malicious_file_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned-cleanrl"
    path = tmp_path / "dqn_atari.cleanrl_model"
    torch.save({"network.0.weight": Evil(str(marker))}, path)
    with pytest.raises(HubUnsafeFileError, match="refused"):
        from_cleanrl(path, env_id=ENV_ID, device="cpu")
    assert not marker.exists()
    raw = tmp_path / "raw.cleanrl_model"
    raw.write_bytes(pickle.dumps(Evil(str(marker))))
    with pytest.raises(HubUnsafeFileError):
        from_cleanrl(raw, env_id=ENV_ID, device="cpu")
    assert not marker.exists()


def test_cleanrl_from_hub_repo(
    observations: np.ndarray, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    torch.manual_seed(2)
    net = CleanRLQNetwork(6)
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    repo_id = f"cleanrl/{ENV_ID}-dqn_atari-seed1"
    with HubServer() as hub:
        patch_client(monkeypatch, hub, str(tmp_path / "hf"), token="t")
        hub.put_files(repo_id, {"dqn_atari.cleanrl_model": buffer.getvalue(), "README.md": b"x"})
        agent = from_cleanrl(repo_id, device="cpu")  # env id from CleanRL's repo naming
        from huggingface_hub import constants

        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
        requests = len(hub.requests)
        offline = from_cleanrl(repo_id, device="cpu")  # from the cache, nothing sent
        assert len(hub.requests) == requests
    assert agent.env_id == ENV_ID
    for key, value in agent.q_net.state_dict().items():
        assert torch.equal(value, offline.q_net.state_dict()[key])
    with torch.no_grad():
        theirs = net(torch.as_tensor(observations[:30], dtype=torch.float32)).argmax(1).numpy()
    np.testing.assert_array_equal(agent.predict(observations[:30], deterministic=True)[0], theirs)


def test_imported_atari_agent_round_trips_through_the_hub(
    sb3_zip: Path, observations: np.ndarray, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The zoo workflow: import an SB3 Atari model, write an evaluated Hub folder, publish it
    unchanged with push_folder, and load it back with the same actions as SB3."""
    from stable_baselines3 import DQN as SB3DQN

    from dqn_agents.hub import load_from_hub, push_folder
    from dqn_agents.hub.card import build_model_card, build_results

    agent = from_sb3(sb3_zip, env=ENV_ID, device="cpu")
    folder = tmp_path / "zoo" / f"dqn-{ENV_ID}"
    agent.save_pretrained(folder)
    meta = json.loads((folder / "config.json").read_text())
    results = build_results(
        env_id=ENV_ID,
        mean_reward=-21.0,
        std_reward=0.0,
        n_eval_episodes=1,
        is_deterministic=True,
        wrapper_options=meta["wrapper_options"],
    )
    (folder / "results.json").write_text(json.dumps(results))
    (folder / "README.md").write_text(build_model_card(meta, results, f"dqn-agents/{folder.name}"))
    with HubServer() as hub:
        patch_client(monkeypatch, hub, str(tmp_path / "hf"), token="t")
        push_folder(folder, f"dqn-agents/{folder.name}")
        loaded = load_from_hub(f"dqn-agents/{folder.name}", revision="main", device="cpu")
    assert loaded.wrapper_options == agent.wrapper_options
    theirs, _ = SB3DQN.load(sb3_zip, device="cpu").predict(observations, deterministic=True)
    np.testing.assert_array_equal(loaded.predict(observations, deterministic=True)[0], theirs)


@pytest.mark.parametrize(
    ("policy", "env_id", "policy_kwargs", "refused"),
    [
        ("MlpPolicy", "CartPole-v1", {"activation_fn": nn.Tanh, "net_arch": [32]}, "Tanh"),
        ("CnnPolicy", ENV_ID, {"normalize_images": False}, "normalize_images=False"),
    ],
)
def test_sb3_policies_we_cannot_reproduce_are_refused(
    tmp_path: Path, policy: str, env_id: str, policy_kwargs: dict, refused: str
) -> None:
    """Real SB3 models whose policy_kwargs change the forward pass: refused, not mis-imported."""
    from stable_baselines3 import DQN as SB3DQN

    env = make_atari(env_id) if policy == "CnnPolicy" else env_id
    model = SB3DQN(policy, env, buffer_size=100, policy_kwargs=policy_kwargs, device="cpu")
    path = tmp_path / f"dqn-{env_id}.zip"
    model.save(path)
    with pytest.raises(HubIntegrityError, match=refused):
        from_sb3(path, env=env_id, device="cpu")
    hyper, _ = read_sb3_zip(path)
    assert isinstance(hyper["policy_kwargs"], dict)  # the plain part, never the pickle
