"""The engine: owns every socket, in its own asyncio loop on a background thread.

Commands come in through `submit` (thread-safe); every outcome goes out as an event, first to
the transcript (every byte, exactly) and then to the bridge (bounded, for the UI).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.behaviours import Action, Behaviour, Close, Context, HalfClose, Send, behaviour_for
from workbench.behaviours.base import BehaviourFactory
from workbench.engine.acceptor import SpareDescriptor
from workbench.engine.bridge import EventBridge
from workbench.engine.connection import Connection, NotSent, QueueFull
from workbench.engine.datagram import DatagramPeer, DatagramSocket, describe_datagram_error
from workbench.engine.errors import describe, describe_failure
from workbench.engine.file_sender import send_file_over_stream
from workbench.engine.flow import Pause, ReadFlow
from workbench.engine.limits import open_files_limit, raise_open_files_limit
from workbench.engine.offloop import run_blocking
from workbench.engine.opening import (
    OpenedListener,
    max_connections,
    open_connection,
    open_listener,
)
from workbench.engine.stream import StreamConnection
from workbench.engine.unix import remove_own_socket
from workbench.files import open_to_send
from workbench.protocol import commands as cmd
from workbench.protocol import events as ev
from workbench.protocol.endpoints import Endpoint
from workbench.protocol.enums import CloseCause, Origin, RecordKind
from workbench.transcript.writer import CLOSE_SECONDS, TranscriptWriter

READ_BUFFER_BYTES = 256 * 1024
TRANSCRIPT_FLUSH_SECONDS = 0.25
# Reading paused because the transcript is behind is said in the Log once it lasts this long
# (shorter pauses are ordinary flow control, like a peer's full window).
TRANSCRIPT_NOTICE_SECONDS = 1.0
SHUTDOWN_GRACE_SECONDS = 0.5
DEFAULT_CONNECT_TIMEOUT = 10.0
GIL_SWITCH_SECONDS = 0.0002
# A Unix datagram can be larger than a UDP one; the socket says no if it is too large.
MAX_DATAGRAM_FILE_BYTES = 4 * 1024 * 1024
# How often queued bytes and refused-connection counts are reported while they change.
COUNTS_SECONDS = 0.25
# Running out of file descriptors is reported with a count, this long after it starts; if it
# happens again soon after a report, the next report sums up a longer period, so that a
# sustained storm gives a line now and then, not one every few seconds.
DESCRIPTORS_REPORT_SECONDS = 2.0
DESCRIPTORS_QUIET_SECONDS = 30.0
# Datagrams dropped after this long without drops start a new burst: a new line in the Log.
DROPS_QUIET_SECONDS = 10.0


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where installed: measured on a 2-core machine, the default loop lost about half
    of 100-byte datagrams paced at 100k/s, uvloop 0.01 %."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


@dataclass
class Listener:
    lid: str
    endpoint: Endpoint
    opened: OpenedListener | None = None
    opening: asyncio.Future[None] | None = None
    peers: set[str] = field(default_factory=set)
    # The peers that count towards the maximum: not those closing, nor those whose peer sent
    # EOF and that close after the grace (their slot is free at once).
    counted: set[str] = field(default_factory=set)
    # Half-open peers whose peer sent EOF, oldest first: closed to make room at the maximum.
    ended: dict[str, None] = field(default_factory=dict)
    refused: int = 0  # connections closed at once because the listener was at its maximum
    refused_reported: int = 0
    # Datagrams the system dropped at a datagram listener (its receive buffer was full), as
    # the kernel counts them (SO_RXQ_OVFL); when the count last grew (time.monotonic()).
    dropped: int = 0
    dropped_reported: int = 0
    dropped_at: float = -DROPS_QUIET_SECONDS
    # What its connections do on their own (echo...), made for each; None: the user talks.
    behaviour: BehaviourFactory | None = None

    def free_slot(self, cid: str) -> None:
        """`cid` no longer counts towards the maximum (closing, or ending after its peer's
        EOF): a connection waiting for a slot may take it."""
        self.ended.pop(cid, None)
        if cid in self.counted:
            self.counted.discard(cid)
            self._wake_acceptor()

    def room_to_make(self, cid: str) -> None:
        """`cid` is half-open and its peer sent EOF: at the maximum it is closed to make room,
        so a connection waiting for a slot may come in now (not after the wait's timer)."""
        self.ended[cid] = None
        self._wake_acceptor()

    def _wake_acceptor(self) -> None:
        if self.opened is not None and self.opened.acceptor is not None:
            self.opened.acceptor.slot_freed()

    def close(self, peers_reason: str, cause: CloseCause) -> None:
        opened = self.opened
        if opened is None:
            if self.opening is not None:
                self.opening.cancel()
            return
        if opened.acceptor is not None:
            opened.acceptor.close()
        if opened.datagram is not None:
            opened.datagram.close(peers_reason, cause)
        if self.endpoint.is_unix:
            remove_own_socket(self.endpoint.path, opened.unix_identity)


class Engine:
    def __init__(self, bridge: EventBridge, transcript_path: str | None = None) -> None:
        """Raises OSError if the transcript file cannot be opened."""
        self.bridge = bridge
        self.read_buffer = memoryview(bytearray(READ_BUFFER_BYTES))
        self.transcript = (
            TranscriptWriter(
                transcript_path,
                on_error=self._transcript_failed,
                on_caught_up=lambda: self._on_engine_thread(self._transcript_caught_up),
            )
            if transcript_path
            else None
        )
        # Why recording stopped, when it did (the last words at quit, for the command).
        self.transcript_error: str | None = None
        self._ids = {"L": itertools.count(1), "C": itertools.count(1)}
        self._id_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()
        self.listeners: dict[str, Listener] = {}
        self.connections: dict[str, Connection] = {}
        self._pending: dict[str, asyncio.Task[None]] = {}
        self._background: set[asyncio.Future[None]] = set()
        self._spare: SpareDescriptor | None = None
        # Connections whose queued bytes are being reported (see _report_counts).
        self._queue_watch: dict[str, StreamConnection] = {}
        self._counts_timer: asyncio.TimerHandle | None = None
        # Out of file descriptors: connections shed per listener since the last report.
        self._shed: dict[str, int] = {}
        self._shed_since = 0.0
        self._shed_last_report = -DESCRIPTORS_QUIET_SECONDS
        # Listeners told they cannot accept, until they accept again (and are told so).
        self._shed_reported: set[str] = set()
        # Readers (a connection, a datagram socket) paused for some reason: see _pause.
        self._read_paused: dict[str, ReadFlow] = {}
        self._resume_scheduled = False
        # Reading paused for the transcript since (monotonic), and whether the Log was told.
        self._transcript_paused_at: float | None = None
        self._transcript_told = False
        self._transcript_room: asyncio.Event | None = None  # set while it is not behind
        self._handlers = self._command_handlers()

    # --- thread-safe API (any thread) ---

    def start(self) -> None:
        raise_open_files_limit()
        # The UI thread runs long pure-Python stretches (a batch of records, a frame). With
        # the default 5 ms switch interval, the engine waited up to 5 ms for the GIL after
        # every poll of its sockets and read only a few datagrams each time: 45 % of 100k
        # datagrams/s were dropped. At 0.2 ms it keeps up (measured with `sockbench bench`).
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_SECONDS))
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="sockbench-engine", daemon=True
        )
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the engine's event loop did not start")

    def stop(self, timeout: float = 5.0) -> None:
        """Close every socket, flush the transcript, end the thread. Safe to call twice, and
        from two threads at once (an exit watchdog): the second waits for the first."""
        with self._stop_lock:
            loop, thread = self._loop, self._thread
            if self._stopped.is_set():
                return
            if loop is None or thread is None:
                # Quit before the loop ever ran: nothing is open, but the transcript holds
                # the session record it buffered when it was opened.
                if self.transcript is not None:
                    self.transcript.close()
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

    @property
    def transcript_path(self) -> str | None:
        """The transcript's file while it is being written; None once writing it failed (it
        no longer holds everything)."""
        transcript = self.transcript
        return transcript.path if transcript is not None and transcript.active else None

    def flush_transcript(self, timeout: float = 2.0) -> bool:
        """Flush the transcript now (for an export that reads it): True once everything
        recorded so far is in the file (its writer thread wrote it)."""
        loop, transcript = self._loop, self.transcript
        if loop is None or transcript is None:
            return False
        handed = threading.Event()
        mark = 0

        def flush() -> None:
            nonlocal mark
            mark = transcript.flush()
            handed.set()

        deadline = time.monotonic() + timeout
        loop.call_soon_threadsafe(flush)
        if not handed.wait(timeout):
            return False
        return transcript.wait_written(mark, max(0.0, deadline - time.monotonic()))

    def send_file(self, cid: str, path: str) -> None:
        self.submit(cmd.SendFile(cid, path))

    def add_peer(self, lid: str, endpoint: Endpoint) -> None:
        """Make `endpoint` a peer of datagram listener `lid` ("Send to..."): a PeerResolved
        event names its connection id."""
        self.submit(cmd.AddPeer(lid, endpoint))

    # --- engine thread ---

    def _run(self, ready: threading.Event) -> None:
        loop = new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        self._spare = SpareDescriptor()
        self.bridge.on_drained = self._bridge_drained
        self._transcript_room = asyncio.Event()
        self._transcript_room.set()
        loop.call_soon(ready.set)
        if self.transcript is not None:
            loop.call_soon(self._flush_transcript_periodically)
        try:
            loop.run_forever()
        finally:
            self._spare.close()
            loop.close()

    def _emit(self, event: ev.Event) -> None:
        """The one way out for an event: its transcript records, then the bridge."""
        if self.transcript is not None:
            self.transcript.event(event)
        self.bridge.push(event)

    def _emit_data(
        self, cid: str, outgoing: bool, chunk: bytes | memoryview, origin: Origin = Origin.YOU
    ) -> bool:
        """`_emit` for a chunk, formatted by the transcript by hand (the hot path); True if
        the bridge is saturated: reading should pause."""
        ts = time.time()
        if self.transcript is not None:
            self.transcript.data(ts, cid, outgoing, chunk, origin)
        return self.bridge.push_data(ts, cid, outgoing, chunk, origin)

    def _info(self, source: str, message: str) -> None:
        self._emit(ev.Note(time.time(), source, message))

    def _error(self, source: str, message: str) -> None:
        self._emit(ev.ErrorReported(time.time(), source, message))

    def _dispatch(self, command: cmd.Command) -> None:
        self._handlers[type(command)](command)

    def _command_handlers(self) -> dict[type, Callable[[Any], None]]:
        return {
            cmd.Listen: self._do_listen,
            cmd.Connect: self._do_connect,
            cmd.Send: self._do_send,
            cmd.HalfClose: self._do_half_close,
            cmd.Close: self._do_close,
            cmd.Reset: self._do_reset,
            cmd.CloseListener: self._do_close_listener,
            cmd.AddPeer: lambda c: self._in_background(self._add_peer(c.lid, c.endpoint)),
            cmd.SendFile: lambda c: self._in_background(self._send_file(c.cid, c.path)),
        }

    def _do_listen(self, command: cmd.Listen) -> None:
        # Registered now, so a CloseListener right behind it finds it.
        behaviour = behaviour_for(command.endpoint.options)
        listener = Listener(command.lid, command.endpoint, behaviour=behaviour)
        self.listeners[command.lid] = listener
        listener.opening = asyncio.ensure_future(self._listen(listener))

    def _do_connect(self, command: cmd.Connect) -> None:
        cid, endpoint = command.cid, command.endpoint
        # Reported now, so a Close right behind it has something to cancel.
        self._emit(ev.Connecting(time.time(), cid, endpoint.address, endpoint.transport))
        self._pending[cid] = asyncio.ensure_future(self._connect(cid, endpoint, command.timeout))

    def _do_send(self, command: cmd.Send) -> None:
        self._send(command.cid, command.data)

    def _do_half_close(self, command: cmd.HalfClose) -> None:
        stream = self._stream_connection(command.cid, "cannot send EOF")
        if stream is not None and stream.half_close():
            self._half_closed(stream.cid, outgoing=True)

    def _do_close(self, command: cmd.Close) -> None:
        cid = command.cid
        if cid not in self.connections and cid in self._pending:
            self._cancel_connect(cid, "connect cancelled")
        elif (conn := self._open_connection(cid, "cannot close", slip=True)) is not None:
            conn.close()

    def _do_reset(self, command: cmd.Reset) -> None:
        # Also how the user aborts queued data: see StreamConnection.reset.
        if (conn := self._stream_connection(command.cid, "cannot reset")) is not None:
            conn.reset()

    def _do_close_listener(self, command: cmd.CloseListener) -> None:
        self._close_listener(command.lid, command.close_peers, "closed by you")

    def _in_background(self, work: Coroutine[object, object, None]) -> None:
        task = asyncio.ensure_future(work)
        # The loop keeps only weak references to tasks.
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _open_connection(self, cid: str, action: str, slip: bool = False) -> Connection | None:
        """The open connection `cid`, else None, said in the Log. `slip`: the user asked for
        something that needs an open connection (close, EOF, reset): a notice in the Log,
        not an error of the session's record."""
        conn = self.connections.get(cid)
        if conn is None or not conn.is_open:
            (self._info if slip else self._error)(cid, f"{action}: {cid} is not open")
            return None
        return conn

    def _stream_connection(self, cid: str, action: str) -> Connection | None:
        conn = self._open_connection(cid, action, slip=True)
        if conn is not None and not conn.has_stream:
            self._info(cid, f"{action}: {cid} is a datagram peer, which has no stream to end")
            return None
        return conn

    def _stream_connection_for(
        self, cid: str, lid: str | None, endpoint: Endpoint
    ) -> StreamConnection:
        options = endpoint.options
        conn = StreamConnection(
            self, cid, lid, options.idle, half_open=options.half_open, eof_grace=endpoint.eof_grace
        )
        conn.behaviour = self._behaviour_of(lid)
        return conn

    def _behaviour_of(self, lid: str | None) -> Behaviour | None:
        """A new connection's behaviour: its listener's, if it has one."""
        listener = self.listeners.get(lid) if lid is not None else None
        make = listener.behaviour if listener is not None else None
        return make() if make is not None else None

    def _act(self, conn: Connection, actions: Sequence[Action]) -> None:
        """Carry out what a connection's behaviour answered, in order."""
        origin = conn.behaviour.origin if conn.behaviour is not None else Origin.YOU
        for action in actions:
            if not conn.is_open:
                return
            match action:
                case Send(data):
                    self._send(conn.cid, data, origin)
                case HalfClose():
                    if conn.has_stream and conn.half_close():
                        self._half_closed(conn.cid, outgoing=True)
                case Close(reason):
                    conn.close(reason)

    @staticmethod
    def _context(conn: Connection) -> Context:
        return Context(conn.cid, conn.transport_kind, conn.remote)

    async def _listen(self, listener: Listener) -> None:
        lid, endpoint = listener.lid, listener.endpoint
        assert self._spare is not None
        try:
            listener.opened = await open_listener(
                endpoint,
                lid,
                lambda: self._stream_connection_for(self.new_id("C"), lid, endpoint),
                self,
                self._spare,
            )
        except OSError as exc:
            if self.listeners.get(lid) is listener:
                del self.listeners[lid]
            self._error(lid, f"cannot listen: {describe_failure(exc, endpoint, listening=True)}")
            return
        if self.listeners.get(lid) is not listener:  # closed while it was opening
            listener.close("closed while opening", CloseCause.YOU)
            return
        opened = listener.opened
        maximum = 0 if endpoint.is_datagram else max_connections(endpoint)
        notes = tuple(opened.notes)
        self._emit(
            ev.ListenerOpened(
                time.time(), lid, endpoint.url, opened.local, notes, maximum, endpoint.transport
            )
        )

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

    async def _connect(self, cid: str, endpoint: Endpoint, timeout: float) -> None:
        try:
            async with asyncio.timeout(timeout):
                notes = await open_connection(
                    endpoint,
                    cid,
                    lambda: self._stream_connection_for(cid, None, endpoint),
                    self,
                )
        except asyncio.CancelledError:
            pass  # reported by _cancel_connect, or the connection reports its own close
        except TimeoutError:
            self._connect_failed(cid, f"{endpoint.address} did not answer within {timeout:g} s")
        except OSError as exc:
            self._connect_failed(cid, describe_failure(exc, endpoint))
        else:
            for note in notes:
                self._info(cid, note)
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

    def _cancel_connect(self, cid: str, reason: str, cause: CloseCause = CloseCause.YOU) -> None:
        """Cancel a pending connect and report it now: a task cancelled before its first step
        never runs its own handlers."""
        self._pending.pop(cid).cancel()
        self._connect_failed(cid, reason, False, cause)

    def _connect_failed(
        self, cid: str, reason: str, error: bool = True, cause: CloseCause = CloseCause.ERROR
    ) -> None:
        self._emit(ev.ConnectionClosed(time.time(), cid, reason, error, cause))

    def _send(self, cid: str, data: bytes, origin: Origin = Origin.YOU) -> bool:
        """Send and record `data`; report and return False if it cannot be sent."""
        conn = self.connections.get(cid)
        if conn is None or not conn.is_open:
            self._error(cid, f"not sent ({len(data)} bytes): {cid} is not open")
            return False
        try:
            conn.send(data)
        except NotSent as exc:
            self._error(cid, f"not sent ({len(data):,} bytes): {exc}")
            if isinstance(exc, QueueFull) and isinstance(conn, StreamConnection):
                self._watch_queue(conn)
            return False
        self._record_sent(cid, data, origin)
        return True

    def _record_sent(self, cid: str, data: bytes, origin: Origin = Origin.YOU) -> None:
        # "Sent" means handed to the socket (asyncio's buffer, then the kernel's), in the order
        # the user sent: the transcript keeps that order. What a peer never took is said where
        # it is dropped: a reset's reason counts the bytes still queued (StreamConnection.reset),
        # and a send refused for a full queue is an error, with no out record.
        self._emit_data(cid, True, data, origin)

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

    def _half_closed(self, cid: str, outgoing: bool, closes_after: float | None = None) -> None:
        self._emit(ev.HalfClosed(time.time(), cid, outgoing, closes_after))

    # ConnectionOwner: called by StreamConnection on the engine thread

    def connection_opened(self, conn: StreamConnection) -> None:
        self._opened(conn)

    def _opened(self, conn: Connection) -> None:
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
        if conn.behaviour is not None:
            self._act(conn, conn.behaviour.on_open(self._context(conn)))

    def data_received(self, conn: StreamConnection, chunk: memoryview) -> None:
        if self._emit_data(conn.cid, False, chunk):
            self._pause(conn.cid, conn.flow, Pause.BRIDGE)
        if self.transcript is not None and self.transcript.behind:
            self._pause(conn.cid, conn.flow, Pause.TRANSCRIPT)
        if conn.behaviour is not None:
            self._act(conn, conn.behaviour.on_data(self._context(conn), bytes(chunk)))

    def eof_received(self, conn: StreamConnection) -> None:
        listener = self.listeners.get(conn.listener) if conn.listener else None
        if listener is not None:
            if conn.ending:
                listener.free_slot(conn.cid)  # at once, not after the grace
            else:
                listener.room_to_make(conn.cid)  # half-open: the first to go at the maximum
        self._half_closed(conn.cid, False, conn.eof_grace if conn.ending else None)
        if conn.behaviour is not None:
            self._act(conn, conn.behaviour.on_eof(self._context(conn)))

    def connection_closing(self, conn: StreamConnection) -> None:
        listener = self.listeners.get(conn.listener) if conn.listener else None
        if listener is not None:
            listener.free_slot(conn.cid)

    def write_paused(self, conn: StreamConnection) -> None:
        self._watch_queue(conn)

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
            if listener.refused != listener.refused_reported:
                listener.refused_reported = listener.refused
                self._emit(ev.ListenerRefused(ts, listener.lid, listener.refused))
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

    # flow control toward the UI: pause reading while the bridge's consumer is behind

    def _pause(self, key: str, flow: ReadFlow, reason: Pause) -> None:
        """Pause reading on `flow` for `reason`; it reads again once every reason is gone."""
        flow.pause(reason)
        self._read_paused[key] = flow
        if reason is Pause.TRANSCRIPT:
            self._transcript_pausing()

    def _resume(self, reason: Pause, key: str | None = None) -> None:
        """`reason` is gone (for `key` only, or for every reader): readers paused for nothing
        else read again."""
        paused = self._read_paused
        for each in [key] if key is not None else list(paused):
            flow = paused.get(each)
            if flow is not None:
                flow.resume(reason)
                if not flow.paused:
                    del paused[each]

    def _bridge_drained(self) -> None:
        """Called by the bridge (on the consumer's thread) after a drain that emptied it
        while it was saturated."""
        loop = self._loop
        if loop is not None and not self._resume_scheduled:
            self._resume_scheduled = True
            with contextlib.suppress(RuntimeError):  # the engine already stopped
                loop.call_soon_threadsafe(self._resume_reading)

    def _resume_reading(self) -> None:
        self._resume_scheduled = False
        self._resume(Pause.BRIDGE)

    # DatagramOwner: called by DatagramSocket on the engine thread

    def peer_opened(self, sock: DatagramSocket, peer: DatagramPeer) -> None:
        peer.behaviour = self._behaviour_of(sock.lid)
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
                self._pause(key, sock.flow, Pause.TRANSCRIPT)
        if self.bridge.push_runs(ts, False, runs):
            self._pause(key, sock.flow, Pause.BRIDGE)
        for peer, run in received:
            if peer.behaviour is not None:
                for data in run:
                    self._act(peer, peer.behaviour.on_data(self._context(peer), data))

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

    def _report_drops(self, listener: Listener, ts: float) -> None:
        now = time.monotonic()
        burst = now - listener.dropped_at >= DROPS_QUIET_SECONDS
        listener.dropped_reported, listener.dropped_at = listener.dropped, now
        self._emit(ev.DatagramsDropped(ts, listener.lid, listener.dropped, burst))

    def datagram_socket_closed(self, sock: DatagramSocket, exc: Exception | None) -> None:
        listener = self.listeners.get(sock.lid or "")
        if listener is not None and listener.opened and listener.opened.datagram is sock:
            # Closed by an error rather than by the user: the listener is gone too.
            reason = f"socket error: {exc}" if exc else "closed"
            cause = CloseCause.ERROR if exc else CloseCause.UNKNOWN
            self._close_listener(listener.lid, True, reason, cause)

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
        if conn.behaviour is not None:
            conn.behaviour.on_close(self._context(conn))

    # transcript upkeep

    def _flush_transcript_periodically(self) -> None:
        transcript = self.transcript
        if transcript is None or not transcript.active:
            return
        transcript.flush()
        if transcript.stalled_for() > transcript.stall_seconds:
            # Lossless no longer means anything if the file never takes another byte: stop
            # recording, loudly, and let the connections go on.
            transcript.give_up(
                f"it took no bytes for {transcript.stall_seconds:g} s: is its reader reading?"
            )
            return
        assert self._loop is not None
        self._loop.call_later(TRANSCRIPT_FLUSH_SECONDS, self._flush_transcript_periodically)

    def _on_engine_thread(self, func: Callable[[], None]) -> None:
        """Run `func` on the engine's loop: now if this is its thread, else soon."""
        loop = self._loop
        if loop is None or threading.current_thread() is self._thread:
            func()
            return
        with contextlib.suppress(RuntimeError):  # the loop already closed
            loop.call_soon_threadsafe(func)

    def _transcript_failed(self, message: str) -> None:
        """Recording stopped (any thread: the transcript's writer thread, or a close)."""
        self.transcript_error = message
        # To the bridge only (thread-safe): the transcript cannot hold its own failure.
        self.bridge.push(ev.ErrorReported(time.time(), "transcript", message))
        self._on_engine_thread(self._transcript_caught_up)  # nothing to wait for any more

    def _transcript_pausing(self) -> None:
        """Reading paused for the transcript: said in the Log if it lasts."""
        if self._transcript_paused_at is None and self._loop is not None:
            self._transcript_paused_at = time.monotonic()
            self._loop.call_later(TRANSCRIPT_NOTICE_SECONDS, self._transcript_still_behind)
        if self._transcript_room is not None:
            self._transcript_room.clear()

    def _transcript_still_behind(self) -> None:
        paused_at, transcript = self._transcript_paused_at, self.transcript
        if paused_at is None or transcript is None or self._transcript_told:
            return
        if time.monotonic() - paused_at < TRANSCRIPT_NOTICE_SECONDS:  # a later pause
            assert self._loop is not None
            self._loop.call_later(TRANSCRIPT_NOTICE_SECONDS, self._transcript_still_behind)
            return
        self._transcript_told = True
        self._info(
            "transcript",
            f"transcript {transcript.path} is not keeping up: reading paused until it "
            f"catches up ({transcript.queued / 2**20:,.0f} MiB to write; should it take "
            f"nothing for {transcript.stall_seconds:g} s, recording stops)",
        )

    def _transcript_caught_up(self) -> None:
        """The transcript's writer is down to its low-water mark, or recording stopped."""
        transcript = self.transcript
        if transcript is not None and transcript.active and transcript.behind:
            return  # behind again meanwhile: its next catching up resumes reading
        self._resume(Pause.TRANSCRIPT)
        if self._transcript_room is not None:
            self._transcript_room.set()
        paused_at, self._transcript_paused_at = self._transcript_paused_at, None
        if self._transcript_told and paused_at is not None and transcript is not None:
            self._transcript_told = False
            if transcript.active:
                self._info(
                    "transcript",
                    f"transcript {transcript.path} caught up: reading resumed after "
                    f"{time.monotonic() - paused_at:.1f} s, every byte recorded",
                )

    async def _transcript_has_room(self) -> None:
        """Wait while the transcript is behind (a file being sent waits here)."""
        transcript, room = self.transcript, self._transcript_room
        if transcript is not None and room is not None and transcript.behind:
            self._transcript_pausing()
            await room.wait()

    async def _shutdown(self) -> None:
        pending = list(self._pending.values())
        for cid in list(self._pending):
            self._cancel_connect(cid, "connect cancelled: sockbench quit", CloseCause.QUIT)
        for lid in list(self.listeners):
            self._close_listener(lid, False, "sockbench quit", CloseCause.QUIT)
        conns = list(self.connections.values())
        for conn in conns:
            conn.shut("closed: sockbench quit", CloseCause.QUIT)
        # Give pending writes a moment to leave, then drop whatever a stuck peer would not take.
        deadline = time.monotonic() + SHUTDOWN_GRACE_SECONDS
        while any(not c.closed for c in conns) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        for conn in conns:
            if not conn.closed:
                conn.abort()
        await asyncio.sleep(0.01)  # let connection_lost callbacks run
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if self.transcript is not None:
            self.transcript.close(CLOSE_SECONDS)  # what a stalled file still holds is lost, said
        asyncio.get_running_loop().stop()


def read_whole(path: str) -> bytes:
    with open_to_send(path) as file:  # not through another user's link
        return file.read()


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
