"""The typed reader: the schema version each session declares, and data marked with who sent
it (`origin`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from test_transcript_reader import data, session

from workbench.protocol.enums import Direction, Origin, RecordKind
from workbench.transcript.export import TranscriptSession, export_from_transcript
from workbench.transcript.reader import (
    NewerSchema,
    Stats,
    connection_bytes,
    read,
    sessions,
)
from workbench.transcript.records import Data, Event, Session
from workbench.transcript.schema import SCHEMA_VERSION


def as_json(line: bytes) -> bytes:
    """The same record laid out otherwise (spaces after separators): read as JSON."""
    return json.dumps(json.loads(line)).encode() + b"\n"


LAYOUTS = pytest.mark.parametrize("layout", [bytes, as_json], ids=["writer's", "json"])


def records(path: Path) -> list[Session | Data | Event]:
    with path.open("rb") as file:
        return list(read(file))


def test_a_session_without_schema_is_schema_1(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(session(1) + session(2, schema=1))
    assert [s.schema for s in sessions(str(path))] == [1, 1]


def test_a_newer_schema_is_refused_in_plain_words(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    newer = SCHEMA_VERSION + 1
    path.write_bytes(
        session(1, session_id="old")
        + data("C1", "in", b"readable\n")
        + session(2, session_id="new", schema=newer, version="9.0")
        + data("C1", "in", b"another layout\n")
    )
    with pytest.raises(NewerSchema) as refused:
        sessions(str(path))
    message = str(refused.value)
    assert "newer sockbench" in message and f"schema {newer}" in message
    assert f"reads schema {SCHEMA_VERSION} and older" in message and "9.0" in message
    # The last session (asked for by default) is refused, and so is an export of it...
    with pytest.raises(NewerSchema):
        connection_bytes(str(path), "C1")
    with pytest.raises(NewerSchema):
        export_from_transcript("C1", str(tmp_path / "c1"), TranscriptSession(str(path)))
    # ... while the session before it is read as always.
    assert connection_bytes(str(path), "C1", "old") == (b"readable\n", b"")


@LAYOUTS
def test_data_records_say_who_sent_them(tmp_path: Path, layout: Callable[[bytes], bytes]) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(
        session(1)
        + layout(data("C1", "in", b"ping\n"))
        + layout(data("C1", "out", b"ping\n", origin="echo"))
        + layout(data("C1", "out", b"typed\n"))
        + layout(data("C1", "out", b"said so\n", origin="you"))
    )
    found = [r for r in records(path) if isinstance(r, Data)]
    assert [(r.dir, r.origin, r.data) for r in found] == [
        (Direction.IN, Origin.YOU, b"ping\n"),
        (Direction.OUT, Origin.ECHO, b"ping\n"),
        (Direction.OUT, Origin.YOU, b"typed\n"),
        (Direction.OUT, Origin.YOU, b"said so\n"),
    ]
    # Echoed bytes were sent to the peer: an export has them, in order.
    assert connection_bytes(str(path), "C1") == (b"ping\n", b"ping\ntyped\nsaid so\n")


def test_the_writers_echo_record_has_the_exact_shape_the_reader_takes_fast() -> None:
    line = data("C1", "out", b"x", origin="echo")
    assert line == (
        b'{"ts":1.000000,"event":"data","conn":"C1","dir":"out","origin":"echo",'
        b'"size":1,"data":"eA=="}\n'
    )


@LAYOUTS
def test_an_unknown_origin_is_a_damaged_record(
    tmp_path: Path, layout: Callable[[bytes], bytes]
) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(session(1) + layout(data("C1", "out", b"?", origin="nobody")))
    stats = Stats()
    with path.open("rb") as file:
        assert [type(r) for r in read(file, stats=stats)] == [Session]
    assert stats.skipped == 1


def test_other_records_are_typed_by_kind(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    opened = {"ts": 2.0, "event": "open", "conn": "C1", "peer": "127.0.0.1:9"}
    unknown = {"ts": 3.0, "event": "teleport", "conn": "C1"}
    path.write_bytes(
        session(1) + json.dumps(opened).encode() + b"\n" + json.dumps(unknown).encode() + b"\n"
    )
    stats = Stats()
    with path.open("rb") as file:
        found = list(read(file, stats=stats))
    assert isinstance(found[0], Session)
    assert found[1:] == [Event(found[0], 2.0, RecordKind.OPEN, "C1", {"peer": "127.0.0.1:9"})]
    assert stats.skipped == 1  # a kind schema 1 does not have


@LAYOUTS
def test_an_origin_naming_what_sent_it_is_read_back(
    tmp_path: Path, layout: Callable[[bytes], bytes]
) -> None:
    path = tmp_path / "t.jsonl"
    sent = [data("C1", "out", b"a", origin="rule 3"), data("C1", "out", b"b", origin="broker C2")]
    path.write_bytes(session(1) + b"".join(layout(record) for record in sent))
    found = records(path)[1:]
    assert [(r.origin, r.data) for r in found if isinstance(r, Data)] == [
        ("rule 3", b"a"),
        ("broker C2", b"b"),
    ]
