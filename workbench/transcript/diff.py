"""Two recordings' bytes compared, per direction, as a unified diff of text lines: pure
functions (bytes in, lines out) that `sockbench diff`, `sockbench replay --against` and the
UI share.

Each side's bytes are cut into messages (text lines by default, a framing's messages with
one, each datagram of a datagram connection) and each message is one line of the diff,
shown with the codec's escapes (`\\n`, `\\x1b`, `\\xff`): peer data is hostile, and a line
ending or a control character is part of what differs. Whether two sides are equal is
decided on their bytes, never on their text.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from workbench.codec import sanitize, sanitize_text
from workbench.framing.messages import FramingSpec, make_framer
from workbench.protocol.enums import Direction
from workbench.transcript.connections import RecordedConnection
from workbench.transcript.records import Data

DEFAULT_CONTEXT = 3
# A line (no framing) longer than this is cut: a binary stream with no line ending would
# otherwise be one line, and its diff would say nothing of where it differs.
MAX_LINE_BYTES = 256
# More messages than this on a side: difflib's time grows with their product.
MAX_MESSAGES = 20_000
DIRECTIONS = (Direction.IN, Direction.OUT)


@dataclass(frozen=True, slots=True)
class StreamDiff:
    """One direction of two connections: `lines` is the unified diff (empty when equal)."""

    direction: str
    equal: bool
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ConnectionDiff:
    """Two connections paired for comparison (either None: the other has no counterpart)."""

    name_a: str
    name_b: str
    streams: tuple[StreamDiff, ...]  # in, then out; none when one side is missing
    missing: str = ""  # why they could not be compared, in words

    @property
    def equal(self) -> bool:
        return not self.missing and all(s.equal for s in self.streams)


def line_messages(data: bytes) -> list[bytes]:
    """`data` cut after each LF (and every MAX_LINE_BYTES)."""
    pieces: list[bytes] = []
    start = 0
    while start < len(data):
        end = data.find(b"\n", start, start + MAX_LINE_BYTES)
        stop = end + 1 if end >= 0 else min(start + MAX_LINE_BYTES, len(data))
        pieces.append(data[start:stop])
        start = stop
    return pieces


def message_texts(
    pieces: Sequence[bytes], framing: FramingSpec | None = None, datagrams: bool = False
) -> list[str]:
    """What each message of a direction shows as a diff line. `pieces`: the direction's
    reads or sends in order (each a message when `datagrams`)."""
    if datagrams:
        return [sanitize(p) for p in pieces]
    data = b"".join(pieces)
    if framing is None:
        return [sanitize(line) for line in line_messages(data)]
    framer = make_framer(framing)
    texts = []
    for message in [*framer.feed(data), *framer.end()]:
        text = sanitize(message.data)
        if message.whole_size > len(message.data):
            text += f" ... ({message.whole_size:,} bytes)"
        if message.error:
            text += f"  [{sanitize_text(message.error)}]"
        texts.append(text)
    return texts


def diff_pieces(
    a: Sequence[bytes],
    b: Sequence[bytes],
    *,
    name_a: str,
    name_b: str,
    direction: str = "",
    framing: FramingSpec | None = None,
    datagrams: bool = False,
    context: int = DEFAULT_CONTEXT,
) -> StreamDiff:
    """The unified diff of one direction's messages, `a` before `b`."""
    equal = list(a) == list(b) if datagrams else b"".join(a) == b"".join(b)
    if equal:
        return StreamDiff(direction, True, ())
    texts_a = message_texts(a, framing, datagrams)
    texts_b = message_texts(b, framing, datagrams)
    heading = f" {direction}" if direction else ""
    if max(len(texts_a), len(texts_b)) > MAX_MESSAGES:
        at = first_difference(b"".join(a), b"".join(b))
        return StreamDiff(
            direction,
            False,
            (
                f"--- {sanitize_text(name_a)}{heading}",
                f"+++ {sanitize_text(name_b)}{heading}",
                f"(more than {MAX_MESSAGES:,} messages: not diffed line by line; the bytes "
                f"first differ at byte {at:,})",
            ),
        )
    lines = tuple(
        difflib.unified_diff(
            texts_a,
            texts_b,
            fromfile=sanitize_text(name_a) + heading,
            tofile=sanitize_text(name_b) + heading,
            lineterm="",
            n=context,
        )
    )
    if not lines:  # the same messages, cut otherwise (datagrams) or shown alike
        lines = (
            f"--- {sanitize_text(name_a)}{heading}",
            f"+++ {sanitize_text(name_b)}{heading}",
            "(the same text, cut into other messages)",
        )
    return StreamDiff(direction, False, lines)


