"""The Log's model: held records (with their bytes, bounded), how they are framed, filtered
and laid out as rows. Pure Python, no Textual: the LogView widget only draws rows.

Every row's text comes from `codec.decode_for_display`, `codec.sanitize_text`,
`codec.format_hex` or `codec.hexdump`, so nothing a peer sends reaches the terminal as is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from workbench.framing import LINE_FEEDS
from workbench.log.filters import accept_all, compile_filter, compile_search
from workbench.log.framing import RecordFramer
from workbench.log.message_framing import (
    MAX_FRAMED_SOURCES,
    PENDING_MESSAGE,
    FramedCounts,
    MessageRecord,
    MessageRecordFramer,
    MessageRow,
)
from workbench.log.records import DATA_KINDS, TS, RawRecord, Record
from workbench.log.row_layout import MAX_ROW_BYTES, layout, text_rows
from workbench.log.rows import Row, RowItem, RowRing
from workbench.log.settings import ViewSettings
from workbench.log.store import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_RECORDS,
    MAX_LOG_RECORDS,
    RecordStore,
)

_DEFAULT_SETTINGS = ViewSettings()
PENDING_NOTE = " … (line not finished yet)"


@dataclass(slots=True)
class _Stage:
    """What turns raw records into rows under one set of settings."""

    settings: ViewSettings
    accept: Callable[[Record], bool]
    framer: RecordFramer | MessageRecordFramer | None = None

    @property
    def fast(self) -> bool:
        # Text display, raw framing, no filter: each record is laid out directly.
        return (
            self.framer is None and self.accept is accept_all and (self.settings.display == "text")
        )


def _stage(settings: ViewSettings, framings: dict[str, str]) -> _Stage:
    accept = compile_filter(settings)  # first: a bad regex must change nothing
    framer: RecordFramer | MessageRecordFramer | None = None
    if settings.framing == "lines":
        framer = RecordFramer()
    elif settings.framing == "messages":
        framer = MessageRecordFramer(framings.get)
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
        self.rows = RowRing(self.max_rows)
        self.rows_dropped = 0
        self.generation = 0
        # Each framed connection's framing (its endpoint's framing=), for the messages view.
        self.framings: dict[str, str] = {}
        self._stage = _stage(_DEFAULT_SETTINGS, self.framings)
        self._clears = 0
        # Relative times count from the session's first record, even once it is dropped.
        self.session_start: float | None = None

    @property
    def settings(self) -> ViewSettings:
        return self._stage.settings

    def set_framing(self, source: str, spec: str | None) -> None:
        """Show `source`'s records framed as `spec` (`len:2:be`; None: as read) in the
        messages view, from its next record or the next relayout. The oldest of
        MAX_FRAMED_SOURCES go first."""
        self.framings.pop(source, None)
        if spec:
            self.framings[source] = spec
        while len(self.framings) > MAX_FRAMED_SOURCES:
            del self.framings[next(iter(self.framings))]
        if isinstance(self._stage.framer, MessageRecordFramer):
            self._stage.framer.forget(source)

    @property
    def framed_counts(self) -> FramedCounts:
        """What the messages view framed from the records it was given: messages, malformed
        ones, gaps (all 0 in the other views; a relayout frames the held records again and
        counts from there)."""
        framer = self._stage.framer
        return framer.counts if isinstance(framer, MessageRecordFramer) else FramedCounts()

    @property
    def records_dropped(self) -> int:
        return self.store.dropped

    def append(self, records: Iterable[Record | RawRecord]) -> int:
        """Hold `records` and add their rows; returns how many rows were added."""
        raws = [r.raw() if isinstance(r, Record) else r for r in records]  # as_raw, inline
        if not raws:
            return 0
        if self.session_start is None:
            self.session_start = raws[0][TS]
        self.store.extend(raws)
        new_rows = self._rows_of(raws, self._stage)
        self.rows_dropped += len(self.rows.extend(new_rows))
        self._drop_rows_of_dropped_records()
        return len(new_rows)

    def _rows_of(self, raws: Iterable[RawRecord], stage: _Stage) -> list[RowItem]:
        if not stage.fast:
            return [row for raw in raws for row in self._rows_for(Record(*raw), stage)]
        rows: list[RowItem] = []
        add = rows.append
        for raw in raws:
            # The common case, and a flood's: the record stands for its one row (RowRing).
            # (_short_line, written out: this runs for every record.)
            data = raw[4]
            size = len(data)
            if (
                raw[3] in DATA_KINDS
                and size <= MAX_ROW_BYTES
                and raw[5] == size
                and not raw[10]
                and raw[8] not in LINE_FEEDS
                and data.find(b"\n", 0, size - 1) < 0  # no line feed but a last one
            ):
                add(raw)
                continue
            record = Record(*raw)
            rows += text_rows(record) if record.is_data else layout(record, stage.settings)
        return rows

    def _rows_for(self, record: Record, stage: _Stage) -> list[RowItem]:
        framer = stage.framer
        accept = stage.accept
        settings = stage.settings
        text = settings.display == "text"
        framed: Iterable[Record | MessageRow]
        if framer is None:
            framed = (record,)
        elif (
            text
            and accept is accept_all
            and isinstance(framer, MessageRecordFramer)
            and record.encoding not in LINE_FEEDS
        ):
            # A message shown whole on one row stands for its row (a MessageRow).
            framed = framer.feed_rows(record, MAX_ROW_BYTES)
        else:
            framed = framer.feed(record)
        rows: list[RowItem] = []
        add = rows.append
        for item in framed:
            if type(item) is tuple:
                add(item)
                continue
            assert isinstance(item, Record)
            if not accept(item):
                continue
            # Under a filter too, a message shown whole on one row stands for its row
            # (RowRing), as a raw record does. (_short_line, written out: this runs for every
            # message.)
            if text and type(item) is MessageRecord and not item.error:
                data = item.data
                if (
                    len(data) <= MAX_ROW_BYTES
                    and item.size == len(data)
                    and item.encoding not in LINE_FEEDS
                    and data.find(b"\n") in (-1, len(data) - 1)
                ):
                    add(item)
                    continue
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
        """Whether `settings` lay out the rows the current ones do: only the time or the
        wrapping differ, which are drawn, not laid out (see `retime`)."""
        return _drawn_alike(settings) == _drawn_alike(self.settings)

    def retime(self, settings: ViewSettings) -> None:
        """Take `settings` that differ only in how rows are drawn (`same_rows`): the time
        shown, or wrapping. No layout."""
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
        self.rows = RowRing(self.max_rows)
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
            if not stage.accept(record):
                continue
            if isinstance(stage.framer, MessageRecordFramer):
                note = f"… {record.size:,} {PENDING_MESSAGE}"
                rows.append(Row(record, "", True, note))
                continue
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
        # First: a bad regex raises before anything changes.
        self.stage = _stage(settings, model.framings)
        self._start()

    def _start(self) -> None:
        model = self.model
        if self.stage.framer is not None:
            self.stage = _stage(self.settings, model.framings)
        self.rows = RowRing(model.max_rows)
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


def _drawn_alike(settings: ViewSettings) -> ViewSettings:
    """`settings` without what only changes how rows are drawn."""
    return replace(settings, relative_time=False, wrap=False)


def format_clock_time(ts: float) -> str:
    """Local wall-clock time with milliseconds."""
    return time.strftime("%H:%M:%S", time.localtime(ts)) + f".{int(ts * 1000) % 1000:03d}"
