"""Listeners and what their acceptors report (the engine's AcceptOwner)."""

from __future__ import annotations

import time

from workbench.engine.behaviours import Behaviour
from workbench.engine.limits import open_files_limit
from workbench.engine.listener import DROPS_QUIET_SECONDS, Listener, Say
from workbench.engine.opening import max_connections
from workbench.engine.stream import StreamConnection
from workbench.engine.transcript_upkeep import TranscriptUpkeep
from workbench.protocol import events as ev
from workbench.protocol.enums import CloseCause, RecordKind
from workbench.protocol.peer_filter import Refusal

# How often queued bytes and refused-connection counts are reported while they change.
COUNTS_SECONDS = 0.25
# Running out of file descriptors is reported with a count, this long after it starts; if it
# happens again soon after a report, the next report sums up a longer period, so that a
# sustained storm gives a line now and then, not one every few seconds.
DESCRIPTORS_REPORT_SECONDS = 2.0
DESCRIPTORS_QUIET_SECONDS = 30.0


class Listening(TranscriptUpkeep):
    """What listeners' acceptors report, the behaviour a listener gives its connections, and
    the counts (queued bytes, refused connections, dropped datagrams) reported while they
    change."""

    def _behaviour_of(self, lid: str | None, cid: str) -> Behaviour | None:
        """A new connection's behaviour: its listener's, or the one its own URL asked for."""
        if lid is None:
            make = self._own_behaviours.get(cid)
        else:
            listener = self.listeners.get(lid)
            make = listener.behaviour if listener is not None else None
        return make() if make is not None else None

    # queued bytes and refused connections, reported a few times a second while they change

    def _watch_queue(self, conn: StreamConnection) -> None:
        self._queue_watch[conn.cid] = conn
        self._schedule_counts()

    def _schedule_counts(self) -> None:
        if self._counts_timer is None and self._loop is not None:
            self._counts_timer = self._loop.call_later(COUNTS_SECONDS, self._report_counts)

    def _report_counts(self) -> None:
        self._counts_timer = None
        ts = time.time()
        for cid, conn in list(self._queue_watch.items()):
            queued = conn.queued()
            if queued != conn.reported_queue:
                conn.reported_queue = queued
                self._emit(ev.SendQueue(ts, cid, queued))
            if queued == 0:
                del self._queue_watch[cid]
        for listener in self.listeners.values():
            counts = (listener.refused, listener.denied, listener.no_proxy_header)
            reported = (
                listener.refused_reported,
                listener.denied_reported,
                listener.no_proxy_header_reported,
            )
            if counts != reported:
                (
                    listener.refused_reported,
                    listener.denied_reported,
                    listener.no_proxy_header_reported,
                ) = counts
                self._emit(ev.ListenerRefused(ts, listener.lid, *counts))
            if listener.dropped != listener.dropped_reported:
                self._report_drops(listener, ts)
        if self._queue_watch:
            self._schedule_counts()

    # AcceptOwner: called by a listener's Acceptor on the engine thread

    def live_peers(self, lid: str) -> int:
        """The connections that count towards the listener's maximum."""
        listener = self.listeners.get(lid)
        return len(listener.counted) if listener is not None else 0

    def can_make_room(self, lid: str) -> bool:
        listener = self.listeners.get(lid)
        return listener is not None and bool(listener.ended)

    def make_room(self, lid: str) -> bool:
        """At the maximum: close the oldest half-open peer whose peer already sent EOF, so a
        new connection can be taken; False if there is none."""
        listener = self.listeners.get(lid)
        if listener is None or not listener.ended:
            return False
        cid = next(iter(listener.ended))
        conn = self.connections.get(cid)
        listener.ended.pop(cid)
        listener.counted.discard(cid)
        if conn is not None:
            maximum = max_connections(listener.endpoint)
            reason = f"closed to make room: {lid} at its maximum of {maximum:,}"
            conn.close(reason, CloseCause.REFUSED)
        return True

    def refused_at_maximum(self, lid: str, remote: str) -> None:
        listener = self.listeners.get(lid)
        if listener is None:
            return
        listener.refused += 1
        maximum = max_connections(listener.endpoint)
        if self.transcript is not None:
            # A record with no event: the UI is told a count now and then, not each one.
            self.transcript.record(
                RecordKind.REFUSED,
                lid,
                remote=remote,
                reason=f"{lid} has its maximum of {maximum:,} connections open",
            )
        if listener.refused == 1:
            # The facts first: a Log row is cut at the pane's edge.
            self._info(
                lid,
                f"{lid} full ({maximum:,} open): refused {remote}; further ones are refused "
                "and counted (?max=N or --max-conns sets the maximum)",
            )
        self._schedule_counts()

    def peer_denied(self, lid: str, remote: str, host: str, refusal: Refusal) -> None:
        """The listener's allow= or deny= list refused the peer at `remote` (on `host`):
        counted, recorded, and named in the Log once per host (a flood is counted)."""
        listener = self.listeners.get(lid)
        if listener is None:
            return
        listener.denied += 1
        if self.transcript is not None:
            self.transcript.record(
                RecordKind.REFUSED, lid, remote=remote, reason=refusal.reason, by=refusal.by
            )
        match listener.denials.say(host, time.monotonic()):
            case Say.NAME:
                self._info(lid, f"{lid} refused {remote}: {refusal.reason}")
            case Say.HUSH:
                self._info(
                    lid,
                    f"{lid} refused {remote}: {refusal.reason}; more refused peers are counted "
                    "in the Listeners pane, not named here, for a few seconds (a transcript "
                    "records each)",
                )
        self._schedule_counts()

    def proxy_header_refused(self, lid: str, remote: str, reason: str) -> None:
        """A client of proxy=1 listener `lid` sent no valid PROXY header and was closed: it
        was never a connection of the listener's. Counted, recorded, and said in the Log
        (the first few in a while: a scan would fill it)."""
        listener = self.listeners.get(lid)
        if listener is None:
            return
        listener.no_proxy_header += 1
        if self.transcript is not None:
            self.transcript.record(
                RecordKind.REFUSED, lid, remote=remote, reason=reason, by="proxy"
            )
        say, unsaid = listener.proxy_failures.say(time.monotonic())
        text = f"{lid} closed {remote}: {reason}"
        if unsaid:
            text += f" ({unsaid:,} more were closed before it, not shown)"
        if say is Say.HUSH:
            text += "; more are counted in the Listeners pane, not shown here, for a few seconds"
        if say is not Say.NOTHING:
            self._error(lid, text)
        self._schedule_counts()

    def shed_for_descriptors(self, lid: str, count: int, exc: OSError) -> None:
        if not self._shed:
            now = self._shed_since = time.monotonic()
            recent = now - self._shed_last_report < DESCRIPTORS_QUIET_SECONDS
            assert self._loop is not None
            self._loop.call_later(
                DESCRIPTORS_QUIET_SECONDS if recent else DESCRIPTORS_REPORT_SECONDS,
                self._report_shed,
            )
        self._shed[lid] = self._shed.get(lid, 0) + count

    def _report_shed(self) -> None:
        """One error per listener and period, however many connections failed."""
        seconds = time.monotonic() - self._shed_since
        limit = open_files_limit()
        why = "out of file descriptors" + (f" (this process may open {limit:,})" if limit else "")
        for lid, count in self._shed.items():
            if lid not in self.listeners:
                continue
            if count:
                what = (
                    f"{count:,} connection{'s' if count != 1 else ''} to {lid} could not be "
                    f"accepted in the last {seconds:.0f} s and {'were' if count != 1 else 'was'} "
                    "closed at once"
                )
            else:
                what = f"{lid} cannot accept connections for now; they wait"
            acceptor = self.listeners[lid].opened.acceptor  # type: ignore[union-attr]
            if acceptor is not None and acceptor.starved:
                self._error(lid, f"{why}: {what}; close some connections to accept more")
                self._shed_reported.add(lid)  # told "accepts again" at its next accept
            else:
                self._error(lid, f"{why}: {what}; it accepts connections again now")
        self._shed.clear()
        self._shed_last_report = time.monotonic()

    def accepted_again(self, lid: str) -> None:
        if lid in self._shed_reported:
            self._shed_reported.discard(lid)
            self._info(lid, f"{lid} accepts connections again: file descriptors are free")

    def accept_failed(self, lid: str, exc: OSError) -> None:
        self._error(lid, f"could not accept a connection: {exc.strerror or exc}")

    def _report_drops(self, listener: Listener, ts: float) -> None:
        now = time.monotonic()
        burst = now - listener.dropped_at >= DROPS_QUIET_SECONDS
        listener.dropped_reported, listener.dropped_at = listener.dropped, now
        self._emit(ev.DatagramsDropped(ts, listener.lid, listener.dropped, burst))
