"""Opening listeners and connections, one function per transport.

Each returns what the engine keeps (an asyncio.Server or a DatagramSocket), the local
addresses, and notes in plain words about options that took effect.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from workbench.engine.acceptor import Acceptor, AcceptOwner, SpareDescriptor, bind_stream_sockets
from workbench.engine.datagram import DatagramOwner, DatagramSocket
from workbench.engine.datagram_transport import OwnDatagramTransport
from workbench.engine.offloop import run_blocking
from workbench.engine.proxy_send import connect_sending_header
from workbench.engine.sockets import (
    dual_stack_note,
    is_unspecified_ipv6,
    tcp_dual_stack_listener,
    udp_socket,
)
from workbench.engine.stream import StreamConnection
from workbench.engine.unix import bound_identity, dgram_client_socket, prepare_listen_path
from workbench.protocol.endpoints import Endpoint, format_sockname
from workbench.protocol.enums import Transport
from workbench.protocol.peer_filter import PeerFilter
from workbench.tls import HANDSHAKE_SECONDS

if TYPE_CHECKING:
    from workbench.tls.contexts import ClientTls

LISTEN_BACKLOG = 4096
UNIX_CONNECT_RETRY_SECONDS = 0.05
# A listener's connections at most, unless its URL says (?max=N): like ncat's --max-conns.
DEFAULT_MAX_CONNECTIONS = 100
ALL_INTERFACES_WARNING = (
    "listening on every interface: other machines can reach it, "
    "not only this one (use 127.0.0.1 for this machine only)"
)

StreamFactory = Callable[[], StreamConnection]


class ListenOwner(DatagramOwner, AcceptOwner, Protocol):
    """What a listener reports to (the engine)."""


@dataclass
class OpenedListener:
    acceptor: Acceptor | None = None
    datagram: DatagramSocket | None = None
    local: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # said louder than notes
    unix_identity: tuple[int, int] | None = None


def max_connections(endpoint: Endpoint) -> int:
    return endpoint.options.max_connections or DEFAULT_MAX_CONNECTIONS


def all_interfaces(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_unspecified
    except ValueError:
        return False


async def open_listener(
    endpoint: Endpoint,
    lid: str,
    stream_factory: StreamFactory,
    owner: ListenOwner,
    spare: SpareDescriptor,
    tls: asyncio.Future[ssl.SSLContext | None] | None = None,
) -> OpenedListener:
    loop = asyncio.get_running_loop()
    peers = PeerFilter.of(endpoint.options.allow, endpoint.options.deny)

    def acceptor(sockets: list[socket.socket]) -> Acceptor:
        maximum = max_connections(endpoint)
        return Acceptor(
            sockets,
            stream_factory,
            owner,
            lid,
            maximum,
            spare,
            peers,
            tls,
            proxy_header=endpoint.options.proxy_header,
        )

    match endpoint.transport:
        case Transport.TCP:
            return await open_tcp_listener(loop, endpoint, acceptor)
        case Transport.UNIX:
            # Stat, probe and unlink in a thread: a hung file system must not stop the loop.
            await run_blocking(prepare_listen_path, endpoint.path, "stream")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.bind(endpoint.path)
                sock.listen(LISTEN_BACKLOG)
                sock.setblocking(False)
            except OSError:
                sock.close()
                raise
            opened = OpenedListener(
                acceptor=acceptor([sock]),
                local=(endpoint.address,),
                unix_identity=bound_identity(endpoint.path),
            )
            opened.acceptor.start()  # type: ignore[union-attr]
            return opened
        case Transport.UDP:
            info = await resolve(loop, endpoint)
            sock, notes = udp_socket(endpoint, info, listen=True)
            udp = Transport.UDP
            opened = await open_datagram(
                loop, sock, notes, lambda: DatagramSocket(owner, udp, lid, peer_filter=peers)
            )
            opened.warnings = all_interfaces_warnings(endpoint)
            return opened
        case Transport.UNIX_DGRAM:
            await run_blocking(prepare_listen_path, endpoint.path, "dgram")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                sock.bind(endpoint.path)
                sock.setblocking(False)
            except OSError:
                sock.close()
                raise
            opened = await open_datagram(
                loop, sock, [], lambda: DatagramSocket(owner, Transport.UNIX_DGRAM, lid)
            )
            opened.local = (endpoint.address,)
            opened.unix_identity = bound_identity(endpoint.path)
            return opened
    raise ValueError(f"unknown transport {endpoint.transport}")


async def open_tcp_listener(
    loop: asyncio.AbstractEventLoop,
    endpoint: Endpoint,
    make_acceptor: Callable[[list[socket.socket]], Acceptor],
) -> OpenedListener:
    notes = []
    if is_unspecified_ipv6(endpoint.host):
        # asyncio would make [::] IPv6-only; users listening on "all" expect IPv4 too.
        sockets = [tcp_dual_stack_listener(endpoint.port, LISTEN_BACKLOG)]
        notes.append(dual_stack_note(sockets[0]) or "")
    else:
        infos = await loop.getaddrinfo(
            endpoint.host, endpoint.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        sockets = bind_stream_sockets(infos, LISTEN_BACKLOG)
    acceptor = make_acceptor(sockets)
    acceptor.start()
    local = tuple(format_sockname(s.getsockname()) for s in sockets)
    return OpenedListener(
        acceptor=acceptor,
        local=local,
        notes=[n for n in notes if n],
        warnings=all_interfaces_warnings(endpoint),
    )


def all_interfaces_warnings(endpoint: Endpoint) -> list[str]:
    return [ALL_INTERFACES_WARNING] if all_interfaces(endpoint.host) else []


async def open_datagram(
    loop: asyncio.AbstractEventLoop,
    sock: socket.socket,
    notes: list[str],
    factory: Callable[[], DatagramSocket],
) -> OpenedListener:
    protocol = factory()
    try:
        OwnDatagramTransport(loop, sock, protocol).start()
    except BaseException:
        sock.close()
        raise
    return OpenedListener(datagram=protocol, local=(protocol.local,), notes=notes)


async def open_connection(
    endpoint: Endpoint,
    cid: str,
    stream_factory: StreamFactory,
    owner: DatagramOwner,
    tls: ClientTls | None = None,
) -> list[str]:
    """Connect (and with `tls`, complete the TLS handshake); the protocol reports the open
    connection itself. Returns notes."""
    loop = asyncio.get_running_loop()
    handshake = tls_arguments(tls)
    if tls is not None:
        plain_factory = stream_factory

        def stream_factory() -> StreamConnection:
            conn = plain_factory()
            conn.tls_client, conn.tls_local = tls, tls.local
            return conn

    match endpoint.transport:
        case Transport.TCP if endpoint.options.send_proxy:
            sock, header = await connect_sending_header(
                endpoint.host, endpoint.port, endpoint.options.send_proxy
            )
            try:
                await loop.create_connection(
                    sent_first(stream_factory, header), sock=sock, **handshake
                )
            except BaseException:
                sock.close()
                raise
            return []
        case Transport.TCP:
            await loop.create_connection(stream_factory, endpoint.host, endpoint.port, **handshake)
            return []
        case Transport.UNIX:
            # Connected here, not by create_unix_connection: uvloop's refuses abstract names.
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.setblocking(False)
                await unix_connect(sock, endpoint.path)
                await loop.create_unix_connection(stream_factory, sock=sock, **handshake)
            except BaseException:
                sock.close()
                raise
            return []
        case Transport.UDP:
            info = await resolve(loop, endpoint)
            sock, notes = udp_socket(endpoint, info, listen=False)
            udp = Transport.UDP
            await open_datagram(loop, sock, notes, lambda: DatagramSocket(owner, udp, None, cid))
            return notes
        case Transport.UNIX_DGRAM:
            sock = await run_blocking(dgram_client_socket, endpoint.path)
            await open_datagram(
                loop, sock, [], lambda: DatagramSocket(owner, Transport.UNIX_DGRAM, None, cid)
            )
            return []
    raise ValueError(f"unknown transport {endpoint.transport}")


def sent_first(factory: StreamFactory, header: bytes) -> StreamFactory:
    """`factory`, its connections knowing the PROXY header sent before them (counted)."""

    def made() -> StreamConnection:
        conn = factory()
        conn.proxy_sent = header
        conn.bytes_out += len(header)
        return conn

    return made


def tls_arguments(tls: ClientTls | None) -> dict[str, Any]:
    """create_connection's arguments for a TLS handshake ("" as the name sends no SNI)."""
    if tls is None:
        return {}
    return {
        "ssl": tls.context,
        "server_hostname": tls.server_hostname,
        "ssl_handshake_timeout": HANDSHAKE_SECONDS,
    }


async def unix_connect(sock: socket.socket, path: str) -> None:
    """Connect a non-blocking Unix stream socket. When the listener's backlog is full, Linux
    answers EAGAIN and nothing tells when there is room (asyncio's sock_connect takes EAGAIN
    for "in progress" and hands over a socket that is not connected): try again until the
    caller's timeout."""
    while True:
        try:
            sock.connect(path)
            return
        except BlockingIOError:
            await asyncio.sleep(UNIX_CONNECT_RETRY_SECONDS)


async def resolve(
    loop: asyncio.AbstractEventLoop, endpoint: Endpoint
) -> tuple[int, int, int, str, tuple[object, ...]]:
    """The first address of a UDP endpoint (a datagram socket has one family)."""
    infos = await loop.getaddrinfo(endpoint.host, endpoint.port, type=socket.SOCK_DGRAM)
    return infos[0]
