"""Writing what the user asks to keep: the Log's rows as text, one connection's bytes as raw
files. Exact bytes come from the transcript when there is one, else from the Log's records
(which say if they no longer hold everything)."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from workbench.logmodel import Record


@dataclass(frozen=True)
class Exported:
    received: Path
    sent: Path
    received_bytes: int
    sent_bytes: int
    complete: bool  # False: the Log had dropped or cut some of this connection's bytes
    source: str  # "transcript" or "log"


def save_lines(lines: Iterable[str], path: str) -> int:
    """Write text lines; returns how many. Raises OSError."""
    count = 0
    with open(path, "w", encoding="utf-8") as file:
        for line in lines:
            file.write(line + "\n")
            count += 1
    return count


def export_connection(
    cid: str, prefix: str, records: Iterable[Record], transcript: str | None, dropped: int
) -> Exported:
    """Write `<prefix>.in.bin` and `<prefix>.out.bin` with what `cid` received and sent."""
    if transcript is not None and is_regular_file(transcript):
        streams = streams_from_transcript(transcript, cid)
        return write_streams(prefix, streams, complete=True, source="transcript")
    streams = {"in": bytearray(), "out": bytearray()}
    complete = dropped == 0
    for record in records:
        if record.source == cid and record.is_data:
            streams[record.kind] += record.data
            complete = complete and not record.missing
    return write_streams(prefix, streams, complete=complete, source="log")


def is_regular_file(path: str) -> bool:
    """Only a regular file can be read back: /dev/full reads as endless zeros, a pipe blocks."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def streams_from_transcript(path: str, cid: str) -> dict[str, bytearray]:
    """The bytes of `cid` in the last session recorded in the transcript at `path`."""
    streams = {"in": bytearray(), "out": bytearray()}
    with open(path, encoding="utf-8") as file:
        for line in file:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line being written right now
            if record.get("event") == "session":
                streams = {"in": bytearray(), "out": bytearray()}
            elif record.get("event") == "data" and record.get("conn") == cid:
                streams[record["dir"]] += base64.b64decode(record["data"])
    return streams


def write_streams(
    prefix: str, streams: dict[str, bytearray], complete: bool, source: str
) -> Exported:
    received, sent = Path(f"{prefix}.in.bin"), Path(f"{prefix}.out.bin")
    received.write_bytes(streams["in"])
    sent.write_bytes(streams["out"])
    return Exported(received, sent, len(streams["in"]), len(streams["out"]), complete, source)
