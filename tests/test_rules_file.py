"""Rules files read and checked (`workbench.rules`): what each key takes, templates and their
fields, matching bytes in each form, and errors that name the file, the line and the fault.
Plus greet then rules on a real listener, whose reloads still reach the Log."""

from __future__ import annotations

import datetime
import os
import socket
import time
from pathlib import Path

import pytest
from fault_helpers import accept, listen
from peers import recv_exactly
from test_rules import notes, write

from workbench.rules import RulesError, RuleSet, load_rules
from workbench.rules.loader import MAX_FILE_BYTES
from workbench.rules.template import Facts


def rules_of(tmp_path: Path, text: str) -> RuleSet:
    return load_rules(write(tmp_path / "rules.toml", text))


def refusal(tmp_path: Path, text: str) -> str:
    with pytest.raises(RulesError) as raised:
        rules_of(tmp_path, text)
    return str(raised.value)


def answer(ruleset: RuleSet, data: bytes, number: int = 1, counter: int = 1) -> bytes | None:
    rule = ruleset.rules[number - 1]
    matched = rule.matcher.match(data)
    if matched is None:
        return None
    assert rule.reply is not None
    facts = Facts(
        matched.whole, matched.groups, matched.named or {}, data, "127.0.0.1:5", "C7", counter
    )
    return rule.reply.render(facts)


@pytest.mark.parametrize(
    ("template", "data", "reply"),
    [
        ("{0}|{2}|{word}|{data}", b"say hi!", b"say hi|h|hi|say hi!"),
        ("{peer} {conn} #{counter}", b"say x", b"127.0.0.1:5 C7 #1"),
        ("{{literal}} }}", b"say x", b"{literal} }"),
        (r"\x00\xff\r\n\u{263a}", b"say x", b"\x00\xff\r\n\xe2\x98\xba"),
        ("{hex:de ad}{hex:0xbeef}", b"say x", b"\xde\xad\xbe\xef"),
    ],
)
def test_templates_fill_in_their_fields(
    tmp_path: Path, template: str, data: bytes, reply: bytes
) -> None:
    ruleset = rules_of(
        tmp_path, f"[[rule]]\nregex = 'say (?P<word>(\\w)\\w*)'\nreply = '{template}'\n"
    )
    assert answer(ruleset, data) == reply


def test_time_unixtime_and_random(tmp_path: Path) -> None:
    ruleset = rules_of(tmp_path, "[[rule]]\nexact = 'x'\nreply = '{time}|{unixtime}|{random:16}'\n")
    stamp, unix, rest = (answer(ruleset, b"x") or b"").split(b"|", 2)
    when = datetime.datetime.fromisoformat(stamp.decode())
    assert when.tzinfo is not None, "local time, with its offset"
    assert abs(when.timestamp() - time.time()) < 60
    assert abs(int(unix) - time.time()) < 60
    assert len(rest) == 16
    assert answer(ruleset, b"x") != answer(ruleset, b"x"), "random each time"


