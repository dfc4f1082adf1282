"""Endpoint URLs: what parses, what does not, and that the errors are in plain words."""

from __future__ import annotations

import pytest

from workbench.protocol.addresses import EndpointError, check_host
from workbench.protocol.endpoints import Endpoint, format_address, format_sockname, parse_url

# --- good forms ---


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("tcp://127.0.0.1:8080", "127.0.0.1", 8080),
        ("tcp://localhost:1", "localhost", 1),
        ("tcp://example.com:65535", "example.com", 65535),
        ("tcp://my-host.example.org.:443", "my-host.example.org.", 443),
        ("tcp://_service.local:53", "_service.local", 53),
        ("tcp://[::1]:9000", "::1", 9000),
        ("tcp://[2001:db8::42]:80", "2001:db8::42", 80),
        ("tcp://[fe80::1%eth0]:22", "fe80::1%eth0", 22),
        ("TCP://Host.Example:7", "Host.Example", 7),
        ("  tcp://127.0.0.1:80\n", "127.0.0.1", 80),
    ],
)
def test_good_urls_parse(url: str, host: str, port: int) -> None:
    assert parse_url(url, for_listen=False) == Endpoint("tcp", host, port)
    assert parse_url(url, for_listen=True) == Endpoint("tcp", host, port)


def test_port_zero_is_for_listening() -> None:
    assert parse_url("tcp://127.0.0.1:0", for_listen=True).port == 0
    assert parse_url("tcp://[::]:0", for_listen=True) == Endpoint("tcp", "::", 0)
    with pytest.raises(EndpointError, match=r"^port 0 can only be used to listen"):
        parse_url("tcp://127.0.0.1:0", for_listen=False)


def test_address_and_url_put_ipv6_in_brackets() -> None:
    v4 = parse_url("tcp://127.0.0.1:80", for_listen=False)
    v6 = parse_url("tcp://[::1]:80", for_listen=False)
    assert (v4.address, v4.url, str(v4)) == ("127.0.0.1:80", "tcp://127.0.0.1:80", v4.url)
    assert (v6.address, v6.url) == ("[::1]:80", "tcp://[::1]:80")
    assert parse_url(v6.url, for_listen=False) == v6, "a URL parses back to itself"


def test_format_address_and_sockname() -> None:
    assert format_address("10.0.0.1", 5) == "10.0.0.1:5"
    assert format_address("::1", 5) == "[::1]:5"
    assert format_sockname(("127.0.0.1", 4000)) == "127.0.0.1:4000"
    assert format_sockname(("::1", 4000, 0, 0)) == "[::1]:4000"
    assert format_sockname("/run/some.sock") == "/run/some.sock"
    # Bytes that are not UTF-8 look the same whether the name came as bytes (a stream peer)
    # or as a str keeping them as surrogates (a datagram peer, to reply to it).
    raw = b"\0caf\xe9\x9b"
    assert format_sockname(raw) == "@caf\\xe9\\x9b"
    assert format_sockname(raw.decode("utf-8", "surrogateescape")) == "@caf\\xe9\\x9b"
    assert format_sockname("/tmp/\ud800") == "/tmp/\\ud800"  # stands for no byte
    assert format_sockname("/tmp/café") == "/tmp/café"


def test_check_host_takes_ipv6_with_or_without_brackets() -> None:
    assert check_host("[::1]") == "::1"
    assert check_host("::1") == "::1"
    assert check_host("example.com") == "example.com"


# --- bad forms, each with a message a user can act on ---


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("127.0.0.1:80", "'127.0.0.1:80' is not a URL; expected tcp://HOST:PORT"),
        ("", "'' is not a URL; expected tcp://HOST:PORT"),
        (
            "sctp://127.0.0.1:53",
            "unknown transport 'sctp://' in 'sctp://127.0.0.1:53'; "
            "known: tcp://, udp://, unix://, unix-dgram://",
        ),
        ("http://example.com:80", "unknown transport 'http://'"),
        ("tcp://127.0.0.1", "'tcp://127.0.0.1' has no port; expected HOST:PORT"),
        ("tcp://127.0.0.1:", "'tcp://127.0.0.1:' has no port; expected HOST:PORT"),
        ("tcp://127.0.0.1:http", "port 'http' is not a number"),
        ("tcp://127.0.0.1:80/path", "port '80/path' is not a number"),
        ("tcp://127.0.0.1:65536", "port 65536 is out of range (0-65535)"),
        ("tcp://127.0.0.1:-1", "port -1 is out of range (0-65535)"),
        ("tcp://:80", "the host is empty"),
        ("tcp://::1:80", "put an IPv6 address in brackets, like [::1]:PORT"),
        ("tcp://[::1]", "'tcp://[::1]' needs [IPV6]:PORT"),
        ("tcp://[::1:80", "'tcp://[::1:80' needs [IPV6]:PORT"),
        ("tcp://[::1]x:80", "needs [IPV6]:PORT"),
        ("tcp://[example.com]:80", "'example.com' is not an IPv6 address"),
        ("tcp://[127.0.0.1]:80", "'127.0.0.1' is not an IPv6 address"),
        ("tcp://bad host:80", "'bad host' is not a host name or IP address"),
        ("tcp://user@host:80", "'user@host' is not a host name or IP address"),
        ("tcp://-dash.example:80", "'-dash.example' is not a host name or IP address"),
        ("tcp://a..b:80", "'a..b' is not a host name or IP address"),
        (f"tcp://{'a' * 64}:80", "is not a host name or IP address"),
    ],
)
def test_bad_urls_are_rejected_in_plain_words(url: str, message: str) -> None:
    with pytest.raises(EndpointError) as caught:
        parse_url(url, for_listen=True)
    text = str(caught.value)
    assert message in text
    for jargon in ("invalid literal", "Traceback", "Error", "base 10", "ValueError"):
        assert jargon not in text


def test_endpoint_error_is_a_value_error() -> None:
    assert issubclass(EndpointError, ValueError)


@pytest.mark.parametrize("port", ["8_0", "+80", " 80", "\u0668\u0660"])
def test_port_must_be_plain_ascii_digits(port: str) -> None:
    with pytest.raises(EndpointError, match="is not a number"):
        parse_url(f"tcp://127.0.0.1:{port}", for_listen=False)
