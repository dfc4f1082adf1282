"""A datagram socket (UDP or Unix datagram) and the peers it talks to.

A listener learns a peer from each new source address (a bounded table: the least recently
heard peer is forgotten first); a client has the one peer it is connected to. Each peer has
its own connection id, so the UI treats it like any connection: select it and type.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from workbench.engine.connection import NotSent
from workbench.engine.datagram_transport import OwnDatagramTransport
from workbench.engine.flow import Pause, ReadFlow
from workbench.protocol.endpoints import format_sockname
from workbench.protocol.enums import CloseCause, Transport
from workbench.protocol.peer_filter import PeerFilter, Refusal

if TYPE_CHECKING:
    from workbench.engine.behaviours import Behaviour, Context

DEFAULT_MAX_PEERS = 1000
# Sources the allow= and deny= lists refused, remembered so that a flood from one is dropped
# for a dictionary look-up and counted once.
REFUSED_SOURCES_KEPT = 1024
# What one datagram can carry: 65,535 minus the IP and UDP headers.
MAX_UDP_PAYLOAD = {socket.AF_INET: 65_507, socket.AF_INET6: 65_527}


class DatagramOwner(Protocol):
    """What a datagram socket reports to (the engine)."""

    def new_id(self, kind: str) -> str: ...
    def peer_opened(self, sock: DatagramSocket, peer: DatagramPeer) -> None: ...
    def datagrams_received(
        self, sock: DatagramSocket, received: list[tuple[DatagramPeer, list[bytes]]]
    ) -> None: ...
    def datagram_error(
        self, sock: DatagramSocket, peer: DatagramPeer | None, exc: OSError
    ) -> None: ...
    def peer_closed(
        self, peer: DatagramPeer, reason: str, error: bool, cause: CloseCause
    ) -> None: ...
    def datagram_socket_closed(self, sock: DatagramSocket, exc: Exception | None) -> None: ...
    def datagrams_dropped(self, sock: DatagramSocket, total: int) -> None: ...
    def peer_denied(self, lid: str, remote: str, host: str, refusal: Refusal) -> None: ...


@dataclass(eq=False)
class DatagramPeer:
    cid: str
    socket: DatagramSocket
    address: Any  # what sendto takes: (host, port[, flow, scope]) or a Unix path
    remote: str
    bytes_in: int = 0
    bytes_out: int = 0
    closed: bool = False
    behaviour: Behaviour | None = None
    context: Context | None = None  # what its behaviour is told of it, made once

    has_stream = False

    @property
    def is_open(self) -> bool:
        return not self.closed

    @property
    def transport_kind(self) -> Transport:
        return self.socket.transport_name

    @property
    def flow(self) -> ReadFlow:
        return self.socket.flow

    def send(self, data: bytes) -> None:
        self.socket.send(self, data)

    def close(self, reason: str | None = None, cause: CloseCause = CloseCause.YOU) -> None:
        """Forget the peer (a client closes its socket)."""
        self.socket.forget(self, reason or "forgotten by you", cause)

    def shut(self, reason: str, cause: CloseCause) -> None:
        self.socket.close(reason, cause)

    def abort(self) -> None:
        if self.socket.transport is not None and not self.socket.closed:
            self.socket.transport.abort()

    def half_close(self) -> bool:
        raise TypeError(f"{self.cid} is a datagram peer: it has no stream to end")

    def reset(self, reason: str = "reset by you", cause: CloseCause = CloseCause.YOU) -> None:
        raise TypeError(f"{self.cid} is a datagram peer: it has no stream to reset")

    @property
    def listener(self) -> str | None:
        return self.socket.lid

    @property
    def local(self) -> str:
        return self.socket.local


def peer_key(address: Any) -> Any:
    """IPv6 addresses come with flow info and scope id; the peer is host and port."""
    if isinstance(address, tuple):
        return address[:2]
    return address


def normalize_address(address: Any) -> Any:
    """Abstract Unix addresses may arrive padded with NULs to the full sun_path; the name is
    only the part before them (what the sender bound, and what a reply must go to)."""
    if isinstance(address, bytes):
        address = address.decode("utf-8", "surrogateescape")
    if isinstance(address, str) and address.startswith("\0"):
        return "\0" + address[1:].rstrip("\0")
    return address


class DatagramSocket(asyncio.DatagramProtocol):
    def __init__(
        self,
        owner: DatagramOwner,
        transport_name: Transport,
        lid: str | None = None,
        client_cid: str | None = None,
        max_peers: int = DEFAULT_MAX_PEERS,
        peer_filter: PeerFilter | None = None,
    ) -> None:
        self.owner = owner
        self.peer_filter = peer_filter  # a listener's allow= and deny= lists
        self._refused_sources: OrderedDict[Any, None] = OrderedDict()
        self.transport_name = transport_name  # UDP or UNIX_DGRAM
        self.lid = lid
        self.client_cid = client_cid
        self.max_peers = max_peers
        self.transport: OwnDatagramTransport | None = None
        self.family = socket.AF_INET
        self.local = ""
        self.peers: OrderedDict[Any, DatagramPeer] = OrderedDict()
        self.forgotten = 0  # peers dropped from a full table
        self.closing_reason: str | None = None
        self.closing_cause = CloseCause.YOU
        self.closed = False
        self.flow = ReadFlow(self._pause_transport, self._resume_transport)
        # Its peers answer on their own (a behaviour): reading waits while replies queue.
        self.paced = False
        # ICMP errors (port unreachable) arrive later and name no peer: blame the last one.
        self._last_sent_to: DatagramPeer | None = None
        # The peer of the last datagram and its raw address: a flood comes from one peer, and
        # finding it again this way costs a tuple comparison instead of four steps.
        self._recent: tuple[Any, DatagramPeer | None] = (None, None)

    # asyncio callbacks

    def connection_made(self, transport: OwnDatagramTransport) -> None:  # type: ignore[override]
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self.family = sock.family
        self.local = format_sockname(normalize_address(transport.get_extra_info("sockname")))
        if self.client_cid is not None:
            remote = normalize_address(transport.get_extra_info("peername"))
            self._add(self.client_cid, remote)

    def datagrams_received(self, datagrams: list[bytes], senders: list[tuple[Any, int]]) -> None:
        """Handed on as runs of one peer's datagrams (a flood is one long run)."""
        received: list[tuple[DatagramPeer, list[bytes]]] = []
        start = 0
        for addr, count in senders:
            run = datagrams if count == len(datagrams) else datagrams[start : start + count]
            start += count
            recent_addr, peer = self._recent
            if peer is None or addr != recent_addr:
                if self.peer_filter is not None and self._refused(addr):
                    continue  # its datagrams are dropped: it never becomes a peer
                if received and self._peer_for(addr) is None:
                    # A new peer opens (and may push the oldest out of a full table): what
                    # came before is handed on first, so no data follows its peer's close.
                    self.owner.datagrams_received(self, received)
                    received = []
                peer = self._find_or_add(addr)
            peer.bytes_in += sum(map(len, run))
            received.append((peer, run))
        if received:
            self.owner.datagrams_received(self, received)

    def _refused(self, addr: Any) -> bool:
        """Whether the allow= and deny= lists refuse the source `addr` (a peer already, say
        one the user sent to first, is not judged again)."""
        assert self.peer_filter is not None
        if self._peer_for(addr) is not None:  # one the user sent to after it was refused, too
            return False
        if addr in self._refused_sources:
            self._refused_sources.move_to_end(addr)
            return True
        host = str(addr[0])
        refusal = self.peer_filter.refuses_host(host)
        if refusal is None:
            return False
        self._refused_sources[addr] = None
        if len(self._refused_sources) > REFUSED_SOURCES_KEPT:
            self._refused_sources.popitem(last=False)
        remote = format_sockname(peer_key(normalize_address(addr)))
        self.owner.peer_denied(self.lid or "", remote, host, refusal)
        return True

    def _peer_for(self, addr: Any) -> DatagramPeer | None:
        if self.client_cid is not None:
            return next(iter(self.peers.values()), None)
        return self.peers.get(peer_key(normalize_address(addr)))

    def _find_or_add(self, raw_addr: Any) -> DatagramPeer:
        addr = normalize_address(raw_addr)
        if self.client_cid is not None:
            peer = next(iter(self.peers.values()))
        else:
            key = peer_key(addr)
            found = self.peers.get(key)
            if found is None:
                peer = self._add(self.owner.new_id("C"), addr)
            else:
                peer = found
                self.peers.move_to_end(key)
        self._recent = (raw_addr, peer)
        return peer

    def error_received(self, exc: Exception) -> None:
        if isinstance(exc, OSError):
            self.owner.datagram_error(self, self._last_sent_to, exc)

    def datagrams_dropped(self, total: int) -> None:
        self.owner.datagrams_dropped(self, total)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.closing_reason is not None:
            reason, cause = self.closing_reason, self.closing_cause
        elif exc is not None:
            reason, cause = f"socket error: {exc}", CloseCause.ERROR
        else:
            reason, cause = "closed", CloseCause.UNKNOWN
        for peer in list(self.peers.values()):
            self._close_peer(peer, reason, cause, error=exc is not None)
        self.owner.datagram_socket_closed(self, exc)

    # peers

    def add_peer(self, address: Any) -> DatagramPeer:
        """A peer to send to before it sent anything ("Send to...")."""
        found = self.peers.get(peer_key(address))
        return found if found is not None else self._add(self.owner.new_id("C"), address)

    def _add(self, cid: str, address: Any) -> DatagramPeer:
        peer = DatagramPeer(cid, self, address, format_sockname(address))
        self.peers[peer_key(address)] = peer
        self._recent = (None, None)  # the recent peer is no longer the last in LRU order
        self.owner.peer_opened(self, peer)
        while len(self.peers) > self.max_peers:
            _, oldest = self.peers.popitem(last=False)
            self.forgotten += 1
            self._close_peer(
                oldest,
                f"forgotten: peer table full ({self.max_peers}), least recently heard",
                CloseCause.FORGOTTEN,
            )
        return peer

    def forget(self, peer: DatagramPeer, reason: str, cause: CloseCause) -> None:
        if self.client_cid is not None:
            self.close("closed by you" if cause is CloseCause.YOU else reason, cause)
            return
        if self.peers.get(peer_key(peer.address)) is peer:
            del self.peers[peer_key(peer.address)]
        self._close_peer(peer, reason, cause)

    def _close_peer(
        self, peer: DatagramPeer, reason: str, cause: CloseCause, error: bool = False
    ) -> None:
        if peer.closed:
            return
        peer.closed = True
        if self._recent[1] is peer:
            self._recent = (None, None)
        if self._last_sent_to is peer:
            self._last_sent_to = None
        self.owner.peer_closed(peer, reason, error, cause)

    # actions

    def send(self, peer: DatagramPeer, data: bytes) -> None:
        """Send one datagram; NotSent if it cannot go (nothing is sent then)."""
        if self.transport is None or self.closed:
            raise NotSent(f"{peer.cid} is not open")
        udp = self.transport_name is Transport.UDP
        limit = MAX_UDP_PAYLOAD.get(self.family) if udp else None
        if limit is not None and len(data) > limit:
            family = "IPv6" if self.family == socket.AF_INET6 else "IPv4"
            raise NotSent(
                f"datagram too large: {len(data):,} bytes, UDP over {family} carries at most "
                f"{limit:,}"
            )
        unix = self.transport_name is Transport.UNIX_DGRAM
        if unix and not peer.address and self.client_cid is None:
            raise NotSent(
                f"{peer.cid} has no address (its socket is not bound), so replies cannot reach it"
            )
        self._last_sent_to = peer
        address = None if self.client_cid is not None else peer.address
        self._send_now(self.transport, data, address, peer)
        peer.bytes_out += len(data)

    def _send_now(
        self, transport: OwnDatagramTransport, data: bytes, address: Any, peer: DatagramPeer
    ) -> None:
        """Sent now, so a refusal (no route, broadcast not allowed) is known before the
        datagram is recorded as sent; a full buffer queues it in the transport instead."""
        try:
            if transport.get_write_buffer_size():
                transport.sendto(data, address)  # behind the ones already waiting
            else:
                transport.send_now(data, address)
        except BlockingIOError:
            if self.transport_name is Transport.UNIX_DGRAM:
                raise NotSent(f"{peer.remote} is not reading: its queue is full") from None
            transport.sendto(data, address)
        except OSError as exc:
            raise NotSent(describe_datagram_error(exc, peer.remote, self.transport_name)) from None

    def close(self, reason: str = "closed by you", cause: CloseCause = CloseCause.YOU) -> None:
        if self.transport is not None and not self.closed:
            if self.closing_reason is None:
                self.closing_reason, self.closing_cause = reason, cause
            self.transport.close()

    def pause_writing(self) -> None:
        if self.paced:
            self.flow.pause(Pause.SEND_QUEUE)

    def resume_writing(self) -> None:
        self.flow.resume(Pause.SEND_QUEUE)

    def _pause_transport(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def _resume_transport(self) -> None:
        if self.transport is not None:
            self.transport.resume_reading()


def describe_datagram_error(exc: OSError, remote: str, transport: str = Transport.UDP) -> str:
    if exc.errno == errno.ECONNREFUSED:
        if transport == Transport.UNIX_DGRAM:
            return f"nothing is bound at {remote} any more (connection refused)"
        return f"port unreachable: nothing listens at {remote} (ICMP)"
    if exc.errno == errno.ENOENT:
        return f"no such socket: {remote}"
    if exc.errno == errno.EMSGSIZE:
        return f"datagram too large for the socket or path to {remote}"
    if exc.errno == errno.EACCES:
        return f"permission denied sending to {remote} (broadcast needs ?broadcast=1)"
    if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return f"no route to {remote}"
    return f"{remote}: {exc.strerror or exc}"
