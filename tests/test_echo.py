"""The echo behaviour (`?echo=1` on a listener), against real peers: what a peer sends comes
back to it, marked with its origin in the events and the transcript, exactly, and a peer that
never reads keeps what sockbench holds for it bounded."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import threading
from pathlib import Path

from fault_helpers import accept, endpoint, listen, transcript_records, transcript_streams
from peers import Collector, recv_exactly, recv_until_eof, requires_socat

from workbench.engine.behaviours import ECHO_NOTE
from workbench.engine.flow import Pause
from workbench.engine.stream import MAX_SEND_QUEUE_BYTES, StreamConnection
from workbench.protocol import events as ev
from workbench.protocol.enums import Origin

WAIT = 30.0
MB = 1024 * 1024


def echoed(events: Collector, cid: str) -> bytes:
    return b"".join(e.data for e in events.data(cid, outgoing=True) if e.origin is Origin.ECHO)


def test_tcp_echo_sends_back_what_arrives_marked_as_echo(make_engine, tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?echo=1")
    client, cid = accept(events, lid, port)
    with client:
        client.sendall(b"hello\n")
        assert recv_exactly(client, 6) == b"hello\n"
        client.shutdown(socket.SHUT_WR)
        assert recv_until_eof(client) == b"", "the end of the peer's stream ends echo's"
    events.wait_closed(cid)
    assert events.wait_until(lambda: echoed(events, cid)) == b"hello\n"
    (eof,) = [e for e in events.of(ev.HalfClosed) if e.cid == cid and e.outgoing]
    assert eof.origin is Origin.ECHO, "echo ended the stream, not you"
    engine.stop()
    (eof_record,) = [
        r for r in transcript_records(transcript) if r["event"] == "eof" and r["dir"] == "out"
    ]
    assert eof_record["origin"] == "echo"
    (line,) = [
        line
        for line in transcript.read_text().splitlines()
        if '"event":"data"' in line and '"dir":"out"' in line
    ]
    assert f'"conn":"{cid}","dir":"out","origin":"echo","size":6,"data":"' in line
    ins = [r for r in transcript_records(transcript) if r["event"] == "data" and r["dir"] == "in"]
    assert all("origin" not in r for r in ins), "received data has no origin"
    # The echo leaves before the read is recorded; the records keep the order of cause.
    ways = [r["dir"] for r in transcript_records(transcript) if r["event"] == "data"]
    assert ways == ["in", "out"]


def test_you_and_echo_are_never_merged_into_one_run(make_engine) -> None:
    engine, events = make_engine()
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?echo=1")
    client, cid = accept(events, lid, port)
    with client:
        client.sendall(b"ping")
        assert recv_exactly(client, 4) == b"ping"
        engine.send(cid, b"typed")
        assert recv_exactly(client, 5) == b"typed"
    events.wait_until(lambda: events.size(cid, outgoing=True) == 9)
    runs = [(e.origin, e.data) for e in events.data(cid, outgoing=True)]
    assert runs == [(Origin.ECHO, b"ping"), (Origin.YOU, b"typed")]


def test_udp_echo_answers_each_sender(make_engine) -> None:
    engine, events = make_engine()
    _lid, port = listen(engine, events, "udp://127.0.0.1:0?echo=1")
    peers = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2)]
    try:
        for index, peer in enumerate(peers):
            peer.settimeout(WAIT)
            peer.sendto(b"datagram %d" % index, ("127.0.0.1", port))
        for index, peer in enumerate(peers):
            assert peer.recvfrom(65536) == (b"datagram %d" % index, ("127.0.0.1", port))
    finally:
        for peer in peers:
            peer.close()
    events.wait_until(lambda: len(events.of(ev.ConnectionOpened)) == 2)
    for index, opened in enumerate(events.of(ev.ConnectionOpened)):
        assert events.wait_until(lambda c=opened.cid: echoed(events, c)) == b"datagram %d" % index


def unix_echo_url(path: Path, transport: str = "unix") -> object:
    plain = endpoint(f"{transport}://{path}", listen=True)
    return dataclasses.replace(plain, options=dataclasses.replace(plain.options, echo=True))


def test_unix_stream_echo(make_engine, tmp_path: Path) -> None:
    engine, events = make_engine()
    path = tmp_path / "echo.sock"
    lid = engine.listen(unix_echo_url(path))  # type: ignore[arg-type]
    events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(WAIT)
        client.connect(str(path))
        client.sendall(b"over unix\n")
        assert recv_exactly(client, 10) == b"over unix\n"


def test_unix_datagram_echo(make_engine, tmp_path: Path) -> None:
    engine, events = make_engine()
    path = tmp_path / "echo.dgram"
    lid = engine.listen(unix_echo_url(path, "unix-dgram"))  # type: ignore[arg-type]
    events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as client:
        client.settimeout(WAIT)
        client.bind(str(tmp_path / "client.dgram"))
        client.sendto(b"one datagram", str(path))
        assert client.recv(65536) == b"one datagram"


def test_ten_megabytes_echo_exactly_both_ways(make_engine, tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?echo=1")
    client, cid = accept(events, lid, port)
    sent = os.urandom(10 * MB)
    got: list[bytes] = []

    def talk() -> None:
        def send() -> None:
            client.sendall(sent)
            client.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        got.append(recv_until_eof(client, WAIT))
        sender.join(WAIT)

    with client:
        talker = threading.Thread(target=talk, daemon=True)
        talker.start()
        events.wait_closed(cid, WAIT)  # the bridge is drained meanwhile
        talker.join(WAIT)
    assert got == [sent]
    engine.stop()
    streams = transcript_streams(transcript)
    assert streams[cid, "in"] == sent
    assert streams[cid, "out"] == sent
    assert events.size(cid, outgoing=False) == events.size(cid, outgoing=True) == len(sent)


def test_a_peer_that_never_reads_keeps_echo_within_the_send_bound(make_engine) -> None:
    engine, events = make_engine()
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?echo=1")
    client, cid = accept(events, lid, port)
    conn = engine.connections[cid]
    assert isinstance(conn, StreamConnection)
    sent = os.urandom(48 * MB)
    sender = threading.Thread(target=client.sendall, args=(sent,), daemon=True)
    with client:
        sender.start()  # and nothing read: the echo fills our side, then the engine's
        events.wait_until(
            lambda: Pause.SEND_QUEUE in conn.flow.reasons, WAIT, "reading paused for the echo"
        )
        held = [conn.buffered()]
        events.settle()
        held.append(conn.buffered())
        assert max(held) <= MAX_SEND_QUEUE_BYTES // 16, held
        assert sender.is_alive(), "the peer's sending waits as well"
        assert events.of(ev.ErrorReported) == [], "nothing was refused"

        got = bytearray()

        def read() -> None:
            got.extend(recv_exactly(client, len(sent), WAIT * 2))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        events.wait_until(lambda: not reader.is_alive(), WAIT * 2, "the whole echo read")
        sender.join(WAIT)
    assert bytes(got) == sent
    assert events.of(ev.ErrorReported) == []


def test_without_echo_a_listener_only_receives(make_engine) -> None:
    engine, events = make_engine()
    lid, port = listen(engine, events)
    client, cid = accept(events, lid, port)
    with client:
        client.sendall(b"quiet")
        events.wait_received(cid, 5)
        events.settle()
        assert events.data(cid, outgoing=True) == []


def test_a_listener_with_echo_says_so_when_it_opens(make_engine) -> None:
    """The Log's "listening on" line and the transcript's listen record carry the notes."""
    engine, events = make_engine()
    echoing, _ = listen(engine, events, "udp://127.0.0.1:0?echo=1")
    quiet, _ = listen(engine, events)
    notes = {e.lid: e.notes for e in events.of(ev.ListenerOpened)}
    assert ECHO_NOTE in notes[echoing]
    assert ECHO_NOTE not in notes[quiet]


@requires_socat
def test_a_socat_client_gets_back_exactly_the_ten_megabytes_it_sent(
    make_engine, tmp_path: Path
) -> None:
    """The seed echo server, against the seed's own client: socat sends a file and writes
    what comes back to another, until the echo ends its stream."""
    engine, events = make_engine()
    _, port = listen(engine, events, "tcp://127.0.0.1:0?echo=1")
    sent, back = tmp_path / "sent.bin", tmp_path / "back.bin"
    sent.write_bytes(os.urandom(10 * MB))
    client = subprocess.run(
        [
            "socat", "-b", "65536", "-t", "30", f"TCP:127.0.0.1:{port}",
            f"OPEN:{sent},rdonly!!CREATE:{back}",
        ],
        timeout=WAIT * 2,
        check=False,
    )  # fmt: skip
    assert client.returncode == 0
    assert back.read_bytes() == sent.read_bytes()
