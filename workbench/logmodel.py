"""The Log's model: held records (with their bytes, bounded), how they are framed, filtered
and laid out as rows. Pure Python, no Textual: the LogView widget only draws rows.

Every row's text comes from `codec.decode_for_display`, `codec.sanitize_text`,
`codec.format_hex` or `codec.hexdump`, so nothing a peer sends reaches the terminal as is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from workbench.codec import decode_for_display, format_size, hexdump, sanitize_text
from workbench.peer_regex import compile_peer_regex

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_RECORDS",
    "MAX_HELD_BYTES",
    "MAX_LOG_RECORDS",
    "RECORD_OVERHEAD",
    "LineFramer",
    "LogModel",
    "Record",
    "RecordStore",
    "Row",
    "ViewSettings",
    "compile_filter",
    "layout",
]

# What one record keeps of its bytes for the view (the detail view shows these);
# the transcript keeps every byte.
MAX_HELD_BYTES = 64 * 1024

DEFAULT_MAX_RECORDS = 100_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
# What holding one record costs besides its bytes: the tuple (11 slots), its time and seq
# objects, its slots in the record and row rings, the bytes object's header. Measured with
# tracemalloc on 200,000 held datagrams: 202 bytes each with no data, 233 with some. The
# memory cap counts it, so records of no bytes at all (empty datagrams) are bounded too.
RECORD_OVERHEAD = 240
# The most records --log-records may ask for: DEFAULT_MAX_BYTES holds about 280,000
# records even when they are empty (RECORD_OVERHEAD each), so a higher count is never held.
MAX_LOG_RECORDS = 250_000

# Layout caps: what the view shows of one record (the detail view and transcript have more).
MAX_ROWS_PER_RECORD = 500
MAX_ROW_BYTES = 400
TAB_SIZE = 4
HEX_WIDTH = 16

# A line feed as each encoding writes it: rows end there, not at any 0x0a byte.
LINE_FEEDS = {"utf-16le": b"\n\x00", "utf-16be": b"\x00\n"}

DISPLAYS = ("text", "hex", "both")
FRAMINGS = ("raw", "lines")
DIRECTIONS = ("both", "in", "out")


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
SEQ, TS, DATA = 0, 1, 4


def as_raw(record: Record | RawRecord) -> RawRecord:
    return record if type(record) is tuple else record.raw()  # type: ignore[union-attr,return-value]


# ---------------------------------------------------------------- ring

T = TypeVar("T")


class _Ring(Generic[T]):
    """A bounded FIFO with O(1) append, popleft and indexing (a deque indexes in O(n)).

    The backing list grows by doubling up to `capacity`, so a small log costs little.
    """

    __slots__ = ("_items", "_len", "_start", "capacity")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        self.capacity = capacity
        self._items: list[T | None] = []
        self._start = 0
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def append(self, item: T) -> T | None:
        """Add `item` at the end; when full, the oldest item is overwritten and returned."""
        items = self._items
        size = len(items)
        n = self._len
        if n == size:
            if size == self.capacity:
                old = items[self._start]
                items[self._start] = item
                self._start = (self._start + 1) % size
                return old
            # Grow by doubling (unrolled so the order is 0..n-1): amortised O(1).
            grown = min(self.capacity, max(16, size * 2))
            start = self._start
            items = items[start:] + items[:start] + [None] * (grown - size)
            self._items = items
            self._start = 0
            size = grown
        items[(self._start + n) % size] = item
        self._len = n + 1
        return None

    def extend(self, new: list[T]) -> list[T]:
        """Append every item of `new`; returns the items overwritten (oldest first).

        When the ring is full (a flood's steady state) it is done with slices, not a
        Python step per item."""
        items = self._items
        size, k, n = len(items), len(new), self._len
        if not k:
            return []
        if n + k <= size:  # room in the backing list: nothing grows, nothing is overwritten
            at = (self._start + n) % size
            end = at + k
            if end <= size:
                items[at:end] = new
            else:
                items[at:] = new[: size - at]
                items[: end - size] = new[size - at :]
            self._len = n + k
            return []
        if n == size == self.capacity and k <= size:
            start = self._start
            end = start + k
            if end <= size:
                overwritten = items[start:end]
                items[start:end] = new
            else:
                first = size - start
                overwritten = items[start:] + items[: end - size]
                items[start:] = new[:first]
                items[: end - size] = new[first:]
            self._start = end % size
            return overwritten  # type: ignore[return-value]
        append = self.append
        return [old for old in map(append, new) if old is not None]

    def popleft(self) -> T:
        if not self._len:
            raise IndexError("pop from an empty ring")
        items = self._items
        item = items[self._start]
        items[self._start] = None  # let it be freed
        self._start = (self._start + 1) % len(items)
        self._len -= 1
        return item  # type: ignore[return-value]

    def popleft_many(self, count: int) -> None:
        """Forget the `count` oldest items (at most all of them)."""
        count = min(count, self._len)
        if not count:
            return
        items, size, start = self._items, len(self._items), self._start
        end = start + count
        if end <= size:
            items[start:end] = [None] * count
        else:
            items[start:] = [None] * (size - start)
            items[: end - size] = [None] * (end - size)
        self._start = end % size
        self._len -= count

    def _position(self, index: int) -> int:
        """Where item `index` (negative: from the end) sits in the backing list."""
        n = self._len
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(index)
        return (self._start + index) % len(self._items)

    def __getitem__(self, index: int) -> T:
        return self._items[self._position(index)]  # type: ignore[return-value]

    def __setitem__(self, index: int, item: T) -> None:
        self._items[self._position(index)] = item

    def __iter__(self) -> Iterator[T]:
        items = self._items
        start, end = self._start, self._start + self._len
        if end <= len(items):
            yield from items[start:end]  # type: ignore[misc]
        else:
            yield from items[start:]  # type: ignore[misc]
            yield from items[: end - len(items)]  # type: ignore[misc]

    def slice(self, start: int, end: int) -> list[T]:
        """Items `start` to `end` (not included), as a list, without a step per item."""
        n = self._len
        start, end = max(0, start), min(n, end)
        if start >= end:
            return []
        items, size = self._items, len(self._items)
        first, last = (self._start + start) % size, (self._start + end) % size
        if first < last:
            return items[first:last]  # type: ignore[return-value]
        return items[first:] + items[:last]  # type: ignore[return-value]

    def clear(self) -> None:
        self._items = []
        self._start = 0
        self._len = 0


# ---------------------------------------------------------------- store


class RecordStore:
    """The raw records the Log holds, oldest first, bounded by count and by memory: the
    bytes held plus `record_overhead` for each record (see `memory`).

    Records must be appended with consecutive `seq` values (the session numbers every
    record it logs, and all of them come here), so a seq maps to an index by subtraction.
    After `clear()` the next record may start anywhere.
    """

    def __init__(
        self,
        max_records: int = DEFAULT_MAX_RECORDS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        record_overhead: int = RECORD_OVERHEAD,
    ) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must not be negative, not {max_bytes}")
        if record_overhead < 0:
            raise ValueError(f"record_overhead must not be negative, not {record_overhead}")
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.record_overhead = record_overhead
        self._ring: _Ring[RawRecord] = _Ring(max_records)
        self.bytes = 0  # sum of len(record.data) over the records held
        self.dropped = 0
        self.dropped_bytes = 0
        self._next_seq: int | None = None

    def append(self, record: Record | RawRecord) -> None:
        self.extend([as_raw(record)])

    def extend(self, records: list[RawRecord]) -> None:
        """Hold `records` (consecutive seqs after the last one held), in one step."""
        if not records:
            return
        first, last = records[0][SEQ], records[-1][SEQ]
        if (self._next_seq is not None and first != self._next_seq) or (
            last - first != len(records) - 1
        ):
            follows = "" if self._next_seq is None else f" do not follow {self._next_seq - 1}"
            raise ValueError(
                f"records {first}..{last}{follows}: "
                "records must be appended with consecutive seq values"
            )
        self._next_seq = last + 1
        ring = self._ring
        self.bytes += sum([len(record[DATA]) for record in records])
        overwritten = ring.extend(records)
        if overwritten:
            size = sum([len(record[DATA]) for record in overwritten])
            self.bytes -= size
            self.dropped += len(overwritten)
            self.dropped_bytes += size
        # The newest record is always held, even alone over max_bytes, so the view can show it.
        overhead = self.record_overhead
        excess = self.bytes + overhead * len(ring) - self.max_bytes
        if excess > 0 and len(ring) > 1:
            # The oldest records that free enough, dropped in one step.
            count = freed = 0
            most = len(ring) - 1
            while freed < excess and count < most:
                for old in ring.slice(count, min(most, count + 256)):
                    freed += len(old[DATA]) + overhead
                    count += 1
                    if freed >= excess:
                        break
            size = freed - overhead * count
            ring.popleft_many(count)
            self.bytes -= size
            self.dropped += count
            self.dropped_bytes += size

    @property
    def memory(self) -> int:
        """What the cap (`max_bytes`) is checked against: the bytes held, plus
        `record_overhead` for each record held."""
        return self.bytes + self.record_overhead * len(self._ring)

    def __len__(self) -> int:
        return len(self._ring)

    def __getitem__(self, index: int) -> Record:
        return Record(*self._ring[index])

    def __iter__(self) -> Iterator[Record]:
        for raw in self._ring:
            yield Record(*raw)

    def raw(self) -> Iterator[RawRecord]:
        return iter(self._ring)

    def raw_slice(self, start: int, end: int) -> list[RawRecord]:
        """The records held at indexes `start` to `end` (not included)."""
        return self._ring.slice(start, end)

    def set_encodings(self, encodings: dict[str, str]) -> None:
        """Label the records of these sources with a new encoding (source -> encoding)."""
        ring = self._ring
        for index, raw in enumerate(ring):
            encoding = encodings.get(raw[2])
            if encoding is not None and raw[8] != encoding:
                ring[index] = (*raw[:8], encoding, *raw[9:])  # type: ignore[assignment]

    def clear(self) -> None:
        """Forget every record held (a user's choice, so not counted as dropped)."""
        self._ring.clear()
        self.bytes = 0
        self._next_seq = None

    @property
    def first_seq(self) -> int | None:
        """The seq of the oldest record held (None when empty)."""
        return self._ring[0][SEQ] if len(self._ring) else None

    def get_by_seq(self, seq: int) -> Record | None:
        ring = self._ring
        if not len(ring):
            return None
        index = seq - ring[0][SEQ]
        if 0 <= index < len(ring):
            return Record(*ring[index])
        return None


# ---------------------------------------------------------------- settings and filters


@dataclass(frozen=True)
class ViewSettings:
    display: str = "text"  # "text", "hex" or "both" (hexdump -C style)
    framing: str = "raw"  # "raw" (records as read) or "lines" (reassembled at LF)
    relative_time: bool = False
    sources: frozenset[str] | None = None  # None: every source
    direction: str = "both"  # "both", "in" or "out"; info and error records always pass
    text: str = ""  # case-insensitive, matched against the record's display text
    regex: bool = False  # `text` is a regular expression
    hex_pattern: bytes = b""  # records whose held bytes contain this

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("display", self.display, DISPLAYS),
            ("framing", self.framing, FRAMINGS),
            ("direction", self.direction, DIRECTIONS),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")


def _accept_all(record: Record) -> bool:
    return True


def compile_search(pattern: str, regex: bool) -> Callable[[str], bool]:
    """A case-insensitive "does this text contain the pattern" test (for filters and find).

    Raises ValueError (a PatternError) with a plain message for a regular expression the
    engine does not take.
    """
    if regex:
        # RE2, linear in the text: the text is a peer's (workbench.peer_regex).
        return compile_peer_regex(pattern).search
    folded = pattern.casefold()
    return lambda text: folded in text.casefold()


def compile_filter(settings: ViewSettings) -> Callable[[Record], bool]:
    """The test a (framed) record must pass to be shown. Raises ValueError for a bad regex."""
    tests: list[Callable[[Record], bool]] = []
    sources = settings.sources
    if sources is not None:
        tests.append(lambda record: record.source in sources)
    if settings.direction != "both":
        direction = settings.direction
        tests.append(lambda record: record.kind == direction or not record.is_data)
    if settings.hex_pattern:
        pattern = settings.hex_pattern
        # Info and error records hold no bytes, so they cannot contain the pattern.
        tests.append(lambda record: record.is_data and pattern in record.data)
    if settings.text:
        # Last: decoding is the costly test, so cheaper ones reject first.
        contains = compile_search(settings.text, settings.regex)
        tests.append(lambda record: contains(record.display_text()))
    if not tests:
        return _accept_all
    if len(tests) == 1:
        return tests[0]
    return lambda record: all(test(record) for test in tests)


# ---------------------------------------------------------------- framing


@dataclass(slots=True)
class _Tail:
    parts: list[bytes]
    size: int
    chunks: int  # raw records that contributed
    last: Record  # the latest of them: its seq, ts, unit and encoding label the tail


class LineFramer:
    """Reassembles the data of each (source, kind) into lines ending in LF, across records.

    A CRLF line is one line (the CR is just part of it). In UTF-16 a line ends at the two
    bytes of its line feed, at whole code units of the line (never at a 0x0a byte inside
    another character), also when a record ends between the two bytes. A line longer than
    `max_line` bytes is emitted in `max_line` pieces marked `continues`, so what is held
    stays bounded. A record that does not hold all its bytes (`missing`) ends the line it is
    in: the line is emitted with that gap counted in its size, and the next bytes start
    a new line.
    """

    def __init__(self, max_line: int = MAX_HELD_BYTES) -> None:
        if max_line < 1:
            raise ValueError(f"max_line must be at least 1, not {max_line}")
        self.max_line = max_line
        self._tails: dict[tuple[str, str], _Tail] = {}

    def feed(self, record: Record) -> list[Record]:
        """The lines `record` completes, oldest first.

        An info or error record first flushes the unfinished lines of its source (so a
        partial line is shown before "closed by peer"), then is returned unchanged.
        """
        if not record.is_data:
            out = self.flush(record.source)
            out.append(record)
            return out
        key = (record.source, record.kind)
        tail = self._tails.pop(key, None)
        data = record.data
        feed = LINE_FEEDS.get(record.encoding, b"\n")
        out: list[Record] = []
        # Pieces of an over-long UTF-16 line are whole code units, so the next stays aligned.
        limit = self.max_line if len(feed) == 1 or self.max_line < 2 else self.max_line & ~1
        pos, n = 0, len(data)
        while pos < n:
            room = limit - (tail.size if tail is not None else 0)
            nl = _line_end(data, pos, pos + room, feed, tail)
            if nl >= 0:
                out.append(_line(record, tail, data[pos : nl + 1]))
                tail = None
                pos = nl + 1
            elif n - pos <= room:
                piece = data[pos:]
                if tail is None:
                    tail = _Tail([piece], len(piece), 1, record)
                else:
                    tail.parts.append(piece)
                    tail.size += len(piece)
                    tail.chunks += 1
                    tail.last = record
                pos = n
            else:
                # No line end within the room left: emit a full piece; the line goes on,
                # from the character the limit would cut (see _character_cut).
                back = _character_cut(data, pos, room, tail, record.encoding)
                if back <= room:
                    out.append(_line(record, tail, data[pos : pos + room - back], True))
                    tail = None
                    pos += room - back
                else:  # that character began in an earlier record: it starts the next piece
                    assert tail is not None
                    held, keep = b"".join(tail.parts), back - room
                    before = _tail_record(_Tail([held[:-keep]], 0, 0, tail.last), tail.last, 0)
                    before.chunks, before.continues = tail.chunks, True
                    out.append(before)
                    tail = _Tail([held[-keep:]], keep, 1, tail.last)
        missing = record.missing
        if missing > 0:
            # The unheld bytes may hold line ends we cannot see: end the line here.
            if tail is None:
                out.append(Record(*_labels(record), b"", missing, 1, record.unit, record.encoding))
            else:
                chunks = tail.chunks + (tail.last is not record)
                gap = _tail_record(tail, record, chunks)
                gap.size += missing
                out.append(gap)
                tail = None
        if tail is not None:
            self._tails[key] = tail
        return out

    def flush(self, source: str | None = None) -> list[Record]:
        """Emit and forget the unfinished lines of `source` (all sources when None)."""
        keys = [key for key in self._tails if source is None or key[0] == source]
        out = []
        for key in keys:
            tail = self._tails.pop(key)
            out.append(_tail_record(tail, tail.last, tail.chunks))
        return out

    def pending(self) -> list[Record]:
        """The unfinished lines, as records, without forgetting them (for display)."""
        out = []
        for tail in self._tails.values():
            if len(tail.parts) > 1:
                # Joined once, so repeated display of a growing line stays linear.
                tail.parts = [b"".join(tail.parts)]
            out.append(_tail_record(tail, tail.last, tail.chunks))
        return out

    def clear(self) -> None:
        self._tails.clear()


def _line_end(data: bytes, start: int, end: int, feed: bytes, tail: _Tail | None) -> int:
    """Where in data[start:end] the first line feed ends (the index of its last byte), or
    -1. A two-byte feed counts only at the code units of the line, which began in `tail` if
    there is one (and may end with the first byte of the feed)."""
    if len(feed) == 1:
        return data.find(feed, start, end)
    if tail is not None and tail.size % 2:
        if start < end and tail.parts[-1][-1:] + data[start : start + 1] == feed:
            return start
        start += 1  # data[start] ends the code unit the tail began
    at = data.find(feed, start, end)
    while at >= 0 and (at - start) % 2:
        at = data.find(feed, at + 1, end)
    return at + 1 if at >= 0 else -1


def _character_cut(data: bytes, pos: int, room: int, tail: _Tail | None, encoding: str) -> int:
    """How many bytes before `pos + room` the piece of an over-long line should end, so that
    no character is cut in two (0 when none would be, or when the line limit is smaller than
    the character)."""
    end = pos + room
    window = data[max(pos, end - 4) : end]
    held = tail.size if tail is not None else 0
    if len(window) < 4 and tail is not None:
        window = (b"".join(tail.parts) + window)[-4:]
    back = incomplete_tail(window, encoding)
    return back if back < held + room else 0


def _labels(record: Record) -> tuple[int, float, str, str]:
    return record.seq, record.ts, record.source, record.kind


def _line(record: Record, tail: _Tail | None, piece: bytes, continues: bool = False) -> Record:
    if tail is None:
        data, chunks = piece, 1
    else:
        tail.parts.append(piece)
        data, chunks = b"".join(tail.parts), tail.chunks + 1
    return Record(
        *_labels(record), data, len(data), chunks, record.unit, record.encoding,
        continues=continues,
    )  # fmt: skip


def _tail_record(tail: _Tail, last: Record, chunks: int) -> Record:
    data = b"".join(tail.parts)
    return Record(*_labels(last), data, len(data), chunks, last.unit, last.encoding)


# ---------------------------------------------------------------- layout


_DATA_KINDS = frozenset({"in", "out"})


class Row:
    """One line of the view. A data row keeps its raw bytes and decodes them on first use:
    under a flood most rows are never drawn, and sanitizing is the costly part of a row."""

    __slots__ = ("_raw", "_text", "first", "note", "record")

    def __init__(self, record: Record, text: str | None, first: bool, note: str = "") -> None:
        self.record = record
        self._text = text
        self._raw = b""
        self.first = first  # the record's first row (the one with time, source and direction)
        self.note = note  # e.g. " … 12.0 KiB more"

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
        return (self.record, self.text, self.first, self.note)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Row) and self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]  # mutable (the note grows), like a dataclass

    def __repr__(self) -> str:
        return f"Row({self.record.seq}, {self.text!r}, first={self.first}, note={self.note!r})"


