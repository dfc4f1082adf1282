"""Rules that match the messages of a framing (`on = "message"`) against real peers: a
length-prefixed listener answers a Python client's messages (split into many writes, or
several in one) with a captured field in a framed reply; netstrings over a Unix stream and
in UDP datagrams; a RESP listener answers command arrays from a plain client and from
redis-cli (`reply_raw` and the bulk string default); malformed messages are not answered
and the connection goes on; a file or a URL without a framing is refused in words."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from fault_helpers import accept, endpoint
from peers import DEFAULT_TIMEOUT, recv_exactly, recv_until_eof
from test_rules import errors, listen_with_rules, notes, replies, write

from workbench.behaviour_options import checked
from workbench.engine.behaviours.rules import RATE
from workbench.protocol import events as ev
from workbench.protocol.addresses import EndpointError
from workbench.protocol.endpoints import parse_url
from workbench.rules import RulesError, load_rules
from workbench.rules.framed import framed_reply

LENGTH_RULES = r"""
[[rule]]
on = "message"
regex = '^GET (?P<key>\w+)$'
reply = 'VALUE {key} #{counter}'

[[rule]]
on = "message"
exact = "QUIT"
reply = "BYE"
close = true
"""

RESP_RULES = r"""
[[rule]]
on = "message"
exact = "PING"
reply = '+PONG\r\n'
reply_raw = true

[[rule]]
on = "message"
regex = '^SET (\S+) '
reply = '+OK\r\n'
reply_raw = true

