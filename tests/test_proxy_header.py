"""The PROXY protocol header, pure (workbench/framing/proxy_header.py): HAProxy's
proxy-protocol.txt's examples and limits as reference vectors, round trips, a header split
at any byte, and garbage that never raises."""

from __future__ import annotations

import ipaddress
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.framing.proxy_header import (
    DEFAULT_MAX_V2_LENGTH,
    V1_MAX_BYTES,
    V2_SIGNATURE,
    Command,
    Family,
    IpEndpoint,
    Malformed,
    NeedMore,
    NotProxy,
    ProxyHeader,
    TlvType,
    UnixEndpoint,
    build_v1,
    build_v2,
    crc32c,
    parse,
    tlv_name,
)


def header(data: bytes) -> ProxyHeader:
    result = parse(data)
    assert isinstance(result, ProxyHeader), result
    return result


def ip(text: str, port: int) -> IpEndpoint:
    return IpEndpoint(ipaddress.ip_address(text), port)


# --- the specification's examples and limits ---


def test_the_specifications_v1_example_before_an_http_request() -> None:
    line = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"
    request = b"GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n"
    found = header(line + request)
    assert (found.version, found.command, found.family) == (1, Command.PROXY, Family.TCP4)
    assert found.source == ip("192.168.0.1", 56324)
    assert found.destination == ip("192.168.0.11", 443)
    assert found.size == len(line), "what follows is the request, untouched"
    assert str(found.source) == "192.168.0.1:56324"


@pytest.mark.parametrize(
    ("line", "size"),
    [
        (b"PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n", 56),
        (b"PROXY TCP6 " + b"ffff:" * 7 + b"ffff " + b"ffff:" * 7 + b"ffff 65535 65535\r\n", 104),
        (b"PROXY UNKNOWN\r\n", 15),
        (b"PROXY UNKNOWN " + b"ffff:" * 7 + b"ffff " + b"ffff:" * 7 + b"ffff 65535 65535\r\n", 107),
    ],
)
def test_the_longest_lines_the_specification_counts(line: bytes, size: int) -> None:
    assert len(line) == size
    assert header(line + b"after").size == size


def test_unknown_ignores_the_rest_of_its_line_and_names_no_client() -> None:
    found = header(b"PROXY UNKNOWN whatever is here\r\nGET")
    assert found.family is Family.UNKNOWN and found.source is None
    assert not found.names_client


def test_a_v1_line_without_crlf_in_107_bytes_is_malformed() -> None:
    long = b"PROXY UNKNOWN " + b"x" * 200
    assert parse(long[: V1_MAX_BYTES - 1]) == NeedMore(V1_MAX_BYTES)
    assert parse(long) == Malformed(f"v1 line: no CRLF within the first {V1_MAX_BYTES} bytes")


