"""The engine: every socket, in its own thread and asyncio loop. Never imports Textual.

Its names are loaded on first use, so that importing a module of the package (or the
protocol it speaks, `workbench.protocol`) does not load the core, asyncio and the
transports with it: start-up pays for them only when an engine is made."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.engine.bridge import EventBridge
    from workbench.engine.core import DEFAULT_CONNECT_TIMEOUT, Engine

__all__ = ["DEFAULT_CONNECT_TIMEOUT", "Engine", "EventBridge"]

_WHERE = {
    "DEFAULT_CONNECT_TIMEOUT": "workbench.engine.core",
    "Engine": "workbench.engine.core",
    "EventBridge": "workbench.engine.bridge",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'workbench.engine' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(where), name)
