"""Packets made up for a capture of what a transcript recorded: IPv4 or IPv6 headers, TCP with
a handshake, sequence and acknowledgement numbers that count the bytes each way, FIN and RST;
UDP, one datagram per record. Checksums are computed (Wireshark flags wrong ones).

Pure: addresses and bytes in, packets (headers and the payload, not copied) out. A Unix
socket has no IP address: its connection is given loopback ones (see `unix_endpoints`).
"""

from __future__ import annotations

import ipaddress
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

PROTO_TCP = 6
PROTO_UDP = 17
TTL = 64
IPV4_HEADER = 20
IPV6_HEADER = 40
TCP_HEADER = 20
UDP_HEADER = 8
# Segments as large as IPv4 carries (65,535 bytes with its 20-byte and TCP's 20-byte
# headers): Linux's own loopback MSS is about this.
MSS = 0xFFFF - IPV4_HEADER - TCP_HEADER
UDP_MAX = 0xFFFF - IPV4_HEADER - UDP_HEADER  # 65,507: longer datagrams are split
WINDOW_SCALE = 14  # a window of 1 GiB: no "window full" for data sent without an ACK
WINDOW = 0xFFFF

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

# A Unix connection: the side that connected, and the listening side.
UNIX_CLIENT_V4 = ipaddress.IPv4Address("127.0.0.2")
UNIX_SERVER_V4 = ipaddress.IPv4Address("127.0.0.3")
UNIX_CLIENT_PORTS = (40000, 20000)  # first, how many: 40000 + connection number % 20000
UNIX_SERVER_PORTS = (60000, 5000)  # 60000 + listener number % 5000 (0: outgoing)
CHECKSUM_PIECE = 4096  # bytes summed at a time (even): big ints are cheap to add, slow to divide


def checksum(*parts: bytes | memoryview) -> int:
    """The Internet checksum (RFC 1071) of the parts joined; every part but the last of even
    length. Computed on big integers: 2**16 is 1 modulo 0xFFFF, so a run of 16-bit words,
    read as one number, is its words' sum modulo 0xFFFF."""
    total = 0
    for part in parts:
        view = memoryview(part)
        for start in range(0, len(view), CHECKSUM_PIECE):
            piece = view[start : start + CHECKSUM_PIECE]
            value = int.from_bytes(piece, "big")
            total += value << 8 if len(piece) % 2 else value  # an odd end: padded with 0
    folded = total % 0xFFFF
    # Never all zero here (an address or a protocol is in every sum): a multiple of 0xFFFF
    # is 0xFFFF in one's complement, whose complement is 0.
    return 0xFFFF - folded if folded else 0


class Packet(NamedTuple):
    version: int  # 4 or 6
    headers: bytes  # IP and TCP or UDP
    payload: bytes | memoryview


@dataclass(frozen=True)
class Endpoints:
    """A connection's two sides as the capture shows them."""

    version: int
    local: tuple[IPAddress, int]
    remote: tuple[IPAddress, int]
    local_connected: bool  # the local side sent the SYN (an outgoing connection)
    note: str = ""  # how the addresses were made up, when they were


def parse_address(text: str) -> tuple[IPAddress, int] | None:
    """`127.0.0.1:9000`, `[::1]:9000` (a scope `%eth0` dropped), or None."""
    host, _, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        address = ipaddress.ip_address(host.partition("%")[0])
        number = int(port)
    except ValueError:
        return None
    return (address, number) if 0 <= number <= 0xFFFF else None