@pytest.mark.parametrize(
    ("line", "words"),
    [
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "ended by LF alone"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", "a CR not followed by LF"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", "'01' is not a port"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n", "'65536' is not a port"),
        (b"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", "'01.2.3.4' is not an IPv4 address"),
        (b"PROXY TCP4 ::1 ::1 1 2\r\n", "'::1' is not an IPv4 address"),
        (b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n", "'1.2.3.4' is not an IPv6 address"),
        (b"PROXY TCP6 ::ffff:1.2.3.4 ::1 1 2\r\n", "is not an IPv6 address"),
        (b"PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", "is not an IPv6 address"),
        (b"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", "7 fields, not 6"),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "5 fields, not 6"),
        (b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", "unknown protocol 'UDP4'"),
        (b"PROXY \x1b]2;x\x07\r\n", "byte 0x1b at 6 is not printable"),
    ],
)
def test_malformed_v1_lines_say_what_is_wrong(line: bytes, words: str) -> None:
    result = parse(line)
    assert isinstance(result, Malformed), result
    assert words in result.reason


def test_the_v2_signature_is_the_specifications() -> None:
    assert (
        bytes([0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A])
        == V2_SIGNATURE
    )


def test_a_v2_tcp4_header_laid_out_by_hand() -> None:
    # struct proxy_hdr_v2 then proxy_addr.ipv4_addr, as the specification lays them out.
    data = (
        V2_SIGNATURE
        + bytes([0x21, 0x11])
        + struct.pack("!H", 12)
        + bytes([172, 19, 0, 1, 172, 19, 0, 3])
        + struct.pack("!HH", 42578, 80)
        + b"GET / HTTP/1.1\r\n"
    )
    found = header(data)
    assert (found.version, found.command, found.family, found.size) == (
        2,
        Command.PROXY,
        Family.TCP4,
        28,
    )
    assert (found.source, found.destination) == (ip("172.19.0.1", 42578), ip("172.19.0.3", 80))


def test_a_v2_unix_header_keeps_the_paths_as_bytes() -> None:
    block = b"/run/a.sock".ljust(108, b"\0") + b"\0abstract".ljust(108, b"\0")
    found = header(V2_SIGNATURE + bytes([0x21, 0x31]) + struct.pack("!H", 216) + block)
    assert found.family is Family.UNIX_STREAM
    assert found.source == UnixEndpoint(b"/run/a.sock")
    assert found.destination == UnixEndpoint(b"\0abstract")


def test_local_ignores_its_addresses_and_udp_is_named() -> None:
    block = bytes(4) + bytes(4) + bytes(4)
    local = header(V2_SIGNATURE + bytes([0x20, 0x12]) + struct.pack("!H", 12) + block)
    assert local.command is Command.LOCAL and local.family is Family.UDP4
    assert local.source is None and not local.names_client


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (V2_SIGNATURE + bytes([0x11, 0x11, 0, 0]), "version 1, not 2"),
        (V2_SIGNATURE + bytes([0x22, 0x11, 0, 12]) + bytes(12), "command 0x2"),
        (V2_SIGNATURE + bytes([0x21, 0x13, 0, 0]), "family and protocol 0x13"),
        (V2_SIGNATURE + bytes([0x21, 0x41, 0, 0]), "family and protocol 0x41"),
        (V2_SIGNATURE + bytes([0x21, 0x11, 0, 4]) + bytes(4), "4 bytes for TCP4's addresses"),
        (V2_SIGNATURE + bytes([0x21, 0x11, 0xFF, 0xFF]), "announces 65,535 bytes"),
        (V2_SIGNATURE + bytes([0x21, 0x00, 0, 2]) + b"\x01\x00", "2 stray byte(s)"),
        (V2_SIGNATURE + bytes([0x21, 0x00, 0, 4]) + b"\x01\x00\x09x", "ALPN of 9 bytes runs"),
        (V2_SIGNATURE + bytes([0x21, 0x00, 0, 5]) + b"\x20\x00\x02xx", "SSL TLV of 2 bytes"),
        (V2_SIGNATURE + bytes([0x21, 0x00, 0, 5]) + b"\x03\x00\x02xx", "CRC32C TLV of 2"),
        (
            V2_SIGNATURE + bytes([0x21, 0x00, 0, 3 + 129]) + b"\x05\x00\x81" + bytes(129),
            "UNIQUE_ID of 129 bytes",
        ),
    ],
)
def test_malformed_v2_headers_say_what_is_wrong(data: bytes, words: str) -> None:
    result = parse(data)
    assert isinstance(result, Malformed), result
    assert words in result.reason


def test_crc32c_is_castagnolis() -> None:
    # RFC 3720 B.4's check value, and its 32 bytes of zeros.
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(bytes(32)) == 0x8A9136AA


