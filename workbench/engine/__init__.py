"""The engine: every socket, in its own thread and asyncio loop. Never imports Textual.

Its names are loaded on first use, so that importing a module of the package (or the
protocol it speaks, `workbench.protocol`) does not load the core, asyncio and the
transports with it: start-up pays for them only when an engine is made."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.lazy_names import lazy_names

if TYPE_CHECKING:
    from workbench.engine.bridge import EventBridge
    from workbench.engine.core import DEFAULT_CONNECT_TIMEOUT, Engine

__all__ = ["DEFAULT_CONNECT_TIMEOUT", "Engine", "EventBridge"]

__getattr__ = lazy_names(
    __name__,
    {
        "DEFAULT_CONNECT_TIMEOUT": "workbench.engine.core",
        "Engine": "workbench.engine.core",
        "EventBridge": "workbench.engine.bridge",
    },
)
