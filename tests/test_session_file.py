"""Session files read into a SessionSpec (`workbench.session_file`): endpoints with their
options in the URL or as keys, steps in both TOML forms, macros of each payload kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.protocol.endpoints import parse_url
from workbench.protocol.enums import Transport
from workbench.protocol.sequences import (
    DEFAULT_EXPECT_SECONDS,
    CloseStep,
    DelayStep,
    ExpectStep,
    SendPayload,
    SendStep,
    Sequence,
)
from workbench.session_file.loader import SessionFileError, load_session, parse_session
from workbench.session_file.macros import key_problem
from workbench.session_file.model import ConnectSpec, ListenSpec, Macro, SessionSpec


def session_at(tmp_path: Path, text: str, name: str = "s.toml") -> SessionSpec:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_session(path)


def test_an_empty_file_is_an_empty_session(tmp_path: Path) -> None:
    assert session_at(tmp_path, "# nothing yet\n") == SessionSpec()


def test_a_listener_takes_its_options_from_the_url_and_from_keys(tmp_path: Path) -> None:
    spec = session_at(
        tmp_path,
        """
[[listen]]
name = "mock"
url = "tcp://127.0.0.1:0?max=5"
echo = true
greet = 'hello\\r\\n'
idle = 2.5
allow = "127.0.0.1"
""",
    )
    (listener,) = spec.listeners
    assert listener.name == "mock"
    options = listener.endpoint.options
    assert (options.max_connections, options.echo, options.greet) == (5, True, "hello\\r\\n")
    assert (options.idle, options.allow) == (2.5, "127.0.0.1")
    assert listener.endpoint == parse_url(
        "tcp://127.0.0.1:0?max=5&idle=2.5&allow=127.0.0.1&echo=1&greet=hello%5Cr%5Cn",
        for_listen=True,
    )


def test_a_unix_endpoint_takes_its_options_as_keys(tmp_path: Path) -> None:
    spec = session_at(
        tmp_path,
        """
[[listen]]
url = "unix:///tmp/sockbench-test.sock"
chat = true
max = 7
halfopen = true
""",
    )
    endpoint = spec.listeners[0].endpoint
    assert endpoint.transport == Transport.UNIX
    assert endpoint.path == "/tmp/sockbench-test.sock"
    options = endpoint.options
    assert (options.chat, options.max_connections, options.half_open) == (True, 7, True)


def test_max_is_the_most_connections_as_a_number_and_the_newest_tls_as_text(
    tmp_path: Path,
) -> None:
    spec = session_at(
        tmp_path,
        """
[[listen]]
url = "tls://127.0.0.1:0"
max = 10
min = "1.2"

[[connect]]
url = "tls://127.0.0.1:443"
max = "1.3"
sni = "example.org"
""",
    )
    listen_options = spec.listeners[0].endpoint.options
    assert (listen_options.max_connections, listen_options.tls_min) == (10, "1.2")
    assert listen_options.tls and listen_options.tls_max is None
    connect_options = spec.connections[0].endpoint.options
    assert (connect_options.tls_max, connect_options.tls_sni) == ("1.3", "example.org")


def test_steps_as_an_array_and_as_tables_make_the_same_sequence(tmp_path: Path) -> None:
    inline = session_at(
        tmp_path,
        """
[[connect]]
name = "smtp"
url = "tcp://127.0.0.1:2525"
steps = [
    { expect = '^220 ' },
    { send = 'EHLO me\\r\\n' },
    { expect = '(?m)^250 ', timeout = 2 },
    { send_hex = "51 55 49 54 0d 0a" },
    { delay_ms = 250 },
    { close = "eof" },
    { close = true },
]
""",
        "inline.toml",
    )
    tables = session_at(
        tmp_path,
        """
[[connect]]
name = "smtp"
url = "tcp://127.0.0.1:2525"

[[connect.steps]]
expect = '^220 '

[[connect.steps]]
send = "EHLO me\\r\\n"

[[connect.steps]]
expect = '(?m)^250 '
timeout = 2.0

[[connect.steps]]
send_hex = "0x51 0x55 0x49 0x54 0x0d 0x0a"

[[connect.steps]]
delay_ms = 250

[[connect.steps]]
close = "eof"

[[connect.steps]]
close = true
""",
        "tables.toml",
    )
    expected = Sequence(
        "smtp",
        (
            ExpectStep("^220 ", DEFAULT_EXPECT_SECONDS),
            SendStep(b"EHLO me\r\n"),
            ExpectStep("(?m)^250 ", 2.0),
            SendStep(b"QUIT\r\n"),
            DelayStep(0.25),
            CloseStep(half=True),
            CloseStep(half=False),
        ),
    )
    assert inline.connections[0].sequence == expected
    assert tables == inline


def test_a_connection_without_a_name_names_its_sequence_by_position(tmp_path: Path) -> None:
    spec = session_at(
        tmp_path,
        """
[[connect]]
url = "tcp://127.0.0.1:1"

