"""Closing the terminal (SIGHUP), SIGTERM and SIGINT end sockbench the way ctrl+q does: every
socket closed with its `close` record, the transcript flushed, the Unix listeners' socket
files removed and the terminal restored, with exit status 128 + the signal. And what a
kill -9 leaves: whole records, the bytes an exact prefix of what was sent, and a next run
that starts on a line of its own.

The real command runs in a private tmux server under `exit_wrapper.py`, which records the
exit status as the kernel reports it (a signal that killed the process is not an exit with
128 + N) and passes a hangup on to it as a login shell does.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import pty
import shlex
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from peers import short_temp_dir
from tmux_helpers import (
    HEIGHT,
    RUN_TIMEOUT,
    SCREEN_TIMEOUT,
    WIDTH,
    Tmux,
    read_line,
    sockbench_command,
    wait_until,
)

from workbench.engine import Engine, EventBridge
from workbench.protocol.endpoints import parse_url
from workbench.session.startup import StartupAction
from workbench.ui import exit_signals
from workbench.ui.app import SockbenchApp

LOCALHOST = "127.0.0.1"
WRAPPER = Path(__file__).with_name("exit_wrapper.py")
EXIT_TIMEOUT = 20.0  # seconds for the command to end once told to
HANGUP_AFTER_DATA = 0.03  # the 30 ms: well inside the transcript's 0.25 s flush period
FLOOD_BLOCK = 64 * 1024
FLOOD_ON_DISK = 16 * 1024 * 1024  # transcript bytes on disk before the kill -9
# What tmux reports of the terminal state sockbench sets while it runs.
# (Not the cursor's: tmux shows none in a dead pane, whatever the program left.)
TERMINAL_FLAGS = "#{alternate_on} #{mouse_any_flag} #{mouse_sgr_flag}"
RUNNING_FLAGS = "1 1 1"  # alternate screen, mouse reporting (SGR)
RESTORED_FLAGS = "0 0 0"

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the signal tests use Linux's /proc and ptys"
)


# --- the real command under the wrapper ---


class Wrapped:
    """One run of the real command in `tmux`, its pid and its exit status."""

    def __init__(self, tmux: Tmux, directory: Path, *args: str, session: str = "main") -> None:
        self.tmux = tmux
        self.pid_file = directory / f"{session}.pid"
        self.status_file = directory / f"{session}.status"
        command = [sys.executable, str(WRAPPER), str(self.pid_file), str(self.status_file)]
        command += sockbench_command(*args)
        conf = directory / "tmux.conf"
        conf.write_text("set -g remain-on-exit on\n")
        if session == "main":
            tmux.start(conf, shlex.join(command))
        else:
            tmux.run(
                "new-session", "-d", "-s", session, "-x", str(WIDTH), "-y", str(HEIGHT),
                shlex.join(command),
            )  # fmt: skip
        wait_until(lambda: read_line(self.pid_file), "the command to start", RUN_TIMEOUT)
        self.pid = int(self.pid_file.read_text())

    def status(self) -> str:
        """The exit status as the wrapper saw it ('-N': killed by signal N), '' while running."""
        return read_line(self.status_file).strip()

    def wait_status(self) -> int:
        wait_until(self.status, "the command to end", EXIT_TIMEOUT)
        return int(self.status())


def complete_records(path: Path) -> list[dict[str, Any]]:
    """The file's complete lines as records (each must be valid JSON)."""
    data = path.read_bytes() if path.exists() else b""
    return [json.loads(line) for line in data.split(b"\n")[:-1]]


def listen_port(path: Path) -> int:
    """The TCP listener's port, from its `listen` record once that is on disk."""
    found: list[dict[str, Any]] = []

    def on_disk() -> bool:
        records = complete_records(path)
        found[:] = [r for r in records if r["event"] == "listen" and r["transport"] == "tcp"]
        return bool(found)

    wait_until(on_disk, "the listen record on disk")
    return int(found[0]["local"][0].rsplit(":", 1)[1])


