"""Sequences run by the engine against a scripted SMTP-like server (a plain socket server in a
thread): steps that pass, an expect that times out, the peer closing mid-way, a refused
connect, and what a sequence sends marked as its own in the events and the transcript."""

from __future__ import annotations

import base64
import socket
import threading
from pathlib import Path
from typing import Any

from fault_helpers import connect, endpoint, listen, transcript_records, transcript_streams
from peers import Collector, closed_port, recv_exactly
from smtp_peer import GREETING, SmtpLikeServer
from test_session_core import Driven

from workbench.engine import Engine
from workbench.log import Record
from workbench.protocol import events as ev
from workbench.protocol.enums import RecordKind
from workbench.protocol.sequences import (
    CloseStep,
    DelayStep,
    ExpectStep,
    SendStep,
    Sequence,
)
from workbench.session.core import SessionCore
from workbench.transcript.reader import read
from workbench.transcript.records import Event


def start(engine: Engine, url: str, sequence: Sequence) -> str:
    """Connect to `url` and run `sequence` on it right away, as a session does: the sequence
    sees what arrives from the start (a greeting included)."""
    cid = engine.connect(endpoint(url))
    engine.run_sequence(cid, sequence)
    return cid


def ended(events: Collector, cid: str, timeout: float = 10.0) -> ev.SequenceEnded:
    found: ev.SequenceEnded = events.wait_for(
        lambda e: isinstance(e, ev.SequenceEnded) and e.cid == cid, timeout
    )
    return found


def progress(events: Collector, cid: str) -> list[tuple[int, int, str]]:
    return [(e.step, e.steps, e.doing) for e in events.of(ev.SequenceProgress, cid)]


LOGIN = Sequence(
    "login",
    (
        ExpectStep("^220", 5.0),
        SendStep(b"HELO client.test\r\n"),
        ExpectStep("^250 ", 5.0),
        SendStep(b"QUIT\r\n"),
        ExpectStep("^221", 5.0),
    ),
)


def test_a_sequence_that_passes(engine: Engine, events: Collector) -> None:
    with SmtpLikeServer() as server:
        cid = start(engine, server.url, LOGIN)
        end = ended(events, cid)
        assert end.passed, end
        assert (end.step, end.steps, end.message, end.arrived) == (5, 5, "", b"")
        assert progress(events, cid) == [
            (1, 5, "waiting for '^220' (up to 5 s)"),
            (2, 5, "sending 18 bytes"),
            (3, 5, "waiting for '^250 ' (up to 5 s)"),
            (4, 5, "sending 6 bytes"),
            (5, 5, "waiting for '^221' (up to 5 s)"),
        ]
        # Given while connecting, it started once the connection opened.
        opened = events.wait_opened(cid)
        first = events.of(ev.SequenceProgress, cid)[0]
        assert events.events.index(opened) < events.events.index(first)
        # Each step came in its turn: the server's answers are in the order asked for.
        received = events.received(cid)
        assert received.startswith(GREETING)
        assert b"250 mail.test hello client.test\r\n" in received
        assert received.index(b"250 ") < received.index(b"221 bye")
        # The peer closed after QUIT, once the sequence was done: it did not fail it.
        events.wait_closed(cid)
        assert len(events.of(ev.SequenceEnded, cid)) == 1


def test_the_first_step_is_said_before_the_first_read(engine: Engine, events: Collector) -> None:
    """A greeting that comes with the open (here the engine's own greet listener, whose
    bytes arrive in the loop's next turn) follows the sequence's first step in the Log."""
    _, port = listen(engine, events, "tcp://127.0.0.1:0?greet=220+hi%0D%0A")
    cid = start(engine, f"tcp://127.0.0.1:{port}", Sequence("hi", (ExpectStep("^220"),)))
    assert ended(events, cid).passed
    first = events.of(ev.SequenceProgress, cid)[0]
    greeting = next(e for e in events.of(ev.Data, cid) if not e.outgoing)
    assert events.events.index(first) < events.events.index(greeting)


