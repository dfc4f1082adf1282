"""The Log's records, made from the engine's events: what each event says in words.

A data record's `text` (unused otherwise for data) names who sent it when that was not the
user (the event's `origin`): `echo` for the bytes the echo behaviour sent back. The Log and
the detail view show it beside the sent mark.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from workbench.codec import format_size
from workbench.log import RawRecord, Record
from workbench.protocol import events as ev
from workbench.protocol.enums import Origin, OriginName, Transport
from workbench.protocol.tls_info import handshake_text
from workbench.session.model import (
    DATAGRAM_TRANSPORTS,
    ConnectionInfo,
    sequence_progress_text,
)

# How a connection's bytes are shown in the Log: (unit, encoding), e.g. ("reads", "utf-8").
ShownAs = Callable[[str], tuple[str, str]]


class RecordMaker:
    """Numbers the records (`seq`, never reused) and words the events."""

    def __init__(self) -> None:
        self.seq = 0

    def new(self, ts: float, source: str, kind: str, *args: object, **fields: object) -> Record:
        self.seq += 1
        return Record(self.seq, ts, source, kind, *args, **fields)  # type: ignore[arg-type]

    def of_events(
        self,
        events: list[ev.Event],
        shown_as: ShownAs,
        on_progress: Callable[[ev.FileProgress], None],
    ) -> list[Record | RawRecord]:
        """The records of a batch. Data is nearly every event under a flood: its records
        are made here directly, as the Log holds them (RawRecord), with each connection's
        unit and encoding looked up once per batch."""
        records: list[Record | RawRecord] = []
        add = records.append
        data_event = ev.Data
        you = Origin.YOU
        looked_up: dict[str, tuple[str, str]] = {}
        cid = unit = encoding = ""
        seq = self.seq
        for event in events:
            if type(event) is not data_event:
                self.seq = seq
                if isinstance(event, ev.FileProgress):
                    on_progress(event)
                records.extend(self.other_records(event))
                seq = self.seq
                continue
            if event.cid != cid:
                cid = event.cid
                how = looked_up.get(cid)
                if how is None:
                    how = looked_up[cid] = shown_as(cid)
                unit, encoding = how
            seq += 1
            origin = event.origin
            add(
                (
                    seq, event.ts, cid, "out" if event.outgoing else "in", event.data,
                    event.size, event.chunks, unit, encoding,
                    "" if origin == you else str(origin), False,
                )
            )  # fmt: skip
            # (str: an Origin member is an object the collector tracks, and a record holding
            # one would stay in its sight as long as the Log holds it.)
        self.seq = seq
        return records

    def other_records(self, event: ev.Event) -> Iterator[Record]:
        match event:
            case ev.FileProgress(ts, cid, path, sent, total, finished, error):
                if sent == 0 and not finished:
                    text = f"sending file {path} ({format_size(total)})…"
                    yield self.new(ts, cid, "info", text=text)
                elif finished and not error:
                    yield self.new(ts, cid, "info", text=f"sent file {path}: {sent:,} bytes")
            case ev.ConnectionOpened(ts=ts, cid=cid):
                yield self.new(ts, cid, "info", text=opened_text(event))
            case ev.TlsEstablished(ts, cid, info):
                yield self.new(ts, cid, "info", text=handshake_text(info))
            case ev.Connecting(ts, cid, remote, transport, scheme):
                text = f"connecting to {scheme or transport}://{remote}…"
                yield self.new(ts, cid, "info", text=text)
            case ev.Note(ts, source, text):
                yield self.new(ts, source, "info", text=text)
            case ev.HalfClosed(ts, cid, outgoing, closes_after, origin):
                text = half_closed_text(outgoing, closes_after, origin)
                yield self.new(ts, cid, "info", text=text)
            case ev.ConnectionClosed(ts, cid, reason, error):
                yield self.new(ts, cid, "error" if error else "info", text=reason)
            case ev.ListenerOpened(ts=ts, lid=lid, url=url, local=local, notes=notes):
                transport = url.split("://", 1)[0]
                text = f"listening on {transport} {', '.join(local)}"
                text += f" ({'; '.join(notes)})" if notes else ""
                yield self.new(ts, lid, "info", text=text)
            case ev.BehaviourChanged(ts, lid, notes=notes):
                yield self.new(ts, lid, "info", text=f"behaviour now: {'; '.join(notes)}")
            case ev.ListenerClosed(ts, lid, reason):
                yield self.new(ts, lid, "info", text=f"listener closed ({reason})")
            case ev.DatagramsDropped(ts, lid, dropped, burst=True):
                yield self.new(ts, lid, "error", text=dropped_text(lid, dropped))
            case ev.ErrorReported(ts, source, text):
                yield self.new(ts, source or "-", "error", text=text)
            case ev.SequenceProgress(ts, cid):
                yield self.new(ts, cid, "info", text=sequence_progress_text(event))
            case ev.SequenceEnded(ts, cid, passed=passed):
                kind = "info" if passed else "error"
                yield self.new(ts, cid, kind, text=sequence_ended_text(event))
            case ev.RepeatProgress(ts, rid, sent, finished=True, reason=reason):
                text = f"repeat {rid}: {sent:,} send{'' if sent == 1 else 's'}: {reason}"
                yield self.new(ts, rid, "info", text=text)


def sequence_ended_text(event: ev.SequenceEnded, arrived: bool = True) -> str:
    """How a sequence ended, in words; `arrived`: with what arrived when it failed (raw text
    of the peer's bytes: the Log's record sanitizes it when shown)."""
    name, steps = event.name, event.steps
    if event.passed:
        return f"sequence {name} passed ({steps} step{'' if steps == 1 else 's'})"
    text = f"sequence {name} failed at step {event.step}/{steps}: {event.message}"
    if not arrived:
        return text
    if event.arrived:
        # Invalid UTF-8 stays visible: each such byte is shown as its escape.
        return f"{text}; arrived: {event.arrived.decode('utf-8', 'surrogateescape')}"
    if event.message.startswith("nothing matched"):
        return f"{text}; nothing arrived"
    return text


def unit_of(conn: ConnectionInfo | None) -> str:
    """What one of a connection's records merges: reads (streams) or datagrams."""
    return "datagrams" if conn is not None and conn.is_datagram else "reads"


