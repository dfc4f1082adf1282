"""How a stream connection reads, by the size of its reads: small ones as the loop's bytes (a
plain protocol), bulk ones into the engine's shared buffer; and an echo that answers a small
read from the read itself. Real sockets on loopback, under uvloop and asyncio's own loop:
every byte arrives once and in order whichever way it came, and the way follows the sizes."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_helpers import accept, endpoint, listen, transcript_records, transcript_streams
from hypothesis import example, given
from hypothesis import strategies as st
from peers import Collector, recv_exactly, short_temp_dir
from test_tls import connect, established, served_once
from test_tls_starttls_engine import mail_server
from tls_certs import issue

from workbench.engine import Engine, EventBridge
from workbench.engine import core as engine_core
from workbench.engine.flow import Pause
from workbench.engine.stream import (
    BULK_READ_BYTES,
    MAX_SEND_QUEUE_BYTES,
    SMALL_READS_TO_SWITCH,
    SmallReads,
    StreamConnection,
)
from workbench.protocol import events as ev
from workbench.protocol.enums import Origin

WAIT = 30.0
MB = 1024 * 1024


@pytest.fixture(params=["uvloop", "asyncio"])
def loop_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The engine on uvloop, then on asyncio's own loop (their transports switch protocols
    each in their own way)."""
    if request.param == "asyncio":
        monkeypatch.setattr(engine_core, "new_event_loop", asyncio.new_event_loop)
    else:
        pytest.importorskip("uvloop")
    return str(request.param)


@pytest.fixture
def unix_dir() -> Iterator[Path]:
    with short_temp_dir() as folder:  # a Unix socket's path has a short limit
        yield folder


def connected_pair(
    engine: Engine, events: Collector, url: str, folder: Path | None = None
) -> tuple[socket.socket, str]:
    """A client of a new listener at `url` (unix://: a socket in `folder`), and the
    engine's id for it."""
    if not url.startswith("unix:"):
        lid, port = listen(engine, events, url)
        return accept(events, lid, port)
    assert folder is not None
    path = folder / "s.sock"
    lid = engine.listen(endpoint(url.replace("unix:", f"unix://{path}", 1), listen=True))
    events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid)
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(WAIT)
    client.connect(str(path))
    return client, events.wait_opened(listener=lid).cid


def way_of(conn: StreamConnection) -> str:
    assert conn.transport is not None
    protocol = conn.transport.get_protocol()
    if isinstance(protocol, SmallReads):
        return "small"
    assert protocol is conn
    return "buffered"


def send_counted(client: socket.socket, events: Collector, cid: str, data: bytes) -> None:
    """Send `data` and wait until the engine counted it: each call is a read of its own."""
    before = events.size(cid, outgoing=False)
    client.sendall(data)
    events.wait_until(
        lambda: events.size(cid, outgoing=False) >= before + len(data), WAIT, "the read counted"
    )


@pytest.mark.parametrize("url", ["tcp://127.0.0.1:0", "unix:"])
def test_reads_change_way_with_their_size_and_every_byte_arrives_in_order(
    loop_kind: str, url: str, make_engine, tmp_path: Path, unix_dir: Path
) -> None:
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    client, cid = connected_pair(engine, events, url, unix_dir)
    conn = engine.connections[cid]
    assert isinstance(conn, StreamConnection)
    sent = bytearray()
    with client:
        assert way_of(conn) == "buffered", "nothing switched before the first read"
        for n in range(20):
            piece = bytes([n]) * (n + 1)
            send_counted(client, events, cid, piece)
            sent += piece
        assert way_of(conn) == "small"

        bulk = os.urandom(4 * MB)
        send_counted(client, events, cid, bulk)
        sent += bulk
        assert way_of(conn) == "buffered", "a bulk read switched to the shared buffer"

        for n in range(SMALL_READS_TO_SWITCH + 2):
            piece = b"line %d\n" % n
            send_counted(client, events, cid, piece)
            sent += piece
        assert way_of(conn) == "small", "small reads in a row switched back"

        tail = os.urandom(BULK_READ_BYTES)  # one more switch, then the end
        send_counted(client, events, cid, tail)
        sent += tail
    events.wait_closed(cid)
    assert conn.bytes_in == len(sent)
    engine.stop()
    assert transcript_streams(transcript)[cid, "in"] == bytes(sent)


