"""Message framing in the Log: each connection's records reassembled into the messages of its
own framing (its endpoint's `framing=`: `len:2:be`, `netstring`...), one framer of
`workbench.framing` per connection and direction.

A message becomes one record (a `MessageRecord`: its summary and, for a malformed one, its
error beside the bytes), labelled by the record that completed it. A connection without a
framing shows its records as read. A framer never raises on a peer's bytes, and holds a
bounded amount; a framing that cannot be used is said once, in an error record.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from workbench.codec import sanitize_text
from workbench.framing.messages import (
    Framer,
    FramingError,
    Message,
    make_framer,
    pair_directions,
    parse_framing,
)
from workbench.log.records import MAX_HELD_BYTES, Record

# The most connections the Log remembers a framing for (the oldest are forgotten first:
# their records are shown as read from then on).
MAX_FRAMED_SOURCES = 10_000
# The sources whose framing state the view keeps (their framers, what they hold, whether
# their first record was seen): past it the oldest is forgotten.
MAX_TRACKED_SOURCES = 4 * MAX_FRAMED_SOURCES
PENDING_MESSAGE = "bytes of a message not finished yet"


@dataclass(slots=True)
class MessageRecord(Record):
    """A message as a record: `summary` ("len 100") is shown before its bytes, `error` (what
    is malformed) after them. Both come from a peer's bytes: sanitize them to show."""

    summary: str = ""
    error: str = ""
    fields: tuple[tuple[str, str], ...] = ()  # more for the detail view: ("length", "102")


# What a message says besides its bytes: its summary and fields (one pair for a flood's alike
# messages).
Shape = tuple[str, tuple[tuple[str, str], ...]]
# A message shown whole on one row, held as little as that takes until it is drawn (RowRing):
# the record that completed it, where its bytes lie in that record's (start << 32 | length),
# and its shape. Under a flood the Log then holds a message's bytes once, in its record, not
# again in a MessageRecord of its own.
MessageRow = tuple[Record, int, Shape]
MESSAGE_ROW_FIELDS = 3
MAX_SHAPES = 1024  # shapes remembered, to share one pair among alike messages


def message_of_row(row: MessageRow) -> MessageRecord:
    """The MessageRecord a MessageRow stands for (the same one `feed` makes)."""
    label, place, (summary, fields) = row
    start = place >> 32
    data = label.data[start : start + (place & 0xFFFFFFFF)]
    return MessageRecord(
        label.seq, label.ts, label.source, label.kind, data, len(data), 1, label.unit,
        label.encoding, label.text, False, summary, "", fields,
    )  # fmt: skip


@dataclass(slots=True)
class FramedCounts:
    """What a view framed: messages (malformed ones too), the malformed, and the gaps."""

    messages: int = 0
    malformed: int = 0
    gaps: int = 0


@functools.lru_cache(maxsize=1024)
def shown_summary(summary: str) -> str:
    """A message's summary, sanitized to show (once per summary: a flood's are often alike)."""
    return sanitize_text(summary)