[[connect]]
url = "udp://127.0.0.1:53"
steps = [{ send = "x" }]
""",
    )
    assert spec.connections == (
        ConnectSpec(parse_url("tcp://127.0.0.1:1", for_listen=False)),
        ConnectSpec(
            parse_url("udp://127.0.0.1:53", for_listen=False),
            sequence=Sequence("connect-2", (SendStep(b"x"),)),
        ),
    )


def test_macros_of_each_payload_kind(tmp_path: Path) -> None:
    (tmp_path / "payloads").mkdir()
    (tmp_path / "payloads" / "blob.bin").write_bytes(b"\x00\x01binary\xff")
    spec = session_at(
        tmp_path,
        """
[[macro]]
name = "ping"
text = 'PING {counter} {hex:00}\\r\\n'
key = "f9"
repeat_ms = 10
count = 1000

[[macro]]
name = "latin"
text = "caf\u00e9"
encoding = "latin-1"
key = "ctrl+shift+x"

[[macro]]
name = "raw"
hex = "de ad be ef"

[[macro]]
name = "blob"
file = "payloads/blob.bin"
repeat_ms = 500
""",
    )
    assert spec.macros == (
        Macro(
            "ping",
            SendPayload(template="PING {counter} {hex:00}\\r\\n"),
            "text",
            "PING {counter} {hex:00}\\r\\n",
            "f9",
            10,
            1000,
        ),
        Macro(
            "latin",
            SendPayload(template="café", encoding="latin-1"),
            "text",
            "café",
            "ctrl+shift+x",
        ),
        Macro("raw", SendPayload(data=b"\xde\xad\xbe\xef"), "hex", "de ad be ef"),
        Macro(
            "blob", SendPayload(data=b"\x00\x01binary\xff"), "file", "payloads/blob.bin", "", 500
        ),
    )


def test_a_macro_file_is_found_beside_the_session_file_not_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "here").mkdir()
    (tmp_path / "there").mkdir()
    (tmp_path / "there" / "m.bin").write_bytes(b"beside")
    (tmp_path / "here" / "m.bin").write_bytes(b"working directory")
    monkeypatch.chdir(tmp_path / "here")
    spec = session_at(tmp_path / "there", '[[macro]]\nname = "m"\nfile = "m.bin"\n')
    assert spec.macros[0].payload.data == b"beside"


def test_a_rules_file_named_by_a_listener_is_found_beside_the_session_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mock").mkdir()
    rules = tmp_path / "mock" / "rules.toml"
    rules.write_text("[[rule]]\nexact = 'HELO'\nreply = '250 hi\\r\\n'\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    spec = session_at(
        tmp_path / "mock", '[[listen]]\nurl = "tcp://127.0.0.1:0"\nrules = "rules.toml"\n'
    )
    assert spec.listeners[0].endpoint.options.rules == str(rules)


def test_parse_session_reads_text_with_the_name_it_is_given() -> None:
    spec = parse_session('[[listen]]\nurl = "udp://127.0.0.1:0"\necho = true\n', "inline.toml")
    assert spec.listeners == (ListenSpec(parse_url("udp://127.0.0.1:0?echo=1", for_listen=True)),)


@pytest.mark.parametrize("key", ["f9", "f24", "ctrl+1", "ctrl+shift+x", "alt+escape", "space", "A"])
def test_key_names_textual_takes(key: str) -> None:
    assert key_problem(key) == ""


@pytest.mark.parametrize("key", ["f25", "ctrl+", "ctl+x", "ctrl+ctrl+x", "F9x", "", "ctrl+shift"])
def test_key_names_refused(key: str) -> None:
    assert key_problem(key) != ""


def test_the_key_names_are_textual_s_own() -> None:
    from textual.keys import Keys, _character_to_key

    textual_names = {key.value for key in Keys} | {
        _character_to_key(chr(code)) for code in range(0x21, 0x7F)
    }
    from workbench.session_file.macros import NAMED_KEYS

    assert textual_names >= NAMED_KEYS


def test_an_error_is_a_value_error_with_its_parts(tmp_path: Path) -> None:
    with pytest.raises(SessionFileError) as raised:
        session_at(tmp_path, '[[listen]]\nurl = "tcp://127.0.0.1:0"\nechoo = true\n')
    error = raised.value
    assert isinstance(error, ValueError)
    assert (error.path, error.line, error.key) == (str(tmp_path / "s.toml"), 3, "listen[1].echoo")
    assert str(error).startswith(f"{tmp_path / 's.toml'}:3: listen[1].echoo: unknown key; known:")


def test_a_recording_named_by_replay_is_found_beside_the_session_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recording's session and connection stay on the path made the session file's."""
    (tmp_path / "mock").mkdir()
    monkeypatch.chdir(tmp_path)
    spec = session_at(
        tmp_path / "mock",
        '[[listen]]\nurl = "tcp://127.0.0.1:0"\nreplay = "rec.jsonl@2#C3"\n'
        '[[listen]]\nurl = "tcp://127.0.0.1:0"\nreplay = "/srv/rec.jsonl"\n',
    )
    assert spec.listeners[0].endpoint.options.replay == str(tmp_path / "mock" / "rec.jsonl@2#C3")
    assert spec.listeners[1].endpoint.options.replay == "/srv/rec.jsonl"
