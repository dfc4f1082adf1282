"""The Log's bounds that are bounds (issue 12, point 13) and its cuts of a record's bytes at
character boundaries (point 7)."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench import log as log_model
from workbench.codec import decode_for_display
from workbench.log import (
    DEFAULT_MAX_BYTES,
    MAX_ROW_BYTES,
    LogModel,
    Record,
    RecordFramer,
    RecordStore,
    ViewSettings,
    layout,
)

EMPTY_DATAGRAMS = 1_400_000
CEILING = 250_000  # --log-records at most (log_model.MAX_LOG_RECORDS)
# Valid text with characters of every UTF-8 length (and every UTF-16 one: BMP and pairs).
TEXT = st.text(alphabet=st.sampled_from("ab \té€\u0800\uffe1😀\U0010fffd"), min_size=1)


# ---------------------------------------------------------------- memory bounds


def empty_datagrams(start: int, count: int) -> list[tuple]:  # type: ignore[type-arg]
    return [
        (seq, 1000.0 + seq / 1e6, "C1", "in", b"", 0, 1, "datagrams", "utf-8", "", False)
        for seq in range(start, start + count)
    ]


def test_empty_datagrams_are_bounded_by_the_memory_cap() -> None:
    # The run: 1.4 M empty datagrams held 349 MB "and climbing", since records of
    # no bytes did not count against the 64 MiB cap. Each record's overhead counts now.
    store = RecordStore(max_records=2_000_000)
    for start in range(1, EMPTY_DATAGRAMS + 1, 10_000):
        if start == EMPTY_DATAGRAMS - 400_000 + 1:
            # Traced from here (tracing is slow): the records held at the end came later.
            tracemalloc.start()
        store.extend(empty_datagrams(start, 10_000))
    try:
        held_memory = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(store) < DEFAULT_MAX_BYTES // 200
    assert store.memory <= DEFAULT_MAX_BYTES
    assert store.dropped == EMPTY_DATAGRAMS - len(store)
    assert held_memory < DEFAULT_MAX_BYTES * 1.1, f"{held_memory / 2**20:.0f} MiB held"


def test_small_records_count_their_overhead_too() -> None:
    store = RecordStore(max_records=CEILING)
    try:
        for start in range(1, 400_001, 10_000):
            if start == 150_001:  # traced from here: the records held at the end came later
                tracemalloc.start()
            store.extend(
                [
                    (seq, 0.5 + seq, "C1", "in", b"%099d" % seq, 99, 1, "reads", "utf-8", "", 0)
                    for seq in range(start, start + 10_000)
                ]
            )
        held_memory = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held_memory < DEFAULT_MAX_BYTES * 1.1, f"{held_memory / 2**20:.0f} MiB held"
    assert store.memory <= DEFAULT_MAX_BYTES < store.memory + 99 + store.record_overhead


def test_the_log_refuses_more_records_than_its_ceiling() -> None:
    # The memory cap holds about 280,000 records of no bytes: more could never be held.
    assert log_model.MAX_LOG_RECORDS == CEILING
    assert CEILING * log_model.RECORD_OVERHEAD <= DEFAULT_MAX_BYTES
    LogModel(max_records=CEILING)
    with pytest.raises(ValueError, match="250,000"):
        LogModel(max_records=CEILING + 1)


@pytest.mark.parametrize("count", ["250001", "1400000"])
def test_log_records_over_the_ceiling_is_a_usage_error(count: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "workbench", "--log-records", count],
        capture_output=True,
        text=True,
        timeout=20,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("sockbench: error: argument --log-records: ")
    assert "at most 250,000" in line


# ---------------------------------------------------------------- cuts at characters


def shown(rows: list) -> str:  # type: ignore[type-arg]
    return "".join(row.text for row in rows)


@given(TEXT, st.integers(1, 30), st.sampled_from(["utf-8", "utf-16le", "utf-16be"]))
def test_a_record_held_in_part_never_shows_valid_text_as_bytes(
    text: str, cut: int, encoding: str
) -> None:
    # The engine holds the first 64 KiB of a read (a flood's merged records, a few KiB):
    # wherever that cut falls, the text view shows whole characters.
    payload = (text * 20).encode(encoding)
    held = payload[: min(cut, len(payload) - 1)] if len(payload) > 1 else payload
    record = Record(1, 0.0, "C1", "in", held, len(payload), 1, "reads", encoding)
    rows = layout(record, ViewSettings())
    text_shown = shown(rows)
    assert "\\x" not in text_shown, text_shown
    assert "\\x" not in record.display_text()
    whole = decode_for_display(payload, encoding)
    assert whole.startswith(text_shown.replace("\\t", "\t")) or "\t" in text
    # What is not shown is counted: "... N more".
    assert rows[-1].note


@settings(max_examples=200)
@given(TEXT, st.sampled_from(["utf-8", "utf-16le", "utf-16be"]))
def test_a_row_cut_at_max_row_bytes_ends_at_a_character(text: str, encoding: str) -> None:
    payload = (text * 5000).encode(encoding)[: 2 * MAX_ROW_BYTES]
    record = Record(1, 0.0, "C1", "in", payload, len(payload), 1, "reads", encoding)
    (row,) = [r for r in layout(record, ViewSettings()) if r.first]
    assert "\\x" not in row.text
    assert row.note.startswith(" … ") and "more bytes on this line" in row.note
    cut_at = len(payload) - int(row.note.split()[1].replace(",", ""))
    assert MAX_ROW_BYTES - 3 <= cut_at <= MAX_ROW_BYTES


@given(
    TEXT,
    st.lists(st.integers(1, 9), min_size=1, max_size=10),
    st.sampled_from([(6, "utf-8"), (7, "utf-8"), (400, "utf-8"), (8, "utf-16le")]),
)
def test_pieces_of_an_over_long_line_end_at_characters(
    text: str, reads: list[int], limit_and_encoding: tuple[int, str]
) -> None:
    max_line, encoding = limit_and_encoding
    payload = (text * 50).encode(encoding)
    framer = RecordFramer(max_line)
    pieces, pos, seq = [], 0, 0
    while pos < len(payload):  # the line arrives in reads of these sizes, cut anywhere
        size = reads[seq % len(reads)]
        data = payload[pos : pos + size]
        pieces += framer.feed(Record(seq, 0.0, "C1", "in", data, len(data), 1, "reads", encoding))
        pos += size
        seq += 1
    pieces += framer.flush()
    assert b"".join(piece.data for piece in pieces) == payload
    for piece in pieces:
        assert len(piece.data) <= max_line
        assert "\\x" not in decode_for_display(piece.data, encoding), piece


def test_bytes_that_are_not_valid_still_show_as_bytes() -> None:
    # A held part ending in a byte no character starts with is shown, as before.
    record = Record(1, 0.0, "C1", "in", b"abc\xff", 10, 1, "reads", "utf-8")
    assert record.display_text() == "abc\\xff"
    record = Record(1, 0.0, "C1", "in", b"abc\xe2\x28", 10, 1, "reads", "utf-8")
    assert record.display_text() == "abc\\xe2("
    # A record held whole shows its cut-off character as bytes: that is what was sent.
    record = Record(1, 0.0, "C1", "in", b"abc\xe2\x82", 5, 1, "reads", "utf-8")
    assert record.display_text() == "abc\\xe2\\x82"


def test_a_real_peers_long_utf8_line_is_cut_between_characters() -> None:
    from peers import connect_client
    from textual.pilot import Pilot
    from ui_helpers import make_app, run_app, the_app, wait_listener_port, wait_log

    line = ("x" + "é" * 2100 + "\n").encode()  # the row's cut (4,096 bytes) is inside an é

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        client.sendall(line)
        await wait_log(pilot, "more bytes on this line")
        (row,) = [text for text in app.log_view.row_texts() if "xéé" in text]
        assert "\\x" not in row, row
        assert row.endswith("é … 107 more bytes on this line")
        client.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario)


def test_the_detail_view_of_a_record_held_in_part_ends_at_a_character() -> None:
    from workbench.ui.detail import RecordDetail

    whole = "é" * 40_000  # 80,000 bytes of valid UTF-8
    held = whole.encode()[:65_535]  # cut in the middle of an "é"
    record = log_model.Record(1, 0.0, "C1", "in", held, size=80_000)
    text = RecordDetail(record, None, None).display_text()
    assert "\\x" not in text
    assert text == "é" * 32_767
