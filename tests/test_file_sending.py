"""Sending a file over a stream connection, on the real engine with real peers (plain Python
sockets, socat): the bytes arrive exactly, the Log's Data records and the counters say what
was handed over, the transcript has every byte, memory stays bounded when the peer reads
slowly or not at all, and a close, reset, EOF or peer that goes away mid-file stops it with
the reason."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from fault_helpers import accept, listen, transcript_close, transcript_streams
from peers import (
    Collector,
    abort,
    free_port,
    recv_exactly,
    requires_socat,
    short_temp_dir,
    wait_until,
)

from workbench.engine import Engine
from workbench.engine.file_sender import FILE_CHUNK_BYTES
from workbench.protocol import events as ev
from workbench.protocol.endpoints import parse_url

KIB = 1024
MIB = 1024 * 1024
T = TypeVar("T")


def make_file(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def finished(cid: str) -> Callable[[ev.Event], bool]:
    return lambda e: isinstance(e, ev.FileProgress) and e.cid == cid and e.finished


def on_engine(engine: Engine, call: Callable[[], T], timeout: float = 5.0) -> T:
    """Run `call` on the engine's loop (where connections are touched) and return its result."""
    assert engine._loop is not None
    done = threading.Event()
    result: list[T] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            result.append(call())
        except BaseException as exc:
            failed.append(exc)
        finally:
            done.set()

    engine._loop.call_soon_threadsafe(run)
    assert done.wait(timeout), "the engine's loop did not answer"
    if failed:
        raise failed[0]
    return result[0]


class Reader:
    """Reads a stream to its end in a thread (a peer that keeps up), keeping the bytes, or
    with `keep` False only counting them and the ones that are not zero."""

    def __init__(self, sock: socket.socket, timeout: float = 60.0, keep: bool = True) -> None:
        self.sock = sock
        self.timeout = timeout
        self.keep = keep
        self.data = bytearray()
        self.size = 0
        self.nonzero = 0
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + self.timeout
        try:
            while time.monotonic() < deadline:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    return
                self.size += len(chunk)
                if self.keep:
                    self.data += chunk
                else:
                    self.nonzero += len(chunk) - chunk.count(0)
            raise AssertionError(f"no EOF within {self.timeout:g} s")
        except BaseException as exc:
            self.error = exc

    def result(self) -> bytes:
        """Everything read, once the stream ended."""
        self.thread.join(self.timeout + 5)
        assert not self.thread.is_alive(), "the reader did not finish"
        if self.error is not None:
            raise self.error
        return bytes(self.data)


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def check_log_records(events: Collector, cid: str, data: bytes) -> None:
    """The Log's outgoing Data records add up to the file, and each shows its own bytes."""
    records = events.data(cid, outgoing=True)
    assert sum(r.size for r in records) == len(data)
    offset = 0
    for record in records:
        assert 0 < len(record.data) <= record.size
        if record.chunks == 1:
            assert record.data == data[offset : offset + len(record.data)]
        offset += record.size


# --- the bytes, the Log and the counters ---