def first_difference(a: bytes, b: bytes) -> int:
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index
    return min(len(a), len(b))


def pieces_of(connection: RecordedConnection, direction: Direction) -> list[bytes]:
    return [i.data for i in connection.items if isinstance(i, Data) and i.dir is direction]


def diff_connections(
    a: RecordedConnection,
    b: RecordedConnection,
    *,
    name_a: str,
    name_b: str,
    framing: FramingSpec | None = None,
    context: int = DEFAULT_CONTEXT,
) -> ConnectionDiff:
    """Two recorded connections compared per direction (in, then out)."""
    return diff_directions(
        {direction: pieces_of(a, direction) for direction in DIRECTIONS},
        {direction: pieces_of(b, direction) for direction in DIRECTIONS},
        name_a=name_a,
        name_b=name_b,
        framing=framing,
        datagrams=not (a.is_stream and b.is_stream),
        context=context,
    )


def diff_directions(
    a: Mapping[Direction, Sequence[bytes]],
    b: Mapping[Direction, Sequence[bytes]],
    *,
    name_a: str,
    name_b: str,
    framing: FramingSpec | None = None,
    datagrams: bool = False,
    context: int = DEFAULT_CONTEXT,
) -> ConnectionDiff:
    """Two connections given as their reads or sends per direction (in, then out; a
    direction not given has no bytes): what the UI compares of live connections."""
    streams = tuple(
        diff_pieces(
            a.get(direction, ()),
            b.get(direction, ()),
            name_a=name_a,
            name_b=name_b,
            direction=direction,
            framing=framing,
            datagrams=datagrams,
            context=context,
        )
        for direction in DIRECTIONS
    )
    return ConnectionDiff(name_a, name_b, streams)


def diff_sessions(
    a: Sequence[RecordedConnection],
    b: Sequence[RecordedConnection],
    *,
    name_a: str,
    name_b: str,
    framing: FramingSpec | None = None,
    context: int = DEFAULT_CONTEXT,
) -> list[ConnectionDiff]:
    """Connections paired by position (the first of `a` with the first of `b`...); one
    without a counterpart is a difference."""
    diffs = []
    for index in range(max(len(a), len(b))):
        left = a[index] if index < len(a) else None
        right = b[index] if index < len(b) else None
        left_name = f"{name_a}#{left.cid}" if left is not None else f"{name_a} (none)"
        right_name = f"{name_b}#{right.cid}" if right is not None else f"{name_b} (none)"
        if left is None or right is None:
            present = left_name if left is not None else right_name
            why = f"{present} has no counterpart (connection {index + 1} of the other is missing)"
            diffs.append(ConnectionDiff(left_name, right_name, (), sanitize_text(why)))
            continue
        diffs.append(
            diff_connections(
                left, right, name_a=left_name, name_b=right_name, framing=framing, context=context
            )
        )
    return diffs


def report_lines(diffs: Sequence[ConnectionDiff]) -> list[str]:
    """What `sockbench diff` prints: a summary line per pair, the diff of what differs."""
    lines: list[str] = []
    for pair in diffs:
        names = f"{sanitize_text(pair.name_a)} vs {sanitize_text(pair.name_b)}"
        if pair.missing:
            lines.append(f"{names}: {pair.missing}")
            continue
        state = ", ".join(f"{s.direction} {'same' if s.equal else 'differs'}" for s in pair.streams)
        lines.append(f"{names}: {state}")
        for stream in pair.streams:
            lines.extend(stream.lines)
    return lines
