"""The Log's pure model: bounded store, filters, line framing, layout and search."""

from __future__ import annotations

import gc
import random
import time
from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.codec import hexdump
from workbench.framing import split_lines
from workbench.log import (
    MAX_HELD_BYTES,
    MAX_ROW_BYTES,
    MAX_ROWS_PER_RECORD,
    LogModel,
    Record,
    RecordFramer,
    RecordStore,
    Row,
    ViewSettings,
    compile_filter,
    layout,
)
from workbench.log.ring import Ring
from workbench.log.rows import RowRing


def data(seq: int, payload: bytes, source: str = "c1", kind: str = "in", **kw: object) -> Record:
    return Record(seq, 1000.0 + seq, source, kind, payload, kw.pop("size", len(payload)), **kw)


def info(seq: int, text: str, source: str = "c1", kind: str = "info") -> Record:
    return Record(seq, 1000.0 + seq, source, kind, text=text)


def texts(rows: list[Row]) -> list[str]:
    return [row.text + row.note for row in rows]


# ---------------------------------------------------------------- ring and store


@given(st.lists(st.one_of(st.integers(0, 1000), st.none()), max_size=200))
def test_ring_behaves_like_a_bounded_deque(ops: list[int | None]) -> None:
    ring: Ring[int] = Ring(7)
    model: deque[int] = deque(maxlen=7)
    for op in ops:
        if op is None:
            if model:
                assert ring.popleft() == model.popleft()
        else:
            full = len(model) == 7
            old = ring.append(op)
            assert old == (model[0] if full else None)
            model.append(op)
        assert len(ring) == len(model)
        assert list(ring) == list(model)
        assert [ring[i] for i in range(len(ring))] == list(model)
        if model:
            assert ring[-1] == model[-1]


@given(
    st.integers(1, 9),
    st.lists(st.lists(st.integers(0, 1000), max_size=25), max_size=12),
)
def test_ring_extend_is_appending_each(capacity: int, batches: list[list[int]]) -> None:
    ring: Ring[int] = Ring(capacity)
    model: deque[int] = deque(maxlen=capacity)
    for batch in batches:
        expected_out = list(model) + batch
        expected_out = expected_out[: max(0, len(expected_out) - capacity)]
        assert ring.extend(batch) == expected_out
        model.extend(batch)
        assert list(ring) == list(model)
        assert [ring[i] for i in range(len(ring))] == list(model)


@given(
    st.integers(1, 70),
    st.lists(
        st.one_of(st.integers(0, 40), st.lists(st.integers(0, 1000), max_size=50)), max_size=20
    ),
)
def test_ring_grows_in_one_step_whatever_it_held(
    capacity: int, steps: list[int | list[int]]
) -> None:
    # Its backing list grows past 16 and 32 places with the items wrapped round it (the
    # oldest ones taken first), one batch at a time.
    ring: Ring[int] = Ring(capacity)
    model: deque[int] = deque(maxlen=capacity)
    for step in steps:
        if isinstance(step, int):
            ring.popleft_many(step)
            for _ in range(min(step, len(model))):
                model.popleft()
        else:
            expected_out = list(model) + step
            assert ring.extend(step) == expected_out[: max(0, len(expected_out) - capacity)]
            model.extend(step)
        assert list(ring) == list(model)
        assert [ring[i] for i in range(len(ring))] == list(model)
        assert ring.slice(0, len(ring)) == list(model)


@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 12)), max_size=30))
def test_row_ring_drops_the_rows_before_a_seq(steps: list[tuple[int, int]]) -> None:
    # Rows of consecutive records (one or two rows each), some held raw, the ring wrapping.
    ring = RowRing(12)
    model: deque[int] = deque()  # the seq of each row held
    seq = 0
    for adding, cut in steps:
        new = []
        for _ in range(adding):
            record = data(seq, b"x")
            new += [record.raw()] if seq % 3 else [Row(record, "a", True), Row(record, "b", False)]
            seq += 1
        ring.extend(new)
        model.extend(item[0] if isinstance(item, tuple) else item.record.seq for item in new)
        while len(model) > 12:
            model.popleft()
        dropped = ring.drop_before(cut + seq - 8)
        kept = [s for s in model if s >= cut + seq - 8]
        assert dropped == len(model) - len(kept)
        model = deque(kept)
        assert [row.record.seq for row in ring] == list(model)


