"""Session files written (`session_toml`, `save_session`) load back to the same spec, for
every shape of endpoint, step and macro; saving replaces the file atomically."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.protocol.endpoints import Endpoint, parse_url
from workbench.protocol.sequences import (
    CloseStep,
    DelayStep,
    ExpectStep,
    SendPayload,
    SendStep,
    Sequence,
    Step,
)
from workbench.session_file.loader import load_session, parse_session
from workbench.session_file.model import ConnectSpec, ListenSpec, Macro, SessionSpec
from workbench.session_file.steps import printable_text
from workbench.session_file.writer import HEADER, save_session, session_toml

NAME_CHARS = "abcXYZ019._-"
names = st.text(NAME_CHARS, min_size=1, max_size=6)
# Text for greetings and macros: printable, with the composer's escapes and URL specials.
TEXT_PIECES = ["a", "Z", " ", "é", "€", "&", "#", "%", "?", "=", "+", "/", "\\r", "\\n", "\\x00"]
composer_text = st.lists(st.sampled_from(TEXT_PIECES), min_size=1, max_size=5).map("".join)
seconds = st.integers(1, 999_999).map(lambda n: n / 100)


@st.composite
def inet_listener(draw: st.DrawFn) -> Endpoint:
    scheme = draw(st.sampled_from(["tcp", "tls", "udp"]))
    query = []
    if scheme != "udp":
        if draw(st.booleans()):
            query.append(f"max={draw(st.integers(1, 1_000_000))}")
        if draw(st.booleans()):
            query.append(f"idle={draw(seconds)}")
        if draw(st.booleans()):
            query.append("halfopen=1")
        behaviour = draw(st.sampled_from(["", "echo=1", "broker=1", "chat=1"]))
        query += [behaviour] if behaviour else []
    else:
        if draw(st.booleans()):
            query.append(f"rcvbuf={draw(st.integers(0, 1 << 24))}")
        if draw(st.booleans()):
            query.append("echo=1")
    if draw(st.booleans()):
        query.append(f"greet={draw(composer_text).replace('%', '%25').replace('&', '%26')}")
        query = [q.replace("#", "%23").replace("+", "%2B") for q in query]
    url = f"{scheme}://127.0.0.1:{draw(st.integers(0, 65535))}?{'&'.join(query)}"
    return parse_url(url, for_listen=True)


@st.composite
def unix_endpoint(draw: st.DrawFn, for_listen: bool) -> Endpoint:
    url = draw(st.sampled_from(["unix:///tmp/s.sock", "unix://@abstract", "unix-dgram:///tmp/d"]))
    endpoint = parse_url(url, for_listen=for_listen)
    changes: dict[str, object] = {}
    if draw(st.booleans()):
        changes["echo"] = True
    if draw(st.booleans()):
        changes["greet"] = draw(composer_text)
    if url.startswith("unix://") and draw(st.booleans()):
        changes["idle"] = draw(seconds)
        changes["half_open"] = draw(st.booleans())
        if for_listen:
            changes["max_connections"] = draw(st.integers(1, 1000))
    options = endpoint.options.__class__(**{**_fields(endpoint), **changes})
    return Endpoint(endpoint.transport, path=endpoint.path, options=options)


def _fields(endpoint: Endpoint) -> dict[str, object]:
    return {name: getattr(endpoint.options, name) for name in endpoint.options.__slots__}


@st.composite
def connection_endpoint(draw: st.DrawFn) -> Endpoint:
    if draw(st.booleans()):
        return draw(unix_endpoint(for_listen=False))
    scheme = draw(st.sampled_from(["tcp", "tls", "udp"]))
    query = ""
    if scheme == "tls":
        query = draw(
            st.sampled_from(["", "?sni=example.org&max=1.3", "?verify=0&alpn=h2,http/1.1"])
        )
    return parse_url(f"{scheme}://127.0.0.1:{draw(st.integers(1, 65535))}{query}", for_listen=False)


steps: st.SearchStrategy[Step] = st.one_of(
    st.binary(min_size=1, max_size=8).map(SendStep),
    st.text(min_size=1, max_size=10).map(lambda text: SendStep(text.encode("utf-8", "replace"))),
    st.tuples(
        st.sampled_from(["^220 ", "(?m)^250[ -]", "x{2,3}", "\\x00\\xff", "é"]),
        st.sampled_from([5.0, 0.5, 2.0, 30.0, 0.001]),
    ).map(lambda pair: ExpectStep(*pair)),
    st.integers(0, 3_600_000).map(lambda ms: DelayStep(ms / 1000)),
    st.booleans().map(CloseStep),
)


@st.composite
def macros(draw: st.DrawFn, directory: Path) -> tuple[Macro, ...]:
    chosen_names = draw(st.lists(names, unique=True, max_size=3))
    keys = draw(
        st.lists(st.sampled_from(["f9", "ctrl+1", "ctrl+shift+x", "alt+p", "f24"]), unique=True)
    )
    made = []
    for index, name in enumerate(chosen_names):
        source = draw(st.sampled_from(["text", "hex", "file"]))
        if source == "text":
            text = draw(composer_text) + draw(st.sampled_from(["", " {counter}", "{time}"]))
            encoding = draw(st.sampled_from(["utf-8", "latin-1", "utf-16le"]))
            if encoding != "utf-8":
                text = text.replace("€", "e")
            payload, given = SendPayload(template=text, encoding=encoding), text
        elif source == "hex":
            data = draw(st.binary(min_size=1, max_size=8))
            given = draw(st.sampled_from([data.hex(" "), data.hex(), data.hex(":").upper()]))
            payload = SendPayload(data=data)
        else:
            data = draw(st.binary(max_size=16))
            given = f"macro-{name}.bin"
            (directory / given).write_bytes(data)
            payload = SendPayload(data=data)
        repeat_ms = draw(st.sampled_from([0, 1, 1000]))
        count = draw(st.sampled_from([0, 3])) if repeat_ms else 0
        key = keys[index] if index < len(keys) else ""
        made.append(Macro(name, payload, source, given, key, repeat_ms, count))
    return tuple(made)


@st.composite
def sessions(draw: st.DrawFn, directory: Path) -> SessionSpec:
    endpoint_names = draw(st.lists(names, unique=True, max_size=6))
    listen_endpoints = draw(
        st.lists(st.one_of(inet_listener(), unix_endpoint(for_listen=True)), max_size=2)
    )
    connect_endpoints = draw(st.lists(connection_endpoint(), max_size=2))
    listeners = tuple(
        ListenSpec(endpoint, endpoint_names.pop() if endpoint_names and draw(st.booleans()) else "")
        for endpoint in listen_endpoints
    )
    connections = []
    for position, endpoint in enumerate(connect_endpoints, 1):
        name = endpoint_names.pop() if endpoint_names and draw(st.booleans()) else ""
        chosen = tuple(draw(st.lists(steps, max_size=4)))
        sequence = Sequence(name or f"connect-{position}", chosen) if chosen else None
        connections.append(ConnectSpec(endpoint, name, sequence))
    return SessionSpec(listeners, tuple(connections), draw(macros(directory)))


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_session_loads_back_the_same(tmp_path: Path, data: st.DataObject) -> None:
    spec = data.draw(sessions(tmp_path))
    text = session_toml(spec)
    assert parse_session(text, str(tmp_path / "s.toml")) == spec
    assert text.startswith(HEADER)


def test_save_then_load_gives_the_same_session(tmp_path: Path) -> None:
    (tmp_path / "blob.bin").write_bytes(b"\x00blob")
    spec = SessionSpec(
        (ListenSpec(parse_url("tcp://127.0.0.1:0?echo=1", for_listen=True), "mock"),),
        (
            ConnectSpec(
                parse_url("tcp://127.0.0.1:2525", for_listen=False),
                "smtp",
                Sequence("smtp", (ExpectStep("^220 "), SendStep(b"QUIT\r\n"), CloseStep())),
            ),
        ),
        (
            Macro(
                "ping",
                SendPayload(template="PING {counter}\\r\\n"),
                "text",
                "PING {counter}\\r\\n",
                "f9",
                100,
                5,
            ),
            Macro("blob", SendPayload(data=b"\x00blob"), "file", "blob.bin"),
        ),
    )
    path = tmp_path / "saved.toml"
    save_session(spec, path)
    assert load_session(path) == spec
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["blob.bin", "saved.toml"]  # no temporary file left


def test_saving_replaces_a_planted_link_without_writing_through_it(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    path = tmp_path / "session.toml"
    path.symlink_to(victim)
    save_session(SessionSpec(), path)
    assert victim.read_text(encoding="utf-8") == "precious"
    assert not path.is_symlink()
    assert load_session(path) == SessionSpec()


def test_saving_into_a_missing_directory_raises_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        save_session(SessionSpec(), tmp_path / "absent" / "s.toml")


def test_unix_options_are_keys_and_inet_options_stay_in_the_url() -> None:
    unix = parse_url("unix:///tmp/s.sock", for_listen=True)
    unix = Endpoint(
        unix.transport,
        path=unix.path,
        options=parse_url("tcp://127.0.0.1:0?chat=1&max=9", for_listen=True).options,
    )
    spec = SessionSpec(
        (ListenSpec(unix), ListenSpec(parse_url("tcp://127.0.0.1:0?chat=1&max=9", for_listen=True)))
    )
    text = session_toml(spec)
    assert text == (
        HEADER
        + '\n[[listen]]\nurl = "unix:///tmp/s.sock"\nmax = 9\nchat = true\n'
        + '\n[[listen]]\nurl = "tcp://127.0.0.1:0?max=9&chat=1"\n'
    )


def test_a_relative_rules_path_is_saved_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "rules.toml").write_text("[[rule]]\nexact = 'a'\nreply = 'b'\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    spec = SessionSpec(
        (ListenSpec(parse_url("tcp://127.0.0.1:0?rules=rules.toml", for_listen=True)),)
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    save_session(spec, elsewhere / "s.toml")
    loaded = load_session(elsewhere / "s.toml")
    assert loaded.listeners[0].endpoint.options.rules == str(tmp_path / "rules.toml")


@pytest.mark.parametrize(
    ("data", "written"),
    [
        (b"EHLO me\r\n", "EHLO me\\r\\n"),
        (b"tab\there \\ caf\xc3\xa9", "tab\there \\\\ café"),
        (b"\x00\x01", None),
        (b"\xff", None),
        (b"\xe2\x80\xae", None),  # U+202E, a bidi override: hex, never raw in the file
    ],
)
def test_sent_bytes_are_written_as_text_only_when_printable(
    data: bytes, written: str | None
) -> None:
    assert printable_text(data) == written
