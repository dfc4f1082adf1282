"""Netstrings (D. J. Bernstein): `netstring[:max=N]`, each message `<length>:<payload>,` as in
`5:hello,` (the length in decimal digits, no sign, no leading zero but for `0:,`).

`max=N` (default 16 MiB) is the longest payload taken, and so bounds the digits read. A
length with a character other than a digit, a leading zero, more digits than the max has,
or a payload not followed by `,` is an error, and the framing cannot resync: as for
length-prefixed messages (`workbench.framing.prefixed`), the message with the error comes out
and the rest of the stream comes out as raw messages marked "unframed".
"""

from __future__ import annotations

from workbench.framing.messages import FramingError, FramingSpec, Message
from workbench.framing.prefixed import Header, PrefixedFramer, parse_max, said_bytes

DEFAULT_MAX = 16 * 1024 * 1024
HIGHEST_MAX = 2**40


def max_length(spec: FramingSpec) -> int:
    for param in spec.params:
        if not param.startswith("max="):
            raise FramingError(f"netstring: unknown parameter {param!r} (netstring[:max=N])")
    return parse_max(spec.params, "netstring", DEFAULT_MAX, HIGHEST_MAX)


class NetstringFramer(PrefixedFramer):
    def __init__(self, largest: int) -> None:
        super().__init__()
        self._max_length = largest
        self.max_header = len(str(largest)) + 1  # the digits and the colon

    def header(self, head: bytes) -> Header | str | None:
        if not head:
            return None
        colon = head.find(b":")
        digits = head if colon < 0 else head[:colon]
        if not digits.isdigit():
            if colon == 0:
                return "a netstring's length is missing before ':'"
            bad = next(byte for byte in digits if not 0x30 <= byte <= 0x39)
            return f"a netstring's length has {bytes([bad])!r} where a digit or ':' goes"
        if colon < 0:
            if len(head) >= self.max_header:
                return f"a netstring's length has more digits than max {self._max_length:,}"
            return None
        if len(digits) > 1 and digits[0] == 0x30:
            return "a netstring's length has a leading zero"
        length = int(digits)
        if length > self._max_length:
            return f"length {length:,} > max {self._max_length:,}"
        size = colon + 1
        return Header(size, size + length + 1, said_bytes(length), (("length", str(length)),))

    def ending_error(self, last: bytes) -> str:
        if last != b",":
            return f"a netstring ends with ',', not {last!r}"
        return ""


def framer(spec: FramingSpec) -> NetstringFramer:
    return NetstringFramer(max_length(spec))


def encode(spec: FramingSpec, payload: bytes) -> bytes:
    largest = max_length(spec)
    if len(payload) > largest:
        raise FramingError(f"{len(payload):,} bytes are past {spec}'s max {largest:,}")
    return b"%d:%s," % (len(payload), payload)


def check(spec: FramingSpec) -> None:
    max_length(spec)


def payload(spec: FramingSpec, message: Message) -> bytes:
    """The netstring's payload: between the length's colon and the closing comma."""
    data = message.data
    body = data[data.find(b":") + 1 :]
    if message.whole_size == len(data) and body.endswith(b","):
        return body[:-1]
    return body
