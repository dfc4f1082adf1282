"""A transcript's records as the reader types them: a session's start, data, other events."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.protocol.enums import Direction, Origin, OriginName, RecordKind
from workbench.transcript.schema import SCHEMA_VERSION


@dataclass(frozen=True)
class Session:
    number: int  # 1 for the file's first session
    offset: int  # where its `session` record starts in the file
    ts: float
    session_id: str | None  # None in files written before sessions had one
    version: str | None
    schema: int  # 1 when the record has none (written before the schema was numbered)
    previous_cut: bool  # the session before it was cut mid-write


@dataclass(frozen=True)
class Data:
    """One read or datagram received (`dir` IN) or one send (`dir` OUT)."""

    session: Session
    ts: float
    cid: str
    dir: Direction
    data: bytes
    origin: OriginName = Origin.YOU  # who sent it (outgoing only): you, or a behaviour

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class Event:
    """Any other record: listen, open, eof, close, refused, dropped, error."""

    session: Session
    ts: float
    event: RecordKind
    conn: str
    fields: dict[str, object]


TranscriptRecord = Session | Data | Event

NO_SESSION = Session(0, 0, 0.0, None, None, SCHEMA_VERSION, False)  # records before any session