def received(records: list[dict[str, Any]], cid: str) -> bytes:
    return b"".join(
        base64.b64decode(r["data"], validate=True)
        for r in records
        if r["event"] == "data" and r["conn"] == cid and r["dir"] == "in"
    )


def assert_everything_kept(path: Path, sent: bytes, listeners: int) -> None:
    """One session, every line whole JSON, the peer's bytes exact, and a `close` record for
    the connection and for every listener."""
    data = path.read_bytes()
    assert data.endswith(b"\n"), f"the transcript ends mid-record: {data[-200:]!r}"
    records = complete_records(path)
    assert [r["event"] for r in records].count("session") == 1
    lids = [r["conn"] for r in records if r["event"] == "listen"]
    assert len(lids) == listeners, records
    (opened,) = [r for r in records if r["event"] == "open"]
    cid = opened["conn"]
    assert received(records, cid) == sent
    closed = {r["conn"]: r for r in records if r["event"] == "close"}
    assert set(closed) == {cid, *lids}, f"close records for {sorted(closed)} only: {records}"
    assert closed[cid]["bytes_in"] == len(sent)
    assert "sockbench quit" in closed[cid]["reason"]


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    with short_temp_dir() as directory:
        yield directory


# --- SIGHUP, SIGTERM, SIGINT: the same path as ctrl+q ---


def test_closing_the_terminal_keeps_everything_and_exits_129(
    tmux: Tmux, tmp_path: Path, sock_dir: Path
) -> None:
    transcript = tmp_path / "session.jsonl"
    unix_path = sock_dir / "l.sock"
    run = Wrapped(
        tmux, tmp_path,
        "--listen", f"tcp://{LOCALHOST}:0", "--listen", f"unix://{unix_path}",
        "--transcript", str(transcript),
    )  # fmt: skip
    port = listen_port(transcript)
    tmux.wait_screen(f"listening on unix {unix_path}", "both listeners on the screen")
    payload = b"sent just before the terminal closed\n"
    with socket.create_connection((LOCALHOST, port), timeout=SCREEN_TIMEOUT) as peer:
        peer.sendall(payload)
        tmux.wait_screen("sent just before the terminal closed", "the peer's line")
        time.sleep(HANGUP_AFTER_DATA)  # the timing: the periodic flush has not run
        tmux.run("kill-server")  # the terminal is gone: SIGHUP
        assert run.wait_status() == 128 + signal.SIGHUP
    assert_everything_kept(transcript, payload, listeners=2)
    assert not unix_path.exists(), "the Unix listener's socket file was left behind"


@pytest.mark.parametrize(
    "signals",
    [
        pytest.param([signal.SIGTERM], id="SIGTERM"),
        pytest.param([signal.SIGINT], id="SIGINT"),
        pytest.param([signal.SIGTERM, signal.SIGTERM, signal.SIGINT], id="SIGTERM-repeated"),
    ],
)
def test_a_signal_keeps_everything_restores_the_terminal_and_exits_128_plus_it(
    tmux: Tmux, tmp_path: Path, sock_dir: Path, signals: list[signal.Signals]
) -> None:
    transcript = tmp_path / "session.jsonl"
    unix_path = sock_dir / "l.sock"
    run = Wrapped(
        tmux, tmp_path,
        "--listen", f"tcp://{LOCALHOST}:0", "--listen", f"unix://{unix_path}",
        "--transcript", str(transcript),
    )  # fmt: skip
    port = listen_port(transcript)
    tmux.wait_screen(f"listening on unix {unix_path}", "both listeners on the screen")
    assert tmux.show(TERMINAL_FLAGS) == RUNNING_FLAGS
    payload = b"sent just before the signal\n"
    with socket.create_connection((LOCALHOST, port), timeout=SCREEN_TIMEOUT) as peer:
        peer.sendall(payload)
        tmux.wait_screen("sent just before the signal", "the peer's line")
        time.sleep(HANGUP_AFTER_DATA)
        first, *more = signals
        os.kill(run.pid, first)
        peer.settimeout(SCREEN_TIMEOUT)
        assert peer.recv(1) == b"", "the peer's connection was not closed"
        # The shutdown has begun: more signals now must not cut it short. (Sent together
        # with the first, the kernel would deliver the lowest-numbered pending one first.)
        with contextlib.suppress(ProcessLookupError):  # it may have ended already
            for number in more:
                os.kill(run.pid, number)
        assert run.wait_status() == 128 + first
    assert_everything_kept(transcript, payload, listeners=2)
    assert not unix_path.exists(), "the Unix listener's socket file was left behind"
    assert tmux.show(TERMINAL_FLAGS) == RESTORED_FLAGS, "the terminal was not restored"


