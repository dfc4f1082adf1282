"""URL options: TCP's max= (a listener's maximum of connections) and idle= (seconds), UDP's,
and that every declared option parses and shows in URLs the same way."""

from __future__ import annotations

import pytest

from workbench.protocol.addresses import EndpointError
from workbench.protocol.endpoints import parse_url, with_defaults
from workbench.protocol.enums import Transport
from workbench.protocol.option_kinds import (
    Choice,
    Fingerprint,
    Flag,
    FramingText,
    Integer,
    OnOff,
    Seconds,
)
from workbench.protocol.options import OPTIONS, Option, SocketOptions


def test_tcp_options_parse_and_show_in_the_url() -> None:
    endpoint = parse_url("tcp://127.0.0.1:9000?max=500&idle=30", for_listen=True)
    assert endpoint.options.max_connections == 500
    assert endpoint.options.idle == 30.0
    assert endpoint.url == "tcp://127.0.0.1:9000?max=500&idle=30"
    assert parse_url("tcp://[::1]:1?idle=0.5", for_listen=False).options.idle == 0.5
    assert parse_url("tcp://127.0.0.1:1", for_listen=True).options.max_connections is None


@pytest.mark.parametrize(
    ("url", "listen", "message"),
    [
        ("tcp://127.0.0.1:1?max=5", False, "max is for listeners"),
        ("tcp://127.0.0.1:1?max=0", True, "max must be 1-1,000,000"),
        ("tcp://127.0.0.1:1?max=lots", True, "max takes a number, not 'lots'"),
        ("tcp://127.0.0.1:1?idle=0", True, "idle must be more than 0"),
        ("tcp://127.0.0.1:1?idle=-1", True, "idle takes a number of seconds, not '-1'"),
        ("tcp://127.0.0.1:1?idle=1e3", True, "idle takes a number of seconds"),
        ("tcp://127.0.0.1:1?rcvbuf=1", True, "unknown option 'rcvbuf' for tcp://; known: max"),
        ("udp://127.0.0.1:1?idle=3", True, "unknown option 'idle' for udp://; known: broadcast"),
    ],
)
def test_bad_options_are_refused_in_words(url: str, listen: bool, message: str) -> None:
    with pytest.raises(EndpointError, match=message.replace("?", r"\?")):
        parse_url(url, for_listen=listen)


def test_udp_options_unchanged() -> None:
    endpoint = parse_url("udp://0.0.0.0:5000?broadcast=1&rcvbuf=4194304", for_listen=True)
    assert endpoint.url == "udp://0.0.0.0:5000?broadcast=1&rcvbuf=4194304"
    assert parse_url("udp://239.1.2.3:5000?join=1&interface=127.0.0.1", for_listen=True).url == (
        "udp://239.1.2.3:5000?join=1&iface=127.0.0.1"
    )


def test_a_question_mark_in_a_unix_path_is_part_of_the_path() -> None:
    assert parse_url("unix:///tmp/a?max=3", for_listen=True).path == "/tmp/a?max=3"


def test_command_line_defaults_fill_what_the_url_left_out() -> None:
    flags = SocketOptions(max_connections=7, idle=2.5)
    unix = with_defaults(parse_url("unix:///tmp/a.sock", for_listen=True), flags, for_listen=True)
    assert (unix.options.max_connections, unix.options.idle) == (7, 2.5)
    tcp = parse_url("tcp://127.0.0.1:1?max=3", for_listen=True)
    assert with_defaults(tcp, flags, for_listen=True).options.max_connections == 3, "the URL wins"
    assert with_defaults(tcp, flags, for_listen=True).options.idle == 2.5
    udp = parse_url("udp://127.0.0.1:1", for_listen=True)
    assert with_defaults(udp, flags, for_listen=True) == udp


