"""A Log row as plain text: the head (time, connection, direction or who sent it) and the
row's text, as the Log pane draws them without styles. The pane styles these same parts
(workbench/ui/log_rows.py); the headless runner prints them, so both say the same."""

from __future__ import annotations

from workbench.codec import sanitize_text
from workbench.log.rows import Row

LABEL_WIDTH = 5
KIND_SYMBOL = {"in": "←", "out": "→", "info": "•", "error": "!"}
# A row that continues a record (its next line, or a long line wrapped): the connection
# again, and this mark in place of the direction.
CONTINUATION_MARK = "┆"
# Sent by a behaviour, not typed (the record's text names it, e.g. "echo"): this mark, then
# the name, before the bytes.
ORIGIN_SYMBOL = "↺"


def origin_of_row(row: Row) -> str:
    """Who sent the row's bytes when it was not you ("echo", "macro login"), else ""."""
    record = row.record
    return record.text if record.kind == "out" else ""


def head_text(row: Row, stamp: str) -> tuple[str, str, str, str]:
    """A record's first row's head as its parts: time, connection, mark, origin ("" or
    "echo: ")."""
    record = row.record
    origin = origin_of_row(row)
    mark = ORIGIN_SYMBOL if origin else KIND_SYMBOL[record.kind]
    return (
        f"{stamp} ",
        f"{record.source:<{LABEL_WIDTH}} ",
        f"{mark} ",
        f"{sanitize_text(origin)}: " if origin else "",
    )


def continuation_text(source: str, stamp: str) -> tuple[str, str, str]:
    """The head of a row that continues a record: no time, its connection, the mark."""
    return " " * (len(stamp) + 1), f"{source:<{LABEL_WIDTH}} ", f"{CONTINUATION_MARK} "


def plain_row(row: Row, stamp: str) -> str:
    """The row as the Log shows it, without styles (trailing spaces dropped)."""
    if row.first:
        head = "".join(head_text(row, stamp))
    else:
        head = "".join(continuation_text(row.record.source, stamp))
    return (head + lead_text(row) + row.text + row.note).rstrip()


def lead_text(row: Row) -> str:
    """What comes before a row's text: a message's summary, bracketed ("[len 100] ")."""
    return f"[{row.lead}] " if row.lead else ""