def test_an_echo_answers_small_reads_from_the_read_and_keeps_the_order_of_cause(
    loop_kind: str, make_engine, tmp_path: Path
) -> None:
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    client, cid = connected_pair(engine, events, "tcp://127.0.0.1:0?echo=1")
    conn = engine.connections[cid]
    assert isinstance(conn, StreamConnection)
    sent = bytearray()
    with client:
        for n in range(1, 101):  # round trips, one at a time
            ping = os.urandom(n)
            client.sendall(ping)
            assert recv_exactly(client, n, WAIT) == ping
            sent += ping
        assert way_of(conn) == "small"

        bulk = os.urandom(8 * MB)  # read back while it is sent: the echo is flow-controlled
        got = bytearray()
        reader = threading.Thread(
            target=lambda: got.extend(recv_exactly(client, len(bulk), WAIT)), daemon=True
        )
        reader.start()
        client.sendall(bulk)
        reader.join(WAIT)
        assert bytes(got) == bulk
        sent += bulk

        for n in range(SMALL_READS_TO_SWITCH + 5):
            ping = b"again %d" % n
            client.sendall(ping)
            assert recv_exactly(client, len(ping), WAIT) == ping
            sent += ping
    events.wait_closed(cid)
    assert (conn.bytes_in, conn.bytes_out) == (len(sent), len(sent))
    outs = events.data(cid, outgoing=True)
    assert {e.origin for e in outs} == {Origin.ECHO}
    first = [(e.outgoing, e.size) for e in events.of(ev.Data, cid)][:200]
    assert first == [(way, n) for n in range(1, 101) for way in (False, True)], (
        "each small read, then its echo"
    )
    engine.stop()
    streams = transcript_streams(transcript)
    assert streams[cid, "in"] == streams[cid, "out"] == bytes(sent)
    data = [r for r in transcript_records(transcript) if r["event"] == "data"]
    assert [(r["dir"], r["size"]) for r in data[:200]] == [
        (way, n) for n in range(1, 101) for way in ("in", "out")
    ]


def test_an_echo_after_your_eof_is_refused_in_words_not_sent(make_engine) -> None:
    engine, events = make_engine()
    client, cid = connected_pair(engine, events, "tcp://127.0.0.1:0?echo=1")
    with client:
        engine.half_close(cid)
        events.wait_for(lambda e: isinstance(e, ev.HalfClosed) and e.cid == cid and e.outgoing)
        client.sendall(b"late")
        error = events.wait_for(lambda e: isinstance(e, ev.ErrorReported) and e.source == cid)
    assert "not sent (4 bytes)" in error.message and "EOF" in error.message
    assert events.size(cid, outgoing=True) == 0
    assert events.received(cid) == b"late"


@given(
    before=st.integers(0, 6),
    size=st.integers(0, 300),
    max_events=st.integers(1, 10),
    max_bytes=st.integers(1, 2000),
)
@example(before=2, size=0, max_events=10, max_bytes=100)  # the bytes bound reached exactly
def test_an_echo_pushed_as_a_pair_is_what_two_pushes_make(
    before: int, size: int, max_events: int, max_bytes: int
) -> None:
    data = bytes(range(256)) * 2
    data = data[:size]

    def bridge_after(pushes: str) -> tuple[EventBridge, bool]:
        bridge = EventBridge(max_events=max_events, max_bytes=max_bytes)
        for n in range(before):
            bridge.push_data(1.0, "C1", n % 2 == 1, b"x" * 50, Origin.ECHO if n % 2 else Origin.YOU)
        if pushes == "pair":
            return bridge, bridge.push_echo(2.0, "C1", data, Origin.ECHO)
        saturated = bridge.push_data(2.0, "C1", False, data)
        return bridge, bridge.push_data(2.0, "C1", True, data, Origin.ECHO) or saturated

    paired, saturated_paired = bridge_after("pair")
    apart, saturated_apart = bridge_after("apart")
    assert saturated_paired == saturated_apart
    assert paired.drain() == apart.drain()


def test_small_echoes_to_a_peer_that_never_reads_stay_within_the_send_bound(make_engine) -> None:
    engine, events = make_engine()
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?echo=1")
    client, cid = accept(events, lid, port, receive_buffer=4096)  # a small window: fills soon
    conn = engine.connections[cid]
    assert isinstance(conn, StreamConnection)
    message = os.urandom(3000)  # a small read each: the peer waits until it was counted
    sent = 0
    with client:
        while Pause.SEND_QUEUE not in conn.flow.reasons and sent < 64 * MB:
            client.sendall(message)
            sent += len(message)
            events.wait_until(
                lambda total=sent: (
                    events.size(cid, outgoing=False) >= total
                    or Pause.SEND_QUEUE in conn.flow.reasons
                ),
                WAIT,
                "the read counted, or reading paused",
            )
        assert Pause.SEND_QUEUE in conn.flow.reasons, "reading paused for the echo"
        assert way_of(conn) == "small", "the echo went the small reads' way"
        assert conn.buffered() <= MAX_SEND_QUEUE_BYTES // 16
        assert recv_exactly(client, sent, WAIT) == message * (sent // len(message))
    assert events.of(ev.ErrorReported) == [], "nothing was refused"


def test_starttls_after_small_reads_reads_inside_tls_on_either_loop(
    loop_kind: str, make_engine, tmp_path: Path
) -> None:
    engine, events = make_engine()
    issued = issue(tmp_path, "mail", None)
    said: list[bytes] = []

    tail = b"221 bye\r\n" + bytes(BULK_READ_BYTES)  # a small read, then bulk
    with served_once(mail_server(issued, said, tail)) as port:
        cid = connect(engine, f"tcp://localhost:{port}?starttls=smtp&pin={issued.sha256}")
        assert established(events, cid).info.version.startswith("TLSv1.")
        conn = engine.connections[cid]
        assert isinstance(conn, StreamConnection)
        assert conn._small_reads is not None, "the plain lines came as small reads"
        engine.send(cid, b"QUIT\r\n")
        events.wait_until(lambda: len(said) == 3, WAIT, "QUIT inside TLS")
        events.wait_until(lambda: events.received(cid).endswith(tail), WAIT, "the reply in TLS")
    assert said[2] == b"QUIT\r\n"
    assert conn.ssl_object is not None
