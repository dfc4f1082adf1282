"""Line framing in the Log: each connection's records reassembled into line records, across
reads, by one `workbench.framing.LineFramer` per source and direction."""

from __future__ import annotations

from workbench.framing import Line, LineFramer
from workbench.log.records import MAX_HELD_BYTES, Record


class RecordFramer:
    """Reassembles the data of each (source, kind, origin) into lines, across records (see
    `LineFramer` for where lines end and how an over-long one is cut in pieces marked
    `continues`). A line record takes its seq, time, unit and encoding from the record that
    completed it. A record that does not hold all its bytes (`missing`) ends the line it
    is in: the line is emitted with that gap counted in its size, and the next bytes start
    a new line. Bytes a behaviour sent (their origin in `text`) make lines of their own,
    marked the same: an echo is never joined to what you typed.
    """

    def __init__(self, max_line: int = MAX_HELD_BYTES) -> None:
        if max_line < 1:
            raise ValueError(f"max_line must be at least 1, not {max_line}")
        self.max_line = max_line
        # Only sources with an unfinished line, the latest fed last (the order they show in),
        # with the latest record that has bytes in that line: it labels the line.
        self._streams: dict[tuple[str, str, str], tuple[LineFramer, Record]] = {}
        # A framer with nothing pending, for the next source (a record that ends its line,
        # the common case, makes none).
        self._spare = LineFramer(max_line=max_line)

    def feed(self, record: Record) -> list[Record]:
        """The lines `record` completes, oldest first.

        An info or error record first flushes the unfinished lines of its source (so a
        partial line is shown before "closed by peer"), then is returned unchanged.
        """
        if not record.is_data:
            flushed = self.flush(record.source)
            flushed.append(record)
            return flushed
        key = (record.source, record.kind, record.text)
        stream = self._streams.pop(key, None)
        framer, earlier = stream if stream is not None else (self._spare, record)
        framer.encoding = record.encoding
        out = []
        for line in framer.feed(record.data):
            if line.earlier:
                out.append(_line(earlier, line))
            else:  # _line(record, line), written out: this runs for every line
                data = line.data
                out.append(Record(
                    record.seq, record.ts, record.source, record.kind, data, len(data),
                    line.chunks, record.unit, record.encoding, record.text, line.continues,
                ))  # fmt: skip
        missing = record.missing
        if missing > 0:
            # The unheld bytes may hold line ends we cannot see: end the line here.
            gap = framer.flush()
            if gap is None:
                out.append(Record(*_labels(record), b"", missing, 1, *_shown_as(record)))
            else:
                # A record of no bytes still counts as one of the line's chunks.
                chunks = gap.chunks + (not record.data)
                size = len(gap.data) + missing
                labels = _labels(record)
                out.append(Record(*labels, gap.data, size, chunks, *_shown_as(record)))
        if framer.pending_size:
            self._streams[key] = (framer, record if record.data else earlier)
            if framer is self._spare:
                self._spare = LineFramer(max_line=self.max_line)
        return out

    def flush(self, source: str | None = None) -> list[Record]:
        """Emit and forget the unfinished lines of `source` (all sources when None)."""
        keys = [key for key in self._streams if source is None or key[0] == source]
        out = []
        for key in keys:
            framer, last = self._streams.pop(key)
            line = framer.flush()
            if line is not None:
                out.append(_line(last, line))
        return out

    def pending(self) -> list[Record]:
        """The unfinished lines, as records, without forgetting them (for display)."""
        out = []
        for framer, last in self._streams.values():
            line = framer.pending()
            if line is not None:
                out.append(_line(last, line))
        return out

    def clear(self) -> None:
        self._streams.clear()


def _labels(record: Record) -> tuple[int, float, str, str]:
    return record.seq, record.ts, record.source, record.kind


def _shown_as(record: Record) -> tuple[str, str, str]:
    """What a line takes from the record that labels it besides its place: unit, encoding,
    origin."""
    return record.unit, record.encoding, record.text


def _line(label: Record, line: Line) -> Record:
    """`line` as a record, labelled (seq, time, source, unit, encoding, origin) by `label`."""
    data = line.data
    return Record(
        *_labels(label), data, len(data), line.chunks, *_shown_as(label),
        continues=line.continues,
    )  # fmt: skip
