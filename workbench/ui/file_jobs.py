"""Saving the Log and exporting a connection, off the UI thread.

Each job is a plain function run in a Textual thread worker (group `files`): it waits for
the transcript's flush, streams the transcript or writes the Log's snapshot, and returns the
notice to show. The Log pane shows it (or the error) in one place, `LogPane.file_job_done`,
and keeps answering keys meanwhile. What must be read on the UI thread (the Log's rows or
records) is taken there, quickly, before the job starts or through `call_from_thread`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.app import App
from textual.worker import get_current_worker

from workbench.transcript.export import (
    Exported,
    LogChunks,
    TranscriptSession,
    export_from_log,
    export_from_transcript,
    is_regular_file,
    save_lines,
)
from workbench.transcript.reader import NewerSchema, SessionNotFound

if TYPE_CHECKING:
    from workbench.engine import Engine

FLUSH_SECONDS = 2.0  # what an export waits for the transcript to be written (in the worker)


@dataclass(frozen=True)
class Notice:
    text: str
    severity: str = "information"


class JobError(Exception):
    """A job's failure, in words for the user."""


LogSnapshot = tuple[LogChunks, bool]


def cancelled() -> bool:
    try:
        return get_current_worker().is_cancelled
    except Exception:
        return False


def save_job(rows: list[str], path: str, saved: str = "{count:,} rows") -> Callable[[], Notice]:
    """Write `rows` as text lines; the notice names what was saved (`saved`, with the
    number of lines as `count`)."""

    def run() -> Notice:
        try:
            count = save_lines(rows, path)
        except OSError as exc:
            raise JobError(f"cannot save {path}: {exc.strerror or exc}") from None
        return Notice(f"saved {saved.format(count=count)} to {path}")

    return run


def export_job(
    app: App[None], engine: Engine, cid: str, prefix: str, snapshot: Callable[[], LogSnapshot]
) -> Callable[[], Notice]:
    """Export `cid` from this run's session of the transcript; without a transcript that can
    be read back (none, a device, or recording stopped), from the Log's `snapshot`."""

    def run() -> Notice:
        try:
            flushed = engine.flush_transcript(FLUSH_SECONDS)
        except RuntimeError:  # the engine's loop is gone (quitting)
            flushed = False
        path = engine.transcript_path
        writer = engine.transcript
        try:
            if path is not None and writer is not None and is_regular_file(path):
                session = TranscriptSession(
                    path,
                    getattr(writer, "session_id", None),
                    getattr(writer, "session_offset", 0),
                    flushed,
                )
                done = export_from_transcript(cid, prefix, session, cancelled)
            else:
                done = export_from_log(cid, prefix, *app.call_from_thread(snapshot))
        except OSError as exc:
            raise JobError(f"cannot export {cid}: {exc.strerror or exc}") from None
        except SessionNotFound:
            raise JobError(
                f"cannot export {cid}: the transcript {path} no longer holds this session "
                "(was it moved or replaced?)"
            ) from None
        except NewerSchema as exc:  # the transcript was replaced by a newer sockbench's
            raise JobError(f"cannot export {cid}: {exc}") from None
        except InterruptedError:
            raise JobError(f"export of {cid} cancelled") from None
        return exported_notice(done)

    return run


def exported_notice(done: Exported) -> Notice:
    note = "" if done.complete else f" (incomplete: {done.why_incomplete})"
    return Notice(
        f"wrote {done.received} ({done.received_bytes:,} bytes) and {done.sent} "
        f"({done.sent_bytes:,} bytes) from the {done.source}{note}",
        "information" if done.complete else "warning",
    )
