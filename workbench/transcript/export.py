"""Writing what the user asks to keep: the Log's rows as text, one connection's bytes as raw
files. Exact bytes come from the transcript when there is one (from one session: this run's,
never joined with another), else from the Log's records (which say if they no longer hold
everything).

Textual-free and meant to run off the UI thread: the transcript is streamed (memory bounded
whatever the connection's size), and every file is written to a new private file beside the
name asked for, then renamed over it (see workbench/files.py)."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from workbench.files import NewFile, commit, new_file_beside, replacing
from workbench.transcript.reader import SessionNotFound, Stats, copy_connection

if TYPE_CHECKING:  # the Log's records are read, not made: the Log's model is not loaded here
    from workbench.log import Record


@dataclass(frozen=True)
class Exported:
    received: Path
    sent: Path
    received_bytes: int
    sent_bytes: int
    complete: bool  # False: some of this connection's bytes are not in the files
    source: str  # "transcript" or "log"
    why_incomplete: str = ""


@dataclass(frozen=True)
class TranscriptSession:
    """Which transcript, and which session in it, an export reads."""

    path: str
    session_id: str | None = None  # None: the file's last session
    offset: int = 0  # where that session's record is expected in the file (a hint)
    flushed: bool = True  # everything recorded so far is in the file


# A snapshot of the Log's bytes of one connection: ("in" or "out", bytes) in order.
LogChunks = list[tuple[str, bytes]]
WHY_LOG = "the Log no longer holds every byte; use --transcript"


def save_lines(lines: Iterable[str], path: str) -> int:
    """Write text lines; returns how many. Raises OSError."""
    count = 0
    with replacing(path) as file:
        for line in lines:
            file.write(line.encode("utf-8", "replace") + b"\n")
            count += 1
    return count


def export_connection(
    cid: str,
    prefix: str,
    records: Iterable[Record],
    transcript: str | None,
    dropped: int,
    session_id: str | None = None,
) -> Exported:
    """Write `<prefix>.in.bin` and `<prefix>.out.bin` with what `cid` received and sent:
    from the transcript's session `session_id` (None: its last) when it can be read back,
    else from the Log's `records`."""
    if transcript is not None and is_regular_file(transcript):
        return export_from_transcript(cid, prefix, TranscriptSession(transcript, session_id))
    return export_from_log(cid, prefix, *log_chunks(cid, records, dropped))


def is_regular_file(path: str) -> bool:
    """Only a regular file can be read back: /dev/full reads as endless zeros, a pipe blocks."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def streams_from_transcript(path: str, cid: str) -> dict[str, bytearray]:
    """The bytes of `cid` in the last session of the transcript at `path`, in memory (for
    small checks, such as the benchmark's; an export streams instead)."""
    streams = {"in": bytearray(), "out": bytearray()}

    def restart() -> None:
        for stream in streams.values():
            stream.clear()

    with contextlib.suppress(SessionNotFound):  # an empty file: no bytes
        copy_connection(path, cid, None, streams["in"].extend, streams["out"].extend, restart)
    return streams


def log_chunks(cid: str, records: Iterable[Record], dropped: int) -> tuple[LogChunks, bool]:
    """`cid`'s bytes as the Log holds them, and whether that is all of them. Quick (the Log
    holds at most 64 MiB): taken on the UI thread, the files are written elsewhere."""
    chunks: LogChunks = []
    complete = dropped == 0
    for record in records:
        if record.source == cid and record.is_data:
            chunks.append((record.kind, record.data))
            complete = complete and not record.missing
    return chunks, complete


def export_from_log(cid: str, prefix: str, chunks: LogChunks, complete: bool) -> Exported:
    received, sent = paths(prefix)
    with (
        new_file_beside(str(received)) as (temp_in, file_in),
        new_file_beside(str(sent)) as (temp_out, file_out),
    ):
        sizes = {"in": 0, "out": 0}
        for kind, data in chunks:
            (file_in if kind == "in" else file_out).write(data)
            sizes[kind] += len(data)
        finish(file_in, temp_in, received, file_out, temp_out, sent)
    return Exported(
        received, sent, sizes["in"], sizes["out"], complete, "log", "" if complete else WHY_LOG
    )


def export_from_transcript(
    cid: str,
    prefix: str,
    transcript: TranscriptSession,
    cancelled: Callable[[], bool] = lambda: False,
) -> Exported:
    """Stream `cid`'s bytes of one session of the transcript into the two files. Raises
    OSError, SessionNotFound, or InterruptedError once `cancelled()`."""
    received, sent = paths(prefix)
    with (
        new_file_beside(str(received)) as (temp_in, file_in),
        new_file_beside(str(sent)) as (temp_out, file_out),
    ):

        def restart() -> None:
            for file in (file_in, file_out):
                file.seek(0)
                file.truncate()

        skipped = copy_session_connection(
            transcript, cid, file_in.write, file_out.write, restart, cancelled
        )
        sizes = file_in.tell(), file_out.tell()
        finish(file_in, temp_in, received, file_out, temp_out, sent)
    why = []
    if not transcript.flushed:
        why.append("the transcript could not be flushed in time: its last moments may be missing")
    if skipped:
        why.append(f"{skipped:,} line(s) of this session in the transcript are cut or damaged")
    return Exported(received, sent, *sizes, not why, "transcript", "; ".join(why))


def copy_session_connection(
    session: TranscriptSession,
    cid: str,
    write_in: Callable[[bytes], object],
    write_out: Callable[[bytes], object],
    restart: Callable[[], None],
    cancelled: Callable[[], bool] = lambda: False,
) -> int:
    """Copy `cid`'s bytes of this run's session of the transcript, each direction to its
    writer (`restart`: a later session of the file began, start again); how many of the
    session's lines were cut or damaged. Straight to the session when its place is known,
    else from the file's top. Raises OSError, SessionNotFound, or InterruptedError once
    `cancelled()`."""

    def copy(start: int) -> int:
        copied = copy_connection(
            session.path,
            cid,
            session.session_id,
            write_in,
            write_out,
            restart,
            Stats(),
            start=start,
            cancelled=cancelled,
        )
        return copied.skipped

    try:
        return copy(session.offset)
    except SessionNotFound:
        if session.offset == 0:
            raise
        restart()
        return copy(0)


def paths(prefix: str) -> tuple[Path, Path]:
    return Path(f"{prefix}.in.bin"), Path(f"{prefix}.out.bin")


def finish(
    file_in: BinaryIO,
    temp_in: NewFile,
    received: Path,
    file_out: BinaryIO,
    temp_out: NewFile,
    sent: Path,
) -> None:
    """Both files written: put them in place (replacing what was at the names)."""
    file_in.flush()
    file_out.flush()
    commit(temp_in, str(received))
    commit(temp_out, str(sent))


__all__ = [
    "Exported",
    "LogChunks",
    "SessionNotFound",
    "TranscriptSession",
    "export_connection",
    "export_from_log",
    "export_from_transcript",
    "log_chunks",
    "save_lines",
    "streams_from_transcript",
]
