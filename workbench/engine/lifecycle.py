"""Opening and closing listeners and connections; failures in plain words."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time

from workbench.engine.behaviour_polling import keep_polling
from workbench.engine.behaviours import behaviour_notes
from workbench.engine.behaviours.base import release
from workbench.engine.datagram import DatagramSocket
from workbench.engine.errors import describe, describe_failure
from workbench.engine.listener import Listener, Say
from workbench.engine.offloop import run_blocking
from workbench.engine.opening import (
    max_connections,
    open_connection,
    open_listener,
)
from workbench.engine.stream import StreamConnection
from workbench.engine.tls_setup import (
    check_tls_options,
    client_setup,
    describe_handshake_failure,
    handshake_broke,
    server_setup,
)
from workbench.engine.upgrading import Upgrading
from workbench.protocol import events as ev
from workbench.protocol.addresses import EndpointError
from workbench.protocol.endpoints import Endpoint
from workbench.protocol.enums import CloseCause
from workbench.protocol.options import BEHAVIOUR_FIELDS
from workbench.protocol.peer_filter import peer_notes
from workbench.tls import TlsSetupError


class Lifecycle(Upgrading):
    """Opening and closing: listeners, outgoing connections, datagram peers added by
    address ("Send to..."). It hands the engine itself to the sockets it opens: every
    layer below makes up what they report to."""

    def _stream_connection_for(
        self, cid: str, lid: str | None, endpoint: Endpoint
    ) -> StreamConnection:
        options = endpoint.options
        conn = StreamConnection(
            self, cid, lid, options.idle, half_open=options.half_open, eof_grace=endpoint.eof_grace
        )
        conn.behaviour = self._behaviour_of(lid, cid)
        conn.endpoint = endpoint
        conn.framed = options.framing is not None
        if options.starttls:
            conn.negotiation = self._negotiation_for(
                conn, options.starttls, endpoint.host or "localhost"
            )
        return conn

    async def _listen(self, listener: Listener) -> None:
        lid, endpoint = listener.lid, listener.endpoint
        assert self._spare is not None
        try:
            check_tls_options(endpoint)
        except EndpointError as exc:
            self._listen_failed(listener, str(exc))
            return
        # TLS is set up (files read, the local CA's certificate made) while the sockets are
        # bound: the port is taken at once, and clients that come meanwhile wait for it.
        setup = None
        if endpoint.is_tls or endpoint.options.starttls:
            setup = asyncio.ensure_future(run_blocking(server_setup, endpoint))
        handshake: asyncio.Future[ssl.SSLContext | None] | None = None
        if endpoint.is_tls:
            handshake = asyncio.get_running_loop().create_future()
        try:
            listener.opened = await open_listener(
                endpoint,
                lid,
                lambda: self._stream_connection_for(self.new_id("C"), lid, endpoint),
                self,
                self._spare,
                handshake,
            )
            if setup is not None:
                listener.tls = await setup
                if handshake is not None:
                    handshake.set_result(listener.tls.context)
        except OSError as exc:
            self._listen_failed(listener, describe_failure(exc, endpoint, listening=True))
            return
        except (TlsSetupError, EndpointError) as exc:
            self._listen_failed(listener, str(exc))
            return
        finally:
            if handshake is not None and not handshake.done():
                handshake.set_result(None)  # no TLS: the clients waiting are dropped
        tls = listener.tls
        if self.listeners.get(lid) is not listener:  # closed while it was opening
            listener.close("closed while opening", CloseCause.YOU)
            return
        opened = listener.opened
        maximum = 0 if endpoint.is_datagram else max_connections(endpoint)
        warnings = tuple(opened.warnings)
        notes = (
            *opened.notes,
            *((tls.note,) if tls else ()),
            *behaviour_notes(endpoint.options),
            *peer_notes(endpoint.options.allow, endpoint.options.deny, endpoint.is_unix),
            *(f"warning: {warning}" for warning in warnings),
        )
        self._emit(
            ev.ListenerOpened(
                time.time(),
                lid,
                endpoint.url,
                opened.local,
                notes,
                maximum,
                endpoint.transport,
                warnings,
                endpoint.options.query(BEHAVIOUR_FIELDS),
            )
        )
        keep_polling(asyncio.get_running_loop(), lid, lambda: listener.behaviour, self._report)

    def _listen_failed(self, listener: Listener, reason: str) -> None:
        if self.listeners.get(listener.lid) is listener:
            del self.listeners[listener.lid]
        if listener.opened is not None:  # bound, but its TLS could not be set up
            listener.close("could not listen", CloseCause.ERROR)
        self._error(listener.lid, f"cannot listen: {reason}")

    def _close_listener(
        self, lid: str, close_peers: bool, reason: str, cause: CloseCause = CloseCause.YOU
    ) -> None:
        listener = self.listeners.pop(lid, None)
        if listener is None:
            self._error(lid, f"cannot close listener {lid}: it is not open")
            return
        listener.close(f"closed with listener {lid}", CloseCause.LISTENER)
        if close_peers:
            for cid in list(listener.peers):
                conn = self.connections.get(cid)
                if conn is not None and conn.has_stream:  # datagram peers go with the socket
                    conn.close(f"closed with listener {lid}", CloseCause.LISTENER)
        self._emit(ev.ListenerClosed(time.time(), lid, reason, cause))

    def datagram_socket_closed(self, sock: DatagramSocket, exc: Exception | None) -> None:
        listener = self.listeners.get(sock.lid or "")
        if listener is not None and listener.opened and listener.opened.datagram is sock:
            # Closed by an error rather than by the user: the listener is gone too.
            reason = f"socket error: {exc}" if exc else "closed"
            cause = CloseCause.ERROR if exc else CloseCause.UNKNOWN
            self._close_listener(listener.lid, True, reason, cause)

    async def _connect(self, cid: str, endpoint: Endpoint, timeout: float) -> None:
        try:
            async with asyncio.timeout(timeout):
                check_tls_options(endpoint)
                tls = await run_blocking(client_setup, endpoint) if endpoint.is_tls else None
                notes = await open_connection(
                    endpoint,
                    cid,
                    lambda: self._stream_connection_for(cid, None, endpoint),
                    self,
                    tls,
                )
        except asyncio.CancelledError:
            pass  # reported by _cancel_connect, or the connection reports its own close
        except TimeoutError:
            self._connect_failed(cid, f"{endpoint.address} did not answer within {timeout:g} s")
        except (TlsSetupError, EndpointError) as exc:
            self._connect_failed(cid, f"cannot connect: {exc}")
        except ssl.SSLError as exc:
            self._connect_failed(cid, describe_handshake_failure(exc))
        except OSError as exc:
            if endpoint.is_tls and handshake_broke(exc):
                self._connect_failed(cid, describe_handshake_failure(exc))
            else:
                self._connect_failed(cid, describe_failure(exc, endpoint))
        else:
            for note in (*notes, *behaviour_notes(endpoint.options)):
                self._info(cid, note)
            own = self._own_behaviours
            keep_polling(asyncio.get_running_loop(), cid, lambda: own.get(cid), self._report)
        finally:
            self._pending.pop(cid, None)

    async def _add_peer(self, lid: str, endpoint: Endpoint) -> None:
        """ "Send to...": make `endpoint` a peer of datagram listener `lid` and report it."""
        listener = self.listeners.get(lid)
        sock = listener.opened.datagram if listener and listener.opened else None
        if sock is None or sock.closed:
            self._error(
                lid, f"cannot send to {endpoint.address}: {lid} is not an open datagram listener"
            )
            return
        try:
            if endpoint.is_unix:
                address: object = endpoint.path
            else:
                address = await resolve_for(sock.family, endpoint)
        except OSError as exc:
            self._error(
                lid, f"cannot send to {endpoint.address}: {describe(exc, endpoint.address)}"
            )
            return
        peer = sock.add_peer(address)
        self._emit(ev.PeerResolved(time.time(), lid, peer.cid))

    def handshake_failed(self, lid: str, remote: str, exc: BaseException) -> None:
        """A client of TLS listener `lid` did not complete its handshake: it was never a
        connection of the listener's, and is said in the listener's name (the first few in
        a while: a scan would fill the Log)."""
        listener = self.listeners.get(lid)
        if listener is None:
            return
        say, unsaid = listener.handshake_failures.say(time.monotonic())
        text = f"{remote}: {describe_handshake_failure(exc)}"
        if unsaid:
            text += f" ({unsaid:,} more failed before it, not shown)"
        if say is Say.HUSH:
            text += "; more failures are not shown for a few seconds"
        if say is not Say.NOTHING:
            self._error(lid, text)

    def _cancel_connect(self, cid: str, reason: str, cause: CloseCause = CloseCause.YOU) -> None:
        """Cancel a pending connect and report it now: a task cancelled before its first step
        never runs its own handlers."""
        self._pending.pop(cid).cancel()
        self._connect_failed(cid, reason, False, cause)

    def _connect_failed(
        self, cid: str, reason: str, error: bool = True, cause: CloseCause = CloseCause.ERROR
    ) -> None:
        self._emit(ev.ConnectionClosed(time.time(), cid, reason, error, cause))
        self.sequences.connect_failed(cid, reason)
        release(self._own_behaviours.pop(cid, None))


async def resolve_for(family: int, endpoint: Endpoint) -> object:
    """An address a socket of `family` can send to; IPv4 becomes IPv4-mapped IPv6 for a
    dual-stack [::] socket."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(endpoint.host, endpoint.port, type=socket.SOCK_DGRAM)
    for info in infos:
        if info[0] == family:
            return info[4]
    first = infos[0]
    if family == socket.AF_INET6 and first[0] == socket.AF_INET:
        return (f"::ffff:{first[4][0]}", first[4][1], 0, 0)
    raise OSError(f"{endpoint.address} has no address this socket's IP version can reach")
