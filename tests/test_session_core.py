"""The session core without Textual: a real engine's events in, state and Log records out."""

from __future__ import annotations

import gc
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from peers import recv_exactly

from workbench.engine import Engine, EventBridge
from workbench.log import LogModel, Record
from workbench.protocol import events as ev
from workbench.protocol.endpoints import parse_url
from workbench.protocol.enums import CloseCause, ConnState, Origin
from workbench.session.core import NotSendable, SessionCore, Update
from workbench.session.drain import Drainer
from workbench.ui.detail import describe_record
from workbench.ui.log_view import LogView

WAIT_SECONDS = 10.0


class Driven:
    """A SessionCore fed by a real engine's bridge, drained as a headless runner would."""

    def __init__(self) -> None:
        self.bridge = EventBridge()
        self.engine = Engine(self.bridge)
        self.core = SessionCore()
        self.records: list[Record] = []
        self.drainer = Drainer(self.bridge, self.handle)

    def handle(self, events: list[ev.Event], last: bool) -> None:
        update = self.core.apply(events)
        self.records += [r if isinstance(r, Record) else Record(*r) for r in update.records]

    def until(self, what: str, found: Callable[[], object]) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while not found():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(self.drainer.drain_once())

    def texts(self) -> list[str]:
        return [r.text for r in self.records if not r.is_data]


def test_a_connection_s_life_gives_its_records_and_state(driven: Driven) -> None:
    core, engine = driven.core, driven.engine
    lid = engine.listen(parse_url("tcp://127.0.0.1:0", for_listen=True))
    driven.until("the listener", lambda: lid in core.session.listeners)
    port = int(core.session.listeners[lid].local[0].rsplit(":", 1)[1])
    assert driven.texts() == [f"listening on tcp 127.0.0.1:{port}"]

    with socket.create_connection(("127.0.0.1", port), timeout=WAIT_SECONDS) as client:
        driven.until("the peer", lambda: core.session.open_connections())
        (conn,) = core.session.open_connections()
        assert conn.state == ConnState.OPEN and conn.listener == lid
        assert core.target == conn.cid, "the first connection becomes the target"
        client.sendall(b"hello\n")
        driven.until("the data", lambda: conn.bytes_in == 6)
        payloads = core.payloads(lambda settings: b"back\n")
        assert payloads == [(conn.cid, b"back\n")]
        engine.send(conn.cid, b"back\n")
        assert client.recv(100) == b"back\n"
        driven.until("the sent data", lambda: conn.bytes_out == 5)
    driven.until("the close", lambda: conn.state == ConnState.CLOSED)

    data = [(r.source, r.kind, r.data, r.unit, r.encoding, r.text) for r in driven.records]
    data = [d for d in data if d[1] in ("in", "out")]
    assert data == [
        (conn.cid, "in", b"hello\n", "reads", "utf-8", ""),
        (conn.cid, "out", b"back\n", "reads", "utf-8", ""),
    ]
    texts = driven.texts()
    assert texts[1].startswith("accepted 127.0.0.1:") and texts[1].endswith(f"({lid})")
    assert "closed" in texts[-1]
    assert [r.seq for r in driven.records] == list(range(1, len(driven.records) + 1))
    with pytest.raises(NotSendable, match=r"no target \(C1 closed\)"):
        core.payloads(lambda settings: b"late")