@given(
    st.integers(1, 6),
    st.integers(0, 40),
    st.lists(st.lists(st.binary(max_size=12), max_size=8), max_size=10),
)
def test_store_extend_is_appending_each(
    max_records: int, max_bytes: int, batches: list[list[bytes]]
) -> None:
    one_by_one = RecordStore(max_records, max_bytes)
    in_batches = RecordStore(max_records, max_bytes)
    seq = 0
    for batch in batches:
        records = [data(seq + index, payload) for index, payload in enumerate(batch)]
        seq += len(records)
        for record in records:
            one_by_one.append(record)
        in_batches.extend([record.raw() for record in records])
        assert list(in_batches) == list(one_by_one)
        assert (in_batches.bytes, in_batches.dropped, in_batches.dropped_bytes) == (
            one_by_one.bytes,
            one_by_one.dropped,
            one_by_one.dropped_bytes,
        )


def test_store_extend_needs_consecutive_seqs() -> None:
    store = RecordStore()
    store.extend([data(1, b"a").raw(), data(2, b"b").raw()])
    with pytest.raises(ValueError, match="consecutive"):
        store.extend([data(4, b"c").raw()])
    with pytest.raises(ValueError, match="consecutive"):
        store.extend([data(3, b"c").raw(), data(5, b"d").raw()])
    assert [r.seq for r in store] == [1, 2]


def test_store_is_bounded_by_count() -> None:
    store = RecordStore(max_records=3)
    records = [data(seq, b"x") for seq in range(10, 15)]
    for record in records:
        store.append(record)
    assert len(store) == 3
    assert list(store) == records[2:]
    # Held as plain tuples (see RawRecord): equal records come back, not the same objects.
    assert store[0] == records[2] and store[-1] == records[4]
    assert store.first_seq == 12
    assert (store.dropped, store.dropped_bytes, store.bytes) == (2, 2, 3)
    assert store.get_by_seq(11) is None
    assert store.get_by_seq(12) == records[2]
    assert store.get_by_seq(14) == records[4]
    assert store.get_by_seq(15) is None
    with pytest.raises(IndexError):
        store[3]


def test_store_is_bounded_by_bytes() -> None:
    # The bytes alone here: tests/test_log_bounds.py counts each record's overhead too.
    store = RecordStore(max_records=100, max_bytes=10, record_overhead=0)
    for seq in range(5):
        store.append(data(seq, b"abcd"))
    assert [r.seq for r in store] == [3, 4]
    assert (store.bytes, store.dropped, store.dropped_bytes) == (8, 3, 12)
    # Info records hold no bytes: with no overhead counted, only max_records bounds them.
    store.append(info(5, "note"))
    assert len(store) == 3
    # The newest record is held even when it alone is over the limit.
    store.append(data(6, b"x" * 50))
    assert [r.seq for r in store] == [6]
    assert store.get_by_seq(6) == store[0]


def test_store_needs_consecutive_seqs_until_cleared() -> None:
    store = RecordStore()
    assert store.first_seq is None and store.get_by_seq(0) is None
    store.append(data(5, b"a"))
    with pytest.raises(ValueError, match="consecutive"):
        store.append(data(7, b"b"))
    store.clear()
    assert len(store) == 0 and store.dropped == 0 and store.bytes == 0
    store.append(data(40, b"c"))
    assert store.first_seq == 40


# ---------------------------------------------------------------- filters


MIXED = [
    data(0, b"Hello World\n", "c1", "in"),
    data(1, b"\x1b[31mred\x1b[0m", "c1", "out"),
    info(2, "c1 closed", "c1"),
    data(3, b"\xff\xfe\xbe\xef", "c2", "in"),
    info(4, "listener failed", "l1", "error"),
    data(5, b"caf\xe9", "c2", "out", encoding="latin-1"),
]


def passing(**kw: object) -> list[int]:
    accept = compile_filter(ViewSettings(**kw))
    return [record.seq for record in MIXED if accept(record)]


