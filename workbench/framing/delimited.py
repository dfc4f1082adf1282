"""Delimited messages: `delim:<bytes>[:max=N]`, each message the bytes up to and including
the delimiter (`delim:\\0`, `delim:\\r\\n`, `delim:END`).

The delimiter is written with the composer's escapes: `\\0 \\r \\n \\t \\\\ \\xNN`, and `\\:`
for a colon. `max=N` (default and at most 1 MiB, what a message's record holds) bounds a
message, delimiter included: N bytes without a delimiter come out as a piece with an error,
and framing goes on from the next byte (so what is held stays under N bytes).
"""

from __future__ import annotations

import functools

from workbench.framing.messages import MAX_MESSAGE_BYTES, FramingError, FramingSpec, Message
from workbench.framing.prefixed import parse_max, said_bytes

DEFAULT_MAX = MAX_MESSAGE_BYTES
_SIMPLE_ESCAPES = {"0": 0, "r": 13, "n": 10, "t": 9, "\\": 92, ":": 58}
_HEX = "0123456789abcdefABCDEF"


def unescape(text: str) -> bytes:
    """The bytes `text` writes with the composer's escapes (a leaf's own small copy: framing
    imports nothing else of the project); FramingError for an escape it does not know."""
    out = bytearray()
    i = 0
    while i < len(text):
        char = text[i]
        if char != "\\":
            out += char.encode()
            i += 1
            continue
        escape = text[i + 1 : i + 2]
        if escape in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[escape])
            i += 2
        elif (
            escape == "x"
            and len(text[i + 2 : i + 4]) == 2
            and all(digit in _HEX for digit in text[i + 2 : i + 4])
        ):
            out.append(int(text[i + 2 : i + 4], 16))
            i += 4
        else:
            shown = text[i : i + 4] if escape == "x" else text[i : i + 2]
            raise FramingError(
                f"delim: unknown escape '{shown}' (known: \\0 \\r \\n \\t \\\\ \\xNN)"
            )
    return bytes(out)


def parse_spec(spec: FramingSpec) -> tuple[bytes, int]:
    """The delimiter and the max of a `delim:` spec; FramingError if they are not usable."""
    if not spec.params or not spec.params[0]:
        raise FramingError("delim: say the delimiter (delim:\\r\\n, delim:\\0)")
    delimiter = unescape(spec.params[0])
    for param in spec.params[1:]:
        if not param.startswith("max="):
            raise FramingError(f"delim: unknown parameter {param!r} (delim:<bytes>[:max=N])")
    largest = parse_max(spec.params[1:], "delim", DEFAULT_MAX, MAX_MESSAGE_BYTES)
    if largest < len(delimiter):
        raise FramingError(f"delim: max= must be at least the delimiter's {len(delimiter)} bytes")
    return delimiter, largest


class DelimitedFramer:
    """Messages that end with `delimiter`, each at most `max_size` bytes."""

    __slots__ = ("_buffer", "_scanned", "delimiter", "max_size")

    def __init__(self, delimiter: bytes, max_size: int = DEFAULT_MAX) -> None:
        self.delimiter = delimiter
        self.max_size = max_size
        self._buffer = bytearray()  # the unfinished message (fewer than max_size bytes)
        self._scanned = 0  # how far _buffer is known to hold no delimiter's start

    @property
    def held(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Message]:
        buffer, delimiter, largest = self._buffer, self.delimiter, self.max_size
        length = len(delimiter)
        buffer += data
        out: list[Message] = []
        start, scan, n = 0, self._scanned, len(buffer)
        while start < n:
            limit = start + largest
            end = buffer.find(delimiter, scan, limit)
            if end >= 0:
                end += length
                out.append(Message(bytes(buffer[start:end]), -1, said_bytes(end - start - length)))
                start = scan = end
            elif n - start >= largest:
                error = f"no delimiter within max {largest:,} bytes: cut here"
                out.append(Message(bytes(buffer[start:limit]), -1, said_bytes(largest), error))
                start = scan = limit
            else:
                # The last length-1 bytes may begin a delimiter the next bytes end.
                scan = max(start, n - length + 1)
                break
        del buffer[:start]
        self._scanned = max(0, scan - start)
        return out

    def end(self) -> list[Message]:
        if not self._buffer:
            return []
        data = bytes(self._buffer)
        self._buffer.clear()
        self._scanned = 0
        return [Message(data, -1, said_bytes(len(data)), "the stream ended before the delimiter")]


def framer(spec: FramingSpec) -> DelimitedFramer:
    return DelimitedFramer(*parse_spec(spec))


def encode(spec: FramingSpec, payload: bytes) -> bytes:
    """`payload` and the delimiter; FramingError if the payload holds the delimiter (the
    peer would read two messages) or the message would be past the max."""
    delimiter, largest = parse_spec(spec)
    if delimiter in payload:
        raise FramingError(f"the payload holds the delimiter {spec.params[0]}: it would be split")
    if len(payload) + len(delimiter) > largest:
        raise FramingError(f"{len(payload):,} bytes and the delimiter are past max {largest:,}")
    return payload + delimiter


def check(spec: FramingSpec) -> None:
    parse_spec(spec)


def payload(spec: FramingSpec, message: Message) -> bytes:
    """The message's bytes before its delimiter (all of them if it has none: cut or ended)."""
    delimiter, _largest = _parsed(spec)
    data = message.data
    if message.whole_size == len(data) and data.endswith(delimiter):
        return data[: -len(delimiter)]
    return data


@functools.lru_cache(maxsize=64)
def _parsed(spec: FramingSpec) -> tuple[bytes, int]:
    return parse_spec(spec)
