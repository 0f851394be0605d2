"""Convert SB3 and CleanRL DQN checkpoints to dqn-agents model folders, never unpickling.

Weights are read with ``torch.load(weights_only=True)`` (tensors only, no code) and mapped
onto our networks; `sb3_to_folder` / `cleanrl_to_folder` write ``config.json`` +
``model.safetensors``. Building agents from them is `dqn_agents.hub.api`'s job.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import pickle
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from dqn_agents.checkpoint import model_meta
from dqn_agents.config import DQNConfig
from dqn_agents.hub.errors import (
    HubFileMissingError,
    HubIntegrityError,
    HubUnsafeFileError,
    require_huggingface_hub,
)
from dqn_agents.hub.pull import resolve_source, translate_hf_error
from dqn_agents.networks import CONV_SPECS, HIDDEN_SIZES, build_q_network
from dqn_agents.serialization import (
    MAX_COMPRESSION_RATIO,
    MAX_WEIGHTS_BYTES,
    ModelFormatError,
    parse_json,
    read_zip_member,
    write_model_folder,
)
from dqn_agents.spec import ModelSpec

__all__ = [
    "ATARI_ZOO_WRAPPER_OPTIONS",
    "SB3_MEMBER_LIMITS",
    "TORCH_FILE_LIMIT",
    "check_torch_archive",
    "cleanrl_env_id_from_repo",
    "cleanrl_state_dict",
    "cleanrl_to_folder",
    "map_layers",
    "read_sb3_zip",
    "sb3_env_id_from_repo",
    "sb3_to_folder",
]

ATARI_ZOO_WRAPPER_OPTIONS: dict[str, Any] = {
    "noop_max": 30,
    "frame_skip": 4,
    "max_pool": True,
    "screen_size": 84,
    "grayscale": True,
    "episodic_life": True,
    "fire_reset": True,
    "clip_rewards": True,
    "frame_stack": 4,
}
"""SB3 ``AtariWrapper`` + ``VecFrameStack(4)`` and CleanRL's ``dqn_atari.py`` stack, in our
wrapper options (sticky actions come from the id: 0 for ``NoFrameskip-v4``)."""

SB3_MEMBER_LIMITS: dict[str, int] = {"data": 64 * 1024**2, "policy.pth": 2 * MAX_WEIGHTS_BYTES}
"""The most bytes read of each SB3 zip member (``data``: JSON hyperparameters, tens of KB
in real models; ``policy.pth``: the online and target networks)."""
TORCH_FILE_LIMIT = 2 * MAX_WEIGHTS_BYTES
"""The most bytes the records of one PyTorch file (``policy.pth``, ``*.cleanrl_model``) may
expand to."""
_RATIO_FREE_BYTES = 1024**2
_SB3_DEFAULT_TRAIN_FREQ = 4
# SB3 DQN hyperparameters with the same meaning (and units) as our DQNConfig fields.
_SB3_PLAIN_FIELDS = (
    "learning_rate",
    "buffer_size",
    "learning_starts",
    "batch_size",
    "tau",
    "gamma",
    "gradient_steps",
    "target_update_interval",
    "exploration_initial_eps",
    "exploration_final_eps",
    "exploration_fraction",
    "max_grad_norm",
)


# --------------------------------------------------------------------------- helpers


def _safe_torch_load(data: bytes, where: str) -> dict[str, torch.Tensor]:
    """``torch.load`` restricted to tensors (``weights_only=True``), refusing anything else.

    PyTorch's restricted unpickler raises ``pickle.UnpicklingError`` for anything but
    tensors and plain containers (and for bytes that are no pickle at all). The records of
    a zip-format file are bounded first (`check_torch_archive`).
    """
    check_torch_archive(data, where)
    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        raise HubUnsafeFileError(
            f"{where} holds more than tensors (a pickle that would import or call code); "
            f"it was refused and nothing in it ran. Only plain state dicts can be imported. "
            f"Details: {text.splitlines()[0] if text else type(exc).__name__}"
        ) from exc
    except (RuntimeError, AttributeError, TypeError, ValueError) as exc:
        raise HubIntegrityError(f"{where} is not a readable PyTorch file ({exc}).") from exc
    except (EOFError, zipfile.BadZipFile, OSError) as exc:
        raise HubIntegrityError(f"{where} is truncated or corrupted ({exc}).") from exc
    except (IndexError, KeyError, OverflowError, RecursionError, MemoryError) as exc:
        raise HubIntegrityError(
            f"{where} is not a readable PyTorch file ({type(exc).__name__}: {exc})."
        ) from exc
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise HubIntegrityError(
            f"{where} does not hold a state dict of tensors (got {type(obj).__name__})."
        )
    return {str(k): v for k, v in obj.items()}


def check_torch_archive(data: bytes, where: str, limit: int = TORCH_FILE_LIMIT) -> None:
    """Refuse a zip-format PyTorch file whose records would expand to a zip bomb.

    ``torch.load`` allocates each record at the size the archive declares, then inflates
    it: a small file could ask for gigabytes. Records must be stored or deflated, not
    encrypted, and expand to at most ``limit`` bytes in all (and to at most
    `dqn_agents.serialization.MAX_COMPRESSION_RATIO` times the file, past 1 MiB). Data that
    is no zip archive is left to ``torch.load`` (which refuses anything but tensors).

    Args:
        data: The file's bytes.
        where: The file, for messages.
        limit: The most bytes its records may declare in all.

    Raises:
        HubIntegrityError: The archive is refused.
    """
    if not data.startswith(b"PK"):
        return
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise HubIntegrityError(f"{where} is a truncated or corrupted archive ({exc}).") from exc
    total = 0
    for info in infos:
        if info.flag_bits & 0x1 or info.compress_type not in (
            zipfile.ZIP_STORED,
            zipfile.ZIP_DEFLATED,
        ):
            raise HubIntegrityError(
                f"{where}: record {info.filename!r} is encrypted or uses compression method "
                f"{info.compress_type}; PyTorch never writes those."
            )
        total += info.file_size
    if total > limit or (total > _RATIO_FREE_BYTES and total > MAX_COMPRESSION_RATIO * len(data)):
        raise HubIntegrityError(
            f"{where}: its records expand {len(data):_} bytes to {total:_} (at most {limit:_}, "
            f"and {MAX_COMPRESSION_RATIO}:1); refusing it as a zip bomb."
        )


def _layer_indices(state_dict: Mapping[str, torch.Tensor], prefix: str) -> list[int]:
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.weight$")
    return sorted({int(m.group(1)) for k in state_dict if (m := pattern.match(k))})


def map_layers(
    state_dict: Mapping[str, torch.Tensor], prefixes: list[str]
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Map Sequential layers (in order) onto the dqn-agents layout.

    Convolutions (4-D weights) become ``features.0``, ``features.2``, ...; linear layers
    become ``fc.0``, ``fc.2``, ... and the last one ``head``.

    Args:
        state_dict: The source weights.
        prefixes: Sequential prefixes in forward order, e.g.
            ``["network."]`` or ``["q_net.features_extractor.cnn.", "q_net.q_net."]``.

    Returns:
        ``(our_state_dict, info)`` with ``info`` holding ``convs`` (out channels, kernel),
        ``hidden_sizes``, ``n_actions``, ``in_channels`` / ``in_features``.

    Raises:
        HubIntegrityError: No layers, or layers that do not chain.
    """
    layers: list[tuple[str, torch.Tensor, torch.Tensor]] = []
    for prefix in prefixes:
        for index in _layer_indices(state_dict, prefix):
            key = f"{prefix}{index}"
            weight, bias = state_dict.get(f"{key}.weight"), state_dict.get(f"{key}.bias")
            if weight is None or bias is None:
                raise HubIntegrityError(f"layer {key} has no weight or no bias.")
            layers.append((key, weight, bias))
    convs = [layer for layer in layers if layer[1].dim() == 4]
    linears = [layer for layer in layers if layer[1].dim() == 2]
    if not linears or len(convs) + len(linears) != len(layers) or layers[: len(convs)] != convs:
        found = [(k, tuple(w.shape)) for k, w, _ in layers]
        raise HubIntegrityError(
            f"Unexpected network layout (layers {found}); expected convolutions then linear "
            f"layers (Nature CNN or MLP)."
        )
    ours: dict[str, torch.Tensor] = {}
    for i, (_, weight, bias) in enumerate(convs):
        ours[f"features.{2 * i}.weight"], ours[f"features.{2 * i}.bias"] = weight, bias
    for i, (_, weight, bias) in enumerate(linears[:-1]):
        ours[f"fc.{2 * i}.weight"], ours[f"fc.{2 * i}.bias"] = weight, bias
    ours["head.weight"], ours["head.bias"] = linears[-1][1], linears[-1][2]
    info: dict[str, Any] = {
        "convs": [(int(w.shape[0]), int(w.shape[2])) for _, w, _ in convs],
        "hidden_sizes": [int(w.shape[0]) for _, w, _ in linears[:-1]],
        "n_actions": int(linears[-1][1].shape[0]),
        "in_features": int(linears[0][1].shape[1]),
    }
    if convs:
        info["in_channels"] = int(convs[0][1].shape[1])
    return {k: v.detach().clone().contiguous() for k, v in ours.items()}, info


