"""A session file that cannot be used is refused whole, with its file, line and key named:
`FILE:LINE: KEY: what is wrong`."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from workbench.session_file import loader
from workbench.session_file.loader import SessionFileError, load_session, parse_session
from workbench.session_file.positions import key_lines
from workbench.session_file.steps import MAX_STEPS

HEAD = """# a session
[[listen]]
name = "mock"
url = "tcp://127.0.0.1:0"
echo = true

[[connect]]
name = "first"
url = "tcp://127.0.0.1:2525"
steps = [
    { expect = '^220 ' },
    { send = 'EHLO me\\r\\n' },
]

[[connect]]
url = "tcp://127.0.0.1:2526"

[[connect.steps]]
send = "a"

[[connect.steps]]
"""  # the next line is 22


def refusal(tmp_path: Path, text: str) -> SessionFileError:
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SessionFileError) as raised:
        load_session(path)
    error = raised.value
    assert str(error).startswith(f"{path}:{error.line}: ")
    if error.key:
        assert str(error).startswith(f"{path}:{error.line}: {error.key}: ")
    return error


# (what is appended to HEAD, the line, the key, words of what is wrong)
CASES = [
    ("expect = '(a'\n", 22, "connect[2].steps[2].expect", "invalid regular expression"),
    ("expect = '(?=x)'\n", 22, "connect[2].steps[2].expect", "lookahead"),
    ("expect = 'x'\ntimeout = 0\n", 23, "connect[2].steps[2].timeout", "more than 0"),
    ("expect = 'x'\ntimeout = 'soon'\n", 23, "connect[2].steps[2].timeout", "number of seconds"),
    ("send = 'a\\q'\n", 22, "connect[2].steps[2].send", "unknown escape \\q"),
    ("send_hex = 'zz'\n", 22, "connect[2].steps[2].send_hex", "not a hex digit"),
    ("send = ''\n", 22, "connect[2].steps[2].send", "nothing to send"),
    ("delay_ms = -1\n", 22, "connect[2].steps[2].delay_ms", "0-3,600,000"),
    ("delay_ms = 1.5\n", 22, "connect[2].steps[2].delay_ms", "whole number"),
    ("close = false\n", 22, "connect[2].steps[2].close", '"eof"'),
    ("send = 'a'\nexpect = 'b'\n", 23, "connect[2].steps[2].expect", "two actions"),
    ("timeout = 3\n", 21, "connect[2].steps[2]", "no action"),
    ("send = 'a'\ntimeout = 3\n", 23, "connect[2].steps[2].timeout", "goes with expect"),
    ("sned = 'a'\n", 22, "connect[2].steps[2].sned", "unknown key"),
    ("send = 5\n", 22, "connect[2].steps[2].send", "takes text, not a number"),
]


@pytest.mark.parametrize(("tail", "line", "key", "words"), CASES)
def test_a_bad_step_in_a_table_names_its_line(
    tmp_path: Path, tail: str, line: int, key: str, words: str
) -> None:
    error = refusal(tmp_path, HEAD + tail)
    assert (error.line, error.key) == (line, key)
    assert words in error.what


INLINE = """[[connect]]
url = "tcp://127.0.0.1:1"
steps = [
    { send = "hi" },   # a } in a comment, a { too
    { expect = 'a{2}\\}' },
    { send = "x" }, { expect = "(b", timeout = 1 },

    { send_hex = "00", delay_ms = 3 },
]
"""


def test_a_bad_step_in_an_inline_array_names_its_line(tmp_path: Path) -> None:
    error = refusal(tmp_path, INLINE)
    assert (error.line, error.key) == (6, "connect[1].steps[4].expect")
    assert str(error) == (
        f"{tmp_path / 's.toml'}:6: connect[1].steps[4].expect: invalid regular expression: "
        "missing ): (b"
    )


def test_a_second_action_in_an_inline_step_is_named(tmp_path: Path) -> None:
    error = refusal(tmp_path, INLINE.replace('"(b"', '"b"'))
    assert (error.line, error.key) == (8, "connect[1].steps[5].delay_ms")
    assert "two actions in one step (send_hex and delay_ms)" in error.what


ENDPOINT_CASES = [
    # a listener
    ('[[listen]]\nurl = "tcp://127.0.0.1:0"\nmax = 0\n', 3, "listen[1].max", "max must be 1-"),
    ('[[listen]]\nurl = "tcp://127.0.0.1:0"\necho = 1\n', 3, "listen[1].echo", "true or false"),
    ('[[listen]]\nurl = "tcp://127.0.0.1:0"\nidle = "x"\n', 3, "listen[1].idle", "seconds"),
    (
        '[[listen]]\nurl = "tcp://127.0.0.1:0"\nbroadcast = true\n',
        3,
        "listen[1].broadcast",
        "udp://",
    ),
    ('[[listen]]\nurl = "tcp://127.0.0.1:0"\nsni = "x"\n', 3, "listen[1].sni", "for connections"),
    (
        '[[listen]]\nurl = "tcp://127.0.0.1:0?echo=1"\necho = true\n',
        3,
        "listen[1].echo",
        "url sets it",
    ),
    ('[[listen]]\nurl = "tls://127.0.0.1:0"\ntls = true\n', 3, "listen[1].tls", "url sets it"),
    (
        '[[listen]]\nurl = "udp://127.0.0.1:0"\niface = "127.0.0.1"\ninterface = "127.0.0.1"\n',
        4,
        "listen[1].interface",
        "given twice (as iface too)",
    ),
    (
        '[[listen]]\nurl = "tcp://127.0.0.1:0"\nhangup = true\n',
        3,
        "listen[1].hangup",
        "needs greet",
    ),
    (
        '[[listen]]\nurl = "tcp://127.0.0.1:0"\necho = true\nbroker = true\n',
        3,
        "listen[1].echo",
        "do not go together",
    ),
    (
        '[[listen]]\nurl = "tcp://127.0.0.1:0"\ngreet = "\\\\q"\n',
        3,
        "listen[1].greet",
        "unknown escape",
    ),
    (
        '[[listen]]\nurl = "tcp://127.0.0.1:0"\nrules = "missing.toml"\n',
        3,
        "listen[1].rules",
        "rules:",
    ),
    ('[[listen]]\nurl = "udp://127.0.0.1:0"\njoin = true\n', 3, "listen[1].join", "multicast"),
    ('[[listen]]\nurl = "tcp://127.0.0.1"\n', 2, "listen[1].url", "has no port"),
    ('[[listen]]\nurl = "tcp://127.0.0.1:0?nope=1"\n', 2, "listen[1].url", "unknown option 'nope'"),
    ('[[listen]]\nname = "x"\n', 1, "listen[1].url", "missing"),
    ("[[listen]]\nurl = 5\n", 2, "listen[1].url", "takes text"),
    (
        '[[listen]]\nurl = "tcp://127.0.0.1:0"\nsteps = []\n',
        3,
        "listen[1].steps",
        "for connections",
    ),
    (
        '[[listen]]\nurl = "tcp://127.0.0.1:0"\nbogus = 1\n',
        3,
        "listen[1].bogus",
        "known: url, name,",
    ),
    (
        '[[listen]]\nurl = "tcp://127.0.0.1:0"\n[listen.deep]\nx = 1\n',
        3,
        "listen[1].deep",
        "unknown",
    ),
    # names
    ('[[listen]]\nurl = "tcp://127.0.0.1:0"\nname = "a b"\n', 3, "listen[1].name", "not a name"),
    (
        '[[listen]]\nurl = "tcp://127.0.0.1:0"\nname = "a"\n\n[[connect]]\nname = "a"\n'
        'url = "tcp://127.0.0.1:1"\n',
        6,
        "connect[1].name",
        "already the name of listener listen[1]",
    ),
    # a connection
    (
        '[[connect]]\nname = "connect-2"\nurl = "tcp://127.0.0.1:1"\n\n[[connect]]\n'
        'url = "tcp://127.0.0.1:1"\nsteps = [{ send = "x" }]\n',
        2,
        "connect[1].name",
        "what the steps of connect[2] are called",
    ),
    ('[[connect]]\nurl = "tcp://127.0.0.1:0"\n', 2, "connect[1].url", "port 0 can only be used"),
    ('[[connect]]\nurl = "tcp://127.0.0.1:1"\nmax = 5\n', 3, "connect[1].max", "for listeners"),
    ('[[connect]]\nurl = "tcp://127.0.0.1:1"\nsteps = "send"\n', 3, "connect[1].steps", "an array"),
    ('[[connect]]\nurl = "tcp://127.0.0.1:1"\nsteps = [1]\n', 3, "connect[1].steps[1]", "a table"),
    (
        '[[listen]]\nname = "h"\nurl = "tcp://127.0.0.1:0?hangup=1"\n',
        3,
        "listen[1].url",
        "needs greet",
    ),
    (
        'listen = [\n  { url = "tcp://127.0.0.1:0" },\n'
        '  { url = "tcp://127.0.0.1:0", max = -1 },\n]\n',
        3,
        "listen[2].max",
        "max takes a number",
    ),
    # the top level
    ('title = "x"\n[[listen]]\nurl = "tcp://127.0.0.1:0"\n', 1, "title", "unknown key"),
    ('[[listen]]\nurl = "tcp://127.0.0.1:0"\n[[macros]]\nname = "x"\n', 3, "macros", "unknown key"),
    ('listen = "tcp://127.0.0.1:0"\n', 1, "listen", "must be [[listen]] tables"),
    ('[listen]\nurl = "tcp://127.0.0.1:0"\n', 1, "listen", "must be [[listen]] tables"),
]


@pytest.mark.parametrize(("text", "line", "key", "words"), ENDPOINT_CASES)
def test_a_bad_endpoint_names_its_line_and_key(
    tmp_path: Path, text: str, line: int, key: str, words: str
) -> None:
    error = refusal(tmp_path, text)
    assert (error.line, error.key) == (line, key)
    assert words in error.what


MACRO_HEAD = """[[macro]]
name = "first"
text = "one"
key = "f9"

