"""A transcript session's connections, each with its data and its ends in recorded order:
what a replay plays and what a diff compares.

Loaded whole into memory (these are for protocol exchanges, not floods): a session holding
more than `MAX_LOADED_BYTES` of data is refused in words rather than read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from workbench.files import open_for_reading
from workbench.protocol.enums import Direction, RecordKind, Transport
from workbench.transcript.reader import NewerSchema, Stats, read
from workbench.transcript.records import Data, Event, Session

MAX_LOADED_BYTES = 256 * 1024 * 1024
STREAM_TRANSPORTS = frozenset({Transport.TCP, Transport.UNIX})


class LoadError(ValueError):
    """A transcript, session or connection that cannot be loaded; `str()` says why."""


@dataclass
class RecordedConnection:
    session: int
    cid: str
    transport: str
    accepted: bool  # a peer of a sockbench listener: sockbench was the server
    items: list[Data | Event] = field(default_factory=list)  # data, eof and close records
    opened: float | None = None  # its open record's time (a replay's first pause counts from it)

    @property
    def is_stream(self) -> bool:
        return self.transport in STREAM_TRANSPORTS

    def bytes_of(self, direction: Direction) -> bytes:
        return b"".join(i.data for i in self.items if isinstance(i, Data) and i.dir is direction)


def load_connections(
    path: str, session: int | None = None, conn: str | None = None
) -> list[RecordedConnection]:
    """The connections of session `session` of the transcript at `path` (1 = the first;
    None: the last), in the order they opened; only `conn` if given. LoadError, in words,
    for a file that cannot be read, a session or connection it does not have."""
    try:
        found, sessions = _load(path, session, conn)
    except OSError as exc:
        raise LoadError(f"cannot read {path}: {exc.strerror or exc}") from None
    except NewerSchema as exc:
        raise LoadError(f"{path}: {exc}") from None
    if found is None:
        what = f"no session {session}" if session is not None else "no session"
        raise LoadError(f"{path}: {what} (it has {sessions})")
    if conn is not None and not found:
        raise LoadError(f"{path}: session {_number(found, session, sessions)} has no {conn}")
    return found


def _number(found: object, session: int | None, sessions: int) -> int:
    return session if session is not None else sessions


def _load(
    path: str, wanted: int | None, conn: str | None
) -> tuple[list[RecordedConnection] | None, int]:
    stats = Stats()
    current: dict[str, RecordedConnection] | None = None
    loaded = 0
    with open_for_reading(path) as file:
        end = os.fstat(file.fileno()).st_size  # what it holds now, if still written
        for record in read(file, conn=conn, stats=stats, end=end):
            if isinstance(record, Session):
                if current is not None and wanted is not None:
                    break  # the wanted session ended
                if wanted is None or record.number == wanted:
                    current, loaded = {}, 0
                continue
            if current is None:
                continue
            if isinstance(record, Event) and record.event is RecordKind.OPEN:
                if conn is None or record.conn == conn:
                    current[record.conn] = RecordedConnection(
                        record.session.number,
                        record.conn,
                        str(record.fields.get("transport", "")),
                        record.fields.get("listener") is not None,
                        opened=record.ts,
                    )
                continue
            recorded = current.get(record.conn if isinstance(record, Event) else record.cid)
            if recorded is None:
                continue
            if isinstance(record, Data):
                loaded += record.size
                if loaded > MAX_LOADED_BYTES:
                    raise LoadError(
                        f"{path}: the session holds more than {MAX_LOADED_BYTES >> 20} MiB of "
                        "data: too much to load for a replay or a diff"
                    )
                recorded.items.append(record)
            elif record.event in (RecordKind.EOF, RecordKind.CLOSE):
                recorded.items.append(record)
    return (None if current is None else list(current.values())), stats.sessions
