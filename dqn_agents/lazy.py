"""Lazy package attributes (PEP 562): a public name is imported from its module when used.

`lazy_attributes` builds a package's ``__getattr__`` and ``__dir__`` from a name -> module
table, so that ``import dqn_agents`` and ``import dqn_agents.hub`` stay light (no torch,
no ``huggingface_hub``) until a heavy name is read.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(
    package: str,
    names: Mapping[str, str],
    namespace: MutableMapping[str, Any],
    public: Iterable[str],
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of a package whose heavy names load on first use.

    Args:
        package: The package's name, for the error message.
        names: Public name -> the module that defines it.
        namespace: The package's ``globals()`` (a loaded name is cached there).
        public: The package's ``__all__``.

    Returns:
        ``(__getattr__, __dir__)``, to assign at the package's top level.

    Example:
        >>> getattr_, dir_ = lazy_attributes("pkg", {"sqrt": "math"}, {}, ["sqrt"])
        >>> getattr_("sqrt")(4.0), dir_()
        (2.0, ['sqrt'])
    """
    public_names = set(public)

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | public_names)

    return __getattr__, __dir__