def _network_config(info: Mapping[str, Any]) -> tuple[dict[str, Any], tuple[int, ...]]:
    """Our config fields (network kind) and the observation shape implied by the weights."""
    if info.get("convs"):
        nature = [(c, k) for c, k, _ in CONV_SPECS["nature"]]
        if (
            list(info["convs"]) != nature
            or info["hidden_sizes"] != list(HIDDEN_SIZES["nature"])
            or info["in_features"] != 3136
        ):
            raise HubIntegrityError(
                f"Only the Nature CNN (convs {nature}, fc 3136->512) can be imported; got convs "
                f"{info['convs']}, hidden {info['hidden_sizes']}, fc input {info['in_features']}."
            )
        return {"network": "nature"}, (int(info["in_channels"]), 84, 84)
    hidden = tuple(info["hidden_sizes"])
    return {"network": "mlp", "mlp_hidden_sizes": hidden}, (int(info["in_features"]),)


def _download_from_repo(repo_id: str, suffix: str, preferred: str | None, token: Any) -> Path:
    hf = require_huggingface_hub()
    try:
        files = hf.HfApi().list_repo_files(repo_id, token=token)
    except Exception as exc:
        cached = _cached_files(hf, repo_id) if hf.constants.is_offline_mode() else None
        if cached is None:
            raise translate_hf_error(exc, action="list files of", repo_id=repo_id) from exc
        files = cached  # offline: the files of the snapshot downloaded earlier
    candidates = [f for f in files if f.endswith(suffix)]
    if preferred in candidates:
        candidates = [preferred]
    if len(candidates) != 1:
        raise HubFileMissingError(
            f"{repo_id!r} holds {len(candidates)} '*{suffix}' files ({candidates}); expected "
            f"exactly one. Download the one you want and pass its local path instead."
        )
    try:
        return Path(hf.hf_hub_download(repo_id, candidates[0], token=token))
    except Exception as exc:
        raise translate_hf_error(
            exc, action=f"download {candidates[0]} from", repo_id=repo_id
        ) from exc


