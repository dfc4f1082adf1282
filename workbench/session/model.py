"""What a session knows about listeners and connections, built only from engine events.

Plain Python (no Textual), so it is easy to test and the UI stays a thin view over it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from workbench.protocol import events as ev
from workbench.protocol.enums import CloseCause, ConnState, Transport
from workbench.protocol.tls_info import TlsInfo
from workbench.session.rates import RateHistory

MAX_CLOSED_CONNECTIONS = 100
# Compared with events' plain-string transports too: a StrEnum member hashes as its text.
DATAGRAM_TRANSPORTS = frozenset({Transport.UDP, Transport.UNIX_DGRAM})


@dataclass
class ConnectionInfo:
    cid: str
    listener: str | None
    remote: str
    local: str = ""
    state: ConnState = ConnState.CONNECTING
    opened_at: float = 0.0
    closed_at: float | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    chunks_in: int = 0
    chunks_out: int = 0
    peer_eof: bool = False
    local_eof: bool = False
    # The peer sent EOF and the connection closes after the grace: it is going away.
    ending: bool = False
    reason: str = ""
    error: bool = False
    transport: str = Transport.TCP
    last_activity: float = 0.0
    queued: int = 0  # bytes sent that the peer has not taken yet (a stream's send queue)
    tls: TlsInfo | None = None  # what its TLS handshake established (None: plain, or not yet)
    # The sequence running on it, as far as it got ("sequence login: step 3/5: waiting for
    # ^250 (up to 5 s)"); "" when none runs.
    sequence: str = ""
    history: RateHistory = field(default_factory=RateHistory)

    @property
    def is_datagram(self) -> bool:
        return self.transport in DATAGRAM_TRANSPORTS

    @property
    def outgoing(self) -> bool:
        return self.listener is None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None and self.state != ConnState.CONNECTING

    @property
    def is_pending(self) -> bool:
        return self.state == ConnState.CONNECTING

    @property
    def can_send(self) -> bool:
        return self.is_open and not self.local_eof and not self.ending

    @property
    def can_reply(self) -> bool:
        """Open for sending, closing after its peer's EOF included: a reply in the grace
        still reaches a peer that only half-closed (for a target the user chose)."""
        return self.is_open and not self.local_eof


@dataclass
class ListenerInfo:
    lid: str
    url: str
    local: tuple[str, ...]
    opened_at: float
    is_open: bool = True
    peers: list[str] = field(default_factory=list)
    notes: tuple[str, ...] = ()
    forgotten: int = 0  # datagram peers dropped from a full peer table
    max_connections: int = 0  # a stream listener's maximum of open connections
    refused: int = 0  # connections it closed at once because it was at its maximum
    denied: int = 0  # peers its allow= and deny= lists refused
    no_proxy_header: int = 0  # proxy=1: clients closed for no valid PROXY header
    dropped: int = 0  # datagrams the system dropped at it (its receive buffer was full)
    behaviour: str = ""  # its behaviour options as a URL's query writes them ("echo=1")
    # Its Transport, as the event says it: not the URL's scheme, which is `tls` for TLS
    # over TCP (the Listeners tree shows the scheme).
    transport: str = Transport.TCP

    @property
    def is_datagram(self) -> bool:
        return self.transport in DATAGRAM_TRANSPORTS


@dataclass
class Changes:
    """What one batch of events changed, so the UI updates only that."""

    connections: set[str] = field(default_factory=set)
    listeners: set[str] = field(default_factory=set)
    # Only the counters of these changed (data): a view may show them a little later.
    counted: set[str] = field(default_factory=set)
    # Rows were added or removed (not only updated): the panes rebuild their structure.
    structure: bool = False
    opened: list[str] = field(default_factory=list)
    errors: list[ev.ErrorReported | ev.ConnectionClosed | ev.SequenceEnded] = field(
        default_factory=list
    )
    repeats: bool = False  # a repeat moved on, started or finished (see Session.repeats)
    # Closed connections the session forgot (see `_prune_closed`): what else is kept about
    # them (the UI's per-connection settings, marks) goes too.
    forgotten: list[str] = field(default_factory=list)


# A batch's data summed per connection, reads then sends: [size, chunks, last ts].
Sums = tuple[dict[str, list[float]], dict[str, list[float]]]


class Session:
    def __init__(self, max_closed: int = MAX_CLOSED_CONNECTIONS) -> None:
        self.listeners: dict[str, ListenerInfo] = {}
        self.connections: dict[str, ConnectionInfo] = {}
        self.max_closed = max_closed
        self._closed_order: list[str] = []
        # A handshake reported before its accepted connection's ConnectionOpened (the engine
        # may report either first): kept until the connection is there.
        self._early_tls: dict[str, TlsInfo] = {}
        # Repeated sends running, as far as they got (a finished one is removed).
        self.repeats: dict[str, ev.RepeatProgress] = {}
        # A session file's names for its listeners and connections, by id: the user's, not
        # the engine's (names are checked: letters, digits and . _ -).
        self.names: dict[str, str] = {}

    def name(self, key: str, name: str) -> None:
        if name:
            self.names[key] = name

    def apply(self, events: Iterable[ev.Event]) -> Changes:
        changes = Changes()
        # Nearly every event under a flood is Data: it is summed per connection and direction
        # (an echo's reads and replies alternate), and counted once per second of timestamps
        # and before any other event (one rate-history update each). A dict per direction,
        # [size, chunks, last ts] by connection: no key to make per event.
        sums: Sums = ({}, {})
        second = end = 0.0  # the second of timestamps being summed: [second, end)
        for event in events:
            if type(event) is ev.Data:
                ts = event.ts
                if not second <= ts < end:
                    self._count(sums, changes)
                    second = float(int(ts))
                    end = second + 1.0
                by_cid = sums[event.outgoing]
                total = by_cid.get(event.cid)
                if total is None:
                    by_cid[event.cid] = [event.size, event.chunks, ts]
                else:
                    total[0] += event.size
                    total[1] += event.chunks
                    total[2] = ts
                continue
            self._count(sums, changes)
            self._apply_one(event, changes)
        self._count(sums, changes)
        self._prune_closed(changes)
        return changes

    def _count(self, sums: Sums, changes: Changes) -> None:
        """Count what `sums` holds, and empty it."""
        for outgoing, by_cid in enumerate(sums):
            for cid, (size, chunks, ts) in by_cid.items():
                conn = self.connections.get(cid)
                if conn is None:
                    continue
                if outgoing:
                    conn.bytes_out += int(size)
                    conn.chunks_out += int(chunks)
                else:
                    conn.bytes_in += int(size)
                    conn.chunks_in += int(chunks)
                conn.last_activity = max(conn.last_activity, ts)
                conn.history.add(ts, int(size), bool(outgoing))
                changes.counted.add(cid)
            by_cid.clear()

    def _apply_one(self, event: ev.Event, changes: Changes) -> None:
        match event:
            case ev.ConnectionOpened(ts, cid, listener, local, remote, transport):
                conn = self.connections.get(cid)
                if conn is None:
                    conn = self.connections[cid] = ConnectionInfo(cid, listener, remote)
                conn.local, conn.remote, conn.opened_at = local, remote, ts
                conn.state, conn.transport, conn.last_activity = ConnState.OPEN, transport, ts
                conn.tls = self._early_tls.pop(cid, conn.tls)
                if listener is not None and listener in self.listeners:
                    owner = self.listeners[listener]
                    owner.peers.append(cid)
                    changes.listeners.add(listener)
                changes.connections.add(cid)
                changes.opened.append(cid)
                changes.structure = True
            case ev.Connecting(ts, cid, remote, transport):
                self.connections[cid] = ConnectionInfo(
                    cid, None, remote, opened_at=ts, transport=transport
                )
                changes.connections.add(cid)
                changes.structure = True
            case ev.HalfClosed(cid=cid, outgoing=outgoing, closes_after=closes_after):
                conn = self.connections.get(cid)
                if conn is None:
                    return
                if outgoing:
                    conn.local_eof = True
                    conn.ending = conn.ending or closes_after is not None  # a hang-up
                else:
                    conn.peer_eof = True
                    conn.ending = closes_after is not None
                conn.state = half_closed_state(conn)
                changes.connections.add(cid)
            case ev.TlsEstablished(cid=cid, info=info):
                conn = self.connections.get(cid)
                if conn is None:
                    self._early_tls[cid] = info
                    return
                conn.tls = info
                changes.connections.add(cid)
            case ev.ConnectionClosed(ts, cid, reason, error, cause):
                self._early_tls.pop(cid, None)
                conn = self.connections.get(cid)
                if conn is None:
                    return
                conn.state = ConnState.FAILED if conn.is_pending else ConnState.CLOSED
                conn.closed_at, conn.reason, conn.error = ts, reason, error
                conn.queued = 0
                self._closed_order.append(cid)
                changes.connections.add(cid)
                if conn.listener in self.listeners:
                    changes.listeners.add(conn.listener)
                    if cause == CloseCause.FORGOTTEN:
                        self.listeners[conn.listener].forgotten += 1
                if error:
                    changes.errors.append(event)
            case ev.ListenerOpened(ts, lid, url, local, notes, maximum, transport, _, behaviour):
                self.listeners[lid] = ListenerInfo(
                    lid, url, local, ts, notes=notes, max_connections=maximum,
                    behaviour=behaviour, transport=transport,
                )  # fmt: skip
                changes.listeners.add(lid)
                changes.structure = True
            case ev.BehaviourChanged(lid=lid, url=url, behaviour=behaviour):
                if lid in self.listeners:
                    self.listeners[lid].url = url
                    self.listeners[lid].behaviour = behaviour
                    changes.listeners.add(lid)
            case ev.ListenerRefused(lid=lid, refused=refused, denied=denied):
                if lid in self.listeners:
                    self.listeners[lid].refused = refused
                    self.listeners[lid].denied = denied
                    self.listeners[lid].no_proxy_header = event.no_proxy_header
                    changes.listeners.add(lid)
            case ev.DatagramsDropped(lid=lid, dropped=dropped):
                if lid in self.listeners:
                    self.listeners[lid].dropped = dropped
                    changes.listeners.add(lid)
            case ev.SendQueue(cid=cid, queued=queued):
                conn = self.connections.get(cid)
                if conn is not None and conn.closed_at is None:
                    conn.queued = queued
                    changes.connections.add(cid)
            case ev.ListenerClosed(lid=lid):
                if lid in self.listeners:
                    del self.listeners[lid]
                    changes.listeners.add(lid)
                    changes.structure = True
            case ev.ErrorReported():
                changes.errors.append(event)
            case ev.SequenceProgress(cid=cid):
                conn = self.connections.get(cid)
                if conn is not None:
                    conn.sequence = sequence_progress_text(event)
                    changes.connections.add(cid)
            case ev.SequenceEnded(cid=cid, passed=passed):
                conn = self.connections.get(cid)
                if conn is not None:
                    conn.sequence = ""
                    changes.connections.add(cid)
                if not passed:
                    changes.errors.append(event)
            case ev.RepeatProgress(rid=rid, finished=finished):
                if finished:
                    self.repeats.pop(rid, None)
                else:
                    self.repeats[rid] = event
                changes.repeats = True

    def _prune_closed(self, changes: Changes) -> None:
        """Keep the most recent closed connections; forget older ones (the Log keeps them)."""
        excess = len(self._closed_order) - self.max_closed
        if excess <= 0:
            return
        for cid in self._closed_order[:excess]:
            self._forget(cid)
        changes.forgotten.extend(self._closed_order[:excess])
        del self._closed_order[:excess]
        changes.structure = True

    def _forget(self, cid: str) -> None:
        conn = self.connections.pop(cid, None)
        if conn is not None and conn.listener in self.listeners:
            peers = self.listeners[conn.listener].peers
            if cid in peers:
                peers.remove(cid)

    def open_connections(self) -> list[ConnectionInfo]:
        return [c for c in self.connections.values() if c.is_open]

    def forget_closed(self, cids: Iterable[str] | None = None) -> list[str]:
        """Forget the closed connections (all, or those of `cids` that are closed), as if
        pruned: the panes stop listing them; the Log keeps their records. Their ids."""
        wanted = None if cids is None else set(cids)
        gone = [cid for cid in self._closed_order if wanted is None or cid in wanted]
        for cid in gone:
            self._forget(cid)
        if gone:
            forgotten = set(gone)
            self._closed_order = [cid for cid in self._closed_order if cid not in forgotten]
        return gone


def id_number(item_id: str) -> int:
    """12 for C12 or L12: ids sort by it, not as text."""
    digits = item_id.lstrip("LC")
    return int(digits) if digits.isdigit() else 0


def sequence_progress_text(event: ev.SequenceProgress) -> str:
    """A sequence's step in words: "sequence login: step 3/5: waiting for ^250 (up to 5 s)"
    (raw: it may quote a pattern or a name; sanitize it to show)."""
    return f"sequence {event.name}: step {event.step}/{event.steps}: {event.doing}"


def half_closed_state(conn: ConnectionInfo) -> ConnState:
    if conn.peer_eof and conn.local_eof:
        return ConnState.EOF_BOTH
    if conn.ending:
        return ConnState.CLOSING
    if conn.peer_eof:
        return ConnState.PEER_EOF
    return ConnState.YOU_EOF
