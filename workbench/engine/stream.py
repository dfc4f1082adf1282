"""A stream connection (TCP or Unix): a thin asyncio protocol reporting to its owner.

Reads come one of two ways, by their size. Bulk reads land in one buffer shared by every
connection of the engine (as a BufferedProtocol: no copy per read); reads happen one at a
time on the engine's loop, and each read is handed on before the next one starts. Small reads
(a typed line, a request) come as the loop's own bytes (through `SmallReads`, a plain
Protocol): one call per read instead of two, and an echo answers from the read itself. The
two save about a microsecond of an echo's 15 µs round trip here. A plain connection switches
to small reads at its first small one, and back and forth as the size of its reads changes.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, cast

from workbench.engine.behaviours.echo import Echo
from workbench.engine.connection import NotSent, QueueFull
from workbench.engine.flow import Pause, ReadFlow
from workbench.engine.proxy_accept import proxied_remote
from workbench.engine.sockets import stream_rcvbuf
from workbench.protocol.endpoints import format_sockname
from workbench.protocol.enums import CloseCause, Transport

if TYPE_CHECKING:
    from workbench.engine.behaviours import Behaviour, Context
    from workbench.engine.negotiation import Negotiation
    from workbench.framing.proxy_header import ProxyHeader
    from workbench.protocol.endpoints import Endpoint
    from workbench.protocol.tls_info import Certificate
    from workbench.tls.contexts import ClientTls

# How often a connection in its EOF grace looks again whether what it sends has left.
GRACE_RECHECK_SECONDS = 0.05
# After a behaviour hangs up (see `hang_up`), how long sockbench reads on, waiting for the
# peer's EOF, before it closes anyway (what it sent has left by then).
LINGER_SECONDS = 2.0
# What sockbench holds for one stream connection whose peer does not read (asyncio's buffer
# grows without bound otherwise); sends beyond it are refused and reported as not sent.
MAX_SEND_QUEUE_BYTES = 16 * 1024 * 1024

try:  # the bytes in a socket's send queue that the peer has not acknowledged (Linux)
    import fcntl
    import termios

    SIOCOUTQ: int | None = termios.TIOCOUTQ
except (ImportError, AttributeError):
    SIOCOUTQ = None


# A read this large switches a connection to reading into the shared buffer...
BULK_READ_BYTES = 16 * 1024
# ...and this many reads in a row under SMALL_READ_BYTES switch it back.
SMALL_READ_BYTES = 4 * 1024
SMALL_READS_TO_SWITCH = 8


class ConnectionOwner(Protocol):
    """What a connection reports to (the engine)."""

    read_buffer: memoryview

    def connection_opened(self, conn: StreamConnection) -> None: ...
    def data_received(self, conn: StreamConnection, chunk: bytes | memoryview) -> None: ...
    def echoed(self, conn: StreamConnection, data: bytes) -> None: ...
    def eof_received(self, conn: StreamConnection) -> None: ...
    def connection_closed(
        self, conn: StreamConnection, reason: str, error: bool, cause: CloseCause
    ) -> None: ...
    def connection_closing(self, conn: StreamConnection) -> None: ...
    def write_paused(self, conn: StreamConnection) -> None: ...


class StreamConnection(asyncio.BufferedProtocol):
    has_stream = True

    def __init__(
        self,
        owner: ConnectionOwner,
        cid: str,
        listener: str | None,
        idle: float | None = None,
        half_open: bool = False,
        eof_grace: float = 0.5,
    ) -> None:
        self.owner = owner
        self.cid = cid
        self.listener = listener
        # Close after this many seconds without traffic either way (None: never).
        self.idle = idle
        # After the peer's EOF: stay open for sending (half-open) or close after the grace.
        self.half_open = half_open
        self.eof_grace = eof_grace
        self._grace_timer: asyncio.TimerHandle | None = None
        # Sends in progress that the grace must wait for (a file being sent).
        self.busy = 0
        self.last_activity = 0.0
        self._idle_timer: asyncio.TimerHandle | None = None
        self.flow = ReadFlow(self._pause_transport, self._resume_transport)
        self.behaviour: Behaviour | None = None
        self.context: Context | None = None  # what its behaviour is told of it, made once
        self.reported_queue = 0  # the last SendQueue value the engine reported
        self.transport: asyncio.Transport | None = None
        self.family: int | None = None
        self.local = ""
        self.remote = ""
        self.bytes_in = 0
        self.bytes_out = 0
        self.peer_eof = False
        self.local_eof = False
        self.closed = False
        # Close or reset asked for: nothing more may be sent, even before connection_lost.
        self.closing = False
        # Set when we close on purpose, so connection_lost can say who ended it.
        self.close_reason: str | None = None
        self.close_cause = CloseCause.YOU
        # Cleared while the kernel's send buffer and asyncio's are full (flow control).
        self.writable = asyncio.Event()
        self.writable.set()
        # Told first when the transport is made (the acceptor counts connections with it).
        self.on_made: Callable[[], None] | None = None
        # TLS: the handshake's object once it completed, how a client judges the server,
        # and the certificate sockbench presented.
        self.ssl_object: object | None = None
        self.tls_client: ClientTls | None = None
        self.tls_local: Certificate | None = None
        self.close_error = False  # closed on purpose, for an error (a certificate refused)
        # Its endpoint (a listener's peer: the listener's), for TLS options when upgraded.
        self.endpoint: Endpoint | None = None
        # Its endpoint has a framing=: the Log frames what it reads, so every byte reaches
        # the Log (a gap would lose the framing's place) and reading waits for the Log.
        self.framed = False
        # STARTTLS: the plain-text exchange in progress, and the handshake after it.
        self.negotiation: Negotiation | None = None
        self.upgrading = False
        # proxy=1: the PROXY header its client sent first (read before it was made); its
        # remote is the client the header names, via the real peer.
        self.proxy_header: ProxyHeader | None = None
        # send-proxy=: the header sent first (before TLS), recorded once it is announced.
        self.proxy_sent = b""
        # The plain protocol its small reads come through, made at its first small read (a
        # connection that never sends, one of a storm of thousands, does not pay for it), and
        # how many small reads in a row came into the shared buffer (at first one short of
        # the switch: the first small read switches).
        self._small_reads: SmallReads | None = None
        self._small_in_a_row = SMALL_READS_TO_SWITCH - 1

    # asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its API.
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        self.family = sock.family if sock is not None else None
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # Typed lines must leave at once, not wait for Nagle.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if (rcvbuf := stream_rcvbuf()) is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.ssl_object = transport.get_extra_info("ssl_object")
        self.local = format_sockname(transport.get_extra_info("sockname"))
        self.remote = format_sockname(transport.get_extra_info("peername"))
        if self.proxy_header is not None:
            self.remote = proxied_remote(self.proxy_header, self.remote)
        if self.on_made is not None:
            self.on_made()
        self.owner.connection_opened(self)
        if self.idle is not None:
            self.last_activity = time.monotonic()
            self._idle_timer = asyncio.get_running_loop().call_later(self.idle, self._idle_check)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.owner.read_buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.bytes_in += nbytes
        if self.idle is not None:
            self.last_activity = time.monotonic()
        self.owner.data_received(self, self.owner.read_buffer[:nbytes])
        if nbytes >= SMALL_READ_BYTES:
            self._small_in_a_row = 0
        else:
            self._small_in_a_row += 1
            if self._small_in_a_row >= SMALL_READS_TO_SWITCH:
                self._switch_reads(small=True)

    def small_read(self, data: bytes, echoed: bool = False) -> None:
        """A read that came as bytes (see SmallReads); `echoed`: sent back already."""
        nbytes = len(data)
        self.bytes_in += nbytes
        if self.idle is not None:
            self.last_activity = time.monotonic()
        if echoed:
            self.owner.echoed(self, data)
        else:
            self.owner.data_received(self, data)
        if nbytes >= BULK_READ_BYTES:
            self._switch_reads(small=False)

    def _switch_reads(self, small: bool) -> None:
        """Switch to small reads (as bytes) or to bulk ones (into the shared buffer); the
        transport restarts reading if it was reading. Not over TLS: it reads whole records
        into a buffer of its own."""
        self._small_in_a_row = 0
        transport = self.transport
        if transport is None or self.ssl_object is not None:
            return
        if self.closed or self.closing or self.upgrading:
            return
        protocol: StreamConnection | SmallReads = self
        if small:
            if self._small_reads is None:
                self._small_reads = SmallReads(self)
            protocol = self._small_reads
        if transport.get_protocol() is not protocol:
            transport.set_protocol(protocol)

    def eof_received(self) -> bool:
        self.peer_eof = True
        if self.ssl_object is not None:
            # TLS: the peer's close_notify ends the connection (asyncio's TLS closes it
            # and has no half-open state), so there is no grace to wait.
            self.half_open, self.eof_grace = False, 0.0
            self.owner.eof_received(self)
            return False
        self.owner.eof_received(self)
        if self.local_eof:
            return False  # both directions ended: asyncio closes the transport
        if not self.half_open:
            loop = asyncio.get_running_loop()
            self._grace_timer = loop.call_later(self.eof_grace, self._end_after_eof)
        # Open for sending until then: a reply in the grace still reaches a peer that only
        # shut down its sending side (nc -N, socat -t).
        return True

    @property
    def ending(self) -> bool:
        """The peer sent EOF and the connection closes after the grace: it is going away."""
        return self.peer_eof and not self.half_open and not self.local_eof

    def _end_after_eof(self) -> None:
        """The grace is over: close once nothing we sent is still on its way."""
        self._grace_timer = None
        if self.closed or self.closing:
            return
        if self.busy or self.buffered():
            # Still sending (a file, or bytes asyncio holds): look again shortly. A peer
            # that stopped reading is the user's to reset; the queue is shown meanwhile.
            loop = asyncio.get_running_loop()
            self._grace_timer = loop.call_later(GRACE_RECHECK_SECONDS, self._end_after_eof)
            return
        self.close("closed after the peer's EOF", CloseCause.PEER)

    def pause_writing(self) -> None:
        self.writable.clear()
        if self.behaviour is not None:
            # Its replies wait for a peer that does not read: so does reading from it, so
            # that what sockbench holds stays bounded (the user's own sends are not paced).
            self.flow.pause(Pause.SEND_QUEUE)
        self.owner.write_paused(self)

    def resume_writing(self) -> None:
        self.writable.set()
        self.flow.resume(Pause.SEND_QUEUE)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed:  # a failed STARTTLS handshake: reported once, by whoever is first
            return
        self.closed = True
        if self._idle_timer is not None:
            self._idle_timer.cancel()
        if self._grace_timer is not None:
            self._grace_timer.cancel()
        self.writable.set()  # wake a file sender waiting for room
        peer = CloseCause.PEER
        if self.close_reason is not None:
            reason, error, cause = self.close_reason, self.close_error, self.close_cause
        elif isinstance(exc, ConnectionResetError):
            reason, error, cause = "reset by peer", True, peer
        elif isinstance(exc, BrokenPipeError):
            reason, error, cause = "closed by peer while sending (broken pipe)", True, peer
        elif isinstance(exc, ssl.SSLError):  # an alert from the peer, say
            reason, error, cause = tls_ended(exc), True, CloseCause.ERROR
        elif exc is not None:
            reason, error, cause = f"connection lost: {exc}", True, CloseCause.ERROR
        elif self.peer_eof and self.local_eof:
            reason, error, cause = "closed by both sides", False, peer
        elif self.peer_eof:
            reason, error, cause = "closed by peer", False, peer
        elif self.ssl_object is not None:
            # TLS ends with the peer's close_notify (an EOF here): this one just went.
            reason = "closed by peer without ending TLS (no close_notify): it may have refused us"
            error, cause = True, peer
        else:
            reason, error, cause = "closed", False, CloseCause.UNKNOWN
        self.owner.connection_closed(self, reason, error, cause)

    # actions

    def send(self, data: bytes) -> None:
        """Send within the bound on what a peer that does not read makes sockbench hold;
        NotSent (QueueFull for the bound) when it cannot go."""
        refusal = self.refusal(len(data))
        if refusal is not None:
            raise refusal
        self.write(data)

    def try_send(self, data: bytes) -> bool:
        """`send` if it can go now (False: `send` would refuse it, in words)."""
        if self.refusal(len(data)) is not None:
            return False
        self.write(data)
        return True

    def refusal(self, size: int) -> NotSent | None:
        """Why `size` more bytes cannot be sent now, or None."""
        if self.local_eof:
            return NotSent(f"you already sent EOF on {self.cid}")
        if self.upgrading:
            return NotSent(f"{self.cid} is in its TLS handshake (STARTTLS): send once it is done")
        buffered = self.buffered()
        if buffered and buffered + size > MAX_SEND_QUEUE_BYTES:
            return QueueFull(
                f"{self.cid} already has {self.queued() // 1024:,} KiB queued that the peer "
                f"has not taken (is it reading?); wait, or reset {self.cid} to drop them"
            )
        return None

    def write(self, data: bytes) -> None:
        """Send without the bound: for a sender that waits for room itself (a file)."""
        assert self.transport is not None
        self.transport.write(data)
        self.bytes_out += len(data)
        if self.idle is not None:
            self.last_activity = time.monotonic()

    def buffered(self) -> int:
        """Bytes waiting in asyncio's buffer: sockbench's memory, which the engine bounds."""
        if self.transport is None or self.closed:
            return 0
        return self.transport.get_write_buffer_size()

    def queued(self) -> int:
        """Bytes sent that the peer has not taken yet: asyncio's buffer, and for TCP the
        kernel's send queue (data not yet acknowledged by the peer)."""
        total = self.buffered()
        # On a Unix socket SIOCOUTQ counts kernel memory (with overhead), not bytes: only
        # sockbench's own buffer is known there.
        if SIOCOUTQ is None or self.is_unix or self.transport is None or self.closed:
            return total
        sock = self.transport.get_extra_info("socket")
        if sock is None:
            return total
        try:
            answer = fcntl.ioctl(sock.fileno(), SIOCOUTQ, b"\0\0\0\0")
        except OSError:
            return total
        queued: int = struct.unpack("i", answer)[0]
        return total + queued

    @property
    def reading_paused(self) -> bool:
        return self.flow.paused

    def _pause_transport(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.pause_reading()

    def _resume_transport(self) -> None:
        # In a STARTTLS upgrade the plain transport stays paused: the handshake reads.
        if self.transport is not None and not self.closed and not self.upgrading:
            self.transport.resume_reading()

    def _idle_check(self) -> None:
        if self.closed or self.closing or self.idle is None:
            return
        quiet = time.monotonic() - self.last_activity
        if quiet < self.idle:
            loop = asyncio.get_running_loop()
            self._idle_timer = loop.call_later(self.idle - quiet, self._idle_check)
            return
        reason = f"idle for {self.idle:g} s"
        if self.buffered():
            # A graceful close would wait for the peer to take what is queued: it never will.
            self.reset(reason, CloseCause.IDLE)
        else:
            self.close(reason, CloseCause.IDLE)

    def half_close(self) -> bool:
        """Send EOF; False if it was sent already, NotSent (in words) over TLS."""
        assert self.transport is not None
        if self.local_eof:
            return False
        if not self.transport.can_write_eof():
            raise NotSent(
                f"cannot send EOF alone on {self.cid}: TLS here has no half-close (its "
                "close_notify ends the connection); close it instead"
            )
        self.local_eof = True
        self.transport.write_eof()
        if self.peer_eof:
            self.close("closed by both sides", CloseCause.PEER)
        return True

    def hang_up(self, reason: str, cause: CloseCause = CloseCause.BEHAVIOUR) -> bool:
        """End the connection for a behaviour (a greeting's hangup, a rule's close, a
        program's exit) without throwing away what it sent: EOF after what is queued, then
        read on (recording what comes, answering nothing) until the peer's EOF, or for
        LINGER_SECONDS. A close with unread bytes, or that gets some after it, is answered
        with a reset, which drops at the peer what it had not read yet: `echo hi | nc` lost
        the greeting of a greet-then-hang-up listener in 2 of 3 tries.

        Returns True if it sent EOF (the caller reports it). Closes at once when the peer
        already sent EOF, and over TLS (its close_notify ends the connection)."""
        transport = self.transport
        if transport is None or self.closed or self.closing:
            return False
        if self.peer_eof or not transport.can_write_eof():
            self.close(reason, cause)
            return False
        self._mark_closing()
        self.close_reason, self.close_cause = reason, cause
        sent_eof = not self.local_eof
        if sent_eof:
            self.local_eof = True
            transport.write_eof()  # after what asyncio still holds
        self._grace_timer = asyncio.get_running_loop().call_later(LINGER_SECONDS, self._end_linger)
        return sent_eof

    def _end_linger(self) -> None:
        """The peer did not end its side: close once what we sent has left."""
        self._grace_timer = None
        if self.closed or self.transport is None:
            return
        if self.buffered():  # a peer that stopped reading is the user's to reset
            loop = asyncio.get_running_loop()
            self._grace_timer = loop.call_later(GRACE_RECHECK_SECONDS, self._end_linger)
            return
        self.transport.close()

    @property
    def transport_kind(self) -> Transport:
        return Transport.UNIX if self.is_unix else Transport.TCP

    @property
    def is_unix(self) -> bool:
        return self.family == socket.AF_UNIX

    @property
    def is_open(self) -> bool:
        return not (self.closed or self.closing)

    def close(self, reason: str | None = None, cause: CloseCause = CloseCause.YOU) -> None:
        if self.transport is not None and not self.closed:
            self._mark_closing()
            if self.close_reason is None:
                self.close_reason, self.close_cause = reason or "closed by you", cause
            self.transport.close()

    def shut(self, reason: str, cause: CloseCause) -> None:
        self.close(reason, cause)

    def abort(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.abort()

    def refuse(self, reason: str) -> None:
        """Drop the connection at once for an error (a TLS peer refused): nothing more is
        read from it or sent to it."""
        if self.transport is None or self.closed:
            return
        self._mark_closing()
        self.close_reason, self.close_cause, self.close_error = reason, CloseCause.ERROR, True
        self.transport.abort()

    def _mark_closing(self) -> None:
        if not self.closing:
            self.closing = True
            self.owner.connection_closing(self)

    def reset(self, reason: str = "reset by you", cause: CloseCause = CloseCause.YOU) -> None:
        """Close with RST: SO_LINGER 0 makes the kernel drop pending data and send a reset.

        This is also how queued data is aborted: asyncio cannot drop part of its buffer. The
        transcript recorded those bytes as sent when they were handed to the socket; the
        reason (in the Log and the transcript's close record) says how many of them the peer
        never took."""
        if self.transport is None or self.closed:
            return
        unsent = self.queued()
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._mark_closing()
        if unsent:
            reason += f": {unsent:,} bytes queued were not sent"
        self.close_reason, self.close_cause = reason, cause
        self.transport.abort()


class SmallReads(asyncio.Protocol):
    """A StreamConnection's small reads: the loop hands them over as bytes. Everything else
    the transport says goes to the connection as it is."""

    __slots__ = ("conn",)

    def __init__(self, conn: StreamConnection) -> None:
        self.conn = conn

    def data_received(self, data: bytes) -> None:
        conn = self.conn
        transport = conn.transport
        # An echo answers here, before anything else is called: on a round trip of 15 µs
        # each call on the way is measurable. With nothing queued, the send's bound cannot
        # refuse it; otherwise it goes the way of any reply.
        if (
            type(conn.behaviour) is Echo
            and transport is not None
            and not transport.get_write_buffer_size()
            and conn.negotiation is None
            and not (conn.local_eof or conn.closing or conn.closed or conn.upgrading)
        ):
            transport.write(data)
            conn.bytes_out += len(data)
            conn.small_read(data, echoed=True)
            return
        conn.small_read(data)

    def eof_received(self) -> bool:
        return self.conn.eof_received()

    def pause_writing(self) -> None:
        self.conn.pause_writing()

    def resume_writing(self) -> None:
        self.conn.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.conn.connection_lost(exc)


def tls_ended(exc: ssl.SSLError) -> str:
    # Here, not at the top: `cryptography` loads only once TLS is used.
    from workbench.tls.outcome import tls_error_words

    return f"TLS error: {tls_error_words(exc)}"
