"""Sockets that need options asyncio does not set: dual-stack IPv6 listeners, UDP with
broadcast, multicast and receive-buffer options, TCP receive buffers. Each returns the socket
and notes in plain words about what took effect, for the Log."""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import socket
import struct
import sys
from typing import Any

from workbench.protocol.endpoints import Endpoint
from workbench.protocol.options import SocketOptions

AddrInfo = tuple[int, int, int, str, Any]


def is_unspecified_ipv6(host: str) -> bool:
    return host in ("::", "[::]")


def dual_stack_note(sock: socket.socket) -> str | None:
    """Whether an IPv6 socket on [::] also takes IPv4 (IPV6_V6ONLY off)."""
    if sock.family != socket.AF_INET6:
        return None
    v6only = sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)
    return "IPv6 only" if v6only else "dual-stack: accepts IPv4 too"


def tcp_dual_stack_listener(port: int, backlog: int) -> socket.socket:
    """A listener on [::] that accepts IPv4 too: asyncio would set IPV6_V6ONLY."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(("::", port))
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def udp_socket(
    endpoint: Endpoint, info: AddrInfo, *, listen: bool
) -> tuple[socket.socket, list[str]]:
    """A UDP socket bound (listener) or connected (client) to `info`, options applied."""
    family, kind, proto, _, address = info
    sock = socket.socket(family, kind, proto)
    notes: list[str] = []
    try:
        options = endpoint.options
        if listen:
            if options.join:
                # Several programs may listen to one group on one port.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and is_unspecified_ipv6(endpoint.host):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            sock.bind(address)
            note = dual_stack_note(sock) if is_unspecified_ipv6(endpoint.host) else None
            if note:
                notes.append(note)
        if listen and not options.rcvbuf:
            # The default (~208 KiB) holds about 2 ms of 100-byte datagrams at 100k/s; a busy
            # moment of the UI thread then drops datagrams. Linux caps this at rmem_max.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, DEFAULT_LISTEN_RCVBUF)
        notes += apply_udp_options(sock, options, endpoint.host)
        if listen:
            count_drops(sock)
        if not listen:
            sock.connect(address)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock, notes


def count_drops(sock: socket.socket) -> None:
    """Linux: each datagram then carries the count of those the kernel dropped at this socket
    so far (its receive buffer was full), which the engine reports. Elsewhere nothing."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)


SO_RXQ_OVFL = 40  # Linux (asm-generic); Python's socket module does not name it
DEFAULT_LISTEN_RCVBUF = 4 * 1024 * 1024
# A TCP connection's receive buffer: room for a fast sender to go on writing while the engine
# is between reads (1 GiB from socat on loopback: 2.9 GB/s with the kernel's own tuning,
# 4.2 GB/s with this). Linux doubles the value for bookkeeping. The send buffer stays the
# kernel's: a larger one hides what a slow peer has not taken yet (the queue the app shows
# starts where the kernel's buffer is full), for about 9 % more speed in a bulk send.
STREAM_RCVBUF = 4 * 1024 * 1024
RMEM_MAX_PATH = "/proc/sys/net/core/rmem_max"


@functools.cache
def stream_rcvbuf(rmem_max_path: str = RMEM_MAX_PATH) -> int | None:
    """The receive buffer to give TCP sockets, or None to leave it to the kernel: where
    net.core.rmem_max is lower, Linux would cap the value below what its own tuning reaches,
    and setting any value turns that tuning off."""
    try:
        with open(rmem_max_path, encoding="ascii") as file:
            rmem_max = int(file.read())
    except (OSError, ValueError):
        return None
    return STREAM_RCVBUF if rmem_max >= STREAM_RCVBUF else None


def apply_udp_options(sock: socket.socket, options: SocketOptions, host: str) -> list[str]:
    notes = []
    if options.broadcast:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        notes.append("broadcast allowed")
    if options.rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, options.rcvbuf)
        # Linux doubles the value for bookkeeping and caps it at net.core.rmem_max.
        actual = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        notes.append(f"receive buffer {actual:,} bytes (asked {options.rcvbuf:,})")
    ipv6 = sock.family == socket.AF_INET6
    if options.join:
        join_group(sock, host, options.interface)
        notes.append(f"joined multicast group {host}" + on_interface(options.interface))
    if options.interface:
        set_multicast_interface(sock, options.interface)
    if options.ttl is not None:
        level, name = (
            (socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS)
            if ipv6
            else (socket.IPPROTO_IP, socket.IP_MULTICAST_TTL)
        )
        sock.setsockopt(level, name, options.ttl)
        notes.append(f"multicast TTL {options.ttl}")
    if options.loop is not None:
        level, name = (
            (socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP)
            if ipv6
            else (socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP)
        )
        sock.setsockopt(level, name, int(options.loop))
        notes.append(f"multicast loopback {'on' if options.loop else 'off'}")
    return notes


def on_interface(interface: str | None) -> str:
    return f" on {interface}" if interface else ""


def join_group(sock: socket.socket, group: str, interface: str | None) -> None:
    if sock.family == socket.AF_INET6:
        index = interface_index(interface)
        request = socket.inet_pton(socket.AF_INET6, group) + struct.pack("@I", index)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, request)
        return
    local = socket.inet_aton(interface) if interface else struct.pack("=I", socket.INADDR_ANY)
    request = socket.inet_aton(group) + local
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, request)


def set_multicast_interface(sock: socket.socket, interface: str) -> None:
    if sock.family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, interface_index(interface))
    else:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface))


def interface_index(interface: str | None) -> int:
    """IPv6 multicast names interfaces by index: accept an index, or a name like 'lo'."""
    if not interface:
        return 0
    if interface.isdigit():
        return int(interface)
    try:
        ipaddress.ip_address(interface)
    except ValueError:
        return socket.if_nametoindex(interface)
    raise OSError(f"IPv6 multicast needs an interface name or index, not {interface}")
