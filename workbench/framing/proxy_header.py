"""The PROXY protocol header (HAProxy's proxy-protocol.txt), version 1 (one text line) and
version 2 (binary, with TLVs): what a proxy sends first on a connection to name the client
it relays. `parse` reads one from the first bytes of a stream, `build_v1` and `build_v2`
make one to send.

Pure and bounded: `parse` never raises on what a peer sends, it says whether it needs more
bytes (never more than `V1_MAX_BYTES` for a text line, `16 + max_length` for a binary
header), that the bytes are not a PROXY header at all, that the header is malformed (in
words), or what the header says and how many bytes it took.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

V1_PREFIX = b"PROXY "
# The longest line a receiver must take, CRLF included ("PROXY UNKNOWN" with two full IPv6
# addresses and ports): a line not ended within it is malformed.
V1_MAX_BYTES = 107
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V2_FIXED_BYTES = 16  # the signature, version and command, family and protocol, length
# What a binary header's address block and TLVs may take at most unless the caller says: a
# header is meant to fit in one segment (536 bytes); this leaves room for TLS details.
DEFAULT_MAX_V2_LENGTH = 4096
MAX_UNIQUE_ID_BYTES = 128
UNIX_ADDRESS_BYTES = 108

V2_VERSION = 0x2
V2_HEADER = struct.Struct("!12sBBH")
TLV_HEAD = struct.Struct("!BH")
SSL_HEAD = struct.Struct("!BI")


class Command(StrEnum):
    PROXY = "PROXY"  # relayed on behalf of the client the header names
    LOCAL = "LOCAL"  # the proxy's own connection (a health check): the real peer is the peer


class Family(StrEnum):
    """The relayed connection's transport and address family, as the header names it."""

    TCP4 = "TCP4"
    TCP6 = "TCP6"
    UDP4 = "UDP4"
    UDP6 = "UDP6"
    UNIX_STREAM = "UNIX stream"
    UNIX_DGRAM = "UNIX dgram"
    UNKNOWN = "UNKNOWN"  # v1's UNKNOWN, v2's UNSPEC: no addresses to use


# v2's family and protocol byte -> the family, and its address block's size.
V2_FAMILIES: dict[int, tuple[Family, int]] = {
    0x11: (Family.TCP4, 12),
    0x12: (Family.UDP4, 12),
    0x21: (Family.TCP6, 36),
    0x22: (Family.UDP6, 36),
    0x31: (Family.UNIX_STREAM, 2 * UNIX_ADDRESS_BYTES),
    0x32: (Family.UNIX_DGRAM, 2 * UNIX_ADDRESS_BYTES),
}
V2_UNSPEC = 0x00


class TlvType:
    """The registered TLV types (PP2_TYPE_* and the SSL TLV's PP2_SUBTYPE_SSL_*)."""

    ALPN = 0x01
    AUTHORITY = 0x02
    CRC32C = 0x03
    NOOP = 0x04
    UNIQUE_ID = 0x05
    SSL = 0x20
    SSL_VERSION = 0x21
    SSL_CN = 0x22
    SSL_CIPHER = 0x23
    SSL_SIG_ALG = 0x24
    SSL_KEY_ALG = 0x25
    NETNS = 0x30


TLV_NAMES = {value: name for name, value in vars(TlvType).items() if not name.startswith("_")}
# The SSL TLV's `client` bits.
SSL_CLIENT_FLAGS = ((0x01, "SSL"), (0x02, "CERT_CONN"), (0x04, "CERT_SESS"))


def tlv_name(kind: int) -> str:
    """A TLV type's name: a registered one's, or the range it is reserved in."""
    if kind in TLV_NAMES:
        return TLV_NAMES[kind]
    if 0xE0 <= kind <= 0xEF:
        return f"custom 0x{kind:02X}"
    if 0xF0 <= kind <= 0xF7:
        return f"experimental 0x{kind:02X}"
    if kind >= 0xF8:
        return f"future 0x{kind:02X}"
    return f"unassigned 0x{kind:02X}"


