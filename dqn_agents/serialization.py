"""The dqn-agents file format: safetensors + JSON, never pickle.

A model is stored either as **one zip file** (what `dqn_agents.DQN.save` and SB3's
``CheckpointCallback`` write) or as **a folder** (the Hugging Face Hub layout that
`dqn_agents.DQN.save_pretrained` writes and `dqn_agents.DQN.load` accepts).

Zip members (nothing else is accepted on load):

* ``config.json`` -- the metadata (schema below). Always present.
* ``model.safetensors`` -- the online Q-network weights (``q_net.state_dict()``). Always present.
* ``optimizer.safetensors`` -- optional, the optimizer state flattened to tensors named
  ``state.<param index>.<key>`` (resume only).
* ``training_state.json`` -- optional, everything else needed to resume exactly: counters,
  optimizer param groups, RNG states of torch / numpy / python ``random``, the in-flight
  last observation and episode bookkeeping (resume only).

The folder layout holds ``config.json`` + ``model.safetensors`` (other files such as a
``README.md`` model card are ignored).

``config.json`` schema (format version 1)::

    {
      "format": "dqn-agents",
      "format_version": 1,
      "config": {...},                 # DQNConfig.to_dict()
      "env_id": "ALE/Pong-v5" | null,
      "wrapper_options": {...} | null, # AtariOptions.to_dict() for Atari ids
      "observation_space": {"shape": [4, 84, 84], "dtype": "uint8", "low": 0, "high": 255},
      "action_space": {"n": 6},
      "network": {"class": "NatureCNN", "num_parameters": 1686086},
      "versions": {"dqn_agents": "0.1.0", "torch": "...", ...},
      "num_timesteps": 123456
    }

Every reader validates before anything is built and raises `ModelFormatError`
(a ``ValueError``) with a message that names the file and says what to do. Files that
look like pickles (``torch.save`` archives, SB3 zips, raw pickles) are refused without
being unpickled, with its subclass `PickleRefusedError`.

Example:
    >>> import tempfile, os, torch
    >>> from dqn_agents.serialization import write_model_file, read_model
    >>> meta = {"format": "dqn-agents", "format_version": 1, "config": {}}
    >>> path = os.path.join(tempfile.mkdtemp(), "m.zip")
    >>> _ = write_model_file(path, meta, {"w": torch.zeros(2)})
    >>> meta2, weights, extras = read_model(path)
    >>> weights["w"].tolist(), extras
    ([0.0, 0.0], {})
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

__all__ = [
    "CONFIG_NAME",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "OPTIMIZER_NAME",
    "TRAINING_STATE_NAME",
    "WEIGHTS_NAME",
    "ModelFormatError",
    "PickleRefusedError",
    "atomic_write",
    "check_finite_weights",
    "flatten_optimizer_state",
    "jsonable",
    "library_versions",
    "read_folder_meta",
    "read_model",
    "read_model_file",
    "read_model_folder",
    "rng_state_from_json",
    "rng_state_to_json",
    "unflatten_optimizer_state",
    "validate_meta",
    "write_model_file",
    "write_model_folder",
]

FORMAT_NAME = "dqn-agents"
FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
OPTIMIZER_NAME = "optimizer.safetensors"
TRAINING_STATE_NAME = "training_state.json"
_ALLOWED_MEMBERS = frozenset({CONFIG_NAME, WEIGHTS_NAME, OPTIMIZER_NAME, TRAINING_STATE_NAME})
_MAX_MEMBER_BYTES = 8 * 1024**3
_SB3_HINT = "for SB3 models use dqn_agents.hub.from_sb3"


class ModelFormatError(ValueError):
    """A model file or folder is not a valid dqn-agents model (nothing was built or run)."""


class PickleRefusedError(ModelFormatError):
    """The input is (or only holds) pickle data: PyTorch, SB3 or raw pickles; never unpickled."""


# --------------------------------------------------------------------------- writing


def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it, then put it back
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path`` and move it over ``path`` on success.

    The temporary file lives in the same folder (so ``os.replace`` is atomic), is
    fsynced before the rename, and is removed when the body raises, including on
    ``KeyboardInterrupt``: ``path`` is then left exactly as it was. A process killed
    mid-write (``kill -9``) cannot clean up; its temp file (named with its process id) is
    removed by the next write to the same path.

    Args:
        path: The final destination.
        mode: ``"wb"`` (binary) or ``"w"`` (text, UTF-8).

    Yields:
        The open temporary file.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "a.txt")
        >>> with atomic_write(p, "w") as f:
        ...     _ = f.write("hello")
        >>> open(p).read()
        'hello'
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    prefix = f".tmp-{os.path.basename(path)}-"
    _remove_stale_temps(folder, prefix)
    fd, tmp = tempfile.mkstemp(prefix=f"{prefix}{os.getpid()}-", dir=folder)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; saved files follow the umask
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _remove_stale_temps(folder: str, prefix: str) -> None:
    """Delete temp files of earlier writes to the same file whose process is gone (kill -9)."""
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix)]
    except OSError:
        return
    for name in names:
        pid_text = name[len(prefix) :].split("-", 1)[0]
        if not pid_text.isdigit():
            continue
        pid = int(pid_text)
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, name))
        except OSError:  # alive, but not ours to signal
            continue


def _tensors_to_bytes(tensors: Mapping[str, torch.Tensor]) -> bytes:
    clean = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    return st_save(clean, metadata={"format": FORMAT_NAME})


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, indent=2, sort_keys=True, allow_nan=True).encode("utf-8")


def write_model_file(
    path: str | os.PathLike[str],
    meta: Mapping[str, Any],
    state_dict: Mapping[str, torch.Tensor],
    optimizer_tensors: Mapping[str, torch.Tensor] | None = None,
    training_state: Mapping[str, Any] | None = None,
) -> Path:
    """Write a model zip atomically (temp file in the same folder, then ``os.replace``).

    Args:
        path: Destination file. Written as given (the agent appends ``.zip`` itself).
        meta: The ``config.json`` content (see the module docstring).
        state_dict: The Q-network weights.
        optimizer_tensors: Optional flattened optimizer state (see
            `flatten_optimizer_state`).
        training_state: Optional JSON-able resume state.

    Returns:
        The path written.

    Example:
        >>> import tempfile, os, torch
        >>> p = os.path.join(tempfile.mkdtemp(), "m.zip")
        >>> meta = {"format": "dqn-agents", "format_version": 1, "config": {}}
        >>> write_model_file(p, meta, {"w": torch.ones(1)}).name
        'm.zip'
    """
    members: list[tuple[str, bytes]] = [
        (CONFIG_NAME, _json_bytes(dict(meta))),
        (WEIGHTS_NAME, _checked_weights_bytes(state_dict, path)),
    ]
    if optimizer_tensors is not None:
        members.append((OPTIMIZER_NAME, _tensors_to_bytes(optimizer_tensors)))
    if training_state is not None:
        members.append((TRAINING_STATE_NAME, _json_bytes(dict(training_state))))
    with atomic_write(path, "wb") as handle, zipfile.ZipFile(handle, "w") as archive:
        for name, data in members:
            compress = zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED
            archive.writestr(name, data, compress_type=compress)
    return Path(path)


def _checked_weights_bytes(state_dict: Mapping[str, torch.Tensor], where: Any) -> bytes:
    check_finite_weights(state_dict, os.fspath(where))
    return _tensors_to_bytes(state_dict)


def write_model_folder(
    folder: str | os.PathLike[str],
    meta: Mapping[str, Any],
    state_dict: Mapping[str, torch.Tensor],
) -> Path:
    """Write the Hub layout (``config.json`` + ``model.safetensors``), each file atomically.

    Other files already in the folder (a model card, a video) are left alone.

    Args:
        folder: The destination folder (created if needed).
        meta: The ``config.json`` content.
        state_dict: The Q-network weights.

    Returns:
        The folder path.

    Example:
        >>> import tempfile, torch, os
        >>> d = tempfile.mkdtemp()
        >>> meta = {"format": "dqn-agents", "format_version": 1, "config": {}}
        >>> _ = write_model_folder(d, meta, {"w": torch.ones(1)})
        >>> sorted(os.listdir(d))
        ['config.json', 'model.safetensors']
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_write(folder / WEIGHTS_NAME, "wb") as handle:
        handle.write(_checked_weights_bytes(state_dict, folder))
    with atomic_write(folder / CONFIG_NAME, "wb") as handle:
        handle.write(_json_bytes(dict(meta)))
    return folder


