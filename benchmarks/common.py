"""Helpers the benchmark scripts share: where and when a figure was measured, and writing it.

The results files follow the schema of ``docs/hooks/benchmark_tables.py`` (``title``,
``machine``, ``date``, ``source``, ``columns``, ``rows``, ``notes``).
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from dqn_agents.devices import cpu_flags
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


def cpu_description() -> str:
    """The CPU model and its vector-instruction flags (``/proc/cpuinfo``), for timings.

    CNN updates cost about 4x more on AVX2-only hosts than on AVX-512 ones, so every
    timing names the flags it was measured with.

    Returns:
        E.g. ``"AMD EPYC; avx2 fma (no avx512)"``; ``platform.processor()`` elsewhere.
    """
    try:
        text = open("/proc/cpuinfo", encoding="ascii", errors="replace").read()
    except OSError:
        return platform.processor() or platform.machine()
    model = next(
        (ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")), ""
    )
    flags = cpu_flags()
    simd = sorted(f for f in flags if f.startswith(("avx", "fma", "amx")))
    note = "" if any(f.startswith("avx512") for f in flags) else " (no avx512)"
    return f"{model}; {' '.join(simd)}{note}"


def write_json(path: str | os.PathLike[str], data: dict[str, Any]) -> None:
    """Write a results file atomically (a reader never sees half of it).

    Args:
        path: Destination (folders are created).
        data: JSON-able content.
    """
    with atomic_write(path, "w") as f:  # creates the folders
        json.dump(data, f, indent=2)
        f.write("\n")


def utc_now() -> str:
    """The date of a results file: the current UTC time to the minute.

    Returns:
        E.g. ``"2026-01-01 12:00 UTC"``.
    """
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def results_table(
    *,
    title: str,
    source: str,
    device: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    notes: str,
    **extra: Any,
) -> dict[str, Any]:
    """The content of a results file for a docs table, measured here and now.

    Args:
        title: The table's title.
        source: The script, e.g. ``"benchmarks/learning.py"``.
        device: The torch device of the run (also described by `machine`).
        columns: Column names.
        rows: One list of cells per row.
        notes: How the figures were measured.
        **extra: More keys (e.g. ``plot``).

    Returns:
        The JSON-able dict (write it with `write_json`).
    """
    return {
        "title": title,
        "machine": machine(device),
        "device": device,
        "date": utc_now(),
        "source": source,
        "columns": list(columns),
        "rows": [list(row) for row in rows],
        "notes": notes,
        **extra,
    }


def print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print rows under their column names, each column padded to its widest cell.

    Args:
        columns: Column names.
        rows: One list of cells per row.
    """
    widths = [max(len(str(c)), *(len(str(r[i])) for r in rows)) for i, c in enumerate(columns)]
    line = " | ".join(str(c).ljust(w) for c, w in zip(columns, widths, strict=True))
    print()
    print(line)
    print("-" * len(line))
    for row in rows:
        print(" | ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)))
