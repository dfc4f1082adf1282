"""Faults during a connection, on the real engine with real peers (plain sockets and the fault
proxy): resets, half-closes either way, a peer that closes while we send, sends after the end,
a peer that never reads (a bounded, visible send queue the user can abort), a slow reader,
and floods while the UI is behind (reading paused, counts and transcript exact)."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable

from fault_helpers import (
    accept,
    connect,
    listen,
    transcript_close,
    transcript_records,
    transcript_streams,
)
from faultproxy import FaultProxy
from peers import (
    Collector,
    EchoServer,
    GreetingServer,
    RecordingServer,
    abort,
    connect_client,
    recv_exactly,
    wait_until,
)

from workbench.engine import Engine, EventBridge
from workbench.engine.stream import MAX_SEND_QUEUE_BYTES
from workbench.protocol import events as ev

KIB = 1024
MIB = 1024 * 1024


def half_closed(cid: str, outgoing: bool) -> Callable[[ev.Event], bool]:
    return lambda e: isinstance(e, ev.HalfClosed) and e.cid == cid and e.outgoing == outgoing


def errors_of(events: Collector, cid: str) -> list[str]:
    return [e.message for e in events.of(ev.ErrorReported) if e.source == cid]


# --- resets and half-closes ---


def test_peer_resets_mid_stream_and_what_arrived_is_kept(make_engine, tmp_path) -> None:
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    greeting = os.urandom(10_000)
    with GreetingServer(greeting) as server, FaultProxy(server.port, reset_after=4000) as proxy:
        cid = connect(engine, events, proxy.url)
        closed = events.wait_closed(cid)
        assert (closed.reason, closed.error) == ("reset by peer", True)
        assert events.received(cid) == greeting[:4000]
    engine.stop()
    assert transcript_streams(transcript)[cid, "in"] == greeting[:4000]
    close = transcript_close(transcript, cid)
    assert (close["reason"], close["bytes_in"]) == ("reset by peer", 4000)


def test_peer_half_closes_and_we_can_still_send(engine: Engine, events: Collector) -> None:
    with RecordingServer(b"0123456789") as server, FaultProxy(server.port, eof_after=4) as proxy:
        cid = connect(engine, events, proxy.url)
        events.wait_for(half_closed(cid, outgoing=False))
        assert events.received(cid) == b"0123"
        engine.send(cid, b"still here\n")
        assert server.wait_for_bytes(11) == b"still here\n"
        assert not events.of(ev.ConnectionClosed, cid), "a half-close is not a close"
        assert errors_of(events, cid) == []


def test_user_half_closes_and_still_receives(engine: Engine, events: Collector) -> None:
    """Our EOF goes through a slow proxy behind the data; the echo of that data still comes
    back after it, and then the peer's own EOF ends the connection."""
    with EchoServer() as echo, FaultProxy(echo.port, latency=0.1) as proxy:
        cid = connect(engine, events, proxy.url)
        engine.send(cid, b"last words\n")
        engine.half_close(cid)
        events.wait_for(half_closed(cid, outgoing=True))
        assert events.wait_received(cid, 11) == b"last words\n"
        closed = events.wait_closed(cid)
        assert (closed.reason, closed.error) == ("closed by both sides", False)
        engine.send(cid, b"more")
        assert "not sent" in events.wait_error(cid).message


def test_peer_closes_while_we_are_sending_a_file(make_engine, tmp_path) -> None:
    """The peer reads a little and goes away: the file stops with the reason, the connection
    ends with an error, and the counters equal what the transcript says was handed over."""
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    path = tmp_path / "big.bin"
    path.write_bytes(os.urandom(64 * MIB))
    lid, port = listen(engine, events)
    client, cid = accept(events, lid, port)
    with client:
        engine.send_file(cid, str(path))
        recv_exactly(client, 100 * KIB)
        abort(client)
    closed = events.wait_closed(cid, timeout=10)
    assert closed.error
    assert closed.reason in ("reset by peer", "closed by peer while sending (broken pipe)")
    done = events.wait_for(lambda e: isinstance(e, ev.FileProgress) and e.finished, timeout=10)
    assert done.error.startswith("stopped after ")
    assert done.sent < path.stat().st_size
    engine.send(cid, b"anyone?")
    events.wait_for(
        lambda e: (
            isinstance(e, ev.ErrorReported)
            and e.message == f"not sent (7 bytes): {cid} is not open"
        )
    )
    engine.stop()
    out = transcript_streams(transcript)[cid, "out"]
    assert out == path.read_bytes()[: len(out)]
    assert transcript_close(transcript, cid)["bytes_out"] == len(out) == done.sent


def test_sends_after_a_reset_are_reported_as_not_sent(engine: Engine, events: Collector) -> None:
    with EchoServer() as echo, FaultProxy(echo.port) as proxy:
        cid = connect(engine, events, proxy.url)
        engine.send(cid, b"ping")
        events.wait_received(cid, 4)
        proxy.reset_all()
        events.wait_closed(cid)
        engine.send(cid, b"pong")
        assert events.wait_error(cid).message == f"not sent (4 bytes): {cid} is not open"
        assert events.size(cid, outgoing=True) == 4, "nothing after the reset counts as sent"


# --- a peer that never reads ---


