"""The live Log: a virtual view that renders only the visible rows of a bounded ring.

Every row's text comes from peer bytes through `codec.sanitize`, and is drawn as plain
Segments (never markup, never ANSI parsing), so nothing a peer sends reaches the terminal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from workbench.codec import decode_for_display, format_size, sanitize_text
from workbench.ring import Ring

DEFAULT_MAX_ROWS = 100_000
# What the view shows of one record; the transcript has every byte. Rows keep only their
# (bounded) text, so memory is bounded by max_rows whatever peers send.
VIEW_BYTES_PER_RECORD = 64 * 1024
MAX_ROWS_PER_RECORD = 500
MAX_ROW_BYTES = 400
LABEL_WIDTH = 5
TAB_SIZE = 4

KIND_SYMBOL = {"in": "←", "out": "→", "info": "•", "error": "!"}
KIND_STYLE = {
    "in": Style(color="green", bold=True),
    "out": Style(color="cyan", bold=True),
    "info": Style(color="bright_black"),
    "error": Style(color="red", bold=True),
}
TIME_STYLE = Style(color="bright_black")
NOTE_STYLE = Style(color="yellow", italic=True)
INFO_TEXT_STYLE = Style(italic=True)
ERROR_TEXT_STYLE = Style(color="red")
LABEL_COLORS = ("magenta", "blue", "yellow", "cyan", "green", "bright_magenta", "bright_blue")


@dataclass(slots=True)
class LogRecord:
    ts: float
    source: str  # connection or listener id
    kind: str  # "in", "out", "info" or "error"
    data: bytes = b""  # the start of the payload (in/out)
    size: int = 0  # the whole payload's size
    chunks: int = 1
    text: str = ""  # info and error lines: already plain text
    unit: str = "reads"  # what one chunk is: "reads" (streams) or "datagrams"
    encoding: str = "utf-8"  # how the connection's bytes are shown


@dataclass(slots=True)
class Row:
    record: LogRecord
    text: str  # sanitized, tabs expanded
    first: bool
    note: str = ""  # e.g. "... 12.0 KiB more"


def record_rows(record: LogRecord) -> list[Row]:
    """Split a record into display rows: one per line of payload (LF kept visible as \\n)."""
    if record.kind not in ("in", "out"):
        return [Row(record, sanitize_text(record.text).expandtabs(TAB_SIZE), True)]
    data = record.data[:VIEW_BYTES_PER_RECORD]
    lines = data.split(b"\n")
    pieces = [line + b"\n" for line in lines[:-1]]
    if lines[-1] or not pieces:
        pieces.append(lines[-1])
    rows = []
    total_shown = 0
    for index, piece in enumerate(pieces[:MAX_ROWS_PER_RECORD]):
        shown = decode_for_display(piece[:MAX_ROW_BYTES], record.encoding)
        row = Row(record, shown.expandtabs(TAB_SIZE), index == 0)
        if len(piece) > MAX_ROW_BYTES:
            row.note = f" … {len(piece) - MAX_ROW_BYTES:,} more bytes on this line"
        rows.append(row)
        total_shown += len(piece)
    hidden = record.size - total_shown
    if hidden > 0:
        chunks = f" in {record.chunks:,} {record.unit}" if record.chunks > 1 else ""
        rows[-1].note += f" … {format_size(hidden)} more ({format_size(record.size)}{chunks})"
    # The rows hold what is shown; the bytes themselves are the transcript's to keep.
    record.data = b""
    return rows


def label_style(source: str) -> Style:
    """A stable colour per connection id, so one peer's lines are easy to follow."""
    digits = "".join(ch for ch in source if ch.isdigit())
    index = int(digits) if digits else len(source)
    return Style(color=LABEL_COLORS[index % len(LABEL_COLORS)], bold=True)


