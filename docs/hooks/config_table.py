"""MkDocs hook: render the table of every ``DQNConfig`` hyperparameter at build time.

A page line ``<!-- dqn-config-table -->`` becomes a table with one row per field of
``dqn_agents.config.DQNConfig``: its name, its value in each preset of ``PRESETS`` and the
first sentence of its docstring. The docstrings are read from the source with ``ast`` (field
docstrings do not exist at runtime); the values come from importing ``dqn_agents.config``,
which imports neither torch nor gymnasium. So the table can never drift from the code.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
MARKER = re.compile(r"^<!--\s*dqn-config-table\s*-->\s*$", re.MULTILINE)
PRESET_COLUMNS = ("default", "nature2015", "mnih2013")


def field_docs(source: str, class_name: str = "DQNConfig") -> dict[str, str]:
    """Map each annotated field of ``class_name`` to the string literal right after it."""
    docs: dict[str, str] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            body = node.body
            for stmt, nxt in zip(body, [*body[1:], None], strict=True):
                if (
                    isinstance(stmt, ast.AnnAssign)
                    and isinstance(stmt.target, ast.Name)
                    and isinstance(nxt, ast.Expr)
                    and isinstance(nxt.value, ast.Constant)
                    and isinstance(nxt.value.value, str)
                ):
                    docs[stmt.target.id] = nxt.value.value
    return docs


def _first_sentence(text: str) -> str:
    flat = " ".join(text.split())
    match = re.match(r"(.+?\.)(\s|$)", flat)
    return match.group(1) if match else flat


def _value(value: Any) -> str:
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        value = dict(value)
    if isinstance(value, float) and value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        text = f"{value:g}"
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10_000:
        text = f"{value:_}"
    else:
        text = repr(value)
    return "`" + text.replace("|", "\\|") + "`"


def render_config_table() -> str:
    """Return the Markdown table of all ``DQNConfig`` fields and preset values."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    config = importlib.import_module("dqn_agents.config")
    source = (ROOT / "dqn_agents" / "config.py").read_text(encoding="utf-8")
    docs = field_docs(source)
    presets = [name for name in PRESET_COLUMNS if name in config.PRESETS]
    header = "| Hyperparameter | " + " | ".join(f"`{p}`" for p in presets) + " | Meaning |"
    lines = [header, "|" + "---|" * (len(presets) + 2)]
    for field in dataclasses.fields(config.DQNConfig):
        values = [getattr(config.PRESETS[p], field.name) for p in presets]
        cells = [_value(values[0])]
        # Show preset values only where they differ from the default, to make them stand out.
        cells += [_value(v) if v != values[0] else "" for v in values[1:]]
        meaning = _first_sentence(docs.get(field.name, "")).replace("|", "\\|")
        anchor = f"[`{field.name}`][dqn_agents.config.DQNConfig.{field.name}]"
        lines.append(f"| {anchor} | " + " | ".join(cells) + f" | {meaning} |")
    return "\n".join(lines) + "\n"


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """MkDocs event: replace ``<!-- dqn-config-table -->`` with the generated table."""
    if not MARKER.search(markdown):
        return markdown
    return MARKER.sub(lambda _: render_config_table(), markdown)
