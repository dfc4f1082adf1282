"""A datagram transport over a socket the engine reads itself.

uvloop's datagram transport cannot pause reading: under a flood it handed every datagram to
Python as fast as they came, and the engine thread kept the GIL from the UI (7 frames a
second). This one reads up to READ_BATCH datagrams each time the socket is readable and
stops while paused; the kernel's receive buffer holds (or drops, and counts) the rest.

It sends at once when it can (so a refusal is known before the datagram is recorded as sent)
and queues what the kernel cannot take yet. It also avoids uvloop's sendto bugs: abstract
Unix addresses padded to the whole sun_path, and empty datagrams dropped silently.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from typing import Any, Protocol

from workbench.engine import many_datagrams

# Per readiness: enough to make the loop's overhead small, few enough that other sockets
# and commands get their turn.
READ_BATCH = 256
UDP_RECEIVE_BYTES = 65_536
# A Unix datagram may be larger than a UDP one; one byte more than this shows truncation.
UNIX_RECEIVE_BYTES = 4 * 1024 * 1024 + 1


class DatagramProtocol(Protocol):
    def connection_made(self, transport: OwnDatagramTransport) -> None: ...
    def datagrams_received(self, datagrams: list[bytes], senders: list[tuple[Any, int]]) -> None:
        """`senders`: (address, how many of `datagrams` in a row came from it), in order."""

    def error_received(self, exc: OSError) -> None: ...
    def datagrams_dropped(self, total: int) -> None:
        """The kernel has dropped `total` datagrams at the socket so far (SO_RXQ_OVFL)."""

    def pause_writing(self) -> None:
        """Datagrams wait in the transport: the kernel's buffer is full."""

    def resume_writing(self) -> None:
        """Every datagram that waited has gone."""

    def connection_lost(self, exc: Exception | None) -> None: ...


class OwnDatagramTransport:
    def __init__(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, protocol: DatagramProtocol
    ) -> None:
        self._loop = loop
        self._sock = sock
        self._fd = sock.fileno()
        self._protocol = protocol
        size = UNIX_RECEIVE_BYTES if sock.family == socket.AF_UNIX else UDP_RECEIVE_BYTES
        self._buffer = bytearray(size)
        self._view = memoryview(self._buffer)
        # Many datagrams per system call where the platform has it (IP sockets only).
        self._receiver = (
            many_datagrams.for_this_thread(READ_BATCH, UDP_RECEIVE_BYTES)
            if sock.family in (socket.AF_INET, socket.AF_INET6)
            else None
        )
        self._queue: deque[tuple[bytes, Any]] = deque()
        self._dropped = 0  # the kernel's drop count the protocol was last told
        self._queued_bytes = 0
        self._paused = False
        self._closing = False
        self._closed = False

    def start(self) -> None:
        self._sock.setblocking(False)
        self._protocol.connection_made(self)
        if not self._closing:
            self._loop.add_reader(self._fd, self._read_ready)

    # --- what asyncio's transports offer and the protocol uses ---

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        try:
            if name == "socket":
                return self._sock
            if name == "sockname":
                return self._sock.getsockname()
            if name == "peername":
                return self._sock.getpeername()
        except OSError:
            pass
        return default

    def is_closing(self) -> bool:
        return self._closing

    def get_write_buffer_size(self) -> int:
        return self._queued_bytes

    # --- reading ---

    def _read_ready(self) -> None:
        receiver = self._receiver
        if receiver is not None:
            self._hand_on(*receiver.receive(self._fd))
            if receiver.dropped > self._dropped and not self._closing:
                self._dropped = receiver.dropped
                self._protocol.datagrams_dropped(self._dropped)
            return
        receive = self._sock.recvfrom_into
        view = self._view
        limit = len(self._buffer)
        datagrams: list[bytes] = []
        senders: list[tuple[Any, int]] = []
        error: OSError | None = None
        # Handed on together: one timestamp, one lock of the bridge, for the whole batch.
        for _ in range(READ_BATCH):
            try:
                size, addr = receive(self._buffer)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:  # e.g. ICMP port unreachable on a connected socket
                error = exc
                break
            if size == limit:
                size -= 1
                error = OSError(f"a datagram over {size:,} bytes was cut to that size")
            datagrams.append(bytes(view[:size]))
            if senders and senders[-1][0] == addr:
                senders[-1] = (addr, senders[-1][1] + 1)
            else:
                senders.append((addr, 1))
            if error is not None:
                break
        self._hand_on(datagrams, senders, error)

    def _hand_on(
        self, datagrams: list[bytes], senders: list[tuple[Any, int]], error: OSError | None
    ) -> None:
        if datagrams:
            self._protocol.datagrams_received(datagrams, senders)
        if error is not None and not self._closing:
            self._protocol.error_received(error)

    def pause_reading(self) -> None:
        if not self._paused and not self._closing:
            self._paused = True
            self._loop.remove_reader(self._fd)

    def resume_reading(self) -> None:
        if self._paused and not self._closing:
            self._paused = False
            self._loop.add_reader(self._fd, self._read_ready)

    @property
    def reading_paused(self) -> bool:
        return self._paused

    # --- sending ---

    def send_now(self, data: bytes, address: Any) -> None:
        """Send at once; raises BlockingIOError when the kernel's buffer is full, OSError
        when the datagram cannot go."""
        if address is None:
            self._sock.send(data)
        else:
            self._sock.sendto(data, address)

    def sendto(self, data: bytes, address: Any = None) -> None:
        """Send, or queue behind what waits already (a full kernel buffer)."""
        if self._closing:
            return
        if not self._queue:
            try:
                self.send_now(data, address)
                return
            except (BlockingIOError, InterruptedError):
                self._loop.add_writer(self._fd, self._write_ready)
                self._protocol.pause_writing()
            except OSError as exc:
                self._protocol.error_received(exc)
                return
        self._queue.append((data, address))
        self._queued_bytes += len(data)

    def _write_ready(self) -> None:
        while self._queue:
            data, address = self._queue[0]
            try:
                self.send_now(data, address)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._protocol.error_received(exc)
            self._queue.popleft()
            self._queued_bytes -= len(data)
        self._loop.remove_writer(self._fd)
        self._protocol.resume_writing()
        if self._closing:
            self._finish(None)

    # --- ending ---

    def close(self) -> None:
        """Stop reading; send what is queued, then close."""
        if self._closing:
            return
        self._closing = True
        self._loop.remove_reader(self._fd)
        if not self._queue:
            self._loop.call_soon(self._finish, None)

    def abort(self) -> None:
        self._closing = True
        self._queue.clear()
        self._queued_bytes = 0
        self._loop.remove_reader(self._fd)
        self._loop.call_soon(self._finish, None)

    def _finish(self, exc: Exception | None) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.remove_writer(self._fd)
        self._sock.close()
        self._protocol.connection_lost(exc)
