"""The engine: owns every socket, in its own asyncio loop on a background thread.

Commands come in through `submit` (thread-safe); every outcome goes out as an event, first to
the transcript (every byte, exactly) and then to the bridge (bounded, for the UI).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from dataclasses import dataclass, field

from workbench.endpoints import Endpoint, format_sockname
from workbench.engine import commands as cmd
from workbench.engine import events as ev
from workbench.engine.bridge import EventBridge
from workbench.engine.errors import describe
from workbench.engine.limits import raise_open_files_limit
from workbench.engine.tcp import TcpConnection
from workbench.engine.transcript import TranscriptWriter

READ_BUFFER_BYTES = 256 * 1024
LISTEN_BACKLOG = 4096
TRANSCRIPT_FLUSH_SECONDS = 0.25
SHUTDOWN_GRACE_SECONDS = 0.5
DEFAULT_CONNECT_TIMEOUT = 10.0


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where installed: the default loop drops datagrams under load (DESIGN.md)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


@dataclass
class Listener:
    lid: str
    endpoint: Endpoint
    server: asyncio.Server | None = None
    opening: asyncio.Future[None] | None = None
    peers: set[str] = field(default_factory=set)


class Engine:
    def __init__(self, bridge: EventBridge, transcript_path: str | None = None) -> None:
        """Raises OSError if the transcript file cannot be opened."""
        self.bridge = bridge
        self.read_buffer = memoryview(bytearray(READ_BUFFER_BYTES))
        self.transcript = (
            TranscriptWriter(transcript_path, on_error=self._transcript_failed)
            if transcript_path
            else None
        )
        self._ids = {"L": itertools.count(1), "C": itertools.count(1)}
        self._id_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self.listeners: dict[str, Listener] = {}
        self.connections: dict[str, TcpConnection] = {}
        self._pending: dict[str, asyncio.Task[None]] = {}

    # --- thread-safe API (any thread) ---

    def start(self) -> None:
        raise_open_files_limit()
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="sockbench-engine", daemon=True
        )
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the engine's event loop did not start")

    def stop(self, timeout: float = 5.0) -> None:
        """Close every socket, flush the transcript, end the thread. Safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or self._stopped.is_set():
            return
        try:
            loop.call_soon_threadsafe(lambda: loop.create_task(self._shutdown()))
        except RuntimeError:  # loop already closed
            return
        thread.join(timeout)
        self._stopped.set()

    def new_id(self, kind: str) -> str:
        with self._id_lock:
            return f"{kind}{next(self._ids[kind])}"

    def submit(self, command: cmd.Command) -> None:
        if self._loop is None:
            raise RuntimeError("the engine is not running")
        self._loop.call_soon_threadsafe(self._dispatch, command)

    def listen(self, endpoint: Endpoint) -> str:
        lid = self.new_id("L")
        self.submit(cmd.Listen(lid, endpoint))
        return lid

    def connect(self, endpoint: Endpoint, timeout: float = DEFAULT_CONNECT_TIMEOUT) -> str:
        cid = self.new_id("C")
        self.submit(cmd.Connect(cid, endpoint, timeout))
        return cid

    def send(self, cid: str, data: bytes) -> None:
        self.submit(cmd.Send(cid, data))

    def half_close(self, cid: str) -> None:
        self.submit(cmd.HalfClose(cid))

    def close(self, cid: str) -> None:
        self.submit(cmd.Close(cid))

    def reset(self, cid: str) -> None:
        self.submit(cmd.Reset(cid))

    def close_listener(self, lid: str, close_peers: bool = True) -> None:
        self.submit(cmd.CloseListener(lid, close_peers))

    # --- engine thread ---

    def _run(self, ready: threading.Event) -> None:
        loop = new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        loop.call_soon(ready.set)
        if self.transcript is not None:
            loop.call_soon(self._flush_transcript_periodically)
        try:
            loop.run_forever()
        finally:
            loop.close()

    def _emit(self, event: ev.Event) -> None:
        self.bridge.push(event)

    def _error(self, source: str, message: str) -> None:
        ts = time.time()
        if self.transcript is not None:
            self.transcript.record("error", source, ts, message=message)
        self._emit(ev.ErrorReported(ts, source, message))

    def _dispatch(self, command: cmd.Command) -> None:
        match command:
            case cmd.Listen(lid, endpoint):
                # Registered now, so a CloseListener right behind it finds it.
                listener = self.listeners[lid] = Listener(lid, endpoint)
                listener.opening = asyncio.ensure_future(self._listen(listener))
            case cmd.Connect(cid, endpoint, timeout):
                # Reported now, so a Close right behind it has something to cancel.
                self._emit(ev.Connecting(time.time(), cid, endpoint.address))
                self._pending[cid] = asyncio.ensure_future(self._connect(cid, endpoint, timeout))
            case cmd.Send(cid, data):
                self._send(cid, data)
            case cmd.HalfClose(cid):
                conn = self._open_connection(cid, "cannot send EOF")
                if conn is not None and not conn.local_eof:
                    conn.half_close()
                    self._half_closed(conn, outgoing=True)
            case cmd.Close(cid):
                if cid not in self.connections and cid in self._pending:
                    self._cancel_connect(cid, "connect cancelled")
                elif (conn := self._open_connection(cid, "cannot close")) is not None:
                    conn.close()
            case cmd.Reset(cid):
                if (conn := self._open_connection(cid, "cannot reset")) is not None:
                    conn.reset()
            case cmd.CloseListener(lid, close_peers):
                self._close_listener(lid, close_peers, "closed by you")

    def _open_connection(self, cid: str, action: str) -> TcpConnection | None:
        conn = self.connections.get(cid)
        if conn is None or not conn.is_open:
            self._error(cid, f"{action}: {cid} is not open")
            return None
        return conn

    async def _listen(self, listener: Listener) -> None:
        loop = asyncio.get_running_loop()
        lid, endpoint = listener.lid, listener.endpoint
        try:
            listener.server = await loop.create_server(
                lambda: TcpConnection(self, self.new_id("C"), lid),
                endpoint.host,
                endpoint.port,
                backlog=LISTEN_BACKLOG,
                reuse_address=True,
            )
        except OSError as exc:
            if self.listeners.get(lid) is listener:
                del self.listeners[lid]
            self._error(lid, f"cannot listen: {describe(exc, endpoint.address)}")
            return
        if self.listeners.get(lid) is not listener:  # closed while it was opening
            listener.server.close()
            return
        local = tuple(format_sockname(s.getsockname()) for s in listener.server.sockets)
        ts = time.time()
        if self.transcript is not None:
            self.transcript.record("listen", lid, ts, transport="tcp", local=list(local))
        self._emit(ev.ListenerOpened(ts, lid, endpoint.url, local))

    def _close_listener(self, lid: str, close_peers: bool, reason: str) -> None:
        listener = self.listeners.pop(lid, None)
        if listener is None:
            self._error(lid, f"cannot close listener {lid}: it is not open")
            return
        if listener.server is not None:
            listener.server.close()
        elif listener.opening is not None:
            listener.opening.cancel()
        if close_peers:
            for cid in list(listener.peers):
                conn = self.connections.get(cid)
                if conn is not None:
                    conn.close(f"closed with listener {lid}")
        ts = time.time()
        if self.transcript is not None:
            self.transcript.record("close", lid, ts, reason=reason)
        self._emit(ev.ListenerClosed(ts, lid, reason))

    async def _connect(self, cid: str, endpoint: Endpoint, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                await loop.create_connection(
                    lambda: TcpConnection(self, cid, None), endpoint.host, endpoint.port
                )
        except asyncio.CancelledError:
            pass  # reported by _cancel_connect, or the connection reports its own close
        except TimeoutError:
            self._connect_failed(cid, f"{endpoint.address} did not answer within {timeout:g} s")
        except OSError as exc:
            self._connect_failed(cid, describe(exc, endpoint.address))
        finally:
            self._pending.pop(cid, None)

    def _cancel_connect(self, cid: str, reason: str) -> None:
        """Cancel a pending connect and report it now: a task cancelled before its first step
        never runs its own handlers."""
        self._pending.pop(cid).cancel()
        self._connect_failed(cid, reason, error=False)

    def _connect_failed(self, cid: str, reason: str, error: bool = True) -> None:
        ts = time.time()
        if self.transcript is not None:
            if error:
                self.transcript.record("error", cid, ts, message=reason)
            self.transcript.record("close", cid, ts, reason=reason)
        self._emit(ev.ConnectionClosed(ts, cid, reason, error))

    def _send(self, cid: str, data: bytes) -> None:
        conn = self.connections.get(cid)
        if conn is None or not conn.is_open:
            self._error(cid, f"not sent ({len(data)} bytes): {cid} is not open")
            return
        if conn.local_eof:
            self._error(cid, f"not sent ({len(data)} bytes): you already sent EOF on {cid}")
            return
        conn.send(data)
        ts = time.time()
        if self.transcript is not None:
            self.transcript.data(ts, cid, True, data)
        self.bridge.push_data(ts, cid, True, data)

    def _half_closed(self, conn: TcpConnection, outgoing: bool) -> None:
        ts = time.time()
        if self.transcript is not None:
            self.transcript.record("eof", conn.cid, ts, dir="out" if outgoing else "in")
        self._emit(ev.HalfClosed(ts, conn.cid, outgoing))

    # ConnectionOwner: called by TcpConnection on the engine thread

    def connection_opened(self, conn: TcpConnection) -> None:
        self.connections[conn.cid] = conn
        if conn.listener is not None and conn.listener in self.listeners:
            self.listeners[conn.listener].peers.add(conn.cid)
        ts = time.time()
        if self.transcript is not None:
            self.transcript.record(
                "open",
                conn.cid,
                ts,
                transport="tcp",
                listener=conn.listener,
                local=conn.local,
                remote=conn.remote,
            )
        self._emit(ev.ConnectionOpened(ts, conn.cid, conn.listener, conn.local, conn.remote))

    def data_received(self, conn: TcpConnection, chunk: memoryview) -> None:
        ts = time.time()
        if self.transcript is not None:
            self.transcript.data(ts, conn.cid, False, chunk)
        self.bridge.push_data(ts, conn.cid, False, chunk)

    def eof_received(self, conn: TcpConnection) -> None:
        self._half_closed(conn, outgoing=False)

    def connection_closed(self, conn: TcpConnection, reason: str, error: bool) -> None:
        self.connections.pop(conn.cid, None)
        listener = self.listeners.get(conn.listener) if conn.listener else None
        if listener is not None:
            listener.peers.discard(conn.cid)
        ts = time.time()
        if self.transcript is not None:
            self.transcript.record(
                "close",
                conn.cid,
                ts,
                reason=reason,
                bytes_in=conn.bytes_in,
                bytes_out=conn.bytes_out,
            )
        self._emit(ev.ConnectionClosed(ts, conn.cid, reason, error))

    # transcript upkeep

    def _flush_transcript_periodically(self) -> None:
        if self.transcript is None or not self.transcript.active:
            return
        self.transcript.flush()
        assert self._loop is not None
        self._loop.call_later(TRANSCRIPT_FLUSH_SECONDS, self._flush_transcript_periodically)

    def _transcript_failed(self, message: str) -> None:
        self._emit(ev.ErrorReported(time.time(), "transcript", message))

    async def _shutdown(self) -> None:
        pending = list(self._pending.values())
        for cid in list(self._pending):
            self._cancel_connect(cid, "connect cancelled: sockbench quit")
        for lid in list(self.listeners):
            self._close_listener(lid, close_peers=False, reason="sockbench quit")
        conns = list(self.connections.values())
        for conn in conns:
            conn.close("closed: sockbench quit")
        # Give pending writes a moment to leave, then drop whatever a stuck peer would not take.
        deadline = time.monotonic() + SHUTDOWN_GRACE_SECONDS
        while any(not c.closed for c in conns) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for conn in conns:
            if not conn.closed and conn.transport is not None:
                conn.transport.abort()
        await asyncio.sleep(0.01)  # let connection_lost callbacks run
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if self.transcript is not None:
            self.transcript.close()
        asyncio.get_running_loop().stop()
