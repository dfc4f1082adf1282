"""The rules behaviour (`rules=FILE` on a listener) against real peers over TCP, UDP and
Unix: regex captures and counters answer a scripted client, replies are marked `rule N` in
the events and the transcript, the file is reloaded when it changes (a bad one keeps the old
rules and says why, with the line), a self-matching rule hits its bound and is reported, and
a catastrophic pattern answers at once."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
import time
from pathlib import Path

import pytest
from fault_helpers import accept, answered_then_sent_on, endpoint, listen, transcript_records
from peers import Collector, recv_exactly, recv_until_eof

from workbench.engine import Engine
from workbench.engine.behaviours.rules import RATE
from workbench.protocol import events as ev
from workbench.protocol.endpoints import parse_url
from workbench.protocol.enums import CloseCause

WAIT = 30.0

CHAT_RULES = r"""
[[rule]]
regex = '^HELLO (?P<name>\w+) (\d+)$'
reply = 'hi {name}, you said {2} (#{counter} on {conn})\r\n'

[[rule]]
exact = "PING"
reply = 'PONG {counter}\n'

[[rule]]
prefix = "BYE"
reply = "bye\n"
close = true
"""


def write(path: Path, text: str) -> str:
    """Writes `text` to `path` whole, at once (a watcher never sees it half-written), as a
    new file: a change the watcher sees even within one tick of the clock."""
    fresh = path.with_name(path.name + ".new")
    fresh.write_text(text)
    os.replace(fresh, path)
    return str(path)


def listen_with_rules(engine: Engine, events: Collector, url: str, rules: str) -> tuple[str, int]:
    separator = "&" if "?" in url else "?"
    return listen(engine, events, f"{url}{separator}rules={rules}")


def replies(events: Collector, cid: str) -> list[tuple[str, bytes]]:
    return [(e.origin, e.data) for e in events.data(cid, outgoing=True)]


def notes(events: Collector, source: str) -> list[str]:
    return [e.message for e in events.of(ev.Note) if e.source == source]


def errors(events: Collector, source: str) -> list[str]:
    return [e.message for e in events.of(ev.ErrorReported) if e.source == source]


def test_tcp_captures_and_counters_answer_a_scripted_client(make_engine, tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    rules = write(tmp_path / "rules.toml", CHAT_RULES)
    engine, events = make_engine(transcript_path=str(transcript))
    lid, port = listen_with_rules(engine, events, "tcp://127.0.0.1:0", rules)
    client, cid = accept(events, lid, port)
    with client:
        client.sendall(b"HELLO bob 42\r\nPI")
        expected = f"hi bob, you said 42 (#1 on {cid})\r\n".encode()
        assert recv_exactly(client, len(expected)) == expected
        client.sendall(b"NG\nPING\nHELLO eve 7\nnothing\n")
        assert recv_exactly(client, 14) == b"PONG 1\nPONG 2\n"
        expected = f"hi eve, you said 7 (#2 on {cid})\r\n".encode()
        assert recv_exactly(client, len(expected)) == expected
        client.sendall(b"BYE now\n")
        assert recv_until_eof(client) == b"bye\n", "close = true closes after the reply"
    closed = events.wait_closed(cid)
    assert closed.cause is CloseCause.BEHAVIOUR
    assert closed.reason == "closed by rule 3 (close = true)"
    origins = [origin for origin, _ in replies(events, cid)]
    assert origins == ["rule 1", "rule 2", "rule 2", "rule 1", "rule 3"]
    engine.stop()
    outs = [r for r in transcript_records(transcript) if r["event"] == "data" and r["dir"] == "out"]
    assert [r["origin"] for r in outs] == origins


def test_udp_replies_go_to_each_sender(make_engine, tmp_path: Path) -> None:
    rules = write(
        tmp_path / "rules.toml",
        'policy = "all"\n[[rule]]\non = "read"\nregex = "^GET (.*)"\nreply = "got {1} #{counter}"\n'
        '[[rule]]\ncontains = "x"\nreply = "and x"\n',
    )
    engine, events = make_engine()
    _lid, port = listen_with_rules(engine, events, "udp://127.0.0.1:0", rules)
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as one,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as two,
    ):
        for peer in (one, two):
            peer.settimeout(WAIT)
        one.sendto(b"GET a", ("127.0.0.1", port))
        assert one.recv(65536) == b"got a #1"
        two.sendto(b"GET x", ("127.0.0.1", port))
        assert two.recv(65536) == b"got x #1", "counters are per connection (peer)"
        assert two.recv(65536) == b"and x", "policy all: every matching rule answers"
        one.sendto(b"GET b", ("127.0.0.1", port))
        assert one.recv(65536) == b"got b #2"


def test_unix_lines_in_one_datagram_or_read_each_answered(make_engine, tmp_path: Path) -> None:
    rules = write(tmp_path / "rules.toml", CHAT_RULES)
    path = tmp_path / "r.sock"
    plain = endpoint(f"unix://{path}", listen=True)
    options = dataclasses.replace(plain.options, rules=rules)
    engine, events = make_engine()
    lid = engine.listen(dataclasses.replace(plain, options=options))
    events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(WAIT)
        client.connect(str(path))
        client.sendall(b"PING\r\nPING\nBYE")
        client.shutdown(socket.SHUT_WR)  # the last line ends with the stream
        assert recv_until_eof(client) == b"PONG 1\nPONG 2\nbye\n"


def test_delay_ms_answers_later(make_engine, tmp_path: Path) -> None:
    rules = write(
        tmp_path / "rules.toml", '[[rule]]\nexact = "x"\nreply = "late"\ndelay_ms = 300\n'
    )
    engine, events = make_engine()
    lid, port = listen_with_rules(engine, events, "tcp://127.0.0.1:0", rules)
    client, _cid = accept(events, lid, port)
    with client:
        start = time.monotonic()
        client.sendall(b"x\n")
        assert recv_exactly(client, 4) == b"late"
        assert time.monotonic() - start >= 0.29


def test_once_answers_once_per_connection(make_engine, tmp_path: Path) -> None:
    rules = write(
        tmp_path / "rules.toml",
        '[[rule]]\nexact = "hi"\nreply = "first\\n"\nonce = true\n'
        '[[rule]]\nexact = "hi"\nreply = "again\\n"\n',
    )
    engine, events = make_engine()
    lid, port = listen_with_rules(engine, events, "tcp://127.0.0.1:0", rules)
    client, _cid = accept(events, lid, port)
    with client:
        client.sendall(b"hi\nhi\nhi\n")
        assert recv_exactly(client, 18) == b"first\nagain\nagain\n"


def test_a_changed_file_is_reloaded_and_a_bad_one_keeps_the_old_rules(
    make_engine, tmp_path: Path
) -> None:
    file = tmp_path / "rules.toml"
    rules = write(file, '[[rule]]\nexact = "v"\nreply = "one\\n"\n')
    engine, events = make_engine()
    lid, port = listen_with_rules(engine, events, "tcp://127.0.0.1:0", rules)
    client, _cid = accept(events, lid, port)
    with client:
        client.sendall(b"v\n")
        assert recv_exactly(client, 4) == b"one\n"
        write(file, '[[rule]]\nexact = "v"\nreply = "two\\n"\n[[rule]]\nexact = "w"\nreply = "w"\n')
        events.wait_until(lambda: f"rules reloaded from {file}: 2 rules" in notes(events, lid))
        client.sendall(b"v\n")
        assert recv_exactly(client, 4) == b"two\n", "new rules for new data, same connection"
        write(file, '[[rule]]\nexact = "v"\n\nreply = "{nope}"\n')
        message = events.wait_error(lid).message
        assert message.startswith("rules file line 4: rule 1: reply: unknown field {nope}")
        assert message.endswith(f"; not reloaded, the old rules stay ({file})")
        client.sendall(b"v\n")
        assert recv_exactly(client, 4) == b"two\n", "the old rules stay"


def test_a_rule_answered_back_hits_its_bound_and_is_reported(make_engine, tmp_path: Path) -> None:
    """The peer plays a second server that answers every reply: each answer matches the
    rule again, a loop only the bound ends."""
    rules = write(tmp_path / "rules.toml", '[[rule]]\ncontains = "ping"\nreply = "ping\\n"\n')
    engine, events = make_engine()
    lid, port = listen_with_rules(engine, events, "tcp://127.0.0.1:0", rules)
    client, cid = accept(events, lid, port)
    with client:
        client.settimeout(0.2)
        client.sendall(b"ping\n")
        deadline = time.monotonic() + WAIT
        while not errors(events, cid) and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                client.sendall(client.recv(65536))  # answer each reply: a loop
            events.pump()
        (message,) = errors(events, cid)
    assert message.startswith(f"rules stopped on {cid}: more than {RATE} replies a second")
    events.settle()
    assert len(errors(events, cid)) == 1, "said once"
    replied = b"".join(data for _origin, data in replies(events, cid))
    assert RATE <= replied.count(b"ping\n") < 2 * RATE


def test_a_catastrophic_pattern_answers_at_once(make_engine, tmp_path: Path) -> None:
    rules = write(
        tmp_path / "rules.toml",
        "[[rule]]\nregex = '(a+)+$'\nreply = \"never\"\n"
        '[[rule]]\non = "read"\ncontains = "!"\nreply = "fast"\n',
    )
    engine, events = make_engine()
    lid, port = listen_with_rules(engine, events, "tcp://127.0.0.1:0", rules)
    client, _cid = accept(events, lid, port)
    attack = b"a" * 60_000 + b"!\n"  # one line (a longer one comes in 64 KiB pieces)
    with client:
        start = time.monotonic()
        client.sendall(attack)
        got = b""
        while b"fast" not in got:
            got += client.recv(65536)
        assert b"never" not in got
        assert time.monotonic() - start < 5.0


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[[rule]]\nexact = "a"\n', "line 1: rule 1: nothing to do: give a reply"),
        ('[[rule]]\nexact = "a"\nreply = "x"\n[[rule]]\n\nregex = "(a"\nreply = "x"\n', "line 6"),
        ("policy = 'sometimes'\n", 'line 1: policy is "first" or "all"'),
        ('[[rule]\nexact = "a"\n', "line 1, column 7"),
    ],
)
def test_a_bad_file_refuses_the_listener_in_words(
    make_engine, tmp_path: Path, text: str, says: str
) -> None:
    from workbench.behaviour_options import check_behaviours
    from workbench.protocol.addresses import EndpointError

    rules = write(tmp_path / "rules.toml", text)
    options = endpoint(f"tcp://127.0.0.1:0?rules={rules}", listen=True).options
    with pytest.raises(EndpointError) as raised:
        check_behaviours(options)
    assert str(raised.value).startswith(f"rules: {rules} ")
    assert says in str(raised.value)


def test_a_missing_file_refuses_the_listener(make_engine, tmp_path: Path) -> None:
    engine, events = make_engine()
    missing = tmp_path / "nowhere.toml"
    lid = engine.listen(endpoint(f"tcp://127.0.0.1:0?rules={missing}", listen=True))
    message = events.wait_error(lid).message
    assert message == f"cannot listen: rules: {missing}: No such file or directory"


def test_the_listening_line_counts_the_rules(make_engine, tmp_path: Path) -> None:
    rules = write(tmp_path / "rules.toml", CHAT_RULES)
    engine, events = make_engine()
    lid, _port = listen_with_rules(engine, events, "tcp://127.0.0.1:0", rules)
    (opened,) = [e for e in events.of(ev.ListenerOpened) if e.lid == lid]
    assert f"rules: 3 from {rules}" in opened.notes


def test_a_closed_listener_stops_watching_its_file(make_engine, tmp_path: Path) -> None:
    file = tmp_path / "rules.toml"
    rules = write(file, CHAT_RULES)
    engine, events = make_engine()
    lid, _port = listen_with_rules(engine, events, "tcp://127.0.0.1:0", rules)
    write(file, CHAT_RULES + "\n")
    events.wait_until(lambda: notes(events, lid))
    engine.close_listener(lid)
    events.wait_for(lambda e: isinstance(e, ev.ListenerClosed) and e.lid == lid)
    write(file, CHAT_RULES + "\n\n")
    events.settle(quiet=1.2)  # two polls' time: nothing may come of it
    assert len(notes(events, lid)) == 1 and not errors(events, lid)


def test_a_connection_of_yours_answers_its_server_by_rules(make_engine, tmp_path: Path) -> None:
    """A client that logs in by itself: the server's prompts answered by the rules file."""
    rules = tmp_path / "login.toml"
    rules.write_text(
        '[[rule]]\nprefix = "login:"\nreply = "admin\\n"\n'
        '[[rule]]\nprefix = "password:"\nreply = "secret\\n"\n'
    )
    engine, _ = make_engine()
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(WAIT)
        port = server.getsockname()[1]
        url = f"tcp://127.0.0.1:{port}?rules={rules}"
        engine.connect(parse_url(url, for_listen=False))
        peer, _ = server.accept()
        with peer:
            peer.settimeout(WAIT)
            peer.sendall(b"login:\n")
            assert recv_exactly(peer, 6) == b"admin\n"
            peer.sendall(b"password:\n")
            assert recv_exactly(peer, 7) == b"secret\n"


def test_a_closing_rule_s_reply_reaches_a_client_that_sends_on(make_engine, tmp_path: Path) -> None:
    """The client sends more after BYE: those bytes reach sockbench after the rule closed. A
    closed socket answers them with a reset, which the client got instead of the end of the
    stream; the rule now ends sockbench's side and reads on until the client's EOF."""
    rules = write(tmp_path / "rules.toml", CHAT_RULES)
    engine, events = make_engine()
    lid, port = listen_with_rules(engine, events, "tcp://127.0.0.1:0", rules)
    for cid in answered_then_sent_on(events, lid, port, b"BYE\n", b"bye\n", tries=10):
        closed = events.wait_closed(cid)
        assert closed.reason == "closed by rule 3 (close = true)"
        assert events.size(cid, outgoing=False) == 4 + 5 * 2000, "what came after is recorded"
        assert replies(events, cid) == [("rule 3", b"bye\n")], "and not answered"
