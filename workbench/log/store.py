"""The records the Log holds, bounded by count and by memory."""

from __future__ import annotations

from collections.abc import Iterator

from workbench.log.records import DATA, SEQ, RawRecord, Record, as_raw
from workbench.log.ring import Ring

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
        self._ring: Ring[RawRecord] = Ring(max_records)
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
                ring[index] = (*raw[:8], encoding, *raw[9:])

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