# --------------------------------------------------------------------------- reading


def _pickle_error(path: str, what: str) -> PickleRefusedError:
    return PickleRefusedError(
        f"{path!s} looks like a {what} pickle file; dqn-agents never unpickles (loading a "
        f"pickle can run arbitrary code). {_SB3_HINT}; for plain PyTorch weights convert them "
        f"to safetensors first."
    )


def _looks_like_pickle(head: bytes) -> bool:
    # Pickle protocol 2+ starts with PROTO (0x80) followed by the protocol number.
    return len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def check_finite_weights(state_dict: Mapping[str, torch.Tensor], where: str) -> None:
    """Refuse Q-network weights that hold NaN or infinity: such a model acts at random.

    Args:
        state_dict: The weights.
        where: What they are (a path), for the message.

    Raises:
        ModelFormatError: The names of the non-finite tensors, and what to do.

    Example:
        >>> check_finite_weights({"w": torch.ones(2)}, "model")
        >>> check_finite_weights({"w": torch.tensor([1.0, float("nan")])}, "model")
        Traceback (most recent call last):
        ...
        dqn_agents.serialization.ModelFormatError: model: non-finite (NaN/inf) weights in ['w'] ...
    """
    bad = [
        name
        for name, tensor in state_dict.items()
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())
    ]
    if bad:
        raise ModelFormatError(
            f"{where}: non-finite (NaN/inf) weights in {bad[:5]}{' ...' if len(bad) > 5 else ''}; "
            "such a network's actions are meaningless. Training diverged before this was "
            "saved: use an earlier checkpoint, a lower learning_rate or max_grad_norm."
        )