def test_no_filter_passes_all() -> None:
    assert passing() == [0, 1, 2, 3, 4, 5]


def test_sources_filter_applies_to_every_kind() -> None:
    assert passing(sources=frozenset({"c1"})) == [0, 1, 2]
    assert passing(sources=frozenset({"l1", "c2"})) == [3, 4, 5]
    assert passing(sources=frozenset()) == []


def test_direction_filter_lets_info_and_errors_through() -> None:
    assert passing(direction="in") == [0, 2, 3, 4]
    assert passing(direction="out") == [1, 2, 4, 5]


def test_text_filter_is_case_insensitive_on_the_display_text() -> None:
    assert passing(text="hello world") == [0]
    assert passing(text="WORLD\\n") == [0]  # LF is shown as \n
    assert passing(text="\\x1b[31m") == [1]  # the visible escape
    assert passing(text="\\xFF\\xfe") == [3]  # invalid UTF-8 shows as \xNN
    assert passing(text="café") == [5]  # decoded with the record's encoding
    assert passing(text="CLOSED") == [2]  # info text
    assert passing(text="nothing like it") == []


def test_regex_filter() -> None:
    assert passing(text=r"^h.*d\\n$", regex=True) == [0]
    assert passing(text=r"red|FAILED", regex=True) == [1, 4]
    # Without regex, metacharacters are plain text.
    assert passing(text="red|failed") == []


def test_invalid_regex_raises_a_plain_value_error() -> None:
    with pytest.raises(ValueError, match=r"invalid regular expression: missing \): \(abc"):
        compile_filter(ViewSettings(text="(abc", regex=True))


def test_hex_pattern_filter_matches_held_bytes_only() -> None:
    assert passing(hex_pattern=b"\xfe\xbe") == [3]
    assert passing(hex_pattern=b"\x1b[") == [1]
    assert passing(hex_pattern=b"closed") == []  # info records hold no bytes


def test_filters_combine() -> None:
    assert passing(sources=frozenset({"c1", "c2"}), direction="in") == [0, 2, 3]
    assert passing(sources=frozenset({"c1", "c2"}), direction="in", text="c") == [2]
    assert passing(direction="out", hex_pattern=b"\xe9", text="CAF") == [5]
    assert passing(direction="out", hex_pattern=b"\xe9", text="x") == []


def test_settings_reject_unknown_modes() -> None:
    with pytest.raises(ValueError, match="display"):
        ViewSettings(display="octal")
    with pytest.raises(ValueError, match="framing"):
        ViewSettings(framing="words")
    with pytest.raises(ValueError, match="direction"):
        ViewSettings(direction="sideways")


# ---------------------------------------------------------------- framing


def frame(chunks: list[bytes], framer: RecordFramer, source: str = "c1") -> list[Record]:
    out = []
    for seq, chunk in enumerate(chunks):
        out += framer.feed(data(seq, chunk, source))
    return out


def check_framing(chunks: list[bytes], max_line: int) -> None:
    framer = RecordFramer(max_line)
    lines = frame(chunks, framer)
    tail = framer.flush()
    assert len(tail) <= 1
    assert b"".join(r.data for r in lines + tail) == b"".join(chunks)
    for line in lines:
        assert line.size == len(line.data) <= max_line
        if line.continues:
            # A piece ends before a UTF-8 character the limit would cut (at most 3 bytes).
            assert max_line - 3 <= len(line.data) <= max_line
            assert not line.data.endswith(b"\n")
        else:
            assert line.data.endswith(b"\n") and b"\n" not in line.data[:-1]
    for piece in tail:
        assert b"\n" not in piece.data and not piece.continues
    assert framer.flush() == []


