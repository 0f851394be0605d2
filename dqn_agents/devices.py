"""Where the networks run: device resolution and the CPU-thread policy.

`resolve_device` turns ``"auto"``/``"cpu"``/``"cuda:N"`` into a ``torch.device`` with a
clear error; `cnn_cpu_threads` picks the torch threads for CNN updates from the cores
idle right now; `inference_threads` is the policy for small-batch acting (`predict`,
`evaluate`), where threads cost more than they give.

Example:
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> 1 <= cnn_cpu_threads() <= 8
    True
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

import torch

__all__ = [
    "BF16_CPU_FLAGS",
    "available_cores",
    "bf16_is_fast",
    "cnn_cpu_threads",
    "cpu_flags",
    "idle_cores",
    "inference_threads",
    "resolve_device",
    "torch_threads",
]


BF16_CPU_FLAGS: tuple[str, ...] = ("avx512_bf16", "amx_bf16")
"""CPU flags (``/proc/cpuinfo``) of native bfloat16 arithmetic that oneDNN uses."""


def cpu_flags() -> set[str]:
    """The CPU's feature flags from ``/proc/cpuinfo`` (empty where it cannot be read)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def bf16_is_fast(device: torch.device) -> bool | None:
    """Whether bfloat16 autocast speeds up convolutions on ``device``.

    Args:
        device: The device the networks train on.

    Returns:
        ``True`` for a CUDA GPU with bf16 support or a CPU with one of
        `BF16_CPU_FLAGS`; ``False`` for a CPU without them (AVX2-only hosts: bf16
        convolutions measured about 8x slower there) or a GPU without bf16; ``None`` when
        the CPU's flags cannot be read.
    """
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type != "cpu":
        return None
    flags = cpu_flags()
    if not flags:
        return None
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def resolve_device(device: str | torch.device) -> torch.device:
    """Resolve a device name.

    Args:
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a
            ``torch.device``.

    Returns:
        The device.

    Raises:
        ValueError: An unknown name, or CUDA asked for where it is not available.
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"Unknown device {device!r}; use 'auto', 'cpu', 'cuda' or 'cuda:N'."
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} but CUDA is not available here (torch {torch.__version__}, "
            f"{'built without CUDA' if torch.version.cuda is None else 'no GPU visible'}); "
            "use device='cpu' or 'auto'."
        )
    return resolved


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity mask on Linux).

    Returns:
        The core count (at least 1).
    """
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _cpu_ticks() -> tuple[int, int]:
    with open("/proc/stat", encoding="ascii") as f:
        values = [int(v) for v in f.readline().split()[1:9]]
    return values[3] + values[4], sum(values)  # idle + iowait, all


def idle_cores(window: float = 0.1) -> float | None:
    """How many CPU cores were idle during the last ``window`` seconds (Linux).

    Read from ``/proc/stat`` (the instantaneous picture, unlike the load average that
    lags by a minute).

    Args:
        window: Seconds to watch.

    Returns:
        Idle cores (0 .. available cores), or ``None`` where ``/proc/stat`` is missing.
    """
    try:
        idle0, all0 = _cpu_ticks()
        time.sleep(window)
        idle1, all1 = _cpu_ticks()
    except (OSError, ValueError, IndexError):
        return None
    if all1 <= all0:
        return None
    return (idle1 - idle0) / (all1 - all0) * available_cores()


def cnn_cpu_threads(max_threads: int = 8) -> int:
    """Torch threads for CNN updates on CPU: the cores that are idle right now.

    On an idle machine every core helps the batch-32 convolutions (the env steps run
    between updates, not during them). On a shared machine, threads that wait for
    preempted siblings make an update many times slower (measured on 2 busy cores: 1
    thread 94 ms, 2 threads 630 ms per Nature-CNN update), so only the idle cores are
    used, at least 1.

    Args:
        max_threads: Upper bound (batch-32 updates stop scaling around 8 threads).

    Returns:
        The thread count.
    """
    cores = available_cores()
    idle = idle_cores()
    if idle is None:
        return max(1, min(max_threads, cores // 2))
    return max(1, min(max_threads, cores, int(idle + 0.25)))


def inference_threads() -> int:
    """Torch threads for acting on a few observations (`predict`, `evaluate`): one.

    A forward pass at batch 1-8 is too small to split: on the 2-core machine `predict`
    took 4 ms with 1 thread and 141 ms with 2 while the env ran beside it.

    Returns:
        1.
    """
    return 1


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run a block with ``n`` torch CPU threads, restoring the previous count after.

    Args:
        n: Threads (``None``: leave unchanged).

    Yields:
        Nothing.
    """
    if n is None or n == torch.get_num_threads():
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