def test_matching_bytes_by_hex_escapes_latin1_and_utf16(tmp_path: Path) -> None:
    binary = rules_of(
        tmp_path,
        'encoding = "latin-1"\n'
        "[[rule]]\nprefix_hex = '01 02'\nreply = 'a'\n"
        "[[rule]]\ncontains = '\\xff\\x00'\nreply = 'b'\n"
        "[[rule]]\nregex = '^\\x10(.)'\nreply = '{1}{1}'\n"
        "[[rule]]\nexact = 'é'\nreply = 'é'\n",
    )
    assert answer(binary, b"\x01\x02rest", 1) == b"a"
    assert answer(binary, b"\x01\x03", 1) is None
    assert answer(binary, b"..\xff\x00..", 2) == b"b"
    assert answer(binary, b"\x10\x99", 3) == b"\x99\x99", "each byte one character"
    assert answer(binary, b"\xe9", 4) == b"\xe9", "text in the file's encoding"
    wide = rules_of(tmp_path, 'encoding = "utf-16le"\n[[rule]]\nexact = "hi"\nreply = "ok"\n')
    assert answer(wide, "hi".encode("utf-16-le")) == "ok".encode("utf-16-le")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[[rule]]\nexact = 'a'\nreply = 'x'\nsoon = 1\n", "line 4: rule 1: unknown key 'soon'"),
        ("[[rule]]\nreply = 'x'\n", "line 1: rule 1: nothing to match; give one of exact,"),
        ("[[rule]]\nexact = 'a'\non = 'word'\nreply = 'x'\n", 'line 3: rule 1: on is "line"'),
        ("[[rule]]\nexact = 'a'\nreply = 'x'\ndelay_ms = -1\n", "line 4: rule 1: delay_ms must"),
        ("[[rule]]\nexact = 'a'\nreply = 'x'\nonce = 1\n", "line 4: rule 1: once takes true or"),
        ("[[rule]]\nexact = 1\nreply = 'x'\n", "line 2: rule 1: exact takes text"),
        ("[[rule]]\nexact_hex = 'zz'\nreply = 'x'\n", "line 2: rule 1: exact_hex: 'z' is not a"),
        ("[[rule]]\nexact = 'a'\nreply = '{1'\n", "rule 1: reply: '{' at column 1 is not closed"),
        ("[[rule]]\nexact = 'a'\nreply = 'x}'\n", "rule 1: reply: '}' at column 2 closes nothing"),
        ("[[rule]]\nexact = 'a'\nreply = '{random:0}'\n", "{random:N} at column 1: N must be"),
        ("[[rule]]\nexact = 'a'\nreply = 'ab\\q'\n", "line 3: rule 1: reply: "),
        ("[[rule]]\nregex = '(?P<peer>a)'\nreply = 'x'\n", "a group may not be named peer"),
        ("[[rule]]\nregex = '(?=a)'\nreply = 'x'\n", "lookahead (?=...) is not supported"),
        ("[[rule]]\nregex = '(a)\\1'\nreply = 'x'\n", "backreferences"),
        ("encoding = 'ebcdic'\n", "line 1: encoding is one of utf-8"),
        ("rule = 3\n", "line 1: 'rule' must be [[rule]] tables"),
        ("", "no rules: add a [[rule]] table"),
    ],
)
def test_errors_name_the_line_and_the_fault(tmp_path: Path, text: str, says: str) -> None:
    message = refusal(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'rules.toml'}")
    assert says in message


def test_files_that_are_not_rules_files(tmp_path: Path) -> None:
    huge = tmp_path / "huge.toml"
    huge.write_bytes(b"#" * (MAX_FILE_BYTES + 1))
    with pytest.raises(RulesError, match="at most 1 MiB"):
        load_rules(str(huge))
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    with pytest.raises(RulesError, match="not a regular file"):
        load_rules(str(fifo))  # and it returns: a FIFO would stall the engine
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b"# ok\n[[rule]]\nexact = '\xe9'\n")
    with pytest.raises(RulesError, match="line 3: not UTF-8"):
        load_rules(str(latin))


def test_greet_then_rules_and_its_reloads_reach_the_log(make_engine, tmp_path: Path) -> None:
    file = tmp_path / "rules.toml"
    rules = write(file, "[[rule]]\nexact = 'a'\nreply = 'A\\n'\n")
    engine, events = make_engine()
    lid, port = listen(engine, events, f"tcp://127.0.0.1:0?greet=hello\\n&rules={rules}")
    client, cid = accept(events, lid, port)
    with client:
        client.settimeout(30)
        assert recv_exactly(client, 6) == b"hello\n"
        client.sendall(b"a\n")
        assert recv_exactly(client, 2) == b"A\n"
        write(file, "[[rule]]\nexact = 'a'\nreply = 'B\\n'\n")
        events.wait_until(lambda: f"rules reloaded from {file}: 1 rule" in notes(events, lid))
        client.sendall(b"a\n")
        assert recv_exactly(client, 2) == b"B\n"
        client.shutdown(socket.SHUT_WR)
    events.wait_until(lambda: events.size(cid, outgoing=True) == 10)
    origins = [e.origin for e in events.data(cid, outgoing=True)]
    assert origins == ["greet", "rule 1", "rule 1"]
