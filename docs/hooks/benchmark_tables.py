"""MkDocs hook: render benchmark result tables from JSON files at build time.

A page asks for a table with an HTML comment on a line of its own::

    <!-- results: throughput -->

and this hook replaces it with a Markdown table built from
``docs/benchmarks/results/throughput.json``, followed by the machine and date the numbers
came from. The JSON schema (all keys but ``columns``/``rows`` optional)::

    {
      "title": "Agent steps per second",
      "machine": "2-core CI-class VM, CPU only",
      "date": "2026-11-23",
      "source": "benchmarks/throughput.py",
      "columns": ["Setup", "Agent steps/s"],
      "rows": [["dqn-agents, 4 envs", 812.5]],
      "notes": "One run each."
    }

A file may hold several tables instead of ``columns``/``rows``: ``"tables": [{"caption":
..., "columns": [...], "rows": [...]}, ...]``, rendered one after the other above the one
provenance line.

When the file does not exist yet, a clearly marked placeholder admonition is rendered
instead, so the site builds (strictly) before the numbers are in. Only the Python standard
library is used; nothing is fetched from the network.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

DOCS_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = DOCS_DIR / "benchmarks" / "results"
ASSETS_DIR = DOCS_DIR / "assets"
MARKER = re.compile(r"^<!--\s*results:\s*([A-Za-z0-9_.-]+)\s*-->\s*$", re.MULTILINE)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return "—"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.1f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def render_table(
    name: str, results_dir: Path = RESULTS_DIR, assets_prefix: str | None = None
) -> str:
    """Return the Markdown for the results table ``name`` (or its placeholder).

    When ``assets_prefix`` is given and ``docs/assets/bench_<name>.png`` exists (written by
    ``docs/scripts/benchmark_figures.py``), the figure is shown under the table.
    """
    path = results_dir / f"{name}.json"
    if not path.is_file():
        return (
            f'!!! warning "Placeholder: `{name}` results not filled in yet"\n'
            f"    These numbers come from the final benchmark run. To fill them in, write\n"
            f"    `docs/benchmarks/results/{name}.json` (schema in\n"
            f"    `docs/hooks/benchmark_tables.py`) and rebuild the site.\n"
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    tables = data.get("tables")
    several = isinstance(tables, list) and "columns" not in data
    if several:
        parts = [t if isinstance(t, dict) else {} for t in tables]
        if not parts:
            raise ValueError(f"{path}: 'tables' is empty")
    else:
        parts = [{"columns": data.get("columns"), "rows": data.get("rows")}]
    lines = []
    if data.get("title"):
        lines += [f"**{data['title']}**", ""]
    for part in parts:
        columns, rows = part.get("columns"), part.get("rows")
        if not isinstance(columns, list) or not isinstance(rows, list):
            raise ValueError(
                f"{path}: expected 'columns' (list) and 'rows' (list of lists), got keys "
                f"{sorted(part if several else data)}"
            )
        if part.get("caption"):
            lines += [f"*{part['caption']}*", ""]
        lines.append("| " + " | ".join(_cell(c) for c in columns) + " |")
        lines.append("|" + "|".join("---" for _ in columns) + "|")
        for row in rows:
            if len(row) != len(columns):
                raise ValueError(
                    f"{path}: row {row!r} has {len(row)} cells, the header has {len(columns)}"
                )
            lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
        lines.append("")
    del lines[-1]
    provenance = []
    for key, label in (("machine", "Machine"), ("date", "Date"), ("source", "Script")):
        if data.get(key):
            value = f"`{data[key]}`" if key == "source" else str(data[key])
            provenance.append(f"{label}: {value}")
    lines.append("")
    if provenance:
        lines.append("*" + " · ".join(provenance) + "*")
    if data.get("notes"):
        lines += ["", str(data["notes"])]
    figure = ASSETS_DIR / f"bench_{name}.png"
    if assets_prefix is not None and "plot" in data and figure.is_file():
        alt = str(data.get("title", name)).replace("]", ")").replace("[", "(")
        lines += ["", f"![{alt}]({assets_prefix}assets/{figure.name})"]
    return "\n".join(lines) + "\n"


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """MkDocs event: replace every ``<!-- results: NAME -->`` marker with its table."""
    page = kwargs.get("page")
    depth = page.file.src_uri.count("/") if page is not None else 0
    prefix = "../" * depth
    return MARKER.sub(lambda m: render_table(m.group(1), assets_prefix=prefix), markdown)
