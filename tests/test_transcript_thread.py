"""The transcript is written by a thread of its own, and files are read in threads: a file that
takes (or gives) nothing never stops the engine's loop, so every other socket goes on.

When the transcript cannot keep up, sockbench keeps its promise: reading pauses (and the Log
says so when it lasts) until the writer catches up, every byte recorded exactly once; a file
that takes nothing for `stall_seconds` stops recording, loudly, and reading goes on. A FIFO
with no reader at start-up is an error at once (exit 2), not a blank screen.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import EngineFactory
from peers import Collector, connect_client, free_port, port_of, recv_exactly, wait_until
from tmux_helpers import Tmux

from workbench.engine import Engine
from workbench.engine.flow import Pause
from workbench.protocol import events as ev
from workbench.protocol.endpoints import format_sockname, parse_url
from workbench.transcript.writer import CLOSE_SECONDS, HIGH_WATER

MB = 1024 * 1024
# More than the writer may hold back (base64 makes 4/3 of it): the flood must pause.
FLOOD_BYTES = (HIGH_WATER * 3 // 4) + 32 * MB
WAIT = 30.0


def flood_block(index: int) -> bytes:
    """1 MiB that says where it belongs: a lost, doubled or reordered block shows."""
    return index.to_bytes(4, "big") * (MB // 4)


def flood(size: int) -> bytes:
    return b"".join(flood_block(index) for index in range(size // MB))


def start_listener(engine: Engine, events: Collector) -> tuple[str, int]:
    lid = engine.listen(parse_url("tcp://127.0.0.1:0", for_listen=True))
    opened = events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid)
    return lid, port_of(opened.local[0])


def accept(events: Collector, lid: str, port: int) -> tuple[Any, str]:
    client = connect_client(port, timeout=WAIT)
    me = format_sockname(client.getsockname())
    opened = events.wait_for(
        lambda e: isinstance(e, ev.ConnectionOpened) and e.listener == lid and e.remote == me
    )
    return client, opened.cid


def send_in_background(sock: Any, data: bytes) -> threading.Thread:
    thread = threading.Thread(target=sock.sendall, args=(data,), daemon=True)
    thread.start()
    return thread


def streams_of(raw: bytes) -> tuple[list[dict[str, Any]], dict[tuple[str, str], bytes]]:
    """Every line is a whole JSON record; the bytes of each (conn, dir), decoded in order."""
    assert raw.endswith(b"\n"), f"a record cut at the end: {raw[-80:]!r}"
    records = [json.loads(line) for line in raw.split(b"\n")[:-1]]
    streams: dict[tuple[str, str], bytearray] = defaultdict(bytearray)
    for record in records:
        if record["event"] == "data":
            chunk = base64.b64decode(record["data"], validate=True)
            assert len(chunk) == record["size"]
            streams[record["conn"], record["dir"]] += chunk
    return records, {key: bytes(value) for key, value in streams.items()}


def notes(events: Collector, text: str) -> list[str]:
    return [e.message for e in events.of(ev.Note) if text in e.message]


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "transcript.fifo"
    os.mkfifo(path)
    return path


@contextlib.contextmanager
def fifo_reader(path: Path) -> Iterator[int]:
    """A reader that holds the FIFO open and reads nothing until told to."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        yield fd
    finally:
        os.close(fd)


class Drain(threading.Thread):
    """Reads the FIFO to its end (the transcript closed)."""

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.data = bytearray()

    def run(self) -> None:
        os.set_blocking(self.fd, True)
        while chunk := os.read(self.fd, MB):
            self.data += chunk


