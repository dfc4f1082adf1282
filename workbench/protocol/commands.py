"""Commands to the engine: what drives it (the UI, a session, a macro) says what to do as data.
Named tuples (see events.py): immutable, as they cross threads, and cheap to define."""

from __future__ import annotations

from typing import NamedTuple

from workbench.protocol.endpoints import Endpoint
from workbench.protocol.enums import Origin, OriginName
from workbench.protocol.options import SocketOptions
from workbench.protocol.sequences import SendPayload, Sequence


class Listen(NamedTuple):
    lid: str
    endpoint: Endpoint


class CloseListener(NamedTuple):
    lid: str
    close_peers: bool = True


class Connect(NamedTuple):
    cid: str
    endpoint: Endpoint
    timeout: float


class Send(NamedTuple):
    cid: str
    data: bytes
    origin: OriginName = Origin.YOU  # `macro greet` for a macro's send


class HalfClose(NamedTuple):
    """Send EOF (shutdown for writing): the peer sees end of stream, we keep reading."""

    cid: str


class Close(NamedTuple):
    """Close a connection after its pending data, or cancel a connect in progress."""

    cid: str


class Reset(NamedTuple):
    """Abort a connection with a TCP RST, dropping pending data."""

    cid: str


class StartTls(NamedTuple):
    """Upgrade an open plain stream connection to TLS in place (STARTTLS): as the client on
    a connection the user opened, as the server on a listener's peer, with the connection's
    (or its listener's) TLS options."""

    cid: str


class AddPeer(NamedTuple):
    """Make an address a peer of a datagram listener, to send to it ("Send to...")."""

    lid: str
    endpoint: Endpoint


class SendFile(NamedTuple):
    """Send a file's bytes: a stream in chunks with flow control, a datagram whole."""

    cid: str
    path: str


class SetBehaviour(NamedTuple):
    """Change what a listener does on its own (echo, greet, rules...): `options` holds its
    behaviour options (`BEHAVIOUR_FIELDS`); the others are the listener's and stay."""

    lid: str
    options: SocketOptions


class RunSequence(NamedTuple):
    """Run `sequence` on connection `cid` (one still connecting: once it opens). Reported by
    SequenceProgress and SequenceEnded events."""

    cid: str
    sequence: Sequence


class StartRepeat(NamedTuple):
    """Send `payload` to each of `cids` every `interval` seconds, `times` times (0: until
    StopRepeat); a template's `{counter}` counts the sends from 1. Reported by
    RepeatProgress events (`rid` names the repeat)."""

    rid: str
    cids: tuple[str, ...]
    payload: SendPayload
    interval: float
    times: int = 0
    origin: OriginName = Origin.REPEAT


class StopRepeat(NamedTuple):
    rid: str


class FrameWhole(NamedTuple):
    """The Log frames what stream `cid` reads (a framing chosen while it runs), or no longer
    does (`whole` False): its reads reach the Log whole, never merged, at the Log's pace, as
    those of a stream opened with framing=."""

    cid: str
    whole: bool


Command = (
    Listen
    | CloseListener
    | Connect
    | Send
    | HalfClose
    | Close
    | Reset
    | StartTls
    | AddPeer
    | SendFile
    | SetBehaviour
    | RunSequence
    | StartRepeat
    | StopRepeat
    | FrameWhole
)
