"""The Log's messages framing (workbench.log.message_framing): each connection's records shown
as the messages of its own framing, one record each, its summary before the bytes and its
error after them; a connection without one as read; hostile bytes never break the view."""

from __future__ import annotations

from framing_cuts import CUTS, cut
from hostile import unsafe_characters
from hypothesis import given
from hypothesis import strategies as st

from workbench.framing.messages import encode, parse_framing
from workbench.log import LogModel, Record, ViewSettings
from workbench.log.message_framing import (
    MAX_FRAMED_SOURCES,
    MAX_TRACKED_SOURCES,
    MessageRecord,
    MessageRecordFramer,
)
from workbench.log.plain_rows import plain_row
from workbench.ui.detail import describe_record

MESSAGES = ViewSettings(framing="messages")
LEN2 = parse_framing("len:2:be")


OPENED = "connected"


def records_of(
    chunks: list[bytes], source: str = "C1", kind: str = "in", seq: int = 1, opened: bool = True
) -> list[Record]:
    """`chunks` as records of `source`, after the note that opens it (as the session makes
    them: a connection's first record is always a note) unless `opened` is False."""
    first = [Record(seq, 99.0, source, "info", text=OPENED)] if opened else []
    seq += len(first)
    return first + [Record(seq + i, 100.0, source, kind, c, len(c)) for i, c in enumerate(chunks)]


def shown(model: LogModel) -> list[str]:
    """Each row as the Log shows it, without the time (nor the notes that open connections)."""
    return [plain_row(row, "t")[2:] for row in model.rows if row.record.text != OPENED]


def framed_model(spec: str = "len:2:be", source: str = "C1") -> LogModel:
    model = LogModel()
    model.set_framing(source, spec)
    model.apply(MESSAGES)
    return model


@given(st.lists(st.binary(max_size=40), max_size=10), CUTS)
def test_each_message_is_one_record_however_the_reads_cut_it(
    payloads: list[bytes], cuts: list[float]
) -> None:
    model = framed_model()
    wire = b"".join(encode(LEN2, p) for p in payloads)
    model.append(records_of([c for c in cut(wire, cuts) if c]))
    rows = [row for row in model.rows if row.record.is_data]
    assert [row.lead for row in rows if row.first] == [f"len {len(p)}" for p in payloads]
    assert [row.record.data for row in rows if row.first] == [encode(LEN2, p) for p in payloads]
    assert all(isinstance(row.record, MessageRecord) and not row.record.error for row in rows)
    assert model.pending_tail_rows() == []


def test_the_summary_comes_before_the_bytes_and_the_view_says_messages() -> None:
    model = framed_model()
    model.append(records_of([b"\x00\x05hel", b"lo\x00\x02hi"]))
    assert shown(model) == ["C1    ← [len 5] \\x00\\x05hello", "C1    ← [len 2] \\x00\\x02hi"]
    # Raw again: the records as read.
    model.apply(ViewSettings())
    assert shown(model) == ["C1    ← \\x00\\x05hel", "C1    ← lo\\x00\\x02hi"]
    model.apply(ViewSettings(framing="messages", display="hex"))
    assert shown(model)[0] == "C1    ← [len 5] 0000  00 05 68 65 6c 6c 6f"


def test_a_message_not_finished_shows_as_pending_with_its_size() -> None:
    model = framed_model()
    model.append(records_of([b"\x00\x0ahalf"]))
    assert shown(model) == []
    (pending,) = model.pending_tail_rows()
    assert plain_row(pending, "t") == "t C1    ← … 6 bytes of a message not finished yet"


def test_a_malformed_message_has_its_error_note_and_never_breaks_the_view() -> None:
    model = framed_model("len:2:be:max=100")
    model.append(records_of([b"\x00\x02ok\x01\x00\x1b]0;title\x07[bold]x"]))
    first, bad, raw = shown(model)
    assert first == "C1    ← [len 2] \\x00\\x02ok"
    assert bad.startswith("C1    ← [2 bytes] \\x01\\x00 ✗ length 256 > max 100")
    assert "the rest of the stream is unframed" in bad
    # The peer's control bytes are escaped; its markup is text.
    assert raw.startswith("C1    ← [17 bytes] \\x1b]0;title\\x07[bold]x ✗ unframed")
    assert "\x1b" not in "".join(shown(model))


@given(
    st.sampled_from(
        ["len:1:le:incl:max=40", "netstring:max=50", "delim:\\r\\n:max=20", "len:4:be"]
    ),
    st.lists(st.binary(max_size=120), max_size=8),
)
def test_garbage_in_any_framing_never_raises(spec: str, chunks: list[bytes]) -> None:
    model = framed_model(spec)
    model.append(records_of([c for c in chunks if c]))
    rows = [*model.rows, *model.pending_tail_rows()]
    for row in rows:
        assert not unsafe_characters(row.lead + row.text + row.note)
    # Every byte is in a message shown, or in the one not finished yet.
    assert sum(row.record.size for row in rows if row.first) == sum(map(len, chunks))


def test_connections_without_a_framing_are_shown_as_read() -> None:
    model = framed_model(source="C1")
    model.append(records_of([b"\x00\x01a"], source="C2") + records_of([b"\x00\x01b"], seq=3))
    assert shown(model) == ["C2    ← \\x00\\x01a", "C1    ← [len 1] \\x00\\x01b"]


