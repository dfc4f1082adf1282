"""The Log's record: one read, send, datagram or note, as the view holds it (bytes bounded)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from workbench.codec import decode_for_display, sanitize_text
from workbench.framing import whole_characters

# What one record keeps of its bytes for the view (the detail view shows these);
# the transcript keeps every byte.
MAX_HELD_BYTES = 64 * 1024

DATA_KINDS = frozenset({"in", "out"})


@dataclass(slots=True)
class Record:
    seq: int  # position in the whole session, never reused
    ts: float
    source: str  # connection or listener id
    kind: str  # "in", "out", "info" or "error"
    data: bytes = b""  # the first MAX_HELD_BYTES of the payload
    size: int = 0  # the payload's whole size
    chunks: int = 1  # reads or datagrams merged into this record
    unit: str = "reads"  # "reads" (streams) or "datagrams"
    encoding: str = "utf-8"
    # Info and error records: plain text (from outside: sanitize to show). Data records: who
    # sent the bytes when it was not you (an `Origin`, e.g. "echo"), else "".
    text: str = ""
    # Line framing only: this piece of an over-long line is followed by more of the line.
    continues: bool = False

    @property
    def is_data(self) -> bool:
        return self.kind in ("in", "out")

    @property
    def missing(self) -> int:
        """Bytes of the payload this record does not hold."""
        return self.size - len(self.data)

    def display_text(self) -> str:
        """The whole record as the text view shows it (before rows and tab expansion)."""
        if self.is_data:
            return decode_for_display(self.shown_data(), self.encoding)
        return sanitize_text(self.text)

    def shown_data(self) -> bytes:
        """The bytes the text view shows: what is held, without a character cut off at
        its end when the record does not hold all its bytes."""
        data = self.data
        return whole_characters(data, self.encoding) if self.size > len(data) else data

    def raw(self) -> RawRecord:
        return (
            self.seq, self.ts, self.source, self.kind, self.data, self.size, self.chunks,
            self.unit, self.encoding, self.text, self.continues,
        )  # fmt: skip


# A record as the Log holds it: a plain tuple of Record's fields, in their order. The cycle
# collector stops tracking a tuple of strings, bytes and numbers the first time it sees it,
# while it walked every held Record object again in each older-generation collection: under
# a flood that was a fifth of the UI thread's time. `Record(*raw)` makes the object again.
RawRecord = tuple[int, float, str, str, bytes, int, int, str, str, str, bool]
# Where a raw record keeps its seq, time and bytes.
SEQ: Final = 0
TS: Final = 1
DATA: Final = 4


def as_raw(record: Record | RawRecord) -> RawRecord:
    return record.raw() if isinstance(record, Record) else record
