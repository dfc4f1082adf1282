"""The view's rows: a record's lines as drawn, decoded only when first drawn."""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

from workbench.codec import decode_for_display
from workbench.log.message_framing import (
    MESSAGE_ROW_FIELDS,
    MessageRecord,
    MessageRow,
    message_of_row,
    shown_summary,
)
from workbench.log.records import DATA, SEQ, RawRecord, Record
from workbench.log.ring import Ring

TAB_SIZE = 4


class Row:
    """One line of the view. A data row keeps its raw bytes and decodes them on first use:
    under a flood most rows are never drawn, and sanitizing is the costly part of a row."""

    __slots__ = ("_raw", "_text", "first", "lead", "note", "record")

    def __init__(self, record: Record, text: str | None, first: bool, note: str = "") -> None:
        self.record = record
        self._text = text
        self._raw = b""
        self.first = first  # the record's first row (the one with time, source and direction)
        self.note = note  # e.g. " … 12.0 KiB more"
        self.lead = ""  # shown before the text, marked: a message's summary ("len 100")

    @classmethod
    def of_bytes(cls, record: Record, raw: bytes, first: bool) -> Row:
        row = cls(record, None, first)
        row._raw = raw
        return row

    @property
    def text(self) -> str:
        """Safe to draw: sanitized, tabs expanded."""
        text = self._text
        if text is None:
            text = decode_for_display(self._raw, self.record.encoding)
            if "\t" in text:
                text = text.expandtabs(TAB_SIZE)
            self._text, self._raw = text, b""
        return text

    def _key(self) -> tuple[object, ...]:
        return (self.record, self.text, self.first, self.note, self.lead)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Row) and self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]  # mutable (the note grows), like a dataclass

    def __repr__(self) -> str:
        return f"Row({self.record.seq}, {self.text!r}, first={self.first}, note={self.note!r})"


def _message_row(message: MessageRecord) -> Row:
    """A message's one row (row_layout's, for one short line): its summary, then its bytes."""
    row = Row.of_bytes(message, message.data, True)
    row.lead = shown_summary(message.summary)
    return row


# What the view holds for a row: the row, or what stands for it until it is drawn.
RowItem = Row | RawRecord | MessageRecord | MessageRow


class RowRing(Ring[RowItem]):
    """The view's rows. A data record shown whole on one row is held as itself (raw), and so
    is a message shown whole on one row with its summary (text display, no error: a
    MessageRecord, or a MessageRow, its place in its record); each gets its Row when first
    asked for: under a flood most rows are never drawn."""

    __slots__ = ()

    def __getitem__(self, index: int) -> Row:
        items = self._items
        at = self._position(index)
        item = items[at]
        if isinstance(item, Row):
            return item
        assert item is not None  # a position that holds an item
        if isinstance(item, MessageRecord):
            row = _message_row(item)
        elif len(item) == MESSAGE_ROW_FIELDS:
            row = _message_row(message_of_row(cast("MessageRow", item)))
        else:
            raw = cast("RawRecord", item)
            row = Row.of_bytes(Record(*raw), raw[DATA], True)
        items[at] = row
        return row

    def __iter__(self) -> Iterator[Row]:
        for index in range(self._len):
            yield self[index]

    def drop_before(self, seq: int) -> int:
        """Remove from the front the rows of records before `seq`; returns how many."""
        # Rows are in seq order: find the first one to keep by bisection, clear the rest
        # with slices (popleft_many).
        items = self._items
        size = len(items)
        start, n = self._start, self._len
        low, high = 0, n
        while low < high:
            middle = (low + high) // 2
            item = items[(start + middle) % size]
            assert item is not None  # a position that holds an item
            if isinstance(item, Row):
                item_seq = item.record.seq
            elif isinstance(item, MessageRecord):
                item_seq = item.seq
            elif len(item) == MESSAGE_ROW_FIELDS:
                item_seq = cast("MessageRow", item)[0].seq
            else:
                item_seq = cast("RawRecord", item)[SEQ]
            if item_seq < seq:
                low = middle + 1
            else:
                high = middle
        self.popleft_many(low)
        return low
