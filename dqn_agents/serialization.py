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
import random
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, TypeGuard

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from dqn_agents.config import MAX_HIDDEN_LAYERS, NETWORKS, UPPER_BOUNDS, DQNConfig

__all__ = [
    "ATARI_OPTION_BOUNDS",
    "CONFIG_NAME",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MAX_ACTIONS",
    "MAX_COMPRESSION_RATIO",
    "MAX_CONFIG_BYTES",
    "MAX_OBSERVATION_SIZE",
    "MAX_OPTIMIZER_BYTES",
    "MAX_TRAINING_STATE_BYTES",
    "MAX_WEIGHTS_BYTES",
    "OPTIMIZER_NAME",
    "TRAINING_STATE_NAME",
    "WEIGHTS_NAME",
    "ModelFormatError",
    "PickleRefusedError",
    "atomic_write",
    "check_finite_weights",
    "check_weights_fit",
    "flatten_optimizer_state",
    "jsonable",
    "library_versions",
    "parse_json",
    "read_folder_meta",
    "read_model",
    "read_model_file",
    "read_model_folder",
    "read_zip_member",
    "recover_folder",
    "rng_state_from_json",
    "rng_state_to_json",
    "unflatten_optimizer_state",
    "validate_meta",
    "write_folder_atomically",
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

MAX_CONFIG_BYTES = 1024**2
"""Largest ``config.json`` read (ours are about 3 KB)."""
MAX_TRAINING_STATE_BYTES = 64 * 1024**2
"""Largest ``training_state.json`` read (ours are tens of KB: counters, RNG states, the
last 100 episodes)."""
MAX_WEIGHTS_BYTES = 1024**3
"""Largest ``model.safetensors`` read: 268M float32 parameters, 160 times the Nature CNN."""
MAX_OPTIMIZER_BYTES = 4 * 1024**3
"""Largest ``optimizer.safetensors`` read (optimizer moments, target network and last
observations: about 3 times the weights)."""
MAX_COMPRESSION_RATIO = 100
"""Largest size ratio (uncompressed / compressed) of a zip member over 1 MiB. JSON deflates
about 5:1 and weights barely; a zip bomb's ratio is in the hundreds or thousands."""
MAX_OBSERVATION_SIZE = 2**24
"""Most elements one observation of a model may have (an Atari stack has 28,224)."""
MAX_ACTIONS = 2**16
"""Most discrete actions a model may have (Atari's full action set is 18)."""
ATARI_OPTION_BOUNDS: dict[str, int] = {
    "noop_max": 1_000,
    "frame_skip": 64,
    "screen_size": 1_024,
    "frame_stack": 64,
    "max_episode_frames": 10_000_000,
}
"""Upper bounds of the Atari wrapper options a model file may set (the papers use 30, 4,
84, 4 and 108,000)."""
_MEMBER_LIMITS = {
    CONFIG_NAME: MAX_CONFIG_BYTES,
    WEIGHTS_NAME: MAX_WEIGHTS_BYTES,
    OPTIMIZER_NAME: MAX_OPTIMIZER_BYTES,
    TRAINING_STATE_NAME: MAX_TRAINING_STATE_BYTES,
}
_RATIO_FREE_BYTES = 1024**2
_CHUNK_BYTES = 1024**2
_OBSERVATION_DTYPES = frozenset(
    {"bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"}
    | {"float16", "float32", "float64"}
)
# The convolutions (out_channels, kernel, stride) and hidden widths of the named CNNs: the
# values of dqn_agents.networks.CONV_SPECS and HIDDEN_SIZES, which this module cannot import
# (networks imports spec, which imports serialization); tests/test_hardening.py keeps the
# shapes computed from them equal to the networks' own.
_CNN_LAYOUTS: dict[str, tuple[tuple[tuple[int, int, int], ...], tuple[int, ...]]] = {
    "nature": (((32, 8, 4), (64, 4, 2), (64, 3, 1)), (512,)),
    "mnih2013": (((16, 8, 4), (32, 4, 2)), (256,)),
}
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
    """Write the Hub layout (``config.json`` + ``model.safetensors``) as one atomic change.

    The whole new folder is written next to ``folder`` and swapped in (see
    `write_folder_atomically`): a crash at any moment leaves the old complete folder or
    the new one, never new weights beside an old ``config.json``. Other files already in
    the folder (a model card, a video) are carried over.

    Args:
        folder: The destination folder (created if needed).
        meta: The ``config.json`` content.
        state_dict: The Q-network weights.

    Returns:
        The folder path.

    Raises:
        ModelFormatError: The weights hold NaN/inf (nothing is written).

    Example:
        >>> import tempfile, torch, os
        >>> d = tempfile.mkdtemp()
        >>> meta = {"format": "dqn-agents", "format_version": 1, "config": {}}
        >>> _ = write_model_folder(d, meta, {"w": torch.ones(1)})
        >>> sorted(os.listdir(d))
        ['config.json', 'model.safetensors']
    """
    files = {
        WEIGHTS_NAME: _checked_weights_bytes(state_dict, folder),
        CONFIG_NAME: _json_bytes(dict(meta)),
    }
    write_folder_atomically(folder, files)
    return Path(folder)


# Sibling folders of an atomic folder write, named <kind><folder name>-<pid>-<random>:
_WRITING = ".tmp-"  # being written (incomplete: deleted by recovery)
_READY = ".new-"  # complete and fsynced, not swapped in yet (or the old one, swapped out)
_ASIDE = ".old-"  # the previous version, moved aside by the two-rename swap
_TRASH = ".del-"  # left over after a swap, being deleted
_FOLDER_KINDS = (_WRITING, _READY, _ASIDE, _TRASH)
_RENAME_EXCHANGE = 2  # linux/fs.h


def _fsync_dir(path: str | os.PathLike[str]) -> None:
    with contextlib.suppress(OSError):  # not every platform or file system opens folders
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _exchange(a: str, b: str) -> bool:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False: unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import errno

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    at_fdcwd = -100
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
        return False
    raise OSError(code, os.strerror(code), b)


def _writer_gone(rest: str) -> bool:
    """``<pid>-<random>``: whether that process has ended (a live one's folder is its own)."""
    pid_text, sep, suffix = rest.partition("-")
    if not (pid_text.isdigit() and sep and suffix) or "-" in suffix:
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, but not ours to signal
        return False
    return False


def _remove_tree(path: str) -> None:
    import shutil

    if os.path.islink(path) or not os.path.isdir(path):
        with contextlib.suppress(OSError):
            os.unlink(path)
        return
    shutil.rmtree(path, ignore_errors=True)


def recover_folder(folder: str | os.PathLike[str]) -> None:
    """Finish or undo what a killed `write_folder_atomically` left next to ``folder``.

    Only leftovers of processes that have ended are touched. A folder still being
    written is deleted; a complete new version replaces a missing ``folder`` (the crash
    fell between the two renames of a swap) and is deleted otherwise; a version moved
    aside comes back only when neither ``folder`` nor a complete new version exists;
    anything else is deleted. Errors (a read-only place) are ignored: the folder is then
    read as it is.

    Args:
        folder: The folder a save was writing.
    """
    target = os.path.abspath(os.fspath(folder))
    parent, name = os.path.split(target)
    try:
        entries = os.listdir(parent)
    except OSError:
        return
    found: dict[str, list[str]] = {kind: [] for kind in _FOLDER_KINDS}
    for entry in entries:
        for kind in _FOLDER_KINDS:
            prefix = f"{kind}{name}-"
            if entry.startswith(prefix) and _writer_gone(entry[len(prefix) :]):
                found[kind].append(os.path.join(parent, entry))
    for path in found[_WRITING] + found[_TRASH]:
        _remove_tree(path)
    for kind in (_READY, _ASIDE):  # roll forward to a complete new version, else back
        candidates = sorted(found[kind], key=lambda p: os.stat(p).st_mtime_ns, reverse=True)
        for path in candidates:
            if not os.path.lexists(target) and os.path.isdir(path):
                try:
                    os.rename(path, target)
                except OSError:
                    continue  # e.g. a read-only place: leave it for a save to finish
                _fsync_dir(parent)
            else:
                _remove_tree(path)


def _in_place_only(target: str) -> bool:
    """Folders that cannot be renamed safely: the working folder (or one above it), mounts."""
    cwd = os.path.realpath(os.getcwd())
    inside = cwd == target or cwd.startswith(target.rstrip(os.sep) + os.sep)
    return inside or os.path.ismount(target)


def _carry_over(source: str, destination: str, skip: set[str]) -> None:
    """Hard-link (else copy) what ``source`` holds into ``destination``, but ``skip``."""
    import shutil

    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst, follow_symlinks=False)
        except OSError:
            shutil.copy2(src, dst, follow_symlinks=False)

    stale = tuple(f".tmp-{name}-" for name in skip)  # per-file temps of older saves
    for entry in os.listdir(source):
        if entry in skip or entry.startswith(stale):
            continue
        src, dst = os.path.join(source, entry), os.path.join(destination, entry)
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        elif os.path.isdir(src):
            shutil.copytree(src, dst, symlinks=True, copy_function=link_or_copy)
        else:
            link_or_copy(src, dst)