def _load_tensors(data: bytes, where: str) -> dict[str, torch.Tensor]:
    try:
        return dict(st_load(data))
    except (SafetensorError, ValueError, RuntimeError, OverflowError) as exc:
        raise ModelFormatError(
            f"{where} is not a valid safetensors file ({exc}); the file is truncated or "
            f"corrupted: save the model again or download it again."
        ) from exc


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]!r} is out of range")
    return value


def _load_json(data: bytes, where: str) -> dict[str, Any]:
    try:
        # Space bounds are written as Infinity (json's constant); a literal like 1e999 is
        # never written by us and would overflow later: refused here.
        obj = json.loads(data.decode("utf-8"), parse_float=_finite_float)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # ValueError covers json.JSONDecodeError and the non-finite numbers refused below
        raise ModelFormatError(
            f"{where} is not valid JSON ({type(exc).__name__}: {exc}); the file is corrupted."
        ) from exc
    if not isinstance(obj, dict):
        raise ModelFormatError(f"{where} must hold a JSON object, got {type(obj).__name__}.")
    return obj


def validate_meta(meta: Mapping[str, Any], where: str = "config.json") -> None:
    """Check the ``config.json`` header: format name, version and required keys.

    Args:
        meta: The parsed ``config.json``.
        where: Where it came from, for the error message.

    Raises:
        ModelFormatError: When the format is not dqn-agents or the version is newer than
            this library understands, or a required key is missing.

    Example:
        >>> validate_meta({"format": "dqn-agents", "format_version": 1, "config": {}})
        >>> validate_meta({"format": "other"})
        Traceback (most recent call last):
        ...
        dqn_agents.serialization.ModelFormatError: config.json: "format" is 'other', expected 'dqn-agents' (is this a dqn-agents model?)
    """  # noqa: E501
    fmt = meta.get("format")
    if fmt != FORMAT_NAME:
        raise ModelFormatError(
            f'{where}: "format" is {fmt!r}, expected {FORMAT_NAME!r} (is this a dqn-agents model?)'
        )
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFormatError(f'{where}: "format_version" must be an integer, got {version!r}.')
    if version > FORMAT_VERSION or version < 1:
        raise ModelFormatError(
            f"{where}: format_version {version} is not supported by this dqn-agents (reads "
            f"version 1..{FORMAT_VERSION}); upgrade dqn-agents: pip install -U dqn-agents."
        )
    if not isinstance(meta.get("config"), dict):
        raise ModelFormatError(f'{where}: missing the "config" object (hyperparameters).')


