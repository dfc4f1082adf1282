"""Repeated sends: a payload sent to connections every N seconds, N times or until stopped.

Sends keep to an absolute schedule (the loop's clock, not "interval after the last one"), so
a long repeat does not drift. A send that comes late catches up a few rounds at most at
once, then the schedule starts again from now: the counter still counts every round. A
stream whose peer does not take what it is sent holds the repeat (it waits, and says so)
rather than queue without bound in sockbench.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from workbench.engine.connection import Connection
from workbench.engine.stream import StreamConnection
from workbench.protocol import events as ev
from workbench.protocol.enums import Origin, OriginName, is_origin_name
from workbench.protocol.sequences import SendPayload
from workbench.rules.template import Facts, Template, TemplateError, parse_template

MIN_INTERVAL = 0.001
# Rounds sent at once when the loop comes late, before the schedule starts again from now.
MAX_CATCH_UP = 4
# How often a running repeat reports how far it got.
PROGRESS_SECONDS = 0.25
# How often a repeat held by a full send queue looks whether it can go on.
HOLD_RECHECK_SECONDS = 0.02

DONE = "done"
STOPPED = "stopped by you"
ALL_CLOSED = "every connection closed"

# The engine's parts a repeat uses: send (False, said in the Log, if it cannot go), notes and
# errors in the Log, and the emit path.
Send = Callable[[str, bytes, OriginName], bool]
Say = Callable[[str, str], None]
Emit = Callable[[ev.Event], None]


class Repeats:
    """The repeats in progress, by id."""

    def __init__(
        self, emit: Emit, send: Send, info: Say, error: Say, connections: dict[str, Connection]
    ) -> None:
        self.emit, self.send, self.info, self.error = emit, send, info, error
        self.connections = connections
        self.running: dict[str, Repeat] = {}

    def start(
        self,
        rid: str,
        cids: tuple[str, ...],
        payload: SendPayload,
        interval: float,
        times: int = 0,
        origin: OriginName = Origin.REPEAT,
    ) -> None:
        refusal = self._refusal(rid, interval, times, origin)
        if refusal:
            self.error(rid, f"repeat {rid} not started: {refusal}")
            return
        template = None
        if payload.template:
            try:
                template = parse_template(payload.template, payload.encoding)
            except (TemplateError, LookupError) as exc:
                self.error(rid, f"repeat {rid} not started: its template: {exc}")
                return
        targets = [cid for cid in dict.fromkeys(cids) if self._is_open(cid)]
        left_out = [cid for cid in dict.fromkeys(cids) if cid not in targets]
        if not targets:
            named = ", ".join(left_out) or "no connection given"
            self.error(rid, f"repeat {rid} not started: nothing open to send to ({named})")
            return
        if left_out:
            self.info(rid, f"repeat {rid} leaves out what is not open: {', '.join(left_out)}")
        repeat = Repeat(self, rid, targets, payload.data, template, interval, times, origin)
        self.running[rid] = repeat
        repeat.begin()

    def _refusal(self, rid: str, interval: float, times: int, origin: OriginName) -> str:
        if rid in self.running:
            return "one with this name is running"
        if not is_origin_name(origin):
            return f"{origin!r} cannot name who sent it"
        if not (MIN_INTERVAL <= interval < math.inf):
            shown = f"{interval * 1000:g} ms" if math.isfinite(interval) else str(interval)
            return f"its interval ({shown}) must be 1 ms or more"
        if times < 0:
            return f"its number of sends ({times}) cannot be negative"
        return ""

    def _is_open(self, cid: str) -> bool:
        conn = self.connections.get(cid)
        return conn is not None and conn.is_open

    def stop(self, rid: str) -> None:
        repeat = self.running.get(rid)
        if repeat is None:
            self.info(rid, f"repeat {rid} is not running")
            return
        repeat.finish(STOPPED)

    def connection_closed(self, cid: str) -> None:
        for repeat in list(self.running.values()):
            repeat.drop(cid)

    def stop_all(self, reason: str) -> None:
        for repeat in list(self.running.values()):
            repeat.finish(reason)


class Repeat:
    def __init__(
        self,
        owner: Repeats,
        rid: str,
        cids: list[str],
        data: bytes,
        template: Template | None,
        interval: float,
        times: int,
        origin: OriginName,
    ) -> None:
        self.owner = owner
        self.rid = rid
        self.cids = cids
        self.data = data
        self.template = template
        self.interval = interval
        self.times = times
        self.origin = origin
        self.sent = 0
        self.finished = False
        self.reason = ""  # why it finished
        self.in_round = False  # sending a round: its end is reported once it is counted
        self.loop = asyncio.get_running_loop()
        self.due = 0.0  # when the next round is due (the loop's clock)
        self.timer: asyncio.TimerHandle | None = None
        self.reported_at = -math.inf
        self.held = False  # waiting for a full send queue to drain

    def begin(self) -> None:
        self.due = self.loop.time()
        self._tick()

    def _tick(self) -> None:
        self.timer = None
        now = self.loop.time()
        rounds = 0
        while self.due <= now and rounds < MAX_CATCH_UP:
            if self._held_by():
                self.timer = self.loop.call_later(HOLD_RECHECK_SECONDS, self._tick)
                return
            self._round()
            if self.finished:
                return
            rounds += 1
            self.due += self.interval
        if self.due <= now:  # still behind: from now on, rather than a burst
            self.due = now + self.interval
        self._report(finished=False)
        self.timer = self.loop.call_at(self.due, self._tick)

    def _held_by(self) -> str:
        """A stream of the repeat's whose send queue is full (asyncio paused writing): the
        repeat waits for it, and says so once a wait."""
        connections = self.owner.connections
        for cid in self.cids:
            conn = connections.get(cid)
            if isinstance(conn, StreamConnection) and not conn.writable.is_set():
                if not self.held:
                    self.held = True
                    self.owner.info(
                        self.rid,
                        f"repeat {self.rid} waits: {cid} does not take what it is sent (its "
                        "send queue is full)",
                    )
                return cid
        if self.held:  # it drained: the schedule starts again from now
            self.held = False
            self.due = self.loop.time()
        return ""

    def _round(self) -> None:
        counter = self.sent + 1
        connections = self.owner.connections
        went = False
        self.in_round = True
        try:
            for cid in list(self.cids):
                conn = connections.get(cid)
                if conn is None or not conn.is_open:  # closing: it leaves the repeat
                    self.drop(cid)
                elif self.owner.send(cid, self._payload(conn, counter), self.origin):
                    went = True
                else:
                    self.drop(cid, closed=False)  # why is in the Log already
        finally:
            self.in_round = False
        if went:
            self.sent = counter
        if self.finished:
            self._report(finished=True, reason=self.reason)
        elif self.times and counter >= self.times:
            self.finish(DONE)

    def _payload(self, conn: Connection, counter: int) -> bytes:
        if self.template is None:
            return self.data
        return self.template.render(Facts(b"", (), {}, b"", conn.remote, conn.cid, counter))

    def drop(self, cid: str, closed: bool = True) -> None:
        """`cid` leaves the repeat (closed, or a send to it failed)."""
        if cid not in self.cids or self.finished:
            return
        self.cids.remove(cid)
        if not self.cids:
            self.finish(ALL_CLOSED if closed else "no connection left to send to")
        elif not closed:
            self.owner.info(self.rid, f"repeat {self.rid} no longer sends to {cid}")

    def finish(self, reason: str) -> None:
        if self.finished:
            return
        self.finished, self.reason = True, reason
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.owner.running.get(self.rid) is self:
            del self.owner.running[self.rid]
        if not self.in_round:  # else once the round is counted
            self._report(finished=True, reason=reason)

    def _report(self, finished: bool, reason: str = "") -> None:
        now = time.monotonic()
        if not finished and now - self.reported_at < PROGRESS_SECONDS:
            return
        self.reported_at = now
        self.owner.emit(
            ev.RepeatProgress(time.time(), self.rid, self.sent, self.times, finished, reason)
        )
