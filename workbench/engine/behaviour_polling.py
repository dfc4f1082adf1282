"""Polling what a listener's behaviours watch (a rules file) from the engine loop: every
`poll_seconds` while the listener is open, what the poll reports goes to the Log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from workbench.engine.behaviours.base import Report, polled
from workbench.engine.listener import Listener


def keep_polling(
    loop: asyncio.AbstractEventLoop, listener: Listener, say: Callable[[str, Report], None]
) -> None:
    """Poll `listener`'s behaviours, if they watch something, until they are released (the
    listener closed: `Listener.close` lets go of them)."""
    held = listener.behaviour
    factory = polled(held)
    if factory is None:
        return

    def poll() -> None:
        if listener.behaviour is not held:
            return
        for report in factory.poll():
            say(listener.lid, report)
        loop.call_later(factory.poll_seconds, poll)

    loop.call_later(factory.poll_seconds, poll)
