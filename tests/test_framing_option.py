"""Choosing a framing: `framing=SPEC` on stream endpoints (URL, --framing, session files),
its shape checked by the protocol's own small parser, which agrees with workbench.framing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.cli import flag_options, parse_command_line
from workbench.framing.messages import FRAMINGS, FramingError, parse_framing, split_params
from workbench.protocol.addresses import EndpointError
from workbench.protocol.endpoints import parse_url
from workbench.protocol.option_kinds import FRAMING_NAMES, FramingText, _framing_parts
from workbench.session_file.loader import SessionFileError, parse_session
from workbench.session_file.writer import session_toml


def test_a_stream_endpoint_takes_a_framing_and_shows_it_in_its_url() -> None:
    for url in (
        "tcp://127.0.0.1:9000?framing=len:2:be",
        "tls://127.0.0.1:9000?framing=netstring",
        "tcp://[::1]:9000?framing=delim:\\r\\n",
    ):
        for for_listen in (True, False):
            endpoint = parse_url(url, for_listen=for_listen)
            assert endpoint.url == url
            assert parse_framing(endpoint.options.framing or "")
    endpoint = parse_url("tcp://127.0.0.1:1?framing=len:4:le:incl:max=100", for_listen=False)
    assert endpoint.options.framing == "len:4:le:incl:max=100"
    assert endpoint.url == "tcp://127.0.0.1:1?framing=len:4:le:incl:max=100"
    assert parse_url(endpoint.url, for_listen=False).options.framing == endpoint.options.framing
    assert parse_url("tcp://127.0.0.1:1", for_listen=False).options.framing is None


def test_a_datagram_endpoint_does_not_take_one() -> None:
    with pytest.raises(EndpointError, match="unknown option 'framing' for udp://"):
        parse_url("udp://127.0.0.1:1?framing=len:2:be", for_listen=True)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("json", "framing: unknown framing 'json' \\(one of: delim"),
        ("len:3:be", "framing: len: the prefix's width is 1, 2, 4 or 8"),
        ("len", "the prefix's width"),
        ("len:2:be:big", "framing: len: unknown parameter 'big'"),
        ("delim", "framing: say the delimiter"),
        ("delim::max=3", "say the delimiter"),
        ("netstring:x", "netstring: unknown parameter 'x'"),
    ],
)
def test_a_framing_of_the_wrong_shape_is_refused_in_words(spec: str, words: str) -> None:
    with pytest.raises(EndpointError, match=words):
        parse_url(f"tcp://127.0.0.1:1?framing={spec}", for_listen=True)
    with pytest.raises(FramingError):
        parse_framing(spec)


def test_the_flag_and_the_session_file_key_set_it() -> None:
    args = parse_command_line(["--framing", "len:2:be", "--listen", "tcp://127.0.0.1:0"])
    assert flag_options(args).framing == "len:2:be"
    spec = parse_session(
        '[[listen]]\nurl = "unix:///tmp/framed.sock"\nframing = "netstring"\n', "inline.toml"
    )
    assert spec.listeners[0].endpoint.options.framing == "netstring"
    with pytest.raises(SessionFileError, match="unknown framing 'nope'"):
        parse_session('[[listen]]\nurl = "tcp://127.0.0.1:0"\nframing = "nope"\n', "x.toml")


def test_a_saved_session_keeps_each_endpoint_s_framing() -> None:
    text = (
        '[[listen]]\nurl = "unix:///tmp/framed.sock"\nframing = "delim:\\\\r\\\\n:max=100"\n'
        '[[connect]]\nurl = "tcp://127.0.0.1:9?framing=len:4:le:incl"\n'
    )
    spec = parse_session(text, "a.toml")
    assert spec.listeners[0].endpoint.options.framing == "delim:\\r\\n:max=100"
    again = parse_session(session_toml(spec), "b.toml")
    assert again == spec
    assert [c.endpoint.options.framing for c in again.connections] == ["len:4:le:incl"]


def test_the_protocol_knows_the_framings_workbench_framing_has() -> None:
    assert tuple(FRAMINGS) == FRAMING_NAMES


SPEC_TEXT = st.text(alphabet=st.sampled_from("delnstrigm:\\x0124=ab"), max_size=20)


@given(st.sampled_from(["delim", "len", "netstring"]), SPEC_TEXT)
def test_what_the_framings_take_the_option_takes(name: str, rest: str) -> None:
    """The option checks only the shape: it never refuses a spec a framing takes."""
    text = f"{name}:{rest}"
    assert _framing_parts(text) == split_params(text)
    try:
        parse_framing(text)
    except FramingError:
        return
    assert FramingText().parse("framing", text) == text
