"""The engine's shared state and the one emit path (see core.py for the whole)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Coroutine

from workbench.engine.acceptor import SpareDescriptor
from workbench.engine.behaviours.base import BehaviourFactory
from workbench.engine.bridge import EventBridge
from workbench.engine.connection import Connection
from workbench.engine.flow import Pause, ReadFlow
from workbench.engine.listener import Listener
from workbench.engine.stream import StreamConnection
from workbench.protocol import events as ev
from workbench.protocol.enums import Origin, OriginName
from workbench.transcript.writer import TranscriptWriter

READ_BUFFER_BYTES = 256 * 1024


class EngineBase:
    """The engine's state and what every part of it uses: ids, the one way out for events,
    looking connections up, and the registry of readers paused for the bridge or the
    transcript."""

    transcript: TranscriptWriter | None

    def __init__(self, bridge: EventBridge) -> None:
        self.bridge = bridge
        self.read_buffer = memoryview(bytearray(READ_BUFFER_BYTES))
        self.transcript = None
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
        # What the user's own connections do on their own (their URL's echo=, greet=...).
        self._own_behaviours: dict[str, BehaviourFactory] = {}
        self._background: set[asyncio.Future[None]] = set()
        self._spare: SpareDescriptor | None = None
        # Connections whose queued bytes are being reported (see _report_counts).
        self._queue_watch: dict[str, StreamConnection] = {}
        self._counts_timer: asyncio.TimerHandle | None = None
        # Out of file descriptors: connections shed per listener since the last report.
        self._shed: dict[str, int] = {}
        self._shed_since = 0.0
        self._shed_last_report = float("-inf")
        # Listeners told they cannot accept, until they accept again (and are told so).
        self._shed_reported: set[str] = set()
        # Readers (a connection, a datagram socket) paused for some reason: see _pause.
        self._read_paused: dict[str, ReadFlow] = {}
        self._resume_scheduled = False
        # Reading paused for the transcript since (monotonic), and whether the Log was told.
        self._transcript_paused_at: float | None = None
        self._transcript_told = False
        self._transcript_room: asyncio.Event | None = None  # set while it is not behind

    def new_id(self, kind: str) -> str:
        with self._id_lock:
            return f"{kind}{next(self._ids[kind])}"

    def _emit(self, event: ev.Event) -> None:
        """The one way out for an event: its transcript records, then the bridge."""
        if self.transcript is not None:
            self.transcript.event(event)
        self.bridge.push(event)

    def _emit_data(
        self,
        cid: str,
        outgoing: bool,
        chunk: bytes | memoryview,
        origin: OriginName = Origin.YOU,
        whole: bool = False,
    ) -> bool:
        """`_emit` for a chunk, formatted by the transcript by hand (the hot path); True if
        the bridge is saturated: reading should pause. `whole`: the view needs every byte
        (a framed stream; see EventBridge.push_whole)."""
        ts = time.time()
        if self.transcript is not None:
            self.transcript.data(ts, cid, outgoing, chunk, origin)
        if whole:
            return self.bridge.push_whole(ts, cid, outgoing, chunk, origin)
        return self.bridge.push_data(ts, cid, outgoing, chunk, origin)

    def _info(self, source: str, message: str) -> None:
        self._emit(ev.Note(time.time(), source, message))

    def _error(self, source: str, message: str) -> None:
        self._emit(ev.ErrorReported(time.time(), source, message))

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

    # flow control toward the UI: pause reading while the bridge's consumer is behind

    def _pause(self, key: str, flow: ReadFlow, reason: Pause) -> None:
        """Pause reading on `flow` for `reason`; it reads again once every reason is gone."""
        flow.pause(reason)
        self._read_paused[key] = flow

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

    def _on_engine_thread(self, func: Callable[[], None]) -> None:
        """Run `func` on the engine's loop: now if this is its thread, else soon."""
        loop = self._loop
        if loop is None or threading.current_thread() is self._thread:
            func()
            return
        with contextlib.suppress(RuntimeError):  # the loop already closed
            loop.call_soon_threadsafe(func)
