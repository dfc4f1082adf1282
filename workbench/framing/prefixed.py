"""What the framings that announce a message's size share: a header that gives the whole size
(a length prefix, a netstring's digits), a body read to that size, and the rule for a header
that cannot be trusted.

A framer built on `PrefixedFramer` holds at most the header's bytes or MAX_MESSAGE_BYTES of a
body (a longer body is counted, not kept: its Message has the first bytes and the whole size).
A bad header means the framing has lost its place: nothing says where the next message
begins, so from there the stream comes out as raw error messages of at most RAW_PIECE bytes
each ("unframed"), and nothing more is held.
"""

from __future__ import annotations

from typing import NamedTuple

from workbench.framing.messages import MAX_MESSAGE_BYTES, FramingError, Message

# The most bytes of one raw message after the framing lost its place.
RAW_PIECE = 64 * 1024
LOST_PLACE = "the framing cannot find the next message: the rest of the stream is unframed"
UNFRAMED = "unframed: the framing lost its place at an earlier error"


class Header(NamedTuple):
    size: int  # the header's bytes
    total: int  # the message's whole size on the wire, header included
    summary: str
    fields: tuple[tuple[str, str], ...] = ()


class PrefixedFramer:
    """A framer for messages whose header gives their size. Subclasses set `max_header`
    (the most bytes a header can take) and implement `header` and `ending_error`."""

    max_header = 1

    def __init__(self) -> None:
        self._parts: list[bytes] = []  # the message's kept bytes so far
        self._kept = 0  # their size
        self._skipped = 0  # its bytes past MAX_MESSAGE_BYTES: counted, not kept
        self._header: Header | None = None  # None: the header is not complete yet
        self._last = b""  # the last byte of the message read so far
        self._lost = False  # a bad header: the rest is raw
        # Whether the subclass checks how a message ends (netstrings: the comma).
        self._checks_end = type(self).ending_error is not PrefixedFramer.ending_error

    # --- what a subclass says ---

    def header(self, head: bytes) -> Header | str | None:
        """The header at the start of `head` (at most max_header bytes), an error in words
        if it cannot be one, or None if more bytes are needed to tell."""
        raise NotImplementedError

    def ending_error(self, last: bytes) -> str:
        """What is wrong with a complete message whose last byte is `last` ("" if nothing)."""
        return ""

    # --- the Framer protocol ---

    @property
    def held(self) -> int:
        return self._kept

    def feed(self, data: bytes) -> list[Message]:
        out: list[Message] = []
        if self._lost:
            return raw_pieces(data)
        pos, n = 0, len(data)
        if self._kept:
            pos = self._continue(data, 0, out)
            if self._lost:
                out.extend(raw_pieces(data[pos:]))
                return out
            if self._kept:  # still incomplete: `data` is all used
                return out
        # Whole messages straight from `data`, the common case (a flood's: this runs for
        # every message, so a message that needs no check of its end is made inline).
        max_header = self.max_header
        header = self.header
        add = out.append
        checks_end = self._checks_end
        while pos < n:
            found = header(data[pos : pos + max_header])
            if found is None:
                break
            if isinstance(found, str):
                add(self._bad_header(data[pos : pos + max_header], found))
                out.extend(raw_pieces(data[pos + max_header :]))
                return out
            end = pos + found.total
            if end > n:
                break
            if checks_end or end - pos > MAX_MESSAGE_BYTES:
                add(self._message(data[pos:end], found, data[end - 1 : end]))
                if self._lost:  # the message ended wrong: the rest is raw
                    out.extend(raw_pieces(data[end:]))
                    return out
            else:
                add(Message(data[pos:end], -1, found.summary, "", found.fields))
            pos = end
        if pos < n:  # the start of a message: held (its header was checked above)
            self._continue(data, pos, out)
        return out

    def end(self) -> list[Message]:
        if not self._kept:
            return []
        data = b"".join(self._parts)
        size = self._kept + self._skipped
        if self._header is None:
            error = f"the stream ended inside a header ({size:,} bytes of it)"
            message = Message(data, size, said_bytes(size), error)
        else:
            total = self._header.total
            error = f"the stream ended {size:,} bytes into a message of {total:,}"
            message = Message(data, size, self._header.summary, error, self._header.fields)
        self._reset()
        return [message]

    # --- inside ---

    def _continue(self, data: bytes, pos: int, out: list[Message]) -> int:
        """Reads what the held message needs from data[pos:]; returns where it stopped (the
        end of `data`, the end of a message, or after a bad header, with `_lost` set)."""
        n = len(data)
        if self._header is None:
            held = b"".join(self._parts)
            head = held + data[pos : pos + self.max_header - len(held)]
            found = self.header(head)
            if found is None:
                if len(head) >= self.max_header:  # a header longer than it can be
                    found = "no header within the most bytes one takes"
                else:
                    self._parts, self._kept = [head], len(head)
                    return n
            if isinstance(found, str):
                self._reset()
                out.append(self._bad_header(head, found))
                self._lost = True
                return pos + len(head) - len(held)
            self._header = found
            self._parts, self._kept = [head[: found.size]], found.size
            self._last = head[found.size - 1 : found.size]
            pos += found.size - len(held)
        header = self._header
        remaining = header.total - self._kept - self._skipped
        take = min(remaining, n - pos)
        keep = min(take, max(0, MAX_MESSAGE_BYTES - self._kept))
        if keep:
            self._parts.append(data[pos : pos + keep])
            self._kept += keep
        self._skipped += take - keep
        if take:
            self._last = data[pos + take - 1 : pos + take]
        pos += take
        if take == remaining:
            message = self._message(b"".join(self._parts), header, self._last, header.total)
            self._reset()
            out.append(message)
        return pos

    def _message(self, data: bytes, header: Header, last: bytes, size: int = -1) -> Message:
        if len(data) > MAX_MESSAGE_BYTES:
            data, size = data[:MAX_MESSAGE_BYTES], len(data)
        error = self.ending_error(last)
        if error:
            self._lost = True
            error += f"; {LOST_PLACE}"
        return Message(data, size, header.summary, error, header.fields)

    def _bad_header(self, head: bytes, error: str) -> Message:
        self._lost = True
        return Message(head, -1, said_bytes(len(head)), f"{error}; {LOST_PLACE}")

    def _reset(self) -> None:
        self._parts, self._kept, self._skipped = [], 0, 0
        self._header, self._last = None, b""


def raw_pieces(data: bytes) -> list[Message]:
    """`data` after the framing lost its place: raw messages of at most RAW_PIECE bytes."""
    pieces = (data[at : at + RAW_PIECE] for at in range(0, len(data), RAW_PIECE))
    return [Message(piece, -1, said_bytes(len(piece)), UNFRAMED) for piece in pieces]


def parse_max(params: tuple[str, ...], name: str, default: int, high: int) -> int:
    """The `max=N` among `params` (`default` if none); FramingError unless 1 <= N <= high."""
    values = [param[4:] for param in params if param.startswith("max=")]
    if not values:
        return default
    if len(values) > 1:
        raise FramingError(f"{name}: max= given twice")
    text = values[0]
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= high:
        raise FramingError(f"{name}: max= takes a whole number of bytes 1-{high:,}, not {text!r}")
    return int(text)


def said_bytes(count: int) -> str:
    """A summary's size: "1 byte", "1,024 bytes"."""
    return "1 byte" if count == 1 else f"{count:,} bytes"
