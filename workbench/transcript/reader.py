"""Reading a transcript back: typed records, session by session, one line at a time.

A transcript file holds one or more sessions, each starting with a `session` record; ids
restart at L1 and C1 in each, so a connection is named by its session and its id. The
reader streams (memory bounded by the longest line it accepts, whatever the file's size)
and never fails on a line that is not a whole record: a run killed mid-write leaves one,
and it is skipped and counted (`Stats.skipped`). An older sockbench appended the next
session's record to such a cut line: the record is recovered from the end of the line, so
every session start is still found. A session written with a newer schema than this reader
knows (`SCHEMA_VERSION`) is refused: `NewerSchema`, in words for the user.

    from workbench.transcript.reader import connection_bytes, sessions
    for session in sessions("session.jsonl"):
        print(session.number, session.session_id, session.previous_cut)
    received, sent = connection_bytes("session.jsonl", "C1")  # of the last session

Textual-free and engine-free: usable from scripts.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from workbench.files import open_for_reading
from workbench.protocol.enums import ORIGIN_NAME, Direction, Origin, OriginName, RecordKind
from workbench.transcript.records import NO_SESSION, Data, Event, Session, TranscriptRecord
from workbench.transcript.schema import SCHEMA_VERSION

try:  # SIMD base64, as the writer uses
    from pybase64 import b64decode as _b64decode
except ImportError:  # pragma: no cover
    from base64 import b64decode as _b64decode  # type: ignore[assignment]

MAX_LINE = 64 * 1024 * 1024  # a longer line is not a record sockbench writes: skipped
READ_PIECE = 1024 * 1024
CANCEL_LINES = 64  # lines read (the connection's or not) between looks at `cancelled`
RECORD_START = b'{"ts":'
# The writer's own layout of a data record (see schema.py): matched without parsing the
# (long) base64 part as JSON. Groups: ts, conn, dir, origin (absent: you), size.
DATA_HEAD = re.compile(
    rb'\{"ts":(-?[0-9.eE+-]+),"event":"data","conn":"([^"\\]*)","dir":"(in|out)",'
    rb'(?:"origin":"([^"\\]*)",)?"size":([0-9]+),"data":"'
)
DIRECTIONS = {direction.value: direction for direction in Direction}

ORIGIN_KINDS = frozenset(Origin)


def origin_named(name: str) -> OriginName | None:
    """A record's origin (`echo`, `rule 3`), or None if no writer could have written it."""
    known = ORIGIN_NAME.match(name) and name.partition(" ")[0] in ORIGIN_KINDS
    return name if known else None


KINDS = {kind.value: kind for kind in RecordKind}


@dataclass
class Stats:
    lines: int = 0
    skipped: int = 0  # lines that are not a whole record (a cut line, garbage)
    recovered: int = 0  # records found at the end of a cut line (an older writer's)
    sessions: int = 0
    first_skipped_at: list[int] = field(default_factory=list)  # offsets, at most 10

    def skip(self, offset: int) -> None:
        self.skipped += 1
        if len(self.first_skipped_at) < 10:
            self.first_skipped_at.append(offset)


class NewerSchema(ValueError):
    """A session written by a newer sockbench, in a layout this one does not know."""

    def __init__(self, session: Session) -> None:
        super().__init__(
            f"session {session.number} of this transcript was written by a newer sockbench "
            f"(version {session.version or 'unknown'}, transcript schema {session.schema}); "
            f"this one reads schema {SCHEMA_VERSION} and older: read it with a newer sockbench"
        )
        self.session = session


