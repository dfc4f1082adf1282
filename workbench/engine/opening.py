"""Opening listeners and connections, one function per transport.

Each returns what the engine keeps (an asyncio.Server or a DatagramSocket), the local
addresses, and notes in plain words about options that took effect.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from workbench.endpoints import Endpoint, format_sockname
from workbench.engine.datagram import DatagramOwner, DatagramSocket
from workbench.engine.sockets import (
    dual_stack_note,
    is_unspecified_ipv6,
    tcp_dual_stack_listener,
    udp_socket,
)
from workbench.engine.stream import StreamConnection
from workbench.engine.unix import bound_identity, dgram_client_socket, prepare_listen_path

LISTEN_BACKLOG = 4096

StreamFactory = Callable[[], StreamConnection]


@dataclass
class OpenedListener:
    server: asyncio.Server | None = None
    datagram: DatagramSocket | None = None
    local: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    unix_identity: tuple[int, int] | None = None


async def open_listener(
    endpoint: Endpoint, lid: str, stream_factory: StreamFactory, owner: DatagramOwner
) -> OpenedListener:
    loop = asyncio.get_running_loop()
    match endpoint.transport:
        case "tcp":
            return await open_tcp_listener(loop, endpoint, stream_factory)
        case "unix":
            prepare_listen_path(endpoint.path, "stream")
            server = await loop.create_unix_server(
                stream_factory, endpoint.path, backlog=LISTEN_BACKLOG
            )
            return OpenedListener(
                server=server,
                local=(endpoint.address,),
                unix_identity=bound_identity(endpoint.path),
            )
        case "udp":
            info = await resolve(loop, endpoint)
            sock, notes = udp_socket(endpoint, info, listen=True)
            return await open_datagram(loop, sock, notes, lambda: DatagramSocket(owner, "udp", lid))
        case "unix-dgram":
            prepare_listen_path(endpoint.path, "dgram")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                sock.bind(endpoint.path)
                sock.setblocking(False)
            except OSError:
                sock.close()
                raise
            opened = await open_datagram(
                loop, sock, [], lambda: DatagramSocket(owner, "unix-dgram", lid)
            )
            opened.local = (endpoint.address,)
            opened.unix_identity = bound_identity(endpoint.path)
            return opened
    raise ValueError(f"unknown transport {endpoint.transport}")


async def open_tcp_listener(
    loop: asyncio.AbstractEventLoop, endpoint: Endpoint, stream_factory: StreamFactory
) -> OpenedListener:
    notes = []
    if is_unspecified_ipv6(endpoint.host):
        # asyncio would make [::] IPv6-only; users listening on "all" expect IPv4 too.
        sock = tcp_dual_stack_listener(endpoint.port, LISTEN_BACKLOG)
        notes.append(dual_stack_note(sock) or "")
        server = await loop.create_server(stream_factory, sock=sock, backlog=LISTEN_BACKLOG)
    else:
        server = await loop.create_server(
            stream_factory,
            endpoint.host,
            endpoint.port,
            backlog=LISTEN_BACKLOG,
            reuse_address=True,
        )
    local = tuple(format_sockname(s.getsockname()) for s in server.sockets)
    return OpenedListener(server=server, local=local, notes=[n for n in notes if n])


async def open_datagram(
    loop: asyncio.AbstractEventLoop,
    sock: socket.socket,
    notes: list[str],
    factory: Callable[[], DatagramSocket],
) -> OpenedListener:
    try:
        transport, protocol = await loop.create_datagram_endpoint(factory, sock=sock)
    except BaseException:
        sock.close()
        raise
    raw = transport.get_extra_info("socket")
    protocol.direct_sender = socket.socket(
        raw.family, socket.SOCK_DGRAM, fileno=os.dup(raw.fileno())
    )
    protocol.direct_sender.setblocking(False)
    return OpenedListener(datagram=protocol, local=(protocol.local,), notes=notes)


async def open_connection(
    endpoint: Endpoint, cid: str, stream_factory: StreamFactory, owner: DatagramOwner
) -> list[str]:
    """Connect; the protocol reports the open connection itself. Returns notes."""
    loop = asyncio.get_running_loop()
    match endpoint.transport:
        case "tcp":
            await loop.create_connection(stream_factory, endpoint.host, endpoint.port)
            return []
        case "unix":
            # Connected here, not by create_unix_connection: uvloop's refuses abstract names.
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.setblocking(False)
                await loop.sock_connect(sock, endpoint.path)
                await loop.create_unix_connection(stream_factory, sock=sock)
            except BaseException:
                sock.close()
                raise
            return []
        case "udp":
            info = await resolve(loop, endpoint)
            sock, notes = udp_socket(endpoint, info, listen=False)
            await open_datagram(loop, sock, notes, lambda: DatagramSocket(owner, "udp", None, cid))
            return notes
        case "unix-dgram":
            sock = dgram_client_socket(endpoint.path)
            await open_datagram(
                loop, sock, [], lambda: DatagramSocket(owner, "unix-dgram", None, cid)
            )
            return []
    raise ValueError(f"unknown transport {endpoint.transport}")


async def resolve(
    loop: asyncio.AbstractEventLoop, endpoint: Endpoint
) -> tuple[int, int, int, str, tuple[object, ...]]:
    """The first address of a UDP endpoint (a datagram socket has one family)."""
    infos = await loop.getaddrinfo(endpoint.host, endpoint.port, type=socket.SOCK_DGRAM)
    return infos[0]  # type: ignore[return-value]