def test_half_open_and_the_eof_grace_parse_and_show_in_the_url() -> None:
    endpoint = parse_url("tcp://127.0.0.1:9000?halfopen=1&grace=2.5", for_listen=True)
    assert (endpoint.options.half_open, endpoint.eof_grace) == (True, 2.5)
    assert endpoint.url == "tcp://127.0.0.1:9000?halfopen=1&grace=2.5"
    outgoing = parse_url("tcp://127.0.0.1:9000?grace=0", for_listen=False)
    assert (outgoing.options.half_open, outgoing.eof_grace) == (False, 0.0)
    assert outgoing.url == "tcp://127.0.0.1:9000?grace=0"
    assert parse_url("tcp://127.0.0.1:9000", for_listen=True).eof_grace == 0.5


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("halfopen=maybe", "halfopen takes 1 or 0, not 'maybe'"),
        ("grace=-1", "grace takes a number of seconds, not '-1'"),
        ("grace=3601", "grace must be at most 3,600 s"),
    ],
)
def test_bad_half_open_options_are_refused_in_words(query: str, message: str) -> None:
    with pytest.raises(EndpointError, match=message):
        parse_url(f"tcp://127.0.0.1:1?{query}", for_listen=True)


def test_half_open_and_the_grace_from_the_command_line_fill_what_the_url_left_out() -> None:
    unix = with_defaults(
        parse_url("unix:///tmp/a.sock", for_listen=True),
        SocketOptions(half_open=True, eof_grace=2),
        for_listen=True,
    )
    assert (unix.options.half_open, unix.eof_grace) == (True, 2.0)
    tcp = parse_url("tcp://127.0.0.1:1?grace=1", for_listen=True)
    grace = SocketOptions(eof_grace=9)
    assert with_defaults(tcp, grace, for_listen=True).eof_grace == 1.0, "the URL wins"


def sample_text(option: Option) -> str:
    """A value each kind of option takes, as a URL writes it."""
    if isinstance(option.kind, Flag):
        return "1"
    if isinstance(option.kind, Integer):
        return str(option.kind.bounds[1]) if option.kind.bounds else "4096"
    if isinstance(option.kind, Seconds):
        return "2.5"
    if isinstance(option.kind, OnOff):
        return "0"  # these are on by default
    if isinstance(option.kind, Choice):
        return option.kind.values[-1]
    if isinstance(option.kind, Fingerprint):
        return ":".join(["AB"] * 32)
    if isinstance(option.kind, FramingText):
        return "len:2:be"
    return "127.0.0.1"


@pytest.mark.parametrize("option", OPTIONS, ids=lambda option: option.url_name)
def test_every_declared_option_parses_and_shows_in_the_url_as_given(option: Option) -> None:
    transports = [t for t in (Transport.TCP, Transport.UDP) if t in option.transports]
    assert transports or option.command_line, "an option a URL cannot set needs a flag"
    for transport in transports:
        # A multicast group, so that join=1 is taken too.
        url = f"{transport}://239.1.2.3:5000?{option.url_name}={sample_text(option)}"
        endpoint = parse_url(url, for_listen=not option.connections_only)
        assert getattr(endpoint.options, option.field) != option.default
        # tls=1 is written as the scheme: tls://
        if option.field == "tls":
            url = "tls://239.1.2.3:5000"
        assert endpoint.url == url


def test_loop_off_is_kept_in_the_url() -> None:
    url = "udp://239.1.2.3:5000?ttl=2&loop=0"
    assert parse_url(url, for_listen=False).options.loop is False
    assert parse_url(url, for_listen=False).url == url


def test_an_option_a_transport_does_not_take_is_not_filled_in_from_the_flags() -> None:
    flags = SocketOptions(max_connections=7, idle=2.5, half_open=True)
    plain = parse_url("tcp://127.0.0.1:1", for_listen=False)
    outgoing = with_defaults(plain, flags, for_listen=False)
    assert outgoing.options.max_connections is None, "max is for listeners"
    assert (outgoing.options.idle, outgoing.options.half_open) == (2.5, True)
    assert outgoing.url == "tcp://127.0.0.1:1?idle=2.5&halfopen=1"


def test_echo_is_an_option_of_listeners_and_connections_broker_of_listeners() -> None:
    for url in ("tcp://127.0.0.1:9?echo=1", "udp://127.0.0.1:9?echo=1"):
        for for_listen in (True, False):
            assert parse_url(url, for_listen=for_listen).options.echo
            assert parse_url(url, for_listen=for_listen).url == url
    with pytest.raises(EndpointError, match="broker is for listeners"):
        parse_url("tcp://127.0.0.1:9?broker=1", for_listen=False)


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_an_unknown_option_names_echo_among_the_known_ones(transport: str) -> None:
    with pytest.raises(EndpointError, match=r"unknown option 'ecco' .*known: .*\becho\b"):
        parse_url(f"{transport}://127.0.0.1:0?ecco=1", for_listen=True)
