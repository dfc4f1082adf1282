"""The README's Sessions section: its example file loads to what the section says it holds,
and the errors it shows are the ones sockbench gives."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from workbench.protocol.endpoints import parse_url
from workbench.protocol.sequences import (
    CloseStep,
    DelayStep,
    ExpectStep,
    SendPayload,
    SendStep,
    Sequence,
)
from workbench.session_file.loader import SessionFileError, load_session, parse_session
from workbench.session_file.model import ConnectSpec, ListenSpec, Macro
from workbench.session_file.writer import session_toml

README = Path(__file__).resolve().parent.parent / "README.md"


def sessions_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n### Sessions\n")
    end = text.index("\n### ", start + 1)
    assert text.index("\n### Configuration file\n") < start  # after the config file's section
    return text[start:end]


def example() -> str:
    blocks = re.findall(r"```toml\n(.*?)```", sessions_section(), re.S)
    assert len(blocks) == 1
    return str(blocks[0])


def test_the_readme_example_holds_what_the_section_says(tmp_path: Path) -> None:
    path = tmp_path / "smtp-check.toml"
    path.write_text(example(), encoding="utf-8")
    spec = load_session(path)
    assert spec.listeners == (
        ListenSpec(parse_url("tcp://127.0.0.1:7007?max=10&echo=1", for_listen=True), "echo"),
    )
    echo_check, smtp = spec.connections
    assert echo_check == ConnectSpec(
        parse_url("tcp://127.0.0.1:7007", for_listen=False),
        "echo-check",
        Sequence(
            "echo-check",
            (SendStep(b"hello\r\n"), ExpectStep("^hello\\r\\n", 2.0), CloseStep()),
        ),
    )
    assert smtp == ConnectSpec(
        parse_url("tcp://127.0.0.1:2525", for_listen=False),
        "smtp",
        Sequence(
            "smtp",
            (
                ExpectStep("^220 ", 3.0),
                SendStep(b"EHLO sockbench.test\r\n"),
                ExpectStep("(?m)^250 ", 5.0),
                DelayStep(0.1),
                SendStep(b"QUIT\r\n"),
                ExpectStep("^221", 5.0),
                CloseStep(half=True),
            ),
        ),
    )
    assert spec.macros == (
        Macro(
            "ping",
            SendPayload(template="PING {counter} at {time}\\r\\n"),
            "text",
            "PING {counter} at {time}\\r\\n",
            "f9",
            1000,
            10,
        ),
        Macro(
            "hello-hex", SendPayload(data=b"HELO\r\n"), "hex", "48 45 4c 4f 0d 0a", "ctrl+shift+h"
        ),
    )
    assert parse_session(session_toml(spec), str(path)) == spec


@pytest.mark.parametrize(
    ("old", "new"),
    [("'(?m)^250 '", "'(250'"), ("echo = true", "echoo = true")],
)
def test_the_errors_the_readme_shows_are_sockbench_s(old: str, new: str) -> None:
    shown = re.search(r"```\n(smtp-check\.toml:.*?)```", sessions_section(), re.S)
    assert shown is not None
    assert old in example()
    with pytest.raises(SessionFileError) as raised:
        parse_session(example().replace(old, new), "smtp-check.toml")
    assert str(raised.value) in shown.group(1).splitlines()
