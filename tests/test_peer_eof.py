"""A peer's EOF ends the connection after a grace (as ncat and socat do), unless it is kept
half-open; ended connections free their listener's slots; refusals at the maximum are recorded.

Real sockets on loopback, real peers (plain Python sockets, ncat, socat)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from fault_helpers import accept, listen
from peers import (
    Collector,
    connect_client,
    process_peer,
    recv_exactly,
    recv_until_eof,
    requires_ncat,
    requires_socat,
    wait_until,
)

from workbench.engine import Engine
from workbench.protocol import events as ev

GRACE = 0.5


def half_closed_in(cid: str):  # type: ignore[no-untyped-def]
    return lambda e: isinstance(e, ev.HalfClosed) and e.cid == cid and not e.outgoing


def test_a_peers_eof_closes_the_connection_after_the_grace(
    engine: Engine, events: Collector
) -> None:
    lid, port = listen(engine, events)
    client, cid = accept(events, lid, port)
    with client:
        client.sendall(b"one line\n")
        client.shutdown(socket.SHUT_WR)
        eof = events.wait_for(half_closed_in(cid))
        assert eof.closes_after == GRACE
        closed = events.wait_closed(cid)
        assert (closed.reason, closed.error) == ("closed after the peer's EOF", False)
        assert closed.ts - eof.ts >= GRACE * 0.9, "not before the grace"
        assert recv_until_eof(client) == b""
        assert events.received(cid) == b"one line\n"


def test_a_reply_sent_in_the_grace_reaches_the_peer(engine: Engine, events: Collector) -> None:
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?grace=5")
    client, cid = accept(events, lid, port)
    with client:
        client.sendall(b"request\n")
        client.shutdown(socket.SHUT_WR)
        assert events.wait_for(half_closed_in(cid)).closes_after == 5
        engine.send(cid, b"reply\n")
        assert recv_exactly(client, 6) == b"reply\n"
        assert not events.of(ev.ConnectionClosed, cid)


SMALL_RECEIVE_BUFFER = 64 * 1024


def more_than_the_kernel_holds() -> int:
    """Bytes the engine's socket and a small-window client cannot hold between them: twice the
    largest send buffer the kernel grows to (its autotuning limit), at least 25.6 MB. The
    client's window is fixed small, else its buffer grows as far as tcp_rmem's limit (32 MB
    on some machines) and takes the whole reply."""
    try:
        send_limit = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    except (OSError, IndexError, ValueError):
        send_limit = 0
    return max(25_600_000, 2 * (send_limit + 4 * SMALL_RECEIVE_BUFFER))


def test_everything_queued_is_delivered_before_the_close(engine: Engine, events: Collector) -> None:
    """A peer half-closes before it reads a large reply: the grace waits for what is still
    queued, then closes."""
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?grace=0")
    client, cid = accept(events, lid, port, receive_buffer=SMALL_RECEIVE_BUFFER)
    payload = bytes(range(256)) * (more_than_the_kernel_holds() // 256)
    with client:
        engine.send(cid, payload)
        client.shutdown(socket.SHUT_WR)
        events.wait_for(half_closed_in(cid))
        conn = engine.connections[cid]
        assert conn.buffered() > 0, "some of the reply waits in sockbench at the EOF"
        assert recv_until_eof(client, timeout=30) == payload
        assert events.wait_closed(cid).reason == "closed after the peer's EOF"


def test_one_line_clients_one_after_another_never_fill_the_listener(
    make_engine,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    """The seed print server's client: connect, send a line, close. 150 of them against the
    default maximum of 100: every line is recorded and none is refused."""
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    lid, port = listen(engine, events)
    for number in range(150):
        with connect_client(port) as client:
            client.sendall(b"line %d\n" % number)
    events.wait_until(
        lambda: len(events.of(ev.ConnectionClosed)) == 150, timeout=30, what="150 closes"
    )
    assert not events.of(ev.ListenerRefused)
    # Each client's line, whole, in one connection each (the engine reads a burst of them
    # in its own order).
    lines = sorted(events.received(opened.cid) for opened in events.of(ev.ConnectionOpened))
    assert lines == sorted(b"line %d\n" % n for n in range(150))
    wait_until(lambda: engine.live_peers(lid) == 0, what="no connection counted")
    engine.stop()
    records = [json.loads(line) for line in transcript.read_text().splitlines()]
    assert sum(r["event"] == "data" for r in records) >= 150
    assert sum(r["event"] == "close" and r["conn"].startswith("C") for r in records) == 150
    assert not [r for r in records if r["event"] in ("refused", "error")]


def test_a_burst_of_one_line_clients_waits_in_the_backlog_and_none_is_refused(
    engine: Engine, events: Collector
) -> None:
    """2,000 one-line clients back to back, faster than their EOFs are read: at the maximum
    the next ones wait in the kernel's backlog for the slots the EOFs free."""
    _lid, port = listen(engine, events)
    for number in range(2000):
        with connect_client(port) as client:
            client.sendall(b"%d\n" % number)
    events.wait_until(
        lambda: len(events.of(ev.ConnectionClosed)) == 2000, timeout=60, what="2,000 closes"
    )
    assert not events.of(ev.ListenerRefused)
    assert sum(len(d.data) for d in events.of(ev.Data)) == sum(
        len(b"%d\n" % n) for n in range(2000)
    )