[[macro]]
"""  # the next line is 7

MACRO_CASES = [
    ('text = "x"\n', 6, "macro[2].name", "missing"),
    ('name = "first"\ntext = "x"\n', 7, "macro[2].name", "already the name of macro macro[1]"),
    ('name = "m"\n', 6, "macro[2]", "no payload"),
    ('name = "m"\ntext = "x"\nhex = "00"\n', 9, "macro[2].hex", "two payloads (text and hex)"),
    ('name = "m"\ntext = "{nope}"\n', 8, "macro[2].text", "unknown field {nope} at column 1"),
    ('name = "m"\ntext = "{random:0}"\n', 8, "macro[2].text", "N must be 1-"),
    ('name = "m"\ntext = "a\\\\q"\n', 8, "macro[2].text", "unknown escape"),
    ('name = "m"\ntext = "é"\nencoding = "ascii"\n', 8, "macro[2].text", "cannot be sent as ascii"),
    ('name = "m"\ntext = "x"\nencoding = "ebcdic"\n', 9, "macro[2].encoding", "not one of utf-8"),
    ('name = "m"\nhex = "00"\nencoding = "ascii"\n', 9, "macro[2].encoding", "goes with text"),
    ('name = "m"\nhex = "0"\n', 8, "macro[2].hex", "two hex digits"),
    ('name = "m"\nfile = "absent.bin"\n', 8, "macro[2].file", "cannot be read: No such file"),
    ('name = "m"\nfile = "."\n', 8, "macro[2].file", "not a regular file"),
    ('name = "m"\ntext = "x"\nkey = "f9"\n', 9, "macro[2].key", "f9 already sends macro first"),
    ('name = "m"\ntext = "x"\nkey = "ctl+x"\n', 9, "macro[2].key", "not a modifier"),
    ('name = "m"\ntext = "x"\nrepeat_ms = 0\n', 9, "macro[2].repeat_ms", "must be 1-"),
    ('name = "m"\ntext = "x"\ncount = 3\n', 9, "macro[2].count", "goes with repeat_ms"),
    ('name = "m"\ntext = "x"\nrepeat_ms = 5\ncount = 0\n', 10, "macro[2].count", "must be 1-"),
    ('name = "m"\ntext = "x"\nrepeat_ms = true\n', 9, "macro[2].repeat_ms", "whole number"),
    ('name = "m"\ntext = "x"\nshortcut = "f1"\n', 9, "macro[2].shortcut", "unknown key"),
]


@pytest.mark.parametrize(("tail", "line", "key", "words"), MACRO_CASES)
def test_a_bad_macro_names_its_line_and_key(
    tmp_path: Path, tail: str, line: int, key: str, words: str
) -> None:
    error = refusal(tmp_path, MACRO_HEAD + tail)
    assert (error.line, error.key) == (line, key)
    assert words in error.what


def test_a_toml_syntax_error_keeps_tomllib_s_line_and_column(tmp_path: Path) -> None:
    error = refusal(tmp_path, '[[listen]]\nurl = "tcp://127.0.0.1:0"\necho = \n')
    assert (error.line, error.key) == (3, "")
    assert str(error) == f"{tmp_path / 's.toml'}:3: not valid TOML: invalid value (column 8)"


def test_a_missing_file_is_refused_in_words(tmp_path: Path) -> None:
    with pytest.raises(SessionFileError) as raised:
        load_session(tmp_path / "absent.toml")
    assert (
        str(raised.value)
        == f"{tmp_path / 'absent.toml'}: cannot be read: No such file or directory"
    )
    assert (raised.value.line, raised.value.key) == (0, "")


def test_a_directory_or_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    for path in (tmp_path, fifo):
        with pytest.raises(SessionFileError) as raised:
            load_session(path)
        assert str(raised.value) == f"{path}: cannot be read: it is not a regular file"


def test_a_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_bytes(b'[[listen]]\nurl = "tcp://127.0.0.1:0"\nname = "\xff"\n')
    with pytest.raises(SessionFileError) as raised:
        load_session(path)
    assert str(raised.value) == f"{path}:3: not UTF-8 (a TOML file is)"


def test_a_file_too_large_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_bytes(b"#" * (loader.MAX_FILE_BYTES + 1))
    with pytest.raises(SessionFileError, match="at most 1 MiB"):
        load_session(path)


def test_too_many_tables_or_steps_are_refused(tmp_path: Path) -> None:
    many = "".join(f'[[macro]]\nname = "m{n}"\ntext = "x"\n' for n in range(loader.MAX_TABLES + 1))
    error = refusal(tmp_path, many)
    assert (error.line, error.key) == (1, "macro")
    assert "at most 1,000" in error.what
    steps = ", ".join(["{ delay_ms = 1 }"] * (MAX_STEPS + 1))
    error = refusal(tmp_path, f'[[connect]]\nurl = "tcp://127.0.0.1:1"\nsteps = [{steps}]\n')
    assert (error.line, error.key) == (3, "connect[1].steps")


def test_parse_session_names_the_path_it_is_given() -> None:
    with pytest.raises(SessionFileError) as raised:
        parse_session('[[macro]]\nname = "m"\n', "given.toml")
    assert str(raised.value) == (
        "given.toml:1: macro[1]: no payload; give one of text, hex or file"
    )


def test_keys_are_found_past_strings_that_look_like_toml() -> None:
    text = '''[[connect]]
url = """tcp://127.0.0.1:1"""
note = 'steps = [ { send = "no" } ]'
steps = [ { send = """two
lines ] }""" }, { 'expect' = 'x' },
  { "send" = "\\"}" } ]
[[connect]]
url = "tcp://127.0.0.1:2"
[[connect.steps]]
'''
    lines = key_lines(text)
    assert lines[("connect", 0, "note")] == 3
    assert lines[("connect", 0, "steps", 0, "send")] == 4
    assert lines[("connect", 0, "steps", 1, "expect")] == 5
    assert lines[("connect", 0, "steps", 2, "send")] == 6
    assert lines[("connect", 1)] == 7
    assert lines[("connect", 1, "steps", 0)] == 9
    assert tomllib.loads(text)["connect"][1]["steps"] == [{}]