def test_a_checksum_is_checked_and_a_changed_byte_is_caught() -> None:
    data = build_v2(("10.0.0.1", 1234), ("10.0.0.2", 80), [(TlvType.ALPN, b"h2")], checksum=True)
    assert header(data).crc_checked
    for at in (13, 16, 20, len(data) - 8, len(data) - 1):
        changed = bytearray(data)
        changed[at] ^= 0x01
        result = parse(bytes(changed))
        assert isinstance(result, Malformed), (at, result)


def test_tlvs_are_named_and_the_ssl_one_read() -> None:
    ssl_value = (
        struct.pack("!BI", 0x01 | 0x02, 0) + b"\x21\x00\x07TLSv1.3" + b"\x22\x00\x0bexample.com"
    )
    data = build_v2(
        ("2001:db8::1", 50000),
        ("2001:db8::2", 443),
        [
            (TlvType.ALPN, b"h2"),
            (TlvType.AUTHORITY, b"example.com"),
            (TlvType.UNIQUE_ID, b"\x01" * 16),
            (TlvType.NOOP, b""),
            (TlvType.SSL, ssl_value),
            (TlvType.NETNS, b"blue"),
            (0xEA, b"vpce-123"),
        ],
    )
    found = header(data)
    assert [tlv.name for tlv in found.tlvs] == [
        "ALPN",
        "AUTHORITY",
        "UNIQUE_ID",
        "NOOP",
        "SSL",
        "NETNS",
        "custom 0xEA",
    ]
    ssl = found.tlv(TlvType.SSL)
    assert ssl is not None
    assert [(sub.name, sub.value) for sub in ssl.subtlvs] == [
        ("SSL_VERSION", b"TLSv1.3"),
        ("SSL_CN", b"example.com"),
    ]
    assert found.ssl is not None and found.ssl.flags == ("SSL", "CERT_CONN")
    assert found.ssl.verify == 0
    assert (tlv_name(0xF3), tlv_name(0xFA), tlv_name(0x06)) == (
        "experimental 0xF3",
        "future 0xFA",
        "unassigned 0x06",
    )


