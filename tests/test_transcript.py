"""The lossless transcript (JSON Lines): every event, every byte exactly, appended per session."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from peers import (
    Collector,
    EchoServer,
    closed_port,
    connect_client,
    port_of,
    recv_exactly,
    recv_until_eof,
    wait_until,
)

from workbench import __version__
from workbench.engine import Engine, EventBridge
from workbench.protocol import events as ev
from workbench.protocol.endpoints import format_sockname, parse_url
from workbench.transcript.schema import SCHEMA_VERSION

MB = 1024 * 1024
BINARY = bytes(range(256))


def read_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def data_by_stream(records: list[dict[str, Any]]) -> dict[tuple[str, str], bytes]:
    """The bytes of each (conn, dir), in order, decoded from the data records."""
    streams: dict[tuple[str, str], bytearray] = defaultdict(bytearray)
    for record in records:
        if record["event"] == "data":
            chunk = base64.b64decode(record["data"], validate=True)
            assert record["size"] == len(chunk)
            streams[record["conn"], record["dir"]] += chunk
    return {key: bytes(value) for key, value in streams.items()}


def start_listener(engine: Engine, events: Collector) -> tuple[str, int]:
    lid = engine.listen(parse_url("tcp://127.0.0.1:0", for_listen=True))
    opened = events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid)
    return lid, port_of(opened.local[0])


def accept_client(events: Collector, lid: str, port: int) -> tuple[socket.socket, str]:
    client = connect_client(port)
    me = format_sockname(client.getsockname())
    opened = events.wait_for(
        lambda e: isinstance(e, ev.ConnectionOpened) and e.listener == lid and e.remote == me
    )
    return client, opened.cid


def run_session(make_engine, path: Path) -> dict[str, Any]:
    """A session with traffic both ways on an accepted and an outgoing connection; returns
    what each side sent, by connection id and direction."""
    engine, events = make_engine(transcript_path=str(path))
    lid, port = start_listener(engine, events)
    client, accepted = accept_client(events, lid, port)
    big_in, big_out = os.urandom(MB), os.urandom(MB)
    with client, EchoServer() as echo:
        client.sendall(BINARY + big_in)
        events.wait_received(accepted, len(BINARY) + len(big_in))
        engine.send(accepted, BINARY)
        engine.send(accepted, big_out)
        assert recv_exactly(client, len(BINARY) + len(big_out)) == BINARY + big_out
        engine.half_close(accepted)
        assert recv_until_eof(client) == b""

        outgoing = engine.connect(parse_url(echo.url, for_listen=False))
        events.wait_opened(outgoing)
        engine.send(outgoing, b"echo me \x00\xff")
        events.wait_received(outgoing, 10)
        engine.close(outgoing)
        events.wait_closed(outgoing)
        engine.stop()
    return {
        "lid": lid,
        "port": port,
        "accepted": accepted,
        "outgoing": outgoing,
        "streams": {
            (accepted, "in"): BINARY + big_in,
            (accepted, "out"): BINARY + big_out,
            (outgoing, "out"): b"echo me \x00\xff",
            (outgoing, "in"): b"echo me \x00\xff",
        },
    }


def test_transcript_records_every_event_and_every_byte(make_engine, tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    session = run_session(make_engine, path)
    records = read_records(path)

    for record in records:
        assert isinstance(record["ts"], float)
        assert isinstance(record["event"], str)
        assert isinstance(record["conn"], str)
    assert records[0] == {
        "ts": records[0]["ts"],
        "event": "session",
        "conn": "",
        "version": __version__,
        "schema": SCHEMA_VERSION,
        "session_id": records[0]["session_id"],  # this run's, for its exports
    }
    assert re.fullmatch(r"[0-9a-f]{16}", records[0]["session_id"])

    (listen,) = [r for r in records if r["event"] == "listen"]
    assert listen["conn"] == session["lid"]
    assert listen["transport"] == "tcp"
    assert listen["local"] == [f"127.0.0.1:{session['port']}"]

    opens = {r["conn"]: r for r in records if r["event"] == "open"}
    assert set(opens) == {session["accepted"], session["outgoing"]}
    for record in opens.values():
        assert record["local"].startswith("127.0.0.1:")
        assert record["remote"].startswith("127.0.0.1:")
    assert opens[session["accepted"]]["listener"] == session["lid"]
    assert opens[session["accepted"]]["local"] == f"127.0.0.1:{session['port']}"
    assert opens[session["outgoing"]]["listener"] is None

    assert data_by_stream(records) == session["streams"]

    eofs = [(r["conn"], r["dir"]) for r in records if r["event"] == "eof"]
    assert (session["accepted"], "out") in eofs

    closes = {r["conn"]: r for r in records if r["event"] == "close"}
    outgoing_close = closes[session["outgoing"]]
    assert outgoing_close["reason"] == "closed by you"
    assert outgoing_close["cause"] == "you"
    assert outgoing_close["bytes_in"] == outgoing_close["bytes_out"] == 10
    accepted_close = closes[session["accepted"]]
    assert accepted_close["reason"] == "closed: sockbench quit"
    assert accepted_close["cause"] == "quit"
    assert accepted_close["bytes_in"] == len(session["streams"][session["accepted"], "in"])
    assert accepted_close["bytes_out"] == len(session["streams"][session["accepted"], "out"])
    assert closes[session["lid"]]["reason"] == "sockbench quit"
    assert closes[session["lid"]]["cause"] == "quit"
    assert records[-1]["event"] == "close", "stop() flushed the file to its end"


def test_records_of_one_connection_are_in_order(make_engine, tmp_path: Path) -> None:
    path = tmp_path / "order.jsonl"
    session = run_session(make_engine, path)
    for cid in (session["accepted"], session["outgoing"]):
        sequence = [r["event"] for r in read_records(path) if r["conn"] == cid]
        assert sequence[0] == "open"
        assert sequence[-1] == "close"
        assert set(sequence[1:-1]) <= {"data", "eof"}


def test_a_second_session_appends(make_engine, tmp_path: Path) -> None:
    path = tmp_path / "twice.jsonl"
    first = run_session(make_engine, path)
    first_lines = path.read_bytes().splitlines()
    second = run_session(make_engine, path)
    lines = path.read_bytes().splitlines()
    assert lines[: len(first_lines)] == first_lines
    records = read_records(path)
    assert [r["event"] for r in records].count("session") == 2
    later = records[len(first_lines) :]
    assert later[0]["event"] == "session"
    # Ids restart in each session: the second session's bytes are exactly its own.
    assert data_by_stream(later) == second["streams"]
    assert data_by_stream(records[: len(first_lines)]) == first["streams"]


def test_errors_are_recorded(make_engine, tmp_path: Path) -> None:
    path = tmp_path / "errors.jsonl"
    engine, events = make_engine(transcript_path=str(path))
    refused = engine.connect(parse_url(f"tcp://127.0.0.1:{closed_port()}", for_listen=False))
    events.wait_closed(refused)
    engine.send("C99", b"abc")
    events.wait_for(lambda e: isinstance(e, ev.ErrorReported) and e.source == "C99")
    engine.stop()
    records = read_records(path)
    errors = {r["conn"]: r["message"] for r in records if r["event"] == "error"}
    assert "refused" in errors[refused]
    assert errors["C99"].startswith("not sent (3 bytes)")
    (close,) = [r for r in records if r["event"] == "close" and r["conn"] == refused]
    assert "refused" in close["reason"]


def test_transcript_is_lossless_while_the_bridge_merges(make_engine, tmp_path: Path) -> None:
    path = tmp_path / "flood.jsonl"
    engine, events = make_engine(
        bridge=EventBridge(max_events=2, max_bytes=1024), transcript_path=str(path)
    )
    lid, port = start_listener(engine, events)
    client, cid = accept_client(events, lid, port)
    payload = os.urandom(2 * MB)
    with client:
        for start in range(0, len(payload), 8192):
            client.sendall(payload[start : start + 8192])
        client.shutdown(socket.SHUT_WR)
        events.wait_until(
            lambda: events.size(cid, outgoing=False) == len(payload),
            timeout=10,
            what="the flood to arrive",
        )
        engine.stop()
    assert data_by_stream(read_records(path))[cid, "in"] == payload


def test_transcript_is_flushed_while_the_engine_runs(make_engine, tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    engine, events = make_engine(transcript_path=str(path))
    lid, _port = start_listener(engine, events)
    # The engine flushes a few times a second, so `tail -f` shows the session as it goes.
    wait_until(
        lambda: any(
            r["event"] == "listen" and r["conn"] == lid
            for r in read_records(path)
            if path.stat().st_size
        ),
        timeout=3,
        what="the listen record on disk",
    )


def test_transcript_in_a_missing_directory_fails_at_construction(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        Engine(EventBridge(), transcript_path=str(tmp_path / "missing" / "t.jsonl"))


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="/dev/full is Linux-only")
def test_a_full_disk_is_reported_once_and_the_sockets_go_on(make_engine) -> None:
    engine, events = make_engine(transcript_path="/dev/full")
    with EchoServer() as echo:
        cid = engine.connect(parse_url(echo.url, for_listen=False))
        events.wait_opened(cid)
        error = events.wait_for(
            lambda e: isinstance(e, ev.ErrorReported) and e.source == "transcript"
        )
        assert "/dev/full" in error.message
        assert "recording stopped" in error.message
        # Lots of traffic after the failure: the sockets keep working, no further reports.
        payload = os.urandom(3 * MB)
        engine.send(cid, payload)
        events.wait_until(lambda: events.size(cid, outgoing=False) == len(payload), 10)
        engine.stop()
    transcript_errors = [e for e in events.of(ev.ErrorReported) if e.source == "transcript"]
    assert len(transcript_errors) == 1