def read(
    file: BinaryIO,
    *,
    conn: str | None = None,
    stats: Stats | None = None,
    start: int = 0,
    end: int | None = None,
    data: bool = True,
    cancelled: Callable[[], bool] | None = None,
) -> Iterator[TranscriptRecord]:
    """The records of the binary `file` from offset `start` (a line's start) up to `end`
    (a last line that `end` cuts is left out: being written). `conn`: yield only that id's
    data records (and every session and other record): the others are not decoded.
    `data` False: no data record at all (finding sessions reads fast). `cancelled`: looked
    at every CANCEL_LINES lines, read or skipped; InterruptedError once it says so.
    NewerSchema right after yielding a session of a newer schema (a reader that stops at that
    session's record, having read the one before it, is not refused)."""
    stats = stats if stats is not None else Stats()
    session = NO_SESSION
    file.seek(start)
    offset = start
    while True:
        limit = MAX_LINE + 1 if end is None else min(MAX_LINE + 1, end - offset)
        if limit <= 0:
            return
        line = file.readline(limit)
        if not line:
            return
        here, offset = offset, offset + len(line)
        if not line.endswith(b"\n"):
            if len(line) < limit or (end is not None and offset >= end):
                return  # the end of the file (or of the range): a line still being written
            stats.lines += 1
            stats.skip(here)  # longer than any record: skip to its end
            offset = skip_line(file, offset)
            continue
        stats.lines += 1
        if cancelled is not None and stats.lines % CANCEL_LINES == 0 and cancelled():
            raise InterruptedError("cancelled")
        head = DATA_HEAD.match(line, 0, 160)
        if head is not None:
            body = head.end()
            # Whole only if its one quote after the head is the closing one.
            if line.find(b'"', body) == len(line) - 3 and line.endswith(b'"}\n'):
                if not data or (conn is not None and head[2].decode() != conn):
                    continue
                record = data_record(session, head, line, body)
                if record is None:
                    stats.skip(here)
                else:
                    yield record
                continue
        found = parse_line(line)
        if found is None:
            stats.skip(here)
            recovered = recover(line)
            if recovered is None:
                continue
            stats.recovered += 1
            found, here = recovered[0], here + recovered[1]
        item = typed(found, session, here, stats)
        if item is None:
            stats.skip(here)
            continue
        if isinstance(item, Session):
            session = item
            yield item
            if item.schema > SCHEMA_VERSION:
                raise NewerSchema(item)
        elif isinstance(item, Data):
            if data and (conn is None or item.cid == conn):
                yield item
        else:
            yield item


def skip_line(file: BinaryIO, offset: int) -> int:
    while True:
        piece = file.readline(READ_PIECE)
        offset += len(piece)
        if not piece or piece.endswith(b"\n"):
            return offset


def data_record(session: Session, head: re.Match[bytes], line: bytes, body: int) -> Data | None:
    origin = origin_named(head[4].decode("ascii", "replace")) if head[4] else Origin.YOU
    try:
        payload = _b64decode(memoryview(line)[body:-3], validate=True)
        ts = float(head[1])
    except ValueError:
        return None
    if len(payload) != int(head[5]) or origin is None:
        return None
    cid = head[2].decode("ascii", "replace")
    return Data(session, ts, cid, DIRECTIONS[head[3].decode()], payload, origin)