def test_directions_are_framed_apart_and_an_info_record_passes() -> None:
    model = framed_model()
    model.append(
        [
            *records_of([b"\x00\x03a"], kind="out"),
            Record(3, 101.0, "C1", "info", text="peer sent EOF"),
            *records_of([b"\x00\x01x", b"bc"], kind="in", seq=4, opened=False),
            *records_of([b"bc"], kind="out", seq=6, opened=False),
        ]
    )
    # What was sent is framed on its own: its message ends in a later record.
    assert shown(model) == [
        "C1    • peer sent EOF",
        "C1    ← [len 1] \\x00\\x01x",
        "C1    → [len 3] \\x00\\x03abc",
    ]
    (pending,) = model.pending_tail_rows()  # "bc" received: a length of 25,187
    assert (pending.record.kind, pending.record.size) == ("in", 2)


def test_a_framing_that_cannot_be_used_is_said_once() -> None:
    model = framed_model("len:2:be:max=0")  # the URL's shape check lets the range through
    model.append(records_of([b"\x00\x01a", b"\x00\x01b"]))
    assert shown(model) == [
        "C1    ! framing len:2:be:max=0 cannot be used: len: max= takes a whole number of "
        "bytes 1-65,535, not '0'",
        "C1    ← \\x00\\x01a",
        "C1    ← \\x00\\x01b",
    ]


def test_bytes_the_log_never_got_end_the_message_and_framing_starts_again() -> None:
    model = framed_model()
    # A record merged under load holds only its first bytes (size counts them all).
    merged = Record(2, 100.0, "C1", "in", b"\x00\x05he", 9)
    opened = Record(1, 99.0, "C1", "info", text=OPENED)
    model.append([opened, merged, *records_of([b"\x00\x01z"], seq=3, opened=False)])
    assert shown(model) == [
        "C1    ← [len 5] \\x00\\x05he ✗ the stream ended 4 bytes into a message of 7",
        "C1    ← [not kept]  … 5 B more (5 B) ✗ 5 bytes were not kept (under load): "
        "framing starts again",
        "C1    ← [len 1] \\x00\\x01z",
    ]


def test_the_framings_remembered_are_bounded() -> None:
    model = LogModel()
    for index in range(MAX_FRAMED_SOURCES + 5):
        model.set_framing(f"C{index}", "netstring")
    assert len(model.framings) == MAX_FRAMED_SOURCES
    assert "C0" not in model.framings and f"C{MAX_FRAMED_SOURCES + 4}" in model.framings


def test_a_connection_whose_first_records_are_gone_is_said_to_be_framed_from_there() -> None:
    model = framed_model()
    # The store dropped its first records: what is held begins inside a message.
    model.append(records_of([b"lo\x00\x02hi"], seq=7, opened=False))
    first, *rest = shown(model)
    assert first == (
        "C1    • C1's earlier records are not held: its messages are framed from the first "
        "one held, which may begin inside a message"
    )
    assert rest == []
    assert model.pending_tail_rows()[0].record.size == 6  # "lo" read as a length: 27,759


def test_clearing_the_log_keeps_each_connection_s_framing_in_step() -> None:
    model = framed_model()
    model.append(records_of([b"\x00\x05hel"]))
    model.clear()
    model.append(records_of([b"lo\x00\x02hi"], seq=10, opened=False))
    assert shown(model) == ["C1    ← [len 5] \\x00\\x05hello", "C1    ← [len 2] \\x00\\x02hi"]


def test_the_detail_view_says_what_the_framing_read_of_a_message() -> None:
    model = framed_model("len:2:be:incl:max=100")
    model.append(records_of([b"\x00\x05abc\x00\x01"]))
    good, bad = (row.record for row in model.rows if row.record.is_data)
    assert describe_record(good, None, lambda ts: "T")[1:] == [
        "5 bytes  ·  shown as utf-8",
        "message  ·  len 3  ·  length 5",
    ]
    assert describe_record(bad, None, lambda ts: "T")[2:] == [
        "message  ·  2 bytes",
        "malformed: length 1 is less than its own 2-byte prefix (incl); the framing cannot "
        "find the next message: the rest of the stream is unframed",
    ]


def test_http_responses_are_framed_with_their_requests() -> None:
    """A connection's two directions are paired: a response to HEAD has no body, whatever
    its Content-Length says, so the next response is a message of its own."""
    model = framed_model("http")
    head_response = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
    get_response = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    model.append(
        [
            Record(1, 99.0, "C1", "info", text=OPENED),
            Record(2, 100.0, "C1", "out", b"HEAD / HTTP/1.1\r\n\r\n", 19),
            Record(3, 100.1, "C1", "in", head_response, len(head_response)),
            Record(4, 100.2, "C1", "out", b"GET / HTTP/1.1\r\n\r\n", 18),
            Record(5, 100.3, "C1", "in", get_response, len(get_response)),
        ]
    )
    responses = [r.record for r in model.rows if r.first and r.record.kind == "in"]
    assert [bytes(r.data) for r in responses] == [head_response, get_response]
    assert not any(getattr(r, "error", "") for r in responses)


def test_the_state_kept_per_connection_is_bounded_under_churn() -> None:
    """Connection after connection, each sending a message: the view keeps the state of
    the newest MAX_TRACKED_SOURCES only."""
    model = LogModel()
    model.apply(MESSAGES)
    framer = model._stage.framer
    assert isinstance(framer, MessageRecordFramer)
    for number in range(MAX_TRACKED_SOURCES + 50):
        source = f"C{number}"
        model.set_framing(source, "len:1")
        model.append(records_of([b"\x01x"], source, seq=2 * number))
    assert len(framer._seen) == MAX_TRACKED_SOURCES
    assert len(framer._streams) <= MAX_TRACKED_SOURCES * 2
    assert len(framer._specs) <= MAX_TRACKED_SOURCES
