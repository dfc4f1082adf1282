"""Repeated sends against real peers: numbered sends that arrive in order exactly once,
stopping mid-way, several connections, connections that close, a peer that does not read,
and what is refused in words."""

from __future__ import annotations

import socket
from typing import Any

from fault_helpers import accept, connect, listen
from peers import Collector, RecordingServer, ThreadedServer, wait_until

from workbench.engine import Engine
from workbench.engine.stream import StreamConnection
from workbench.protocol import events as ev
from workbench.protocol.sequences import SendPayload

WAIT = 30.0
COUNTER = SendPayload(template="{counter}\n")


def finished(events: Collector, rid: str, timeout: float = WAIT) -> ev.RepeatProgress:
    found: ev.RepeatProgress = events.wait_for(
        lambda e: isinstance(e, ev.RepeatProgress) and e.rid == rid and e.finished, timeout
    )
    return found


def numbers(data: bytes) -> list[int]:
    return [int(line) for line in data.decode().splitlines()]


def test_a_thousand_numbered_sends_arrive_in_order_exactly_once(
    engine: Engine, events: Collector
) -> None:
    with RecordingServer() as server:
        cid = connect(engine, events, server.url)
        engine.start_repeat("R1", [cid], COUNTER, 0.001, times=1000)
        end = finished(events, "R1")
        assert (end.sent, end.times, end.reason) == (1000, 1000, "done")
        expected = b"".join(b"%d\n" % n for n in range(1, 1001))
        assert server.wait_for_bytes(len(expected), timeout=WAIT) == expected
        events.settle()
        sent = events.data(cid, outgoing=True)
        assert {e.origin for e in sent} == {"repeat"}
        assert b"".join(e.data for e in sent) == expected
        # Progress while it ran, a few times a second at most, and one end.
        progress = events.of(ev.RepeatProgress)
        assert [e for e in progress if e.finished] == [end]
        running = [e for e in progress if not e.finished]
        assert [e.sent for e in running] == sorted(e.sent for e in running)
        seconds = end.ts - progress[0].ts
        assert len(running) <= 4 * seconds + 2, (len(running), seconds)


def test_stopping_a_repeat_stops_its_sends(engine: Engine, events: Collector) -> None:
    with RecordingServer() as server:
        cid = connect(engine, events, server.url)
        engine.start_repeat("R1", [cid], COUNTER, 0.002)  # until stopped
        wait_until(lambda: server.data().count(b"\n") >= 50, WAIT, "50 sends at the server")
        engine.stop_repeat("R1")
        end = finished(events, "R1")
        assert (end.reason, end.times) == ("stopped by you", 0)
        assert 50 <= end.sent < 100_000
        expected = b"".join(b"%d\n" % n for n in range(1, end.sent + 1))
        assert server.wait_for_bytes(len(expected), timeout=WAIT) == expected
        # Nothing after the stop: a send of ours ends (and is seen) before the repeat's
        # end, and the line the server has last is the last the repeat counted.
        engine.send(cid, b"after\n")
        assert server.wait_for_bytes(len(expected) + 6, timeout=WAIT) == expected + b"after\n"
        assert numbers(b"".join(e.data for e in events.data(cid, True))[: len(expected)]) == list(
            range(1, end.sent + 1)
        )


def test_a_repeat_to_two_connections_sends_each_every_round(
    engine: Engine, events: Collector
) -> None:
    payload = SendPayload(template="{conn} {counter}\n")
    with RecordingServer() as server:
        first = connect(engine, events, server.url)
        second = connect(engine, events, server.url)
        engine.start_repeat("R2", [first, second], payload, 0.002, times=40)
        end = finished(events, "R2")
        assert (end.sent, end.reason) == (40, "done")
        for index in range(2):
            got = server.wait_for_bytes(len(f"{first} 1\n") * 40, index, WAIT)
            lines = got.decode().splitlines()
            cid = lines[0].split()[0]
            assert lines == [f"{cid} {n}" for n in range(1, 41)]
        assert {server.data(0).split()[0], server.data(1).split()[0]} == {
            first.encode(),
            second.encode(),
        }


class ReadsOneLine(ThreadedServer):
    """Reads one line, then closes."""

    def handle(self, conn: socket.socket) -> None:
        got = b""
        while b"\n" not in got:
            chunk = conn.recv(1024)
            if not chunk:
                return
            got += chunk