def read_model_file(
    path: str | os.PathLike[str],
) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, Any]]:
    """Read and validate a model zip written by `write_model_file`.

    Args:
        path: The ``.zip`` file.

    Returns:
        ``(meta, state_dict, extras)`` where ``extras`` may hold ``"optimizer"`` (a dict of
        tensors) and ``"training_state"`` (a dict), when the file has them.

    Raises:
        PickleRefusedError: The file is, or holds, a pickle (``torch.save`` / SB3 files).
            Nothing is unpickled.
        ModelFormatError: The file is not a zip, is truncated or corrupted, or has
            unexpected members.
        FileNotFoundError: The file does not exist.

    Example:
        >>> read_model_file("/nonexistent.zip")
        Traceback (most recent call last):
        ...
        FileNotFoundError: No dqn-agents model at /nonexistent.zip
    """
    spath = os.fspath(path)
    if not os.path.isfile(spath):
        raise FileNotFoundError(f"No dqn-agents model at {spath}")
    with open(spath, "rb") as handle:
        head = handle.read(4)
    if _looks_like_pickle(head):
        raise _pickle_error(spath, "PyTorch/SB3")
    if not zipfile.is_zipfile(spath):
        raise ModelFormatError(
            f"{spath} is not a dqn-agents model: not a zip archive (truncated, corrupted or a "
            f"different format). Expected a file written by DQN.save()."
        )
    try:
        with zipfile.ZipFile(spath) as archive:
            infos = archive.infolist()
            names = [info.filename for info in infos]
            if any(n.endswith(".pkl") or n.endswith("data.pkl") for n in names) or any(
                n.endswith(".pth") or n.endswith(".pt") for n in names
            ):
                raise _pickle_error(spath, "PyTorch/SB3")
            if "data" in names and "_stable_baselines3_version" in names:
                raise _pickle_error(spath, "SB3")
            unknown = sorted(set(names) - _ALLOWED_MEMBERS)
            if unknown:
                raise ModelFormatError(
                    f"{spath} holds unexpected members {unknown}; a dqn-agents model zip holds "
                    f"only {sorted(_ALLOWED_MEMBERS)}. Refusing to load it."
                )
            for required in (CONFIG_NAME, WEIGHTS_NAME):
                if required not in names:
                    raise ModelFormatError(
                        f"{spath} has no {required}; it is not a complete dqn-agents model."
                    )
            for info in infos:
                if info.file_size > _MAX_MEMBER_BYTES:
                    raise ModelFormatError(
                        f"{spath}: member {info.filename} claims {info.file_size} bytes; refusing."
                    )
            raw = {name: archive.read(name) for name in names}
    except zipfile.BadZipFile as exc:
        raise ModelFormatError(
            f"{spath} is a truncated or corrupted zip ({exc}); save or download it again."
        ) from exc
    except (EOFError, OSError) as exc:
        raise ModelFormatError(f"{spath} could not be read ({exc}); it is truncated.") from exc
    except (zlib.error, RuntimeError, NotImplementedError) as exc:
        # bit-flipped deflate data, encrypted members, unknown compression methods
        raise ModelFormatError(
            f"{spath}: a member cannot be read ({type(exc).__name__}: {exc}); the zip is "
            "corrupted, encrypted or uses a compression dqn-agents never writes."
        ) from exc
    meta = _load_json(raw[CONFIG_NAME], f"{spath}:{CONFIG_NAME}")
    validate_meta(meta, f"{spath}:{CONFIG_NAME}")
    state_dict = _load_tensors(raw[WEIGHTS_NAME], f"{spath}:{WEIGHTS_NAME}")
    check_finite_weights(state_dict, f"{spath}:{WEIGHTS_NAME}")
    extras: dict[str, Any] = {}
    if OPTIMIZER_NAME in raw:
        extras["optimizer"] = _load_tensors(raw[OPTIMIZER_NAME], f"{spath}:{OPTIMIZER_NAME}")
    if TRAINING_STATE_NAME in raw:
        extras["training_state"] = _load_json(
            raw[TRAINING_STATE_NAME], f"{spath}:{TRAINING_STATE_NAME}"
        )
    return meta, state_dict, extras