def half_closed_text(
    outgoing: bool, closes_after: float | None, origin: OriginName = Origin.YOU
) -> str:
    if outgoing and closes_after is not None:  # a behaviour hung up
        return (
            f"{origin} sent EOF; closing when the peer ends its side ({closes_after:g} s at most)"
        )
    if outgoing and origin != Origin.YOU:
        return f"{origin} sent EOF (end of stream)"
    if outgoing:
        return "you sent EOF (end of stream); still receiving"
    if closes_after == 0:  # ours had ended, or TLS (its close_notify ends it all)
        return "peer sent EOF; closing now"
    if closes_after is not None:
        return (
            f"peer sent EOF; closing in {closes_after:g} s (?halfopen=1 or --half-open keeps "
            "it open)"
        )
    return "peer sent EOF; half-open: you can still send until you close (f4)"


def dropped_text(lid: str, dropped: int) -> str:
    """The Log's line when the system starts dropping a listener's datagrams (once a burst;
    the Listeners pane keeps the running total)."""
    return (
        f"the system dropped datagrams sent to {lid}: its receive buffer was full "
        f"({dropped:,} so far; ?rcvbuf=BYTES gives it more room)"
    )


def opened_text(event: ev.ConnectionOpened) -> str:
    kind = "" if event.transport == Transport.TCP else f"{event.transport} "
    if event.listener is None:
        return f"connected {kind}{event.local} → {event.remote}"
    if event.transport in DATAGRAM_TRANSPORTS:
        return f"new {kind}peer {event.remote} on {event.local} ({event.listener})"
    return f"accepted {kind}{event.remote} on {event.local} ({event.listener})"