def test_connections_that_close_leave_the_repeat_and_the_last_ends_it(
    engine: Engine, events: Collector
) -> None:
    with RecordingServer() as keeps, ReadsOneLine() as closes:
        staying = connect(engine, events, keeps.url)
        leaving = connect(engine, events, closes.url)
        engine.start_repeat("R3", [staying, leaving], COUNTER, 0.005)
        events.wait_closed(leaving, WAIT)
        events.wait_until(
            lambda: sum(e.size for e in events.data(staying, True)) > 100, WAIT, "sends go on"
        )
        assert not [e for e in events.of(ev.RepeatProgress) if e.finished]
        engine.close(staying)
        end = finished(events, "R3")
        assert end.reason == "every connection closed"
        assert end.sent > 10


def test_a_data_payload_goes_as_it_is_with_its_origin(engine: Engine, events: Collector) -> None:
    with RecordingServer() as server:
        cid = connect(engine, events, server.url)
        payload = SendPayload(data=b"{counter}\x00")
        engine.start_repeat("M", [cid], payload, 0.001, times=3, origin="macro greet")
        assert finished(events, "M").reason == "done"
        assert server.wait_for_bytes(30) == b"{counter}\x00" * 3
        events.settle()
        assert [e.origin for e in events.data(cid, True)] == ["macro greet"] * 3


def test_a_macro_send_carries_its_origin(engine: Engine, events: Collector) -> None:
    with RecordingServer() as server:
        cid = connect(engine, events, server.url)
        engine.send(cid, b"hi\n", origin="macro greet")
        assert server.wait_for_bytes(3) == b"hi\n"
        sent = events.wait_for(lambda e: isinstance(e, ev.Data) and e.outgoing)
        assert (sent.origin, sent.data) == ("macro greet", b"hi\n")


def test_what_a_repeat_cannot_do_is_refused_in_words(engine: Engine, events: Collector) -> None:
    with RecordingServer() as server:
        cid = connect(engine, events, server.url)
        engine.start_repeat("fast", [cid], COUNTER, 0.0005)
        assert events.wait_error("fast").message == (
            "repeat fast not started: its interval (0.5 ms) must be 1 ms or more"
        )
        engine.start_repeat("bad", [cid], SendPayload(template="{nope}"), 0.01)
        message = events.wait_error("bad").message
        assert message.startswith("repeat bad not started: its template: unknown field {nope}")
        engine.start_repeat("gone", ["C99"], COUNTER, 0.01)
        assert events.wait_error("gone").message == (
            "repeat gone not started: nothing open to send to (C99)"
        )
        engine.start_repeat("twice", [cid], COUNTER, 0.01)
        engine.start_repeat("twice", [cid], COUNTER, 0.01)
        assert events.wait_error("twice").message == (
            "repeat twice not started: one with this name is running"
        )
        engine.stop_repeat("twice")
        assert finished(events, "twice").reason == "stopped by you"
        engine.stop_repeat("never")
        note = events.wait_for(lambda e: isinstance(e, ev.Note) and e.source == "never")
        assert note.message == "repeat never is not running"
        events.settle()
        started = {e.rid for e in events.of(ev.RepeatProgress)}
        assert started == {"twice"}


def test_a_peer_that_does_not_read_holds_the_repeat_not_sockbenchs_memory(
    make_engine: Any,
) -> None:
    engine, events = make_engine()
    lid, port = listen(engine, events)
    client, cid = accept(events, lid, port, receive_buffer=4096)
    with client:
        conn = engine.connections[cid]
        assert isinstance(conn, StreamConnection)
        engine.start_repeat("R4", [cid], SendPayload(data=b"x" * 65536), 0.001)
        note = events.wait_for(
            lambda e: isinstance(e, ev.Note) and e.source == "R4" and "waits" in e.message, WAIT
        )
        assert note.message == (
            f"repeat R4 waits: {cid} does not take what it is sent (its send queue is full)"
        )
        held = [conn.buffered()]
        events.settle()
        held.append(conn.buffered())
        assert max(held) <= 1024 * 1024, held
        assert not events.of(ev.ErrorReported), "nothing was refused: it waited"
        engine.stop_repeat("R4")
        assert finished(events, "R4").reason == "stopped by you"


def test_stopping_the_engine_ends_a_running_repeat(make_engine: Any) -> None:
    engine, events = make_engine()
    with RecordingServer() as server:
        cid = connect(engine, events, server.url)
        engine.start_repeat("R5", [cid], COUNTER, 0.01)
        events.wait_for(lambda e: isinstance(e, ev.RepeatProgress) and e.rid == "R5")
        engine.stop()
        assert finished(events, "R5").reason == "sockbench quit"
