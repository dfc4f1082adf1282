"""Line framing in the Log: records reassembled into lines, across reads."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.logmodel.records import LINE_FEEDS, MAX_HELD_BYTES, Record, incomplete_tail


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
            flushed = self.flush(record.source)
            flushed.append(record)
            return flushed
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