class LogView(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    LogView { background: $surface; overflow-x: hidden; }
    """

    def __init__(
        self,
        max_rows: int = DEFAULT_MAX_ROWS,
        time_format: object = None,
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.rows: Ring[Row] = Ring(max_rows)
        self.records_added = 0
        self._format_time = time_format or format_clock_time
        self._cache: LRUCache[tuple[int, int], Strip] = LRUCache(1024)
        # Follow new rows until the user scrolls up; reaching the end again resumes it.
        self.following = True

    # --- content ---

    def add_records(self, records: list[LogRecord]) -> None:
        if not records:
            return
        dropped_before = self.rows.dropped
        for record in records:
            for row in record_rows(record):
                self.rows.append(row)
        self.records_added += len(records)
        self.virtual_size = Size(self.size.width, len(self.rows))
        if self.following:
            # Forced: until the next layout the scrollbar (and so scrolling) is not yet
            # allowed; and once more after it, when the height is final.
            self._scroll_to_end()
            self.call_after_refresh(self._scroll_to_end)
        else:
            # Rows fell off the front: keep the same rows in view while the user reads.
            shifted = self.rows.dropped - dropped_before
            if shifted:
                self.scroll_to(y=max(0, self.scroll_y - shifted), animate=False, immediate=True)
        self.refresh()
        self._update_subtitle()

    def _scroll_to_end(self) -> None:
        if self.following:  # the user may have scrolled up in between
            self.scroll_end(animate=False, immediate=True, force=True, x_axis=False)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # Only a move up (the user reading history) stops following; rows arriving between
        # a scroll and the next refresh must not.
        if new_value < old_value:
            self.following = False
        elif new_value >= self.max_scroll_y:
            self.following = True

    def clear(self) -> None:
        self.rows.clear()
        self._cache.clear()
        self.following = True
        self.virtual_size = Size(self.size.width, 0)
        self.refresh()
        self._update_subtitle()

    def _update_subtitle(self) -> None:
        dropped = self.rows.dropped
        note = f"  ·  {dropped:,} earlier rows dropped (the transcript keeps all)"
        rows = len(self.rows)
        self.border_subtitle = f"{rows:,} row{'' if rows == 1 else 's'}{note if dropped else ''}"

    def row_texts(self) -> list[str]:
        """The plain text of every row held, as drawn (for tests and saving)."""
        return [self._row_plain(self.rows[i]) for i in range(len(self.rows))]

    # --- rendering ---

    def on_resize(self) -> None:
        self.virtual_size = Size(self.size.width, len(self.rows))
        self._cache.clear()

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.size.width
        base = self.rich_style
        if index >= len(self.rows):
            return Strip.blank(width, base)
        key = (self.rows.dropped + index, width)
        strip = self._cache.get(key)
        if strip is None:
            strip = Strip(self._row_segments(self.rows[index])).crop_extend(0, width, base)
            strip = strip.apply_style(base)
            self._cache[key] = strip
        return strip

    def _prefix(self, row: Row) -> str:
        record = row.record
        return f"{self._format_time(record.ts)} {record.source:<{LABEL_WIDTH}} "

    def _row_segments(self, row: Row) -> list[Segment]:
        record = row.record
        if not row.first:
            indent = " " * (len(self._prefix(row)) + 2)
            segments = [Segment(indent)]
        else:
            segments = [
                Segment(f"{self._format_time(record.ts)} ", TIME_STYLE),
                Segment(f"{record.source:<{LABEL_WIDTH}} ", label_style(record.source)),
                Segment(f"{KIND_SYMBOL[record.kind]} ", KIND_STYLE[record.kind]),
            ]
        text_style = {"info": INFO_TEXT_STYLE, "error": ERROR_TEXT_STYLE}.get(record.kind)
        segments.append(Segment(row.text, text_style))
        if row.note:
            segments.append(Segment(row.note, NOTE_STYLE))
        return segments

    def _row_plain(self, row: Row) -> str:
        return "".join(segment.text for segment in self._row_segments(row)).rstrip()


def format_clock_time(ts: float) -> str:
    """Local wall-clock time with milliseconds."""
    return time.strftime("%H:%M:%S", time.localtime(ts)) + f".{int(ts * 1000) % 1000:03d}"