class MessageRecordFramer:
    """Frames the data of each (source, direction) with the source's framing (`framing_of`:
    its spec, or None for none)."""

    def __init__(self, framing_of: Callable[[str], str | None]) -> None:
        self._framing_of = framing_of
        # A source's framer maker, or the words saying why its framing cannot be used.
        self._specs: dict[str, Callable[[], Framer] | str | None] = {}
        # The streams with a framer, and the last record that fed each (labels what is held).
        # (Kept while the Log frames: a framer that lost its place stays lost.)
        self._streams: dict[tuple[str, str], tuple[Framer, Record]] = {}
        self._told: set[str] = set()  # sources whose framing's problem was said
        # The other direction's framer, made with the first one's and paired with it, until
        # that direction's first record.
        self._unfed: dict[tuple[str, str], Framer] = {}
        # Sources with a record fed: a connection's first record is its "connecting" or
        # "accepted" note, so one whose first is data began before the records held.
        # In the order they were first seen, so that the oldest are forgotten first.
        self._seen: dict[str, None] = {}
        # What the view made of the bytes so far, for `--stats-file`: messages (malformed
        # ones too; not notes), the malformed among them, and gaps (bytes the Log never got,
        # after which a stream's framing starts again and may be wrong).
        self.counts = FramedCounts()
        self._shapes: dict[str, Shape] = {}  # by summary: see MessageRow

    def feed(self, record: Record) -> list[Record]:
        """The messages `record` completes (or `record` itself: not data, or not framed)."""
        return self.feed_rows(record, 0)  # type: ignore[return-value]  # no MessageRow

    def feed_rows(self, record: Record, one_row_bytes: int) -> list[Record | MessageRow]:
        """As `feed`, with each message of at most `one_row_bytes` that is one line (a line
        feed at most at its end), whole in `record`'s bytes and not malformed, as a
        MessageRow: its row until it is drawn. (0: none.)"""
        first = record.source not in self._seen
        if first:
            self._seen[record.source] = None
            if len(self._seen) > MAX_TRACKED_SOURCES:
                self._forget_oldest()
        if not record.is_data:
            return [record]
        maker = self._maker(record)
        if not callable(maker):
            if maker is None or record.source in self._told:
                return [record]
            self._told.add(record.source)
            return [_problem(record, maker), record]  # said once, then shown as read
        key = (record.source, record.kind)
        stream = self._streams.get(key)
        framer = stream[0] if stream is not None else self._new_framer(maker, key)
        out: list[Record | MessageRow] = []
        if first:
            out.append(_joined_late(record))
        held = framer.held  # what of the first message it completes came before record
        messages = framer.feed(record.data)
        if record.missing > 0:
            # Bytes the Log never got (merged under load): the framing cannot go on through
            # them. What was held ends there, and a new framer starts after the gap.
            messages = messages + framer.end()
        counts = self.counts
        counts.messages += len(messages)
        for message in messages:
            if message.error:
                counts.malformed += 1
        if record.missing > 0:
            counts.gaps += 1
        if one_row_bytes:
            self._add_rows(out, record, messages, -held, one_row_bytes)
        else:
            out += [_message_record(record, m) for m in messages]
        if record.missing > 0:
            gap = f"{record.missing:,} bytes were not kept (under load): framing starts again"
            labels = _labels(record)
            out.append(MessageRecord(*labels, b"", record.missing, summary="not kept", error=gap))
            framer = self._new_framer(maker, key)
        self._streams[key] = (framer, record)
        return out

    def _add_rows(
        self,
        out: list[Record | MessageRow],
        record: Record,
        messages: list[Message],
        at: int,
        one_row_bytes: int,
    ) -> None:
        """`messages` as rows where they can be (see `feed_rows`), else as records; `at`:
        where the first one begins in the record's bytes (before them: negative)."""
        data = record.data
        add = out.append
        shapes = self._shapes
        for message in messages:
            part = message.data
            end = at + len(part)
            # Its place is checked, not trusted: a row shows exactly the message's bytes.
            # (row_layout's one short line, written out: this runs for every message.)
            if (
                at >= 0
                and message.size < 0
                and not message.error
                and len(part) <= one_row_bytes
                and part.find(b"\n") in (-1, len(part) - 1)
                and data.startswith(part, at)
            ):
                summary, fields = message.summary, message.fields
                shape = shapes.get(summary)
                if shape is None or (shape[1] is not fields and shape[1] != fields):
                    if len(shapes) >= MAX_SHAPES:
                        shapes.clear()
                    shape = shapes[summary] = (summary, fields)
                add((record, at << 32 | len(part), shape))
            else:
                add(_message_record(record, message))
            at = end if message.size < 0 else at + message.size

    def _new_framer(self, maker: Callable[[], Framer], key: tuple[str, str]) -> Framer:
        """A framer for one direction, made with the other direction's and told of it from
        the start (HTTP pairs each response with its request: to HEAD, no body)."""
        made = self._unfed.pop(key, None)
        if made is not None:
            return made
        framer, other = maker(), maker()
        pair_directions(framer, other)
        source, kind = key
        other_key = (source, "out" if kind == "in" else "in")
        if other_key not in self._streams:
            self._unfed[other_key] = other
        return framer

    def _maker(self, record: Record) -> Callable[[], Framer] | str | None:
        source = record.source
        if source in self._specs:
            return self._specs[source]
        text = self._framing_of(source)
        maker: Callable[[], Framer] | str | None = None
        if text:
            try:
                spec = parse_framing(text)
                make_framer(spec)  # a framing module missing shows here, not per record
                maker = lambda spec=spec: make_framer(spec)  # noqa: E731
            except FramingError as exc:
                maker = f"framing {text} cannot be used: {exc}"
            except ImportError:
                maker = f"framing {text} is not in this version of sockbench"
        self._specs[source] = maker
        return maker

    def pending(self) -> list[Record]:
        """A record for each stream holding part of a message (its size; no bytes)."""
        return [
            MessageRecord(*_labels(last), b"", framer.held, *_shown_as(last))
            for framer, last in self._streams.values()
            if framer.held
        ]

    def _forget_oldest(self) -> None:
        """Bounded under connection churn: the oldest source's state goes (were it to send
        again, its next bytes are framed as a new stream's, which may start mid-message)."""
        source = next(iter(self._seen))
        del self._seen[source]
        self.forget(source)
        for kind in ("in", "out"):
            self._streams.pop((source, kind), None)
            self._unfed.pop((source, kind), None)

    def forget(self, source: str) -> None:
        """Ask `source`'s framing again at its next record (it was given one)."""
        self._specs.pop(source, None)
        self._told.discard(source)

    def clear(self) -> None:
        """The Log forgot its records: the streams go on (their next bytes are where their
        framing is), and what is held stays (the bytes of a message not finished yet)."""


def _labels(record: Record) -> tuple[int, float, str, str]:
    return record.seq, record.ts, record.source, record.kind


def _shown_as(record: Record) -> tuple[int, str, str, str]:
    """chunks, unit, encoding, origin of a message labelled by `record`."""
    return 1, record.unit, record.encoding, record.text


def _message_record(label: Record, message: Message) -> MessageRecord:
    data = message.data
    size = len(data) if message.size < 0 else message.size  # Message.whole_size, inline
    return MessageRecord(
        label.seq, label.ts, label.source, label.kind, data[:MAX_HELD_BYTES], size, 1,
        label.unit, label.encoding, label.text, False, message.summary, message.error,
        message.fields,
    )  # fmt: skip


def _joined_late(record: Record) -> Record:
    text = (
        f"{record.source}'s earlier records are not held: its messages are framed from the "
        "first one held, which may begin inside a message"
    )
    return Record(*_labels(record)[:3], "info", text=text)


def _problem(record: Record, words: str) -> Record:
    return Record(*_labels(record)[:3], "error", text=words)