def test_a_stalled_fifo_pauses_reading_and_every_byte_is_recorded_once_it_drains(
    make_engine: EngineFactory, fifo: Path
) -> None:
    """The FIFO's reader stops reading: the flooding connection is paused (said in the Log),
    another connection still gets what is sent to it, and once the reader reads again the
    flood resumes and the transcript holds every byte exactly once, in order."""
    with fifo_reader(fifo) as reader:
        engine, events = make_engine(transcript_path=str(fifo))
        lid, port = start_listener(engine, events)
        quiet, quiet_cid = accept(events, lid, port)
        flooder, flood_cid = accept(events, lid, port)
        sent = flood(FLOOD_BYTES)
        sending = send_in_background(flooder, sent)

        events.wait_for(lambda e: isinstance(e, ev.Note) and "is not keeping up" in e.message, WAIT)
        assert notes(events, "reading paused until it catches up")
        paused = engine._read_paused.get(flood_cid)
        assert paused is not None and Pause.TRANSCRIPT in paused.reasons, engine._read_paused
        assert events.size(flood_cid, outgoing=False) < len(sent)

        # The loop still serves the other connection...
        engine.send(quiet_cid, b"still here\n")
        assert recv_exactly(quiet, len(b"still here\n"), WAIT) == b"still here\n"
        # ... and the bridge catching up does not undo the transcript's pause.
        resumed = threading.Event()
        assert engine._loop is not None
        engine._loop.call_soon_threadsafe(lambda: (engine._resume(Pause.BRIDGE), resumed.set()))
        assert resumed.wait(WAIT)
        assert flood_cid in engine._read_paused
        assert engine.connections[flood_cid].reading_paused  # type: ignore[union-attr]

        drain = Drain(reader)
        drain.start()
        events.wait_for(lambda e: isinstance(e, ev.Note) and "caught up" in e.message, WAIT)
        sending.join(WAIT)
        assert not sending.is_alive()
        events.wait_until(
            lambda: events.size(flood_cid, outgoing=False) == len(sent), WAIT, "the whole flood"
        )
        assert engine.transcript is not None and engine.transcript.active
        flooder.close()
        quiet.close()
        for cid in (flood_cid, quiet_cid):
            events.wait_closed(cid, WAIT)
        engine.stop(timeout=WAIT)
        drain.join(WAIT)
        assert not drain.is_alive()

    records, streams = streams_of(bytes(drain.data))
    assert streams[flood_cid, "in"] == sent, "the flood was not recorded exactly once"
    assert streams[quiet_cid, "out"] == b"still here\n"
    assert [e.message for e in events.of(ev.ErrorReported) if e.source == "transcript"] == []
    assert [r["event"] for r in records if r["conn"] == flood_cid][-1] == "close"


def test_a_fifo_that_takes_nothing_for_long_stops_recording_loudly_and_reading_goes_on(
    make_engine: EngineFactory, fifo: Path
) -> None:
    with fifo_reader(fifo):
        engine, events = make_engine(transcript_path=str(fifo))
        assert engine.transcript is not None
        engine.transcript.stall_seconds = 1.0
        lid, port = start_listener(engine, events)
        flooder, cid = accept(events, lid, port)
        sent = flood(FLOOD_BYTES)
        sending = send_in_background(flooder, sent)
        error = events.wait_error("transcript", WAIT)
        assert "it took no bytes for 1 s" in error.message, error.message
        assert "recording stopped, the connections go on" in error.message
        events.wait_until(
            lambda: events.size(cid, outgoing=False) == len(sent), WAIT, "the whole flood"
        )
        sending.join(WAIT)
        assert not sending.is_alive()
        assert not engine.transcript.active and engine.transcript_path is None
        assert cid not in engine._read_paused
        engine.send(cid, b"reply\n")
        assert recv_exactly(flooder, len(b"reply\n"), WAIT) == b"reply\n"
        flooder.close()
        events.wait_closed(cid, WAIT)
        errors = [e for e in events.of(ev.ErrorReported) if e.source == "transcript"]
        assert len(errors) == 1, events.describe()