def _write_in_place(target: str, files: Mapping[str, bytes]) -> Path:
    """Replace each file on its own (atomically), where the folder cannot be swapped."""
    for name, data in files.items():
        with atomic_write(os.path.join(target, name), "wb") as handle:
            handle.write(data)
    return Path(target)


def write_folder_atomically(
    folder: str | os.PathLike[str], files: Mapping[str, bytes], *, exchange: bool = True
) -> Path:
    """Replace ``folder`` by a folder holding ``files`` (plus what it held before) at once.

    The new folder is written as a hidden sibling (``.tmp-<name>-<pid>-<random>``), every
    file and folder fsynced, renamed ``.new-...`` (complete), then swapped with the old
    folder: in one ``renameat2(RENAME_EXCHANGE)`` on Linux, else by two renames (old
    aside as ``.old-...``, new in). The old version is deleted last. Killed at any moment
    (``kill -9``), the folder on disk is the old complete version or the new one; the
    leftovers are cleaned (or the swap finished) by the next save or load
    (`recover_folder`). Files of the old folder that ``files`` does not name are carried
    over (hard links). The working folder (or a folder above it), mount points and
    folders in a read-only parent cannot be renamed: there each file is replaced
    atomically on its own, in ``files`` order.

    Args:
        folder: The destination (created with its parents if needed).
        files: File name -> content.
        exchange: Use ``RENAME_EXCHANGE`` where the system has it (``False``: the two
            renames, whose crash window `recover_folder` closes).

    Returns:
        The folder.

    Raises:
        NotADirectoryError: ``folder`` is a file.
    """
    target = os.path.realpath(os.fspath(folder))
    recover_folder(target)
    if os.path.lexists(target) and not os.path.isdir(target):
        raise NotADirectoryError(f"{target} is a file; a model folder needs a folder path.")
    if os.path.isdir(target) and _in_place_only(target):
        return _write_in_place(target, files)
    parent, name = os.path.split(target)
    os.makedirs(parent, exist_ok=True)
    pid = os.getpid()
    try:
        writing = tempfile.mkdtemp(prefix=f"{_WRITING}{name}-{pid}-", dir=parent)
    except PermissionError:
        if not os.path.isdir(target):
            raise
        return _write_in_place(target, files)  # a writable folder in a read-only parent
    suffix = os.path.basename(writing)[len(f"{_WRITING}{name}-{pid}-") :]
    ready, aside, trash = (
        os.path.join(parent, f"{k}{name}-{pid}-{suffix}") for k in _FOLDER_KINDS[1:]
    )
    try:
        if os.path.isdir(target):
            import shutil

            shutil.copymode(target, writing)
            _carry_over(target, writing, set(files))
        else:
            os.chmod(writing, 0o777 & ~_umask())
        for file_name, data in files.items():
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
            fd = os.open(os.path.join(writing, file_name), flags, 0o666)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        for root, _dirs, _files in os.walk(writing, topdown=False):
            _fsync_dir(root)
        os.rename(writing, ready)  # complete: from here on recovery rolls forward
        writing = ready
        _fsync_dir(parent)
        if not os.path.lexists(target):
            os.rename(ready, target)
        elif exchange and _exchange(ready, target):
            os.rename(ready, trash)  # the old version, now at the ready name
            _remove_tree(trash)
        else:
            os.rename(target, aside)
            try:
                os.rename(ready, target)
            except BaseException:
                os.rename(aside, target)
                raise
            os.rename(aside, trash)
            _remove_tree(trash)
        _fsync_dir(parent)
    except BaseException:
        if os.path.lexists(writing) and os.path.realpath(writing) != target:
            _remove_tree(writing)
        raise
    return Path(target)


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
        dqn_agents.serialization.ModelFormatError: model: non-finite (NaN/inf) weights in ['w']; ...
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