def test_an_expect_that_times_out_fails_at_its_step_and_shows_what_arrived(
    engine: Engine, events: Collector
) -> None:
    sequence = Sequence(
        "stuck",
        (
            ExpectStep("^220", 5.0),
            SendStep(b"HELO a\r\n"),
            ExpectStep("^250 ", 5.0),
            SendStep(b"NOOP\r\nWHAT\r\n"),  # no answer, then a 500
            ExpectStep("^250", 0.5),
            SendStep(b"QUIT\r\n"),
        ),
    )
    with SmtpLikeServer() as server:
        cid = start(engine, server.url, sequence)
        end = ended(events, cid)
        assert not end.passed
        assert (end.step, end.steps) == (5, 6)
        assert end.message == "nothing matched '^250' in 0.5 s"
        # What the expect looked at: what came after the previous match ("250 "), not the
        # greeting it had matched before.
        assert end.arrived.endswith(b"500 unknown command\r\n"), end.arrived
        assert b"220" not in end.arrived
        # A failed sequence leaves the connection open, and its last step was not sent.
        events.settle(0.2)
        assert not events.of(ev.ConnectionClosed, cid)
        assert b"QUIT" not in events.sent(cid)


def test_the_peer_closing_mid_sequence_fails_it_at_once(engine: Engine, events: Collector) -> None:
    sequence = Sequence(
        "dropped",
        (
            ExpectStep("^220", 5.0),
            SendStep(b"DROP\r\n"),
            ExpectStep("^250", 30.0),  # never: the server closes instead
            SendStep(b"QUIT\r\n"),
        ),
    )
    with SmtpLikeServer() as server:
        cid = start(engine, server.url, sequence)
        end = ended(events, cid, timeout=10.0)  # well before the expect's 30 s
        assert not end.passed
        assert end.step == 3
        closed = events.wait_closed(cid)
        assert end.message == f"the connection closed: {closed.reason}"
        assert "peer" in closed.reason
        assert events.events.index(closed) < events.events.index(end)


def test_a_delay_is_cut_short_by_the_peer_closing(engine: Engine, events: Collector) -> None:
    sequence = Sequence("wait", (SendStep(b"DROP\r\n"), DelayStep(30.0), SendStep(b"x")))
    with SmtpLikeServer() as server:
        cid = start(engine, server.url, sequence)
        end = ended(events, cid, timeout=10.0)
        assert (end.passed, end.step) == (False, 2)
        assert end.message == f"the connection closed: {events.wait_closed(cid).reason}"


def test_a_sequence_on_a_refused_connect_ends_failed(engine: Engine, events: Collector) -> None:
    cid = engine.connect(endpoint(f"tcp://127.0.0.1:{closed_port()}"))
    engine.run_sequence(cid, LOGIN)
    end = ended(events, cid)
    assert not end.passed
    assert end.step == 1
    assert end.message.startswith("the connection did not open: "), end.message
    assert "refused" in end.message
    assert not events.of(ev.SequenceProgress, cid)


def test_a_sequence_on_an_open_connection_sees_what_arrives_from_then_on(
    engine: Engine, events: Collector
) -> None:
    with SmtpLikeServer() as server:
        cid = connect(engine, events, server.url)
        events.wait_received(cid, len(GREETING))
        engine.run_sequence(cid, Sequence("late", (ExpectStep("^220", 0.3),)))
        end = ended(events, cid)
        assert (end.passed, end.message) == (False, "nothing matched '^220' in 0.3 s")
        assert end.arrived == b""
        opened = events.wait_opened(cid)
        first = events.of(ev.SequenceProgress, cid)[0]
        assert events.events.index(opened) < events.events.index(first)


def test_a_sequence_on_an_unknown_connection_fails_in_words(
    engine: Engine, events: Collector
) -> None:
    engine.run_sequence("C99", LOGIN)
    end = ended(events, "C99")
    assert (end.passed, end.step, end.message) == (False, 1, "C99 is not open")


def test_a_bad_pattern_fails_the_sequence_before_it_sends(
    engine: Engine, events: Collector
) -> None:
    sequence = Sequence("bad", (SendStep(b"HELO a\r\n"), ExpectStep("(a)\\1", 1.0)))
    with SmtpLikeServer() as server:
        cid = start(engine, server.url, sequence)
        end = ended(events, cid)
        assert (end.passed, end.step) == (False, 2)
        assert "backreferences" in end.message
        events.settle(0.2)
        assert events.sent(cid) == b""