def _cached_files(hf: Any, repo_id: str) -> list[str] | None:
    """Files of the cached snapshot of ``repo_id``'s main branch, or ``None`` if none."""
    try:
        folder = Path(hf.snapshot_download(repo_id, local_files_only=True))
    except Exception:
        return None
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _write_folder(
    folder: str | os.PathLike[str],
    *,
    env_id: str,
    config_fields: Mapping[str, Any],
    state_dict: dict[str, torch.Tensor],
    info: Mapping[str, Any],
    source: str,
) -> Path:
    """Load the mapped weights strictly into our network, then write the Hub layout."""
    network_fields, obs_shape = _network_config(info)
    valid = {f.name for f in dataclasses.fields(DQNConfig)}
    fields = {k: v for k, v in {**config_fields, **network_fields}.items() if k in valid}
    try:
        config = DQNConfig.preset("cleanrl").replace(**fields)
    except ValueError as exc:
        raise HubIntegrityError(f"{source}: its hyperparameters are not valid: {exc}") from exc
    image = "in_channels" in info
    n_actions = int(info["n_actions"])
    network = build_q_network(obs_shape, n_actions, config)
    try:
        network.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        raise HubIntegrityError(f"{source}: weights do not fit the network: {exc}") from exc
    space = (
        gym.spaces.Box(0, 255, obs_shape, np.uint8)
        if image
        else gym.spaces.Box(-np.inf, np.inf, obs_shape, np.float32)
    )
    spec = ModelSpec(space, n_actions, env_id, _zoo_wrapper_options(env_id))
    meta = model_meta(
        config,
        spec,
        network.describe(),
        int(config_fields.get("num_timesteps", 0) or 0),
        imported_from=source,
    )
    try:
        return write_model_folder(folder, meta, network.state_dict())
    except ModelFormatError as exc:  # e.g. NaN weights: the file is broken, not the caller
        raise HubIntegrityError(f"{source}: {exc}") from exc