@dataclass(frozen=True, slots=True)
class Tlv:
    kind: int
    value: bytes
    # The SSL TLV's sub-TLVs (SSL_VERSION, SSL_CN...); empty for the others.
    subtlvs: tuple[Tlv, ...] = ()

    @property
    def name(self) -> str:
        return tlv_name(self.kind)


@dataclass(frozen=True, slots=True)
class SslInfo:
    """What an SSL TLV says of the client's side: which of SSL, CERT_CONN, CERT_SESS are
    set, and whether its certificate was verified (`verify` 0)."""

    client: int
    verify: int

    @property
    def flags(self) -> tuple[str, ...]:
        return tuple(name for bit, name in SSL_CLIENT_FLAGS if self.client & bit)


@dataclass(frozen=True, slots=True)
class IpEndpoint:
    address: ipaddress.IPv4Address | ipaddress.IPv6Address
    port: int

    def __str__(self) -> str:
        if self.address.version == 6:
            return f"[{self.address}]:{self.port}"
        return f"{self.address}:{self.port}"


@dataclass(frozen=True, slots=True)
class UnixEndpoint:
    # As the header has it, NUL padding removed (an abstract name starts with NUL): peer
    # bytes, to be shown through the sanitizer.
    path: bytes


Endpoint = IpEndpoint | UnixEndpoint


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    version: int  # 1 or 2
    command: Command
    family: Family
    source: Endpoint | None  # None: LOCAL, UNKNOWN/UNSPEC (use the real peer)
    destination: Endpoint | None
    size: int  # the bytes the header took: what follows is the relayed stream
    tlvs: tuple[Tlv, ...] = ()
    crc_checked: bool = False  # it had a CRC32C TLV, and the checksum matched

    def tlv(self, kind: int) -> Tlv | None:
        return next((each for each in self.tlvs if each.kind == kind), None)

    @property
    def ssl(self) -> SslInfo | None:
        found = self.tlv(TlvType.SSL)
        if found is None:
            return None
        client, verify = SSL_HEAD.unpack_from(found.value)
        return SslInfo(client, verify)

    @property
    def names_client(self) -> bool:
        """Whether the header names a client to use in place of the real peer."""
        return self.command is Command.PROXY and self.source is not None


class NeedMore(NamedTuple):
    """Not enough bytes to tell yet: wait for at least `at_least` in all."""

    at_least: int


class NotProxy(NamedTuple):
    """The bytes do not start a PROXY header (neither `PROXY ` nor the v2 signature). The
    reason quotes the peer's first bytes as they are: show it through the sanitizer."""

    reason: str


class Malformed(NamedTuple):
    """A PROXY header that breaks the protocol: what is wrong, in words."""

    reason: str


ParseResult = ProxyHeader | NeedMore | NotProxy | Malformed


def parse(data: bytes, max_length: int = DEFAULT_MAX_V2_LENGTH) -> ParseResult:
    """The PROXY header at the start of `data`, v1 or v2 (told apart by their first bytes).
    `max_length`: the most a v2 header's length field may announce. Never raises."""
    data = bytes(data[: max(V1_MAX_BYTES, V2_FIXED_BYTES + max_length)])
    if data[:12] == V2_SIGNATURE[: len(data[:12])]:
        if len(data) < V2_FIXED_BYTES:
            return NeedMore(V2_FIXED_BYTES)
        return _parse_v2(data, max_length)
    if data[:6] == V1_PREFIX[: len(data[:6])]:
        if len(data) < len(V1_PREFIX):
            return NeedMore(len(V1_PREFIX))
        return _parse_v1(data)
    return NotProxy(f"it starts with {quoted(data[:16])}, not 'PROXY ' nor the v2 signature")


def quoted(data: bytes) -> str:
    """Peer bytes quoted in words, as they are (invalid UTF-8 replaced): the words are
    shown through the sanitizer, like anything a peer sent."""
    return "'" + data.decode("utf-8", "replace") + "'"


# --- version 1 ---

