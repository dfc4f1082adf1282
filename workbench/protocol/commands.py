"""Commands the UI sends to the engine. Frozen: they cross threads."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.protocol.endpoints import Endpoint


@dataclass(frozen=True, slots=True)
class Listen:
    lid: str
    endpoint: Endpoint


@dataclass(frozen=True, slots=True)
class CloseListener:
    lid: str
    close_peers: bool = True


@dataclass(frozen=True, slots=True)
class Connect:
    cid: str
    endpoint: Endpoint
    timeout: float


@dataclass(frozen=True, slots=True)
class Send:
    cid: str
    data: bytes


@dataclass(frozen=True, slots=True)
class HalfClose:
    """Send EOF (shutdown for writing): the peer sees end of stream, we keep reading."""

    cid: str


@dataclass(frozen=True, slots=True)
class Close:
    """Close a connection after its pending data, or cancel a connect in progress."""

    cid: str


@dataclass(frozen=True, slots=True)
class Reset:
    """Abort a connection with a TCP RST, dropping pending data."""

    cid: str


@dataclass(frozen=True, slots=True)
class AddPeer:
    """Make an address a peer of a datagram listener, to send to it ("Send to...")."""

    lid: str
    endpoint: Endpoint


@dataclass(frozen=True, slots=True)
class SendFile:
    """Send a file's bytes: a stream in chunks with flow control, a datagram whole."""

    cid: str
    path: str


Command = Listen | CloseListener | Connect | Send | HalfClose | Close | Reset | AddPeer | SendFile
