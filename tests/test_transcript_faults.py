"""The transcript cannot be written: a full disk (/dev/full, a small tmpfs filled up) or a
directory removed while sockbench runs. The user is told once, recording stops, and the
sockets, their counts and the Log go on as before.

Every case sends data over several of the engine's transcript flush periods, so a report per
write or per flush would show as more than one error.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import EngineFactory
from peers import (
    Collector,
    connect_client,
    listening_port,
    recv_exactly,
)
from textual.pilot import Pilot
from textual.widgets import Input
from tmux_helpers import Tmux
from ui_helpers import (
    focus,
    log_text,
    make_app,
    run_app,
    the_app,
    type_line,
    wait_listener_port,
    wait_log,
    wait_notified,
    wait_open_connection,
    wait_ui,
)

from workbench.engine.transcript_upkeep import TRANSCRIPT_FLUSH_SECONDS
from workbench.log import Record
from workbench.protocol import events as ev
from workbench.protocol.endpoints import parse_url
from workbench.transcript.export import export_connection
from workbench.ui.log_dialogs import PathDialog

LOCALHOST = "127.0.0.1"
ROUNDS = 12
CHUNK = 16 * 1024
ROUND_SECONDS = 0.1  # 12 rounds: about 5 flush periods of 0.25 s
FAILED = "can no longer be written"
QUIET_SECONDS = 4 * TRANSCRIPT_FLUSH_SECONDS  # long enough for a second report to show


def chunk(index: int) -> bytes:
    return bytes([65 + index % 26]) * CHUNK


def transcript_errors(events: Collector) -> list[ev.ErrorReported]:
    return [e for e in events.of(ev.ErrorReported) if e.source == "transcript"]


@contextlib.contextmanager
def small_tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `where` (needs root; skips when mounting is not allowed)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill up needs root")
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        timeout=10,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=10)


def fill_up(directory: Path) -> None:
    """Write zeros into `directory` until its file system has no space left."""
    block = b"\0" * 65536
    with open(directory / "filler", "wb", buffering=0) as filler, contextlib.suppress(OSError):
        while True:
            filler.write(block)
    with pytest.raises(OSError) as full, open(directory / "probe", "wb", buffering=0) as probe:
        probe.write(block)
    assert full.value.errno == errno.ENOSPC


def run_traffic(
    engine_and_events: tuple[object, Collector], midway: Callable[[], None]
) -> tuple[str, bytes, socket.socket]:
    """A listener, one client sending ROUNDS chunks over several flush periods, `midway`
    called a third of the way; returns the connection id, what was sent, and the client."""
    engine, events = engine_and_events
    lid = engine.listen(parse_url("tcp://127.0.0.1:0", for_listen=True))  # type: ignore[attr-defined]
    events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid)
    port = listening_port(events, lid)
    client = connect_client(port)
    opened = events.wait_for(lambda e: isinstance(e, ev.ConnectionOpened))
    sent = bytearray()
    for index in range(ROUNDS):
        if index == ROUNDS // 3:
            midway()
        client.sendall(chunk(index))
        sent += chunk(index)
        time.sleep(ROUND_SECONDS)
    return opened.cid, bytes(sent), client


def assert_sockets_unharmed(
    engine: object, events: Collector, cid: str, sent: bytes, client: socket.socket
) -> None:
    """Every byte received is in the events; a reply still reaches the peer; closing works,
    and the counts are exact."""
    events.wait_received(cid, len(sent))
    assert events.received(cid) == sent
    engine.send(cid, b"still working\n")  # type: ignore[attr-defined]
    assert recv_exactly(client, len(b"still working\n")) == b"still working\n"
    engine.close(cid)  # type: ignore[attr-defined]
    assert recv_exactly(client, 0) == b"" and client.recv(1) == b"", "no close reached the peer"
    client.close()
    events.wait_closed(cid)
    counts = (events.size(cid, outgoing=False), events.size(cid, outgoing=True))
    assert counts == (len(sent), len(b"still working\n"))


def assert_told_once(events: Collector, reason: str) -> None:
    error = events.wait_error("transcript")
    assert FAILED in error.message and reason in error.message, error.message
    assert "the connections go on" in error.message
    events.settle(QUIET_SECONDS)
    assert len(transcript_errors(events)) == 1, events.describe()


def recorded_bytes(path: Path, cid: str) -> bytes:
    """What the transcript holds of `cid`'s received bytes, from its complete lines."""
    data = bytearray()
    for line in path.read_bytes().split(b"\n")[:-1]:
        record = json.loads(line)
        if record["event"] == "data" and record["conn"] == cid and record["dir"] == "in":
            data += base64.b64decode(record["data"])
    return bytes(data)