def test_ctrl_q_still_exits_0(tmux: Tmux, tmp_path: Path) -> None:
    transcript = tmp_path / "session.jsonl"
    run = Wrapped(
        tmux, tmp_path, "--listen", f"tcp://{LOCALHOST}:0", "--transcript", str(transcript)
    )
    listen_port(transcript)
    tmux.keys("C-q")
    assert run.wait_status() == 0
    assert tmux.show(TERMINAL_FLAGS) == RESTORED_FLAGS
    assert [r["event"] for r in complete_records(transcript)] == ["session", "listen", "close"]


def test_a_signal_before_the_engine_starts_still_records_the_session(tmp_path: Path) -> None:
    """The signal arrives before the app's loop runs (it is held for it): the app quits
    before it starts the engine, and the transcript still has its session record."""
    transcript = tmp_path / "early.jsonl"
    bridge = EventBridge()
    engine = Engine(bridge, transcript_path=str(transcript))
    listen = StartupAction("listen", parse_url(f"tcp://{LOCALHOST}:0", for_listen=True))
    app = SockbenchApp(lambda: engine, bridge, [listen])
    before = {number: signal.getsignal(number) for number in exit_signals.SIGNALS}
    # A deadline far beyond the test's: the watchdog must never end pytest itself.
    signals = exit_signals.ExitSignals(app, deadline=10 * EXIT_TIMEOUT)
    try:
        signals.hold()
        os.kill(os.getpid(), signal.SIGTERM)  # handled at once: the handler only notes it
        assert signals.run(headless=True) == 128 + signal.SIGTERM
    finally:
        now = {number: signal.getsignal(number) for number in exit_signals.SIGNALS}
        for number, handler in before.items():
            signal.signal(number, handler)
    assert now == before, "the signal handlers were not put back"
    assert engine._thread is None, "the engine was started after the signal"
    records = complete_records(transcript)
    assert [r["event"] for r in records] == ["session"]


