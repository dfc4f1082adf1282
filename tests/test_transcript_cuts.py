"""The transcript file only ever holds whole records, so a process killed at any moment leaves
a file whose complete lines are all valid; a run killed mid-write (a partial write by the
kernel, an older version) is followed by a run that starts on a line of its own and says so.
And an engine stopped before its loop ever ran still writes its session record.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from workbench import __version__
from workbench.engine import Engine, EventBridge
from workbench.transcript.writer import TranscriptWriter

# Sizes that straddle a 1 MiB buffer in every way: small, just under, over, several times.
CHUNK_SIZES = [1, 100, 300_000, 5, 700_000, 2_000_000, 1, 400_000, 800_000, 17, 3_500_000, 2]
CUT = b'{"ts":1795443164.687668,"event":"data","conn":"C2","dir":"in","size":8,"da'


def lines_of(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.split(b"\n")[:-1]]


def assert_whole_records(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n"), f"a record cut in the file: {data[-120:]!r}"
    return lines_of(data)


def test_the_file_only_ever_holds_whole_records(tmp_path: Path) -> None:
    """Whatever the writer has handed to the file at any moment ends at a record's end: a
    kill -9 then leaves no partial record (save a partial write by the kernel itself)."""
    path = tmp_path / "whole.jsonl"
    writer = TranscriptWriter(str(path))
    for index, size in enumerate(CHUNK_SIZES):
        writer.data(float(index), "C1", False, bytes([index]) * size)
        writer.record("eof", "C1", float(index), dir="in")
        # Once the writer thread wrote what it was handed (a read while the kernel copies a
        # write in may see part of it).
        assert writer.wait_written(writer.handed, 10)
        assert_whole_records(path)
    writer.close()
    records = assert_whole_records(path)
    assert [r["size"] for r in records if r["event"] == "data"] == CHUNK_SIZES


def test_a_new_session_after_a_cut_one_starts_on_its_own_line(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    first = b'{"ts":1.0,"event":"session","conn":"","version":"0.1.0"}\n'
    path.write_bytes(first + CUT)
    TranscriptWriter(str(path)).close()
    data = path.read_bytes()
    assert data.startswith(first + CUT + b"\n"), "the earlier bytes changed"
    session = json.loads(data[len(first + CUT + b"\n") :])
    assert session["event"] == "session"
    assert session["previous_cut"] is True
    assert session["version"] == __version__


@pytest.mark.parametrize("before", [b"", b'{"ts":1.0,"event":"session","conn":""}\n'])
def test_a_whole_or_new_file_gets_no_extra_line_and_no_cut_flag(
    tmp_path: Path, before: bytes
) -> None:
    path = tmp_path / "whole.jsonl"
    if before:
        path.write_bytes(before)
    TranscriptWriter(str(path)).close()
    data = path.read_bytes()
    assert data.startswith(before)
    (session,) = lines_of(data[len(before) :])
    assert session["event"] == "session"
    assert "previous_cut" not in session


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_a_transcript_that_is_not_a_regular_file_is_never_read_back() -> None:
    """/dev/null (or a pipe) has no last byte to look at: nothing is read, nothing added."""
    writer = TranscriptWriter("/dev/null")
    writer.data(1.0, "C1", False, b"x" * 1000)
    writer.close()
    assert not writer.active


def test_an_engine_stopped_before_its_loop_ran_keeps_its_session_record(tmp_path: Path) -> None:
    """ctrl+q (or a signal) before the engine's loop started: the transcript still holds the
    session record the writer buffered when it was opened."""
    path = tmp_path / "never-started.jsonl"
    engine = Engine(EventBridge(), transcript_path=str(path))
    engine.stop()
    engine.stop()  # twice is fine
    records = assert_whole_records(path)
    assert [r["event"] for r in records] == ["session"]
    assert engine.transcript is not None and not engine.transcript.active
