"""Accepting stream connections with our own accept loop, instead of `loop.create_server`.

Why: uvloop 0.23 (libuv) treats running out of file descriptors badly for a workbench. libuv
first tries its "EMFILE trick" (it frees a spare descriptor, accepts and closes the waiting
connections) and says nothing; when that fails, uvloop's listen callback calls `_fatal_error`,
which closes the listening socket for good, also without a word (an OSError is not even
logged). asyncio's own loop logs every failure and retries every second. Here every accept is
ours: extra connections beyond the listener's maximum are closed at once and counted, and
when descriptors run out the waiting connections are shed the same way (with a spare
descriptor, like libuv) and counted, so the engine can report the condition once, in words.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import ssl
import struct
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol

from workbench.engine.proxy_accept import NoProxyHeader, read_proxy_header
from workbench.engine.stream import StreamConnection
from workbench.protocol.endpoints import format_sockname
from workbench.protocol.peer_filter import PeerFilter, Refusal
from workbench.tls import HANDSHAKE_SECONDS

# Accepts per readiness callback. Many, so a storm empties the kernel's queue quickly (past
# its backlog a client's connect is dropped and retried a second later: 128 at a time made
# 5,000 connects take 1.2 s), and still few enough (~5 ms) that other sockets get a turn.
ACCEPT_BATCH = 1024
# Out of descriptors and no spare to shed with: look again after this long.
RETRY_SECONDS = 0.25
# At its maximum, new connections wait (in the kernel's backlog) this long for a slot before
# they are refused, and longer while connections are still being attached or slots are being
# freed: clients that send a line and close come faster than their EOFs are read, and each
# EOF frees a slot.
WAIT_FOR_SLOT_SECONDS = 0.1
MAX_WAIT_FOR_SLOT_SECONDS = 2.0

OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
# struct ucred (pid, uid, gid), as SO_PEERCRED gives it on Linux.
UCRED = struct.Struct("3i")
# SO_LINGER on, 0 s: close() resets the connection.
RESET_ON_CLOSE = struct.pack("ii", 1, 0)


class AcceptOwner(Protocol):
    """What an acceptor reports to (the engine)."""

    def live_peers(self, lid: str) -> int: ...
    def can_make_room(self, lid: str) -> bool: ...
    def make_room(self, lid: str) -> bool: ...
    def refused_at_maximum(self, lid: str, remote: str) -> None: ...
    def peer_denied(self, lid: str, remote: str, host: str, refusal: Refusal) -> None: ...
    def shed_for_descriptors(self, lid: str, count: int, exc: OSError) -> None: ...
    def accepted_again(self, lid: str) -> None: ...
    def accept_failed(self, lid: str, exc: OSError) -> None: ...
    def handshake_failed(self, lid: str, remote: str, exc: BaseException) -> None: ...
    def proxy_header_refused(self, lid: str, remote: str, reason: str) -> None: ...


class SpareDescriptor:
    """One descriptor held in reserve: freeing it lets us accept (and close) a connection
    when the process is out of descriptors, so waiting clients are not left hanging."""

    def __init__(self) -> None:
        self.fd: int | None = None
        self.take()

    def take(self) -> None:
        if self.fd is None:
            with contextlib.suppress(OSError):
                self.fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)

    def release(self) -> bool:
        if self.fd is None:
            return False
        os.close(self.fd)
        self.fd = None
        return True

    def close(self) -> None:
        self.release()


class Acceptor:
    def __init__(
        self,
        sockets: list[socket.socket],
        factory: Callable[[], StreamConnection],
        owner: AcceptOwner,
        lid: str,
        max_connections: int,
        spare: SpareDescriptor,
        peer_filter: PeerFilter | None = None,
        tls: asyncio.Future[ssl.SSLContext | None] | None = None,
        proxy_header: bool = False,
    ) -> None:
        self.sockets = sockets
        # proxy=1: each client sends a PROXY protocol header first (before TLS), read in a
        # task of its own before the connection is made (engine/proxy_accept.py).
        self.proxy_header = proxy_header
        # TLS (its context, once the listener has set it up): each connection is attached
        # once its handshake completes, in a task of its own (one slow or silent client must
        # not hold up the others).
        self.tls = tls
        self.peer_filter = peer_filter  # the listener's allow= and deny= lists
        self.factory = factory
        self.owner = owner
        self.lid = lid
        self.max_connections = max_connections
        self.spare = spare
        # Accepted, connection not made yet: they count against the maximum (made ones are
        # the engine's peers already). A count, not a set to scan: 5,000 at once in a storm.
        self.attaching = 0
        self.starved = False  # out of descriptors since the last successful accept
        self.closed = False
        self._loop = asyncio.get_running_loop()
        self._tasks: set[asyncio.Task[None]] = set()
        # At the maximum, new connections wait in the kernel's backlog (not accepted, so they
        # hold no descriptor) while we stop reading the listening sockets, for a slot; since
        # when, and whether a slot was freed since the last look.
        self.waiting = False
        self._waiting_since = 0.0
        self._wait_timer: asyncio.TimerHandle | None = None
        self._freed = False
        self._resume_scheduled = False
        # The wait is over and no slot came: the connections waiting now are refused.
        self._refusing = False

    def start(self) -> None:
        for sock in self.sockets:
            self._loop.add_reader(sock.fileno(), self._ready, sock)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._wait_timer is not None:
            self._wait_timer.cancel()
        for sock in self.sockets:
            with contextlib.suppress(ValueError, OSError):
                self._loop.remove_reader(sock.fileno())
            sock.close()

    def _ready(self, sock: socket.socket) -> None:
        batch: list[tuple[socket.socket, StreamConnection, Callable[[], None]]] = []
        try:
            self._accept_batch(sock, batch)
        finally:
            self._attach(batch)

    def _attach(
        self, batch: list[tuple[socket.socket, StreamConnection, Callable[[], None]]]
    ) -> None:
        if batch and self.proxy_header:
            for each in batch:
                self._spawn(self._after_proxy_header(*each))
        elif batch and self.tls is not None:
            for each in batch:
                self._spawn(self._handshake(*each))
        elif batch:
            # One task attaches the whole batch: a task per connection cost more than the
            # accept itself in a storm.
            self._spawn(self._connect_all(batch))

    def _spawn(self, work: Coroutine[object, object, None]) -> None:
        task = self._loop.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handshake(
        self, conn: socket.socket, protocol: StreamConnection, done: Callable[[], None]
    ) -> None:
        remote = remote_of(conn)
        assert self.tls is not None
        try:
            context = await self.tls  # the listener's TLS, once set up
            if context is None:  # it could not be: the listener is gone
                conn.close()
                return
            await self._loop.connect_accepted_socket(
                lambda: protocol, conn, ssl=context, ssl_handshake_timeout=HANDSHAKE_SECONDS
            )
        except (OSError, ssl.SSLError) as exc:
            conn.close()
            self.owner.handshake_failed(self.lid, remote, exc)
        except BaseException:
            conn.close()
            raise
        finally:
            done()

    async def _after_proxy_header(
        self, conn: socket.socket, protocol: StreamConnection, done: Callable[[], None]
    ) -> None:
        """Read the client's PROXY header, then make the connection (after its TLS
        handshake on a TLS listener); a client without a valid one is closed and said."""
        try:
            protocol.proxy_header = await read_proxy_header(conn)
        except NoProxyHeader as exc:
            remote = remote_of(conn)
            conn.close()
            done()
            self.owner.proxy_header_refused(self.lid, remote, str(exc))
            return
        except BaseException:
            conn.close()
            done()
            raise
        if self.tls is not None:
            await self._handshake(conn, protocol, done)
        else:
            await self._connect_all([(conn, protocol, done)])

    def _full(self) -> bool:
        return self.owner.live_peers(self.lid) + self.attaching >= self.max_connections

    def _accept_batch(
        self,
        sock: socket.socket,
        batch: list[tuple[socket.socket, StreamConnection, Callable[[], None]]],
    ) -> None:
        for _ in range(ACCEPT_BATCH):
            if self.closed:
                return
            full = self._full()
            if full and not self._refusing and not self.owner.can_make_room(self.lid):
                self._wait_for_room()
                return
            try:
                conn, address = sock.accept()
            except (BlockingIOError, InterruptedError):
                self._refusing = False  # those waiting are refused: the next ones wait again
                return
            except ConnectionAbortedError:
                continue  # the client gave up while waiting: nothing to do
            except OSError as exc:
                if exc.errno in OUT_OF_DESCRIPTORS:
                    self._shed(sock, exc)
                else:
                    self.owner.accept_failed(self.lid, exc)
                    self._pause(sock)
                return
            if self.starved:
                self.starved = False
                self.owner.accepted_again(self.lid)
            if self.peer_filter is not None and self._denied(conn, address):
                continue
            # At the maximum: a half-open connection whose peer sent EOF makes room, once a
            # new connection is really there.
            if full and not self.owner.make_room(self.lid):
                self._refuse(conn, format_sockname(address))
                continue
            self._refusing = False
            batch.append(self._attaching(conn))

    # at the maximum: new connections wait in the backlog for a slot, then are refused

    def _wait_for_room(self) -> None:
        self._watch_sockets(False)  # they stay readable: watched, they would spin the loop
        if self.waiting:
            return
        self.waiting = True
        self._waiting_since = time.monotonic()
        self._freed = False
        self._wait_timer = self._loop.call_later(WAIT_FOR_SLOT_SECONDS, self._settle_waiting)

    def slot_freed(self) -> None:
        """The engine freed a slot (a connection closing, or ending after its peer's EOF):
        the connections waiting in the backlog may take it."""
        if self.waiting:
            self._freed = True
            if not self._resume_scheduled:
                self._resume_scheduled = True
                self._loop.call_soon(self._stop_waiting)

    def _stop_waiting(self) -> None:
        self._resume_scheduled = False
        if not self.waiting or self.closed:
            return
        self.waiting = False
        if self._wait_timer is not None:
            self._wait_timer.cancel()
            self._wait_timer = None
        self._watch_sockets(True)  # readable again if connections wait there

    def _settle_waiting(self) -> None:
        """The wait is over: refuse the connections waiting, unless slots are still being
        freed or connections attached (their EOFs not read yet), up to a longer limit."""
        self._wait_timer = None
        if not self.waiting or self.closed:
            return
        waited = time.monotonic() - self._waiting_since
        if (self._freed or self.attaching) and waited < MAX_WAIT_FOR_SLOT_SECONDS:
            self._freed = False
            self._wait_timer = self._loop.call_later(WAIT_FOR_SLOT_SECONDS, self._settle_waiting)
            return
        self._refusing = True
        self._stop_waiting()

    def _watch_sockets(self, watch: bool) -> None:
        for sock in self.sockets:
            with contextlib.suppress(ValueError, OSError):
                if watch:
                    self._loop.add_reader(sock.fileno(), self._ready, sock)
                else:
                    self._loop.remove_reader(sock.fileno())

    def _denied(self, conn: socket.socket, address: Any) -> bool:
        """Whether the allow= and deny= lists refuse this peer; if so it is reset at once
        (not closed: a peer that sees a clean EOF cannot tell a refusal from a server that
        closed after serving it, and a reset leaves no TIME_WAIT behind in a flood)."""
        assert self.peer_filter is not None
        remote = format_sockname(address)
        if conn.family == socket.AF_UNIX:
            if not self.peer_filter.judges_uids():
                return False
            uid = peer_uid(conn)
            refusal = self.peer_filter.refuses_uid(uid)
            host = "uid unknown" if uid is None else f"uid {uid}"
            # Unix clients rarely bind a name: the uid is what tells them apart.
            remote = host if not address else f"{remote} ({host})"
        else:
            host = str(address[0])
            refusal = self.peer_filter.refuses_host(host)
        if refusal is None:
            return False
        with contextlib.suppress(OSError):
            if conn.family != socket.AF_UNIX:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RESET_ON_CLOSE)
        conn.close()
        self.owner.peer_denied(self.lid, remote, host, refusal)
        return True

    def _refuse(self, conn: socket.socket, remote: str) -> None:
        conn.close()
        self.owner.refused_at_maximum(self.lid, remote)

    def _attaching(
        self, conn: socket.socket
    ) -> tuple[socket.socket, StreamConnection, Callable[[], None]]:
        conn.setblocking(False)
        protocol = self.factory()
        self.attaching += 1
        counted = True

        def made() -> None:
            # From here the engine counts it among the live peers: counting it here too
            # until the accept task resumes refused connections short of the maximum.
            nonlocal counted
            if counted:
                counted = False
                self.attaching -= 1

        protocol.on_made = made
        return conn, protocol, made

    async def _connect_all(
        self, batch: list[tuple[socket.socket, StreamConnection, Callable[[], None]]]
    ) -> None:
        for index, (conn, protocol, done) in enumerate(batch):
            try:
                await self._loop.connect_accepted_socket(lambda p=protocol: p, conn)  # type: ignore[misc]
            except OSError as exc:  # the client reset before we got to it, say
                conn.close()
                self.owner.accept_failed(self.lid, exc)
            except BaseException:  # cancelled (the engine stops): close the ones not begun
                for left, _, left_done in batch[index + 1 :]:
                    left.close()
                    left_done()
                raise
            finally:
                done()

    def _shed(self, sock: socket.socket, exc: OSError) -> None:
        """Out of descriptors: accept the waiting connections with the spare descriptor and
        close them at once, counting them; without a spare, wait and look again."""
        self.starved = True
        shed = 0
        if self.spare.release():
            try:
                for _ in range(ACCEPT_BATCH):
                    try:
                        conn, _ = sock.accept()
                    except OSError:
                        break
                    conn.close()
                    shed += 1
            finally:
                self.spare.take()
        self.owner.shed_for_descriptors(self.lid, max(shed, 1), exc)
        if shed == 0:
            self._pause(sock)

    def _pause(self, sock: socket.socket) -> None:
        """Stop watching `sock` for a moment: it stays readable, and would spin the loop."""
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_reader(sock.fileno())

        def resume() -> None:
            if not self.closed:
                self._loop.add_reader(sock.fileno(), self._ready, sock)

        self._loop.call_later(RETRY_SECONDS, resume)


def peer_uid(conn: socket.socket) -> int | None:
    """The user id of a Unix stream peer, where the kernel tells it (SO_PEERCRED)."""
    try:
        ucred = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, UCRED.size)
        return int(UCRED.unpack(ucred)[1])
    except (AttributeError, OSError, struct.error):  # not Linux, or not told
        return None


def bind_stream_sockets(
    infos: Sequence[tuple[int, int, int, str, tuple[Any, ...]]], backlog: int
) -> list[socket.socket]:
    """Listening sockets for each distinct address in `infos` (from getaddrinfo), as asyncio's
    create_server binds them: SO_REUSEADDR, IPv6 sockets IPv6-only."""
    sockets: list[socket.socket] = []
    seen: set[tuple[int, object]] = set()
    try:
        for family, kind, proto, _, address in infos:
            if (family, address) in seen:
                continue
            seen.add((family, address))
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def remote_of(conn: socket.socket) -> str:
    """An accepted socket's peer, for a line about it (it may be gone already)."""
    try:
        return format_sockname(conn.getpeername())
    except OSError:
        return "a client"