def read_folder_meta(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate the ``config.json`` of a Hub-layout folder (weights left unread).

    The folder must hold both ``config.json`` and ``model.safetensors``; only the first is
    read. `read_model_folder` reads both.

    Args:
        folder: A folder holding the two files.

    Returns:
        The validated ``config.json`` content.

    Raises:
        PickleRefusedError: A file is missing and the folder holds pickle-format files.
        ModelFormatError: A file is missing, or ``config.json`` is not a valid header.
        FileNotFoundError: The folder does not exist.

    Example:
        >>> read_folder_meta("/nonexistent")
        Traceback (most recent call last):
        ...
        FileNotFoundError: No folder at /nonexistent
    """
    base = Path(folder)
    if not base.is_dir():
        raise FileNotFoundError(f"No folder at {base}")
    config_path, weights_path = base / CONFIG_NAME, base / WEIGHTS_NAME
    if not config_path.is_file() or not weights_path.is_file():
        pickles = sorted(p.name for p in base.iterdir() if p.suffix in {".zip", ".pkl", ".pth"})
        hint = f" It holds {pickles}: dqn-agents never unpickles; {_SB3_HINT}." if pickles else ""
        error = PickleRefusedError if pickles else ModelFormatError
        raise error(
            f"{base} is not a dqn-agents model folder: it needs {CONFIG_NAME} and "
            f"{WEIGHTS_NAME}.{hint}"
        )
    meta = _load_json(config_path.read_bytes(), str(config_path))
    validate_meta(meta, str(config_path))
    return meta


def read_model_folder(
    folder: str | os.PathLike[str],
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read and validate the Hub layout: ``config.json`` + ``model.safetensors``.

    Args:
        folder: A folder holding the two files.

    Returns:
        ``(meta, state_dict)``.

    Raises:
        PickleRefusedError: A file is missing and the folder holds pickle-format files.
        ModelFormatError: A file is missing or corrupted.
        FileNotFoundError: The folder does not exist.

    Example:
        >>> read_model_folder("/nonexistent")
        Traceback (most recent call last):
        ...
        FileNotFoundError: No folder at /nonexistent
    """
    meta = read_folder_meta(folder)
    weights_path = Path(folder) / WEIGHTS_NAME
    state_dict = _load_tensors(weights_path.read_bytes(), str(weights_path))
    check_finite_weights(state_dict, str(weights_path))
    return meta, state_dict


def read_model(
    path_or_folder: str | os.PathLike[str],
) -> tuple[dict[str, Any], dict[str, torch.Tensor], dict[str, Any]]:
    """Read a model zip or a Hub-layout folder, validating everything before returning.

    Args:
        path_or_folder: A ``.zip`` written by ``DQN.save`` (the ``.zip`` suffix may be left
            out, as with SB3), or a folder with ``config.json`` + ``model.safetensors``.

    Returns:
        ``(meta, state_dict, extras)``; ``extras`` is empty for folders.

    Raises:
        PickleRefusedError: Pickle-holding input (refused, never unpickled).
        ModelFormatError: Invalid or truncated input.
        FileNotFoundError: Nothing at that path.

    Example:
        >>> read_model("/nonexistent")
        Traceback (most recent call last):
        ...
        FileNotFoundError: No dqn-agents model at /nonexistent (nor /nonexistent.zip)
    """
    spath = os.fspath(path_or_folder)
    if os.path.isdir(spath):
        meta, state_dict = read_model_folder(spath)
        return meta, state_dict, {}
    if not os.path.exists(spath) and os.path.isfile(spath + ".zip"):
        spath = spath + ".zip"
    if not os.path.exists(spath):
        raise FileNotFoundError(
            f"No dqn-agents model at {spath} (nor {spath}.zip)"
            if not spath.endswith(".zip")
            else f"No dqn-agents model at {spath}"
        )
    return read_model_file(spath)


# --------------------------------------------------------------------------- helpers


def flatten_optimizer_state(
    state: Mapping[str, Any],
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into tensors and a JSON-able remainder.

    Args:
        state: ``torch.optim.Optimizer.state_dict()``.

    Returns:
        ``(tensors, json_part)``: tensors named ``state.<param>.<key>``; ``json_part`` holds
        ``param_groups`` and non-tensor per-parameter values.

    Example:
        >>> import torch
        >>> p = torch.nn.Parameter(torch.ones(2))
        >>> opt = torch.optim.Adam([p]); p.sum().backward(); opt.step()
        >>> t, j = flatten_optimizer_state(opt.state_dict())
        >>> sorted(t)
        ['state.0.exp_avg', 'state.0.exp_avg_sq', 'state.0.step']
    """
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for param_id, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{param_id}.{key}"] = value
            else:
                scalars.setdefault(str(param_id), {})[key] = value
    groups = [dict(group) for group in state["param_groups"]]
    for group in groups:
        for key, value in list(group.items()):
            if isinstance(value, tuple):
                group[key] = list(value)
    return tensors, {"param_groups": groups, "scalars": scalars}


def unflatten_optimizer_state(
    tensors: Mapping[str, torch.Tensor], json_part: Mapping[str, Any]
) -> dict[str, Any]:
    """Inverse of `flatten_optimizer_state`.

    Args:
        tensors: The tensors from ``optimizer.safetensors``.
        json_part: The JSON remainder (``param_groups``, ``scalars``).

    Returns:
        A dict for ``optimizer.load_state_dict``.

    Raises:
        ModelFormatError: A tensor name does not follow ``state.<int>.<key>``.

    Example:
        >>> import torch
        >>> p = torch.nn.Parameter(torch.ones(2))
        >>> opt = torch.optim.Adam([p]); p.sum().backward(); opt.step()
        >>> t, j = flatten_optimizer_state(opt.state_dict())
        >>> opt.load_state_dict(unflatten_optimizer_state(t, j))
    """
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        parts = name.split(".", 2)
        if len(parts) != 3 or parts[0] != "state" or not parts[1].isdigit():
            raise ModelFormatError(f"optimizer.safetensors: unexpected tensor name {name!r}.")
        state.setdefault(int(parts[1]), {})[parts[2]] = tensor
    for param_id, values in dict(json_part.get("scalars", {})).items():
        state.setdefault(int(param_id), {}).update(values)
    groups = []
    for group in json_part["param_groups"]:
        group = dict(group)
        if isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])
        groups.append(group)
    return {"state": state, "param_groups": groups}


def rng_state_to_json(
    torch_state: torch.Tensor, numpy_state: Mapping[str, Any], python_state: tuple[Any, ...]
) -> dict[str, Any]:
    """Turn RNG states (torch, numpy Generator, python ``random``) into JSON.

    Args:
        torch_state: ``torch.get_rng_state()`` (a uint8 tensor).
        numpy_state: ``generator.bit_generator.state``.
        python_state: ``random.getstate()``.

    Returns:
        A JSON-able dict (torch state base64-encoded).

    Example:
        >>> import random, numpy as np, torch
        >>> s = rng_state_to_json(torch.get_rng_state(), np.random.default_rng(0)
        ...     .bit_generator.state, random.getstate())
        >>> sorted(s)
        ['numpy', 'python', 'torch']
    """
    version, internal, gauss = python_state
    return {
        "torch": base64.b64encode(torch_state.numpy().tobytes()).decode("ascii"),
        "numpy": _jsonable(dict(numpy_state)),
        "python": [version, list(internal), gauss],
    }


def rng_state_from_json(
    obj: Mapping[str, Any],
) -> tuple[torch.Tensor, dict[str, Any], tuple[Any, ...]]:
    """Inverse of `rng_state_to_json`.

    Args:
        obj: The dict written by `rng_state_to_json`.

    Returns:
        ``(torch_state, numpy_state, python_state)``.

    Example:
        >>> import random, numpy as np, torch
        >>> g = np.random.default_rng(0)
        >>> s = rng_state_to_json(torch.get_rng_state(), g.bit_generator.state, random.getstate())
        >>> t, n, p = rng_state_from_json(s)
        >>> torch.equal(t, torch.get_rng_state()), n == g.bit_generator.state
        (True, True)
    """
    raw = base64.b64decode(obj["torch"])
    torch_state = torch.from_numpy(np.frombuffer(raw, dtype=np.uint8).copy())
    version, internal, gauss = obj["python"]
    return torch_state, dict(obj["numpy"]), (version, tuple(internal), gauss)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays and tuples inside ``obj`` to plain JSON types.

    Args:
        obj: Any nested structure of dicts, lists, tuples, numpy values.

    Returns:
        The same structure with JSON-able leaves.

    Example:
        >>> import numpy as np
        >>> jsonable({"a": np.int64(3), "b": (1, np.float32(0.5))})
        {'a': 3, 'b': [1, 0.5]}
    """
    return _jsonable(obj)


def library_versions() -> dict[str, str]:
    """Versions of the libraries a saved model depends on (for ``config.json``).

    Returns:
        A dict of package name -> version string (missing packages are left out).

    Example:
        >>> "torch" in library_versions()
        True
    """
    from importlib import metadata

    from dqn_agents.version import __version__

    out = {"dqn_agents": __version__, "python": sys.version.split()[0]}
    for dist in ("torch", "numpy", "gymnasium", "ale-py", "safetensors", "stable-baselines3"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist.replace("-", "_")] = metadata.version(dist)
    return out