class _RowRing(_Ring[Row | RawRecord]):
    """The view's rows. A data record shown whole on one row is held as itself (raw) and
    gets its Row when first asked for: under a flood most rows are never drawn."""

    __slots__ = ()

    def __getitem__(self, index: int) -> Row:  # type: ignore[override]
        items = self._items
        at = self._position(index)
        item = items[at]
        if type(item) is tuple:
            item = items[at] = Row.of_bytes(Record(*item), item[DATA], True)
        return item  # type: ignore[return-value]

    def __iter__(self) -> Iterator[Row]:  # type: ignore[override]
        for index in range(self._len):
            yield self[index]

    def drop_before(self, seq: int) -> int:
        """Remove from the front the rows of records before `seq`; returns how many."""
        # Rows are in seq order: find the first one to keep by bisection, clear the rest
        # with slices.
        items = self._items
        size = len(items)
        start, n = self._start, self._len
        low, high = 0, n
        while low < high:
            middle = (low + high) // 2
            item = items[(start + middle) % size]
            if (item[SEQ] if type(item) is tuple else item.record.seq) < seq:  # type: ignore[union-attr,index]
                low = middle + 1
            else:
                high = middle
        count = low
        if count:
            end = start + count
            if end <= size:
                items[start:end] = [None] * count
            else:
                items[start:] = [None] * (size - start)
                items[: end - size] = [None] * (end - size)
            self._start = end % size
            self._len = n - count
        return count


