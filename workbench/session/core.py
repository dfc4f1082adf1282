"""A session without a screen: the engine's events in, what changed and the Log's records out.

The app draws what `SessionCore.apply` returns; the benchmark harness (and a headless runner)
drive the same object, so what they measure and record is what the app does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from workbench.codec import sanitize_text
from workbench.log import RawRecord, Record
from workbench.payloads import (
    ENCODING_NAMES,
    LINE_ENDING_NAMES,
    FilePayload,
    SendSettings,
    mode_line,
)
from workbench.protocol import events as ev
from workbench.protocol.enums import Transport
from workbench.session.model import (
    MAX_CLOSED_CONNECTIONS,
    Changes,
    ConnectionInfo,
    Session,
    id_number,
)
from workbench.session.records import RecordMaker, sequence_ended_text, unit_of
from workbench.session.settings import LogDisplay, SendBook
from workbench.session.targeting import Target

# A burst of failures (say 500 refused connects) shows a few notices and a count, not 500.
MAX_NOTICES_PER_BATCH = 3

Payload = bytes | FilePayload


@dataclass(frozen=True)
class Notice:
    """Something to tell the user at once (a toast in the app). Text already sanitized."""

    text: str
    severity: str = "information"  # "information", "warning" or "error"
    title: str = ""


@dataclass
class Update:
    """What one batch of events did."""

    changes: Changes
    records: list[Record | RawRecord]
    target_moved: bool = False
    notices: list[Notice] = field(default_factory=list)
    chosen: bool = False  # "Send to..." resolved its peer, now the target
    progress: bool = False  # a file transfer moved on (see `transfers`)


@dataclass(frozen=True)
class TargetLine:
    """What the composer's row says: the mode and settings, and where a line goes."""

    mode: str
    target: str
    usable: bool


class NotSendable(Exception):
    """The composer's input cannot go (no target, a closed one, bad escapes): why, in words."""


