"""Reading a transcript back: typed records, session by session, one line at a time.

A transcript file holds one or more sessions, each starting with a `session` record; ids
restart at L1 and C1 in each, so a connection is named by its session and its id. The
reader streams (memory bounded by the longest line it accepts, whatever the file's size)
and never fails on a line that is not a whole record: a run killed mid-write leaves one,
and it is skipped and counted (`Stats.skipped`). An older sockbench appended the next
session's record to such a cut line: the record is recovered from the end of the line, so
every session start is still found.

    from workbench.transcript_reader import connection_bytes, sessions
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

try:  # SIMD base64, as the writer uses
    from pybase64 import b64decode as _b64decode
except ImportError:  # pragma: no cover
    from base64 import b64decode as _b64decode  # type: ignore[assignment]

SCHEMA = 1  # the record layout this reader knows; a session without `schema` is 1
MAX_LINE = 64 * 1024 * 1024  # a longer line is not a record sockbench writes: skipped
READ_PIECE = 1024 * 1024
CANCEL_LINES = 64  # lines read (the connection's or not) between looks at `cancelled`
RECORD_START = b'{"ts":'
# The writer's own layout of a data record (see engine/transcript.py): matched without
# parsing the (long) base64 part as JSON.
DATA_HEAD = re.compile(
    rb'\{"ts":(-?[0-9.eE+-]+),"event":"data","conn":"([^"\\]*)","dir":"(in|out)",'
    rb'"size":([0-9]+),"data":"'
)


@dataclass(frozen=True)
class Session:
    number: int  # 1 for the file's first session
    offset: int  # where its `session` record starts in the file
    ts: float
    session_id: str | None  # None in files written before sessions had one
    version: str | None
    schema: int
    previous_cut: bool  # the session before it was cut mid-write


@dataclass(frozen=True)
class Data:
    """One read or datagram received (`dir` "in") or one send (`dir` "out")."""

    session: Session
    ts: float
    cid: str
    dir: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class Event:
    """Any other record: `event` is "listen", "open", "eof", "close", "refused", "error"..."""

    session: Session
    ts: float
    event: str
    conn: str
    fields: dict[str, object]


Record = Session | Data | Event


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


NO_SESSION = Session(0, 0, 0.0, None, None, SCHEMA, False)  # records before any session


def read(
    file: BinaryIO,
    *,
    conn: str | None = None,
    stats: Stats | None = None,
    start: int = 0,
    end: int | None = None,
    data: bool = True,
    cancelled: Callable[[], bool] | None = None,
) -> Iterator[Record]:
    """The records of the binary `file` from offset `start` (a line's start) up to `end`
    (a last line that `end` cuts is left out: being written). `conn`: yield only that id's
    data records (and every session and other record): the others are not decoded.
    `data` False: no data record at all (finding sessions reads fast). `cancelled`: looked
    at every CANCEL_LINES lines, read or skipped; InterruptedError once it says so."""
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
    try:
        payload = _b64decode(memoryview(line)[body:-3], validate=True)
        ts = float(head[1])
    except ValueError:
        return None
    if len(payload) != int(head[4]):
        return None
    return Data(session, ts, head[2].decode("ascii", "replace"), head[3].decode(), payload)


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


def typed(found: dict[str, object], session: Session, offset: int, stats: Stats) -> Record | None:
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
            schema=schema if isinstance(schema, int) else SCHEMA,
            previous_cut=found.get("previous_cut") is True,
        )
    if event == "data":
        direction, text = found.get("dir"), found.get("data")
        if direction not in ("in", "out") or not isinstance(text, str):
            return None
        try:
            payload = _b64decode(text.encode("ascii"), validate=True)
        except ValueError:
            return None
        return Data(session, float(ts), conn, str(direction), payload)
    fields = {k: v for k, v in found.items() if k not in ("ts", "event", "conn")}
    return Event(session, float(ts), event, conn, fields)


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
            (received if record.dir == "in" else sent)(record.data)
    if current is None:
        raise SessionNotFound(f"no session {wanted}" if wanted is not None else "no session")
    return Copied(current, stats.skipped - skipped_before)