def _in_chunks(record: Record) -> str:
    return f" in {record.chunks:,} {record.unit}" if record.chunks > 1 else ""


CONTINUES_NOTE = " … the line goes on below"


def split_lines(data: bytes, encoding: str, limit: int | None = None) -> list[bytes]:
    """`data` cut after each line feed of `encoding` (UTF-16 only at whole code units); with
    `limit`, only the first `limit` pieces (the rest is not split, nor returned)."""
    feed = LINE_FEEDS.get(encoding, b"\n")
    if len(feed) == 1:
        lines = data.split(feed) if limit is None else data.split(feed, limit)
        more = limit is not None and len(lines) > limit
        pieces = [line + feed for line in lines[:-1]]
        if (lines[-1] or not pieces) and not more:
            pieces.append(lines[-1])
        return pieces
    pieces, start = [], 0
    for unit in range(0, len(data) - 1, 2):
        if limit is not None and len(pieces) == limit:
            return pieces
        if data[unit : unit + 2] == feed:
            pieces.append(data[start : unit + 2])
            start = unit + 2
    if (start < len(data) or not pieces) and (limit is None or len(pieces) < limit):
        pieces.append(data[start:])
    return pieces


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


def _text_rows(record: Record) -> list[Row]:
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
        return _text_rows(record)
    return _hex_rows(record, settings.display == "both")


