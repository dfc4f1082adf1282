"""Layout: the rows that show one record under the view's settings, with caps on what one
record may take of the view (the detail view and transcript have more)."""

from __future__ import annotations

from workbench.codec import format_size, hexdump, sanitize_text
from workbench.framing import LINE_FEEDS, split_lines, whole_characters
from workbench.log.message_framing import MessageRecord, shown_summary
from workbench.log.records import Record
from workbench.log.rows import TAB_SIZE, Row
from workbench.log.settings import ViewSettings

MAX_ROWS_PER_RECORD = 500
# A row shows this much of its line: a 500-character line is whole, to read wrapped or
# scrolled sideways (rows are decoded and drawn only when on screen).
MAX_ROW_BYTES = 4096
HEX_WIDTH = 16
CONTINUES_NOTE = " … the line goes on below"


def _in_chunks(record: Record) -> str:
    return f" in {record.chunks:,} {record.unit}" if record.chunks > 1 else ""


def _one_short_line(record: Record) -> bool:
    """A record shown whole on one row: the common case, and a flood's."""
    return _short_line(record.data, record.size, record.encoding, record.continues)


def _short_line(data: bytes, size: int, encoding: str, continues: bool) -> bool:
    return (
        len(data) <= MAX_ROW_BYTES
        and size == len(data)
        and not continues
        and encoding not in LINE_FEEDS
        and data.find(b"\n") in (-1, len(data) - 1)
    )


def text_rows(record: Record) -> list[Row]:
    if _one_short_line(record):
        return [Row.of_bytes(record, record.data, True)]
    encoding = record.encoding
    # A record cut short, and a row cut at MAX_ROW_BYTES, end at a character boundary.
    pieces = split_lines(record.shown_data(), encoding, MAX_ROWS_PER_RECORD)
    rows = []
    total_shown = 0
    for index, piece in enumerate(pieces):
        shown = piece
        if len(piece) > MAX_ROW_BYTES:
            shown = whole_characters(piece[:MAX_ROW_BYTES], encoding)
        row = Row.of_bytes(record, shown, index == 0)
        if len(piece) > len(shown):
            row.note = f" … {len(piece) - len(shown):,} more bytes on this line"
        rows.append(row)
        total_shown += len(piece)
    hidden = record.size - total_shown
    if hidden > 0:
        size = format_size(record.size)
        rows[-1].note += f" … {format_size(hidden)} more ({size}{_in_chunks(record)})"
    if record.continues:
        rows[-1].note += CONTINUES_NOTE
    return rows


def _hex_rows(record: Record, dump: bool) -> list[Row]:
    shown = record.data[: MAX_ROWS_PER_RECORD * HEX_WIDTH]
    if dump:
        texts = hexdump(shown, 0, HEX_WIDTH)
    else:
        texts = [
            f"{offset:04x}  {shown[offset : offset + HEX_WIDTH].hex(' ')}"
            for offset in range(0, len(shown), HEX_WIDTH)
        ]
    # An empty payload still gets a row, so the record is seen.
    rows = [Row(record, text, index == 0) for index, text in enumerate(texts or [""])]
    hidden = record.size - len(shown)
    if hidden > 0:
        rows[-1].note = f" … {hidden:,} more bytes ({record.size:,} bytes{_in_chunks(record)})"
    if record.continues:
        rows[-1].note += CONTINUES_NOTE
    return rows


def layout(record: Record, settings: ViewSettings) -> list[Row]:
    """The rows that show `record` under `settings` (at most MAX_ROWS_PER_RECORD)."""
    if not record.is_data:
        return [Row(record, sanitize_text(record.text).expandtabs(TAB_SIZE), True)]
    if settings.display == "text":
        rows = text_rows(record)
    else:
        rows = _hex_rows(record, settings.display == "both")
    if isinstance(record, MessageRecord):
        # Its summary before the bytes, what is malformed after them (a peer's words).
        rows[0].lead = shown_summary(record.summary)
        if record.error:
            rows[-1].note += f" ✗ {sanitize_text(record.error)}"
    return rows