def parse_json(data: bytes, where: str) -> dict[str, Any]:
    """Parse a JSON object from an untrusted file, with only `ModelFormatError` escaping.

    Invalid UTF-8 or JSON, nesting too deep for Python's parser, number literals out of
    float range (``1e999``; the constants ``Infinity`` and ``NaN`` are accepted) and
    integers too long to convert are all refused the same way.

    Args:
        data: The file's bytes.
        where: The file, for messages.

    Returns:
        The object.

    Raises:
        ModelFormatError: Not a JSON object.

    Example:
        >>> parse_json(b'{"a": Infinity}', "x.json")
        {'a': inf}
        >>> parse_json(b'{"a": 1e999}', "x.json")
        Traceback (most recent call last):
        ...
        dqn_agents.serialization.ModelFormatError: x.json is not valid JSON (ValueError: number '1e999' is out of range); the file is corrupted.
    """  # noqa: E501
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
    """Check the ``config.json`` header: format, version, required keys and every bound.

    What a model file asks for is bounded before anything is built from it: the
    observation shape (at most `MAX_OBSERVATION_SIZE` elements, a plain numeric dtype),
    the action count (at most `MAX_ACTIONS`), ``num_timesteps``, and the Atari
    ``wrapper_options`` (valid options, each under `ATARI_OPTION_BOUNDS`, for an Atari
    env id, making exactly the saved observation shape). The hyperparameters are bounded
    by `dqn_agents.config.DQNConfig` itself, and the network sizes by the weights
    (`check_weights_fit`).

    Args:
        meta: The parsed ``config.json``.
        where: Where it came from, for the error message.

    Raises:
        ModelFormatError: When the format is not dqn-agents or the version is newer than
            this library understands, a required key is missing, or a value is out of
            bounds.

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
    _check_bounds(meta, where)


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _out_of_bounds(where: str, what: str, value: Any, allowed: str) -> ModelFormatError:
    text = repr(value)
    text = text if len(text) <= 80 else text[:77] + "..."
    return ModelFormatError(
        f"{where}: {what} is {text}; a model may have {allowed}. Refusing it before anything "
        "is built (a corrupted file, or one made to exhaust memory)."
    )


def _check_bounds(meta: Mapping[str, Any], where: str) -> None:
    """Bounds of the env description in ``config.json`` (the fields that are present)."""
    steps = meta.get("num_timesteps", 0)
    if not _is_int(steps) or not 0 <= steps < 2**63:
        raise _out_of_bounds(where, "num_timesteps", steps, "a whole number >= 0")
    env_id = meta.get("env_id")
    if env_id is not None and (not isinstance(env_id, str) or not 0 < len(env_id) <= 256):
        raise _out_of_bounds(where, "env_id", env_id, "a string of 1 to 256 characters or null")
    versions = meta.get("versions")
    if versions is not None and not (
        isinstance(versions, dict) and all(isinstance(v, str) for v in versions.values())
    ):
        raise _out_of_bounds(where, "versions", versions, "an object of version strings")
    for key in ("network", "hardware"):
        if meta.get(key) is not None and not isinstance(meta[key], dict):
            raise _out_of_bounds(where, key, meta[key], "an object")
    shape: tuple[int, ...] | None = None
    space = meta.get("observation_space")
    if space is not None:
        raw = space.get("shape") if isinstance(space, dict) else None
        if (
            not isinstance(raw, list)
            or len(raw) > 8
            or not all(_is_int(side) and side >= 1 for side in raw)
        ):
            raise _out_of_bounds(
                where, "observation_space.shape", raw, "a list of at most 8 positive ints"
            )
        if math.prod(raw) > MAX_OBSERVATION_SIZE:
            raise _out_of_bounds(
                where,
                "observation_space.shape",
                raw,
                f"at most {MAX_OBSERVATION_SIZE:_} elements per observation",
            )
        shape = tuple(raw)
        dtype = space.get("dtype")
        if not isinstance(dtype, str) or dtype not in _OBSERVATION_DTYPES:
            raise _out_of_bounds(
                where, "observation_space.dtype", dtype, f"one of {sorted(_OBSERVATION_DTYPES)}"
            )
    actions = meta.get("action_space")
    if actions is not None:
        n = actions.get("n") if isinstance(actions, dict) else actions
        if not _is_int(n) or not 1 <= n <= MAX_ACTIONS:
            raise _out_of_bounds(where, "action_space.n", n, f"1 to {MAX_ACTIONS:_} actions")
    options = meta.get("wrapper_options")
    if options is not None:
        _check_atari_options(options, env_id, shape, where)


def _check_atari_options(
    options: Any, env_id: Any, shape: tuple[int, ...] | None, where: str
) -> None:
    # Deferred: ale_py and cv2 load only for models that have Atari options.
    from dqn_agents.wrappers.atari import AtariOptions
    from dqn_agents.wrappers.ids import is_atari_id

    if not isinstance(options, dict):
        raise _out_of_bounds(where, "wrapper_options", options, "an object of Atari options")
    try:
        parsed = AtariOptions.from_dict(options)
    except (ValueError, TypeError) as exc:
        raise ModelFormatError(f"{where}: invalid wrapper_options: {exc}") from exc
    for name, bound in ATARI_OPTION_BOUNDS.items():
        value = getattr(parsed, name)
        if value is not None and value > bound:
            raise _out_of_bounds(where, f"wrapper_options.{name}", value, f"at most {bound:_}")
    if not is_atari_id(env_id):
        raise ModelFormatError(
            f"{where}: wrapper_options are Atari options, but env_id {env_id!r} is not an "
            "Atari game; the file is inconsistent."
        )
    made: tuple[int, ...] = (parsed.frame_stack, parsed.screen_size, parsed.screen_size)
    made += () if parsed.grayscale else (3,)
    if shape is not None and shape != made:
        raise ModelFormatError(
            f"{where}: observation_space.shape is {list(shape)}, but its wrapper_options make "
            f"observations of shape {list(made)} (frame_stack, screen_size, screen_size); the "
            "file is inconsistent."
        )


def _expected_shapes(meta: Mapping[str, Any]) -> dict[str, tuple[int, ...]] | None:
    """The parameter shapes of the network ``DQN.load`` builds from ``meta``.

    ``None`` when ``meta`` lacks what the network is built from, or holds a value the
    loader refuses on its own before building anything.
    """
    space, actions = meta.get("observation_space"), meta.get("action_space")
    config = meta.get("config")
    if not (isinstance(space, dict) and isinstance(actions, dict) and isinstance(config, dict)):
        return None
    shape, n_actions = tuple(space["shape"]), int(actions["n"])
    defaults = DQNConfig()
    network = config.get("network", defaults.network)
    dueling = config.get("dueling", defaults.dueling)
    widths = config.get("mlp_hidden_sizes", list(defaults.mlp_hidden_sizes))
    if (
        network not in NETWORKS
        or not isinstance(dueling, bool)
        or not isinstance(widths, list | tuple)
        or len(widths) > MAX_HIDDEN_LAYERS
        or not all(_is_int(w) and 1 <= w <= UPPER_BOUNDS["mlp_hidden_sizes"] for w in widths)
    ):
        return None  # DQNConfig.from_dict refuses it
    image = space["dtype"] == "uint8" and len(shape) == 3 and shape[0] < min(shape[1:])
    kind = ("nature" if image else "mlp") if network == "auto" else network
    shapes: dict[str, tuple[int, ...]] = {}
    hidden = tuple(widths)
    if kind in _CNN_LAYOUTS:
        if len(shape) != 3:
            return None  # the network builder refuses it
        convs, hidden = _CNN_LAYOUTS[kind]
        channels, height, width = shape
        for i, (out, kernel, stride) in enumerate(convs):
            shapes[f"features.{2 * i}.weight"] = (out, channels, kernel, kernel)
            shapes[f"features.{2 * i}.bias"] = (out,)
            channels = out
            height, width = (height - kernel) // stride + 1, (width - kernel) // stride + 1
        if height < 1 or width < 1:
            return None  # too small for the CNN: the network builder refuses it
        features = channels * height * width
    else:
        features = math.prod(shape)

    def stack(prefix: str, out: int | None) -> None:
        inputs = features
        for i, units in enumerate(hidden):
            shapes[f"{prefix}.{2 * i}.weight"], shapes[f"{prefix}.{2 * i}.bias"] = (
                (units, inputs),
                (units,),
            )
            inputs = units
        if out is not None:
            last = 2 * len(hidden)
            shapes[f"{prefix}.{last}.weight"], shapes[f"{prefix}.{last}.bias"] = (
                (out, inputs),
                (out,),
            )

    if dueling:
        stack("value", 1)
        stack("advantage", n_actions)
    else:
        stack("fc", None)
        last = hidden[-1] if hidden else features
        shapes["head.weight"], shapes["head.bias"] = (n_actions, last), (n_actions,)
    return shapes


def check_weights_fit(
    meta: Mapping[str, Any], shapes: Mapping[str, Any], where: str = "model"
) -> None:
    """Refuse weights that are not exactly those of the network ``config.json`` describes.

    Run before any network is built: ``DQN.load`` builds the network from ``config.json``
    (observation shape, action count, ``network``, ``mlp_hidden_sizes``, ``dueling``), so a
    small file whose config claims 16,000 hidden units or 10^8 actions would otherwise
    allocate gigabytes before the weights are found not to fit. Every tensor name and
    shape must match; the weights' size is bounded by the file's.

    Args:
        meta: The validated ``config.json``.
        shapes: Tensor name -> shape (a tuple, or a tensor), e.g. the loaded weights.
        where: What they are (a path), for the message.

    Raises:
        ModelFormatError: The names and shapes that differ.

    Example:
        >>> meta = {"observation_space": {"shape": [4], "dtype": "float32"},
        ...         "action_space": {"n": 2}, "config": {"mlp_hidden_sizes": [8]}}
        >>> check_weights_fit(meta, {"fc.0.weight": (8, 4), "fc.0.bias": (8,),
        ...                          "head.weight": (2, 8), "head.bias": (2,)})
        >>> check_weights_fit(meta, {"fc.0.weight": (8, 4)})
        Traceback (most recent call last):
        ...
        dqn_agents.serialization.ModelFormatError: model: the weights in model.safetensors do not match the network config.json describes: missing ['fc.0.bias', 'head.bias', 'head.weight']. ...
    """  # noqa: E501
    expected = _expected_shapes(meta)
    if expected is None:
        return
    got = {name: tuple(int(s) for s in getattr(v, "shape", v)) for name, v in shapes.items()}
    problems = []
    missing = sorted(set(expected) - set(got))
    if missing:
        problems.append(f"missing {missing[:6]}")
    unexpected = sorted(set(got) - set(expected))
    if unexpected:
        problems.append(f"unexpected {unexpected[:6]}")
    for name in sorted(set(expected) & set(got)):
        if expected[name] != got[name]:
            problems.append(
                f"{name} is {got[name]} in the weights but {expected[name]} in the config"
            )
    if problems:
        raise ModelFormatError(
            f"{where}: the weights in model.safetensors do not match the network config.json "
            f"describes: {'; '.join(problems[:4])}. The file is inconsistent (or was edited): "
            "save the model again or download it again."
        )


def read_zip_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, where: str
) -> bytes:
    """Read one zip member in chunks, at most ``limit`` bytes, refusing zip bombs.

    Only stored and deflated members are read (what dqn-agents, SB3 and PyTorch write).
    Encrypted members, other compression methods, a member that claims more than
    ``limit`` bytes, or one over 1 MiB that expands more than `MAX_COMPRESSION_RATIO`
    times are refused before anything is decompressed; the running total is checked
    while reading too, so no member yields more than ``limit`` bytes whatever its header
    says. Errors of a corrupted member (bad CRC, broken deflate data, a truncated file)
    become `ModelFormatError`.

    Args:
        archive: The open zip.
        info: The member.
        limit: The most bytes a real file of this kind can need.
        where: The zip's path, for messages.

    Returns:
        The member's bytes.

    Raises:
        ModelFormatError: The member is refused or cannot be read.
    """
    name = f"{where}:{info.filename}"
    if info.flag_bits & 0x1:
        raise ModelFormatError(f"{name} is encrypted; model files are never encrypted.")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ModelFormatError(
            f"{name} uses compression method {info.compress_type}; only stored and deflated "
            "members are read (what dqn-agents, SB3 and PyTorch write)."
        )
    if info.file_size > limit:
        raise ModelFormatError(
            f"{name} claims {info.file_size:_} bytes, more than the {limit:_} a real model "
            "needs; refusing it (a zip bomb, or not a model)."
        )
    if (
        info.file_size > _RATIO_FREE_BYTES
        and info.file_size > MAX_COMPRESSION_RATIO * info.compress_size
    ):
        raise ModelFormatError(
            f"{name} expands {info.compress_size:_} bytes to {info.file_size:_} (more than "
            f"{MAX_COMPRESSION_RATIO}:1); refusing it as a zip bomb."
        )
    chunks: list[bytes] = []
    total = 0
    try:
        with archive.open(info) as member:
            while chunk := member.read(_CHUNK_BYTES):
                total += len(chunk)
                if total > min(limit, info.file_size):
                    raise ModelFormatError(
                        f"{name} holds more than the {info.file_size:_} bytes it claims; "
                        "the zip is corrupted."
                    )
                chunks.append(chunk)
    except ModelFormatError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise ModelFormatError(
            f"{name} cannot be read ({type(exc).__name__}: {exc}); the zip is truncated or "
            "corrupted: save or download it again."
        ) from exc
    except (RuntimeError, NotImplementedError, ValueError) as exc:
        raise ModelFormatError(
            f"{name} cannot be read ({type(exc).__name__}: {exc}); the zip uses features "
            "model files never use."
        ) from exc
    return b"".join(chunks)


def _read_limited(path: Path, limit: int) -> bytes:
    """A regular file's bytes, refusing one over ``limit`` bytes before reading it."""
    try:
        size = path.stat().st_size
        if size > limit:
            raise ModelFormatError(
                f"{path} is {size:_} bytes, more than the {limit:_} a real model needs; "
                "refusing to read it."
            )
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise ModelFormatError(f"{path} cannot be read ({type(exc).__name__}: {exc}).") from exc
    if len(data) > limit:
        raise ModelFormatError(f"{path} grew past {limit:_} bytes while being read; refusing it.")
    return data


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
    if os.path.isdir(spath):
        raise ModelFormatError(
            f"{spath} is a folder, not a model zip; read a model folder with read_model or "
            "read_model_folder (DQN.load takes both)."
        )
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
            if len(set(names)) != len(names):
                raise ModelFormatError(f"{spath} holds a member twice ({names}); refusing it.")
            raw = {
                info.filename: read_zip_member(archive, info, _MEMBER_LIMITS[info.filename], spath)
                for info in infos
            }
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
    meta = parse_json(raw[CONFIG_NAME], f"{spath}:{CONFIG_NAME}")
    validate_meta(meta, f"{spath}:{CONFIG_NAME}")
    state_dict = _load_tensors(raw[WEIGHTS_NAME], f"{spath}:{WEIGHTS_NAME}")
    check_weights_fit(meta, state_dict, spath)
    check_finite_weights(state_dict, f"{spath}:{WEIGHTS_NAME}")
    extras: dict[str, Any] = {}
    if OPTIMIZER_NAME in raw:
        extras["optimizer"] = _load_tensors(raw[OPTIMIZER_NAME], f"{spath}:{OPTIMIZER_NAME}")
    if TRAINING_STATE_NAME in raw:
        extras["training_state"] = parse_json(
            raw[TRAINING_STATE_NAME], f"{spath}:{TRAINING_STATE_NAME}"
        )
        _check_rng_states(extras["training_state"], f"{spath}:{TRAINING_STATE_NAME}")
    return meta, state_dict, extras


