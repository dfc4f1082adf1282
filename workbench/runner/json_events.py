"""`sockbench run --json`: one JSON object per line for each event, in the transcript's
record shapes (workbench/transcript/event_records.py), data base64-encoded, and besides them
each sequence step as it starts (`step`) and the Log's notes (`note`). A flood's chunks
may arrive merged (`size` the exact total, `data` its first bytes): --transcript keeps
every byte."""

from __future__ import annotations

import base64
import json
from typing import Any

from workbench.protocol import events as ev
from workbench.protocol.enums import Origin
from workbench.transcript.event_records import records_of


def json_lines(events: list[ev.Event]) -> list[str]:
    lines: list[str] = []
    for event in events:
        for found in objects_of(event):
            # ASCII JSON: what a peer sent (an address, a certificate's name) cannot act on
            # the terminal it is printed to.
            lines.append(json.dumps(found, separators=(",", ":")))
    return lines


def objects_of(event: ev.Event) -> list[dict[str, Any]]:
    ts = round(event.ts, 6)
    if isinstance(event, ev.Data):
        found: dict[str, Any] = {
            "ts": ts,
            "event": "data",
            "conn": event.cid,
            "dir": "out" if event.outgoing else "in",
        }
        if event.outgoing and event.origin != Origin.YOU:
            found["origin"] = event.origin
        found["size"] = event.size
        found["data"] = base64.b64encode(event.data).decode("ascii")
        if event.truncated:
            found["held"] = len(event.data)
        return [found]
    if isinstance(event, ev.SequenceProgress):
        return [
            {"ts": ts, "event": "step", "conn": event.cid, "name": event.name,
             "step": event.step, "steps": event.steps, "doing": event.doing}
        ]  # fmt: skip
    made = [
        {"ts": ts, "event": str(kind), "conn": conn, **fields}
        for kind, conn, fields in records_of(event)
    ]
    if not made and isinstance(event, ev.Note):
        made.append({"ts": ts, "event": "note", "conn": event.source, "message": event.message})
    return made
