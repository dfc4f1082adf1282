"""A recorded connection as the turns of its two sides, the data a replay plays.

Pure data, free of the transcript's reader (the replay behaviour is sans-IO and may not
read files: `workbench.replay.recording` makes these from a transcript), and the
`FILE@SESSION#CONN` form that names a recording's session and connection.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import StrEnum


class Side(StrEnum):
    CLIENT = "client"
    SERVER = "server"

    @property
    def other(self) -> Side:
        return Side.SERVER if self is Side.CLIENT else Side.CLIENT


@dataclass(frozen=True, slots=True)
class Sent:
    """`side` sent `data` (consecutive sends of one side are one turn). `pause`: the seconds
    the recording had before it, since the turn before it (or the connection's open)."""

    side: Side
    data: bytes
    pause: float = 0.0


@dataclass(frozen=True, slots=True)
class Ended:
    """`side` ended its stream (EOF, or closed), `pause` seconds after the turn before it."""

    side: Side
    pause: float = 0.0


Turn = Sent | Ended


@dataclass(frozen=True, slots=True)
class Script:
    """One recorded stream connection: `session` (1 for the file's first), its id there,
    its transport, and its turns in the order they were recorded."""

    session: int
    cid: str
    transport: str
    turns: tuple[Turn, ...]

    @property
    def name(self) -> str:
        return f"session {self.session} {self.cid}"

    def sent_by(self, side: Side) -> bytes:
        return b"".join(t.data for t in self.turns if isinstance(t, Sent) and t.side is side)


# `FILE`, `FILE@2`, `FILE#C3`, `FILE@2#C3`: a session's number, a connection's id.
_SELECTED = re.compile(r"^(?P<path>.+?)(?:@(?P<session>[0-9]+))?(?:#(?P<conn>[A-Za-z0-9_.-]+))?$")


class SelectionError(ValueError):
    """A `FILE@N#CONN` that cannot be read; `str()` says why."""


@dataclass(frozen=True, slots=True)
class Selection:
    path: str
    session: int | None = None  # None: the file's last session
    conn: str | None = None  # None: every stream connection of the session, in order

    def __str__(self) -> str:
        session = f"@{self.session}" if self.session is not None else ""
        conn = f"#{self.conn}" if self.conn is not None else ""
        return f"{self.path}{session}{conn}"


def parse_selection(text: str) -> Selection:
    """`text` as a Selection. A file that exists under the whole name is that file, even
    if its name has @ or # in it."""
    if not text:
        raise SelectionError("the file name is empty")
    if os.path.exists(text):
        return Selection(text)
    found = _SELECTED.match(text)
    if found is None:  # pragma: no cover - the pattern matches any non-empty text
        raise SelectionError(f"'{text}' is not FILE, FILE@SESSION, FILE#CONN or FILE@SESSION#CONN")
    session = found["session"]
    number = int(session) if session is not None else None
    if number == 0:
        raise SelectionError(f"'{text}': sessions count from 1")
    return Selection(found["path"], number, found["conn"])