def test_file_arrives_exactly_with_log_records_counters_and_progress(
    engine: Engine, events: Collector, tmp_path: Path
) -> None:
    path = tmp_path / "file.bin"
    data = make_file(path, 6 * MIB + 12_345)  # not a whole number of chunks
    lid, port = listen(engine, events)
    client, cid = accept(events, lid, port)
    with client:
        reader = Reader(client)
        engine.send_file(cid, str(path))
        done = events.wait_for(finished(cid), timeout=20)
        engine.half_close(cid)
        assert hashlib.sha256(reader.result()).digest() == hashlib.sha256(data).digest()
        assert on_engine(engine, lambda: engine.connections[cid].bytes_out) == len(data)
    assert (done.sent, done.total, done.error) == (len(data), len(data), "")
    progress = events.of(ev.FileProgress, cid)
    assert progress[0].sent == 0 and not progress[0].finished
    assert [p.sent for p in progress] == sorted(p.sent for p in progress)
    assert sum(p.finished for p in progress) == 1
    events.wait_until(
        lambda: events.size(cid, outgoing=True) >= len(data), what="every Data record"
    )
    check_log_records(events, cid, data)
    assert len(events.data(cid, outgoing=True)) == -(-len(data) // FILE_CHUNK_BYTES)
    assert [e for e in events.of(ev.ErrorReported) if e.source == cid] == []


def test_transcript_records_every_byte_of_the_file(make_engine, tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    path = tmp_path / "file.bin"
    data = make_file(path, 5 * MIB + 777)
    lid, port = listen(engine, events)
    client, cid = accept(events, lid, port)
    with client:
        reader = Reader(client)
        engine.send_file(cid, str(path))
        events.wait_for(finished(cid), timeout=20)
        engine.close(cid)
        assert reader.result() == data
    events.wait_closed(cid)
    engine.stop()
    assert transcript_streams(transcript)[cid, "out"] == data
    assert transcript_close(transcript, cid)["bytes_out"] == len(data)
    check_log_records(events, cid, data)


@requires_socat
def test_file_to_a_socat_sink_arrives_exactly(
    engine: Engine, events: Collector, tmp_path: Path
) -> None:
    path = tmp_path / "file.bin"
    data = make_file(path, 3 * MIB + 1)
    received = tmp_path / "received.bin"
    port = free_port()
    argv = ["socat", "-u", f"TCP-LISTEN:{port},reuseaddr", f"CREATE:{received}"]
    with subprocess.Popen(argv, stderr=subprocess.PIPE) as sink:
        try:
            cid = wait_until(lambda: _connected(engine, events, port), what="socat listening")
            engine.send_file(cid, str(path))
            assert events.wait_for(finished(cid), timeout=20).error == ""
            engine.close(cid)
            assert sink.wait(10) == 0
        finally:
            if sink.poll() is None:
                sink.kill()
    assert hashlib.sha256(received.read_bytes()).digest() == hashlib.sha256(data).digest()


def _connected(engine: Engine, events: Collector, port: int) -> str | None:
    cid = engine.connect(parse_url(f"tcp://127.0.0.1:{port}", for_listen=False))
    found = events.wait_for(
        lambda e: isinstance(e, ev.ConnectionOpened | ev.ConnectionClosed) and e.cid == cid
    )
    return cid if isinstance(found, ev.ConnectionOpened) else None


def test_file_over_a_unix_stream_connection(engine: Engine, events: Collector) -> None:
    with short_temp_dir() as directory:
        path = directory / "file.bin"
        data = make_file(path, 3 * MIB + 5)
        sock_path = str(directory / "s.sock")
        lid = engine.listen(parse_url(f"unix://{sock_path}", for_listen=True))
        events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid)
        with contextlib.closing(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)) as client:
            client.settimeout(5)
            client.connect(sock_path)
            cid = events.wait_opened(listener=lid).cid
            reader = Reader(client)
            engine.send_file(cid, str(path))
            assert events.wait_for(finished(cid), timeout=20).error == ""
            engine.half_close(cid)
            assert reader.result() == data
        check_log_records(events, cid, data)


def test_a_line_sent_during_a_file_arrives_whole_where_the_log_lists_it(
    engine: Engine, events: Collector, tmp_path: Path
) -> None:
    """The line is not mixed into the file's bytes: it arrives whole, and the Log lists it
    after exactly the file's bytes that went before it."""
    path = tmp_path / "zeros.bin"
    path.write_bytes(bytes(8 * MIB))
    marker = b"\xffLINE\xff"
    lid, port = listen(engine, events)
    client, cid = accept(events, lid, port)
    with client:
        engine.send_file(cid, str(path))
        head = recv_exactly(client, 64 * KIB)  # the file has started
        reader = Reader(client)
        engine.send(cid, marker)
        events.wait_for(finished(cid), timeout=20)
        engine.half_close(cid)
        received = head + reader.result()
    at = received.find(marker)
    assert at >= 0
    assert received == bytes(at) + marker + bytes(8 * MIB - at)
    events.wait_until(lambda: events.size(cid, outgoing=True) == len(received), what="records")
    before = 0
    for record in events.data(cid, outgoing=True):
        if record.data.startswith(marker):
            break
        before += record.size
    assert before == at


# --- flow control: memory stays bounded ---


def test_a_peer_that_reads_slowly_or_not_at_all_keeps_memory_bounded(
    engine: Engine, events: Collector, tmp_path: Path
) -> None:
    """A 512 MiB file to a peer that stops reading, then reads slowly, then fast: sockbench
    holds at most about a chunk at any time, and the whole file arrives."""
    path = tmp_path / "sparse.bin"
    size = 512 * MIB
    with path.open("wb") as file:  # sparse: zeros without disk or page cache to fill
        file.truncate(size)
    lid, port = listen(engine, events)
    client, cid = accept(events, lid, port)
    rss_before = rss_bytes()
    held: list[int] = []

    def sample() -> None:
        conn = engine.connections[cid]
        held.append(conn.buffered())

    with client:
        engine.send_file(cid, str(path))
        # Not reading: the sender stops once the socket buffers are full.
        for _ in range(50):
            on_engine(engine, sample)
            time.sleep(0.02)
        stalled = on_engine(engine, lambda: engine.connections[cid].bytes_out)
        assert stalled < 64 * MIB, "a peer that does not read cannot take the file"
        # Slowly: 64 KiB every 10 ms for a while.
        got = 0
        for _ in range(50):
            got += len(recv_exactly(client, 64 * KIB))
            on_engine(engine, sample)
            time.sleep(0.01)
        assert rss_bytes() - rss_before < 64 * MIB
        # Then everything.
        reader = Reader(client, keep=False)
        events.wait_for(finished(cid), timeout=60)
        engine.half_close(cid)
        reader.result()
        got += reader.size
        assert reader.nonzero == 0
    assert got == size
    assert max(held) <= FILE_CHUNK_BYTES + 128 * KIB, f"held {max(held):,} bytes"
    assert events.wait_for(finished(cid)).sent == size