@given(st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\x00", b"\n")), max_size=40))
def test_framing_keeps_every_byte_and_ends_lines_at_lf(chunks: list[bytes]) -> None:
    check_framing(chunks, MAX_HELD_BYTES)
    check_framing(chunks, 5)  # with over-long lines split into pieces


@settings(max_examples=50)
@given(st.binary(max_size=200).map(lambda b: b.replace(b"\x00", b"\n")))
def test_framing_a_peer_sending_one_byte_at_a_time(payload: bytes) -> None:
    chunks = [payload[i : i + 1] for i in range(len(payload))]
    check_framing(chunks, MAX_HELD_BYTES)
    check_framing(chunks, 3)


@settings(max_examples=200)
@given(
    st.text(alphabet=st.sampled_from("a\n\r\u0a0a\u0aff\uff0a\U0001f600 "), max_size=40),
    st.sampled_from(["utf-16le", "utf-16be"]),
    st.lists(st.integers(1, 7), min_size=1, max_size=20),
    st.sampled_from([MAX_HELD_BYTES, 6, 7]),
)
def test_utf16_lines_end_at_whole_line_feeds_however_the_bytes_are_cut(
    text: str, encoding: str, cuts: list[int], max_line: int
) -> None:
    payload = text.encode(encoding)
    chunks, pos = [], 0
    while pos < len(payload):  # chunk sizes cycle through `cuts`: odd ones split code units
        size = cuts[len(chunks) % len(cuts)]
        chunks.append(payload[pos : pos + size])
        pos += size
    framer = RecordFramer(max_line)
    out = []
    for seq, chunk in enumerate(chunks):
        out += framer.feed(data(seq, chunk, encoding=encoding))
    out += framer.flush()
    assert b"".join(r.data for r in out) == payload
    feed = "\n".encode(encoding)
    for record in out:
        assert len(record.data) % 2 == 0, "whole code units"
        assert len(split_lines(record.data, encoding)) == 1, record
        assert record.data.endswith(feed) or record.continues or record is out[-1], record
    if max_line == MAX_HELD_BYTES:
        expected = [line.decode(encoding) for line in split_lines(payload, encoding) if line]
        assert [r.data.decode(encoding) for r in out] == expected


def test_one_byte_at_a_time_makes_whole_lines() -> None:
    framer = RecordFramer()
    lines = frame([bytes([b]) for b in b"ab\r\ncd\n"], framer)
    assert [(r.data, r.chunks, r.seq, r.ts) for r in lines] == [
        (b"ab\r\n", 4, 3, 1003.0),
        (b"cd\n", 3, 6, 1006.0),
    ]


def test_crlf_is_one_line_even_split_between_records() -> None:
    lines = frame([b"HTTP/1.1 200 OK\r", b"\nServer: x\r\n\r\n"], RecordFramer())
    assert [r.data for r in lines] == [b"HTTP/1.1 200 OK\r\n", b"Server: x\r\n", b"\r\n"]
    assert [r.chunks for r in lines] == [2, 1, 1]


def test_lines_across_many_chunks_and_many_lines_in_one_chunk() -> None:
    framer = RecordFramer()
    chunks = [b"par", b"t", b"ial", b" line\nsecond\nthi", b"rd\n"]
    lines = frame(chunks, framer)
    assert [(r.data, r.chunks, r.seq) for r in lines] == [
        (b"partial line\n", 4, 3),
        (b"second\n", 1, 3),
        (b"third\n", 2, 4),
    ]
    assert framer.flush() == []


def test_interleaved_connections_and_directions_do_not_mix() -> None:
    framer = RecordFramer()
    feed = [
        data(0, b"c1 in ", "c1", "in"),
        data(1, b"c2 in ", "c2", "in"),
        data(2, b"c1 out ", "c1", "out"),
        data(3, b"end\n", "c2", "in"),
        data(4, b"end\n", "c1", "out"),
        data(5, b"end\n", "c1", "in"),
    ]
    out = [line for record in feed for line in framer.feed(record)]
    assert [(r.source, r.kind, r.data, r.chunks) for r in out] == [
        ("c2", "in", b"c2 in end\n", 2),
        ("c1", "out", b"c1 out end\n", 2),
        ("c1", "in", b"c1 in end\n", 2),
    ]


def test_info_records_flush_their_source_and_pass_through_after_lines() -> None:
    framer = RecordFramer()
    assert framer.feed(data(0, b"prompt> ", "c1")) == []
    assert framer.feed(data(1, b"other", "c2")) == []
    closed = info(2, "closed by peer", "c1")
    out = framer.feed(closed)
    assert [r.data for r in out[:-1]] == [b"prompt> "]
    assert out[-1] is closed
    # c2's partial line is still pending.
    assert [r.data for r in framer.pending()] == [b"other"]
    assert [r.data for r in framer.flush("c2")] == [b"other"]
    assert framer.pending() == []


def test_long_line_is_split_into_bounded_pieces() -> None:
    framer = RecordFramer()
    line = b"x" * (2 * MAX_HELD_BYTES + 10) + b"\n"
    chunks = [line[i : i + 1000] for i in range(0, len(line), 1000)]
    out = frame(chunks, framer)
    assert [len(r.data) for r in out] == [MAX_HELD_BYTES, MAX_HELD_BYTES, 11]
    assert [r.continues for r in out] == [True, True, False]
    assert b"".join(r.data for r in out) == line
    # 66 chunks of 1000 bytes fill the first piece; the 66th also starts the second.
    assert out[0].chunks == 66


def test_a_record_missing_bytes_ends_its_line() -> None:
    framer = RecordFramer()
    out = frame([b"abc", b"de\nfg"], framer)
    out += framer.feed(data(2, b"hi", size=1000))
    assert [(r.data, r.size, r.chunks) for r in out] == [(b"abcde\n", 6, 2), (b"fghi", 1002, 2)]
    assert framer.pending() == []


# ---------------------------------------------------------------- layout

TEXT = ViewSettings()
HEX = ViewSettings(display="hex")
BOTH = ViewSettings(display="both")


def test_text_layout_small_records() -> None:
    assert texts(layout(data(0, b"hello\r\n"), TEXT)) == ["hello\\r\\n"]
    assert texts(layout(data(0, b"a\tb\x1b"), TEXT)) == ["a   b\\x1b"]
    assert texts(layout(data(0, b""), TEXT)) == [""]
    rows = layout(data(0, b"one\ntwo\nthree"), TEXT)
    assert texts(rows) == ["one\\n", "two\\n", "three"]
    assert [row.first for row in rows] == [True, False, False]
    assert texts(layout(data(0, b"caf\xe9", encoding="latin-1"), TEXT)) == ["café"]


def test_info_and_error_rows_are_sanitized() -> None:
    for settings_ in (TEXT, HEX, BOTH):
        rows = layout(info(0, "evil\x1b]0;x\x07\tname", kind="error"), settings_)
        assert texts(rows) == ["evil\\x1b]0;x\\x07    name"]


def test_text_layout_caps_row_bytes_and_rows() -> None:
    rows = layout(data(0, b"y" * (MAX_ROW_BYTES + 600) + b"\n"), TEXT)
    assert len(rows) == 1
    assert rows[0].text == "y" * MAX_ROW_BYTES
    assert rows[0].note == " … 601 more bytes on this line"
    payload = b"line\n" * 600
    rows = layout(data(0, payload, size=len(payload) + 4096, chunks=5), TEXT)
    assert len(rows) == MAX_ROWS_PER_RECORD
    # 100 lines (500 bytes) not shown, and 4 KiB not held.
    assert rows[-1].note == " … 4.5 KiB more (6.9 KiB in 5 reads)"
    rows = layout(data(0, b"x" * 10, size=3000, chunks=2, unit="datagrams"), TEXT)
    assert texts(rows) == ["xxxxxxxxxx … 2.9 KiB more (2.9 KiB in 2 datagrams)"]


def test_hex_layout() -> None:
    rows = layout(data(0, bytes(range(20))), HEX)
    assert texts(rows) == [
        "0000  00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f",
        "0010  10 11 12 13",
    ]
    assert texts(layout(data(0, b""), HEX)) == [""]
    big = bytes(range(256)) * 80  # 20480 bytes: 8000 shown
    rows = layout(data(0, big, size=30000, chunks=3), HEX)
    assert len(rows) == MAX_ROWS_PER_RECORD
    assert rows[-1].text.startswith("1f30  30 31")
    assert rows[-1].note == " … 22,000 more bytes (30,000 bytes in 3 reads)"
    # Offsets grow past four digits when needed.
    assert layout(data(0, b"a" * 70000), HEX)[0].text.startswith("0000  61")


def test_both_layout_uses_hexdump_rows() -> None:
    payload = b"Hello\n\x00\xffABCDEFGHIJ"
    assert texts(layout(data(0, payload), BOTH)) == hexdump(payload)
    rows = layout(data(0, b"z" * 10000), BOTH)
    assert len(rows) == MAX_ROWS_PER_RECORD
    assert rows[-1].text.startswith("00001f30  7a")
    assert rows[-1].note == " … 2,000 more bytes (10,000 bytes)"


def test_continued_line_piece_is_noted() -> None:
    piece = Record(0, 1.0, "c1", "in", b"x" * 1000, 1000, continues=True)
    assert layout(piece, TEXT)[-1].note.endswith("the line goes on below")
    assert layout(piece, HEX)[-1].note.endswith("the line goes on below")


# ---------------------------------------------------------------- model


def session(n: int, seed: int = 1) -> list[Record]:
    """A mixed session: several connections, partial lines, CRLF, big and binary payloads."""
    rng = random.Random(seed)
    words = [b"GET / HTTP/1.1\r\n", b"Host: x\r\n", b"\r\n", b"par", b"tial\n", b"\x1b[1m", b"\t"]
    out: list[Record] = []
    for seq in range(n):
        source = rng.choice(["c1", "c2", "c3", "l1"])
        roll = rng.random()
        if roll < 0.05:
            out.append(info(seq, f"note {seq}", source, rng.choice(["info", "error"])))
            continue
        if roll < 0.07:
            payload = rng.randbytes(rng.randrange(1, 3000))
        else:
            payload = b"".join(rng.choice(words) for _ in range(rng.randrange(0, 6)))
        size = len(payload) + (500 if roll > 0.99 else 0)
        kind = rng.choice(["in", "out"])
        out.append(data(seq, payload, source, kind, size=size, chunks=rng.randrange(1, 4)))
    return out


SETTINGS = [
    ViewSettings(),
    ViewSettings(framing="lines"),
    ViewSettings(display="hex", direction="in"),
    ViewSettings(display="both", framing="lines", sources=frozenset({"c1", "l1"})),
    ViewSettings(framing="lines", text="HOST"),
    ViewSettings(text=r"x1b|note \d+5$", regex=True),
    ViewSettings(framing="lines", hex_pattern=b"\r\n", direction="out"),
]


@pytest.mark.parametrize("view", SETTINGS)
def test_apply_gives_the_rows_of_appending_one_by_one(view: ViewSettings) -> None:
    records = session(3000)
    incremental = LogModel()
    incremental.apply(view)
    added = 0
    for record in records:
        added += incremental.append([record])
    batched = LogModel()
    batched.append(records)
    batched.apply(view)
    assert added == len(incremental.rows) > 0
    assert list(batched.rows) == list(incremental.rows)
    assert batched.pending_tail_rows() == incremental.pending_tail_rows()


def test_appending_in_batches_matches_one_by_one() -> None:
    records = session(2000, seed=7)
    one = LogModel()
    for record in records:
        one.append([record])
    many = LogModel()
    for i in range(0, len(records), 64):
        many.append(records[i : i + 64])
    assert list(one.rows) == list(many.rows)


def test_pending_tail_rows_show_the_unfinished_line() -> None:
    model = LogModel()
    model.apply(ViewSettings(framing="lines"))
    assert model.append([data(0, b"done\nprom"), data(1, b"pt> ")]) == 1
    assert texts(list(model.rows)) == ["done\\n"]
    pending = model.pending_tail_rows()
    assert [row.text for row in pending] == ["prompt> "]
    assert pending[0].note.endswith("(line not finished yet)")
    assert model.append([info(2, "closed")]) == 2
    assert texts(list(model.rows)) == ["done\\n", "prompt> ", "closed"]
    assert model.pending_tail_rows() == []
    model.apply(ViewSettings())
    assert model.pending_tail_rows() == []


def test_rows_go_when_their_records_are_dropped() -> None:
    model = LogModel(max_records=10)
    model.append([data(seq, b"a\nb\n") for seq in range(25)])
    assert len(model.store) == 10 and model.records_dropped == 15
    assert len(model.rows) == 20
    assert model.rows[0].record.seq == 15
    assert model.rows_dropped == 30
    model.apply(ViewSettings(display="hex"))
    assert len(model.rows) == 10 and model.rows_dropped == 0


def test_a_one_row_record_gets_its_row_when_asked_and_keeps_it() -> None:
    model = LogModel(max_records=10)
    record = data(0, b"hello\tthere\x1b")
    model.append([record])
    row = model.rows[0]
    assert isinstance(row, Row) and row.record == record and row.first and not row.note
    assert row.text == "hello   there\\x1b"
    assert model.rows[0] is row  # made once
    assert [r.record for r in model.rows] == [record]


def test_held_records_are_out_of_the_cycle_collectors_sight() -> None:
    # Under a flood the Log holds 100,000 records: the collector must not walk them again
    # and again (see RawRecord). A collection untracks plain tuples of atoms.
    model = LogModel(max_records=50)
    model.append([data(seq, b"payload %d" % seq) for seq in range(80)])
    gc.collect()
    held = list(model.store.raw())
    assert len(held) == 50
    assert not any(gc.is_tracked(raw) for raw in held)


def test_new_encodings_label_the_held_records_of_their_sources() -> None:
    store = RecordStore(max_records=4)
    for seq in range(6):  # the ring wraps: the relabelling must follow it
        store.append(data(seq, "é".encode("latin-1"), source="c1" if seq % 2 else "c2"))
    store.set_encodings({"c1": "latin-1"})
    assert [(r.source, r.encoding) for r in store] == [
        ("c2", "utf-8"), ("c1", "latin-1"), ("c2", "utf-8"), ("c1", "latin-1"),
    ]  # fmt: skip
    assert [r.seq for r in store] == [2, 3, 4, 5]
    assert store[1].display_text() == "é"


def test_rows_are_capped() -> None:
    model = LogModel(max_records=4)
    added = model.append([data(0, b"\n" * 20)])
    assert added == 20
    assert len(model.rows) == model.max_rows == 8
    assert model.rows_dropped == 12


def test_apply_with_an_invalid_regex_changes_nothing() -> None:
    model = LogModel()
    model.append([data(0, b"abc")])
    generation = model.generation
    with pytest.raises(ValueError, match="invalid regular expression"):
        model.apply(ViewSettings(text="[a-", regex=True))
    assert model.settings == ViewSettings()
    assert len(model.rows) == 1 and model.generation == generation


def test_clear_forgets_records_and_rows() -> None:
    model = LogModel()
    model.apply(ViewSettings(framing="lines"))
    model.append([data(0, b"abc")])
    model.clear()
    assert len(model.store) == 0 and len(model.rows) == 0
    assert model.pending_tail_rows() == []
    model.append([data(100, b"x\n")])
    assert texts(list(model.rows)) == ["x\\n"]


def test_find_next_and_previous_wrap_around() -> None:
    model = LogModel()
    model.append([data(0, b"alpha\nBeta\ngamma\nbeta two\ndelta\n")])
    assert model.find("beta", -1) == 1
    assert model.find("beta", 1) == 3
    assert model.find("BETA", 3) == 1  # wraps to the top
    assert model.find("beta", 3, backwards=True) == 1
    assert model.find("beta", 1, backwards=True) == 3  # wraps to the bottom
    assert model.find("gamma", 2) == 2  # the only match is the start row itself
    assert model.find("zeta", 0) is None
    assert model.find("", 0) is None
    assert model.find(r"^(delta|gamma)", 2, regex=True) == 4
    assert model.find(r"ta\\n$", 1, regex=True) == 4
    with pytest.raises(ValueError, match="invalid regular expression"):
        model.find("(", 0, regex=True)
    assert LogModel().find("x", 0) is None


def test_time_text_absolute_and_relative() -> None:
    ts = 1_700_000_000.25
    model = LogModel(max_records=2)
    records = [Record(seq, ts + seq * 1.5, "c1", "in", b"x", 1) for seq in range(4)]
    model.append(records)
    expected = time.strftime("%H:%M:%S", time.localtime(ts + 4.5)) + ".750"
    assert model.time_text(records[3]) == expected
    model.apply(ViewSettings(relative_time=True))
    # Relative to the session's first record, though it was dropped.
    assert model.store.first_seq == 2
    assert model.time_text(records[3]) == "+4.500s"
    assert model.time_text(records[0]) == "+0.000s"


def test_utf16_text_rows_end_at_whole_line_feeds() -> None:
    from workbench.framing import split_lines

    data = "one\ntwo\nthr\u0a41".encode("utf-16le")  # U+0A41 holds a 0x0a byte, not a LF
    assert split_lines(data, "utf-16le") == [
        "one\n".encode("utf-16le"),
        "two\n".encode("utf-16le"),
        "thr\u0a41".encode("utf-16le"),
    ]
    record = Record(1, 0.0, "C1", "in", data, len(data), encoding="utf-16le")
    assert [row.text for row in layout(record, ViewSettings())] == ["one\\n", "two\\n", "thr\u0a41"]
    big_endian = "a\nb".encode("utf-16be")
    assert split_lines(big_endian, "utf-16be") == ["a\n".encode("utf-16be"), "b".encode("utf-16be")]


def test_framing_keeps_who_sent_the_bytes_apart() -> None:
    """Bytes the echo behaviour sent (`text` "echo" on a data record) frame into lines of
    their own, marked the same; bytes you typed to the same peer are not joined to them."""
    framer = RecordFramer()
    echoed = Record(1, 1.0, "C1", "out", b"pi", 2, text="echo")
    typed = Record(2, 2.0, "C1", "out", b"hello\n", 6)
    more_echo = Record(3, 3.0, "C1", "out", b"ng\n", 3, text="echo")
    lines = framer.feed(echoed) + framer.feed(typed) + framer.feed(more_echo)
    assert [(line.data, line.text) for line in lines] == [(b"hello\n", ""), (b"ping\n", "echo")]
    framer.feed(Record(4, 4.0, "C1", "out", b"half", 4, text="echo"))
    assert [(line.data, line.text) for line in framer.pending()] == [(b"half", "echo")]
    assert [(line.data, line.text) for line in framer.flush()] == [(b"half", "echo")]


# --- the screen of wrapped rows (workbench.log.screen) ---


def test_the_screen_of_wrapped_rows_is_worked_out_from_the_rows_near_it() -> None:
    from workbench.log.screen import moved, screen, top_showing

    heights = [1, 3, 1, 5, 2] * 20_000  # 100,000 rows
    asked: set[int] = set()

    def lines_of(row: int) -> int:
        asked.add(row)
        return heights[row]

    count = len(heights)
    # Following: the last lines, the last row's last line at the bottom.
    last = screen(None, 6, count, lines_of)
    assert last == [(99998, 1), (99998, 2), (99998, 3), (99998, 4), (99999, 0), (99999, 1)]
    # From a top line: down from it; near the end, the end stays at the bottom.
    assert screen((1, 2), 4, count, lines_of) == [(1, 2), (2, 0), (3, 0), (3, 1)]
    assert screen((count - 1, 1), 6, count, lines_of) == last
    assert len(asked) < 20  # only the rows on screen were laid out
    # Fewer lines than the screen: from the first row.
    assert screen(None, 10, 2, lines_of) == [(0, 0), (1, 0), (1, 1), (1, 2)]
    # Moved by lines, across rows, stopping at the first line.
    assert moved((3, 0), -2, count, lines_of) == (1, 2)
    assert moved((1, 1), -5, count, lines_of) == (0, 0)
    assert moved((0, 0), 6, count, lines_of) == (3, 1)
    # The top that shows a whole row: unchanged when it does, the row's first line when it
    # is above or taller than the screen, else the row's last line at the bottom.
    assert top_showing(2, (1, 0), 6, count, lines_of) == (1, 0)
    assert top_showing(0, (1, 0), 6, count, lines_of) == (0, 0)
    assert top_showing(3, (0, 0), 4, count, lines_of) == (3, 0)
    assert top_showing(4, (0, 0), 6, count, lines_of) == (3, 1)
