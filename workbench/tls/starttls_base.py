"""What every STARTTLS negotiation shares: the `Step` it answers with, bounded line reading,
and the plain-words quoting of what the peer said.

Sans-IO: no sockets, no event loop. The caller sends `start()`, then feeds every read to
`feed()` and, for each `Step`, sends `send` first, then starts the TLS handshake if `ready`,
or closes the connection with `error` if it is set. `leftover` (bytes the peer sent after its
go-ahead and before the handshake) is never part of the TLS stream: it is reported as possible
injection (CVE-2011-0411)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import NamedTuple

MAX_LINE = 8192  # a longer line is an error: a negotiation never buffers without bound
MAX_LINES = 1000  # lines read in one negotiation; a peer that talks on and on is cut off
MAX_QUOTE = 400  # characters of the peer's words quoted in an error


class Step(NamedTuple):
    send: bytes = b""  # to send now, before anything else
    ready: bool = False  # start the TLS handshake now (after sending `send`)
    leftover: bytes = b""  # came after the go-ahead: possible injection, never fed to TLS
    error: str = ""  # the negotiation failed, in plain words (the peer's words quoted raw)


NOTHING = Step()


class NegotiationFailed(Exception):
    """Raised inside a negotiator to end it with `Step(error=...)`."""


class Negotiator(ABC):
    """One side of one STARTTLS negotiation."""

    proto: str
    role: str

    def __init__(self) -> None:
        self._over = False

    @abstractmethod
    def start(self) -> bytes:
        """What to send first (b"" when the peer speaks first)."""

    def feed(self, data: bytes) -> Step:
        """What the peer sent next (any split: half a line, several lines)."""
        if self._over:
            return Step(error="the STARTTLS negotiation is already over")
        try:
            step = self._take(data)
        except NegotiationFailed as failure:
            step = Step(error=str(failure))
        if step.ready or step.error:
            self._over = True
        return step

    @abstractmethod
    def _take(self, data: bytes) -> Step:
        """Feed's work; raises NegotiationFailed to fail."""


class LineNegotiator(Negotiator):
    """A negotiation in CRLF lines (LF alone is accepted): `_on_line` answers each line."""

    def __init__(self) -> None:
        super().__init__()
        self._buffer = bytearray()
        self._lines = 0

    def _take(self, data: bytes) -> Step:
        self._buffer += data
        sent: list[bytes] = []
        while (end := self._buffer.find(b"\n", 0, MAX_LINE + 1)) >= 0:
            line = bytes(self._buffer[:end]).removesuffix(b"\r")
            del self._buffer[: end + 1]
            self._lines += 1
            if self._lines > MAX_LINES:
                raise NegotiationFailed(
                    f"the {self._peer} sent more than {MAX_LINES} lines without finishing"
                    " the STARTTLS negotiation"
                )
            try:
                step = self._on_line(line)
            except NegotiationFailed as failure:
                step = Step(error=str(failure))
            sent.append(step.send)
            if step.error:  # what was answered before still goes out (a `221 Bye`)
                return Step(b"".join(sent), error=step.error)
            if step.ready:
                return Step(b"".join(sent), True, bytes(self._buffer))
        if len(self._buffer) > MAX_LINE:
            raise NegotiationFailed(
                f"the {self._peer} sent a line longer than {MAX_LINE // 1024} KiB"
                f" ({quote(bytes(self._buffer[:80]))}...)"
            )
        return Step(b"".join(sent))

    @property
    def _peer(self) -> str:
        return "server" if self.role == "client" else "client"

    @abstractmethod
    def _on_line(self, line: bytes) -> Step:
        """Answer one line (without its line end); raises NegotiationFailed to fail."""


class Reply:
    """One numbered reply (SMTP, LMTP, FTP): `250-one`, `250-two`, `250 last`. FTP's
    continuation lines may be any text (`strict=False`): the reply ends at its code followed by
    a space; in SMTP every line carries the code."""

    def __init__(self, strict: bool) -> None:
        self.lines: list[bytes] = []
        self.code = b""
        self._strict = strict

    def add(self, line: bytes) -> bool:
        """Take one line; True once the reply is complete."""
        if not self.lines:
            if not (line[:3].isdigit() and line[3:4] in (b"", b" ", b"-")):
                raise NegotiationFailed(
                    f"the server's answer is not a numbered reply: {quote(line)}"
                )
            self.code = line[:3]
        elif self._strict and line[:3] != self.code:
            raise NegotiationFailed(f"the server's reply mixes codes: {quote(*self.lines, line)}")
        self.lines.append(line)
        return line[:3] == self.code and line[3:4] != b"-"

    def words(self) -> str:
        return quote(*self.lines)


def quote(*lines: bytes) -> str:
    """The peer's lines as one string for an error: raw (the UI sanitizes it), bounded."""
    text = " / ".join(line.decode("utf-8", "backslashreplace").strip() for line in lines)
    return text if len(text) <= MAX_QUOTE else text[: MAX_QUOTE - 3] + "..."


def first_word(line: bytes) -> tuple[bytes, bytes]:
    """`b"EHLO host"` -> `(b"EHLO", b"host")`, the verb upper-cased."""
    verb, _, rest = line.strip().partition(b" ")
    return verb.upper(), rest.strip()
