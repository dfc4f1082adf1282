"""A fault-injecting TCP proxy for tests: sits between a client (sockbench, or a test socket)
and a real peer, and misbehaves on purpose.

    with FaultProxy(upstream_port, latency=0.2) as proxy:
        engine.connect(parse_url(f"tcp://127.0.0.1:{proxy.port}", for_listen=False))

Faults (all off by default; the attributes of `proxy.faults` can be changed while it runs):
- `latency`: seconds added before each chunk is forwarded, both ways (order is kept);
- `one_byte`: deliver to each side one byte per write (a segment each, with a pause);
- `blackhole`: accept, never connect upstream, never answer, never forward (and never read);
- `read_rate`: read from the client at most this many bytes per second (a very slow reader);
- `reset_after`: once this many bytes went to the client, reset it (SO_LINGER 0: a TCP RST);
- `eof_after`: once this many bytes went to the client, send it EOF (close that direction
  only) and keep forwarding what the client sends.

It runs in its own thread with its own asyncio loop, binds 127.0.0.1 on port 0, and every
wait has a timeout. `reset_all()` and `eof_all()` act on every open connection at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import Any

LOCALHOST = "127.0.0.1"
TIMEOUT = 5.0
CHUNK = 64 * 1024
ONE_BYTE_PAUSE = 0.005  # between single bytes, so that each leaves as its own segment
SLOW_READ_CHUNK = 1024
RESET_DELAY = 0.1  # lets the bytes before a reset reach the client's socket first


@dataclass
class Faults:
    latency: float = 0.0
    one_byte: bool = False
    blackhole: bool = False
    read_rate: int | None = None
    reset_after: int | None = None
    eof_after: int | None = None


@dataclass
class ProxiedConnection:
    """What happened on one proxied connection (read from the test thread)."""

    to_client: int = 0  # bytes forwarded to the client
    to_upstream: int = 0  # bytes forwarded upstream
    client_eof: bool = False  # the client sent EOF
    reset: bool = False  # the proxy reset the client
    eof_sent: bool = False  # the proxy sent EOF to the client
    closed: bool = False
    writers: list[asyncio.StreamWriter] = field(default_factory=list)


class FaultProxy:
    def __init__(self, upstream_port: int, upstream_host: str = LOCALHOST, **faults: Any) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.faults = Faults(**faults)
        self.connections: list[ProxiedConnection] = []
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # --- the test thread ---

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        self._call(self._start())
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        with contextlib.suppress(Exception):
            self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(TIMEOUT)
        if not self._thread.is_alive():
            self._loop.close()

    def reset_all(self) -> None:
        """Reset every open client connection now."""
        self._call(self._each(self._reset))

    def eof_all(self) -> None:
        """Send EOF to every open client connection now; keep forwarding what they send."""
        self._call(self._each(self._send_eof))

    @property
    def url(self) -> str:
        return f"tcp://{LOCALHOST}:{self.port}"

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(TIMEOUT)

    # --- the proxy's loop ---

    async def _start(self) -> None:
        # A small reader limit: with read_rate set, little piles up inside the proxy.
        self._server = await asyncio.start_server(
            self._serve, LOCALHOST, 0, limit=SLOW_READ_CHUNK * 4
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in self.connections:
            for writer in conn.writers:
                writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=TIMEOUT)

    async def _each(self, action: Any) -> None:
        for conn in self.connections:
            if not conn.closed:
                await action(conn)

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = ProxiedConnection(writers=[client_w])
        self.connections.append(conn)
        try:
            if self.faults.blackhole:
                # Never read, never answer: the client sees an open connection that is silent.
                await asyncio.Event().wait()
            up_r, up_w = await asyncio.wait_for(asyncio.open_connection(*self.upstream), TIMEOUT)
            conn.writers.append(up_w)
            await asyncio.gather(
                self._pump(conn, client_r, up_w, to_client=False),
                self._pump(conn, up_r, client_w, to_client=True),
            )
        except (TimeoutError, OSError, RuntimeError, asyncio.CancelledError):
            pass  # a cancel comes from stop(): end quietly (start_server logs a cancelled task)
        finally:
            conn.closed = True
            for writer in conn.writers:
                writer.transport.abort()
            self._tasks.discard(task)

    async def _pump(
        self,
        conn: ProxiedConnection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        to_client: bool,
    ) -> None:
        faults = self.faults
        while True:
            slow = not to_client and faults.read_rate
            size = SLOW_READ_CHUNK if slow else CHUNK
            if to_client and faults.reset_after is not None:
                size = max(1, min(size, faults.reset_after - conn.to_client))
            if to_client and faults.eof_after is not None and not conn.eof_sent:
                size = max(1, min(size, faults.eof_after - conn.to_client))
            try:
                chunk = await reader.read(size)
            except OSError:
                chunk = b""
            if not chunk:
                if to_client:
                    if not conn.eof_sent:
                        await self._send_eof(conn)
                elif not conn.reset:
                    conn.client_eof = True
                    with contextlib.suppress(OSError):
                        writer.write_eof()
                return
            if to_client and conn.eof_sent:
                continue  # that direction is closed: what upstream still sends goes nowhere
            if faults.latency:
                await asyncio.sleep(faults.latency)
            await self._write(writer, chunk, faults.one_byte)
            if to_client:
                conn.to_client += len(chunk)
                if faults.reset_after is not None and conn.to_client >= faults.reset_after:
                    await self._reset(conn)
                    return
                if faults.eof_after is not None and conn.to_client >= faults.eof_after:
                    await self._send_eof(conn)
            else:
                conn.to_upstream += len(chunk)
                if slow:
                    await asyncio.sleep(len(chunk) / faults.read_rate)  # type: ignore[operator]

    @staticmethod
    async def _write(writer: asyncio.StreamWriter, chunk: bytes, one_byte: bool) -> None:
        if not one_byte:
            writer.write(chunk)
            await asyncio.wait_for(writer.drain(), TIMEOUT)
            return
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for index in range(len(chunk)):
            writer.write(chunk[index : index + 1])
            await asyncio.wait_for(writer.drain(), TIMEOUT)
            await asyncio.sleep(ONE_BYTE_PAUSE)

    async def _reset(self, conn: ProxiedConnection) -> None:
        if conn.closed or conn.reset:
            return
        await asyncio.sleep(RESET_DELAY)
        client_w = conn.writers[0]
        sock = client_w.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.reset = True
        client_w.transport.abort()
        for writer in conn.writers[1:]:
            writer.transport.abort()

    @staticmethod
    async def _send_eof(conn: ProxiedConnection) -> None:
        if conn.eof_sent or conn.reset:
            return
        conn.eof_sent = True
        with contextlib.suppress(OSError, RuntimeError):
            conn.writers[0].write_eof()