_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def _check_numpy_state(state: Any) -> None:
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in _BIT_GENERATORS:
        raise ValueError(f"unknown numpy bit generator {name!r}")
    getattr(np.random, name)().state = state  # what restoring it does, on a throwaway one


def _check_rng_states(training_state: Mapping[str, Any], where: str) -> None:
    """Refuse RNG states that restoring would choke on, by restoring them on throwaway ones."""
    try:
        rng = training_state.get("rng")
        if rng is not None:
            torch_state, numpy_state, python_state = rng_state_from_json(rng)
            torch.Generator().set_state(torch_state)
            _check_numpy_state(numpy_state)
            random.Random().setstate(python_state)
        predict = training_state.get("predict_rng")
        if predict is not None:
            _check_numpy_state(predict)
    except (KeyError, TypeError, ValueError, OverflowError, RuntimeError, AttributeError) as exc:
        raise ModelFormatError(
            f"{where}: the random generator states are invalid ({type(exc).__name__}: {exc}); "
            "the file is corrupted. Load the weights only from a save_pretrained folder."
        ) from exc


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
    recover_folder(base)  # a save killed mid-swap: finish it (or clean up) first
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
    meta = parse_json(_read_limited(config_path, MAX_CONFIG_BYTES), str(config_path))
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
    state_dict = _load_tensors(_read_limited(weights_path, MAX_WEIGHTS_BYTES), str(weights_path))
    check_weights_fit(meta, state_dict, os.fspath(folder))
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
    recover_folder(spath)  # a folder save killed between its two renames
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
