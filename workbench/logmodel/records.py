"""The Log's record: one read, send, datagram or note, as the view holds it (bytes bounded)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from workbench.codec import decode_for_display, sanitize_text

# What one record keeps of its bytes for the view (the detail view shows these);
# the transcript keeps every byte.
MAX_HELD_BYTES = 64 * 1024

# A line feed as each encoding writes it: rows end there, not at any 0x0a byte.
LINE_FEEDS = {"utf-16le": b"\n\x00", "utf-16be": b"\x00\n"}

DATA_KINDS = frozenset({"in", "out"})


# UTF-8 leads whose second byte has a narrower range than 0x80-0xbf (RFC 3629): no overlong
# forms, no surrogates, nothing over U+10FFFF.
_UTF8_SECOND = {0xE0: (0xA0, 0xBF), 0xED: (0x80, 0x9F), 0xF0: (0x90, 0xBF), 0xF4: (0x80, 0x8F)}


def incomplete_tail(data: bytes, encoding: str) -> int:
    """How many bytes at the end of `data` are the start of a character cut off there: a
    valid beginning of a UTF-8 sequence without its end; in UTF-16 an odd last byte, or a
    high surrogate without its pair (and the odd byte after it). Where `data` was cut from
    more bytes, leaving these out of what is shown keeps valid text from showing as
    `\\xNN` (kept for bytes that are not valid). 0 for bytes invalid whatever follows."""
    if encoding == "utf-8":
        for back in range(1, min(3, len(data)) + 1):
            byte = data[-back]
            if 0x80 <= byte <= 0xBF:
                continue  # a continuation byte: its lead is further back
            if not 0xC2 <= byte <= 0xF4:
                return 0  # ASCII (a whole character) or never valid
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            if back >= need:
                return 0  # the sequence is complete (or too long: invalid anyway)
            if back > 1:  # the second byte's range depends on the lead (RFC 3629)
                low, high = _UTF8_SECOND.get(byte, (0x80, 0xBF))
                if not low <= data[1 - back] <= high:
                    return 0
            return back
        return 0
    if encoding in LINE_FEEDS:  # UTF-16
        odd = len(data) % 2
        unit = data[len(data) - odd - 2 : len(data) - odd]
        if len(unit) == 2:
            high = unit[1] if encoding == "utf-16le" else unit[0]
            if 0xD8 <= high <= 0xDB:
                return odd + 2
        return odd
    return 0  # one byte, one character


def whole_characters(data: bytes, encoding: str) -> bytes:
    """`data` without the character cut off at its end (see `incomplete_tail`)."""
    back = incomplete_tail(data, encoding)
    return data[: len(data) - back] if back else data


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
    text: str = ""  # info and error records: plain text (from outside: sanitize to show)
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