def test_half_open_keeps_the_connection_open_for_sending(engine: Engine, events: Collector) -> None:
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?halfopen=1")
    client, cid = accept(events, lid, port)
    with client:
        client.shutdown(socket.SHUT_WR)
        eof = events.wait_for(half_closed_in(cid))
        assert eof.closes_after is None
        # Well past the grace a default connection would have had, it is still open.
        while time.time() < eof.ts + 3 * GRACE:
            time.sleep(0.05)
        events.pump()
        assert not events.of(ev.ConnectionClosed, cid)
        engine.send(cid, b"typed seconds later\n")
        assert recv_exactly(client, 20) == b"typed seconds later\n"
        engine.close(cid)
        assert events.wait_closed(cid).reason == "closed by you"


def test_ended_connections_free_their_slot_at_once(engine: Engine, events: Collector) -> None:
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?max=1&grace=30")
    first, first_cid = accept(events, lid, port)
    with first:
        first.shutdown(socket.SHUT_WR)
        events.wait_for(half_closed_in(first_cid))
        # In its (long) grace it no longer counts: the next client is taken.
        second, _ = accept(events, lid, port)
        second.close()
        assert not events.of(ev.ListenerRefused)


def test_half_open_peers_make_room_at_the_maximum(engine: Engine, events: Collector) -> None:
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?max=2&halfopen=1")
    first, first_cid = accept(events, lid, port)
    second, second_cid = accept(events, lid, port)
    with first, second:
        for client, cid in ((first, first_cid), (second, second_cid)):
            client.shutdown(socket.SHUT_WR)
            events.wait_for(half_closed_in(cid))
        third, third_cid = accept(events, lid, port)
        with third:
            closed = events.wait_closed(first_cid)
            assert closed.reason == f"closed to make room: {lid} at its maximum of 2"
            assert recv_until_eof(first) == b""
            engine.send(third_cid, b"welcome\n")
            assert recv_exactly(third, 8) == b"welcome\n"
            assert not events.of(ev.ConnectionClosed, second_cid)
            assert not events.of(ev.ListenerRefused)


def test_a_refusal_at_the_maximum_is_recorded(
    make_engine,
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?max=2")
    kept = [accept(events, lid, port) for _ in range(2)]
    third = connect_client(port)
    me = f"127.0.0.1:{third.getsockname()[1]}"
    try:
        assert recv_until_eof(third) == b""
        events.wait_for(lambda e: isinstance(e, ev.ListenerRefused) and e.refused == 1)
    finally:
        third.close()
        for client, _ in kept:
            client.close()
    engine.stop()
    records = [json.loads(line) for line in transcript.read_text().splitlines()]
    refused = [r for r in records if r["event"] == "refused"]
    assert refused == [
        {
            "ts": refused[0]["ts"],
            "event": "refused",
            "conn": lid,
            "remote": me,
            "reason": f"{lid} has its maximum of 2 connections open",
        }
    ]


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(["ncat", "127.0.0.1"], marks=requires_ncat, id="ncat"),
        pytest.param(["socat", "-t", "30", "-"], marks=requires_socat, id="socat -t 30"),
    ],
)
def test_a_client_that_half_closes_then_reads_gets_the_reply(
    engine: Engine, events: Collector, argv: list[str]
) -> None:
    """ncat and socat -t 30 shut down their sending side at the end of their input and go on
    reading: a reply sent within the grace reaches them, then the connection ends."""
    lid, port = listen(engine, events)
    command = [*argv, str(port)] if argv[0] == "ncat" else [*argv, f"TCP:127.0.0.1:{port}"]
    with process_peer(command) as peer:
        cid = events.wait_opened(listener=lid).cid
        peer.send(b"question\n")
        peer.close_stdin()
        events.wait_for(half_closed_in(cid))
        engine.send(cid, b"answer\n")
        assert peer.wait_output(7) == b"answer\n"
        assert events.wait_closed(cid).reason == "closed after the peer's EOF"
        assert peer.wait_exit() == 0
    assert events.received(cid) == b"question\n"


@requires_socat
def test_a_half_open_connection_takes_a_reply_typed_much_later(
    engine: Engine, events: Collector
) -> None:
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?halfopen=1")
    with process_peer(["socat", "-t", "30", "-", f"TCP:127.0.0.1:{port}"]) as peer:
        cid = events.wait_opened(listener=lid).cid
        peer.send(b"question\n")
        peer.close_stdin()
        eof = events.wait_for(half_closed_in(cid))
        while time.time() < eof.ts + 3 * GRACE:
            time.sleep(0.05)
        engine.send(cid, b"a late answer\n")
        assert peer.wait_output(14) == b"a late answer\n"
        engine.close(cid)
        assert peer.wait_exit() == 0
