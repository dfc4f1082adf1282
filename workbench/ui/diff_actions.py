"""Diffs in the app: the palette's "Diff two connections..." (the two marked connections,
else two picked in turn) and "Diff two recordings..." (a small form: two transcripts as
`sockbench diff` takes them, and a framing), both ending on the diff screen
(workbench/ui/diff_screen.py).

A live diff reads this run's session of the transcript when the app records one (every
byte, after its flush, in the screen's worker), else the Log's records (taken here, on the
UI thread: quick), and says when the Log no longer holds every byte.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from textual.app import SystemCommand

from workbench.session.model import id_number
from workbench.transcript.export import TranscriptSession, is_regular_file
from workbench.transcript.reader import NewerSchema, SessionNotFound
from workbench.ui.diff_report import DiffReport, compare_live, compare_recordings
from workbench.ui.diff_sources import LiveConnection, collect_from_log, collect_from_transcript
from workbench.ui.macro_book import MacroError
from workbench.ui.macro_dialog import FieldsDialog

if TYPE_CHECKING:
    from workbench.engine import Engine
    from workbench.ui.main_screen import MainScreen

FLUSH_SECONDS = 2.0  # what a live diff waits for the transcript to be written (in the worker)


class DiffActions:
    def __init__(self, main: MainScreen) -> None:
        self.main = main
        self.last_recordings = ("", "", "")  # the form's last A, B and framing

    # --- the palette ---

    def system_commands(self) -> Iterator[SystemCommand]:
        yield SystemCommand(
            "Diff two connections...",
            "What two connections received and sent, compared per direction: the two "
            "marked ones, else two you pick",
            self.diff_connections,
        )
        yield SystemCommand(
            "Diff two recordings...",
            "Two transcripts (FILE, FILE@2, FILE#C3) compared per direction, as sockbench "
            "diff does",
            self.diff_recordings,
        )

    # --- two connections of this session ---

    def diff_connections(self) -> None:
        """The two marked connections if exactly two are marked, else pick one, then the
        other."""
        main = self.main
        connections = main.session.connections
        marked = sorted((c for c in main.core.marked if c in connections), key=id_number)
        if len(marked) == 2:
            self.show_live(*marked)
            return
        self.pick("Diff: which connection first?", None, self.pick_second)

    def pick_second(self, first: str) -> None:
        self.pick(
            f"Diff {first} with which connection?",
            first,
            lambda second: self.show_live(first, second),
        )

    def pick(self, title: str, other: str | None, then: Callable[[str], None]) -> None:
        from workbench.ui.connection_picker import ConnectionPicker

        main = self.main
        eligible = [c for c in main.session.connections.values() if c.cid != other]
        none = "no other connection to compare with" if other else "no connection"

        def chosen(cid: str | None) -> None:
            if cid is not None and cid in main.session.connections:
                then(cid)
            else:
                main.composer.focus()

        current = main.target if main.target != other else None
        main.app.push_screen(ConnectionPicker(title, eligible, current, none), chosen)

    def live_connection(self, cid: str) -> LiveConnection:
        main = self.main
        conn = main.session.connections[cid]
        return LiveConnection(
            cid,
            main.opened.framing_of(cid, main.session),
            conn.is_datagram,
            conn.bytes_in,
            conn.bytes_out,
        )

    def show_live(self, first: str, second: str) -> None:
        from workbench.ui.diff_screen import DiffScreen

        a, b = self.live_connection(first), self.live_connection(second)
        engine = self.main.engine
        transcript = recorded_session(engine)
        if transcript is not None:
            job = transcript_job(engine, a, b, transcript)
        else:  # the Log's records, read now on this thread
            records = list(self.main.log_view.model.store)
            got_a, got_b = collect_from_log(a, records), collect_from_log(b, records)
            job = lambda: compare_live(a, b, got_a, got_b, "from the Log")  # noqa: E731
        self.main.app.push_screen(DiffScreen(f"{first} vs {second}", job))

    # --- two recordings ---

    def diff_recordings(self) -> None:
        from workbench.ui.diff_screen import DiffScreen

        def chosen(given: tuple[str, str, str] | None) -> None:
            if given is None:
                self.main.composer.focus()
                return
            self.last_recordings = given
            a, b, framing = given
            job = lambda: compare_recordings(a, b, framing)  # noqa: E731
            self.main.app.push_screen(DiffScreen(f"{a} vs {b}", job))

        self.main.app.push_screen(DiffRecordingsDialog(*self.last_recordings), chosen)


def recorded_session(engine: Engine) -> TranscriptSession | None:
    """This run's session of the transcript, when the app records one that can be read back
    (a regular file: not a device or a pipe)."""
    path, writer = engine.transcript_path, engine.transcript
    if path is None or writer is None or not is_regular_file(path):
        return None
    session_id = getattr(writer, "session_id", None)
    return TranscriptSession(path, session_id, getattr(writer, "session_offset", 0))


def transcript_job(
    engine: Engine, a: LiveConnection, b: LiveConnection, session: TranscriptSession
) -> Callable[[], DiffReport]:
    """In the worker: flush the transcript, read both connections from it, compare."""

    def run() -> DiffReport:
        from workbench.ui.file_jobs import cancelled

        try:
            flushed = engine.flush_transcript(FLUSH_SECONDS)
        except RuntimeError:  # the engine's loop is gone (quitting)
            flushed = False
        title = f"{a.cid} vs {b.cid}"
        try:
            got_a = collect_from_transcript(a.cid, session, cancelled=cancelled)
            got_b = collect_from_transcript(b.cid, session, cancelled=cancelled)
        except OSError as exc:
            return DiffReport(title, error=f"cannot read {session.path}: {exc.strerror or exc}")
        except SessionNotFound:
            return DiffReport(
                title,
                error=f"the transcript {session.path} no longer holds this session (was it "
                "moved or replaced?)",
            )
        except NewerSchema as exc:
            return DiffReport(title, error=str(exc))
        if not flushed:
            got_a.warnings.append(
                "the transcript could not be flushed in time: its last moments may be missing"
            )
        return compare_live(a, b, got_a, got_b, f"from the transcript {session.path}")

    return run


class DiffRecordingsDialog(FieldsDialog[tuple[str, str, str]]):
    """Two recordings and an optional framing; what is wrong with them is said here."""

    DEFAULT_CSS = "DiffRecordingsDialog { align: center middle; }"
    TITLE_TEXT = "Diff two recordings"
    OK_LABEL = "Diff"

    def __init__(self, a: str = "", b: str = "", framing: str = "") -> None:
        super().__init__()
        self.initial = (a, b, framing)

    def question(self) -> str:
        return (
            "Compare two transcripts per direction. Each is FILE (every connection of its "
            "last session, paired by position), FILE@2 (session 2), FILE#C3 (connection C3) "
            "or FILE@2#C3."
        )

    def fields(self) -> list[tuple[str, str, str, str]]:
        a, b, framing = self.initial
        return [
            ("A", "diff-a", a, "rec.jsonl@1"),
            ("B", "diff-b", b, "rec.jsonl@2"),
            ("Framing", "diff-framing", framing, "blank: text lines; len:2:be, resp, http"),
        ]

    def result(self) -> tuple[str, str, str]:
        from workbench.replay.script import SelectionError, parse_selection
        from workbench.ui.diff_report import parse_optional_framing

        given = []
        for label, field_id in (("A", "diff-a"), ("B", "diff-b")):
            text = os.path.expanduser(self.field(field_id).strip())
            if not text:
                raise MacroError(f"{label}: a transcript file (FILE, FILE@2, FILE#C3)")
            try:
                path = parse_selection(text).path
            except SelectionError as exc:
                raise MacroError(f"{label}: {exc}") from None
            if not os.path.isfile(path):
                raise MacroError(f"{label}: no such file: {path}")
            given.append(text)
        framing = self.field("diff-framing").strip()
        try:
            parse_optional_framing(framing)
        except ValueError as exc:
            raise MacroError(str(exc)) from None
        return given[0], given[1], framing
