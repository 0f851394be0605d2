"""Plot the benchmark results that the docs show.

Reads every ``docs/benchmarks/results/*.json`` file (the schema is described in
``docs/hooks/benchmark_tables.py``) that has a ``"plot"`` entry and writes
``docs/assets/bench_<name>.png``. The docs build then shows each figure under its table.

``"plot"`` entries:

* ``{"kind": "bar", "label": 0, "values": [2], "xlabel": "..."}``: one horizontal bar per row.
* ``{"kind": "range", "label": 0, "values": [1, 2], "xlabel": "..."}``: a bar per row from
  0 to the low value, extended (hatched) to the high value.
* ``{"kind": "curve", "xlabel": "...", "ylabel": "..."}``: lines from the file's
  ``"curves": {"label": [[x, y], ...]}`` entry (learning curves).

Benchmark scripts that write another JSON layout are converted first:

* ``--wrappers-json FILE``: the output of ``benchmarks/wrappers.py --json FILE`` becomes
  ``docs/benchmarks/results/wrappers.json``.

(``benchmarks/replay_memory.py --json docs/benchmarks/results/replay_memory.json`` writes
the docs schema directly.)

Usage::

    python docs/scripts/benchmark_figures.py                       # writes into docs/assets/
    python docs/scripts/benchmark_figures.py --wrappers-json wrappers.json
    python docs/scripts/benchmark_figures.py --output-dir /tmp/figs
"""

from __future__ import annotations

import argparse
import json
import textwrap
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

DOCS = Path(__file__).resolve().parent.parent
RESULTS = DOCS / "benchmarks" / "results"
ASSETS = DOCS / "assets"


def _number(value: Any) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    raise ValueError(f"expected a number to plot, got {value!r}; use a numeric column")


def plot_one(data: dict[str, Any], output: Path) -> None:
    """Draw the figure described by ``data["plot"]`` into ``output``."""
    spec = data["plot"]
    kind = spec.get("kind", "bar")
    fig, ax = plt.subplots(figsize=(8, 0.6 + 0.55 * max(2, len(data.get("rows", [])))))
    if kind in {"bar", "range"}:
        rows = data["rows"]
        labels = ["\n".join(textwrap.wrap(str(r[spec.get("label", 0)]), 42)) for r in rows][::-1]
        cols = spec["values"]
        low = [_number(r[cols[0]]) for r in rows][::-1]
        ax.barh(labels, low, color="#3f51b5")
        if kind == "range":
            high = [_number(r[cols[1]]) for r in rows][::-1]
            widths = [h - lo for lo, h in zip(low, high, strict=True)]
            ax.barh(labels, widths, left=low, color="#9fa8da", hatch="//")
            ends = high
        else:
            ends = low
        for y, value in enumerate(ends):
            ax.text(value, y, f" {value:,.4g}", va="center", fontsize=8)
        ax.set_xlim(0, max(ends) * 1.18)
        ax.tick_params(axis="y", labelsize=8)
    elif kind == "curve":
        fig.set_size_inches(8, 4.5)
        for label, points in data["curves"].items():
            xs = [_number(p[0]) for p in points]
            ys = [_number(p[1]) for p in points]
            ax.plot(xs, ys, label=label)
        ax.set_ylabel(spec.get("ylabel", ""))
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    else:
        raise ValueError(f"unknown plot kind {kind!r}; use 'bar', 'range' or 'curve'")
    xlabel = spec.get("xlabel", "")
    if kind == "range":
        xlabel += "\nhatched: spread between runs"
    ax.set_xlabel(xlabel)
    if data.get("title"):
        ax.set_title("\n".join(textwrap.wrap(data["title"], 70)), fontsize=10)
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(output)


def convert_wrappers(raw: dict[str, Any], date: str) -> dict[str, Any]:
    """Turn ``benchmarks/wrappers.py`` output into a docs results table."""
    machine = raw.get("machine", {})
    rows: list[list[Any]] = [
        [f"single env: {name}", round(float(value))]
        for name, value in raw.get("single_env_steps_per_s", {}).items()
    ]
    for n, entry in raw.get("vector", {}).items():
        for name, value in entry.get("env_steps_per_s", {}).items():
            rows.append([f"{n} envs: {name}", round(float(value))])
    return {
        "title": f"Atari wrapper throughput, {raw.get('game', 'Pong')}, random actions",
        "machine": (
            f"{machine.get('cpus', '?')} CPUs, Python {machine.get('python', '?')}, "
            f"ale-py {machine.get('ale_py', '?')}, Gymnasium {machine.get('gymnasium', '?')}"
        ),
        "date": date,
        "source": "benchmarks/wrappers.py",
        "columns": ["Setup", "Environment steps/s"],
        "rows": rows,
        "notes": (
            f"Best of {raw.get('repeats', '?')} interleaved runs of {raw.get('steps', '?')} "
            "agent steps each; higher is better."
        ),
        "plot": {
            "kind": "bar",
            "label": 0,
            "values": [1],
            "xlabel": "environment steps per second (higher is better)",
        },
    }


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    parser.add_argument("--output-dir", type=Path, default=ASSETS)
    parser.add_argument("--wrappers-json", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.wrappers_json is not None:
        raw = json.loads(args.wrappers_json.read_text(encoding="utf-8"))
        date = time.strftime("%Y-%m-%d", time.gmtime(args.wrappers_json.stat().st_mtime))
        out = args.results_dir / "wrappers.json"
        out.write_text(json.dumps(convert_wrappers(raw, date), indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out}")
    for path in sorted(args.results_dir.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if "plot" not in data:
            continue
        output = args.output_dir / f"bench_{path.stem}.png"
        plot_one(data, output)
        print(f"wrote {output}")


if __name__ == "__main__":
    main()
