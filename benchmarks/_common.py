"""Helpers the benchmark scripts share: where a figure was measured, and writing it."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from dqn_agents.serialization import atomic_write


def machine(device: str = "cpu") -> str:
    """Describe the machine a figure comes from (CPU model, core count, the GPU if any).

    Args:
        device: The torch device of the run (``"cpu"``, ``"cuda"``, ``"cuda:1"``...).

    Returns:
        E.g. ``"x86_64, 2 CPUs, CPU only (x86_64)"``.
    """
    cpu = platform.processor() or platform.system()
    base = f"{platform.machine()}, {os.cpu_count()} CPUs"
    if device == "cpu":
        return f"{base}, CPU only ({cpu})"
    import torch

    return f"{base}, {torch.cuda.get_device_name(torch.device(device))} ({device})"


def write_json(path: str | os.PathLike[str], data: dict[str, Any]) -> None:
    """Write a results file atomically (a reader never sees half of it).

    Args:
        path: Destination (folders are created).
        data: JSON-able content.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