# --- stopping mid-file ---


@contextlib.contextmanager
def file_going_out(
    engine: Engine, events: Collector, tmp_path: Path, size: int = 64 * MIB
) -> Iterator[tuple[socket.socket, str, bytes]]:
    """A peer that took the file's first 256 KiB and reads no more for now."""
    path = tmp_path / "file.bin"
    data = make_file(path, size)
    lid, port = listen(engine, events)
    client, cid = accept(events, lid, port)
    with client:
        engine.send_file(cid, str(path))
        assert recv_exactly(client, 256 * KIB) == data[: 256 * KIB]
        yield client, cid, data


def stopped_file(events: Collector, cid: str, size: int) -> ev.FileProgress:
    done = events.wait_for(finished(cid), timeout=10)
    assert done.error.startswith(f"stopped after {done.sent:,} bytes: ")
    assert 256 * KIB <= done.sent < size
    events.wait_until(
        lambda: events.size(cid, outgoing=True) >= done.sent, what="the file's records"
    )
    assert events.size(cid, outgoing=True) == done.sent, "the Log counts what was handed over"
    return done


def test_peer_goes_away_mid_file_without_a_transcript(
    engine: Engine, events: Collector, tmp_path: Path
) -> None:
    with file_going_out(engine, events, tmp_path) as (client, cid, data):
        conn = on_engine(engine, lambda: engine.connections[cid])
        abort(client)
        closed = events.wait_closed(cid, timeout=10)
    assert closed.error
    assert closed.reason in ("reset by peer", "closed by peer while sending (broken pipe)")
    done = stopped_file(events, cid, len(data))
    assert done.error.endswith(": the connection closed")
    assert conn.bytes_out == done.sent


def test_close_mid_file_delivers_what_was_handed_over(
    engine: Engine, events: Collector, tmp_path: Path
) -> None:
    with file_going_out(engine, events, tmp_path) as (client, cid, data):
        engine.close(cid)
        rest = client.recv  # the peer now reads what was queued, then the end
        received = bytearray(data[: 256 * KIB])
        deadline = time.monotonic() + 20
        while chunk := rest(1 << 20):
            received += chunk
            assert time.monotonic() < deadline, "no EOF after the close"
        events.wait_closed(cid)
    done = stopped_file(events, cid, len(data))
    assert done.error.endswith(": the connection closed")
    assert bytes(received) == data[: done.sent]


def test_reset_mid_file_stops_it_and_says_what_was_not_sent(
    engine: Engine, events: Collector, tmp_path: Path
) -> None:
    with file_going_out(engine, events, tmp_path) as (_client, cid, data):
        engine.reset(cid)
        closed = events.wait_closed(cid)
    assert closed.reason.startswith("reset by you: ")
    assert closed.reason.endswith(" bytes queued were not sent")
    stopped_file(events, cid, len(data))


def test_eof_mid_file_stops_it(engine: Engine, events: Collector, tmp_path: Path) -> None:
    """The user's EOF ends the stream: the file stops there, and the peer gets what was
    handed over before it, then the end."""
    with file_going_out(engine, events, tmp_path) as (client, cid, data):
        engine.half_close(cid)
        events.wait_for(lambda e: isinstance(e, ev.HalfClosed) and e.cid == cid and e.outgoing)
        received = bytearray(data[: 256 * KIB])
        deadline = time.monotonic() + 20
        while chunk := client.recv(1 << 20):
            received += chunk
            assert time.monotonic() < deadline, "no EOF"
        done = stopped_file(events, cid, len(data))
        assert on_engine(engine, lambda: engine.connections[cid].bytes_out) == done.sent
    assert done.error == f"stopped after {done.sent:,} bytes: you sent EOF on {cid}"
    assert bytes(received) == data[: done.sent]
