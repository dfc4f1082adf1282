"""Payloads a hostile or broken peer sends: one 5 MB message without a newline, every byte
value and invalid UTF-8, the largest UDP datagram, and UDP from thousands of source
addresses. Counted exactly, recorded exactly, cut only in the view, and the app answers."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from pathlib import Path

from fault_helpers import accept, listen, transcript_streams
from peers import LOCALHOST, Collector, udp_socket
from textual.pilot import Pilot
from ui_helpers import (
    focus,
    make_app,
    run_app,
    the_app,
    type_line,
    wait_listener_port,
    wait_log,
    wait_ui,
)

from workbench.engine import Engine
from workbench.engine.datagram import DEFAULT_MAX_PEERS
from workbench.protocol import events as ev
from workbench.protocol.endpoints import parse_url

MB = 1_000_000
MAX_IPV4_DATAGRAM = 65_507
SOURCES = 3 * DEFAULT_MAX_PEERS  # three times what the peer table keeps


def listen_udp(engine: Engine, events: Collector) -> tuple[str, int]:
    lid = engine.listen(parse_url("udp://127.0.0.1:0", for_listen=True))
    opened = events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid)
    return lid, int(opened.local[0].rsplit(":", 1)[1])


def data_records(path: Path, direction: str = "in") -> list[dict[str, object]]:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [r for r in records if r["event"] == "data" and r["dir"] == direction]


def test_every_byte_value_and_invalid_utf8_arrive_exactly(make_engine, tmp_path) -> None:
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    lid, port = listen(engine, events)
    payload = bytes(range(256)) * 400 + b"\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\xbc\xed\xa0\x80"
    client, cid = accept(events, lid, port)
    with client:
        client.sendall(payload)
        events.wait_until(
            lambda: sum(e.size for e in events.data(cid, outgoing=False)) == len(payload),
            what="all bytes",
        )
    engine.flush_transcript()
    assert events.received(cid) == payload[: len(events.received(cid))]  # previews in order
    assert sum(e.size for e in events.data(cid, outgoing=False)) == len(payload)
    assert transcript_streams(transcript)[(cid, "in")] == payload


def test_the_largest_udp_datagram_arrives_whole(make_engine, tmp_path) -> None:
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    _, port = listen_udp(engine, events)
    payload = bytes(range(256)) * (MAX_IPV4_DATAGRAM // 256) + b"!" * (MAX_IPV4_DATAGRAM % 256)
    assert len(payload) == MAX_IPV4_DATAGRAM
    with udp_socket() as sender:
        sender.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        sender.sendto(payload, (LOCALHOST, port))
        data = events.wait_for(lambda e: isinstance(e, ev.Data) and not e.outgoing)
    assert (data.size, data.chunks) == (MAX_IPV4_DATAGRAM, 1)
    assert data.data == payload  # under 64 KiB: the view holds it all
    engine.flush_transcript()
    (record,) = data_records(transcript)
    assert base64.b64decode(record["data"]) == payload  # type: ignore[arg-type]


def test_udp_from_thousands_of_source_addresses_is_counted_and_bounded(
    make_engine, tmp_path
) -> None:
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    lid, port = listen_udp(engine, events)
    senders: list[socket.socket] = []  # all kept open, so no source port is used twice
    try:
        for batch in range(0, SOURCES, 500):  # in batches the engine takes as the UI drains
            new = [udp_socket() for _ in range(min(500, SOURCES - batch))]
            senders += new
            for number, sender in enumerate(new, batch):
                sender.sendto(b"hello from source %d" % number, (LOCALHOST, port))
            expected = len(senders)
            events.wait_until(
                lambda expected=expected: (
                    sum(e.chunks for e in events.of(ev.Data) if not e.outgoing) >= expected
                ),
                what=f"{expected} datagrams",
            )
    finally:
        for sender in senders:
            sender.close()
    opened = [e for e in events.of(ev.ConnectionOpened) if e.listener == lid]
    forgotten = [
        e for e in events.of(ev.ConnectionClosed) if e.reason.startswith("forgotten: peer table")
    ]
    assert len(opened) == SOURCES
    assert len(forgotten) == SOURCES - DEFAULT_MAX_PEERS  # the table stays bounded
    listener = engine.listeners[lid]
    assert listener.opened is not None and listener.opened.datagram is not None
    assert len(listener.opened.datagram.peers) == DEFAULT_MAX_PEERS
    engine.flush_transcript()
    assert len(data_records(transcript)) == SOURCES  # one record per datagram, none lost


def test_a_5_mb_message_without_a_newline_is_kept_whole_and_cut_only_in_the_view(
    tmp_path,
) -> None:
    transcript = tmp_path / "t.jsonl"
    payload = b"x" * (5 * MB)

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        client = socket.create_connection((LOCALHOST, port), timeout=5)
        try:
            await asyncio.to_thread(client.sendall, payload)

            def all_counted() -> bool:
                return any(c.bytes_in == len(payload) for c in app.session.connections.values())

            await wait_ui(pilot, all_counted, "all 5 MB counted")
            await wait_log(pilot, "more")  # the view cuts the long line, and says so
            await focus(pilot, app.composer)
            await type_line(pilot, "still here")
            assert await asyncio.to_thread(client.recv, 100) == b"still here\n"
        finally:
            client.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"], transcript=str(transcript)), scenario)
    ((cid, _),) = [key for key in transcript_streams(transcript) if key[1] == "in"]
    assert transcript_streams(transcript)[(cid, "in")] == payload