V1_FAMILIES = {b"TCP4": Family.TCP4, b"TCP6": Family.TCP6}
IPV6_CHARACTERS = frozenset(b"0123456789abcdefABCDEF:")


def _parse_v1(data: bytes) -> ParseResult:
    window = data[:V1_MAX_BYTES]
    for at, byte in enumerate(window):
        if byte == 0x0D:  # CR: LF must follow
            if at + 1 == len(window):
                break
            if window[at + 1] != 0x0A:
                return Malformed("v1 line: a CR not followed by LF")
            return _parse_v1_line(window[:at], at + 2)
        if byte == 0x0A:
            return Malformed("v1 line: ended by LF alone (CRLF is required)")
        if not 0x20 <= byte < 0x7F:
            return Malformed(f"v1 line: byte 0x{byte:02x} at {at} is not printable US-ASCII")
    if len(window) >= V1_MAX_BYTES:
        return Malformed(f"v1 line: no CRLF within the first {V1_MAX_BYTES} bytes")
    return NeedMore(len(window) + 1)


def _parse_v1_line(line: bytes, size: int) -> ParseResult:
    words = line.split(b" ")
    if len(words) < 2:
        return Malformed("v1 line: no protocol after PROXY")
    if words[1] == b"UNKNOWN":  # the rest of the line is to be ignored
        return ProxyHeader(1, Command.PROXY, Family.UNKNOWN, None, None, size)
    family = V1_FAMILIES.get(words[1])
    if family is None:
        return Malformed(f"v1 line: unknown protocol {quoted(words[1])} (TCP4, TCP6 or UNKNOWN)")
    if len(words) != 6:
        return Malformed(
            f"v1 line: {len(words)} fields, not 6 (PROXY {family} SRC DST SRCPORT DSTPORT, "
            "single spaces)"
        )
    try:
        source = _v1_address(words[2], family)
        destination = _v1_address(words[3], family)
        source_port = _v1_port(words[4])
        destination_port = _v1_port(words[5])
    except ValueError as exc:
        return Malformed(f"v1 line: {exc}")
    return ProxyHeader(
        1,
        Command.PROXY,
        family,
        IpEndpoint(source, source_port),
        IpEndpoint(destination, destination_port),
        size,
    )


def _v1_address(word: bytes, family: Family) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    text = word.decode("ascii")
    if family is Family.TCP6:
        # Groups of hex digits and colons only: no embedded IPv4, no zone.
        if not word or not set(word) <= IPV6_CHARACTERS:
            raise ValueError(f"'{text}' is not an IPv6 address")
        try:
            return ipaddress.IPv6Address(text)
        except ValueError:
            raise ValueError(f"'{text}' is not an IPv6 address") from None
    try:
        # (It refuses leading zeros, as the protocol does: they could be read as octal.)
        return ipaddress.IPv4Address(text)
    except ValueError:
        raise ValueError(f"'{text}' is not an IPv4 address") from None


def _v1_port(word: bytes) -> int:
    text = word.decode("ascii")
    if not word.isdigit() or (len(word) > 1 and word[:1] == b"0") or int(word) > 65535:
        raise ValueError(f"'{text}' is not a port (0 to 65535, no leading zeros)")
    return int(word)


# --- version 2 ---