def as_ipv4(address: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address (a dual-stack socket's IPv4 peer) as IPv4; `::` as
    0.0.0.0 (a dual-stack listener's own address beside such a peer)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.is_unspecified:
            return ipaddress.IPv4Address(0)
    return address


def ip_endpoints(local: str, remote: str, local_connected: bool) -> Endpoints | None:
    """The endpoints of an IP connection from its `open` record, or None if its addresses
    are not two of one family."""
    ours, theirs = parse_address(local), parse_address(remote)
    if ours is None or theirs is None:
        return None
    if ours[0].version != theirs[0].version or is_mapped(ours[0]) or is_mapped(theirs[0]):
        ours = (as_ipv4(ours[0]), ours[1])
        theirs = (as_ipv4(theirs[0]), theirs[1])
        if ours[0].version != theirs[0].version:
            return None
    return Endpoints(ours[0].version, ours, theirs, local_connected)


def is_mapped(address: IPAddress) -> bool:
    return isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None


def number_in(name: str) -> int:
    """The number in an id (`C17` -> 17), 0 if none."""
    found = re.findall(r"\d+", name)
    return int(found[-1]) if found else 0


def unix_endpoints(cid: str, listener: str | None, why: str) -> Endpoints:
    """Loopback addresses for a connection that has none: the connecting side 127.0.0.2,
    port 40000 + its number; the listening side 127.0.0.3, port 60000 + its listener's."""
    client = (UNIX_CLIENT_V4, UNIX_CLIENT_PORTS[0] + number_in(cid) % UNIX_CLIENT_PORTS[1])
    server_number = number_in(listener) if listener else 0
    server = (UNIX_SERVER_V4, UNIX_SERVER_PORTS[0] + server_number % UNIX_SERVER_PORTS[1])
    local_connected = listener is None
    local, remote = (client, server) if local_connected else (server, client)
    note = (
        f"{why}: shown as {client[0]}:{client[1]} (the side that connected) and "
        f"{server[0]}:{server[1]} (the listening side)"
    )
    return Endpoints(4, local, remote, local_connected, note)


def ip_header(
    version: int, source: IPAddress, destination: IPAddress, protocol: int, size: int, ident: int
) -> bytes:
    """An IP header for `size` bytes of TCP or UDP (its header included)."""
    if version == 4:
        head = struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, IPV4_HEADER + size, ident & 0xFFFF, 0x4000, TTL,
            protocol, 0, source.packed, destination.packed,
        )  # fmt: skip
        return head[:10] + struct.pack("!H", checksum(head)) + head[12:]
    return struct.pack(
        "!IHBB16s16s", 6 << 28, size, protocol, TTL, source.packed, destination.packed
    )


def pseudo_header(source: IPAddress, destination: IPAddress, protocol: int, size: int) -> bytes:
    if source.version == 4:
        return source.packed + destination.packed + struct.pack("!BBH", 0, protocol, size)
    return source.packed + destination.packed + struct.pack("!IxxxB", size, protocol)


class Direction(NamedTuple):
    source: tuple[IPAddress, int]
    destination: tuple[IPAddress, int]


class Flow:
    """What the two sides of one connection have in common: addresses and IP ids."""

    def __init__(self, endpoints: Endpoints) -> None:
        self.endpoints = endpoints
        self.ident = 0
        self.ways = {
            True: Direction(endpoints.local, endpoints.remote),  # from the local side
            False: Direction(endpoints.remote, endpoints.local),
        }

    def ip(self, from_local: bool, protocol: int, size: int) -> bytes:
        way = self.ways[from_local]
        self.ident += 1
        return ip_header(
            self.endpoints.version, way.source[0], way.destination[0], protocol, size, self.ident
        )


class TcpFlow(Flow):
    """One TCP connection's packets, made as its events come: `open`, `data`, `eof`,
    `close`. Sequence numbers count each side's bytes from its initial one."""

    def __init__(self, endpoints: Endpoints, key: str) -> None:
        super().__init__(endpoints)
        base = zlib.crc32(key.encode())  # initial sequence numbers: any, but stable
        self.next_seq = {True: base, False: (base * 7 + 0x5BD1E995) & 0xFFFFFFFF}
        self.fin_sent = {True: False, False: False}
        self.ended = False

    def segment(
        self,
        from_local: bool,
        flags: int,
        payload: bytes | memoryview = b"",
        options: bytes = b"",
        window: int = WINDOW,
    ) -> Packet:
        way = self.ways[from_local]
        seq = self.next_seq[from_local]
        ack = self.next_seq[not from_local] if flags & ACK else 0
        offset = (TCP_HEADER + len(options)) // 4
        head = struct.pack(
            "!HHIIBBHHH", way.source[1], way.destination[1], seq, ack, offset << 4, flags,
            window, 0, 0,
        ) + options  # fmt: skip
        size = len(head) + len(payload)
        pseudo = pseudo_header(way.source[0], way.destination[0], PROTO_TCP, size)
        total = checksum(pseudo, head, payload)
        head = head[:16] + struct.pack("!H", total) + head[18:]
        used = len(payload) + (1 if flags & (SYN | FIN) else 0)
        self.next_seq[from_local] = (seq + used) & 0xFFFFFFFF
        return Packet(self.endpoints.version, self.ip(from_local, PROTO_TCP, size) + head, payload)

    def handshake(self) -> list[Packet]:
        client = self.endpoints.local_connected
        mss = MSS if self.endpoints.version == 4 else MSS - (IPV6_HEADER - IPV4_HEADER)
        options = struct.pack("!BBHBBBB", 2, 4, mss, 1, 3, 3, WINDOW_SCALE)
        return [
            self.segment(client, SYN, options=options),
            self.segment(not client, SYN | ACK, options=options),
            self.segment(client, ACK, window=WINDOW),
        ]

    def data(self, from_local: bool, payload: bytes) -> Iterator[Packet]:
        """Segments of at most one MSS carrying `payload`, then the other side's ACK."""
        if self.ended or not payload:
            return
        view = memoryview(payload)
        mss = MSS if self.endpoints.version == 4 else MSS - (IPV6_HEADER - IPV4_HEADER)
        for start in range(0, len(view), mss):
            yield self.segment(from_local, PSH | ACK, view[start : start + mss])
        yield self.segment(not from_local, ACK)

    def fin(self, from_local: bool) -> list[Packet]:
        """A FIN from one side and the other's ACK of it (once per side)."""
        if self.ended or self.fin_sent[from_local]:
            return []
        self.fin_sent[from_local] = True
        return [self.segment(from_local, FIN | ACK), self.segment(not from_local, ACK)]

    def close(self, reset: bool, local_first: bool) -> list[Packet]:
        """The end: a RST from the side that reset, or FINs (the closing side's first) for
        the directions that have not sent one."""
        if self.ended:
            return []
        if reset:
            self.ended = True
            return [self.segment(local_first, RST | ACK)]
        packets = self.fin(local_first) + self.fin(not local_first)
        self.ended = True
        return packets


class UdpFlow(Flow):
    """One datagram peer's packets: one UDP datagram per record (split only when longer
    than IP carries: a Unix datagram can be)."""

    def datagram(self, from_local: bool, payload: bytes) -> Iterator[Packet]:
        view = memoryview(payload)
        way = self.ways[from_local]
        for start in range(0, max(1, len(view)), UDP_MAX):
            piece = view[start : start + UDP_MAX]
            size = UDP_HEADER + len(piece)
            head = struct.pack("!HHHH", way.source[1], way.destination[1], size, 0)
            pseudo = pseudo_header(way.source[0], way.destination[0], PROTO_UDP, size)
            total = checksum(pseudo, head, piece) or 0xFFFF  # 0 would mean "none"
            head = head[:6] + struct.pack("!H", total)
            yield Packet(self.endpoints.version, self.ip(from_local, PROTO_UDP, size) + head, piece)
