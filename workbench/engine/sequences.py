"""Sequences on connections: send, expect, wait, close, one step after another.

A run sees the bytes its connection receives (the engine feeds it from where it records a
read) and keeps what arrived since it started, or since the end of its last expect's match,
in a bounded buffer. An expect searches that buffer with RE2 (linear time: peer data is
hostile) each time bytes arrive, and passes as soon as its pattern matches. Patterns are
multi-line: `^250` matches at the start of any line, as a line protocol's reply reads.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from workbench.engine.connection import Connection, NotSent
from workbench.peer_regex import PatternError, compile_bytes_regex
from workbench.protocol import events as ev
from workbench.protocol.enums import CloseCause, Origin, OriginName, origin_of
from workbench.protocol.sequences import (
    CloseStep,
    DelayStep,
    ExpectStep,
    SendStep,
    Sequence,
    Step,
    describe_step,
)

# What a run keeps of the bytes it has not matched yet (the tail, when more arrive).
MAX_UNMATCHED_BYTES = 1024 * 1024
# What a failed run reports of them.
MAX_ARRIVED_BYTES = 4096

# The engine's parts a run uses: send bytes as an origin ("" when sent, else why not),
# report that EOF was sent, and the emit path.
SendOrWhy = Callable[[str, bytes, OriginName], str]
HalfClosed = Callable[[str, OriginName], None]
Emit = Callable[[ev.Event], None]


class Sequences:
    """The runs in progress, by connection id (one per connection)."""

    def __init__(
        self,
        emit: Emit,
        send: SendOrWhy,
        half_closed: HalfClosed,
        connections: dict[str, Connection],
        pending: dict[str, asyncio.Task[None]],
    ) -> None:
        self.emit, self.send, self.half_closed = emit, send, half_closed
        self.connections = connections
        self.pending = pending
        # Looked at for every read: empty (false) while no sequence runs.
        self.runs: dict[str, SequenceRun] = {}

    def start(self, cid: str, sequence: Sequence) -> None:
        if cid in self.runs:
            running = self.runs[cid].sequence.name
            self.emit(
                ev.ErrorReported(
                    time.time(), cid, f"sequence {sequence.name} not started: {cid} already "
                    f"runs sequence {running}",
                )
            )  # fmt: skip
            return
        run = SequenceRun(self, cid, sequence)
        refusal = run.prepare()
        if refusal is not None:
            step, message = refusal
            run.end(False, step, message)
            return
        conn = self.connections.get(cid)
        connecting = self.pending.get(cid) if conn is None else None
        if connecting is None and (conn is None or not conn.is_open):
            run.end(False, 1, f"{cid} is not open")
            return
        self.runs[cid] = run
        run.task = asyncio.ensure_future(run.run(connecting))

    def connection_closed(self, cid: str, reason: str) -> None:
        run = self.runs.get(cid)
        if run is not None:
            run.connection_gone(reason, opened=True)

    def connect_failed(self, cid: str, reason: str) -> None:
        run = self.runs.get(cid)
        if run is not None:
            run.connection_gone(reason, opened=False)

    def stop_all(self, reason: str) -> None:
        """End every run now (the engine stops): each is reported failed for `reason`."""
        for run in list(self.runs.values()):
            run.end(False, max(run.step, 1), reason)
            if run.task is not None:
                run.task.cancel()


class SequenceRun:
    """One sequence on one connection."""

    def __init__(self, owner: Sequences, cid: str, sequence: Sequence) -> None:
        self.owner = owner
        self.cid = cid
        self.sequence = sequence
        self.origin: OriginName = Origin.SEQUENCE
        self.patterns: list[Any] = []  # the expects' compiled patterns, in order
        self.unmatched = bytearray()
        self.expecting: Any = None  # the pattern of the expect in progress
        self.matched = False
        self.gone: str | None = None  # why the connection closed, or did not open
        self.never_opened = False
        self.closed_by_step = False  # a close step ran: the connection may go now
        self.woken = asyncio.Event()
        self.step = 0
        self.done = False
        self.task: asyncio.Future[None] | None = None

    def prepare(self) -> tuple[int, str] | None:
        """Check the name and compile the patterns: None, or the step and why it cannot run."""
        try:
            self.origin = origin_of(Origin.SEQUENCE, self.sequence.name)
        except ValueError:
            return 1, "a sequence's name takes letters, digits and . _ - only"
        for number, step in enumerate(self.sequence.steps, 1):
            if isinstance(step, ExpectStep):
                try:
                    self.patterns.append(compile_bytes_regex("(?m)" + step.pattern))
                except PatternError as exc:
                    return number, str(exc)
        return None

    # what the engine tells it

    def feed(self, chunk: bytes | memoryview) -> None:
        """Bytes the connection received."""
        unmatched = self.unmatched
        unmatched += chunk
        excess = len(unmatched) - MAX_UNMATCHED_BYTES
        if excess > 0:
            del unmatched[:excess]
        if self.expecting is not None:
            self._search()

    def connection_gone(self, reason: str, opened: bool) -> None:
        if self.gone is None:
            self.gone, self.never_opened = reason, not opened
        self.woken.set()

    # running

    async def run(self, connecting: asyncio.Task[None] | None) -> None:
        try:
            await self._run(connecting)
        except Exception as exc:  # a fault of sockbench's: said, rather than a run that hangs
            self.end(False, max(self.step, 1), f"sockbench failed to run it: {exc!r}")

    async def _run(self, connecting: asyncio.Task[None] | None) -> None:
        steps = self.sequence.steps
        if connecting is not None:
            await asyncio.wait({connecting})  # its outcome is told by connection_gone
            if self.never_opened:
                self.end(False, 1, f"the connection did not open: {self.gone}")
                return
        expects = iter(self.patterns)
        for number, step in enumerate(steps, 1):
            self.step = number
            self.owner.emit(
                ev.SequenceProgress(
                    time.time(), self.cid, self.sequence.name, number, len(steps),
                    describe_step(step),
                )
            )  # fmt: skip
            pattern = next(expects) if isinstance(step, ExpectStep) else None
            failure = await self._do(step, pattern)
            if failure:
                self.end(False, number, failure)
                return
        self.end(True, len(steps), "")

    async def _do(self, step: Step, pattern: Any) -> str:
        """Carry out `step`: "" once it is done, else why it failed."""
        if isinstance(step, ExpectStep):
            return await self._expect(step, pattern)
        if isinstance(step, DelayStep):
            await self._wait(step.seconds)
            return self._closed_failure() if not self.closed_by_step else ""
        if self.gone is not None:
            return "" if self.closed_by_step else self._closed_failure()
        conn = self.owner.connections.get(self.cid)
        if conn is None or not conn.is_open:  # closing: its close is on its way
            return "" if self.closed_by_step else f"{self.cid} is closing"
        if isinstance(step, SendStep):
            why = self.owner.send(self.cid, step.data, self.origin)
            return f"not sent: {why}" if why else ""
        return self._close(conn, step)

    def _close(self, conn: Connection, step: CloseStep) -> str:
        self.closed_by_step = True
        if not step.half:
            conn.close(f"closed by {self.origin}", CloseCause.YOU)
            return ""
        if not conn.has_stream:
            return f"cannot send EOF: {self.cid} is a datagram peer, which has no stream to end"
        try:
            if conn.half_close():
                self.owner.half_closed(self.cid, self.origin)
        except NotSent as exc:
            return str(exc)
        return ""

    async def _expect(self, step: ExpectStep, pattern: Any) -> str:
        self.expecting, self.matched = pattern, False
        self._search()  # what arrived before the step
        if not self.matched and self.gone is None:
            await self._wait(step.timeout)
        self.expecting = None
        if self.matched:
            return ""
        if self.gone is not None:
            return self._closed_failure()
        return f"nothing matched '{step.pattern}' in {step.timeout:g} s"

    def _search(self) -> None:
        match = self.expecting.search(self.unmatched)
        if match is None:
            return
        end = match.end()
        del match  # it may hold the buffer, which cannot shrink while it does
        del self.unmatched[:end]
        self.expecting, self.matched = None, True
        self.woken.set()

    async def _wait(self, seconds: float) -> None:
        """Wait `seconds`, or less if woken (a match, the connection gone)."""
        self.woken.clear()
        if self.gone is not None and not self.closed_by_step:
            return
        try:
            async with asyncio.timeout(max(seconds, 0.0)):
                await self.woken.wait()
        except TimeoutError:
            pass

    def _closed_failure(self) -> str:
        return f"the connection closed: {self.gone}" if self.gone is not None else ""

    def end(self, passed: bool, step: int, message: str) -> None:
        """Report how the run ended (once) and forget it."""
        if self.done:
            return
        self.done = True
        if self.owner.runs.get(self.cid) is self:
            del self.owner.runs[self.cid]
        arrived = b"" if passed else bytes(self.unmatched[-MAX_ARRIVED_BYTES:])
        name, steps = self.sequence.name, len(self.sequence.steps)
        self.owner.emit(
            ev.SequenceEnded(time.time(), self.cid, name, passed, step, steps, message, arrived)
        )