def _parse_v2(data: bytes, max_length: int) -> ParseResult:
    _, version_command, family_byte, length = V2_HEADER.unpack_from(data)
    version, command_bits = version_command >> 4, version_command & 0x0F
    if version != V2_VERSION:
        return Malformed(f"v2 header: version {version}, not 2")
    if command_bits > 1:
        return Malformed(f"v2 header: command 0x{command_bits:x} (0 LOCAL or 1 PROXY)")
    command = Command.LOCAL if command_bits == 0 else Command.PROXY
    if family_byte == V2_UNSPEC:
        family, address_size = Family.UNKNOWN, 0
    elif family_byte in V2_FAMILIES:
        family, address_size = V2_FAMILIES[family_byte]
    else:
        return Malformed(
            f"v2 header: family and protocol 0x{family_byte:02x} (0x00, 0x11, 0x12, 0x21, "
            "0x22, 0x31 or 0x32)"
        )
    if length > max_length:
        return Malformed(f"v2 header: it announces {length:,} bytes, more than {max_length:,}")
    size = V2_FIXED_BYTES + length
    if len(data) < size:
        return NeedMore(size)
    header = bytes(data[:size])
    if length < address_size:
        return Malformed(
            f"v2 header: {length} bytes for {family}'s addresses, which take {address_size}"
        )
    source, destination = _v2_addresses(header[V2_FIXED_BYTES:], family)
    tlvs = _tlvs(header, V2_FIXED_BYTES + address_size, size)
    if isinstance(tlvs, Malformed):
        return tlvs
    checked = _check_tlvs(header, V2_FIXED_BYTES + address_size, tlvs)
    if isinstance(checked, Malformed):
        return checked
    if command is Command.LOCAL:  # its addresses are to be ignored
        source = destination = None
    return ProxyHeader(2, command, family, source, destination, size, tlvs, checked)


def _v2_addresses(block: bytes, family: Family) -> tuple[Endpoint | None, Endpoint | None]:
    if family in (Family.TCP4, Family.UDP4):
        source4, destination4, source_port, destination_port = struct.unpack_from("!4s4sHH", block)
        return (
            IpEndpoint(ipaddress.IPv4Address(source4), source_port),
            IpEndpoint(ipaddress.IPv4Address(destination4), destination_port),
        )
    if family in (Family.TCP6, Family.UDP6):
        source6, destination6, source_port, destination_port = struct.unpack_from(
            "!16s16sHH", block
        )
        return (
            IpEndpoint(ipaddress.IPv6Address(source6), source_port),
            IpEndpoint(ipaddress.IPv6Address(destination6), destination_port),
        )
    if family in (Family.UNIX_STREAM, Family.UNIX_DGRAM):
        return (
            UnixEndpoint(block[:UNIX_ADDRESS_BYTES].rstrip(b"\0")),
            UnixEndpoint(block[UNIX_ADDRESS_BYTES : 2 * UNIX_ADDRESS_BYTES].rstrip(b"\0")),
        )
    return None, None


def _tlvs(data: bytes, start: int, end: int, where: str = "") -> tuple[Tlv, ...] | Malformed:
    found: list[Tlv] = []
    at = start
    while at < end:
        if end - at < TLV_HEAD.size:
            return Malformed(f"v2 header: {end - at} stray byte(s) after the TLVs{where}")
        kind, length = TLV_HEAD.unpack_from(data, at)
        value_at = at + TLV_HEAD.size
        if value_at + length > end:
            return Malformed(
                f"v2 header: TLV {tlv_name(kind)} of {length} bytes runs past the end{where}"
            )
        value = data[value_at : value_at + length]
        subtlvs: tuple[Tlv, ...] = ()
        if kind == TlvType.SSL and not where:
            if length < SSL_HEAD.size:
                return Malformed(f"v2 header: SSL TLV of {length} bytes (at least 5)")
            inner = _tlvs(data, value_at + SSL_HEAD.size, value_at + length, " of the SSL TLV")
            if isinstance(inner, Malformed):
                return inner
            subtlvs = inner
        found.append(Tlv(kind, value, subtlvs))
        at = value_at + length
    return tuple(found)


def _check_tlvs(header: bytes, at: int, tlvs: tuple[Tlv, ...]) -> bool | Malformed:
    """Whether a CRC32C TLV was checked (Malformed if it does not match); the TLVs start
    at `at`."""
    checked = False
    for tlv in tlvs:
        value_at = at + TLV_HEAD.size
        if tlv.kind == TlvType.CRC32C:
            if len(tlv.value) != 4:
                return Malformed(f"v2 header: CRC32C TLV of {len(tlv.value)} bytes, not 4")
            zeroed = header[:value_at] + b"\0\0\0\0" + header[value_at + 4 :]
            said, computed = int.from_bytes(tlv.value, "big"), crc32c(zeroed)
            if said != computed:
                return Malformed(
                    f"v2 header: CRC32C checksum 0x{said:08x} does not match the header's, "
                    f"0x{computed:08x}"
                )
            checked = True
        elif tlv.kind == TlvType.UNIQUE_ID and len(tlv.value) > MAX_UNIQUE_ID_BYTES:
            return Malformed(
                f"v2 header: UNIQUE_ID of {len(tlv.value)} bytes (at most {MAX_UNIQUE_ID_BYTES})"
            )
        at = value_at + len(tlv.value)
    return checked


