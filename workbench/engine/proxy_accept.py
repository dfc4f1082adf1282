"""Reading the PROXY protocol header a `proxy=1` listener's clients send first (v1 or v2),
from the accepted socket itself, before the connection is made and announced: so the
connection is shown with the client the header names from its first event, and the data
path after it is the same as any connection's (no check per read).

The header is looked at with MSG_PEEK and only its own bytes are taken from the socket:
whatever came with it (the request that followed in the same segment) stays in the
kernel's buffer for the connection to read. Bytes of an incomplete header are taken as
they come (all of them are the header's), so a slow sender does not keep the socket
readable and the loop spinning.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from workbench.framing.proxy_header import (
    V1_MAX_BYTES,
    V2_FIXED_BYTES,
    Command,
    Endpoint,
    IpEndpoint,
    Malformed,
    NeedMore,
    NotProxy,
    ProxyHeader,
    Tlv,
    TlvType,
    parse,
)
from workbench.protocol.addresses import PROXIED_VIA, PROXY_SAID

# How long a client has to send its whole header (the protocol asks for at least 3 s, to
# cover a TCP retransmission).
HEADER_SECONDS = 5.0
# The most a v2 header's address block and TLVs may take here.
MAX_V2_LENGTH = 4096
PEEK_BYTES = max(V1_MAX_BYTES, V2_FIXED_BYTES + MAX_V2_LENGTH)
# A TLV's value shown in the Log at most this long.
SHOWN_TLV_BYTES = 64


class NoProxyHeader(Exception):
    """The client sent no valid PROXY header; `str()` says why, in words."""


async def read_proxy_header(sock: socket.socket, timeout: float | None = None) -> ProxyHeader:
    """The header at the start of non-blocking `sock`, taken from it (and nothing after it),
    within `timeout` (HEADER_SECONDS); NoProxyHeader in words otherwise."""
    timeout = HEADER_SECONDS if timeout is None else timeout
    try:
        async with asyncio.timeout(timeout):
            return await _read(sock)
    except TimeoutError:
        raise NoProxyHeader(f"no PROXY header: none came within {timeout:g} s") from None


async def _read(sock: socket.socket) -> ProxyHeader:
    taken = b""  # the start of a header that needed more bytes
    while True:
        await _readable(sock)
        try:
            peeked = sock.recv(PEEK_BYTES - len(taken), socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            continue
        except OSError as exc:
            raise NoProxyHeader(f"no PROXY header: {exc.strerror or exc}") from None
        if not peeked:
            what = "part of a PROXY header" if taken else "no PROXY header"
            raise NoProxyHeader(f"{what}: the client closed before sending it whole")
        result = parse(taken + peeked, MAX_V2_LENGTH)
        match result:
            case ProxyHeader():
                _take(sock, result.size - len(taken))
                return result
            case NeedMore():
                taken += _take(sock, len(peeked))
            case NotProxy(reason):
                raise NoProxyHeader(f"no PROXY header: {reason}")
            case Malformed(reason):
                raise NoProxyHeader(f"bad PROXY header: {reason}")


def _take(sock: socket.socket, size: int) -> bytes:
    """`size` bytes already in `sock`'s receive buffer (they were peeked)."""
    taken = b""
    while len(taken) < size:
        chunk = sock.recv(size - len(taken))
        if not chunk:
            raise NoProxyHeader("part of a PROXY header: the client closed before sending it whole")
        taken += chunk
    return taken


async def _readable(sock: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    fd = sock.fileno()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        with contextlib.suppress(ValueError, OSError):
            loop.remove_reader(fd)


# --- how the Log shows it ---


def proxied_remote(header: ProxyHeader, real: str) -> str:
    """The connection's remote as shown: the client the header names, via the real peer
    (a LOCAL or UNKNOWN header names none: the real peer, and what it said)."""
    if header.names_client and isinstance(header.source, IpEndpoint):
        return f"{header.source}{PROXIED_VIA}{real}"
    if header.names_client and header.source is not None:
        return f"{_endpoint_text(header.source)}{PROXIED_VIA}{real}"
    said = "LOCAL" if header.command is Command.LOCAL else header.family.value
    return f"{real}{PROXY_SAID}{said})"


def describe_header(header: ProxyHeader) -> str:
    """The header in one Log line: version, command, family, addresses, TLVs (their values
    as the peer sent them: the Log shows them through the sanitizer, like all it shows)."""
    words = [f"PROXY v{header.version} header ({header.size} bytes): {header.command}"]
    words.append(header.family.value)
    if header.source is not None and header.destination is not None:
        words.append(f"{_endpoint_text(header.source)} → {_endpoint_text(header.destination)}")
    if header.tlvs:
        words.append("TLVs " + ", ".join(_tlv_text(tlv, header) for tlv in header.tlvs))
    return " ".join(words)


def _endpoint_text(endpoint: Endpoint) -> str:
    if isinstance(endpoint, IpEndpoint):
        return str(endpoint)
    return "unix:" + endpoint.path.decode("utf-8", "replace")


def _tlv_text(tlv: Tlv, header: ProxyHeader) -> str:
    if tlv.kind == TlvType.CRC32C:
        return "CRC32C ok" if header.crc_checked else "CRC32C"
    if tlv.kind == TlvType.NOOP:
        return f"NOOP ({len(tlv.value)} bytes)"
    if tlv.kind == TlvType.SSL:
        ssl = header.ssl
        flags = "+".join(ssl.flags) if ssl and ssl.flags else "none"
        verified = "verified" if ssl is not None and ssl.verify == 0 else "not verified"
        inner = "".join(f", {_tlv_text(sub, header)}" for sub in tlv.subtlvs)
        return f"SSL ({flags}, {verified}{inner})"
    if tlv.kind == TlvType.UNIQUE_ID:  # opaque bytes
        return f"UNIQUE_ID {tlv.value[:SHOWN_TLV_BYTES].hex()}"
    shown = tlv.value[:SHOWN_TLV_BYTES].decode("utf-8", "replace")
    more = "…" if len(tlv.value) > SHOWN_TLV_BYTES else ""
    return f"{tlv.name} {shown}{more}"