# --- the engine ---


def test_dev_full_is_reported_once_and_the_sockets_keep_working(
    make_engine: EngineFactory,
) -> None:
    engine, events = make_engine(transcript_path="/dev/full")
    cid, sent, client = run_traffic((engine, events), midway=lambda: None)
    assert_told_once(events, "No space left on device")
    assert_sockets_unharmed(engine, events, cid, sent, client)
    assert len(transcript_errors(events)) == 1


def test_a_disk_that_fills_up_is_reported_once_and_what_was_written_stays(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    with small_tmpfs(tmp_path / "disk", "2m") as disk:
        transcript = disk / "session.jsonl"
        engine, events = make_engine(transcript_path=str(transcript))
        cid, sent, client = run_traffic((engine, events), midway=lambda: fill_up(disk))
        assert_told_once(events, "No space left on device")
        assert_sockets_unharmed(engine, events, cid, sent, client)
        # What the transcript holds is exact up to where the disk filled.
        kept = recorded_bytes(transcript, cid)
        assert sent.startswith(kept)
        (disk / "filler").unlink()  # room again: recording stays stopped, no second report
        events.settle(QUIET_SECONDS)
        assert len(transcript_errors(events)) == 1


def test_a_transcript_whose_directory_is_removed_is_reported_once(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    directory = tmp_path / "records"
    directory.mkdir()
    engine, events = make_engine(transcript_path=str(directory / "session.jsonl"))
    cid, sent, client = run_traffic((engine, events), midway=lambda: shutil.rmtree(directory))
    assert_told_once(events, "the file was deleted")
    assert_sockets_unharmed(engine, events, cid, sent, client)
    assert not directory.exists()


# --- what the user sees ---


def test_the_app_tells_once_keeps_counting_and_exports_from_the_log(tmp_path: Path) -> None:
    lines = [f"line {index}\n".encode() for index in range(ROUNDS)]
    prefix = tmp_path / "export"

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        peer = connect_client(port)
        conn = await wait_open_connection(pilot)
        for line in lines:
            peer.sendall(line)
            await pilot.pause(ROUND_SECONDS)
        await wait_log(pilot, f"line {ROUNDS - 1}")
        await wait_log(pilot, FAILED)
        await pilot.pause(QUIET_SECONDS)
        total = sum(map(len, lines))
        assert app.session.connections[conn.cid].bytes_in == total
        told = [n for n in app._notifications if FAILED in str(n.message)]
        assert len(told) == 1, told
        assert sum(FAILED in row for row in log_text(app)) == 1
        assert app.is_running

        await type_line(pilot, "reply")
        assert recv_exactly(peer, len(b"reply\n")) == b"reply\n"

        # The transcript stopped: the export takes the Log's bytes (and does not read
        # /dev/full, which never ends).
        await focus(pilot, app.log_view)
        await pilot.press("e")
        await wait_ui(pilot, lambda: isinstance(app.screen, PathDialog), "the export dialog")
        app.screen.query_one("#path", Input).value = str(prefix)
        await pilot.press("enter")
        await wait_notified(pilot, "wrote")
        assert Path(f"{prefix}.in.bin").read_bytes() == b"".join(lines)
        assert Path(f"{prefix}.out.bin").read_bytes() == b"reply\n"
        notice = next(str(n.message) for n in app._notifications if "wrote" in str(n.message))
        assert "from the log" in notice
        peer.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"], transcript="/dev/full"), scenario)


def test_the_real_command_with_its_transcript_on_dev_full(tmux: Tmux, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind((LOCALHOST, 0))
        port = probe.getsockname()[1]
    tmux.start_sockbench(
        tmp_path, "--listen", f"tcp://{LOCALHOST}:{port}", "--transcript", "/dev/full"
    )
    tmux.wait_screen(f"listening on tcp {LOCALHOST}:{port}", "the listener")
    with socket.create_connection((LOCALHOST, port), timeout=10) as peer:
        for index in range(ROUNDS):
            peer.sendall(f"line {index}\n".encode())
            time.sleep(ROUND_SECONDS)
        tmux.wait_screen(f"line {ROUNDS - 1}", "the last line")
        tmux.wait_screen("transcript /dev/full can no longer be written", "the report")
        tmux.keys("answer", literal=True)
        tmux.keys("Enter")
        assert recv_exactly(peer, len(b"answer\n"), 10) == b"answer\n"
        assert tmux.exited() == ""
        tmux.quit_sockbench()


def test_an_export_never_reads_a_transcript_that_is_not_a_regular_file(tmp_path: Path) -> None:
    # /dev/full reads as endless zeros: reading it back would freeze the app.
    records = [
        Record(1, 0.0, "C1", "in", b"from the log", 12),
        Record(2, 0.0, "C1", "out", b"sent", 4),
    ]
    done = export_connection("C1", str(tmp_path / "x"), records, "/dev/full", dropped=0)
    assert (done.source, done.complete) == ("log", True)
    assert done.received.read_bytes() == b"from the log"
    assert done.sent.read_bytes() == b"sent"


# --- what a peer puts in the transcript ---


def test_peer_names_that_are_not_utf8_or_hold_escapes_are_recorded_safely(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    """A Unix peer chooses its own address, bytes that need not be UTF-8: the transcript
    stays valid ASCII JSON (escapes for everything else, nothing a terminal would act on
    when it is printed) and keeps recording."""
    transcript = tmp_path / "session.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    name = f"sockbench-names-{os.getpid()}"
    stream = engine.listen(parse_url(f"unix://@{name}", for_listen=True))
    dgram = engine.listen(parse_url(f"unix-dgram://@{name}-d", for_listen=True))
    for lid in (stream, dgram):
        events.wait_for(lambda e, lid=lid: isinstance(e, ev.ListenerOpened) and e.lid == lid)
    hostile = b"\x9b\x1b]2;pwned\x07\xe2\x80\xae\xff"
    path = f"/tmp/sb-{os.getpid()}-".encode() + hostile
    with contextlib.ExitStack() as stack:
        stack.callback(lambda: os.path.exists(path) and os.unlink(path))
        peer = stack.enter_context(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
        peer.bind(path)
        peer.connect(b"\0" + name.encode())
        peer.sendall(b"from a path\n")
        datagrams = stack.enter_context(socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM))
        datagrams.bind(b"\0" + hostile)
        datagrams.sendto(b"from a name\n", b"\0" + f"{name}-d".encode())
        opened = [
            events.wait_for(
                lambda e, lid=lid: isinstance(e, ev.ConnectionOpened) and e.listener == lid
            )
            for lid in (stream, dgram)
        ]
        for conn in opened:
            events.wait_received(conn.cid, len(b"from a path\n"))
        assert engine.flush_transcript()
    assert transcript_errors(events) == [], events.describe()
    raw = transcript.read_bytes()
    text = raw.decode("ascii")  # valid UTF-8, and plain ASCII
    records = [json.loads(line) for line in text.splitlines()]
    remotes = {r["conn"]: r["remote"] for r in records if r["event"] == "open"}
    assert set(remotes) == {conn.cid for conn in opened}
    received = {r["conn"]: base64.b64decode(r["data"]) for r in records if r["event"] == "data"}
    assert received == {opened[0].cid: b"from a path\n", opened[1].cid: b"from a name\n"}
