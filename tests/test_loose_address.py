"""Addresses as people type or paste them, read by the one parser the command line's nc forms
and the dialogs share: what each form gives, and errors that quote what was typed."""

from __future__ import annotations

import pytest

from workbench.protocol.addresses import EndpointError
from workbench.protocol.enums import Transport
from workbench.protocol.loose_address import parse_address


@pytest.mark.parametrize(
    ("typed", "transport", "url"),
    [
        ("9000", Transport.TCP, "tcp://127.0.0.1:9000"),
        (":9000", Transport.TCP, "tcp://127.0.0.1:9000"),
        ("  9000\n", Transport.TCP, "tcp://127.0.0.1:9000"),
        ("localhost:9000", Transport.TCP, "tcp://localhost:9000"),
        ("[::1]:9000", Transport.TCP, "tcp://[::1]:9000"),
        ("127.0.0.1 9000", Transport.TCP, "tcp://127.0.0.1:9000"),
        ("::1 9000", Transport.TCP, "tcp://[::1]:9000"),
        ("[::1] 9000", Transport.UDP, "udp://[::1]:9000"),
        ("9000?idle=30", Transport.TCP, "tcp://127.0.0.1:9000?idle=30"),
        ("0.0.0.0:5000?broadcast=1", Transport.UDP, "udp://0.0.0.0:5000?broadcast=1"),
        # A whole URL says its transport, whatever the dialog's selector says.
        ("udp://127.0.0.1:5000", Transport.TCP, "udp://127.0.0.1:5000"),
        ("unix:///tmp/app.sock", Transport.TCP, "unix:///tmp/app.sock"),
        ("/tmp/app.sock", Transport.UNIX, "unix:///tmp/app.sock"),
        ("@app", Transport.UNIX_DGRAM, "unix-dgram://@app"),
        ("run/app.sock", Transport.UNIX, "unix://run/app.sock"),
    ],
)
def test_each_form_names_its_endpoint(typed: str, transport: Transport, url: str) -> None:
    assert parse_address(typed, transport, for_listen=False).url == url


def test_the_default_host_serves_a_port_alone() -> None:
    endpoint = parse_address("9000", Transport.TCP, for_listen=True, default_host="::1")
    assert endpoint.url == "tcp://[::1]:9000"
    assert parse_address("0", Transport.UDP, for_listen=True).url == "udp://127.0.0.1:0"


@pytest.mark.parametrize(
    ("typed", "transport", "error"),
    [
        ("", Transport.TCP, "the address is empty; expected PORT, HOST:PORT, HOST PORT or a URL"),
        (" ", Transport.UNIX, "the address is empty; expected /path, @name or a URL"),
        ("localhost", Transport.TCP, "'localhost' has no port"),
        ("127.0.0.1:", Transport.TCP, "'127.0.0.1:' has no port"),
        # The paste: the error quotes it, never a URL made of it.
        ("127.0.0.1:?127.0.0.1:5006", Transport.TCP, "'127.0.0.1:?127.0.0.1:5006' has no port"),
        ("::1", Transport.TCP, "'::1': put an IPv6 address in brackets, like [::1]:9000"),
        ("::1:9000", Transport.TCP, "put an IPv6 address in brackets"),
        ("[::1]", Transport.TCP, "'[::1]' needs [IPV6]:PORT"),
        ("a b c", Transport.TCP, "'a b c' is not an address"),
        ("host port", Transport.TCP, "'host port' is not an address"),
        ("70000", Transport.TCP, "port 70000 is out of range (0-65535)"),
        ("host:x", Transport.TCP, "port 'x' is not a number"),
        ("1.2.3:80", Transport.TCP, "'1.2.3' is not a valid IPv4 address"),
        ("9000?nope=1", Transport.TCP, "'9000?nope=1': unknown option 'nope'"),
        ("10.0.0.1:5000?join=1", Transport.UDP, "join=1 needs a multicast group address"),
        ("@", Transport.UNIX, "'@' has no path"),
    ],
)
def test_errors_quote_what_was_typed(typed: str, transport: Transport, error: str) -> None:
    with pytest.raises(EndpointError) as raised:
        parse_address(typed, transport, for_listen=True)
    assert error in str(raised.value)
    assert "://1" not in str(raised.value), "no URL made of what was typed"


def test_port_0_is_for_listening_only() -> None:
    with pytest.raises(EndpointError, match="port 0 can only be used to listen"):
        parse_address("127.0.0.1:0", Transport.TCP, for_listen=False)