def test_the_real_command_with_a_fifo_that_has_no_reader_says_so_at_once(fifo: Path) -> None:
    """Opening a FIFO for writing waits for a reader: sockbench sat on a blank screen."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "--transcript", str(fifo)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert done.stderr.strip() == (
        f"sockbench: error: cannot write transcript {fifo}: "
        "it is a FIFO with no reader (start its reader first)"
    )
    assert time.monotonic() - started < WAIT


@pytest.mark.parametrize("writer", ["no writer", "a writer that never writes"])
def test_sending_a_file_from_a_fifo_that_gives_nothing_leaves_other_connections_alone(
    make_engine: EngineFactory, tmp_path: Path, writer: str
) -> None:
    source = tmp_path / "source.fifo"
    os.mkfifo(source)
    engine, events = make_engine()
    lid, port = start_listener(engine, events)
    target, target_cid = accept(events, lid, port)
    other, other_cid = accept(events, lid, port)
    held = os.open(source, os.O_RDWR) if writer != "no writer" else None
    try:
        engine.send_file(target_cid, str(source))
        events.wait_for(lambda e: isinstance(e, ev.FileProgress) and e.cid == target_cid, WAIT)
        other.sendall(b"ping\n")
        events.wait_received(other_cid, len(b"ping\n"), WAIT)
        engine.send(other_cid, b"pong\n")
        assert recv_exactly(other, len(b"pong\n"), WAIT) == b"pong\n"
        if held is None:  # a writer can open once the engine's reader waits in its open
            held = wait_until(
                lambda: _open_writer(source), WAIT, "the engine's reader to open the FIFO"
            )
        else:  # written before the engine's reader opened, the bytes would be lost
            wait_until(lambda: _opened_here(source) > 1, WAIT, "the engine's reader to open it")
        os.write(held, b"late\n")
    finally:
        if held is not None:
            os.close(held)
    assert recv_exactly(target, len(b"late\n"), WAIT) == b"late\n"
    done = events.wait_for(
        lambda e: isinstance(e, ev.FileProgress) and e.cid == target_cid and e.finished, WAIT
    )
    assert (done.sent, done.error) == (len(b"late\n"), "")
    target.close()
    other.close()


def _opened_here(path: Path) -> int:
    """How many descriptors of this process have `path` open."""
    count = 0
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{name}") == str(path)
    return count


def _open_writer(path: Path) -> int | None:
    try:
        return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # ENXIO: no reader yet
        return None


def test_the_writer_thread_keeps_records_whole_and_in_order_under_a_flood(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    """Three floods at once and replies between them: every line a whole record, each
    connection's bytes exact and in order, from its open to its close; and a flush means
    everything recorded so far is in the file."""
    path = tmp_path / "flood.jsonl"
    engine, events = make_engine(transcript_path=str(path))
    lid, port = start_listener(engine, events)
    clients = [accept(events, lid, port) for _ in range(3)]
    floods = [bytes([65 + index]) * 7 + flood(24 * MB) for index in range(3)]
    senders = [send_in_background(c, data) for (c, _), data in zip(clients, floods, strict=True)]
    replies: dict[str, bytes] = defaultdict(bytes)
    for round_ in range(20):
        for _, cid in clients:
            reply = f"reply {round_} to {cid}\n".encode()
            engine.send(cid, reply)
            replies[cid] += reply
    for (client, cid), sender in zip(clients, senders, strict=True):
        sender.join(WAIT)
        assert not sender.is_alive()
        assert recv_exactly(client, len(replies[cid]), WAIT) == replies[cid]
        client.close()
        events.wait_closed(cid, WAIT)
    assert engine.flush_transcript(WAIT)
    records, streams = streams_of(path.read_bytes())
    for (_, cid), data in zip(clients, floods, strict=True):
        assert streams[cid, "in"] == data
        assert streams[cid, "out"] == replies[cid]
        kinds = [r["event"] for r in records if r["conn"] == cid]
        assert kinds[0] == "open" and kinds[-1] == "close" and kinds.count("close") == 1


def test_quitting_with_a_stalled_fifo_ends_within_its_timeout_and_says_so(
    make_engine: EngineFactory, fifo: Path
) -> None:
    with fifo_reader(fifo):
        engine, events = make_engine(transcript_path=str(fifo))
        lid, port = start_listener(engine, events)
        client, cid = accept(events, lid, port)
        client.sendall(flood(4 * MB))  # more than a pipe holds, less than makes it behind
        events.wait_received(cid, 4 * MB, WAIT)
        started = time.monotonic()
        engine.stop(timeout=WAIT)
        took = time.monotonic() - started
        assert engine._thread is not None and not engine._thread.is_alive()
        assert took < CLOSE_SECONDS + 2, f"quitting took {took:.1f} s"
        error = events.wait_error("transcript", WAIT)
        assert f"could not be written within {CLOSE_SECONDS:g} s of quitting" in error.message
        assert "they are lost" in error.message
        assert engine.transcript_error == error.message
        client.close()


def test_the_real_command_quitting_with_a_stalled_fifo_says_what_was_lost(
    tmux: Tmux, tmp_path: Path, fifo: Path
) -> None:
    port = free_port()
    with fifo_reader(fifo):
        tmux.start_sockbench(
            tmp_path, "--listen", f"tcp://127.0.0.1:{port}", "--transcript", str(fifo)
        )
        tmux.wait_screen(f"listening on tcp 127.0.0.1:{port}", "the listener")
        with connect_client(port, timeout=WAIT) as peer:
            peer.sendall(b"stalled " * (MB // 2))  # more than a pipe holds
            tmux.wait_screen("stalled stalled", "the bytes in the Log")
            started = time.monotonic()
            tmux.quit_sockbench()
            assert time.monotonic() - started < CLOSE_SECONDS + 5
        # The pane's history too: the message may have scrolled the top of it away.
        screen = tmux.run("capture-pane", "-p", "-J", "-S", "-100", "-t", "main")
        screen = screen.replace("\n", "")
        assert "bytes could not be written within 2 s of quitting" in screen, screen
        assert "they are lost" in screen, screen
