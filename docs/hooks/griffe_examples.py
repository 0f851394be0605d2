"""Griffe extension: read Google-style ``Example:`` sections as ``Examples:``.

Napoleon (Sphinx) and the Google style guide accept both ``Example:`` and ``Examples:``;
griffe only parses the plural as an examples section (doctest ``>>>`` lines become code
blocks) and renders the singular as an admonition, where ``>>>`` turns into nested block
quotes. This extension renames the singular before griffe parses the docstring. Loaded by
``mkdocs.yml`` (``plugins.mkdocstrings.handlers.python.options.extensions``).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE = re.compile(r"^(?P<indent>[ \t]*)Example:[ \t]*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    """Rewrite ``Example:`` section headers to ``Examples:`` in every loaded docstring."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Griffe event: called for each object (module, class, function, attribute)."""
        docstring = obj.docstring
        if docstring is not None and "Example:" in docstring.value:
            docstring.value = _EXAMPLE.sub(r"\g<indent>Examples:", docstring.value)
