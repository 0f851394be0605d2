"""Griffe extension: small normalisations of docstrings before griffe parses them.

* Google-style ``Example:`` sections are read as ``Examples:``. Napoleon (Sphinx) and the
  Google style guide accept both; griffe only parses the plural as an examples section
  (doctest ``>>>`` lines become code blocks) and renders the singular as an admonition,
  where ``>>>`` turns into nested block quotes.
* Sphinx roles (``:func:`make_atari```, ``:class:`~pkg.AtariId```) become plain inline
  code (``make_atari``, ``AtariId``); Markdown has no roles, so they would otherwise be
  shown literally.

Loaded by ``mkdocs.yml`` (``plugins.mkdocstrings.handlers.python.options.extensions``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE = re.compile(r"^(?P<indent>[ \t]*)Example:[ \t]*$", re.MULTILINE)
_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|exc|data|obj|const):`~?(?P<name>[^`]+)`")


def normalise(text: str) -> str:
    """Return ``text`` with ``Example:`` headers pluralised and Sphinx roles made code."""
    text = _EXAMPLE.sub(r"\g<indent>Examples:", text)

    def code(match: re.Match[str]) -> str:
        name = match.group("name")
        if match.group(0).split("`", 1)[1].startswith("~"):
            name = name.rsplit(".", 1)[-1]
        return f"`{name}`"

    return _ROLE.sub(code, text)


class ExampleSections(griffe.Extension):
    """Normalise every loaded docstring (see the module docstring)."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Griffe event: called for each object (module, class, function, attribute)."""
        docstring = obj.docstring
        if docstring is not None:
            docstring.value = normalise(docstring.value)
