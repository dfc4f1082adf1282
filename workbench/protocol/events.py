"""Events the engine reports. The UI builds all of its state from these.

Named tuples: immutable (they cross threads), matched by position like the dataclasses they
were, and cheap to define (a frozen dataclass costs about four times as much to create, and
this module is loaded before the first screen). `Data`, made for every chunk read, stays a
dataclass with slots: a named tuple takes half as long again to make."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from workbench.protocol.enums import CloseCause, Origin, OriginName
from workbench.protocol.tls_info import TlsInfo


class ListenerOpened(NamedTuple):
    ts: float
    lid: str
    url: str
    local: tuple[str, ...]
    notes: tuple[str, ...] = ()  # options that took effect, e.g. "dual-stack: accepts IPv4 too"
    max_connections: int = 0  # a stream listener's maximum of open connections (0: none)
    transport: str = "tcp"  # a Transport
    warnings: tuple[str, ...] = ()  # what the user should know at once (also in `notes`)
    behaviour: str = ""  # its behaviour options, as a URL's query writes them ("echo=1")


class BehaviourChanged(NamedTuple):
    """A listener does something else on its own from now on (`SetBehaviour`)."""

    ts: float
    lid: str
    url: str  # its URL with the new behaviour options
    behaviour: str  # the behaviour options, as a URL's query writes them ("" : none)
    notes: tuple[str, ...]  # what they do, as the "listening on" line says it


class ListenerRefused(NamedTuple):
    """A stream listener at its maximum closed `refused` connections at once so far, and its
    allow= and deny= lists refused `denied` peers, and with proxy=1 `no_proxy_header`
    clients sent no valid PROXY header (running totals, reported a few times a second at
    most)."""

    ts: float
    lid: str
    refused: int
    denied: int = 0
    no_proxy_header: int = 0  # a proxy=1 listener's clients closed for no valid PROXY header


class DatagramsDropped(NamedTuple):
    """The system dropped `dropped` datagrams at datagram listener `lid` so far (its receive
    buffer was full): a running total, reported a few times a second at most. `burst`: the
    first report after a quiet while (worth a line in the Log)."""

    ts: float
    lid: str
    dropped: int
    burst: bool = False


class SendQueue(NamedTuple):
    """Bytes sent on `cid` that the peer has not taken yet (sockbench's buffer and the
    system's), reported while it is not zero and once when it drains."""

    ts: float
    cid: str
    queued: int


class ListenerClosed(NamedTuple):
    ts: float
    lid: str
    reason: str  # in words, for people
    cause: CloseCause = CloseCause.UNKNOWN


class Connecting(NamedTuple):
    ts: float
    cid: str
    remote: str
    transport: str = "tcp"
    scheme: str = ""  # its URL's, where it is not the transport's (`tls` over TCP)


class ConnectionOpened(NamedTuple):
    ts: float
    cid: str
    listener: str | None
    local: str
    remote: str
    transport: str = "tcp"


@dataclass(slots=True)  # not frozen: frozen init costs 7x more
class Data:
    """Bytes received (`outgoing` False) or sent. Under load the bridge merges chunks of one
    connection: `size` is then the exact total and `data` keeps only the first bytes.
    Treat it as immutable like the other events."""

    ts: float
    cid: str
    outgoing: bool
    data: bytes
    size: int
    chunks: int = 1
    origin: OriginName = Origin.YOU  # who sent it (outgoing only): you, or a behaviour

    @property
    def truncated(self) -> int:
        return self.size - len(self.data)


class HalfClosed(NamedTuple):
    """One direction ended: the peer sent EOF (`outgoing` False) or we did. After the peer's
    EOF the connection closes in `closes_after` seconds (0: now, as we had sent EOF too), or
    stays open for sending (None: half-open). Our EOF with `closes_after`: a behaviour hung
    up, and the connection closes at the peer's EOF, or after that many seconds."""

    ts: float
    cid: str
    outgoing: bool
    closes_after: float | None = None
    origin: OriginName = Origin.YOU  # who sent our EOF (outgoing only): you, or a behaviour


class ConnectionClosed(NamedTuple):
    ts: float
    cid: str
    reason: str  # in words, for people
    error: bool = False
    cause: CloseCause = CloseCause.UNKNOWN  # for code: read this, never the reason's words
    # The bytes it carried each way; None for a connect that never opened (failed or
    # cancelled).
    bytes_in: int | None = None
    bytes_out: int | None = None


class TlsEstablished(NamedTuple):
    """Connection `cid`'s TLS handshake completed (before any of its data is reported). A
    handshake that fails, or a certificate refused, closes it (ConnectionClosed, error)."""

    ts: float
    cid: str
    info: TlsInfo


class PeerResolved(NamedTuple):
    """The address asked for with AddPeer is connection `cid` of listener `lid`."""

    ts: float
    lid: str
    cid: str


class FileProgress(NamedTuple):
    """How far sending a file got; `finished` once it is all sent or has stopped (`error`)."""

    ts: float
    cid: str
    path: str
    sent: int
    total: int
    finished: bool = False
    error: str = ""


class Note(NamedTuple):
    """Something worth a line in the Log that is not an error."""

    ts: float
    source: str
    message: str


class ErrorReported(NamedTuple):
    """Something a user should read: `source` is the listener/connection id, or '' for global."""

    ts: float
    source: str
    message: str


class SequenceProgress(NamedTuple):
    """Sequence `name` on `cid` is at step `step` of `steps` (from 1), doing `doing`
    ("waiting for '^250 ' (up to 5 s)": protocol/sequences.py's describe_step)."""

    ts: float
    cid: str
    name: str
    step: int
    steps: int
    doing: str


class SequenceEnded(NamedTuple):
    """Sequence `name` on `cid` ended: every step done (`passed`), or failed at `step` for
    `message` ("nothing matched ^250 in 5 s", "the connection closed: reset by peer"), with
    the bytes that `arrived` meanwhile (what the expect looked at; at most 4 KiB, the last)."""

    ts: float
    cid: str
    name: str
    passed: bool
    step: int
    steps: int
    message: str = ""
    arrived: bytes = b""


class RepeatProgress(NamedTuple):
    """Repeat `rid` sent `sent` times of `times` (0: until stopped) so far; reported a few
    times a second at most, and once when it has `finished` (`reason` in words: "done",
    "stopped by you", "every connection closed")."""

    ts: float
    rid: str
    sent: int
    times: int
    finished: bool = False
    reason: str = ""


Event = (
    ListenerOpened
    | BehaviourChanged
    | ListenerRefused
    | DatagramsDropped
    | SendQueue
    | ListenerClosed
    | Connecting
    | ConnectionOpened
    | TlsEstablished
    | Data
    | HalfClosed
    | ConnectionClosed
    | PeerResolved
    | FileProgress
    | Note
    | ErrorReported
    | SequenceProgress
    | SequenceEnded
    | RepeatProgress
)
