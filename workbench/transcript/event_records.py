"""The transcript's records of the engine's events (all but data, which the writer formats
by hand: that is the hot path under a flood).

Events the transcript does not keep (notes, progress, counts the UI polls) have no record; a
sequence's end and a repeat's are kept (`sequence`, `repeat`), not their progress.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from workbench.protocol import events as ev
from workbench.protocol.enums import Direction, Origin, RecordKind

# A record: its kind, the listener or connection it is about, its fields after those.
Record = tuple[RecordKind, str, dict[str, object]]
NONE: tuple[Record, ...] = ()


def _listen(event: ev.ListenerOpened) -> tuple[Record, ...]:
    fields: dict[str, object] = {
        "transport": event.transport,
        "local": list(event.local),
        "notes": list(event.notes),
    }
    return ((RecordKind.LISTEN, event.lid, fields),)


def _open(event: ev.ConnectionOpened) -> tuple[Record, ...]:
    fields: dict[str, object] = {
        "transport": event.transport,
        "listener": event.listener,
        "local": event.local,
        "remote": event.remote,
    }
    return ((RecordKind.OPEN, event.cid, fields),)


def _tls(event: ev.TlsEstablished) -> tuple[Record, ...]:
    info = event.info
    local = info.local_certificate
    fields: dict[str, object] = {
        "version": info.version,
        "cipher": info.cipher,
        "alpn": info.alpn,
        "sni": info.sni,
        "verified": info.verified,
        "verify_error": info.verify_error,
        "chain": [cert._asdict() for cert in info.chain],
        "local_certificate": local._asdict() if local is not None else None,
    }
    return ((RecordKind.TLS, event.cid, fields),)


def _eof(event: ev.HalfClosed) -> tuple[Record, ...]:
    fields: dict[str, object] = {"dir": Direction.OUT if event.outgoing else Direction.IN}
    if not event.outgoing:
        # What follows the peer's EOF: closing after the grace, or kept half-open.
        fields["then"] = "half-open" if event.closes_after is None else "close"
    elif event.origin != Origin.YOU:
        fields["origin"] = event.origin
    return ((RecordKind.EOF, event.cid, fields),)


def _closed(event: ev.ConnectionClosed) -> tuple[Record, ...]:
    fields: dict[str, object] = {"reason": event.reason, "cause": event.cause}
    if event.bytes_in is None:
        # A connect that never opened: its failure is an error of the session as well.
        if not event.error:
            return ((RecordKind.CLOSE, event.cid, fields),)
        error: Record = (RecordKind.ERROR, event.cid, {"message": event.reason})
        return (error, (RecordKind.CLOSE, event.cid, fields))
    fields["bytes_in"] = event.bytes_in
    fields["bytes_out"] = event.bytes_out
    return ((RecordKind.CLOSE, event.cid, fields),)


def _listener_closed(event: ev.ListenerClosed) -> tuple[Record, ...]:
    return ((RecordKind.CLOSE, event.lid, {"reason": event.reason, "cause": event.cause}),)


def _dropped(event: ev.DatagramsDropped) -> tuple[Record, ...]:
    return ((RecordKind.DROPPED, event.lid, {"dropped": event.dropped}),)


def _error(event: ev.ErrorReported) -> tuple[Record, ...]:
    return ((RecordKind.ERROR, event.source, {"message": event.message}),)


def _sequence(event: ev.SequenceEnded) -> tuple[Record, ...]:
    fields: dict[str, object] = {
        "name": event.name,
        "passed": event.passed,
        "step": event.step,
        "steps": event.steps,
    }
    if not event.passed:
        fields["message"] = event.message
        fields["arrived"] = base64.b64encode(event.arrived).decode("ascii")
    return ((RecordKind.SEQUENCE, event.cid, fields),)


def _repeat(event: ev.RepeatProgress) -> tuple[Record, ...]:
    if not event.finished:  # how far it got meanwhile: only its end is kept
        return NONE
    fields: dict[str, object] = {
        "repeat": event.rid,
        "sent": event.sent,
        "times": event.times,
        "reason": event.reason,
    }
    return ((RecordKind.REPEAT, "", fields),)


_RECORDS: dict[type, Callable[[Any], tuple[Record, ...]]] = {
    ev.ListenerOpened: _listen,
    ev.ConnectionOpened: _open,
    ev.TlsEstablished: _tls,
    ev.HalfClosed: _eof,
    ev.ConnectionClosed: _closed,
    ev.ListenerClosed: _listener_closed,
    ev.DatagramsDropped: _dropped,
    ev.ErrorReported: _error,
    ev.SequenceEnded: _sequence,
    ev.RepeatProgress: _repeat,
}


def records_of(event: ev.Event) -> tuple[Record, ...]:
    """The records `event` is kept as in the transcript (none for most)."""
    make = _RECORDS.get(type(event))
    return NONE if make is None else make(event)
