"""The greet behaviour (`?greet=TEXT`, `&hangup=1`) against real peers: the seed
"greeting then close" server answers nc and plain sockets, greet goes with echo, datagram
peers are greeted on their first datagram, and the greeting is marked `greet`."""

from __future__ import annotations

import dataclasses
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from fault_helpers import accept, endpoint, listen, transcript_close, transcript_records
from peers import Collector, recv_exactly, recv_until_eof

from workbench.cli import parse_command_line, startup_endpoints
from workbench.engine.behaviours import Close, Context, HalfClose, Send, behaviour_for
from workbench.engine.behaviours.greet import HUNG_UP
from workbench.engine.stream import LINGER_SECONDS
from workbench.log.records import Record
from workbench.protocol import events as ev
from workbench.protocol.addresses import EndpointError
from workbench.protocol.endpoints import parse_url
from workbench.protocol.enums import CloseCause, ConnState, Origin, Transport
from workbench.protocol.options import SocketOptions
from workbench.session.core import SessionCore

WAIT = 30.0
SEED = "tcp://127.0.0.1:0?greet=Hello,%20client!\\n&hangup=1"


def sent_by(events: Collector, cid: str, origin: Origin) -> bytes:
    return b"".join(e.data for e in events.data(cid, outgoing=True) if e.origin is origin)


