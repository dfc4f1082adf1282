"""A listener the engine keeps: its peers, its maximum and what it reports."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from workbench.engine.behaviours.base import BehaviourFactory, release
from workbench.engine.opening import (
    OpenedListener,
)
from workbench.engine.unix import remove_own_socket
from workbench.protocol.endpoints import Endpoint
from workbench.protocol.enums import CloseCause

if TYPE_CHECKING:
    from workbench.tls.contexts import ServerTls

# Datagrams dropped after this long without drops start a new burst: a new line in the Log.
DROPS_QUIET_SECONDS = 10.0
# Peers refused by allow= or deny=: the Log names each host once, and at most this many in a
# while; a flood of them (spoofed UDP sources, a scan) is counted, not listed.
DENIAL_LINES = 5
DENIAL_WINDOW_SECONDS = 10.0
DENIED_HOSTS_KEPT = 256


class Say(Enum):
    NOTHING = 0
    NAME = 1  # a line that names the peer
    HUSH = 2  # the line that says further ones are counted, not named


@dataclass
class DenialLog:
    """What the Log says of a listener's refused peers."""

    hosts: OrderedDict[str, None] = field(default_factory=OrderedDict)
    window_start: float = -DENIAL_WINDOW_SECONDS
    lines: int = 0

    def say(self, host: str, now: float) -> Say:
        if host in self.hosts:
            self.hosts.move_to_end(host)
            return Say.NOTHING
        self.hosts[host] = None
        if len(self.hosts) > DENIED_HOSTS_KEPT:
            self.hosts.popitem(last=False)
        if now - self.window_start >= DENIAL_WINDOW_SECONDS:
            self.window_start, self.lines = now, 0
        self.lines += 1
        if self.lines <= DENIAL_LINES:
            return Say.NAME
        return Say.HUSH if self.lines == DENIAL_LINES + 1 else Say.NOTHING


@dataclass
class FailureLog:
    """What the Log says of a TLS listener's failed handshakes: the first few in a while
    each, then nothing for the rest of the while (a scan, health checks), and how many went
    unsaid with the next one said."""

    window_start: float = -DENIAL_WINDOW_SECONDS
    lines: int = 0
    unsaid: int = 0

    def say(self, now: float) -> tuple[Say, int]:
        """Whether to say this one, and how many before it went unsaid."""
        if now - self.window_start >= DENIAL_WINDOW_SECONDS:
            self.window_start, self.lines = now, 0
        self.lines += 1
        if self.lines > DENIAL_LINES + 1:
            self.unsaid += 1
            return Say.NOTHING, 0
        unsaid, self.unsaid = self.unsaid, 0
        return (Say.NAME if self.lines <= DENIAL_LINES else Say.HUSH), unsaid


@dataclass
class Listener:
    lid: str
    endpoint: Endpoint
    opened: OpenedListener | None = None
    opening: asyncio.Future[None] | None = None
    peers: set[str] = field(default_factory=set)
    # The peers that count towards the maximum: not those closing, nor those whose peer sent
    # EOF and that close after the grace (their slot is free at once).
    counted: set[str] = field(default_factory=set)
    # Half-open peers whose peer sent EOF, oldest first: closed to make room at the maximum.
    ended: dict[str, None] = field(default_factory=dict)
    refused: int = 0  # connections closed at once because the listener was at its maximum
    refused_reported: int = 0
    # Peers its allow= and deny= lists refused; the Log names the first few of each burst.
    denied: int = 0
    denied_reported: int = 0
    denials: DenialLog = field(default_factory=DenialLog)
    # Datagrams the system dropped at a datagram listener (its receive buffer was full), as
    # the kernel counts them (SO_RXQ_OVFL); when the count last grew (time.monotonic()).
    dropped: int = 0
    dropped_reported: int = 0
    dropped_at: float = -DROPS_QUIET_SECONDS
    # What its connections do on their own (echo...), made for each; None: the user talks.
    behaviour: BehaviourFactory | None = None
    # Its TLS setup (tls=1, starttls=, or a peer upgraded with StartTls), made once.
    tls: ServerTls | None = None
    handshake_failures: FailureLog = field(default_factory=FailureLog)
    # proxy=1: clients closed for sending no valid PROXY header, and what the Log says.
    no_proxy_header: int = 0
    no_proxy_header_reported: int = 0
    proxy_failures: FailureLog = field(default_factory=FailureLog)

    def free_slot(self, cid: str) -> None:
        """`cid` no longer counts towards the maximum (closing, or ending after its peer's
        EOF): a connection waiting for a slot may take it."""
        self.ended.pop(cid, None)
        if cid in self.counted:
            self.counted.discard(cid)
            self._wake_acceptor()

    def room_to_make(self, cid: str) -> None:
        """`cid` is half-open and its peer sent EOF: at the maximum it is closed to make room,
        so a connection waiting for a slot may come in now (not after the wait's timer)."""
        self.ended[cid] = None
        self._wake_acceptor()

    def _wake_acceptor(self) -> None:
        if self.opened is not None and self.opened.acceptor is not None:
            self.opened.acceptor.slot_freed()

    def close(self, peers_reason: str, cause: CloseCause) -> None:
        release(self.behaviour)
        self.behaviour = None
        opened = self.opened
        if opened is None:
            if self.opening is not None:
                self.opening.cancel()
            return
        if opened.acceptor is not None:
            opened.acceptor.close()
        if opened.datagram is not None:
            opened.datagram.close(peers_reason, cause)
        if self.endpoint.is_unix:
            remove_own_socket(self.endpoint.path, opened.unix_identity)
