"""The engine: every socket, in its own thread and asyncio loop. Never imports Textual."""

from workbench.engine.bridge import EventBridge
from workbench.engine.core import DEFAULT_CONNECT_TIMEOUT, Engine

__all__ = ["DEFAULT_CONNECT_TIMEOUT", "Engine", "EventBridge"]
