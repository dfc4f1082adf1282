"""Length-prefixed messages: `len:<1|2|4|8>:<be|le>[:incl][:max=N]`.

Each message is a length of 1, 2, 4 or 8 bytes (big- or little-endian; `be` when not given)
then that many bytes of payload; with `incl` the length counts the prefix too (a length of 6
in `len:2:be:incl` is 4 bytes of payload). `max=N` (default 16 MiB) is the largest length
taken. `len:2:be` is `\\x00\\x05hello`.

Resync rule: a length past the maximum, or with `incl` one smaller than the prefix, leaves
the framing nothing to find the next message by. That message comes out with the error (and
the prefix's bytes), and from there every byte of the stream comes out as raw messages of at
most 64 KiB (`workbench.framing.prefixed.RAW_PIECE`) marked "unframed": nothing is held, and
nothing is guessed. A message longer than the Log's record holds (MAX_MESSAGE_BYTES) is
counted whole, and its first bytes kept.
"""

from __future__ import annotations

import functools
from typing import Literal

from workbench.framing.messages import FramingError, FramingSpec, Message
from workbench.framing.prefixed import Header, PrefixedFramer, parse_max

DEFAULT_MAX = 16 * 1024 * 1024
WIDTHS = (1, 2, 4, 8)
ORDERS = ("be", "le")
KNOWN_LENGTHS = 256
Order = Literal["big", "little"]


class LengthSpec:
    """A `len:` spec's parameters, checked."""

    __slots__ = ("inclusive", "max_length", "order", "width")

    def __init__(self, spec: FramingSpec) -> None:
        params = spec.params
        if not params or params[0] not in {str(width) for width in WIDTHS}:
            given = repr(params[0]) if params else "none"
            raise FramingError(f"len: the prefix's width is 1, 2, 4 or 8 (len:2:be), not {given}")
        self.width = int(params[0])
        rest = list(params[1:])
        order = "be"
        if rest and rest[0] in ORDERS:
            order = rest.pop(0)
        self.order: Order = "big" if order == "be" else "little"
        self.inclusive = "incl" in rest
        for param in rest:
            if param != "incl" and not param.startswith("max="):
                raise FramingError(
                    f"len: unknown parameter {param!r} (len:<1|2|4|8>:<be|le>[:incl][:max=N])"
                )
        if rest.count("incl") > 1:
            raise FramingError("len: incl given twice")
        largest = 256**self.width - 1
        self.max_length = parse_max(tuple(rest), "len", min(DEFAULT_MAX, largest), largest)
        if self.inclusive and self.max_length < self.width:
            raise FramingError(f"len: with incl, max= must be at least the prefix's {self.width}")


class LengthFramer(PrefixedFramer):
    def __init__(self, spec: LengthSpec) -> None:
        super().__init__()
        self._spec = spec
        self.max_header = spec.width
        # The headers of the lengths seen last (a flood's messages are often one size).
        self._known: dict[int, Header] = {}

    def header(self, head: bytes) -> Header | str | None:
        spec = self._spec
        width = spec.width
        if len(head) < width:
            return None
        length = int.from_bytes(head[:width], spec.order)
        known = self._known.get(length)
        if known is not None:
            return known
        found = self._header_of(length)
        if isinstance(found, Header):
            if len(self._known) >= KNOWN_LENGTHS:
                self._known.clear()
            self._known[length] = found
        return found

    def _header_of(self, length: int) -> Header | str:
        spec = self._spec
        width = spec.width
        if length > spec.max_length:
            return f"length {length:,} > max {spec.max_length:,}"
        if spec.inclusive:
            if length < width:
                return f"length {length:,} is less than its own {width}-byte prefix (incl)"
            return Header(width, length, f"len {length - width}", (("length", str(length)),))
        return Header(width, width + length, f"len {length}", (("length", str(length)),))


def framer(spec: FramingSpec) -> LengthFramer:
    return LengthFramer(LengthSpec(spec))


def encode(spec: FramingSpec, payload: bytes) -> bytes:
    """`payload` with its length prefix; FramingError if the length does not fit."""
    params = LengthSpec(spec)
    length = len(payload) + (params.width if params.inclusive else 0)
    if length > params.max_length:
        raise FramingError(
            f"{len(payload):,} bytes make a length of {length:,}, past {spec}'s max "
            f"{params.max_length:,}"
        )
    return length.to_bytes(params.width, params.order) + payload


def check(spec: FramingSpec) -> None:
    LengthSpec(spec)


def payload(spec: FramingSpec, message: Message) -> bytes:
    """The message's bytes after its length prefix."""
    return message.data[_width(spec) :]


@functools.lru_cache(maxsize=64)
def _width(spec: FramingSpec) -> int:
    return LengthSpec(spec).width