# --- building ---

Address = tuple[str, int]  # (host, port) as sockets give them; a v6 one's scope is dropped


def build_v1(source: Address | None, destination: Address | None) -> bytes:
    """A v1 line for TCP from `source` to `destination`; `PROXY UNKNOWN` without them.
    ValueError for an address that is not an IP address (or a port out of range)."""
    if source is None or destination is None:
        return b"PROXY UNKNOWN\r\n"
    src, dst = _ip_pair(source, destination)
    family = "TCP6" if src.address.version == 6 else "TCP4"
    line = f"PROXY {family} {_v1_text(src)} {_v1_text(dst)} {src.port} {dst.port}\r\n"
    return line.encode("ascii")


def _v1_text(endpoint: IpEndpoint) -> str:
    """The address as a v1 line writes it: IPv6 compressed (::1), in hex groups only (an
    IPv4-mapped one without its dotted tail, which newer Pythons write)."""
    address = endpoint.address
    if address.version == 6 and "." in str(address):
        return address.exploded
    return str(address)


def build_v2(
    source: Address | None,
    destination: Address | None,
    tlvs: tuple[tuple[int, bytes], ...] | list[tuple[int, bytes]] = (),
    checksum: bool = False,
) -> bytes:
    """A v2 header for TCP from `source` to `destination` (a LOCAL one, family UNSPEC,
    without them), with `tlvs` (type, value) after the addresses and, with `checksum`, a
    CRC32C TLV last. ValueError for a bad address, TLV or a header too long."""
    if source is None or destination is None:
        command, family_byte, block = 0x20, V2_UNSPEC, b""
    else:
        src, dst = _ip_pair(source, destination)
        command = 0x21
        family_byte = 0x21 if src.address.version == 6 else 0x11
        block = src.address.packed + dst.address.packed + struct.pack("!HH", src.port, dst.port)
    for kind, value in tlvs:
        if not 0 <= kind <= 0xFF or len(value) > 0xFFFF:
            raise ValueError(f"TLV type {kind} of {len(value)} bytes cannot be encoded")
        block += TLV_HEAD.pack(kind, len(value)) + bytes(value)
    if checksum:
        block += TLV_HEAD.pack(TlvType.CRC32C, 4) + b"\0\0\0\0"
    if len(block) > 0xFFFF:
        raise ValueError(f"a v2 header of {len(block):,} bytes after its first 16 is too long")
    header = V2_HEADER.pack(V2_SIGNATURE, command, family_byte, len(block)) + block
    if checksum:
        header = header[:-4] + crc32c(header).to_bytes(4, "big")
    return header


def _ip_pair(source: Address, destination: Address) -> tuple[IpEndpoint, IpEndpoint]:
    src, dst = _ip_endpoint(source), _ip_endpoint(destination)
    if src.address.version != dst.address.version:  # one side v4, one v6: both as v6
        src, dst = _as_v6(src), _as_v6(dst)
    return src, dst


def _ip_endpoint(address: Address) -> IpEndpoint:
    host, port = address[0], address[1]
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is out of range")
    return IpEndpoint(ipaddress.ip_address(host.split("%", 1)[0]), port)


def _as_v6(endpoint: IpEndpoint) -> IpEndpoint:
    if endpoint.address.version == 6:
        return endpoint
    return IpEndpoint(ipaddress.IPv6Address(f"::ffff:{endpoint.address}"), endpoint.port)


# --- CRC32C (Castagnoli, RFC 4960 appendix B): a header is small, a table is enough ---


def _crc32c_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


CRC32C_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF
