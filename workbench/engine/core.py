"""The engine: owns every socket, in its own asyncio loop on a background thread.

Commands come in through `submit` (thread-safe); every outcome goes out as an event, first to
the transcript (every byte, exactly) and then to the bridge (bounded, for the UI).
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from workbench.engine.acceptor import SpareDescriptor
from workbench.engine.behaviour_switch import BehaviourSwitch
from workbench.engine.behaviours import behaviour_for
from workbench.engine.behaviours.replay import use_loader
from workbench.engine.bridge import EventBridge
from workbench.engine.connection import NotSent
from workbench.engine.limits import raise_open_files_limit, reserve_descriptor_room
from workbench.engine.listener import Listener
from workbench.engine.repeats import Repeats
from workbench.engine.sequences import Sequences
from workbench.protocol import commands as cmd
from workbench.protocol import events as ev
from workbench.protocol.addresses import EndpointError
from workbench.protocol.endpoints import Endpoint
from workbench.protocol.enums import CloseCause, Origin, OriginName, is_origin_name
from workbench.protocol.options import SocketOptions
from workbench.protocol.sequences import SendPayload, Sequence
from workbench.transcript.writer import CLOSE_SECONDS

if TYPE_CHECKING:
    from workbench.replay.script import Script


def replay_scripts(text: str) -> tuple[Script, ...]:
    """The recording a `replay=` option names, read when its listener or connection opens
    (the replay behaviour is sans-IO: it is handed its scripts). Loaded on first use."""
    from workbench.replay.recording import load_scripts

    return load_scripts(text)


use_loader(replay_scripts)

SHUTDOWN_GRACE_SECONDS = 0.5
DEFAULT_CONNECT_TIMEOUT = 10.0
GIL_SWITCH_SECONDS = 0.0002


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where installed: measured on a 2-core machine, the default loop lost about half
    of 100-byte datagrams paced at 100k/s, uvloop 0.01 %."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class Engine(BehaviourSwitch):
    """The public API (thread-safe) and the engine thread's life. Built in layers, each a
    module with one job: base (state, the emit path, paused readers), transcript_upkeep,
    listening, traffic (sending and receiving), lifecycle (opening and closing)."""

    def __init__(self, bridge: EventBridge, transcript_path: str | None = None) -> None:
        """Raises OSError if the transcript file cannot be opened."""
        super().__init__(bridge, transcript_path)
        self.sequences = Sequences(
            self._emit,
            self._send_or_why,
            lambda cid, origin: self._half_closed(cid, True, origin=origin),
            self.connections,
            self._pending,
        )
        self._sequence_runs = self.sequences.runs
        self.repeats = Repeats(self._emit, self._send, self._info, self._error, self.connections)
        self._handlers = self._command_handlers()

    # --- thread-safe API (any thread) ---

    def start(self) -> None:
        raise_open_files_limit()
        reserve_descriptor_room()
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

    def send(self, cid: str, data: bytes, origin: OriginName = Origin.YOU) -> None:
        """Send `data` on `cid`, marked as sent by `origin` (`macro greet` for a macro's)."""
        self.submit(cmd.Send(cid, data, origin))

    def run_sequence(self, cid: str, sequence: Sequence) -> None:
        """Run `sequence` on `cid` (one still connecting: once it opens): SequenceProgress
        events say each step, a SequenceEnded how it ended."""
        self.submit(cmd.RunSequence(cid, sequence))

    def start_repeat(
        self,
        rid: str,
        cids: Iterable[str],
        payload: SendPayload,
        interval: float,
        times: int = 0,
        origin: OriginName = Origin.REPEAT,
    ) -> None:
        """Send `payload` to each of `cids` every `interval` seconds, `times` times (0: until
        stop_repeat): RepeatProgress events say how far it got, and when it finished."""
        self.submit(cmd.StartRepeat(rid, tuple(cids), payload, interval, times, origin))

    def stop_repeat(self, rid: str) -> None:
        self.submit(cmd.StopRepeat(rid))

    def half_close(self, cid: str) -> None:
        self.submit(cmd.HalfClose(cid))

    def close(self, cid: str) -> None:
        self.submit(cmd.Close(cid))

    def reset(self, cid: str) -> None:
        self.submit(cmd.Reset(cid))

    def start_tls(self, cid: str) -> None:
        """Upgrade open plain stream connection `cid` to TLS in place (STARTTLS): the
        client's side on a connection you opened, the server's on a listener's peer. A
        TlsEstablished event, or its close in words, tells how it went."""
        self.submit(cmd.StartTls(cid))

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

    def set_behaviour(self, lid: str, options: SocketOptions) -> None:
        self.submit(cmd.SetBehaviour(lid, options))

    def frame_whole(self, cid: str, whole: bool) -> None:
        self.submit(cmd.FrameWhole(cid, whole))

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
            cmd.StartTls: lambda c: self._start_tls(c.cid),
            cmd.AddPeer: lambda c: self._in_background(self._add_peer(c.lid, c.endpoint)),
            cmd.SendFile: lambda c: self._in_background(self._send_file(c.cid, c.path)),
            cmd.SetBehaviour: lambda c: self._set_behaviour(c.lid, c.options),
            cmd.RunSequence: lambda c: self.sequences.start(c.cid, c.sequence),
            cmd.StartRepeat: lambda c: self.repeats.start(
                c.rid, c.cids, c.payload, c.interval, c.times, c.origin
            ),
            cmd.StopRepeat: lambda c: self.repeats.stop(c.rid),
            cmd.FrameWhole: lambda c: self._frame_whole(c.cid, c.whole),
        }

    def _do_listen(self, command: cmd.Listen) -> None:
        # Registered now, so a CloseListener right behind it finds it.
        try:
            behaviour = behaviour_for(command.endpoint.options)
        except EndpointError as exc:  # options that skipped the UI's and the flags' checks
            self._error(command.lid, f"cannot listen: {exc}")
            return
        listener = Listener(command.lid, command.endpoint, behaviour=behaviour)
        self.listeners[command.lid] = listener
        listener.opening = asyncio.ensure_future(self._listen(listener))

    def _do_connect(self, command: cmd.Connect) -> None:
        cid, endpoint = command.cid, command.endpoint
        try:
            behaviour = behaviour_for(endpoint.options)
        except EndpointError as exc:  # options that skipped the UI's and the flags' checks
            self._error(cid, f"cannot connect: {exc}")
            return
        if behaviour is not None:
            self._own_behaviours[cid] = behaviour
        # Reported now, so a Close right behind it has something to cancel.
        self._emit(
            ev.Connecting(time.time(), cid, endpoint.address, endpoint.transport, endpoint.scheme)
        )
        self._pending[cid] = asyncio.ensure_future(self._connect(cid, endpoint, command.timeout))

    def _do_send(self, command: cmd.Send) -> None:
        if not is_origin_name(command.origin):
            self._error(command.cid, f"not sent: {command.origin!r} cannot name who sent it")
            return
        self._send(command.cid, command.data, command.origin)

    def _do_half_close(self, command: cmd.HalfClose) -> None:
        stream = self._stream_connection(command.cid, "cannot send EOF")
        try:
            if stream is not None and stream.half_close():
                self._half_closed(stream.cid, outgoing=True)
        except NotSent as exc:
            self._info(command.cid, str(exc))

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

    async def _shutdown(self) -> None:
        self.sequences.stop_all("sockbench quit")
        self.repeats.stop_all("sockbench quit")
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
        await self.programs.end_all()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        if self.transcript is not None:
            self.transcript.close(CLOSE_SECONDS)  # what a stalled file still holds is lost, said
        asyncio.get_running_loop().stop()