def test_importing_the_session_core_loads_neither_textual_nor_rich() -> None:
    probe = (
        "import sys, workbench.session.core, workbench.session.drain\n"
        "print(' '.join(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == []


def opened(core: SessionCore, cid: str = "C1") -> None:
    core.apply([ev.ConnectionOpened(1.0, cid, "L1", "127.0.0.1:1", "127.0.0.1:2")])


def test_echoed_bytes_are_marked_with_their_origin_in_the_log_and_details() -> None:
    core = SessionCore()
    opened(core)
    update = core.apply(
        [
            ev.Data(2.0, "C1", True, b"typed\n", 6),
            ev.Data(2.1, "C1", True, b"ping\n", 5, origin=Origin.ECHO),
            ev.Data(2.2, "C1", False, b"ping\n", 5),
        ]
    )
    records = [Record(*raw) if isinstance(raw, tuple) else raw for raw in update.records]
    assert [(r.kind, r.text) for r in records] == [("out", ""), ("out", "echo"), ("in", "")]

    view = LogView(time_format=lambda ts: "T")
    view.model.append(update.records)
    typed, echoed, received = view.row_texts()
    assert typed == "T C1    → typed\\n"
    assert echoed == "T C1    ↺ echo: ping\\n", "the echo's bytes say who sent them"
    assert received == "T C1    ← ping\\n"
    conn = core.session.connections["C1"]
    assert describe_record(records[1], conn, lambda ts: "T")[0] == "C1  sent by echo  at T"
    assert describe_record(records[0], conn, lambda ts: "T")[0] == "C1  sent  at T"


def test_the_records_of_what_an_echo_sent_leave_the_collector_s_sight(driven: Driven) -> None:
    # The collector stops tracking a tuple of plain values the first time it sees it; a
    # record holding the Origin member itself stayed tracked, so every older-generation
    # collection walked each echo record the Log held (up to 100,000 of them under a flood).
    log = LogModel()
    driven.drainer.handle = lambda events, last: log.append(driven.core.apply(events).records)
    core, engine = driven.core, driven.engine
    lid = engine.listen(parse_url("tcp://127.0.0.1:0?echo=1", for_listen=True))
    driven.until("the listener", lambda: lid in core.session.listeners)
    port = int(core.session.listeners[lid].local[0].rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT_SECONDS) as client:
        for number in range(3):
            line = f"ping {number}\n".encode()
            client.sendall(line)
            assert recv_exactly(client, len(line)) == line
        driven.until("the echoes", lambda: sum(raw[3] == "out" for raw in log.store.raw()) == 3)
    echoed = [raw for raw in log.store.raw() if raw[3] == "out"]
    assert [(raw[9], type(raw[9])) for raw in echoed] == [("echo", str)] * 3
    gc.collect()
    assert [raw for raw in log.store.raw() if gc.is_tracked(raw)] == []


def test_a_forgotten_datagram_peer_is_counted_from_the_close_cause_not_its_words() -> None:
    core = SessionCore()
    core.apply([ev.ListenerOpened(0.0, "L1", "udp://127.0.0.1:9", ("127.0.0.1:9",))])
    opened(core, "C1")
    opened(core, "C2")
    core.apply([ev.ConnectionClosed(3.0, "C1", "forgotten: peer table full")])
    assert core.session.listeners["L1"].forgotten == 0, "words are for people"
    core.apply([ev.ConnectionClosed(3.0, "C2", "dropped", cause=CloseCause.FORGOTTEN)])
    assert core.session.listeners["L1"].forgotten == 1


def test_the_log_s_encoding_is_its_own_setting_that_f8_moves_with_the_send_one() -> None:
    core = SessionCore()
    opened(core)
    core.cycle_line_ending()  # a send setting only
    assert core.sending.settings_for("C1").line_ending != core.sending.default.line_ending
    assert core.display.own == {}, "the line ending does not touch how the Log shows bytes"
    assert core.shown_as("C1") == ("reads", "utf-8")
    shown_again = core.cycle_encoding()  # f8 on the target: sends and shows in the next one
    encoding = core.sending.settings_for("C1").encoding
    assert encoding != "utf-8" and shown_again == {"C1": encoding}
    assert core.shown_as("C1") == ("reads", encoding)
    core.targeting.choose(None)  # no recipient: f8 moves the default for later connections
    core.cycle_encoding()
    assert core.shown_as("C1") == ("reads", encoding), "C1 keeps what it had"
    opened(core, "C2")
    assert core.shown_as("C2")[1] == core.sending.settings_for("C2").encoding != "utf-8"


def test_released_connections_take_their_settings_and_marks_with_them() -> None:
    core = SessionCore(max_closed=0)
    opened(core)
    core.cycle_encoding()
    core.toggle_mark("C1")
    update = core.apply([ev.ConnectionClosed(2.0, "C1", "closed by the peer")])
    assert update.changes.forgotten == ["C1"]
    assert core.sending.own == {} and core.display.own == {} and core.marked == set()


def test_notices_are_bounded_per_batch() -> None:
    core = SessionCore()
    update = core.apply([ev.ErrorReported(1.0, f"C{i}", "refused") for i in range(10)])
    assert [n.severity for n in update.notices] == ["error"] * 4
    assert update.notices[-1].text == "and 7 more errors: see the Log"


def test_a_listener_s_warnings_come_from_their_field_not_from_its_notes_words() -> None:
    core = SessionCore()
    warned = ev.ListenerOpened(
        1.0,
        "L1",
        "tcp://0.0.0.0:9",
        ("0.0.0.0:9",),
        ("warning: open to all",),
        100,
        "tcp",
        ("open to all",),
    )
    noted = ev.ListenerOpened(2.0, "L2", "tcp://127.0.0.1:9", ("127.0.0.1:9",), ("warning: x",))
    update = core.apply([warned, noted])
    assert [(n.text, n.severity) for n in update.notices] == [("L1: open to all", "warning")]


def texts_of(update: Update) -> list[str]:
    return [(raw if isinstance(raw, Record) else Record(*raw)).text for raw in update.records]


def test_an_eof_a_behaviour_sent_says_who_sent_it() -> None:
    core = SessionCore()
    opened(core)
    peer_eof = ev.HalfClosed(2.0, "C1", False, 0.5)
    update = core.apply([peer_eof, ev.HalfClosed(2.0, "C1", True, origin=Origin.ECHO)])
    assert texts_of(update)[1] == "echo sent EOF (end of stream)"
    update = core.apply([ev.HalfClosed(3.0, "C1", True)])
    assert texts_of(update) == ["you sent EOF (end of stream); still receiving"]