def test_what_a_sequence_sends_is_marked_as_its_own(make_engine: Any, tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    hello = Sequence("login", LOGIN.steps[:3])
    with SmtpLikeServer() as server:
        cid = start(engine, server.url, hello)
        assert ended(events, cid).passed
        engine.send(cid, b"QUIT\r\n")  # the user's own, after it
        events.wait_closed(cid)
    engine.stop()
    origins = [(e.origin, e.data) for e in events.data(cid, outgoing=True)]
    assert origins == [("sequence login", b"HELO client.test\r\n"), ("you", b"QUIT\r\n")]
    records = transcript_records(transcript)
    sent = [(r.get("origin", "you"), r["size"]) for r in records if r["event"] == "data"]
    assert ("sequence login", 18) in sent and ("you", 6) in sent
    assert transcript_streams(transcript)[cid, "out"] == b"HELO client.test\r\nQUIT\r\n"
    (outcome,) = [r for r in records if r["event"] == "sequence"]
    assert (outcome["conn"], outcome["name"], outcome["passed"]) == (cid, "login", True)
    assert (outcome["step"], outcome["steps"]) == (3, 3)
    # The typed reader knows the record too.
    with transcript.open("rb") as file:
        typed = [r for r in read(file) if isinstance(r, Event) and r.event == RecordKind.SEQUENCE]
    assert [(r.conn, r.fields["name"], r.fields["passed"]) for r in typed] == [(cid, "login", True)]


def test_a_failed_sequence_is_in_the_transcript_with_what_arrived(
    make_engine: Any, tmp_path: Path
) -> None:
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    with SmtpLikeServer() as server:
        cid = start(engine, server.url, Sequence("hush", (ExpectStep("^999", 0.3),)))
        assert not ended(events, cid).passed
    engine.stop()
    (outcome,) = [r for r in transcript_records(transcript) if r["event"] == "sequence"]
    assert (outcome["passed"], outcome["step"], outcome["steps"]) == (False, 1, 1)
    assert outcome["message"] == "nothing matched '^999' in 0.3 s"
    assert base64.b64decode(outcome["arrived"]) == GREETING


def test_a_close_step_ends_the_sequence_as_passed(engine: Engine, events: Collector) -> None:
    sequence = Sequence("bye", (ExpectStep("^220"), CloseStep(), DelayStep(0.05)))
    with SmtpLikeServer() as server:
        cid = start(engine, server.url, sequence)
        end = ended(events, cid)
        assert end.passed, end
        closed = events.wait_closed(cid)
        assert closed.reason == "closed by sequence bye"


def test_a_half_close_step_sends_eof_and_keeps_reading(engine: Engine, events: Collector) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    with listener:
        port = listener.getsockname()[1]
        cid = connect(engine, events, f"tcp://127.0.0.1:{port}?halfopen=1")
        peer, _ = listener.accept()
        with peer:
            sequence = Sequence(
                "eof", (SendStep(b"last words"), CloseStep(half=True), ExpectStep("^goodbye$"))
            )
            engine.run_sequence(cid, sequence)
            assert recv_exactly(peer, len(b"last words")) == b"last words"
            peer.settimeout(5.0)
            assert peer.recv(10) == b""  # our EOF
            peer.sendall(b"goodbye\n")
            end = ended(events, cid)
            assert end.passed, end
    eof = events.wait_for(lambda e: isinstance(e, ev.HalfClosed) and e.cid == cid and e.outgoing)
    assert eof.origin == "sequence eof"


def test_a_second_sequence_on_a_connection_is_refused(engine: Engine, events: Collector) -> None:
    with SmtpLikeServer() as server:
        cid = start(engine, server.url, Sequence("long", (ExpectStep("^never", 30.0),)))
        events.wait_for(lambda e: isinstance(e, ev.SequenceProgress) and e.cid == cid)
        engine.run_sequence(cid, LOGIN)
        error = events.wait_error(cid)
        assert error.message == f"sequence login not started: {cid} already runs sequence long"
        assert not events.of(ev.SequenceEnded, cid)


def test_stopping_the_engine_ends_a_running_sequence(make_engine: Any, tmp_path: Path) -> None:
    engine, events = make_engine()
    with SmtpLikeServer() as server:
        cid = start(engine, server.url, Sequence("long", (ExpectStep("^never", 30.0),)))
        events.wait_for(lambda e: isinstance(e, ev.SequenceProgress) and e.cid == cid)
        events.wait_received(cid, len(GREETING))
        engine.stop()
        end = ended(events, cid)
        assert (end.passed, end.message) == (False, "sockbench quit")
        assert end.arrived == GREETING


# --- the session core: what the Log and the Connections pane make of it ---


def test_the_session_core_words_a_sequence_and_shows_it_on_its_connection(
    driven: Driven,
) -> None:
    core = driven.core
    with SmtpLikeServer() as server:
        cid = start(driven.engine, server.url, Sequence("long", (ExpectStep("^never", 30.0),)))
        doing = "sequence long: step 1/1: waiting for '^never' (up to 30 s)"
        driven.until("the step on its connection", lambda: conn_sequence(core, cid) == doing)
        driven.until("the greeting", lambda: core.session.connections[cid].bytes_in > 0)
        driven.engine.close(cid)
        driven.until("the end", lambda: any("failed" in t for t in driven.texts()))
    assert core.session.connections[cid].sequence == ""
    (failed,) = [r for r in driven.records if r.text.startswith("sequence long failed")]
    assert failed.kind == "error" and failed.source == cid
    assert failed.display_text() == (
        "sequence long failed at step 1/1: the connection closed: closed by you; arrived: "
        "220 mail.test ESMTP ready\\r\\n"
    )
    assert doing in driven.texts()


def test_the_session_core_words_a_sequence_that_passed(driven: Driven) -> None:
    with SmtpLikeServer() as server:
        cid = start(driven.engine, server.url, LOGIN)
        driven.until("the end", lambda: "sequence login passed (5 steps)" in driven.texts())
    steps = [t for t in driven.texts() if t.startswith("sequence login: ")]
    assert steps[0] == "sequence login: step 1/5: waiting for '^220' (up to 5 s)"
    assert steps[2] == "sequence login: step 3/5: waiting for '^250 ' (up to 5 s)"
    assert len(steps) == 5
    assert driven.core.session.connections[cid].sequence == ""
    passed = next(r for r in driven.records if r.text.startswith("sequence login passed"))
    assert passed.kind == "info"


def test_a_failed_sequence_is_an_error_notice_and_hostile_bytes_stay_inert() -> None:
    core = SessionCore()
    hostile = b"\x1b]2;owned\x07[bold]x[/]\xff\r\n"
    end = ev.SequenceEnded(
        1.0, "C1", "login", False, 3, 5, "nothing matched '^250' in 5 s", hostile
    )
    update = core.apply([end])
    (record,) = [r if isinstance(r, Record) else Record(*r) for r in update.records]
    shown = record.display_text()
    assert record.kind == "error"
    assert shown == (
        "sequence login failed at step 3/5: nothing matched '^250' in 5 s; arrived: "
        "\\x1b]2;owned\\x07[bold]x[/]\\udcff\\r\\n"
    )
    assert "\x1b" not in shown and "\x07" not in shown
    (notice,) = update.notices
    assert (notice.severity, notice.title) == ("error", "C1")
    assert notice.text == "sequence login failed at step 3/5: nothing matched '^250' in 5 s"
    quiet = ev.SequenceEnded(2.0, "C2", "x", False, 1, 1, "nothing matched '^a' in 1 s", b"")
    (record,) = [r if isinstance(r, Record) else Record(*r) for r in core.apply([quiet]).records]
    assert record.text.endswith("nothing matched '^a' in 1 s; nothing arrived")


def conn_sequence(core: SessionCore, cid: str) -> str:
    conn = core.session.connections.get(cid)
    return conn.sequence if conn is not None else ""


class PingServer:
    """A UDP server on loopback that answers each `ping N` datagram with `pong N`."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def serve(self) -> None:
        while not self.stopping.is_set():
            try:
                data, sender = self.sock.recvfrom(2048)
            except TimeoutError:
                continue
            if data.startswith(b"ping"):
                self.sock.sendto(b"pong" + data[4:], sender)

    def __enter__(self) -> PingServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        self.thread.join(5.0)
        self.sock.close()


def test_a_sequence_over_udp_sees_the_datagrams(engine: Engine, events: Collector) -> None:
    sequence = Sequence(
        "ping",
        (SendStep(b"ping 1"), ExpectStep("^pong 1$"), SendStep(b"ping 2"), ExpectStep("pong 2")),
    )
    with PingServer() as server:
        cid = start(engine, f"udp://127.0.0.1:{server.port}", sequence)
        end = ended(events, cid)
        assert end.passed, end
        assert [e.origin for e in events.data(cid, outgoing=True)] == ["sequence ping"] * 2
