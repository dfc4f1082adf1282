"""The bytes two live connections received and sent, for the diff screen: from this run's
session of the transcript when there is one (every byte), else from the Log's records (what
it still holds, said when that is not everything).

Textual-free. The Log is read on the UI thread (it holds at most 64 MiB and only two
connections' records are copied); the transcript is read in a worker, after its flush.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from workbench.codec import format_size
from workbench.protocol.enums import Direction
from workbench.transcript.export import TranscriptSession, copy_session_connection

if TYPE_CHECKING:  # the Log's records are read, not made
    from workbench.log import Record

# What a live diff reads of one connection (both directions): past it the rest is not
# compared, and the screen says so. The diff of that much is already past MAX_MESSAGES.
MAX_LIVE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class LiveConnection:
    """What the session knows of a connection to compare."""

    cid: str
    framing: str | None  # its endpoint's framing= (None: none)
    datagrams: bool
    bytes_in: int = 0  # as counted by the session
    bytes_out: int = 0


@dataclass
class Collected:
    """A connection's reads (or datagrams) and sends, in order, and what is not in them."""

    pieces: dict[Direction, list[bytes]] = field(
        default_factory=lambda: {Direction.IN: [], Direction.OUT: []}
    )
    warnings: list[str] = field(default_factory=list)

    def size(self) -> int:
        return sum(len(piece) for pieces in self.pieces.values() for piece in pieces)


class _Enough(Exception):
    """MAX_LIVE_BYTES read: the copy stops."""


def collect_from_log(conn: LiveConnection, records: Iterable[Record]) -> Collected:
    """`conn`'s bytes as the Log holds them; a warning when they are not all it counted
    (records dropped as the Log filled, cleared, or held in part under a flood)."""
    got = Collected()
    merged = False
    for record in records:
        if record.source == conn.cid and record.is_data:
            got.pieces[Direction(record.kind)].append(record.data)
            merged = merged or (conn.datagrams and record.chunks > 1)
    held = {d: sum(len(p) for p in pieces) for d, pieces in got.pieces.items()}
    counted = {Direction.IN: conn.bytes_in, Direction.OUT: conn.bytes_out}
    short = [
        f"{format_size(held[d])} of the {format_size(counted[d])} it {verb}"
        for d, verb in ((Direction.IN, "received"), (Direction.OUT, "sent"))
        if held[d] < counted[d]
    ]
    if short:
        got.warnings.append(
            f"the Log no longer holds every byte of {conn.cid} (it holds {' and '.join(short)}): "
            "what it dropped is not compared; run sockbench with --transcript FILE to diff "
            "every byte"
        )
    if merged:
        got.warnings.append(
            f"the Log merged some of {conn.cid}'s datagrams under load: their boundaries are "
            "not known"
        )
    return got


def collect_from_transcript(
    cid: str,
    session: TranscriptSession,
    limit: int = MAX_LIVE_BYTES,
    cancelled: Callable[[], bool] = lambda: False,
) -> Collected:
    """`cid`'s bytes in one session of the transcript (the first `limit` of them). Raises
    OSError, SessionNotFound, NewerSchema, or InterruptedError once `cancelled()`."""
    got = Collected()
    held = 0

    def keep(direction: Direction) -> Callable[[bytes], None]:
        def add(data: bytes) -> None:
            nonlocal held
            if held + len(data) > limit:
                raise _Enough
            got.pieces[direction].append(data)
            held += len(data)

        return add

    def restart() -> None:  # a later session of the file: the last one is wanted
        nonlocal held
        for pieces in got.pieces.values():
            pieces.clear()
        held = 0

    try:
        skipped = copy_session_connection(
            session, cid, keep(Direction.IN), keep(Direction.OUT), restart, cancelled
        )
    except _Enough:
        got.warnings.append(
            f"{cid} has more than {format_size(limit)}: only its first {format_size(limit)} "
            "are compared"
        )
        return got
    if skipped:
        got.warnings.append(
            f"{skipped:,} line(s) of this session in the transcript are cut or damaged"
        )
    return got
