"""Polling what a listener's or a connection's behaviours watch (a rules file) from the
engine loop: every `poll_seconds` while they are in use, what the poll reports goes to the
Log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from workbench.engine.behaviours.base import BehaviourFactory, Report, polled


def keep_polling(
    loop: asyncio.AbstractEventLoop,
    source: str,
    in_use: Callable[[], BehaviourFactory | None],
    say: Callable[[str, Report], None],
) -> None:
    """Poll the behaviours `in_use()` gives now (a listener's, or a connection's own), if
    they watch something, until they are no longer in use (closed, or replaced)."""
    held = in_use()
    factory = polled(held)
    if factory is None:
        return

    def poll() -> None:
        if in_use() is not held:
            return
        for report in factory.poll():
            say(source, report)
        loop.call_later(factory.poll_seconds, poll)

    loop.call_later(factory.poll_seconds, poll)