def parse_line(line: bytes) -> dict[str, object] | None:
    try:
        found = json.loads(line)
    except (UnicodeDecodeError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def recover(line: bytes) -> tuple[dict[str, object], int] | None:
    """A whole record at the end of a cut line (an older writer appended the next session's
    record to it), with where it starts. A record's start can only be a record's start: a
    quote inside a JSON string is escaped, and base64 has none."""
    start = line.find(RECORD_START, 1)
    for _ in range(8):
        if start < 0:
            return None
        found = parse_line(line[start:])
        if found is not None:
            return found, start
        start = line.find(RECORD_START, start + 1)
    return None


def typed(
    found: dict[str, object], session: Session, offset: int, stats: Stats
) -> TranscriptRecord | None:
    ts, event, conn = found.get("ts"), found.get("event"), found.get("conn")
    if not isinstance(ts, int | float) or not isinstance(event, str) or not isinstance(conn, str):
        return None
    if event == "session":
        stats.sessions += 1
        schema = found.get("schema", 1)
        session_id, version = found.get("session_id"), found.get("version")
        return Session(
            number=stats.sessions,
            offset=offset,
            ts=float(ts),
            session_id=session_id if isinstance(session_id, str) else None,
            version=version if isinstance(version, str) else None,
            schema=schema if isinstance(schema, int) else 1,
            previous_cut=found.get("previous_cut") is True,
        )
    if event == "data":
        direction = DIRECTIONS.get(str(found.get("dir")))
        origin = origin_named(str(found.get("origin", Origin.YOU)))
        text = found.get("data")
        if direction is None or origin is None or not isinstance(text, str):
            return None
        try:
            payload = _b64decode(text.encode("ascii"), validate=True)
        except ValueError:
            return None
        return Data(session, float(ts), conn, direction, payload, origin)
    kind = KINDS.get(event)
    if kind is None:  # a kind this schema does not have: not a record it can show
        return None
    fields = {k: v for k, v in found.items() if k not in ("ts", "event", "conn")}
    return Event(session, float(ts), kind, conn, fields)


# --- conveniences over a file name ---


def sessions(path: str, stats: Stats | None = None) -> list[Session]:
    """Every session in the file, in order."""
    with open_for_reading(path) as file:
        return [r for r in read(file, stats=stats, data=False) if isinstance(r, Session)]


def connection_bytes(
    path: str, cid: str, session: int | str | None = None, stats: Stats | None = None
) -> tuple[bytes, bytes]:
    """(received, sent) by connection `cid` in one session: its number (1 = the first), its
    `session_id`, or None for the last one. For small connections: see `copy_connection`
    to stream a big one into files."""
    received, sent = bytearray(), bytearray()

    def restart() -> None:
        received.clear()
        sent.clear()

    copy_connection(path, cid, session, received.extend, sent.extend, restart, stats)
    return bytes(received), bytes(sent)


class SessionNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Copied:
    session: Session
    skipped: int  # lines within that session that were not whole records (bytes missing)


def copy_connection(
    path: str,
    cid: str,
    session: int | str | None,
    received: Callable[[bytes], object],
    sent: Callable[[bytes], object],
    restart: Callable[[], object],
    stats: Stats | None = None,
    *,
    start: int = 0,
    end: int | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> Copied:
    """Hand `cid`'s bytes of one session (see `connection_bytes`) to `received` and `sent`,
    in order, never joining two sessions: for the last session (None), `restart` is called
    when a later session begins, and what was handed over is to be forgotten. `start`: read
    from that offset on (a session's record; numbers then count from there). Raises
    SessionNotFound, OSError, or InterruptedError once `cancelled()`. `end` None: up to
    what the file holds when it is opened."""
    stats = stats if stats is not None else Stats()
    with open_for_reading(path) as file:
        if end is None:
            # What the file holds now: a file still being written (a flood on) would keep
            # moving its end, and the copy would take bytes that came after it was asked
            # for, maybe never ending.
            end = os.fstat(file.fileno()).st_size
        return _copy(file, cid, session, received, sent, restart, stats, start, end, cancelled)


def _copy(
    file: BinaryIO,
    cid: str,
    wanted: int | str | None,
    received: Callable[[bytes], object],
    sent: Callable[[bytes], object],
    restart: Callable[[], object],
    stats: Stats,
    start: int,
    end: int | None,
    cancelled: Callable[[], bool],
) -> Copied:
    current: Session | None = None
    inside = False
    skipped_before = 0  # stats.skipped when the wanted session began
    records = read(file, conn=cid, stats=stats, start=start, end=end, cancelled=cancelled)
    for record in records:
        if isinstance(record, Session):
            if inside and wanted is not None:
                break  # the wanted session ended
            match = (
                wanted is None
                or (isinstance(wanted, str) and record.session_id == wanted)
                or (isinstance(wanted, int) and record.number == wanted)
            )
            if match:
                if current is not None:
                    restart()  # a later session: the last one is wanted
                current, inside, skipped_before = record, True, stats.skipped
        elif inside and isinstance(record, Data):
            (received if record.dir is Direction.IN else sent)(record.data)
    if current is None:
        raise SessionNotFound(f"no session {wanted}" if wanted is not None else "no session")
    return Copied(current, stats.skipped - skipped_before)