def test_never_reading_peer_bounded_visible_queue_and_abort(make_engine, tmp_path) -> None:
    """Sending 64 MiB to a peer that never reads: sockbench holds at most its bound, says how
    much is queued, refuses what does not fit (in words, never silently), and a reset drops
    the queue and says how many bytes were not sent."""
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    with RecordingServer() as server, FaultProxy(server.port, blackhole=True) as proxy:
        cid = connect(engine, events, proxy.url)
        conn = engine.connections[cid]
        piece = os.urandom(256 * KIB)
        pieces = 256
        for _ in range(pieces):
            engine.send(cid, piece)
        # Every send is either handed over (an out Data event) or refused (an error).
        events.wait_until(
            lambda: (
                events.size(cid, True) + len(piece) * len(errors_of(events, cid))
                == pieces * len(piece)
            ),
            timeout=20,
            what="every send handed over or refused",
        )
        refused = errors_of(events, cid)
        assert refused, "a peer that never reads cannot take 64 MiB"
        assert refused[0].startswith(f"not sent (262,144 bytes): {cid} already has ")
        assert "KiB queued that the peer has not taken" in refused[0]
        assert conn.buffered() <= MAX_SEND_QUEUE_BYTES, "sockbench's own buffer is bounded"
        queued = events.wait_for(lambda e: isinstance(e, ev.SendQueue) and e.cid == cid)
        assert queued.queued > 0
        sent = events.size(cid, True)
        last = events.wait_until(
            lambda: [e for e in events.of(ev.SendQueue, cid) if e.queued >= conn.buffered()],
            what="the queue as reported",
        )[-1]
        assert last.queued <= sent
        engine.reset(cid)
        closed = events.wait_closed(cid)
        assert closed.reason.startswith("reset by you: ")
        unsent = int(closed.reason.split(": ")[1].split(" ")[0].replace(",", ""))
        assert MAX_SEND_QUEUE_BYTES // 2 < unsent <= sent
        assert closed.reason.endswith(" bytes queued were not sent")
    engine.stop()
    close = transcript_close(transcript, cid)
    assert close["bytes_out"] == sent == len(transcript_streams(transcript)[cid, "out"])
    assert close["reason"] == closed.reason, "the transcript says how much never left"


def test_slow_reader_queue_is_reported_and_drains_to_zero(
    engine: Engine, events: Collector
) -> None:
    payload = os.urandom(6 * MIB)
    with RecordingServer() as server, FaultProxy(server.port, read_rate=4 * MIB) as proxy:
        cid = connect(engine, events, proxy.url)
        for start in range(0, len(payload), 256 * KIB):
            engine.send(cid, payload[start : start + 256 * KIB])
        assert server.wait_for_bytes(len(payload), timeout=30) == payload
        events.wait_until(
            lambda: (q := events.of(ev.SendQueue, cid)) and q[-1].queued == 0,
            what="the queue reported empty again",
        )
        assert max(e.queued for e in events.of(ev.SendQueue, cid)) > 0
        assert errors_of(events, cid) == []


# --- floods ---


def flood(port: int, data: bytes, done: threading.Event) -> threading.Thread:
    def run() -> None:
        with connect_client(port, timeout=30) as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            done.wait(30)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_flood_while_the_ui_is_behind_pauses_reading_and_loses_nothing(
    make_engine, tmp_path
) -> None:
    """Many peers flood at once while nobody drains the bridge (a UI that is behind): past its
    backlog bound the engine stops reading instead of holding more; once drained, reading
    resumes, and every byte is counted and in the transcript."""
    transcript = tmp_path / "t.jsonl"
    bridge = EventBridge(max_events=10, max_bytes=16 * KIB)
    engine, events = make_engine(bridge=bridge, transcript_path=str(transcript))
    _lid, port = listen(engine, events)
    peers = 30
    payloads = [os.urandom(2 * MIB) for _ in range(peers)]
    done = threading.Event()
    threads = [flood(port, data, done) for data in payloads]
    try:
        # Do not drain: wait for the engine to pause (not pump, which would drain).
        wait_until(lambda: engine._read_paused, timeout=10, what="reading paused")
        held = len(bridge._events)
        assert held <= bridge.max_backlog_events + peers * 3, "the backlog is bounded"
        # The flooders are stuck while paused; draining lets them finish.
        events.wait_until(
            lambda: len(events.of(ev.HalfClosed)) == peers,
            timeout=60,
            what="every flood received",
        )
    finally:
        done.set()
        for thread in threads:
            thread.join(10)
    opened = {e.cid: e.remote for e in events.of(ev.ConnectionOpened)}
    sizes = {cid: events.size(cid, outgoing=False) for cid in opened}
    assert sorted(sizes.values()) == [2 * MIB] * peers
    engine.stop()
    streams = transcript_streams(transcript)
    assert sorted(streams[cid, "in"] for cid in opened) == sorted(payloads)
    records = transcript_records(transcript)
    assert sum(1 for r in records if r["event"] == "open") == peers


def test_bridge_says_when_it_is_saturated_and_when_it_was_drained() -> None:
    bridge = EventBridge(max_events=2, max_bytes=1 << 20)
    drained: list[bool] = []
    bridge.on_drained = lambda: drained.append(True)
    # Data of many connections cannot merge into one event: the backlog grows to its bound.
    answers = [bridge.push_data(0.0, f"C{i}", False, b"x") for i in range(20)]
    assert answers[: bridge.max_backlog_events - 1] == [False] * (bridge.max_backlog_events - 1)
    assert answers[-1] is True
    assert bridge.saturated
    bridge.drain()
    assert drained == [True]
    assert not bridge.saturated
    bridge.drain()
    assert drained == [True], "only a drain that relieved a saturated bridge is announced"