def test_not_a_proxy_header_is_said_at_once() -> None:
    assert parse(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == NotProxy(
        "it starts with 'GET / HTTP/1.1\r\n', not 'PROXY ' nor the v2 signature"
    ), "the first 16 bytes as they are: the Log's sanitizer shows them"
    assert isinstance(parse(b"\x16\x03\x01\x02\x00"), NotProxy), "a TLS ClientHello"
    assert isinstance(parse(b"PROXZ"), NotProxy)
    assert isinstance(parse(b"\r\n\r\n\x01"), NotProxy)
    assert parse(b"") == NeedMore(16)
    assert parse(b"PRO") == NeedMore(6)
    assert parse(b"\r\n\r\n\x00") == NeedMore(16)


def test_building_v1_and_v2() -> None:
    assert build_v1(("192.168.0.1", 56324), ("192.168.0.11", 443)) == (
        b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"
    )
    assert build_v1(("::1", 1), ("fe80::1%lo", 2)) == b"PROXY TCP6 ::1 fe80::1 1 2\r\n"
    assert build_v1(None, None) == b"PROXY UNKNOWN\r\n"
    mixed = header(build_v1(("127.0.0.1", 1), ("::1", 2)))
    assert mixed.family is Family.TCP6, "one side IPv4, one IPv6: both as IPv6"
    assert mixed.source == ip("::ffff:127.0.0.1", 1)
    assert build_v2(None, None) == V2_SIGNATURE + b"\x20\x00\x00\x00"
    assert build_v2(("127.0.0.1", 1), ("127.0.0.2", 2)) == (
        V2_SIGNATURE + b"\x21\x11\x00\x0c\x7f\x00\x00\x01\x7f\x00\x00\x02\x00\x01\x00\x02"
    )
    with pytest.raises(ValueError):
        build_v1(("localhost", 1), ("127.0.0.1", 2))
    with pytest.raises(ValueError):
        build_v2(("127.0.0.1", 70000), ("127.0.0.1", 2))
    with pytest.raises(ValueError):
        build_v2(None, None, [(1, bytes(70000))])


def test_the_v2_bound_is_the_callers() -> None:
    data = build_v2(("127.0.0.1", 1), ("127.0.0.2", 2), [(TlvType.NOOP, bytes(5000))])
    assert isinstance(parse(data), Malformed), f"over the default {DEFAULT_MAX_V2_LENGTH}"
    assert isinstance(parse(data, max_length=6000), ProxyHeader)


# --- properties ---

ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
ports = st.integers(0, 65535)
pairs = st.one_of(
    st.tuples(st.tuples(ipv4, ports), st.tuples(ipv4, ports)),
    st.tuples(st.tuples(ipv6, ports), st.tuples(ipv6, ports)),
)
tlv_lists = st.lists(
    st.tuples(
        st.sampled_from([0x01, 0x02, 0x04, 0x05, 0x30, 0xE0, 0xF0]),
        st.binary(max_size=64),
    ),
    max_size=4,
)


@given(pairs, st.binary(max_size=64))
def test_v1_round_trips(pair: tuple[tuple[str, int], tuple[str, int]], after: bytes) -> None:
    source, destination = pair
    data = build_v1(source, destination)
    found = header(data + after)
    assert found.size == len(data)
    assert found.source == ip(*source) and found.destination == ip(*destination)


@given(pairs, tlv_lists, st.booleans(), st.binary(max_size=64))
def test_v2_round_trips(
    pair: tuple[tuple[str, int], tuple[str, int]],
    tlvs: list[tuple[int, bytes]],
    checksum: bool,
    after: bytes,
) -> None:
    source, destination = pair
    data = build_v2(source, destination, tlvs, checksum=checksum)
    found = header(data + after)
    assert found.size == len(data)
    assert found.source == ip(*source) and found.destination == ip(*destination)
    assert [(t.kind, t.value) for t in found.tlvs[: len(tlvs)]] == tlvs
    assert found.crc_checked == checksum


@given(pairs, tlv_lists, st.sampled_from(["v1", "v2"]), st.data())
def test_a_header_split_anywhere_needs_more_until_it_is_whole(
    pair: tuple[tuple[str, int], tuple[str, int]],
    tlvs: list[tuple[int, bytes]],
    version: str,
    data: st.DataObject,
) -> None:
    source, destination = pair
    built = (
        build_v1(source, destination) if version == "v1" else build_v2(source, destination, tlvs)
    )
    cut = data.draw(st.integers(0, len(built) - 1))
    result = parse(built[:cut])
    assert isinstance(result, NeedMore), (cut, result)
    assert cut < result.at_least <= len(built), "never asks past the header"
    assert parse(built + b"more") == parse(built)


@settings(max_examples=500)
@given(st.binary(max_size=300))
def test_garbage_never_raises(data: bytes) -> None:
    result = parse(data)
    assert isinstance(result, ProxyHeader | NeedMore | NotProxy | Malformed)
    if isinstance(result, ProxyHeader):
        assert 0 < result.size <= len(data)


@settings(max_examples=500)
@given(st.binary(max_size=200), st.sampled_from([b"PROXY ", V2_SIGNATURE + b"\x21"]))
def test_garbage_after_a_valid_start_never_raises(data: bytes, start: bytes) -> None:
    result = parse(start + data)
    assert isinstance(result, ProxyHeader | NeedMore | NotProxy | Malformed)
    if isinstance(result, NeedMore):
        assert result.at_least <= 16 + DEFAULT_MAX_V2_LENGTH


@given(st.binary(min_size=1, max_size=40))
def test_a_mangled_v2_header_never_raises(noise: bytes) -> None:
    built = bytearray(build_v2(("10.0.0.1", 1), ("10.0.0.2", 2), [(TlvType.SSL, bytes(5))]))
    for at, byte in enumerate(noise):
        built[(at * 7 + byte) % len(built)] = byte
    parse(bytes(built))
