"""How the engine's events are taken from the bridge: about 30 times a second, in slices, at
once again (after a short rest) while full batches keep coming (the engine stops reading
while a full batch waits)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from workbench.engine.bridge import DRAIN_INTERVAL_SECONDS, FULL_BATCH_REST_SECONDS
from workbench.protocol import events as ev

if TYPE_CHECKING:
    from workbench.engine.bridge import EventBridge

# Engine events handled between two looks at keys and frames (a bridge's batch is at most
# 5,000 events). A key reaches the screen through several tasks, each waiting for the slice
# in progress: 5,000 made the key-to-screen p99 about 200 ms under a datagram flood.
BATCH_SLICE = 2_000

# `handle(events, last)`: `last` False when a later slice of the same batch follows.
Handler = Callable[[list[ev.Event], bool], None]


async def others_first(max_turns: int = 30) -> None:
    """Let every other task that is ready run first (keys, frames, messages), up to
    `max_turns` rounds: a key goes through several tasks on its way to the screen, and a
    single turn let a slice of engine events run before each of them."""
    loop = asyncio.get_running_loop()
    # asyncio's own loop keeps its ready callbacks here; without it, one turn.
    ready = getattr(loop, "_ready", None)
    for _ in range(max_turns):
        await asyncio.sleep(0)
        if not ready:
            return


def slices(
    events: list[ev.Event], size: int = BATCH_SLICE
) -> Iterator[tuple[list[ev.Event], bool]]:
    """`events` in slices of `size`, each with whether it is the last."""
    for start in range(0, len(events), size):
        yield events[start : start + size], start + size >= len(events)


class Drainer:
    """Takes batches from `bridge` and hands them to `handle` slice by slice, counting the
    slices (`batches`) and the time they took (`seconds`)."""

    def __init__(
        self,
        bridge: EventBridge,
        handle: Handler,
        between_slices: Callable[[], None] | None = None,
    ) -> None:
        self.bridge = bridge
        self.handle = handle
        self.between_slices = between_slices
        self.batches = 0
        self.seconds = 0.0

    def _handle(self, events: list[ev.Event], last: bool) -> None:
        started = time.perf_counter()
        self.handle(events, last)
        self.seconds += time.perf_counter() - started
        self.batches += 1
        if self.between_slices is not None:
            self.between_slices()

    def _full(self, events: list[ev.Event]) -> bool:
        return len(events) >= self.bridge.max_events

    async def drain(self, stopping: Callable[[], bool]) -> None:
        """In a UI's timer task: pauses between slices and between batches, so keys and
        frames (other tasks) go on during a flood. Returns when the bridge is behind no
        more, or at once when `stopping()`."""
        while True:
            events = self.bridge.drain()
            for part, last in slices(events):
                if stopping():
                    return  # quitting: the widgets are going
                self._handle(part, last)
                await others_first()
            if not self._full(events):
                return
            # A short rest, not just a turn: a key goes through several tasks to its echo.
            await asyncio.sleep(FULL_BATCH_REST_SECONDS)

    def drain_once(self) -> float:
        """In a thread of its own: everything drained now. The rest before the next call."""
        events = self.bridge.drain()
        for part, last in slices(events):
            self._handle(part, last)
        return FULL_BATCH_REST_SECONDS if self._full(events) else DRAIN_INTERVAL_SECONDS