[[rule]]
on = "message"
regex = '^GET (\S+)$'
reply = 'value of {1}'
"""


def prefixed(payload: bytes) -> bytes:
    return len(payload).to_bytes(2, "big") + payload


def read_prefixed(client: socket.socket) -> bytes:
    size = int.from_bytes(recv_exactly(client, 2), "big")
    return recv_exactly(client, size)


def command(*words: bytes) -> bytes:
    """A command as redis-cli sends it: an array of bulk strings."""
    return b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words)


def test_a_length_prefixed_listener_answers_each_message_once_framed(
    make_engine, tmp_path: Path
) -> None:
    rules = write(tmp_path / "rules.toml", LENGTH_RULES)
    engine, events = make_engine()
    lid, port = listen_with_rules(engine, events, "tcp://127.0.0.1:0?framing=len:2:be", rules)
    (opened,) = [e for e in events.of(ev.ListenerOpened) if e.lid == lid]
    assert f"rules: 2 from {rules} (messages: len:2:be)" in opened.notes
    client, cid = accept(events, lid, port)
    with client:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for byte in prefixed(b"GET alpha"):  # one message in many small writes
            client.sendall(bytes([byte]))
        assert read_prefixed(client) == b"VALUE alpha #1"
        # Several messages in one write; one not matched; one split across two writes.
        client.sendall(prefixed(b"GET b") + prefixed(b"nothing") + prefixed(b"GET c") + b"\x00")
        assert read_prefixed(client) == b"VALUE b #2"
        assert read_prefixed(client) == b"VALUE c #3"
        client.sendall(b"\x04QUIT")
        assert recv_until_eof(client) == prefixed(b"BYE"), "close = true after the reply"
    events.wait_closed(cid)
    sent = [data for _origin, data in replies(events, cid)]
    assert sent[0] == prefixed(b"VALUE alpha #1"), "each message matched once, not per read"
    assert len(sent) == 4


def test_a_rules_file_framing_overrides_the_url_s_netstrings_over_unix(
    make_engine, tmp_path: Path
) -> None:
    rules = write(
        tmp_path / "rules.toml",
        'framing = "netstring"\n[[rule]]\non = "message"\nprefix = "hi "\nreply = "{data}!"\n'
        '[[rule]]\nexact = "plain"\nreply = "line\\n"\n',
    )
    path = tmp_path / "n.sock"
    plain = endpoint(f"unix://{path}", listen=True)
    options = dataclasses.replace(plain.options, rules=rules, framing="len:4")
    engine, events = make_engine()
    lid = engine.listen(dataclasses.replace(plain, options=options))
    events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(DEFAULT_TIMEOUT)
        client.connect(str(path))
        client.sendall(b"6:hi bob,6:hi e")
        assert recv_exactly(client, 10) == b"7:hi bob!,"
        client.sendall(b"ve,\nplain\n")  # line rules see the same bytes, and answer first
        assert recv_exactly(client, 15) == b"line\n7:hi eve!,"


def test_datagrams_are_framed_each_alone(make_engine, tmp_path: Path) -> None:
    rules = write(
        tmp_path / "rules.toml",
        'framing = "netstring"\n[[rule]]\non = "message"\nregex = "^n(\\\\d)$"\n'
        'reply = "got {1}"\n',
    )
    engine, events = make_engine()
    _lid, port = listen_with_rules(engine, events, "udp://127.0.0.1:0", rules)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.settimeout(DEFAULT_TIMEOUT)
        peer.sendto(b"2:n1,2:n2,", ("127.0.0.1", port))
        assert peer.recv(65536) == b"5:got 1,"
        assert peer.recv(65536) == b"5:got 2,"
        peer.sendto(b"2:n", ("127.0.0.1", port))  # unfinished: malformed, not answered
        peer.sendto(b"3,", ("127.0.0.1", port))  # nor is it the start of the next one
        peer.sendto(b"2:n4,", ("127.0.0.1", port))
        assert peer.recv(65536) == b"5:got 4,"


def test_a_resp_listener_answers_command_arrays_raw_and_as_bulk_strings(
    make_engine, tmp_path: Path
) -> None:
    rules = write(tmp_path / "rules.toml", RESP_RULES)
    engine, events = make_engine()
    lid, port = listen_with_rules(engine, events, "tcp://127.0.0.1:0?framing=resp", rules)
    client, cid = accept(events, lid, port)
    with client:
        client.sendall(command(b"PING") + command(b"SET", b"k", b"a b"))
        assert recv_exactly(client, 12) == b"+PONG\r\n+OK\r\n"
        client.sendall(command(b"GET", b"k"))
        expected = b"$10\r\nvalue of k\r\n"  # a server's reply: one bulk string
        assert recv_exactly(client, len(expected)) == expected
    events.wait_until(lambda: len(replies(events, cid)) == 3)
    assert [origin for origin, _ in replies(events, cid)] == ["rule 1", "rule 2", "rule 3"]


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="apt-get install redis-tools")
def test_redis_cli_gets_its_answers(make_engine, tmp_path: Path) -> None:
    rules = write(tmp_path / "rules.toml", RESP_RULES)
    engine, events = make_engine()
    _lid, port = listen_with_rules(engine, events, "tcp://127.0.0.1:0?framing=resp", rules)

    def redis_cli(*words: str) -> str:
        done = subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", str(port), *words],
            capture_output=True,
            timeout=DEFAULT_TIMEOUT,
            check=True,
            text=True,
        )
        return done.stdout

    assert redis_cli("PING") == "PONG\n"
    assert redis_cli("SET", "k", "a b") == "OK\n"
    assert redis_cli("GET", "k") == "value of k\n"


def test_a_malformed_message_is_not_answered_and_the_connection_goes_on(
    make_engine, tmp_path: Path
) -> None:
    rules = write(tmp_path / "rules.toml", RESP_RULES)
    engine, events = make_engine()
    lid, port = listen_with_rules(engine, events, "tcp://127.0.0.1:0?framing=resp", rules)
    client, cid = accept(events, lid, port)
    with client:
        # A line that starts with no type byte (nor a letter: no inline command) is no
        # RESP value, nor is a bulk string of a wrong length.
        client.sendall(b"?PING\r\n*1\r\n$3\r\nPING\r\n" + command(b"PING"))
        assert recv_exactly(client, 7) == b"+PONG\r\n"
        client.sendall(command(b"PING"))
        assert recv_exactly(client, 7) == b"+PONG\r\n"
        events.wait_until(lambda: notes(events, cid) and len(replies(events, cid)) == 2)
    events.settle()
    (said,) = notes(events, cid)
    assert said.startswith(f"rules on {cid}: a malformed resp message is not answered: '?' is")
    assert said.endswith(" (later ones are not said)")
    assert len(replies(events, cid)) == 2


def test_an_inline_command_typed_in_a_terminal_is_answered(make_engine, tmp_path: Path) -> None:
    """`PING` and `SET k v` as nc sends them (no RESP array, LF alone too) are commands, as a
    Redis server takes them: matched by their words."""
    rules = write(tmp_path / "rules.toml", RESP_RULES)
    engine, events = make_engine()
    lid, port = listen_with_rules(engine, events, "tcp://127.0.0.1:0?framing=resp", rules)
    client, cid = accept(events, lid, port)
    with client:
        client.sendall(b"PING\r\n")
        assert recv_exactly(client, 7) == b"+PONG\r\n"
        client.sendall(b'SET greeting "hello world"\n')
        assert recv_exactly(client, 5) == b"+OK\r\n"
    assert not notes(events, cid)


HTTP_RULES = r"""
framing = "http"
[[rule]]
on = "message"
regex = '^GET /hello/(?P<name>\w+) '
reply = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello {name}"
"""


def test_an_http_mock_counts_the_body_a_capture_made(make_engine, tmp_path: Path) -> None:
    """A response whose body comes from a capture cannot carry a Content-Length written by
    hand: the reply gets one, and a real HTTP client reads the body whole, twice on one
    connection (keep-alive)."""
    import http.client

    rules = write(tmp_path / "rules.toml", HTTP_RULES)
    engine, events = make_engine()
    _, port = listen_with_rules(engine, events, "tcp://127.0.0.1:0", rules)
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=DEFAULT_TIMEOUT)
    try:
        for name in ("world", "sockbench"):
            client.request("GET", f"/hello/{name}")
            response = client.getresponse()
            assert (response.status, response.read()) == (200, f"hello {name}".encode())
            assert response.getheader("Content-Length") == str(len(f"hello {name}"))
    finally:
        client.close()


def test_a_reply_the_framing_cannot_carry_is_said_not_sent(make_engine, tmp_path: Path) -> None:
    rules = write(
        tmp_path / "rules.toml",
        'framing = "delim:\\\\n"\n[[rule]]\non = "message"\nexact = "x"\nreply = "a\\nb"\n'
        '[[rule]]\non = "message"\nexact = "y"\nreply = "ok"\n',
    )
    engine, events = make_engine()
    lid, port = listen_with_rules(engine, events, "tcp://127.0.0.1:0", rules)
    client, cid = accept(events, lid, port)
    with client:
        client.sendall(b"x\ny\n")
        assert recv_exactly(client, 3) == b"ok\n"
    message = events.wait_error(cid).message
    assert message.startswith("rule 1's reply cannot be one delim:\\n message: the payload holds")
    assert message.endswith("not sent (reply_raw = true sends a reply as it is)")


def test_a_connection_of_yours_replies_to_a_resp_server_with_commands(
    make_engine, tmp_path: Path
) -> None:
    rules = tmp_path / "client.toml"
    rules.write_text(
        'framing = "resp"\n[[rule]]\non = "message"\nexact = "READY"\nreply = "AUTH me"\n'
    )
    engine, _events = make_engine()
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(DEFAULT_TIMEOUT)
        port = server.getsockname()[1]
        engine.connect(parse_url(f"tcp://127.0.0.1:{port}?rules={rules}", for_listen=False))
        peer, _ = server.accept()
        with peer:
            peer.settimeout(DEFAULT_TIMEOUT)
            peer.sendall(b"+READY\r\n")
            expected = command(b"AUTH", b"me")  # a client's reply: a command
            assert recv_exactly(peer, len(expected)) == expected


def test_a_bad_framing_in_the_file_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "rules.toml", '# header\npolicy = "all"\nframing = "len:3"\n')
    with pytest.raises(RulesError) as raised:
        load_rules(path)
    assert str(raised.value) == (
        f"{path} line 3: framing: len: the prefix's width is 1, 2, 4 or 8 (len:2:be), not '3'"
    )
    write(tmp_path / "rules.toml", "framing = 2\n")
    with pytest.raises(RulesError, match="line 1: framing takes text"):
        load_rules(path)


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ('on = "packet"', 'line 3: rule 1: on is "line", "read" or "message"'),
        ("reply_raw = true", 'line 3: rule 1: reply_raw is for on = "message" rules'),
    ],
)
def test_bad_message_keys_name_their_line(tmp_path: Path, rule: str, says: str) -> None:
    path = write(tmp_path / "rules.toml", f'[[rule]]\nexact = "a"\n{rule}\nreply = "b"\n')
    with pytest.raises(RulesError, match=says):
        load_rules(path)


def test_message_rules_without_a_framing_refuse_the_listener(make_engine, tmp_path: Path) -> None:
    rules = write(
        tmp_path / "rules.toml",
        '[[rule]]\nexact = "a"\nreply = "b"\n\n'
        '[[rule]]\non = "message"\nexact = "a"\nreply = "b"\n',
    )
    says = (
        f'rules: {rules} line 5: rule 2 matches messages (on = "message") but no framing '
        'says what a message is: add framing = "len:2:be"'
    )
    url = f"tcp://127.0.0.1:0?rules={rules}"
    with pytest.raises(EndpointError) as raised:  # the command line's and dialogs' check
        checked(endpoint(url, listen=True))
    assert str(raised.value).startswith(f"'{url}': {says}")
    engine, events = make_engine()
    lid = engine.listen(endpoint(url, listen=True))
    assert events.wait_error(lid).message.startswith(f"cannot listen: {says}")
    checked(endpoint(f"{url}&framing=len:2:be", listen=True))  # with one, it opens


def test_a_reload_changes_the_framing_and_one_without_keeps_the_old_rules(
    make_engine, tmp_path: Path
) -> None:
    file = tmp_path / "rules.toml"
    rule = '[[rule]]\non = "message"\nexact = "v"\nreply = "{counter}"\n'
    rules = write(file, f'framing = "len:1"\n{rule}')
    engine, events = make_engine()
    lid, port = listen_with_rules(engine, events, "tcp://127.0.0.1:0", rules)
    client, _cid = accept(events, lid, port)
    with client:
        client.sendall(b"\x01v")
        assert recv_exactly(client, 2) == b"\x011"
        write(file, f'framing = "netstring"\n{rule}')
        events.wait_until(lambda: any("rules reloaded" in n for n in notes(events, lid)))
        client.sendall(b"1:v,")
        assert recv_exactly(client, 4) == b"1:1,", "the new framing, its counters anew"
        write(file, f"\n{rule}")
        message = events.wait_error(lid).message
        assert message.startswith('rules file line 2: rule 1 matches messages (on = "message")')
        assert message.endswith(f"; not reloaded, the old rules stay ({file})")
        client.sendall(b"1:v,")
        assert recv_exactly(client, 4) == b"1:2,"
    assert not errors(events, _cid)


@pytest.mark.parametrize(
    ("spec", "server", "reply", "sent"),
    [
        ("len:2:be", True, b"hi", b"\x00\x02hi"),
        ("netstring", True, b"hi", b"2:hi,"),
        ("resp", True, b"hi there", b"$8\r\nhi there\r\n"),
        ("resp", True, b":1\r\n", b":1\r\n"),
        ("resp", False, b"GET k", b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"),
        ("http", True, b"HTTP/1.1 204 No Content\n", b"HTTP/1.1 204 No Content\r\n\r\n"),
        (
            "http",
            True,
            b"HTTP/1.1 200 OK\nX: y\n\nhello",
            b"HTTP/1.1 200 OK\r\nX: y\r\nContent-Length: 5\r\n\r\nhello",
        ),
    ],
)
def test_replies_are_made_one_message(spec: str, server: bool, reply: bytes, sent: bytes) -> None:
    from workbench.framing.messages import parse_framing

    assert framed_reply(parse_framing(spec), reply, server) == sent


def test_once_delay_and_policy_all_apply_to_message_rules(make_engine, tmp_path: Path) -> None:
    rules = write(
        tmp_path / "rules.toml",
        'policy = "all"\nframing = "len:1"\n'
        '[[rule]]\non = "message"\nexact = "hi"\nreply = "first"\nonce = true\n'
        '[[rule]]\non = "message"\nprefix = "hi"\nreply = "later"\ndelay_ms = 200\n',
    )
    engine, events = make_engine()
    lid, port = listen_with_rules(engine, events, "tcp://127.0.0.1:0", rules)
    client, _cid = accept(events, lid, port)
    with client:
        start = time.monotonic()
        client.sendall(b"\x02hi\x02hi")
        assert recv_exactly(client, 6) == b"\x05first"
        assert recv_exactly(client, 12) == b"\x05later\x05later"
        assert time.monotonic() - start >= 0.19


def test_a_message_rule_answered_back_hits_the_rate_bound(make_engine, tmp_path: Path) -> None:
    rules = write(
        tmp_path / "rules.toml",
        'framing = "netstring"\n[[rule]]\non = "message"\nexact = "ping"\nreply = "ping"\n',
    )
    engine, events = make_engine()
    lid, port = listen_with_rules(engine, events, "tcp://127.0.0.1:0", rules)
    client, cid = accept(events, lid, port)
    with client:
        client.settimeout(0.2)
        client.sendall(b"4:ping,")
        deadline = time.monotonic() + DEFAULT_TIMEOUT * 4
        while not errors(events, cid) and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                client.sendall(client.recv(65536))  # each reply answered: a loop
            events.pump()
        (message,) = errors(events, cid)
    assert message.startswith(f"rules stopped on {cid}: more than {RATE} replies a second")


def test_the_command_refuses_message_rules_without_a_framing_before_the_ui(
    tmp_path: Path,
) -> None:
    from test_cli import run_cli

    rules = write(tmp_path / "rules.toml", '[[rule]]\non = "message"\nexact = "a"\nreply = "b"\n')
    result = run_cli("--rules", rules, "--listen", "tcp://127.0.0.1:0")
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"sockbench: error: 'tcp://127.0.0.1:0?rules={rules}': rules: ")
    assert f'{rules} line 1: rule 1 matches messages (on = "message") but no framing' in line


def test_the_readme_s_message_rules_example_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    blocks = [b.split("```", 1)[0] for b in readme.split("```toml\n")[1:]]
    (example,) = [b for b in blocks if 'framing = "resp"' in b]
    ruleset = load_rules(write(tmp_path / "rules.toml", example))
    assert ruleset.framing is not None and str(ruleset.framing) == "resp"
    assert [rule.on for rule in ruleset.rules] == ["message", "message"]
    assert [rule.reply_raw for rule in ruleset.rules] == [True, False]


def test_a_framing_without_message_rules_frames_nothing(make_engine, tmp_path: Path) -> None:
    rules = write(
        tmp_path / "rules.toml", 'framing = "netstring"\n[[rule]]\nexact = "x"\nreply = "y"\n'
    )
    engine, events = make_engine()
    lid, port = listen_with_rules(engine, events, "tcp://127.0.0.1:0", rules)
    client, cid = accept(events, lid, port)
    with client:
        client.sendall(b"x\n")  # a malformed netstring, were it framed
        assert recv_exactly(client, 1) == b"y"
    events.settle()
    assert not notes(events, cid), "no message rules: nothing about messages is said"
