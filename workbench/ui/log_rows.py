"""How one Log row is drawn: its head (time, connection and direction; on the rows that
continue a record, its connection and a continuation mark), its text, and what happens when
it is wider than the Log: cut with a mark at the edge (and scrolled sideways), or wrapped.

Row texts come from the sanitizer (workbench.log) and are drawn as plain Segments, never
markup. The marks drawn here are styled cells no peer text can look like: a peer's bytes
only ever become unstyled (or search-highlighted) text.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from workbench.log import Row
from workbench.log.plain_rows import (
    continuation_text,
    head_text,
    origin_of_row,
)

KIND_STYLE = {
    "in": Style(color="green", bold=True),
    "out": Style(color="cyan", bold=True),
    "info": Style(color="bright_black"),
    "error": Style(color="red", bold=True),
}
CONTINUATION_STYLE = Style(color="bright_black")
ORIGIN_STYLE = Style(color="cyan", italic=True)
TIME_STYLE = Style(color="bright_black")
NOTE_STYLE = Style(color="yellow", italic=True)
# A message's summary before its bytes (messages framing): a label no peer text looks like.
LEAD_STYLE = Style(color="bright_white", bgcolor="blue")
INFO_TEXT_STYLE = Style(italic=True)
ERROR_TEXT_STYLE = Style(color="red")
MATCH_STYLE = Style(bgcolor="yellow", color="black")
# Where a row goes on past the Log's edge (or starts before it, scrolled sideways): a
# reversed cell, so never taken for a `…` the peer sent.
CUT_MARK = "…"
CUT_STYLE = Style(color="yellow", bold=True, reverse=True)
# A wrapped row's lines are never narrower than this, whatever is left beside the head.
MIN_WRAP_WIDTH = 10
LABEL_COLORS = ("magenta", "blue", "yellow", "cyan", "green", "bright_magenta", "bright_blue")


def label_style(source: str, bold: bool = True) -> Style:
    """A stable colour per connection id, so one peer's lines are easy to follow."""
    digits = "".join(ch for ch in source if ch.isdigit())
    index = int(digits) if digits else len(source)
    return Style(color=LABEL_COLORS[index % len(LABEL_COLORS)], bold=bold)


def head(row: Row, stamp: str) -> list[Segment]:
    """What comes before a row's text: time, connection and direction on a record's first
    row (and who sent it, when a behaviour did), else `continuation_head`."""
    record = row.record
    if not row.first:
        return continuation_head(record.source, stamp)
    time_part, source, mark, origin = head_text(row, stamp)
    kind = "out" if origin_of_row(row) else record.kind
    segments = [
        Segment(time_part, TIME_STYLE),
        Segment(source, label_style(record.source)),
        Segment(mark, KIND_STYLE[kind]),
    ]
    if origin:
        segments.append(Segment(origin, ORIGIN_STYLE))
    return segments


def continuation_head(source: str, stamp: str) -> list[Segment]:
    """The head of a row that continues a record: no time, its connection, `┆`."""
    blank, label, mark = continuation_text(source, stamp)
    return [
        Segment(blank),
        Segment(label, label_style(source, bold=False)),
        Segment(mark, CONTINUATION_STYLE),
    ]


def body(row: Row, pattern: str) -> list[Segment]:
    """A row's text (with the search's matches lit) and its note."""
    style = {"info": INFO_TEXT_STYLE, "error": ERROR_TEXT_STYLE}.get(row.record.kind)
    segments = highlighted(row.text, pattern, style)
    if row.lead:
        segments[:0] = [Segment(f" {row.lead} ", LEAD_STYLE), Segment(" ")]
    if row.note:
        segments.append(Segment(row.note, NOTE_STYLE))
    return segments


def highlighted(text: str, pattern: str, style: Style | None) -> list[Segment]:
    """`text` with every case-insensitive occurrence of `pattern` marked."""
    if not pattern:
        return [Segment(text, style)]
    segments = []
    lower, needle = text.lower(), pattern.lower()
    start = 0
    while (found := lower.find(needle, start)) >= 0:
        if found > start:
            segments.append(Segment(text[start:found], style))
        segments.append(Segment(text[found : found + len(needle)], MATCH_STYLE))
        start = found + len(needle)
    segments.append(Segment(text[start:], style))
    return segments


_MARK = Strip([Segment(CUT_MARK, CUT_STYLE)], 1)


def cut_line(start: Strip, text: Strip, width: int, shift: int) -> Strip:
    """One line of at most `width` cells: `start`, then `text` from its column `shift`, with
    CUT_MARK in the first or last cell where text is hidden before or after."""
    room = width - start.cell_length
    if room < 2:
        return start.crop(0, width)
    length = text.cell_length
    shown = text.crop(shift, shift + room)
    if length > shift + room:
        shown = Strip.join([shown.crop(0, room - 1), _MARK])
    if shift > 0 and length:
        shown = Strip.join([_MARK, shown.crop(1)])
    return Strip.join([start, shown])


def hidden_columns(start: Strip, text: Strip, width: int) -> int:
    """How far `text` reaches past the Log's edge when it follows `start` (0: it fits)."""
    return max(0, text.cell_length - (width - start.cell_length))


def wrapped_lines(start: Strip, then: Strip, text: Strip, width: int) -> list[Strip]:
    """`text` wrapped to `width`: the first line after `start`, the others after `then`."""
    first = max(MIN_WRAP_WIDTH, width - start.cell_length)
    other = max(MIN_WRAP_WIDTH, width - then.cell_length)
    length = text.cell_length
    if length <= first:
        return [Strip.join([start, text])]
    cuts = [*range(first, length, other), length]
    pieces = text.divide(cuts)
    lines = [Strip.join([start, pieces[0]])]
    lines += [Strip.join([then, piece]) for piece in pieces[1:]]
    return lines
