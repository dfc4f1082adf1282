"""A transcript's stream connections as replay scripts: which side was sockbench's, and so
which bytes are the client's and which the server's.

A connection a sockbench listener accepted was recorded by the server (its `out` bytes are
the server's); one sockbench opened, by the client (its `out` bytes are the client's). An
`eof` record ends one side's stream; a `close` record ends the side that closed it (cause
`peer`: the other one), unless that side had already ended.
"""

from __future__ import annotations

from workbench.protocol.enums import CloseCause, Direction, RecordKind
from workbench.replay.script import (
    Ended,
    Script,
    Selection,
    SelectionError,
    Sent,
    Side,
    Turn,
    parse_selection,
)
from workbench.transcript.connections import LoadError, RecordedConnection, load_connections
from workbench.transcript.records import Data


class RecordingError(ValueError):
    """A recording that cannot be replayed; `str()` says why, in words."""


def scripts_of(text: str) -> tuple[Script, ...]:
    """The stream connections `text` (FILE, FILE@2, FILE#C3, FILE@2#C3) names, as scripts
    in the order they opened. RecordingError when there are none or the file is bad."""
    try:
        selection = parse_selection(text)
    except SelectionError as exc:
        raise RecordingError(str(exc)) from None
    return scripts_selected(selection)


def scripts_selected(selection: Selection) -> tuple[Script, ...]:
    try:
        connections = load_connections(selection.path, selection.session, selection.conn)
    except LoadError as exc:
        raise RecordingError(str(exc)) from None
    streams = [c for c in connections if c.is_stream]
    if not streams:
        if connections:  # only datagrams: each is a datagram, not a stream to wait on
            kinds = ", ".join(sorted({c.transport for c in connections}))
            raise RecordingError(
                f"{selection}: no stream connection to replay (it has {kinds} ones; replay "
                "plays TCP and Unix stream connections)"
            )
        raise RecordingError(f"{selection}: no connection to replay")
    return tuple(script_of(c) for c in streams)


def script_of(recorded: RecordedConnection) -> Script:
    ours = Side.SERVER if recorded.accepted else Side.CLIENT  # sockbench's side

    def side_of(direction: object) -> Side:
        return ours if direction == Direction.OUT else ours.other

    turns: list[Turn] = []
    ended: set[Side] = set()
    sending: tuple[Side, bytearray, float] | None = None  # the turn being gathered, its pause
    # When the last record was: each turn's pause counts from there (the first's, the open).
    last = recorded.opened

    def pause_until(ts: float) -> float:
        return max(0.0, ts - last) if last is not None else 0.0

    def gathered() -> None:
        nonlocal sending
        if sending is not None and sending[1]:
            turns.append(Sent(sending[0], bytes(sending[1]), sending[2]))
        sending = None

    for item in recorded.items:
        if isinstance(item, Data):
            side = side_of(item.dir)
            if sending is None or sending[0] is not side:
                gathered()
                sending = (side, bytearray(), pause_until(item.ts))
            sending[1].extend(item.data)
            last = item.ts
            continue
        gathered()
        if item.event is RecordKind.EOF:
            side = side_of(item.fields.get("dir"))
        else:  # close: by the side that closed it, if it had not ended already
            side = ours.other if item.fields.get("cause") == CloseCause.PEER else ours
        if side not in ended:
            ended.add(side)
            turns.append(Ended(side, pause_until(item.ts)))
        last = item.ts
    gathered()
    return Script(recorded.session, recorded.cid, recorded.transport, tuple(turns))


def load_scripts(text: str) -> tuple[Script, ...]:
    """`scripts_of`, as the replay behaviour's loader (`use_loader`)."""
    return scripts_of(text)
