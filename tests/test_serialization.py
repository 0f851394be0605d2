"""The model file format: safetensors + JSON, atomic writes, no pickle ever."""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from dqn_agents import DQN
from dqn_agents.serialization import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    ModelFormatError,
    PickleRefusedError,
    read_folder_meta,
    read_model,
    read_model_file,
    read_model_folder,
)

SMALL = dict(learning_starts=50, buffer_size=500, batch_size=16, mlp_hidden_sizes=(16, 16))


class _Payload:
    """Unpickling this creates a marker file: proof that a loader ran the payload."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (Path.write_text, (Path(self.marker), "pwned"))  # type: ignore[return-value]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[DQN, Path]:
    agent = DQN("CartPole-v1", seed=0, **SMALL).learn(120)
    path = agent.save(tmp_path_factory.mktemp("m") / "cartpole")
    return agent, path


def test_save_appends_zip_and_members_are_json_and_safetensors(trained: tuple[DQN, Path]) -> None:
    _, path = trained
    assert path.suffix == ".zip" and path.is_file()
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert set(names) == {
            "config.json",
            "model.safetensors",
            "optimizer.safetensors",
            "training_state.json",
        }
        assert all(n.endswith((".json", ".safetensors")) for n in names)
        for name in names:
            data = archive.read(name)
            assert not data.startswith(b"\x80"), f"{name} looks like a pickle"
            assert b"cbuiltins" not in data and b"torch._utils" not in data
        meta = json.loads(archive.read("config.json"))
    assert meta["format"] == "dqn-agents" and meta["format_version"] == 1
    assert meta["env_id"] == "CartPole-v1"
    assert meta["action_space"] == {"n": 2}
    assert meta["observation_space"]["shape"] == [4]
    assert meta["num_timesteps"] == 120
    assert {"torch", "dqn_agents", "gymnasium"} <= set(meta["versions"])


def test_load_gives_identical_actions(trained: tuple[DQN, Path]) -> None:
    agent, path = trained
    loaded = DQN.load(path)
    obs = np.random.default_rng(0).normal(size=(100, 4)).astype(np.float32)
    a1, _ = agent.predict(obs, deterministic=True)
    a2, _ = loaded.predict(obs, deterministic=True)
    np.testing.assert_array_equal(a1, a2)
    for k, v in agent.q_net.state_dict().items():
        assert torch.equal(v, loaded.q_net.state_dict()[k])
    # path without suffix works too, like SB3
    assert DQN.load(str(path)[:-4]).num_timesteps == 120


def test_save_pretrained_folder_roundtrip(trained: tuple[DQN, Path], tmp_path: Path) -> None:
    agent, _ = trained
    folder = agent.save_pretrained(tmp_path / "hub")
    assert sorted(os.listdir(folder)) == [CONFIG_NAME, WEIGHTS_NAME]
    meta, weights = read_model_folder(folder)
    assert meta["env_id"] == "CartPole-v1" and "fc.0.weight" in weights
    loaded = DQN.load(folder)
    obs = np.zeros((3, 4), np.float32)
    np.testing.assert_array_equal(
        loaded.predict(obs, deterministic=True)[0], agent.predict(obs, deterministic=True)[0]
    )


def _pickle_zip(path: Path, marker: Path, member: str = "archive/data.pkl") -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, pickle.dumps(_Payload(str(marker))))
        archive.writestr("archive/version", "3")


@pytest.mark.parametrize("member", ["archive/data.pkl", "data.pkl", "config.json"])
def test_pickle_payload_is_refused_without_running(tmp_path: Path, member: str) -> None:
    marker = tmp_path / "pwned.txt"
    evil = tmp_path / "evil.zip"
    _pickle_zip(evil, marker, member)
    with pytest.raises(ModelFormatError) as info:
        DQN.load(evil)
    assert not marker.exists()
    if member.endswith(".pkl"):
        assert isinstance(info.value, PickleRefusedError)
        assert "never unpickles" in str(info.value)
        assert "from_sb3" in str(info.value)
    else:  # a zip with unexpected members: invalid, but not a pickle we refused
        assert not isinstance(info.value, PickleRefusedError)


def test_torch_save_file_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned.txt"
    path = tmp_path / "model.pt"
    torch.save({"x": _Payload(str(marker))}, path)
    with pytest.raises(PickleRefusedError, match="PyTorch/SB3 pickle"):
        DQN.load(path)
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(PickleRefusedError, match="never unpickles"):
        read_model(raw)
    assert not marker.exists()


def test_folder_of_pickles_is_refused_by_type(tmp_path: Path) -> None:
    """A folder without the model files: PickleRefusedError only when it holds pickles."""
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelFormatError) as info:
        read_model_folder(empty)
    assert not isinstance(info.value, PickleRefusedError)
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "model.pth").write_bytes(pickle.dumps({"w": 1}))
    for reader in (read_model_folder, read_folder_meta, read_model):
        with pytest.raises(PickleRefusedError, match=r"model\.pth"):
            reader(pickled)


def test_folder_meta_reads_only_the_config(trained: tuple[DQN, Path], tmp_path: Path) -> None:
    agent, _ = trained
    folder = agent.save_pretrained(tmp_path / "hub")
    (folder / WEIGHTS_NAME).write_bytes(b"not safetensors")  # not read by read_folder_meta
    assert read_folder_meta(folder)["env_id"] == "CartPole-v1"
    with pytest.raises(ModelFormatError, match="safetensors"):
        read_model_folder(folder)


def test_sb3_zip_is_refused(tmp_path: Path) -> None:
    from stable_baselines3 import DQN as SB3DQN

    model = SB3DQN("MlpPolicy", "CartPole-v1", buffer_size=100, learning_starts=10)
    path = tmp_path / "sb3.zip"
    model.save(path)
    with pytest.raises(PickleRefusedError, match="from_sb3"):
        DQN.load(path)


def test_truncated_and_corrupted_files(trained: tuple[DQN, Path], tmp_path: Path) -> None:
    _, path = trained
    data = path.read_bytes()
    truncated = tmp_path / "trunc.zip"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFormatError, match=r"truncated|corrupted|not a zip"):
        DQN.load(truncated)
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"hello world, not a model")
    with pytest.raises(ModelFormatError, match="not a zip"):
        DQN.load(garbage)
    # a zip whose safetensors member is corrupted
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bad, "w") as dst:
        for name in src.namelist():
            payload = src.read(name)
            if name == WEIGHTS_NAME:
                payload = payload[:40] + b"\x00" * 10
            dst.writestr(name, payload)
    with pytest.raises(ModelFormatError, match="safetensors"):
        DQN.load(bad)
    with pytest.raises(FileNotFoundError):
        DQN.load(tmp_path / "missing.zip")


def _rewrite_config(src: Path, dst: Path, **changes: object) -> None:
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, "w") as b:
        for name in a.namelist():
            payload = a.read(name)
            if name == CONFIG_NAME:
                meta = json.loads(payload)
                for key, value in changes.items():
                    if key.startswith("config."):
                        meta["config"][key[len("config.") :]] = value
                    else:
                        meta[key] = value
                payload = json.dumps(meta).encode()
            b.writestr(name, payload)


def test_invalid_meta_is_refused(trained: tuple[DQN, Path], tmp_path: Path) -> None:
    _, path = trained
    cases = {
        "format": ({"format": "other"}, "expected 'dqn-agents'"),
        "version": ({"format_version": 99}, "not supported"),
        "key": ({"config.learnig_rate": 1.0}, "learnig_rate"),
        "shape": ({"config.mlp_hidden_sizes": [32, 32]}, "do not match"),
    }
    for name, (changes, message) in cases.items():
        dst = tmp_path / f"{name}.zip"
        _rewrite_config(path, dst, **changes)
        with pytest.raises(ModelFormatError, match=message):
            DQN.load(dst)


def test_unknown_member_is_refused(trained: tuple[DQN, Path], tmp_path: Path) -> None:
    _, path = trained
    dst = tmp_path / "extra.zip"
    with zipfile.ZipFile(path) as a, zipfile.ZipFile(dst, "w") as b:
        for name in a.namelist():
            b.writestr(name, a.read(name))
        b.writestr("extra.bin", b"\x00")
    with pytest.raises(ModelFormatError, match="unexpected members"):
        read_model_file(dst)


def test_env_mismatch_names_both(trained: tuple[DQN, Path]) -> None:
    _, path = trained
    with pytest.raises(ValueError, match=r"CartPole-v1.*Acrobot-v1"):
        DQN.load(path, env="Acrobot-v1")


def test_atomic_save_keeps_old_file_on_failure(
    trained: tuple[DQN, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent, _ = trained
    path = agent.save(tmp_path / "model.zip")
    before = path.read_bytes()

    def boom(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # Ctrl-C while the zip members are being written

    monkeypatch.setattr(zipfile.ZipFile, "writestr", boom)
    with pytest.raises(KeyboardInterrupt):
        agent.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.zip"]