def test_a_terminal_that_no_longer_reads_does_not_keep_sockbench_from_quitting(
    tmp_path: Path,
) -> None:
    """The terminal stops reading (a stalled SSH session, say): Textual's output blocks, so
    its exit path cannot finish. The signal still closes everything and ends the process,
    within the exit watchdog's deadline."""
    transcript = tmp_path / "stalled.jsonl"
    command = sockbench_command("--listen", f"tcp://{LOCALHOST}:0", "--transcript", str(transcript))
    pid, master = pty.fork()
    if pid == 0:  # the child: the real command on a terminal nobody reads
        try:
            os.execv(command[0], command)
        finally:
            os._exit(127)
    try:
        port = listen_port(transcript)
        with socket.create_connection((LOCALHOST, port), timeout=SCREEN_TIMEOUT) as peer:
            lines = b"".join(b"line %d of a Log that keeps changing\n" % n for n in range(5000))
            peer.sendall(lines)
            wait_until(lambda: pending_output(master) > 0, "output the terminal does not read")
            started = time.monotonic()
            os.kill(pid, signal.SIGTERM)
            status = wait_exit(pid)
            took = time.monotonic() - started
        assert status == 128 + signal.SIGTERM
        assert took < exit_signals.EXIT_DEADLINE_SECONDS + EXIT_TIMEOUT / 2
        records = complete_records(transcript)
        (opened,) = [r for r in records if r["event"] == "open"]
        assert received(records, opened["conn"]) == lines
        closed = {r["conn"] for r in records if r["event"] == "close"}
        assert closed == {opened["conn"], "L1"}
    finally:
        with contextlib.suppress(ChildProcessError, ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(master)


def pending_output(master: int) -> int:
    """Bytes the program wrote to its terminal that nobody has read."""
    return struct.unpack("i", fcntl.ioctl(master, termios.FIONREAD, b"\0\0\0\0"))[0]


def wait_exit(pid: int) -> int:
    """The exit status of child `pid`, waited for with a timeout (-N: killed by signal N)."""
    found: list[int] = []

    def ended() -> bool:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            found.append(os.waitstatus_to_exitcode(status))
        return bool(found)

    wait_until(ended, "the command to end", EXIT_TIMEOUT)
    return found[0]


# --- kill -9 ---


def flood_block(index: int) -> bytes:
    return index.to_bytes(8, "big") * (FLOOD_BLOCK // 8)


def flood_prefix(size: int) -> bytes:
    blocks = -(-size // FLOOD_BLOCK)
    return b"".join(flood_block(index) for index in range(blocks))[:size]


class Flood(threading.Thread):
    """A peer sending as fast as it can until the connection breaks (or it is told to stop)."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection((LOCALHOST, port), timeout=SCREEN_TIMEOUT)
        self.stopped = threading.Event()

    def run(self) -> None:
        index = 0
        try:
            while not self.stopped.is_set():
                self.sock.sendall(flood_block(index))
                index += 1
        except OSError:
            pass

    def stop(self) -> None:
        self.stopped.set()
        self.join(EXIT_TIMEOUT)
        self.sock.close()


def test_kill_9_mid_flood_leaves_whole_records_and_the_next_run_starts_on_its_own_line(
    tmux: Tmux, tmp_path: Path
) -> None:
    transcript = tmp_path / "flood.jsonl"
    run = Wrapped(
        tmux, tmp_path, "--listen", f"tcp://{LOCALHOST}:0", "--transcript", str(transcript)
    )
    flood = Flood(listen_port(transcript))
    flood.start()
    try:
        wait_until(lambda: transcript.stat().st_size > FLOOD_ON_DISK, "the flood in the transcript")
        os.kill(run.pid, signal.SIGKILL)
        assert run.wait_status() == -signal.SIGKILL
    finally:
        flood.stop()

    data = transcript.read_bytes()
    records = complete_records(transcript)  # every complete line is valid JSON
    (opened,) = [r for r in records if r["event"] == "open"]
    kept = received(records, opened["conn"])
    assert len(kept) > FLOOD_ON_DISK // 2
    assert kept == flood_prefix(len(kept)), "the recorded bytes are not what the peer sent"
    cut = not data.endswith(b"\n")

    # The next run on the same file starts on a line of its own and says whether the
    # previous one was cut.
    again = Wrapped(tmux, tmp_path, "--transcript", str(transcript), session="again")
    wait_until(lambda: len(transcript.read_bytes()) > len(data), "the next session's record")
    tmux.run("send-keys", "-t", "again", "C-q")
    assert again.wait_status() == 0
    after = transcript.read_bytes()
    assert after.startswith(data)
    added = after[len(data) :]
    assert added.startswith(b"\n") == cut
    new_records = [json.loads(line) for line in added.split(b"\n")[:-1] if line]
    assert new_records[0]["event"] == "session"
    assert new_records[0].get("previous_cut", False) == cut
    assert after.endswith(b"\n")


# --- the command line ---


def test_an_empty_transcript_path_is_a_usage_error() -> None:
    """An unset shell variable (`--transcript "$LOG"`) must not mean "no transcript"."""
    result = subprocess.run(
        sockbench_command("--transcript", "", "--listen", f"tcp://{LOCALHOST}:0"),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "--transcript" in lines[0] and "empty" in lines[0]
