"""A package's names loaded on first use (PEP 562), so that importing one of its modules
does not load all the others: start-up pays for a module only when it is needed."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_names(package: str, where: dict[str, str]) -> Callable[[str], Any]:
    """The package's `__getattr__`: each name of `where` from its module, imported then."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__
