"""Flow control for reading, per connection: why reading is paused, not only whether.

Each reader (a stream connection, a datagram socket) carries a `ReadFlow`. Pausing adds a
reason, resuming removes that reason only, and the socket reads again once no reason is
left: the bridge catching up cannot undo the transcript's pause, nor a behaviour's (the
shape of uvicorn's `FlowControl`).

The engine resumes the bridge's and the transcript's pauses for every reader at once (it
keeps a registry of paused readers); a reader paces itself for its behaviour's replies.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum


class Pause(StrEnum):
    """Why reading is paused on a socket."""

    BRIDGE = "bridge"  # the UI is behind with the events
    TRANSCRIPT = "transcript"  # the transcript's writer thread is behind with the file
    SEND_QUEUE = "send queue"  # a behaviour's replies wait for a peer that does not read
    PROGRAM = "program"  # an exec'd program has not taken what the peer sent


class ReadFlow:
    __slots__ = ("_pause_reading", "_resume_reading", "reasons")

    def __init__(self, pause_reading: Callable[[], None], resume_reading: Callable[[], None]):
        self._pause_reading = pause_reading
        self._resume_reading = resume_reading
        self.reasons: set[Pause] = set()

    @property
    def paused(self) -> bool:
        return bool(self.reasons)

    def pause(self, reason: Pause) -> None:
        if not self.reasons:
            self._pause_reading()
        self.reasons.add(reason)

    def resume(self, reason: Pause) -> None:
        """`reason` is gone; reading restarts if it was the last one."""
        if reason in self.reasons:
            self.reasons.discard(reason)
            if not self.reasons:
                self._resume_reading()