@pytest.mark.skipif(shutil.which("nc") is None, reason="nc is not installed (apt-get install nc)")
def test_nc_prints_the_greeting_and_exits_by_itself(make_engine) -> None:
    """nc reads until the network's EOF (its stdin is empty): it exits because sockbench hung up."""
    engine, events = make_engine()
    _lid, port = listen(engine, events, SEED)
    done = subprocess.run(
        ["nc", "127.0.0.1", str(port)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=WAIT,
        check=False,
    )
    assert done.stdout == b"Hello, client!\n"


def test_a_client_gets_exactly_the_greeting_then_eof(make_engine, tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    lid, port = listen(engine, events, SEED)
    client, cid = accept(events, lid, port)
    with client:
        assert recv_until_eof(client) == b"Hello, client!\n"
    closed = events.wait_closed(cid)
    assert (closed.reason, closed.cause) == (HUNG_UP, CloseCause.BEHAVIOUR)
    assert sent_by(events, cid, Origin.GREET) == b"Hello, client!\n"
    engine.stop()
    (out,) = [r for r in transcript_records(transcript) if r["event"] == "data"]
    assert (out["conn"], out["dir"], out["origin"]) == (cid, "out", "greet")
    close = transcript_close(transcript, cid)
    assert (close["reason"], close["cause"]) == (HUNG_UP, "behaviour")


def test_greet_then_echo(make_engine) -> None:
    engine, events = make_engine()
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?echo=1&greet=hi\\r\\n")
    client, cid = accept(events, lid, port)
    with client:
        assert recv_exactly(client, 4) == b"hi\r\n"
        client.sendall(b"ping")
        assert recv_exactly(client, 4) == b"ping"
    events.wait_until(lambda: events.size(cid, outgoing=True) == 8)
    runs = [(e.origin, e.data) for e in events.data(cid, outgoing=True)]
    assert runs == [(Origin.GREET, b"hi\r\n"), (Origin.ECHO, b"ping")]


def test_udp_peers_are_greeted_on_their_first_datagram(make_engine) -> None:
    engine, events = make_engine()
    lid, port = listen(engine, events, "udp://127.0.0.1:0?greet=welcome%20\\xff&echo=1")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.settimeout(WAIT)
        peer.sendto(b"one", ("127.0.0.1", port))
        assert peer.recv(65536) == b"welcome \xff", "the greeting first"
        assert peer.recv(65536) == b"one", "then echo's answer to the first datagram"
        peer.sendto(b"two", ("127.0.0.1", port))
        assert peer.recv(65536) == b"two", "greeted once"
    opened = events.wait_for(lambda e: isinstance(e, ev.ConnectionOpened) and e.listener == lid)
    assert sent_by(events, opened.cid, Origin.GREET) == b"welcome \xff"


def test_udp_hangup_forgets_the_peer_once_greeted(make_engine) -> None:
    engine, events = make_engine()
    lid, port = listen(engine, events, "udp://127.0.0.1:0?greet=bye&hangup=1")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.settimeout(WAIT)
        peer.sendto(b"hello?", ("127.0.0.1", port))
        assert peer.recv(65536) == b"bye"
    opened = events.wait_for(lambda e: isinstance(e, ev.ConnectionOpened) and e.listener == lid)
    assert events.wait_closed(opened.cid).cause is CloseCause.BEHAVIOUR


def test_unix_stream_greet_from_the_options(make_engine, tmp_path: Path) -> None:
    engine, events = make_engine()
    path = tmp_path / "greet.sock"
    plain = endpoint(f"unix://{path}", listen=True)
    options = dataclasses.replace(plain.options, greet="unix says hi\\n", hangup=True)
    lid = engine.listen(dataclasses.replace(plain, options=options))
    events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(WAIT)
        client.connect(str(path))
        assert recv_until_eof(client) == b"unix says hi\n"


def test_the_listening_line_says_what_the_listener_does(make_engine) -> None:
    engine, events = make_engine()
    greeting, _ = listen(engine, events, SEED)
    (opened,) = [e for e in events.of(ev.ListenerOpened) if e.lid == greeting]
    assert "greet: each peer gets 'Hello, client!\n', then hangs up" in opened.notes


def test_the_url_keeps_the_greeting_readable_and_round_trips() -> None:
    url = parse_url("tcp://127.0.0.1:9600?greet=a%26b%20c\\n&hangup=1", for_listen=True).url
    assert url == "tcp://127.0.0.1:9600?greet=a%26b%20c\\n&hangup=1"
    assert parse_url(url, for_listen=True).options.greet == "a&b c\\n"


def startup_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        parse_command_line(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_a_bad_escape_is_refused_quoting_the_text(capsys: pytest.CaptureFixture[str]) -> None:
    err = startup_error(["--listen", "tcp://127.0.0.1:9600?greet=Hi\\q"], capsys)
    assert "greet 'Hi\\q': unknown escape \\q at column 3" in err
    err = startup_error(["--greet", "x\\xZ", "--listen", "tcp://127.0.0.1:9600"], capsys)
    assert "greet 'x\\xZ': \\x needs two hex digits" in err


def test_hangup_needs_a_greeting(capsys: pytest.CaptureFixture[str]) -> None:
    err = startup_error(["--listen", "tcp://127.0.0.1:9600?hangup=1"], capsys)
    assert "hangup=1 needs greet=TEXT: it hangs up once the greeting is sent" in err
    err = startup_error(["--hangup", "--listen", "tcp://127.0.0.1:9600?greet=a&echo=1"], capsys)
    assert "hangup=1 and echo=1 do not go together" in err


def test_the_flags_give_a_unix_listener_its_greeting() -> None:
    args = parse_command_line(["--greet", "hi\\n", "--hangup", "--listen", "unix:///tmp/g.sock"])
    ((listener,), _) = startup_endpoints(args)
    assert (listener.options.greet, listener.options.hangup) == ("hi\\n", True)


def test_a_connection_of_yours_greets_as_it_opens_and_hangs_up(make_engine) -> None:
    """`echo 'HELO x' | nc -q0 host port`, as a URL: what a client sends by itself."""
    engine, events = make_engine()
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(WAIT)
        port = server.getsockname()[1]
        engine.connect(
            parse_url(f"tcp://127.0.0.1:{port}?greet=HELO%20x\\r\\n&hangup=1", for_listen=False)
        )
        peer, _ = server.accept()
        with peer:
            peer.settimeout(WAIT)
            assert recv_until_eof(peer) == b"HELO x\r\n"
    (closed,) = events.wait_until(lambda: events.of(ev.ConnectionClosed))
    assert closed.cause == CloseCause.BEHAVIOUR


def test_a_udp_connection_of_yours_greets_as_it_opens_and_echoes(make_engine) -> None:
    engine, events = make_engine()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.settimeout(WAIT)
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
        engine.connect(parse_url(f"udp://127.0.0.1:{port}?greet=hi&echo=1", for_listen=False))
        greeting, sender = server.recvfrom(100)
        assert greeting == b"hi", "sent as it opens, not after a first datagram"
        server.sendto(b"ping", sender)
        assert server.recvfrom(100) == (b"ping", sender)
    notes = events.wait_until(
        lambda: [e.message for e in events.of(ev.Note) if "greet" in e.message]
    )
    assert notes == ["greet: each peer gets 'hi'"]


def test_a_value_that_is_not_utf8_once_decoded_is_refused() -> None:
    with pytest.raises(EndpointError, match=r"not UTF-8 once percent-decoded; write a raw byte"):
        parse_url("tcp://127.0.0.1:9600?greet=%ff", for_listen=True)


def test_a_chain_marks_each_action_with_the_behaviour_that_made_it() -> None:
    """Sans-IO: greet then echo, told the events of one stream and of one datagram peer."""
    make = behaviour_for(SocketOptions(echo=True, greet="hi\\n"))
    assert make is not None
    stream, ctx = make(), Context("C1", Transport.TCP, "127.0.0.1:1")
    assert list(stream.on_open(ctx)) == [Send(b"hi\n", Origin.GREET)]
    assert list(stream.on_data(ctx, b"x")) == [Send(b"x", Origin.ECHO)]
    assert list(stream.on_eof(ctx)) == [HalfClose(Origin.ECHO)]
    peer, dgram = make(), Context("C2", Transport.UDP, "127.0.0.1:2")
    assert list(peer.on_open(dgram)) == []
    assert list(peer.on_data(dgram, b"a")) == [Send(b"hi\n", Origin.GREET), Send(b"a", Origin.ECHO)]
    assert list(peer.on_data(dgram, b"b")) == [Send(b"b", Origin.ECHO)]
    hanging = behaviour_for(SocketOptions(greet="bye", hangup=True))
    assert hanging is not None
    assert list(hanging().on_open(ctx)) == [Send(b"bye"), Close(HUNG_UP)]


def test_the_engine_refuses_a_greeting_it_cannot_send(make_engine) -> None:
    """Options that reach the engine unchecked: the listener does not open, and says why."""
    engine, events = make_engine()
    plain = endpoint("tcp://127.0.0.1:0", listen=True)
    options = dataclasses.replace(plain.options, greet="bad \\q")
    lid = engine.listen(dataclasses.replace(plain, options=options))
    error = events.wait_error(lid)
    assert error.message == "cannot listen: greet 'bad \\q': unknown escape \\q at column 5; " + (
        "use \\\\ for a backslash"
    )


def test_a_client_that_speaks_first_still_gets_the_greeting_then_eof(make_engine) -> None:
    """`echo hi | nc`: the client's bytes may reach sockbench after it hung up. Closing a
    socket with unread bytes (or that gets some after) answers with a reset, which threw the
    greeting away at the client in 2 of 3 tries of `echo hi | nc` here. The hangup ends
    sockbench's side first and reads until the client's EOF, recording what it sent."""
    engine, events = make_engine()
    lid, port = listen(engine, events, SEED)
    for attempt in range(20):
        client, cid = accept(events, lid, port)
        with client:
            client.sendall(b"hi\n" * 1000)  # more than one read, as the greeting leaves
            try:
                got = recv_until_eof(client, WAIT)
            except ConnectionResetError:
                pytest.fail(f"try {attempt + 1}: the client was reset before the greeting")
            assert got == b"Hello, client!\n", f"try {attempt + 1}"
        closed = events.wait_closed(cid)
        assert (closed.reason, closed.cause) == (HUNG_UP, CloseCause.BEHAVIOUR)
        assert events.size(cid, outgoing=False) == 3000  # nothing it sent is lost


@pytest.mark.skipif(shutil.which("nc") is None, reason="nc is not installed (apt-get install nc)")
def test_echo_hi_into_nc_prints_the_greeting(make_engine) -> None:
    engine, events = make_engine()
    _lid, port = listen(engine, events, SEED)
    for _ in range(5):
        done = subprocess.run(
            ["nc", "127.0.0.1", str(port)], input=b"hi\n", capture_output=True, timeout=WAIT
        )
        assert done.stdout == b"Hello, client!\n"


def test_the_log_tells_the_hang_up_then_the_peer_s_eof_as_closing_now(make_engine) -> None:
    """What the Log says of a hang-up the peer answers with its EOF: not "half-open: you can
    still send", which it said when an EOF came after sockbench had ended its side."""
    engine, events = make_engine()
    lid, port = listen(engine, events, SEED)
    client, cid = accept(events, lid, port)
    with client:
        assert recv_until_eof(client) == b"Hello, client!\n"
    events.wait_closed(cid)
    update = SessionCore().apply(list(events.events))
    texts = [(raw if isinstance(raw, Record) else Record(*raw)).text for raw in update.records]
    assert [t for t in texts if "EOF" in t or t == HUNG_UP] == [
        "greet sent EOF; closing when the peer ends its side (2 s at most)",
        "peer sent EOF; closing now",
        HUNG_UP,
    ]
    (peer_eof,) = [e for e in events.of(ev.HalfClosed) if not e.outgoing]
    assert peer_eof.closes_after == 0.0


def test_a_timeout_ends_a_hang_up_the_client_does_not_answer(make_engine) -> None:
    """A client that keeps its socket open after the greeting: sockbench closes anyway once
    it has waited LINGER_SECONDS for the client's EOF."""
    engine, events = make_engine()
    lid, port = listen(engine, events, SEED)
    client, cid = accept(events, lid, port)
    with client:
        assert recv_until_eof(client) == b"Hello, client!\n"
        events.wait_for(lambda e: isinstance(e, ev.HalfClosed) and e.outgoing and e.cid == cid)
        core = SessionCore()
        core.apply(list(events.events))
        # Hung up, waiting for the client: no longer a connection to type to.
        assert core.session.connections[cid].state is ConnState.CLOSING
        closed = events.wait_closed(cid, timeout=LINGER_SECONDS + WAIT)
        opened = events.first(lambda e: isinstance(e, ev.ConnectionOpened))
        assert opened is not None
        assert closed.ts - opened.ts >= LINGER_SECONDS * 0.9
        assert (closed.reason, closed.cause) == (HUNG_UP, CloseCause.BEHAVIOUR)
