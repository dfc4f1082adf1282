"""Repeated sends against real peers: numbered sends that arrive in order exactly once,
stopping mid-way, several connections, connections that close, a peer that does not read,
and what is refused in words."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from fault_helpers import accept, connect, listen, transcript_records
from peers import Collector, RecordingServer, ThreadedServer, wait_until
from test_session_core import Driven

from workbench.engine import Engine
from workbench.engine.stream import StreamConnection
from workbench.log import Record
from workbench.protocol import events as ev
from workbench.protocol.endpoints import parse_url
from workbench.protocol.enums import RecordKind
from workbench.protocol.sequences import SendPayload
from workbench.session.core import SessionCore
from workbench.transcript.reader import read
from workbench.transcript.records import Event

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
        lines = {first: [f"{first} {n}" for n in range(1, 41)]}
        lines[second] = [f"{second} {n}" for n in range(1, 41)]
        for index in range(2):
            wait_until(lambda i=index: server.data(i).count(b"\n") >= 40, WAIT, "40 lines")
        got = sorted(server.data(index).decode().splitlines() for index in range(2))
        assert got == sorted(lines.values())


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


# --- the session core: running repeats, and the Log's line when one ends ---


def test_the_session_core_lists_running_repeats_and_words_their_end(driven: Driven) -> None:
    repeats = driven.core.session.repeats
    with RecordingServer() as server:
        cid = driven.engine.connect(parse_url(server.url, for_listen=False))
        driven.until("open", lambda: cid in driven.core.session.connections)
        driven.until("open", lambda: driven.core.session.connections[cid].is_open)
        driven.engine.start_repeat("R1", [cid], COUNTER, 0.001, times=1000)
        driven.until("the repeat running", lambda: "R1" in repeats)
        running = repeats["R1"]
        assert (running.times, running.finished) == (1000, False)
        assert 1 <= running.sent <= 1000
        driven.until("its end", lambda: "repeat R1: 1,000 sends: done" in driven.texts())
        assert "R1" not in repeats
        driven.engine.start_repeat("R2", [cid], COUNTER, 0.001)
        driven.until("the second running", lambda: "R2" in repeats)
        driven.engine.stop_repeat("R2")
        driven.until("the second's end", lambda: "R2" not in repeats)
    (stopped,) = [r for r in driven.records if r.source == "R2"]
    assert stopped.kind == "info"
    assert stopped.text.startswith("repeat R2: ") and stopped.text.endswith(
        " sends: stopped by you"
    )
    # One record per repeat's end: its progress meanwhile is for the panes, not the Log.
    assert [r.source for r in driven.records if r.source.startswith("R")] == ["R1", "R2"]


def test_the_session_core_words_a_single_send() -> None:
    core = SessionCore()
    update = core.apply([ev.RepeatProgress(1.0, "R9", 1, 0, True, "every connection closed")])
    (record,) = [r if isinstance(r, Record) else Record(*r) for r in update.records]
    assert (record.source, record.kind, record.text) == (
        "R9",
        "info",
        "repeat R9: 1 send: every connection closed",
    )
    assert update.changes.repeats and core.session.repeats == {}


def test_an_origin_that_could_not_be_written_is_refused(make_engine: Any, tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    with RecordingServer() as server:
        cid = connect(engine, events, server.url)
        forged = 'macro x","dir":"in'
        engine.send(cid, b"one\n", origin=forged)
        assert "cannot name who sent it" in events.wait_error(cid).message
        engine.start_repeat("R6", [cid], COUNTER, 0.01, times=2, origin=forged)
        assert "cannot name who sent it" in events.wait_error("R6").message
        engine.send(cid, b"two\n", origin="macro x")
        assert server.wait_for_bytes(4) == b"two\n"
    engine.stop()
    records = transcript_records(transcript)
    assert [(r["dir"], r.get("origin")) for r in records if r["event"] == "data"] == [
        ("out", "macro x")
    ]


def test_a_repeat_s_end_is_in_the_transcript(make_engine: Any, tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    with RecordingServer() as server:
        cid = connect(engine, events, server.url)
        engine.start_repeat("R7", [cid], COUNTER, 0.001, times=20)
        assert finished(events, "R7").reason == "done"
        assert server.wait_for_bytes(len(b"".join(b"%d\n" % n for n in range(1, 21))))
    engine.stop()
    records = transcript_records(transcript)
    (outcome,) = [r for r in records if r["event"] == "repeat"]
    assert outcome["conn"] == ""
    assert (outcome["repeat"], outcome["sent"], outcome["times"]) == ("R7", 20, 20)
    assert outcome["reason"] == "done"
    sent = [r for r in records if r["event"] == "data" and r["dir"] == "out"]
    assert len(sent) == 20 and {r["origin"] for r in sent} == {"repeat"}
    with transcript.open("rb") as file:
        typed = [r for r in read(file) if isinstance(r, Event) and r.event == RecordKind.REPEAT]
    assert [r.fields["repeat"] for r in typed] == ["R7"]
