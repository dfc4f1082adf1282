"""Traffic on connections: sending, receiving, behaviours' actions."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from functools import cached_property

from workbench.engine.behaviours import Action, Close, Context, HalfClose, Later, Report, Send
from workbench.engine.behaviours.base import HearsUserSends, Relay, release
from workbench.engine.behaviours.program_actions import EndInput, Feed, Run
from workbench.engine.connection import Connection, NotSent, QueueFull
from workbench.engine.datagram import DatagramPeer, DatagramSocket, describe_datagram_error
from workbench.engine.file_sender import send_file_over_stream
from workbench.engine.flow import Pause
from workbench.engine.listening import Listening
from workbench.engine.offloop import run_blocking
from workbench.engine.programs import Programs
from workbench.engine.proxy_accept import describe_header
from workbench.engine.relay import may_relay_to
from workbench.engine.repeats import Repeats
from workbench.engine.sequences import SequenceRun, Sequences
from workbench.engine.stream import LINGER_SECONDS, StreamConnection
from workbench.files import open_to_send
from workbench.protocol import events as ev
from workbench.protocol.enums import CloseCause, Origin, OriginName

# A Unix datagram can be larger than a UDP one; the socket says no if it is too large.
MAX_DATAGRAM_FILE_BYTES = 4 * 1024 * 1024


class Traffic(Listening):
    """What flows on connections: sending (bytes, files, a behaviour's actions), and what
    stream connections and datagram sockets report (the engine's ConnectionOwner and
    DatagramOwner)."""

    # Sequences and repeats on connections (made by the Engine); `_sequence_runs` is
    # `sequences.runs`, looked at for every read.
    sequences: Sequences
    repeats: Repeats
    _sequence_runs: dict[str, SequenceRun]

    def _act(self, conn: Connection, actions: Sequence[Action]) -> None:
        """Carry out what a connection's behaviour answered, in order: what it sends marked
        with the action's origin, or else the behaviour's."""
        origin = conn.behaviour.origin if conn.behaviour is not None else Origin.YOU
        for action in actions:
            if isinstance(action, Relay):  # to another peer: even once this one is gone
                if may_relay_to(self.connections.get(action.to), action):
                    self._send(action.to, action.data, action.origin)
                continue
            if not conn.is_open:
                return
            match action:
                case Send(data, sender):
                    self._send(conn.cid, data, sender or origin)
                case HalfClose(sender):
                    self._behaviour_half_close(conn, sender or origin)
                case Close(reason):
                    self._hang_up(conn, reason, origin)
                case Later(seconds, later):  # dropped if the connection is closed by then
                    assert self._loop is not None
                    self._loop.call_later(seconds, self._act, conn, later)
                case Report():
                    self._report(conn.cid, action)
                case Run(program):
                    self.programs.run(conn, program)
                case Feed(data):
                    self.programs.feed(conn.cid, data)
                case EndInput():
                    self.programs.end_input(conn.cid)

    def _hang_up(self, conn: Connection, reason: str, origin: OriginName) -> None:
        """A behaviour ends `conn`: a stream gracefully (see StreamConnection.hang_up)."""
        if not isinstance(conn, StreamConnection):
            conn.close(reason, CloseCause.BEHAVIOUR)
        elif conn.hang_up(reason, CloseCause.BEHAVIOUR):
            self._half_closed(conn.cid, True, LINGER_SECONDS, origin)

    def _behaviour_half_close(self, conn: Connection, origin: OriginName) -> None:
        try:
            if conn.has_stream and conn.half_close():
                self._half_closed(conn.cid, outgoing=True, origin=origin)
        except NotSent:  # TLS: its end is the connection's
            conn.close(f"closed: {origin} ended what it sends (TLS has no half-close)")

    def _report(self, source: str, report: Report) -> None:
        """A behaviour's line in the Log, about `source` (a connection or its listener)."""
        (self._error if report.error else self._info)(source, report.message)

    @cached_property
    def programs(self) -> Programs:
        """The programs exec= and sh= listeners run, one per connection."""
        return Programs(self)

    @staticmethod
    def _context(conn: Connection) -> Context:
        # Made once: a frozen dataclass costs more to make than an echo's reply to send.
        context = conn.context
        if context is None:
            context = Context(conn.cid, conn.transport_kind, conn.remote, conn.listener is None)
            conn.context = context
        return context

    def _send(self, cid: str, data: bytes, origin: OriginName = Origin.YOU) -> bool:
        """Send and record `data`; report and return False if it cannot be sent."""
        why = self._send_or_why(cid, data, origin)
        if why:
            self._error(cid, f"not sent ({len(data):,} bytes): {why}")
        return not why

    def _send_or_why(self, cid: str, data: bytes, origin: OriginName = Origin.YOU) -> str:
        """Send and record `data`: "", or why it cannot be sent (nothing is reported)."""
        conn = self.connections.get(cid)
        if conn is None or not conn.is_open:
            return f"{cid} is not open"
        try:
            conn.send(data)
        except NotSent as exc:
            if isinstance(exc, QueueFull) and isinstance(conn, StreamConnection):
                self._watch_queue(conn)
            return str(exc)
        self._record_sent(cid, data, origin)
        return ""

    def _record_sent(self, cid: str, data: bytes, origin: OriginName = Origin.YOU) -> None:
        # "Sent" means handed to the socket (asyncio's buffer, then the kernel's), in the order
        # the user sent: the transcript keeps that order. What a peer never took is said where
        # it is dropped: a reset's reason counts the bytes still queued (StreamConnection.reset),
        # and a send refused for a full queue is an error, with no out record.
        self._emit_data(cid, True, data, origin)
        if origin == Origin.YOU:
            self._user_sent(cid, data)

    def _user_sent(self, cid: str, data: bytes) -> None:
        """Tell the connection's behaviour what the user sent it (a broker relays it)."""
        conn = self.connections.get(cid)
        # (A Protocol's isinstance is slow: most sends have no behaviour to ask.)
        if (
            conn is not None
            and conn.behaviour is not None
            and isinstance(conn.behaviour, HearsUserSends)
        ):
            self._act(conn, conn.behaviour.on_user_send(self._context(conn), data))

    async def _send_file(self, cid: str, path: str) -> None:
        conn = self._open_connection(cid, f"cannot send {path}")
        if conn is None:
            return
        try:
            total = await run_blocking(os.path.getsize, path)
        except OSError as exc:
            self._error(cid, f"cannot send {path}: {exc.strerror or exc}")
            return

        def progress(sent: int, total: int, finished: bool, error: str) -> None:
            self._emit(ev.FileProgress(time.time(), cid, path, sent, total, finished, error))
            if error:
                self._error(cid, f"file {path}: {error}")

        if not isinstance(conn, StreamConnection):  # a stream sends with its own flow control
            # One file, one datagram: what a datagram tool is asked to do with a file.
            if total > MAX_DATAGRAM_FILE_BYTES:
                self._error(cid, f"not sent: {path} ({total:,} bytes) is too large for a datagram")
                return
            try:
                data = await run_blocking(read_whole, path)
            except OSError as exc:
                self._error(cid, f"cannot send {path}: {exc.strerror or exc}")
                return
            if self._send(cid, data):
                progress(len(data), total, True, "")
            return
        if conn.local_eof:
            self._error(cid, f"not sent: you already sent EOF on {cid}")
            return

        def send(chunk: bytes) -> None:
            conn.write(chunk)
            self._record_sent(cid, chunk)

        progress(0, total, False, "")
        conn.busy += 1  # a peer's EOF meanwhile closes the connection only after the file
        try:
            await send_file_over_stream(
                conn, path, total, send, progress, room=self._transcript_has_room
            )
        finally:
            conn.busy -= 1

    def _half_closed(
        self,
        cid: str,
        outgoing: bool,
        closes_after: float | None = None,
        origin: OriginName = Origin.YOU,
    ) -> None:
        self._emit(ev.HalfClosed(time.time(), cid, outgoing, closes_after, origin))

    # ConnectionOwner: called by StreamConnection on the engine thread

    def connection_opened(self, conn: StreamConnection) -> None:
        self._announce(conn)
        if conn.proxy_header is not None or conn.proxy_sent:
            self._proxy_header_said(conn)
        if conn.ssl_object is not None and not self._report_handshake(conn):
            return
        if conn.negotiation is not None:
            conn.negotiation.begin()  # its behaviour starts once TLS is established
            return
        self._start_behaviour(conn)

    def _proxy_header_said(self, conn: StreamConnection) -> None:
        """The PROXY header `conn`'s client sent (in words: it is not the stream's data),
        or the one `conn` sent first (as data: it is on the wire before the rest)."""
        if conn.proxy_header is not None:
            self._info(conn.cid, describe_header(conn.proxy_header))
        if conn.proxy_sent:
            self._emit_data(conn.cid, True, conn.proxy_sent, Origin.PROXY)

    def _report_handshake(self, conn: StreamConnection) -> bool:
        """Report what `conn`'s TLS handshake established, before any of its data (a
        greeting its behaviour sends, say); False if the peer is refused (it is closed)."""
        # Here, not at the top: `cryptography` loads only once TLS is used.
        from workbench.tls.outcome import established

        listener = self.listeners.get(conn.listener or "")
        local = conn.tls_local or (listener.tls.local if listener and listener.tls else None)
        info, refusal = established(conn.ssl_object, conn.tls_client, local)
        self._emit(ev.TlsEstablished(time.time(), conn.cid, info))
        if refusal:
            conn.refuse(refusal)
            return False
        return True

    def _opened(self, conn: Connection) -> None:
        self._announce(conn)
        self._start_behaviour(conn)

    def _announce(self, conn: Connection) -> None:
        self.connections[conn.cid] = conn
        if conn.listener is not None and conn.listener in self.listeners:
            listener = self.listeners[conn.listener]
            listener.peers.add(conn.cid)
            listener.counted.add(conn.cid)
        self._emit(
            ev.ConnectionOpened(
                time.time(), conn.cid, conn.listener, conn.local, conn.remote, conn.transport_kind
            )
        )
        self.sequences.opened(conn.cid)

    def _start_behaviour(self, conn: Connection) -> None:
        if conn.behaviour is not None:
            self._act(conn, conn.behaviour.on_open(self._context(conn)))

    def data_received(self, conn: StreamConnection, chunk: bytes | memoryview) -> None:
        if conn.negotiation is not None:  # STARTTLS: its plain-text exchange, shown too
            data = bytes(chunk)
            self._record_read(conn, chunk)
            conn.negotiation.feed(data)
            return
        behaviour = conn.behaviour
        if behaviour is None or conn.closing:  # closing: it hung up, and reads on (hang_up)
            self._record_read(conn, chunk)
            return
        actions = behaviour.on_data(self._context(conn), bytes(chunk))
        # The replies leave before the bookkeeping (the read's records, the bridge): a peer
        # waits for its answer on the socket alone. The records keep their order: the read,
        # then what answered it.
        origin = behaviour.origin
        early = 0
        for action in actions:
            if not isinstance(action, Send) or not conn.is_open or not conn.try_send(action.data):
                break
            early += 1
        self._record_read(conn, chunk)
        for action in actions[:early]:
            assert isinstance(action, Send)
            self._record_sent(conn.cid, action.data, action.origin or origin)
        self._act(conn, actions[early:])

    def echoed(self, conn: StreamConnection, data: bytes) -> None:
        """Record a read that its echo already sent back (from the read: see SmallReads)."""
        if conn.framed or self.transcript is not None or self._sequence_runs:
            self._record_read(conn, data)
            self._record_sent(conn.cid, data, Origin.ECHO)
        elif self.bridge.push_echo(time.time(), conn.cid, data, Origin.ECHO):
            self._pause(conn.cid, conn.flow, Pause.BRIDGE)

    def _frame_whole(self, cid: str, whole: bool) -> None:
        """From its next read on (a datagram is whole as it is)."""
        conn = self.connections.get(cid)
        if isinstance(conn, StreamConnection):
            conn.framed = whole

    def _record_read(self, conn: StreamConnection, chunk: bytes | memoryview) -> None:
        if self._emit_data(conn.cid, False, chunk, whole=conn.framed):
            self._pause(conn.cid, conn.flow, Pause.BRIDGE)
        if self.transcript is not None and self.transcript.behind:
            self._transcript_behind(conn.cid, conn.flow)
        if self._sequence_runs:  # empty unless a sequence runs: the bulk path pays no more
            run = self._sequence_runs.get(conn.cid)
            if run is not None:
                run.feed(chunk)

    def eof_received(self, conn: StreamConnection) -> None:
        ends_now = conn.local_eof or conn.closing  # our side had ended (a hang-up, say)
        listener = self.listeners.get(conn.listener) if conn.listener else None
        if listener is not None:
            if conn.ending or ends_now:
                listener.free_slot(conn.cid)  # at once, not after the grace
            else:
                listener.room_to_make(conn.cid)  # half-open: the first to go at the maximum
        # A program (exec=) keeps the connection until it exits, not for the grace.
        waits = conn.ending and conn.cid not in self.programs.running
        closes_after = 0.0 if ends_now else conn.eof_grace if waits else None
        self._half_closed(conn.cid, False, closes_after)
        if conn.behaviour is not None and not conn.closing:
            self._act(conn, conn.behaviour.on_eof(self._context(conn)))

    def connection_closing(self, conn: StreamConnection) -> None:
        listener = self.listeners.get(conn.listener) if conn.listener else None
        if listener is not None:
            listener.free_slot(conn.cid)

    def write_paused(self, conn: StreamConnection) -> None:
        self._watch_queue(conn)

    # DatagramOwner: called by DatagramSocket on the engine thread

    def peer_opened(self, sock: DatagramSocket, peer: DatagramPeer) -> None:
        peer.behaviour = self._behaviour_of(sock.lid, peer.cid)
        sock.paced = sock.paced or peer.behaviour is not None
        self._opened(peer)

    def datagrams_received(
        self, sock: DatagramSocket, received: list[tuple[DatagramPeer, list[bytes]]]
    ) -> None:
        ts = time.time()
        runs = [(peer.cid, run) for peer, run in received]
        key = sock.lid or sock.client_cid or runs[0][0]
        transcript = self.transcript
        if transcript is not None:  # _emit_data for a batch: every datagram of a flood
            for peer, run in received:
                for data in run:
                    transcript.data(ts, peer.cid, False, data)
            if transcript.behind:
                # The kernel's receive buffer holds the next ones (or drops and counts them).
                self._transcript_behind(key, sock.flow)
        if self.bridge.push_runs(ts, False, runs):
            self._pause(key, sock.flow, Pause.BRIDGE)
        for peer, run in received:
            if peer.behaviour is not None:
                for data in run:
                    self._act(peer, peer.behaviour.on_data(self._context(peer), data))
        if self._sequence_runs:
            for peer, run in received:
                sequence = self._sequence_runs.get(peer.cid)
                if sequence is not None:
                    for data in run:
                        sequence.feed(data)

    def datagram_error(self, sock: DatagramSocket, peer: DatagramPeer | None, exc: OSError) -> None:
        source = peer.cid if peer is not None else (sock.lid or sock.client_cid or "")
        remote = peer.remote if peer else sock.local
        self._error(source, describe_datagram_error(exc, remote, sock.transport_name))

    def peer_closed(self, peer: DatagramPeer, reason: str, error: bool, cause: CloseCause) -> None:
        self.connection_closed(peer, reason, error, cause)

    def datagrams_dropped(self, sock: DatagramSocket, total: int) -> None:
        listener = self.listeners.get(sock.lid or "")
        if listener is not None and total > listener.dropped:
            listener.dropped = total
            self._schedule_counts()

    def connection_closed(
        self, conn: Connection, reason: str, error: bool, cause: CloseCause
    ) -> None:
        self.connections.pop(conn.cid, None)
        self._read_paused.pop(conn.cid, None)
        self._queue_watch.pop(conn.cid, None)
        listener = self.listeners.get(conn.listener) if conn.listener else None
        if listener is not None:
            listener.peers.discard(conn.cid)
            listener.free_slot(conn.cid)
        closed = ev.ConnectionClosed(
            time.time(), conn.cid, reason, error, cause, conn.bytes_in, conn.bytes_out
        )
        self._emit(closed)
        self.sequences.connection_closed(conn.cid, reason)
        self.repeats.connection_closed(conn.cid)
        if conn.behaviour is not None:
            self._act(conn, conn.behaviour.on_close(self._context(conn)) or ())
        self.programs.connection_closed(conn.cid)
        release(self._own_behaviours.pop(conn.cid, None))


def read_whole(path: str) -> bytes:
    with open_to_send(path) as file:  # not through another user's link
        return file.read()