# --------------------------------------------------------------------------- SB3


def sb3_env_id_from_repo(name: str) -> str | None:
    """The env id in an SB3-style repo or file name (``{org}/{algo}-{env}``).

    Example:
        >>> sb3_env_id_from_repo("sb3/dqn-PongNoFrameskip-v4")
        'PongNoFrameskip-v4'
        >>> sb3_env_id_from_repo("dqn-ALE-Pong-v5.zip")
        'ALE/Pong-v5'
        >>> sb3_env_id_from_repo("my-model") is None
        True
    """
    base = name.rstrip("/").split("/")[-1]
    base = base.removesuffix(".zip")
    match = re.match(r"^(?:qrdqn|dqn)-(.+-v\d+)$", base, flags=re.IGNORECASE)
    if match is None:
        return None
    env_id = match.group(1)
    if env_id.startswith("ALE-"):
        env_id = "ALE/" + env_id[len("ALE-") :]
    return env_id


def read_sb3_zip(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read an SB3 DQN zip without unpickling: plain-JSON hyperparameters and the weights.

    Args:
        path: The ``.zip`` written by SB3's ``model.save``.

    Returns:
        ``(hyperparameters, policy_state_dict)``. Values SB3 stored cloudpickled (dicts with
        ``":serialized:"``) are left out.

    Raises:
        HubIntegrityError: Not an SB3 zip (a folder, another file), truncated, corrupted, or
            a member over `SB3_MEMBER_LIMITS` (a zip bomb).
        HubUnsafeFileError: ``policy.pth`` holds more than tensors.
        FileNotFoundError: Nothing at ``path``.
    """
    spath = os.fspath(path)
    if os.path.isdir(spath):
        raise HubIntegrityError(f"{spath} is a folder; pass the SB3 model's .zip file.")
    try:
        with zipfile.ZipFile(spath) as archive:
            infos = archive.infolist()
            names = [info.filename for info in infos]
            for required in ("data", "policy.pth"):
                if required not in names:
                    raise HubIntegrityError(
                        f"{spath} is not an SB3 model zip: it has no {required!r} member "
                        f"(members: {sorted(names)[:10]})."
                    )
                if names.count(required) != 1:
                    raise HubIntegrityError(f"{spath} holds {required!r} twice; refusing it.")
            read = {
                info.filename: read_zip_member(
                    archive, info, SB3_MEMBER_LIMITS[info.filename], spath
                )
                for info in infos
                if info.filename in SB3_MEMBER_LIMITS
            }
    except FileNotFoundError:
        raise
    except ModelFormatError as exc:
        raise HubIntegrityError(str(exc)) from exc
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise HubIntegrityError(f"{spath} is not a readable zip ({exc}).") from exc
    try:
        data = parse_json(read["data"], f"{spath}:data")
    except ModelFormatError as exc:
        raise HubIntegrityError(str(exc)) from exc
    plain = {k: v for k, v in data.items() if not (isinstance(v, dict) and ":serialized:" in v)}
    kwargs = data.get("policy_kwargs")
    plain.pop("policy_kwargs", None)
    if isinstance(kwargs, dict):  # SB3 writes str(value) beside the pickle of each entry
        plain["policy_kwargs"] = {k: v for k, v in kwargs.items() if not k.startswith(":")}
    policy_bytes = read["policy.pth"]
    state_dict = _safe_torch_load(policy_bytes, f"{spath}:policy.pth")
    return plain, state_dict


def sb3_to_folder(
    path_or_repo_id: str | os.PathLike[str],
    folder: str | os.PathLike[str],
    *,
    env_id: str | None = None,
    token: str | bool | None = None,
) -> Path:
    """Convert an SB3 DQN model (zip file or Hub repo) to a dqn-agents model folder.

    The zip's ``data`` member is read as JSON, skipping every cloudpickled value;
    ``policy.pth`` is read with ``torch.load(weights_only=True)``; ``q_net`` is mapped onto
    our Nature CNN or MLP and loaded strictly. SB3 stacks Atari frames channel-last and
    ``VecTransposeImage`` moves the stack to the front, oldest first: our ``(4, 84, 84)``
    order, so the first convolution copies over as is. Atari ids get
    `ATARI_ZOO_WRAPPER_OPTIONS`.

    Args:
        path_or_repo_id: A local SB3 ``.zip`` or a repo id such as
            ``"sb3/dqn-PongNoFrameskip-v4"`` (its ``*.zip`` is downloaded).
        folder: Where to write ``config.json`` + ``model.safetensors`` (created if needed).
        env_id: The env it was trained on; default the env id in the repo or file name
            (SB3's ``{algo}-{env}`` naming).
        token: Hub token for a repo id.

    Returns:
        The folder, loadable with ``DQN.load``.

    Raises:
        HubUnsafeFileError: ``policy.pth`` holds code (refused; nothing ran).
        HubIntegrityError: Not an SB3 DQN zip, or a network or policy we cannot reproduce.
        ValueError: The env id cannot be inferred and was not given; a malformed repo id.
    """
    source = os.fspath(path_or_repo_id)
    local, repo_id = resolve_source(path_or_repo_id)
    if local is not None:
        path = local
    else:
        assert repo_id is not None
        source = repo_id
        name = repo_id.split("/")[-1]
        path = _download_from_repo(repo_id, ".zip", f"{name}.zip", token)
    hyper, policy = read_sb3_zip(path)
    env_id = env_id or sb3_env_id_from_repo(source) or sb3_env_id_from_repo(path.name)
    if env_id is None:
        raise ValueError(
            f"Cannot tell which env {source} was trained on (SB3 does not store it as plain "
            f"data). Pass env='PongNoFrameskip-v4' (or an env instance)."
        )
    if any(k.startswith("q_net.features_extractor.cnn.") for k in policy):
        prefixes = [
            "q_net.features_extractor.cnn.",
            "q_net.features_extractor.linear.",
            "q_net.q_net.",
        ]
    else:
        prefixes = ["q_net.q_net."]
    online = {k: v for k, v in policy.items() if k.startswith("q_net.")}
    if not online:
        raise HubIntegrityError(
            f"{source}: policy.pth has no 'q_net.*' weights (keys: {sorted(policy)[:6]}...); "
            f"is this an SB3 DQN model?"
        )
    state_dict, info = map_layers(online, prefixes)
    _check_sb3_policy_kwargs(hyper.get("policy_kwargs") or {}, "in_channels" in info, source)
    return _write_folder(
        folder,
        env_id=env_id,
        config_fields=_sb3_config_fields(hyper),
        state_dict=state_dict,
        info=info,
        source=f"SB3 model {source}",
    )


def _check_sb3_policy_kwargs(kwargs: Mapping[str, Any], image: bool, source: str) -> None:
    """Refuse SB3 policy settings our networks do not reproduce.

    An import with them would act differently from the original. Layer sizes
    (``net_arch``) are read from the weights themselves, so they need no check here.
    """
    problems = []
    if image and kwargs.get("normalize_images") is False:
        problems.append("normalize_images=False (dqn-agents always scales pixels by 1/255)")
    activation = kwargs.get("activation_fn")
    if activation is not None and "ReLU" not in str(activation):
        problems.append(f"activation_fn={activation} (dqn-agents' networks use ReLU)")
    extractor = kwargs.get("features_extractor_class")
    if extractor is not None and not any(n in str(extractor) for n in ("NatureCNN", "Flatten")):
        problems.append(f"features_extractor_class={extractor}")
    if kwargs.get("features_extractor_kwargs"):
        problems.append(f"features_extractor_kwargs={kwargs['features_extractor_kwargs']}")
    if problems:
        raise HubIntegrityError(
            f"SB3 model {source}: its policy uses {'; '.join(problems)}, which dqn-agents "
            "cannot reproduce, so the imported agent would not act like the original. Only "
            "SB3's default DQN policies (ReLU, NatureCNN with normalize_images=True, any "
            "net_arch) are imported."
        )


def _sb3_config_fields(hyper: Mapping[str, Any]) -> dict[str, Any]:
    """Our DQNConfig fields from SB3's plain-JSON hyperparameters.

    SB3 counts ``target_update_interval`` in env steps, we count gradient updates: divide by
    the env steps per update (``train_freq / gradient_steps``). SB3 stores ``train_freq``
    cloudpickled (a ``TrainFreq``), so it is not read: SB3's default of 4 is assumed.
    """
    fields: dict[str, Any] = {
        k: hyper[k]
        for k in _SB3_PLAIN_FIELDS
        if isinstance(hyper.get(k), (int, float))
        and not isinstance(hyper.get(k), bool)
        and math.isfinite(hyper[k])
    }
    train_freq = _SB3_DEFAULT_TRAIN_FREQ
    fields["train_freq"] = train_freq
    gradient_steps = fields.get("gradient_steps", 1)
    if isinstance(gradient_steps, int) and gradient_steps < 1:
        fields.pop("gradient_steps")  # SB3's -1 ("as many as env steps") has no equivalent
        gradient_steps = 1
    if "target_update_interval" in fields:
        steps_per_update = max(1, train_freq // max(1, int(gradient_steps)))
        fields["target_update_interval"] = max(
            1, int(fields["target_update_interval"]) // steps_per_update
        )
    if isinstance(hyper.get("n_steps"), int) and hyper["n_steps"] >= 1:
        fields["n_step"] = hyper["n_steps"]
    if isinstance(hyper.get("num_timesteps"), int):
        fields["num_timesteps"] = hyper["num_timesteps"]
    return fields


def _zoo_wrapper_options(env_id: str) -> dict[str, Any] | None:
    from dqn_agents.wrappers.ids import is_atari_id  # deferred: it imports ale_py

    return dict(ATARI_ZOO_WRAPPER_OPTIONS) if is_atari_id(env_id) else None


# --------------------------------------------------------------------------- CleanRL


def cleanrl_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a CleanRL ``*.cleanrl_model`` (``torch.save``'d state dict), tensors only.

    Args:
        path: The file.

    Returns:
        The state dict (keys ``network.N.weight`` / ``.bias``).

    Raises:
        HubUnsafeFileError: The file holds more than tensors (refused; nothing ran).
        HubIntegrityError: Truncated or not a PyTorch file.
    """
    spath = os.fspath(path)
    if os.path.isdir(spath):
        raise HubIntegrityError(f"{spath} is a folder; pass the CleanRL *.cleanrl_model file.")
    try:
        with open(spath, "rb") as handle:
            data = handle.read(TORCH_FILE_LIMIT + 1)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise HubIntegrityError(f"{spath} cannot be read ({exc}).") from exc
    if len(data) > TORCH_FILE_LIMIT:
        raise HubIntegrityError(f"{spath} is larger than {TORCH_FILE_LIMIT:_} bytes; refusing it.")
    return _safe_torch_load(data, spath)


def cleanrl_env_id_from_repo(name: str) -> str | None:
    """The env id in a CleanRL repo or file name (``{org}/{env}-{exp_name}-seed{seed}``).

    Example:
        >>> cleanrl_env_id_from_repo("cleanrl/PongNoFrameskip-v4-dqn_atari-seed1")
        'PongNoFrameskip-v4'
        >>> cleanrl_env_id_from_repo("dqn_atari.cleanrl_model") is None
        True
    """
    match = re.match(r"^(.+-v\d+)-", name.rstrip("/").split("/")[-1])
    return match.group(1) if match else None


def cleanrl_to_folder(
    path_or_repo_id: str | os.PathLike[str],
    folder: str | os.PathLike[str],
    *,
    env_id: str | None = None,
    token: str | bool | None = None,
) -> Path:
    """Convert a CleanRL DQN model to a dqn-agents model folder.

    Reads a ``dqn_atari.py`` Nature CNN (``network.0/2/4`` convolutions, ``network.7``
    Linear(3136, 512), ``network.9`` Linear(512, n)) or a ``dqn.py`` MLP with
    ``torch.load(weights_only=True)`` and loads it strictly into our network. Atari ids
    get `ATARI_ZOO_WRAPPER_OPTIONS` (CleanRL's wrapper stack).

    Args:
        path_or_repo_id: A local ``*.cleanrl_model`` or a repo id such as
            ``"cleanrl/PongNoFrameskip-v4-dqn_atari-seed1"``.
        folder: Where to write ``config.json`` + ``model.safetensors`` (created if needed).
        env_id: The env it was trained on; default from CleanRL's repo naming (see
            `cleanrl_env_id_from_repo`).
        token: Hub token for a repo id.

    Returns:
        The folder, loadable with ``DQN.load``.

    Raises:
        HubUnsafeFileError: The file holds code (refused; nothing ran).
        HubIntegrityError: Unsupported network layout.
        ValueError: The env id is unknown; a malformed repo id.
    """
    source = os.fspath(path_or_repo_id)
    env_id = env_id or cleanrl_env_id_from_repo(source)
    if env_id is None:
        raise ValueError(
            f"Cannot tell which env {source} was trained on: pass env_id='PongNoFrameskip-v4'."
        )
    local, repo_id = resolve_source(path_or_repo_id)
    if local is not None:
        path = local
    else:
        assert repo_id is not None
        path = _download_from_repo(repo_id, ".cleanrl_model", None, token)
    state_dict, info = map_layers(cleanrl_state_dict(path), ["network."])
    base = DQNConfig.preset("cleanrl").to_dict()
    return _write_folder(
        folder,
        env_id=env_id,
        config_fields={k: v for k, v in base.items() if k in ("learning_rate", "gamma")},
        state_dict=state_dict,
        info=info,
        source=f"CleanRL model {source}",
    )
