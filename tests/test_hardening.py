"""Hostile and careless inputs of issue 15 (points 2, 3, 5 and 6), each built here in tmp_path.

* Point 2: a tiny ``config.json`` cannot ask for huge networks, observations, env counts
  or Atari options: everything is bounded and checked against the weights before anything
  is built.
* Point 3: zip bombs (model zips, SB3 zips, PyTorch records inside them) are refused
  before they are inflated.
* Point 5: corrupted or odd inputs raise our typed errors, and the CLI exits 2 with one
  line.
* Point 6: a local ``org/name`` folder never stands in for the Hub repo of that id.

The fuzzing of all loaders is ``tests/test_fuzz.py``.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from dqn_agents import DQN
from dqn_agents.cli import main
from dqn_agents.config import DQNConfig
from dqn_agents.serialization import ModelFormatError, check_weights_fit, read_model

# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def cartpole(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real CartPole model folder (save_pretrained) to tamper with."""
    folder = tmp_path_factory.mktemp("cartpole") / "model"
    return DQN("CartPole-v1", seed=0).save_pretrained(folder)


@pytest.fixture(scope="module")
def pong(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real Pong model folder (Nature CNN, Atari wrapper options)."""
    folder = tmp_path_factory.mktemp("pong") / "model"
    return DQN("ALE/Pong-v5", seed=0, buffer_size=100).save_pretrained(folder)


def tampered(source: Path, target: Path, edit: object) -> Path:
    """Copy a model folder, applying ``edit(meta)`` to its config.json."""
    target.mkdir(parents=True)
    meta = json.loads((source / "config.json").read_text())
    edit(meta)  # type: ignore[operator]
    (target / "config.json").write_text(json.dumps(meta))
    (target / "model.safetensors").write_bytes((source / "model.safetensors").read_bytes())
    return target


def spaces_zip(members: dict[str, bytes], padded: dict[str, tuple[bytes, int]]) -> bytes:
    """A deflated zip; each ``padded`` member is its bytes followed by N MiB of spaces."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
        for name, (head, mib) in padded.items():
            with archive.open(name, "w", force_zip64=True) as member:
                member.write(head)
                for _ in range(mib):
                    member.write(b" " * (1 << 20))
    return out.getvalue()


@pytest.fixture(scope="module")
def sb3_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real SB3 DQN zip (CartPole MLP), written by SB3 itself."""
    import stable_baselines3 as sb3

    path = tmp_path_factory.mktemp("sb3") / "dqn-CartPole-v1.zip"
    sb3.DQN("MlpPolicy", "CartPole-v1", learning_starts=0, buffer_size=100, seed=0).save(path)
    return path


def members_of(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


# --------------------------------------------------------------------------- point 2


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m["config"].update(mlp_hidden_sizes=[16_000, 16_000]), "do not match"),
        (lambda m: m["action_space"].update(n=10**8), "action_space.n"),
        (lambda m: m["observation_space"].update(shape=[30_000, 30_000]), "observation_space"),
        (lambda m: m["observation_space"].update(shape=[4_000]), "do not match"),
        (lambda m: m["config"].update(dueling=True), "do not match"),
        (lambda m: m["observation_space"].update(dtype="(100000000,)f8"), "dtype"),
        (lambda m: m.update(num_timesteps="many"), "num_timesteps"),
    ],
)
def test_a_tiny_config_cannot_size_the_network(
    cartpole: Path, tmp_path: Path, edit: object, message: str
) -> None:
    folder = tampered(cartpole, tmp_path / "m", edit)
    with pytest.raises(ModelFormatError, match=message):
        read_model(folder)  # before DQN.load builds anything
    with pytest.raises(ModelFormatError, match=message):
        DQN.load(folder)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("screen_size", 40_000),
        ("frame_stack", 200_000),
        ("noop_max", 10**9),
        ("frame_skip", 10**6),
        ("max_episode_frames", 10**12),
    ],
)
def test_atari_options_from_a_file_are_bounded(
    pong: Path, tmp_path: Path, option: str, value: int
) -> None:
    folder = tampered(pong, tmp_path / "m", lambda m: m["wrapper_options"].update({option: value}))
    with pytest.raises(ModelFormatError, match=f"wrapper_options.{option}"):
        read_model(folder)


def test_atari_options_must_make_the_saved_observations(pong: Path, tmp_path: Path) -> None:
    # within the bounds, but an env of 64 stacked 1024x1024 frames per env is not this model
    big = tampered(pong, tmp_path / "big", lambda m: m["wrapper_options"].update(screen_size=1024))
    with pytest.raises(ModelFormatError, match="make observations of shape"):
        read_model(big)
    other = tampered(pong, tmp_path / "other", lambda m: m.update(env_id="CartPole-v1"))
    with pytest.raises(ModelFormatError, match="not an Atari game"):
        read_model(other)
    unknown = tampered(pong, tmp_path / "unknown", lambda m: m["wrapper_options"].update(x=1))
    with pytest.raises(ModelFormatError, match="Unknown Atari option"):
        read_model(unknown)
    assert read_model(pong)[0]["wrapper_options"]["screen_size"] == 84


def test_num_envs_and_other_counts_are_bounded(cartpole: Path, tmp_path: Path) -> None:
    folder = tampered(cartpole, tmp_path / "m", lambda m: m["config"].update(num_envs=4096))
    with pytest.raises(ModelFormatError, match="num_envs must be <= 256"):
        DQN.load(folder)  # refused before 4,096 envs are built
    for field, value in [
        ("num_envs", 4096),
        ("batch_size", 10**7),
        ("buffer_size", 10**12),
        ("eval_qmax_states", 10**6),
        ("n_step", 10**6),
        ("mlp_hidden_sizes", (10**6,)),
        ("mlp_hidden_sizes", (8,) * 100),
    ]:
        with pytest.raises(ValueError, match=field):
            DQNConfig(**{field: value})
    assert DQNConfig(num_envs=256, batch_size=4096).num_envs == 256


@pytest.mark.parametrize(
    ("network", "shape", "dtype", "dueling", "hidden"),
    [
        ("auto", (4, 84, 84), "uint8", False, (64, 64)),
        ("nature", (4, 84, 84), "uint8", True, (64, 64)),
        ("mnih2013", (4, 84, 84), "uint8", False, (64, 64)),
        ("mnih2013", (2, 100, 60), "uint8", True, (64, 64)),
        ("auto", (4,), "float32", False, (64, 64)),
        ("mlp", (3, 5, 7), "float64", True, (16, 8, 4)),
        ("mlp", (4, 84, 84), "uint8", False, ()),
        ("auto", (8, 4, 4), "uint8", False, (32,)),
    ],
)
def test_the_shape_check_agrees_with_the_networks(
    network: str, shape: tuple[int, ...], dtype: str, dueling: bool, hidden: tuple[int, ...]
) -> None:
    """check_weights_fit knows the layouts of dqn_agents.networks: it must not drift."""
    import gymnasium as gym

    from dqn_agents.networks import build_q_network

    config = DQNConfig(network=network, dueling=dueling, mlp_hidden_sizes=hidden)
    space = gym.spaces.Box(0, 255, shape, np.dtype(dtype))
    weights = build_q_network(space, 5, config).state_dict()
    meta = {
        "observation_space": {"shape": list(shape), "dtype": dtype},
        "action_space": {"n": 5},
        "config": config.to_dict(),
    }
    check_weights_fit(meta, weights)
    with pytest.raises(ModelFormatError, match="do not match"):
        check_weights_fit({**meta, "action_space": {"n": 6}}, weights)


# --------------------------------------------------------------------------- point 3


def test_a_model_zip_bomb_is_refused_before_it_is_inflated(cartpole: Path, tmp_path: Path) -> None:
    config = (cartpole / "config.json").read_bytes()
    weights = (cartpole / "model.safetensors").read_bytes()
    # valid JSON (trailing spaces) that inflates to 64 MiB from about 64 KB
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(spaces_zip({"model.safetensors": weights}, {"config.json": (config, 64)}))
    assert bomb.stat().st_size < 200_000
    with pytest.raises(ModelFormatError, match=r"claims .* bytes"):
        DQN.load(bomb)
    # within the member's cap (64 MiB) but expanding 1000:1
    state = {"num_timesteps": 0}
    ratio = tmp_path / "ratio.zip"
    ratio.write_bytes(
        spaces_zip(
            {"config.json": config, "model.safetensors": weights},
            {"training_state.json": (json.dumps(state).encode(), 32)},
        )
    )
    with pytest.raises(ModelFormatError, match="zip bomb"):
        DQN.load(ratio)


def test_sb3_zip_bombs_are_refused(sb3_model: Path, tmp_path: Path) -> None:
    pytest.importorskip("huggingface_hub")
    from dqn_agents.hub import HubIntegrityError, from_sb3

    members = members_of(sb3_model)
    data, policy = members.pop("data"), members.pop("policy.pth")
    bomb = tmp_path / "dqn-CartPole-v1.zip"
    bomb.write_bytes(spaces_zip({**members, "policy.pth": policy}, {"data": (data, 96)}))
    with pytest.raises(HubIntegrityError, match=r"claims .* bytes"):
        from_sb3(bomb)
    # a PyTorch record inside policy.pth that inflates 1000:1 (torch.load inflates it)
    state = torch.load(io.BytesIO(policy), weights_only=True)
    state["q_net_target.padding"] = torch.zeros(8_000_000)  # 32 MB of zeros
    buffer = io.BytesIO()
    torch.save(state, buffer)
    inner = members_of_bytes(buffer.getvalue())
    deflated = io.BytesIO()
    with zipfile.ZipFile(deflated, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, payload in inner.items():
            archive.writestr(name, payload)
    nested = tmp_path / "nested" / "dqn-CartPole-v1.zip"
    nested.parent.mkdir()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, payload in {**members, "data": data, "policy.pth": deflated.getvalue()}.items():
            archive.writestr(name, payload)
    nested.write_bytes(out.getvalue())
    assert nested.stat().st_size < 1_000_000
    with pytest.raises(HubIntegrityError, match="zip bomb"):
        from_sb3(nested)
    assert from_sb3(sb3_model).n_actions == 2  # the real file still imports


def members_of_bytes(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


# --------------------------------------------------------------------------- point 5


def test_a_folder_given_as_a_file_is_a_typed_error(tmp_path: Path) -> None:
    pytest.importorskip("huggingface_hub")
    from dqn_agents.hub import HubIntegrityError, from_cleanrl, from_sb3
    from dqn_agents.serialization import read_model_file

    folder = tmp_path / "dqn-CartPole-v1.zip"
    folder.mkdir()
    with pytest.raises(HubIntegrityError, match="is a folder"):
        from_sb3(folder)
    cleanrl = tmp_path / "CartPole-v1-dqn-seed1.cleanrl_model"
    cleanrl.mkdir()
    with pytest.raises(HubIntegrityError, match="is a folder"):
        from_cleanrl(cleanrl)
    with pytest.raises(ModelFormatError, match="is a folder"):
        read_model_file(folder)


def test_corrupted_sb3_zips_raise_our_typed_error(sb3_model: Path, tmp_path: Path) -> None:
    pytest.importorskip("huggingface_hub")
    from dqn_agents.hub import HubIntegrityError, from_sb3

    members = members_of(sb3_model)
    cases: dict[str, bytes] = {}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, payload in {
            **members,
            "data": b'{"a": ' * 100_000 + b"1" + b"}" * 100_000,
        }.items():
            archive.writestr(name, payload)
    cases["deep-json"] = out.getvalue()  # RecursionError in json
    cases["long-int"] = rezip({**members, "data": b'{"gamma": ' + b"9" * 10_000 + b"}"})
    flipped = bytearray(rezip(members))
    start = flipped.index(b"policy.pth") + len(b"policy.pth") + 200
    for i in range(start, start + 64):
        flipped[i] ^= 0x5A
    cases["bit-flips"] = bytes(flipped)  # zlib.error / bad CRC
    for flag, method in (("encrypted", None), ("method-99", 99)):
        raw = bytearray(rezip(members))
        for marker in (b"PK\x03\x04", b"PK\x01\x02"):  # every local and central header
            at = raw.find(marker)
            while at >= 0:
                field = at + (6 if marker == b"PK\x03\x04" else 8)
                if method is None:
                    raw[field] |= 0x1
                else:
                    raw[field + 2 : field + 4] = method.to_bytes(2, "little")
                at = raw.find(marker, at + 4)
        cases[flag] = bytes(raw)
    for name, payload in cases.items():
        path = tmp_path / name / "dqn-CartPole-v1.zip"
        path.parent.mkdir()
        path.write_bytes(payload)
        with pytest.raises(HubIntegrityError):
            from_sb3(path)
    # non-finite weights in an SB3 policy: the file's fault, a Hub error like the rest
    state = torch.load(io.BytesIO(members["policy.pth"]), weights_only=True)
    state = {
        k: torch.full_like(v, float("nan")) if "q_net.q_net.2" in k else v for k, v in state.items()
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    nan = tmp_path / "nan" / "dqn-CartPole-v1.zip"
    nan.parent.mkdir()
    nan.write_bytes(rezip({**members, "policy.pth": buffer.getvalue()}))
    with pytest.raises(HubIntegrityError, match="non-finite"):
        from_sb3(nan)


def rezip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)
    return out.getvalue()


def test_corrupted_training_state_and_meta_raise_our_typed_error(tmp_path: Path) -> None:
    good = DQN("CartPole-v1", seed=0).save(tmp_path / "good")
    members = members_of(good)
    state = json.loads(members["training_state.json"])
    state["rng"]["numpy"]["state"]["state"] = 10**40  # numpy: OverflowError on restore
    broken_rng = tmp_path / "rng.zip"
    broken_rng.write_bytes(rezip({**members, "training_state.json": json.dumps(state).encode()}))
    meta = json.loads(members["config.json"])
    meta["versions"] = 5  # read as a dict by the version check
    broken_meta = tmp_path / "meta.zip"
    broken_meta.write_bytes(rezip({**members, "config.json": json.dumps(meta).encode()}))
    for path in (broken_rng, broken_meta):
        with pytest.raises(ModelFormatError):
            DQN.load(path)


def test_the_cli_exits_2_with_one_line_for_hostile_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = DQN("CartPole-v1", seed=0).save(tmp_path / "good")
    members = members_of(good)
    state = json.loads(members["training_state.json"])
    state["predict_rng"]["state"]["inc"] = -1
    bad_rng = tmp_path / "rng.zip"
    bad_rng.write_bytes(rezip({**members, "training_state.json": json.dumps(state).encode()}))
    meta = json.loads(members["config.json"])
    meta["config"]["mlp_hidden_sizes"] = [32, 32]  # torch's mismatch report spans lines
    bad_shape = tmp_path / "shape.zip"
    bad_shape.write_bytes(rezip({**members, "config.json": json.dumps(meta).encode()}))
    folder = tmp_path / "a-folder"
    folder.mkdir()
    for path in (bad_rng, bad_shape, folder):
        assert main(["evaluate", str(path), "--episodes", "1"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("dqn-agents evaluate: error:") and err.count("\n") == 1, err


# --------------------------------------------------------------------------- point 6


def test_a_local_folder_never_shadows_a_hub_repo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("huggingface_hub")
    from hub_server import HubServer, patch_client

    from dqn_agents.hub.pull import resolve_source

    server = HubServer().start()
    try:
        patch_client(monkeypatch, server, str(tmp_path / "hf"), token="hf_hardening_0123456789")
        repo = DQN("CartPole-v1", seed=0).save_pretrained(tmp_path / "upload")
        server.put_files("org/name", {p.name: p.read_bytes() for p in repo.iterdir()}, "v1")
        monkeypatch.chdir(tmp_path)
        local = Path("org/name")
        local.mkdir(parents=True)
        (local / "config.json").write_text("{}")  # a broken local model: never loaded silently
        (local / "model.safetensors").write_bytes(b"")

        assert main(["evaluate", "org/name", "--episodes", "1"]) == 2
        err = capsys.readouterr().err
        assert "both a local path and a Hub repo id" in err and "hf://org/name" in err
        assert main(["evaluate", "hf://org/name", "--episodes", "1"]) == 0  # the Hub
        capsys.readouterr()
        assert main(["evaluate", "./org/name", "--episodes", "1"]) == 2  # the local folder
        assert "config.json" in capsys.readouterr().err

        assert resolve_source("org/other") == (None, "org/other")  # nothing here: the Hub
        assert resolve_source("hf://org/name") == (None, "org/name")
        assert resolve_source("./org/name") == (Path("org/name"), None)
        assert resolve_source(local) == (local, None)
        with pytest.raises(FileNotFoundError, match="never looked up on the Hub"):
            resolve_source("./org/missing")
        with pytest.raises(FileNotFoundError):
            resolve_source("runs/x/model.zip")
        Path("runs").mkdir()
        Path("runs/model.zip").write_bytes(b"")
        assert resolve_source("runs/model.zip") == (Path("runs/model.zip"), None)
        with pytest.raises(ValueError, match="repo_id"):
            resolve_source("hf://not a repo")
    finally:
        server.stop()


def test_the_importers_follow_the_same_rule(
    sb3_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("huggingface_hub")
    from dqn_agents.hub.importers import cleanrl_to_folder, sb3_to_folder

    monkeypatch.chdir(tmp_path)
    Path("sb3").mkdir()
    Path("sb3/dqn-CartPole-v1").write_bytes(sb3_model.read_bytes())
    with pytest.raises(ValueError, match="both a local path and a Hub repo id"):
        sb3_to_folder("sb3/dqn-CartPole-v1", tmp_path / "out")
    assert sb3_to_folder("./sb3/dqn-CartPole-v1", tmp_path / "out").is_dir()
    with pytest.raises(FileNotFoundError, match="never looked up on the Hub"):
        cleanrl_to_folder(
            os.path.join("cleanrl", "x", "CartPole-v1-dqn-seed1.cleanrl_model"), tmp_path / "o"
        )
