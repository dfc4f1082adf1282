"""The bench's Framed Log under flood: its peer (`len:2:be` messages over TCP), the app's
stats counting the messages the Log's messages view really framed (a real socket, the app
started with --log-framing messages), a framed stream's every byte reaching the Log under a
slow consumer, and the case itself in a tiny form."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from fault_helpers import accept, listen
from peers import ThreadedServer, connect_client
from textual.pilot import Pilot
from ui_helpers import make_app, run_app, the_app, wait_listener_port, wait_ui

from workbench.bench.app_cases import FloodPlan, StatsReader, framed_flood
from workbench.bench.command import QUICK, cases
from workbench.bench.peers import framed_message
from workbench.bench.rounds import SOCKBENCH, run_case
from workbench.bench.tools import python_peer
from workbench.cli import parse_command_line
from workbench.engine import EventBridge
from workbench.framing.messages import encode, make_framer, parse_framing
from workbench.protocol import events as ev

LEN2 = parse_framing("len:2:be")
WAIT = 20.0


class Sink(ThreadedServer):
    """Keeps every byte its one client sends, until the client closes."""

    def __init__(self) -> None:
        super().__init__()
        self.received = bytearray()
        self.ended = threading.Event()

    def handle(self, conn: socket.socket) -> None:
        while chunk := conn.recv(1 << 16):
            self.received += chunk
        self.ended.set()


def test_the_peer_sends_the_count_of_len2be_messages_of_100_bytes() -> None:
    assert len(framed_message(100)) == 100
    with Sink() as sink:
        argv = python_peer("framed-messages", str(sink.port), "20", "1234")
        done = subprocess.run(argv, capture_output=True, text=True, timeout=WAIT, check=True)
        assert sink.ended.wait(WAIT)
    assert json.loads(done.stdout)["messages"] == 1234
    messages = make_framer(LEN2).feed(bytes(sink.received))
    assert len(messages) == 1234 and len(sink.received) == 123_400
    assert {(len(m.data), m.summary, m.error) for m in messages} == {(100, "len 98", "")}


def test_a_bad_message_size_is_refused_in_words() -> None:
    with pytest.raises(ValueError, match="3 to 65,537 bytes, not 2"):
        framed_message(2)


def test_log_framing_starts_the_log_in_a_framing_and_refuses_others(capsys) -> None:
    assert parse_command_line([]).log_framing == "raw"
    assert parse_command_line(["--log-framing", "messages"]).log_framing == "messages"
    with pytest.raises(SystemExit) as exited:
        parse_command_line(["--log-framing", "frames"])
    assert exited.value.code == 2
    assert "invalid choice: 'frames'" in capsys.readouterr().err


def messages_of(payloads: list[bytes]) -> bytes:
    return b"".join(encode(LEN2, payload) for payload in payloads)


def send_in_odd_pieces(client: socket.socket, wire: bytes) -> None:
    """Cut at sizes that split prefixes and payloads alike; each piece has time to be its
    own read (a message framed across reads), without waiting on more than the socket."""
    at, size = 0, 1
    while at < len(wire):
        client.sendall(wire[at : at + size])
        at += size
        size = size * 7 % 997 + 1


def test_the_stats_count_the_messages_the_log_framed_not_the_bytes(tmp_path: Path) -> None:
    payloads = [b"m" * (index % 250) for index in range(300)]  # empty ones too
    stats = StatsReader(str(tmp_path / "stats.jsonl"))

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        assert app.log_view.model.settings.framing == "messages"
        with connect_client(port) as client:
            send_in_odd_pieces(client, messages_of(payloads))
            line = await wait_ui(
                pilot,
                lambda: (s := stats.poll()) is not None and s["messages"] == 300 and s,
                "300 messages in the stats",
            )
        assert line["malformed_messages"] == 0 and line["message_gaps"] == 0
        records = line["records"]
        assert isinstance(records, int) and records > 3  # the reads, and the notes
        shown = [app.log_view.model.rows[i] for i in range(len(app.log_view.model.rows))]
        leads = [row.lead for row in shown if row.lead]
        assert leads == [f"len {len(payload)}" for payload in payloads]

    app = make_app(
        listen=["tcp://127.0.0.1:0?framing=len:2:be"],
        stats_path=stats.path,
        log_framing="messages",
    )
    run_app(app, scenario)


def test_the_stats_count_no_messages_while_the_log_shows_reads(tmp_path: Path) -> None:
    stats = StatsReader(str(tmp_path / "stats.jsonl"))

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        with connect_client(port) as client:
            client.sendall(messages_of([b"hello"] * 50))
            await wait_ui(
                pilot,
                lambda: sum(c.bytes_in for c in app.session.connections.values()) == 350,
                "the bytes",
            )
        line = await wait_ui(
            pilot, lambda: (s := stats.poll()) and s["records"] >= 3 and s, "the records"
        )
        assert line["messages"] == 0  # counted where the Log frames, not guessed from bytes

    app = make_app(listen=["tcp://127.0.0.1:0?framing=len:2:be"], stats_path=stats.path)
    run_app(app, scenario)


def test_a_whole_chunk_comes_in_pieces_a_view_holds_and_a_full_batch_pauses_its_reader() -> None:
    bridge = EventBridge(max_bytes=100_000)
    drained: list[bool] = []
    bridge.on_drained = lambda: drained.append(True)
    chunk = bytes(range(256)) * 800  # 204,800 bytes
    assert bridge.push_whole(1.0, "C1", False, memoryview(chunk)) is True  # full: pause
    events = bridge.drain()
    assert [e.size for e in events] == [65_536, 65_536, 65_536, 8_192]
    assert all(isinstance(e, ev.Data) and e.size == len(e.data) for e in events)
    assert b"".join(e.data for e in events) == chunk  # type: ignore[attr-defined]
    assert drained == [True]  # the drain says so: reading resumes
    assert bridge.push_whole(2.0, "C1", False, b"small") is False
    assert bridge.drain()[0].data == b"small"  # type: ignore[attr-defined]
    assert drained == [True]


def flood_through(make_engine, url: str, framed_later: bool = False) -> tuple[bytes, list[ev.Data]]:
    """4 MiB sent at once to a listener at `url`, drained by a consumer slower than the
    sender (a small batch, a rest between drains): what was sent, and the Data events.
    `framed_later`: the peer's stream is framed once accepted (the palette's framing)."""
    engine, events = make_engine(EventBridge(max_bytes=64 * 1024))
    lid, port = listen(engine, events, url)
    client, cid = accept(events, lid, port)
    if framed_later:
        engine.frame_whole(cid, True)
        client.sendall(b"\x00\x02hi")  # sent once the command is in: it was taken first
        deadline = time.monotonic() + WAIT
        while not any(isinstance(e, ev.Data) and e.cid == cid for e in events.events):
            assert time.monotonic() < deadline, "the first message did not arrive"
            events.pump()
            time.sleep(0.01)
    wire = messages_of([b"x" * 98] * 41_943)
    sender = threading.Thread(target=client.sendall, args=(wire,), daemon=True)
    sender.start()

    def data() -> list[ev.Data]:
        return [e for e in events.events if isinstance(e, ev.Data) and e.cid == cid]

    deadline = time.monotonic() + WAIT
    while sum(e.size for e in data()) < len(wire):
        assert time.monotonic() < deadline, "the flood did not arrive in time"
        events.pump()
        time.sleep(0.01)  # the slow consumer: what piles up meanwhile is the point
    sender.join(WAIT)
    client.close()
    return wire, data()


def test_a_framed_stream_reaches_the_log_whole_under_a_flood(make_engine) -> None:
    wire, data = flood_through(make_engine, "tcp://127.0.0.1:0?framing=len:2:be")
    assert all(e.size == len(e.data) <= 64 * 1024 for e in data)  # nothing merged or cut
    assert b"".join(e.data for e in data) == wire
    # Without a framing the same flood is merged into previews (the view's bound).
    _, unframed = flood_through(make_engine, "tcp://127.0.0.1:0")
    assert any(e.size > len(e.data) for e in unframed)


def test_a_stream_framed_while_it_runs_reaches_the_log_whole_too(make_engine) -> None:
    """The palette's "Framing of a connection..." tells the engine: from then on its reads
    are not merged either."""
    wire, data = flood_through(make_engine, "tcp://127.0.0.1:0", framed_later=True)
    assert all(e.size == len(e.data) <= 64 * 1024 for e in data)
    assert b"".join(e.data for e in data) == b"\x00\x02hi" + wire


def test_the_framed_flood_case_runs_in_a_tiny_form() -> None:
    assert "Framed Log under flood" in [make().name for make in cases(QUICK)]
    done = run_case(framed_flood(FloodPlan(3_000, WAIT)), 1, lambda line: None)
    assert not done.errors
    (figures,) = done.figures[SOCKBENCH]
    assert figures["messages"] > 0 and figures["fps"] > 0 and figures["key_p99"] > 0
