"""The diff screen's pure parts (workbench/ui/diff_report.py, diff_sources.py): how two live
connections are cut, what a line of the diff is, what the Log's records say of their bytes."""

from __future__ import annotations

from workbench.log import Record
from workbench.protocol.enums import Direction
from workbench.transcript.diff import diff_pieces
from workbench.ui.diff_report import (
    DiffReport,
    choose_framing,
    compare_live,
    line_kind,
    shown_lines,
)
from workbench.ui.diff_sources import Collected, LiveConnection, collect_from_log


def live(cid: str, framing: str | None = None, datagrams: bool = False) -> LiveConnection:
    return LiveConnection(cid, framing, datagrams)


def test_a_removed_message_that_begins_with_dashes_is_removed_not_a_header() -> None:
    diff = diff_pieces([b"-- a\n"], [b"++ b\n"], name_a="C1", name_b="C2", direction="in")
    kinds = [line_kind(index, line) for index, line in enumerate(diff.lines)]
    assert list(zip(kinds, diff.lines, strict=True)) == [
        ("file", "--- C1 in"),
        ("file", "+++ C2 in"),
        ("hunk", "@@ -1 +1 @@"),
        ("removed", "--- a\\n"),
        ("added", "+++ b\\n"),
    ]


def test_two_connections_are_cut_by_their_framing_only_when_they_share_it() -> None:
    spec, note, warnings = choose_framing(live("C1", "len:2"), live("C3", "len:2"))
    assert spec is not None and spec.name == "len"
    assert note == "compared message by message: framing len:2" and warnings == ()
    spec, note, _ = choose_framing(live("C1", "len:2"), live("C3"))
    assert spec is None
    assert note == "compared as text lines: C1 has framing len:2, C3 none"
    spec, note, _ = choose_framing(live("C1", "resp", datagrams=True), live("C3", "resp"))
    assert spec is None and note == "datagrams compared one by one, each one line"


def test_a_shared_framing_that_cannot_be_used_is_a_warning_and_lines() -> None:
    spec, note, warnings = choose_framing(live("C1", "len:3"), live("C2", "len:3"))
    assert spec is None and note == "compared as text lines"
    (warning,) = warnings
    assert warning.startswith("framing len:3 cannot be used (")


def test_a_live_diff_in_a_shared_framing_has_a_message_per_line() -> None:
    a, b = Collected(), Collected()
    a.pieces[Direction.IN] = [b"\x00\x02hi\x00\x03abc"]
    b.pieces[Direction.IN] = [b"\x00\x02hi", b"\x00\x03abd"]
    report = compare_live(live("C1", "len:2"), live("C2", "len:2"), a, b, "from the Log")
    lines = shown_lines(report)
    assert ("heading", "C1 vs C2, received (in): 9 bytes") in lines
    assert [line for line in lines if line[0] in ("removed", "added")] == [
        ("removed", "-\\x00\\x03abc"),  # a message is shown whole, its length too
        ("added", "+\\x00\\x03abd"),
    ]
    assert ("same", "identical: no bytes either side") in lines


def record(seq: int, source: str, kind: str, data: bytes, chunks: int = 1) -> Record:
    return Record(seq, 0.0, source, kind, data, len(data), chunks)


def test_the_logs_records_say_when_they_do_not_hold_every_byte() -> None:
    records = [
        record(1, "C1", "info", b""),
        record(2, "C1", "in", b"hello\n"),
        record(3, "C2", "in", b"other\n"),
        record(4, "C1", "out", b"hi\n"),
    ]
    whole = LiveConnection("C1", None, False, bytes_in=6, bytes_out=3)
    got = collect_from_log(whole, records)
    assert got.pieces == {Direction.IN: [b"hello\n"], Direction.OUT: [b"hi\n"]}
    assert got.warnings == []
    dropped = LiveConnection("C1", None, False, bytes_in=1030, bytes_out=3)
    (warning,) = collect_from_log(dropped, records).warnings
    assert warning.startswith(
        "the Log no longer holds every byte of C1 (it holds 6 B of the 1.0 KiB it received)"
    )


def test_datagrams_the_log_merged_are_said() -> None:
    records = [record(1, "C1", "in", b"ab", chunks=2)]
    conn = LiveConnection("C1", None, True, bytes_in=2)
    assert collect_from_log(conn, records).warnings == [
        "the Log merged some of C1's datagrams under load: their boundaries are not known"
    ]


def test_notes_show_what_the_user_typed_and_no_control_character() -> None:
    report = DiffReport("a vs b", notes=("framing delim:\\r\\n", "odd \x1b]2;x\x07 name"))
    lines = shown_lines(report)
    assert ("note", "framing delim:\\r\\n") in lines
    assert ("note", "odd \\x1b]2;x\\x07 name") in lines
