"""The blocks of a pcapng file (the format Wireshark and tshark read), written as they come.

Pure and streaming: a Section Header Block, Interface Description Blocks, and Enhanced
Packet Blocks whose packet is handed over in parts (headers, then the payload as it is) so a
big payload is never copied to make a block. Little-endian, microsecond timestamps.
See https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html for the layout.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

SECTION_HEADER = 0x0A0D0D0A
INTERFACE_DESCRIPTION = 0x00000001
ENHANCED_PACKET = 0x00000006
BYTE_ORDER_MAGIC = 0x1A2B3C4D

# Link types: the packet starts with its IP header (no link layer).
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229

OPT_END = 0
OPT_COMMENT = 1
SHB_USERAPPL = 4
IF_NAME = 2
IF_DESCRIPTION = 3
IF_TSRESOL = 9
MICROSECONDS = 6  # if_tsresol: 10^-6 s, pcapng's default, said outright

MAX_PACKET = 0xFFFF + 40  # an IP packet's longest (IPv6: 40 bytes of header outside its length)
EPB_HEAD = struct.Struct("<IIIIIII")  # type, length, interface, ts high, ts low, captured, size


def pad(size: int) -> bytes:
    return b"\0" * (-size % 4)


def option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + pad(len(value))


def options(*items: tuple[int, bytes]) -> bytes:
    """Options in a block, with their end marker (nothing at all when there are none)."""
    if not items:
        return b""
    return b"".join(option(code, value) for code, value in items) + option(OPT_END, b"")


def block(kind: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


def section_header(application: str) -> bytes:
    body = struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1)  # version 1.0, length unknown
    return block(SECTION_HEADER, body + options((SHB_USERAPPL, application.encode())))


def interface_description(linktype: int, name: str, description: str) -> bytes:
    body = struct.pack("<HHI", linktype, 0, 0)  # snaplen 0: no limit
    found = options(
        (IF_NAME, name.encode()),
        (IF_DESCRIPTION, description.encode()),
        (IF_TSRESOL, bytes([MICROSECONDS])),
    )
    return block(INTERFACE_DESCRIPTION, body + found)


class PcapngWriter:
    """Writes a section's blocks to `file` (binary, any position: it writes from there)."""

    def __init__(self, file: BinaryIO, application: str) -> None:
        self.file = file
        self.interfaces = 0
        self.packets = 0
        file.write(section_header(application))

    def add_interface(self, linktype: int, name: str, description: str) -> int:
        """Describe an interface; returns its id for `write_packet`."""
        self.file.write(interface_description(linktype, name, description))
        self.interfaces += 1
        return self.interfaces - 1

    def write_packet(
        self,
        interface: int,
        microseconds: int,
        headers: bytes,
        payload: bytes | memoryview = b"",
        comment: str | None = None,
    ) -> None:
        """One Enhanced Packet Block: the packet is `headers` then `payload`, captured whole."""
        size = len(headers) + len(payload)
        if size > MAX_PACKET:
            raise ValueError(f"a packet of {size:,} bytes is longer than IP allows")
        tail = pad(size) + (options((OPT_COMMENT, comment.encode())) if comment else b"")
        length = EPB_HEAD.size + size + len(tail) + 4
        stamp = max(0, microseconds)
        head = EPB_HEAD.pack(
            ENHANCED_PACKET, length, interface, stamp >> 32, stamp & 0xFFFFFFFF, size, size
        )
        self.file.write(head + headers)
        if payload:
            self.file.write(payload)
        self.file.write(tail + struct.pack("<I", length))
        self.packets += 1
