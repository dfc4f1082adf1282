"""Framings with real peers on loopback: a length-prefixed echo (a plain Python socket server
that reads `len:2:be` messages and answers each) driven through the engine with
`?framing=len:2:be`, and the app showing one Log record per message with its summary, for a
connection's framing and for the connections a listener with `?framing=netstring` accepts."""

from __future__ import annotations

import socket
import threading

from peers import ThreadedServer, connect_client, recv_exactly
from test_session_core import Driven
from textual.pilot import Pilot
from ui_helpers import (
    focus,
    log_text,
    make_app,
    run_app,
    the_app,
    wait_listener_port,
    wait_ui,
)

from workbench.framing.messages import encode, make_framer, parse_framing
from workbench.log import LogModel, ViewSettings
from workbench.protocol.endpoints import parse_url

LEN2 = parse_framing("len:2:be")


class LengthPrefixedEcho(ThreadedServer):
    """Reads `len:2:be` messages, each exactly as its prefix says, and answers each with
    `len:2:be` of b"ack " + its payload; greets with `greeting` (messages) first."""

    def __init__(self, greeting: tuple[bytes, ...] = ()) -> None:
        super().__init__()
        self.greeting = greeting
        self.received: list[bytes] = []
        self.answered = threading.Event()

    def handle(self, conn: socket.socket) -> None:
        conn.sendall(b"".join(encode(LEN2, message) for message in self.greeting))
        while not self._stopping.is_set():
            try:
                prefix = recv_exactly(conn, 2)
            except (AssertionError, OSError):
                return  # the client closed (or never sent more)
            payload = recv_exactly(conn, int.from_bytes(prefix, "big"))
            self.received.append(payload)
            conn.sendall(encode(LEN2, b"ack " + payload))


def test_a_length_prefixed_echo_answers_each_message_the_engine_frames(driven: Driven) -> None:
    core, engine = driven.core, driven.engine
    payloads = [b"hello", b"", b"\x00\xff binary", b"x" * 300]
    with LengthPrefixedEcho(greeting=(b"ready",)) as server:
        endpoint = parse_url(f"{server.url}?framing=len:2:be", for_listen=False)
        assert endpoint.options.framing == "len:2:be"
        cid = engine.connect(endpoint)
        driven.until("the connection", lambda: core.session.open_connections())
        wire = b"".join(encode(LEN2, payload) for payload in payloads)
        # One message in pieces, the others in one write: the server reads them by prefix.
        engine.send(cid, wire[:3])
        driven.until("the first piece sent", lambda: core.session.connections[cid].bytes_out == 3)
        engine.send(cid, wire[3:])
        answers = [encode(LEN2, b"ack " + payload) for payload in payloads]
        expected_in = len(encode(LEN2, b"ready")) + sum(map(len, answers))
        driven.until("every answer", lambda: core.session.connections[cid].bytes_in == expected_in)
        assert server.received == payloads

    model = LogModel()
    model.set_framing(cid, endpoint.options.framing)
    model.apply(ViewSettings(framing="messages"))
    model.append(driven.records)
    messages = [row.record for row in model.rows if row.first and row.record.is_data]
    received = [
        (r.data, row.lead) for row in model.rows if row.first and (r := row.record).kind == "in"
    ]
    assert received == [(encode(LEN2, b"ready"), "len 5")] + [
        (answer, f"len {len(answer) - 2}") for answer in answers
    ]
    sent = [row.lead for row in model.rows if row.first and row.record.kind == "out"]
    assert sent == [f"len {len(payload)}" for payload in payloads]
    assert not any(getattr(record, "error", "") for record in messages)
    # The framer of workbench.framing reads the same from the bytes the engine got.
    framer = make_framer(LEN2)
    got = b"".join(r.data for r in driven.records if r.kind == "in")
    assert [m.data for m in framer.feed(got)] == [encode(LEN2, b"ready"), *answers]


def test_the_app_shows_a_record_per_message_with_its_summary() -> None:
    with LengthPrefixedEcho(greeting=(b"hello", b"world!")) as server:

        async def scenario(pilot: Pilot[None]) -> None:
            app = the_app(pilot)
            log = app.log_view
            port = await wait_listener_port(pilot)
            # A peer of the netstring listener: two netstrings and a malformed one, one write.
            client = connect_client(port)
            client.sendall(b"5:hello,3:abc,x:bad")
            await wait_ui(
                pilot,
                lambda: sum(c.bytes_in for c in app.session.connections.values()) == 15 + 19,
                "the greeting and the netstrings",
            )
            raw = log_text(app)
            await focus(pilot, log)
            await pilot.press("l")
            assert log.model.settings.framing == "lines"
            await pilot.press("l")
            await wait_ui(pilot, lambda: log.model.settings.framing == "messages", "messages")
            rows = [row for row in log_text(app) if "←" in row]
            connected = [row.split("← ", 1)[1] for row in rows if " C1 " in row]
            assert connected == ["[len 5] \\x00\\x05hello", "[len 6] \\x00\\x06world!"]
            accepted = [row.split("← ", 1)[1] for row in rows if " C2 " in row]
            assert accepted[:2] == ["[5 bytes] 5:hello,", "[3 bytes] 3:abc,"]
            assert accepted[2].startswith(
                "[5 bytes] x:bad ✗ a netstring's length has b'x' where a digit or ':' goes"
            )
            assert "messages" in str(log.border_subtitle)
            await pilot.press("l")
            await wait_ui(pilot, lambda: log.model.settings.framing == "raw", "raw again")
            assert log_text(app) == raw
            client.close()

        app = make_app(
            listen=["tcp://127.0.0.1:0?framing=netstring"],
            connect=[f"{server.url}?framing=len:2:be"],
        )
        run_app(app, scenario)