# ---------------------------------------------------------------- model

_DEFAULT_SETTINGS = ViewSettings()
PENDING_NOTE = " … (line not finished yet)"


@dataclass(slots=True)
class _Stage:
    """What turns raw records into rows under one set of settings."""

    settings: ViewSettings
    accept: Callable[[Record], bool]
    framer: LineFramer | None = None

    @property
    def fast(self) -> bool:
        # Text display, raw framing, no filter: each record is laid out directly.
        return (
            self.framer is None and self.accept is _accept_all and (self.settings.display == "text")
        )


def _stage(settings: ViewSettings) -> _Stage:
    accept = compile_filter(settings)  # first: a bad regex must change nothing
    framer = LineFramer() if settings.framing == "lines" else None
    return _Stage(settings, accept, framer)


class LogModel:
    """Raw records (bounded), and the rows they make under the current ViewSettings.

    `rows` only show records the store still holds: when the store drops a record, its
    rows go too, so memory is bounded by the store's limits plus `max_rows` rows.
    `rows_dropped + i` identifies row i until the next `apply()` or `clear()`, which
    increment `generation` (so a widget knows to drop its cached lines).
    """

    def __init__(
        self, max_records: int = DEFAULT_MAX_RECORDS, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        if not 1 <= max_records <= MAX_LOG_RECORDS:
            raise ValueError(f"max_records must be 1 to {MAX_LOG_RECORDS:,}, not {max_records:,}")
        self.store = RecordStore(max_records, max_bytes)
        self.max_rows = max_records * 2
        self.rows = _RowRing(self.max_rows)
        self.rows_dropped = 0
        self.generation = 0
        self._stage = _stage(_DEFAULT_SETTINGS)
        self._clears = 0
        # Relative times count from the session's first record, even once it is dropped.
        self.session_start: float | None = None

    @property
    def settings(self) -> ViewSettings:
        return self._stage.settings

    @property
    def records_dropped(self) -> int:
        return self.store.dropped

    def append(self, records: Iterable[Record | RawRecord]) -> int:
        """Hold `records` and add their rows; returns how many rows were added."""
        raws = [r if type(r) is tuple else r.raw() for r in records]  # as_raw, inline
        if not raws:
            return 0
        if self.session_start is None:
            self.session_start = raws[0][TS]
        self.store.extend(raws)
        new_rows = self._rows_of(raws, self._stage)
        self.rows_dropped += len(self.rows.extend(new_rows))
        self._drop_rows_of_dropped_records()
        return len(new_rows)

    def _rows_of(self, raws: Iterable[RawRecord], stage: _Stage) -> list[Row | RawRecord]:
        if not stage.fast:
            return [row for raw in raws for row in self._rows_for(Record(*raw), stage)]
        rows: list[Row | RawRecord] = []
        add = rows.append
        for raw in raws:
            # The common case, and a flood's: the record stands for its one row (_RowRing).
            # (_short_line, written out: this runs for every record.)
            data = raw[4]
            if (
                raw[3] in _DATA_KINDS
                and len(data) <= MAX_ROW_BYTES
                and raw[5] == len(data)
                and not raw[10]
                and raw[8] not in LINE_FEEDS
                and data.find(b"\n") in (-1, len(data) - 1)
            ):
                add(raw)
                continue
            record = Record(*raw)
            rows += _text_rows(record) if record.is_data else layout(record, stage.settings)
        return rows

    def _rows_for(self, record: Record, stage: _Stage) -> list[Row]:
        framed = stage.framer.feed(record) if stage.framer is not None else (record,)
        accept = stage.accept
        settings = stage.settings
        rows: list[Row] = []
        for item in framed:
            if accept(item):
                rows += layout(item, settings)
        return rows

    def _drop_rows_of_dropped_records(self) -> None:
        first = self.store.first_seq
        rows = self.rows
        if first is None:
            self.rows_dropped += len(rows)
            rows.clear()
            return
        self.rows_dropped += rows.drop_before(first)

    def apply(self, settings: ViewSettings) -> None:
        """Lay out every held record again under `settings` (a mode or filter changed), in
        one step. (`relayout` does it a slice at a time.)

        Raises ValueError (changing nothing) for an invalid regular expression.
        """
        job = self.relayout(settings)
        job.step(len(self.store) + 1)
        self.finish(job)

    def same_rows(self, settings: ViewSettings) -> bool:
        """Whether `settings` lay out the rows the current ones do: only the time differs,
        which is drawn, not laid out (see `retime`)."""
        return replace(settings, relative_time=False) == replace(self.settings, relative_time=False)

    def retime(self, settings: ViewSettings) -> None:
        """Take `settings` that differ only in the time shown (`same_rows`): no layout."""
        if not self.same_rows(settings):
            raise ValueError("these settings lay out other rows: apply them")
        self._stage = _Stage(settings, self._stage.accept, self._stage.framer)
        self.generation += 1

    def relayout(self, settings: ViewSettings) -> Relayout:
        """A job that lays out the held records under `settings` a slice at a time (see
        `Relayout`), while the current rows stay as they are and go on growing. Raises
        ValueError for an invalid regular expression."""
        return Relayout(self, settings)

    def finish(self, job: Relayout) -> None:
        """Show the rows of a job that laid out every held record (`job.step` said so)."""
        if job.restarts != self._clears or not job.done:
            raise ValueError("the relayout has not laid out every held record")
        self._stage = job.stage
        self.rows, self.rows_dropped = job.rows, job.rows_dropped
        self.generation += 1
        self._drop_rows_of_dropped_records()

    def _reset_rows(self) -> None:
        self.rows = _RowRing(self.max_rows)
        self.rows_dropped = 0
        self.generation += 1

    def clear(self) -> None:
        """Forget all records and rows (the settings and session start stay)."""
        self.store.clear()
        self._clears += 1  # a relayout in progress starts again
        self._reset_rows()
        if self._stage.framer is not None:
            self._stage.framer.clear()

    def pending_tail_rows(self) -> list[Row]:
        """Rows for the lines not finished yet (line framing), to show after `rows`."""
        stage = self._stage
        if stage.framer is None:
            return []
        rows: list[Row] = []
        for record in stage.framer.pending():
            if stage.accept(record):
                new = layout(record, stage.settings)
                new[-1].note += PENDING_NOTE
                rows += new
        return rows

    def find(
        self, pattern: str, start_row: int, backwards: bool = False, regex: bool = False
    ) -> int | None:
        """The index of the next row after (or before) `start_row` whose text contains
        `pattern` (case-insensitive), wrapping around; `start_row` itself is tried last.
        None when no row matches. Raises ValueError for an invalid regular expression.
        """
        n = len(self.rows)
        if not pattern or not n:
            return None
        contains = compile_search(pattern, regex)
        step = -1 if backwards else 1
        rows = self.rows
        index = start_row
        for _ in range(n):
            index = (index + step) % n
            if contains(rows[index].text):
                return index
        return None

    def time_text(self, record: Record) -> str:
        """`HH:MM:SS.mmm` local time, or `+12.345s` since the session's first record."""
        if self.settings.relative_time:
            start = self.session_start if self.session_start is not None else record.ts
            return f"{record.ts - start:+.3f}s"
        return format_clock_time(record.ts)


class Relayout:
    """The held records laid out again under new settings, a slice at a time, into rows of
    its own: records added meanwhile are laid out too (the store is read up to its end),
    records dropped meanwhile are skipped, a `clear()` starts it again. `LogModel.finish`
    then shows its rows in one step. The model's current rows are not touched."""

    def __init__(self, model: LogModel, settings: ViewSettings) -> None:
        self.model = model
        self.settings = settings
        self.stage = _stage(settings)  # first: a bad regex raises before anything changes
        self._start()

    def _start(self) -> None:
        model = self.model
        if self.stage.framer is not None:
            self.stage = _stage(self.settings)
        self.rows = _RowRing(model.max_rows)
        self.rows_dropped = 0
        self.restarts = model._clears
        self._next_seq = model.store.first_seq

    @property
    def done(self) -> bool:
        """Whether every record the store holds is laid out."""
        store = self.model.store
        first = store.first_seq
        return first is None or (
            self._next_seq is not None and self._next_seq >= first + len(store)
        )

    def step(self, count: int) -> bool:
        """Lay out up to `count` more records; True once every held record is."""
        model = self.model
        if self.restarts != model._clears:
            self._start()
        store = model.store
        first = store.first_seq
        if first is None:
            return True
        if self._next_seq is None:
            self._next_seq = first
        start = max(0, self._next_seq - first)
        end = min(len(store), start + count)
        raws = store.raw_slice(start, end)
        self.rows_dropped += len(self.rows.extend(model._rows_of(raws, self.stage)))
        self._next_seq = first + end
        return end >= len(store)


def format_clock_time(ts: float) -> str:
    """Local wall-clock time with milliseconds."""
    return time.strftime("%H:%M:%S", time.localtime(ts)) + f".{int(ts * 1000) % 1000:03d}"
