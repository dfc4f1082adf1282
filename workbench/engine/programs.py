"""Running the programs of `exec=` and `sh=` listeners: one per connection, on the engine's
loop, with asyncio's subprocesses.

The peer's bytes go to the program's stdin, its stdout to the peer through the engine's send
path (counted, in the Log and the transcript, origin `exec`), its stderr to the Log as
bounded lines. Both ways are flow-controlled: the program's stdout is not read while the
socket's send buffer is full, and the peer is not read while the program's stdin is full, so
sockbench holds a bounded amount whoever is slow. The program's exit ends the connection
(after what it wrote has been sent); the connection's end ends the program: its stdin is
closed, its process group gets SIGTERM, then SIGKILL after a grace. Each program is a
session of its own (`start_new_session`): the user's terminal signals do not reach it, and
its process group takes its children with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from typing import Protocol

from workbench.engine.bridge import EventBridge
from workbench.engine.connection import Connection
from workbench.engine.flow import Pause, ReadFlow
from workbench.engine.stderr_lines import StderrLines
from workbench.engine.stream import StreamConnection
from workbench.exec_command import Program
from workbench.protocol.enums import Origin, OriginName
from workbench.transcript.writer import TranscriptWriter

# Reads of the program's stdout (each one send to the peer).
STDOUT_CHUNK = 64 * 1024
STDERR_CHUNK = 4096
# What the program's stdin may hold before reading from the peer pauses.
STDIN_HIGH_WATER = 256 * 1024
# After SIGTERM, the time a program gets to end before SIGKILL; at quit, a shorter one.
TERM_GRACE_SECONDS = 2.0
QUIT_GRACE_SECONDS = 1.0
# A program that is gone but whose pipes a child it left behind (in a session of its own)
# keeps open: what is still read of them after this long is not waited for.
PIPES_GRACE_SECONDS = 1.0


class ProgramOwner(Protocol):
    """What of the engine a program uses: its send path, the Log, and pausing a peer."""

    def _send(self, cid: str, data: bytes, origin: OriginName = ...) -> bool: ...
    def _hang_up(self, conn: Connection, reason: str, origin: OriginName) -> None: ...
    def _info(self, source: str, message: str) -> None: ...
    def _error(self, source: str, message: str) -> None: ...
    def _pause(self, key: str, flow: ReadFlow, reason: Pause) -> None: ...
    def _resume(self, reason: Pause, key: str | None = None) -> None: ...
    def _transcript_behind(self, key: str, flow: ReadFlow) -> None: ...

    @property
    def bridge(self) -> EventBridge: ...
    @property
    def transcript(self) -> TranscriptWriter | None: ...


def describe_status(returncode: int) -> str:
    if returncode >= 0:
        return f"exited with status {returncode}"
    number = -returncode
    try:
        name = f" ({signal.Signals(number).name})"
    except ValueError:
        name = ""
    return f"killed by signal {number}{name}"


def program_environment(conn: StreamConnection) -> dict[str, str]:
    """The program's environment: sockbench's, and where its connection is from and to (as
    ncat and socat tell theirs)."""
    env = dict(os.environ)
    told = {
        "SOCKBENCH_CONN": conn.cid,
        "SOCKBENCH_LISTENER": conn.listener or "",
        "SOCKBENCH_TRANSPORT": str(conn.transport_kind),
        "SOCKBENCH_PEER": conn.remote,
        "SOCKBENCH_LOCAL": conn.local,
    }
    # A Unix peer names itself: its name may hold a NUL, which no environment can.
    env.update({name: value.replace("\0", "\\0") for name, value in told.items()})
    return env


class RunningProgram:
    """One connection's program, from its start to its end (and its reaping)."""

    def __init__(self, owner: ProgramOwner, conn: StreamConnection, program: Program) -> None:
        self.owner = owner
        self.conn = conn
        self.program = program
        self.label = f"{program.kind}: {program.name}"
        self.process: asyncio.subprocess.Process | None = None
        self.pending: list[bytes] = []  # what the peer sent before the program started
        self.input_ended = False
        self.told_dropped = False
        self.stopping = False
        self.grace = TERM_GRACE_SECONDS
        self._kill_timer: asyncio.TimerHandle | None = None
        self._drain: asyncio.Task[None] | None = None
        self._pumps: list[asyncio.Task[None]] = []
        # Reading its stdout pauses, like reading a socket, while the UI or the transcript
        # is behind (the engine resumes it with the others).
        self.stdout_key = f"{conn.cid} {program.kind}"
        self._stdout_open = asyncio.Event()
        self._stdout_open.set()
        self.stdout_flow = ReadFlow(self._stdout_open.clear, self._stdout_open.set)
        self.task = asyncio.ensure_future(self._run())

    # the peer's side

    def feed(self, data: bytes) -> None:
        if self.process is None:
            self.pending.append(data)  # reading from the peer is paused until it starts
        else:
            self._write(data)

    def end_input(self) -> None:
        self.input_ended = True
        if self.process is not None and self.process.stdin is not None:
            self.process.stdin.close()  # once what it holds is written

    def _write(self, data: bytes) -> None:
        stdin = self.process.stdin if self.process is not None else None
        if stdin is None or self.input_ended or stdin.is_closing():
            if not self.told_dropped and not self.stopping:
                self.told_dropped = True
                self.owner._info(
                    self.conn.cid,
                    f"{self.label} no longer reads its input: what the peer sends from now "
                    "on is recorded but not handed to it",
                )
            return
        stdin.write(data)
        if stdin.transport.get_write_buffer_size() > STDIN_HIGH_WATER and self._drain is None:
            self._pause_peer()
            self._drain = asyncio.ensure_future(self._wait_for_room(stdin))

    async def _wait_for_room(self, stdin: asyncio.StreamWriter) -> None:
        try:
            await stdin.drain()
        except (ConnectionError, OSError):
            pass  # it closed its stdin: the next write says so
        finally:
            self._drain = None
            self._resume_peer()

    def _pause_peer(self) -> None:
        self.owner._pause(self.conn.cid, self.conn.flow, Pause.PROGRAM)

    def _resume_peer(self) -> None:
        self.owner._resume(Pause.PROGRAM, self.conn.cid)

    # the program's side

    async def _run(self) -> None:
        conn, cid = self.conn, self.conn.cid
        conn.busy += 1  # the EOF grace waits for the program (it may still answer)
        self._pause_peer()
        try:
            try:
                process = await asyncio.create_subprocess_exec(
                    *self.program.argv,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    start_new_session=True,
                    env=program_environment(conn),
                )
            except (OSError, ValueError) as exc:  # ValueError: a NUL in its environment
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                self.owner._error(cid, f"{self.label} cannot run: {reason}")
                self._end_connection(f"{self.label} could not run")
                return
            self.process = process
            self.owner._info(cid, f"{self.label} started (pid {process.pid})")
            if self.stopping:  # the connection ended while it was starting
                self._signal_stop()
            for data in self.pending:
                self._write(data)
            self.pending.clear()
            if self.input_ended:
                self.end_input()
            if self._drain is None:
                self._resume_peer()
            status = await self._until_done(process)
        finally:
            conn.busy -= 1
            if self._kill_timer is not None:
                self._kill_timer.cancel()
        if self.stopping:
            self.owner._info(cid, f"{self.label} (pid {process.pid}) ended with {cid}: {status}")
        else:
            self._end_connection(f"{self.label} {status}")

    async def _until_done(self, process: asyncio.subprocess.Process) -> str:
        """Pump its output until it has exited and its pipes are read to the end."""
        self._pumps = [
            asyncio.ensure_future(self._pump_stdout(process)),
            asyncio.ensure_future(self._pump_stderr(process)),
        ]
        returncode = await process.wait()
        if self.stopping:
            await asyncio.wait(self._pumps, timeout=PIPES_GRACE_SECONDS)
            self._stop_pumps()
        await asyncio.wait(self._pumps)
        return describe_status(returncode)

    async def _pump_stdout(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        conn, owner = self.conn, self.owner
        try:
            while True:
                if conn.is_open:
                    await conn.writable.wait()  # not read while the peer does not take it
                    await self._stdout_open.wait()
                data = await process.stdout.read(STDOUT_CHUNK)
                if not data:
                    return
                if conn.is_open:
                    owner._send(conn.cid, data, Origin.EXEC)
                    if owner.bridge.saturated:
                        owner._pause(self.stdout_key, self.stdout_flow, Pause.BRIDGE)
                    if (transcript := owner.transcript) is not None and transcript.behind:
                        owner._transcript_behind(self.stdout_key, self.stdout_flow)
        finally:
            for reason in (Pause.BRIDGE, Pause.TRANSCRIPT):
                owner._resume(reason, self.stdout_key)

    async def _pump_stderr(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        lines = StderrLines(f"{self.program.kind} stderr: ")
        while data := await process.stderr.read(STDERR_CHUNK):
            for text in lines.feed(data, time.monotonic()):
                self.owner._info(self.conn.cid, text)
        for text in lines.finish(time.monotonic()):
            self.owner._info(self.conn.cid, text)

    def _end_connection(self, reason: str) -> None:
        if self.conn.is_open:
            self.owner._hang_up(self.conn, reason, Origin.EXEC)

    # ending it

    def stop(self, grace: float) -> None:
        """The connection is gone: end the program (SIGTERM, then SIGKILL after `grace`). A
        second call may only shorten the grace (quitting)."""
        first = not self.stopping
        self.stopping = True
        if first:
            self.grace = grace
            self.pending.clear()
            self.input_ended = True
            if self.process is not None:
                self._signal_stop()
        elif grace < self.grace and self._kill_timer is not None:
            self.grace = grace
            self._kill_timer.cancel()
            self._kill_timer = asyncio.get_running_loop().call_later(grace, self._kill)

    def _signal_stop(self) -> None:
        assert self.process is not None
        if self.process.stdin is not None:
            self.process.stdin.close()
        self._signal(signal.SIGTERM)
        self._kill_timer = asyncio.get_running_loop().call_later(self.grace, self._kill)

    def _kill(self) -> None:
        self._kill_timer = None
        self._signal(signal.SIGKILL)
        # A child that left its session may hold the pipes open for ever: not waited for.
        asyncio.get_running_loop().call_later(PIPES_GRACE_SECONDS, self._stop_pumps)

    def _stop_pumps(self) -> None:
        for pump in self._pumps:
            pump.cancel()

    def _signal(self, sig: signal.Signals) -> None:
        """Signal its process group: the program and the children it started."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)


class Programs:
    """The programs running for connections, by connection id."""

    def __init__(self, owner: ProgramOwner) -> None:
        self.owner = owner
        self.running: dict[str, RunningProgram] = {}

    def run(self, conn: Connection, program: Program) -> None:
        if not isinstance(conn, StreamConnection) or conn.cid in self.running:
            self.owner._error(conn.cid, f"{program.kind}: runs for stream connections only")
            return
        running = RunningProgram(self.owner, conn, program)
        self.running[conn.cid] = running
        running.task.add_done_callback(lambda _: self._finished(conn.cid, running))

    def _finished(self, cid: str, running: RunningProgram) -> None:
        if self.running.get(cid) is running:
            del self.running[cid]

    def feed(self, cid: str, data: bytes) -> None:
        if (running := self.running.get(cid)) is not None:
            running.feed(data)

    def end_input(self, cid: str) -> None:
        """The peer sent EOF: so does the program's stdin; the connection waits for it."""
        if (running := self.running.get(cid)) is not None and not running.stopping:
            running.end_input()
            name = running.program.name
            self.owner._info(cid, f"{running.label}'s input ended; {cid} ends when {name} exits")

    def connection_closed(self, cid: str) -> None:
        if (running := self.running.get(cid)) is not None:
            running.stop(TERM_GRACE_SECONDS)

    async def end_all(self) -> None:
        """Quitting: end every program, and wait (bounded) until each is reaped."""
        if not self.running:
            return
        for running in self.running.values():
            running.stop(QUIT_GRACE_SECONDS)
        tasks = [running.task for running in self.running.values()]
        await asyncio.wait(tasks, timeout=QUIT_GRACE_SECONDS + PIPES_GRACE_SECONDS + 0.5)
