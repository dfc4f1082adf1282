"""The vocabulary shared by the engine, the session core, the transcript and the UI.

`StrEnum`s: a member is its own string, so it is written to JSON and compared with text
read back from a transcript as it is."""

from __future__ import annotations

import re
from enum import StrEnum


class Transport(StrEnum):
    TCP = "tcp"
    UDP = "udp"
    UNIX = "unix"
    UNIX_DGRAM = "unix-dgram"

    @property
    def is_datagram(self) -> bool:
        return self in (Transport.UDP, Transport.UNIX_DGRAM)

    @property
    def is_unix(self) -> bool:
        return self in (Transport.UNIX, Transport.UNIX_DGRAM)

    @property
    def label(self) -> str:
        """Its name for people: "TCP", "Unix stream"..."""
        return TRANSPORT_LABELS[self]


TRANSPORT_LABELS = {
    Transport.TCP: "TCP",
    Transport.UDP: "UDP",
    Transport.UNIX: "Unix stream",
    Transport.UNIX_DGRAM: "Unix datagram",
}


class ConnState(StrEnum):
    """A connection's state as the session shows it (the Connections pane's `state`)."""

    CONNECTING = "connecting"
    OPEN = "open"
    PEER_EOF = "peer sent EOF"
    YOU_EOF = "you sent EOF"
    EOF_BOTH = "EOF both ways"
    CLOSING = "closing"
    CLOSED = "closed"
    FAILED = "failed"


class CloseCause(StrEnum):
    """Why a connection or listener ended, as a field code can read (the reason's words are
    for people)."""

    YOU = "you"  # closed or reset from the UI, a command or a session
    PEER = "peer"  # the peer closed, reset, or its EOF's grace ran out
    ERROR = "error"  # a socket error
    IDLE = "idle"  # ?idle= ran out
    LISTENER = "listener"  # its listener closed with its peers
    FORGOTTEN = "forgotten"  # a datagram peer table was full
    REFUSED = "refused"  # a listener at its maximum
    QUIT = "quit"  # sockbench quit
    BEHAVIOUR = "behaviour"  # the connection's behaviour closed it
    UNKNOWN = "unknown"


class RecordKind(StrEnum):
    """The `event` of a transcript record."""

    SESSION = "session"
    LISTEN = "listen"
    OPEN = "open"
    TLS = "tls"  # a connection's TLS handshake completed
    DATA = "data"  # with `dir`: a Direction
    EOF = "eof"
    CLOSE = "close"
    REFUSED = "refused"
    DROPPED = "dropped"
    ERROR = "error"
    SEQUENCE = "sequence"  # how a sequence on a connection ended
    REPEAT = "repeat"  # how a repeated send ended


class Direction(StrEnum):
    """A data record's `dir`."""

    IN = "in"
    OUT = "out"


class Origin(StrEnum):
    """Who sent data sockbench wrote to a peer. An event's or a record's origin is a name
    (`OriginName`): one of these, or one of these with what it names (`rule 3`, `broker C2`,
    made by `origin_of`)."""

    YOU = "you"  # typed, pasted, a file or a command
    ECHO = "echo"  # the echo behaviour
    GREET = "greet"  # the greeting a listener sends each peer (?greet=)
    RULE = "rule"  # a rule of a listener's rules file (`rule 3`)
    BROKER = "broker"  # relayed by a broker listener from another peer (`broker C2`)
    CHAT = "chat"  # relayed by a chat listener, prefixed with its sender (`chat C2`)
    EXEC = "exec"  # the program a listener runs per connection (?exec=, ?sh=)
    STARTTLS = "starttls"  # the plain-text exchange before a STARTTLS handshake (?starttls=)
    MACRO = "macro"  # a saved message sent by name, key or repeat (`macro login`)
    SEQUENCE = "sequence"  # a sequence's send step (`sequence login`)
    REPEAT = "repeat"  # the composer's message repeated every N ms
    PROXY = "proxy"  # the PROXY protocol header a connection sends first (?send-proxy=)
    REPLAY = "replay"  # one side of a recorded connection played back (?replay=)


# An origin as events and records carry it: "you", "echo", "rule 3", "broker C2"... Its
# characters are letters, digits, spaces and . _ - (`ORIGIN_NAME`): a transcript writes it
# into JSON as it is.
OriginName = str
ORIGIN_NAME = re.compile(r"^[a-z]+( [A-Za-z0-9._-]+)?$")


def is_origin_name(name: str) -> bool:
    """Whether `name` may be written as an origin (a command's, from outside the engine)."""
    return name == Origin.YOU or ORIGIN_NAME.match(name) is not None


def origin_of(origin: Origin, what: str) -> OriginName:
    """`origin` naming `what` (`rule 3`, `broker C2`): checked, since it goes into JSON raw."""
    name = f"{origin} {what}"
    if not ORIGIN_NAME.match(name):
        raise ValueError(f"not an origin name: {name!r}")
    return name