class SessionCore:
    def __init__(
        self,
        default_settings: SendSettings | None = None,
        max_closed: int = MAX_CLOSED_CONNECTIONS,
    ) -> None:
        self.session = Session(max_closed)
        self.targeting = Target()
        self.marked: set[str] = set()
        self.sending = SendBook(default_settings)
        self.display = LogDisplay(self.sending.default.encoding)
        self.records = RecordMaker()
        self.transfers: dict[str, ev.FileProgress] = {}  # files being sent, by connection
        self._full_told: set[str] = set()  # listeners whose refusals at the maximum were told
        self._progressed = False  # a FileProgress in the batch being applied

    @property
    def target(self) -> str | None:
        return self.targeting.cid

    # --- events ---

    def apply(self, events: list[ev.Event]) -> Update:
        changes = self.session.apply(events)
        update = Update(changes, self.records.of_events(events, self.shown_as, self._progress))
        update.progress = bool(self._progressed)
        self._progressed = False
        self.release(changes.forgotten)
        update.target_moved = self.targeting.update(self.session, changes.opened)
        notices = update.notices
        data = ev.Data
        for event in events:
            if type(event) is data:  # nearly every event of a flood: nothing to look at
                continue
            if isinstance(event, ev.PeerResolved):  # "Send to..." chose this peer
                self.targeting.choose(event.cid)
                update.chosen = True
            elif isinstance(event, ev.ListenerOpened):
                for warning in event.warnings:  # e.g. listening on every interface
                    text = sanitize_text(f"{event.lid}: {warning}")
                    notices.append(Notice(text, "warning"))
            elif (
                isinstance(event, ev.ListenerRefused)
                and event.refused
                and event.lid not in self._full_told
            ):
                # Once per listener: its count in the Listeners pane may be cut at the edge.
                self._full_told.add(event.lid)
                text = (
                    f"{event.lid} is at its maximum of connections: new ones are refused "
                    "(?max=N or --max-conns sets it)"
                )
                notices.append(Notice(text, "warning"))
        notices.extend(error_notices(changes.errors))
        return update

    def _progress(self, progress: ev.FileProgress) -> None:
        if progress.finished:
            self.transfers.pop(progress.cid, None)
        else:
            self.transfers[progress.cid] = progress
        self._progressed = True

    def shown_as(self, cid: str) -> tuple[str, str]:
        """How the Log shows `cid`'s bytes: its unit and encoding."""
        return unit_of(self.session.connections.get(cid)), self.display.encoding_for(cid)

    def release(self, cids: Iterable[str]) -> None:
        """The session forgot these connections: so does everything else kept about them."""
        for cid in cids:
            self.sending.forget(cid)
            self.display.forget(cid)
            self.transfers.pop(cid, None)
            self.marked.discard(cid)

    # --- the target and the marks ---

    def choose(self, cid: str) -> bool:
        """The user picked `cid` as the target; False if the session does not know it."""
        conn = self.session.connections.get(cid)
        if conn is None:
            return False
        self.targeting.choose(cid, closing=conn.ending)
        return True

    def toggle_mark(self, cid: str) -> None:
        if cid in self.marked:
            self.marked.discard(cid)
        elif cid in self.session.connections:
            self.marked.add(cid)

    def recipients(self) -> list[ConnectionInfo]:
        """The marked connections that are still there, else the target."""
        conns = self.session.connections
        marked = [conns[cid] for cid in self.marked if cid in conns]
        if marked:
            return sorted(marked, key=lambda conn: id_number(conn.cid))
        conn = conns.get(self.target or "")
        return [conn] if conn is not None else []

    def target_line(self) -> TargetLine:
        sending = self.sending
        settings = sending.settings_for(self.target) if self.target else sending.default
        shown_mode = mode_line(sending.mode, settings)
        conns = self.session.connections
        marked = [cid for cid in self.marked if cid in conns]
        conn = conns.get(self.target or "")
        if marked:
            return TargetLine(shown_mode, f"to {len(marked)} marked", True)
        if conn is None and self.target is not None:  # just opened: not reported yet
            return TargetLine(shown_mode, f"to {self.target} (connecting)", False)
        if conn is None:
            note = self.targeting.note
            return TargetLine(shown_mode, f"no target: {note}" if note else "no target", False)
        state = f"new, {conn.state}" if self.targeting.note == "new" else conn.state
        tcp = conn.transport == Transport.TCP
        where = conn.remote if tcp else f"{conn.transport} {conn.remote}"
        name = self.session.names.get(conn.cid)
        called = f"{conn.cid} {name}" if name else conn.cid
        target = sanitize_text(f"to {called} {where} ({state})")
        return TargetLine(shown_mode, target, conn.can_send)

    # --- sending ---

    def payloads(self, build: Callable[[SendSettings], Payload]) -> list[tuple[str, Payload]]:
        """What `build` makes of the composer's input for each recipient, with its settings.
        Raises NotSendable unless they can all take it."""
        recipients = self.recipients()
        if not recipients:
            note = f" ({self.targeting.note})" if self.targeting.note else ""
            raise NotSendable(f"no target{note}: connect (f3) or wait for a peer, then type")
        # The target in its EOF grace takes a reply: it is the target only because the user
        # chose it after its peer's EOF (the target moves off a closing connection by itself).
        marked = bool(self.marked & self.session.connections.keys())
        blocked = [c for c in recipients if not (c.can_send or (not marked and c.can_reply))]
        if blocked:
            raise NotSendable(f"not sent: {why_not_sendable(blocked[0])}")
        try:
            return [(c.cid, build(self.sending.settings_for(c.cid))) for c in recipients]
        except ValueError as exc:  # EscapeError, HexError, BlockError: they say where
            raise NotSendable(str(exc)) from exc

    def cycle_line_ending(self) -> None:
        cids = [conn.cid for conn in self.recipients()]
        self.sending.cycle("line_ending", LINE_ENDING_NAMES, cids, self.session.connections)

    def cycle_encoding(self) -> dict[str, str]:
        """f8: the recipients' encoding (else the default's), for sending and in the Log.
        The connections whose bytes the Log should show again, with their encoding."""
        cids = [conn.cid for conn in self.recipients()]
        known = self.session.connections
        encoding = self.sending.cycle("encoding", ENCODING_NAMES, cids, known)
        self.display.set_encoding(cids, encoding, known)
        return {cid: self.display.encoding_for(cid) for cid in cids}


def error_notices(
    errors: list[ev.ErrorReported | ev.ConnectionClosed | ev.SequenceEnded],
) -> list[Notice]:
    notices = []
    for error in errors[:MAX_NOTICES_PER_BATCH]:
        if isinstance(error, ev.ErrorReported):
            source, text = error.source, error.message
        elif isinstance(error, ev.SequenceEnded):  # what arrived is in the Log
            source, text = error.cid, sequence_ended_text(error, arrived=False)
        else:
            source, text = error.cid, error.reason
        title = sanitize_text(source) if source else "error"
        notices.append(Notice(sanitize_text(text), "error", title))
    hidden = len(errors) - MAX_NOTICES_PER_BATCH
    if hidden > 0:
        notices.append(Notice(f"and {hidden} more errors: see the Log", "error"))
    return notices


def why_not_sendable(conn: ConnectionInfo) -> str:
    if conn.is_pending:
        return f"{conn.cid} is still connecting"
    if conn.closed_at is not None:
        return f"{conn.cid} is closed ({conn.reason})"
    if conn.ending:
        return (
            f"{conn.cid} is closing: its peer sent EOF (?halfopen=1 or --half-open keeps such "
            "connections open)"
        )
    return f"you already sent EOF on {conn.cid}"
