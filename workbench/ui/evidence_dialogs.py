"""The forms of "Export capture (pcapng)..." and "Replay a recording...": small forms whose
OK runs its work in a thread worker (a 1 GiB transcript must not freeze the screen). The
form stays while it works, shows what went wrong in words, and closes with the notice to
show once it went. Escape cancels, the work with it.

The forms only ask: reading the fields and the work are workbench/ui/evidence_forms.py's;
what the replay opens is the caller's `open_replay` (workbench/ui/evidence_actions.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Select, Static
from textual.worker import Worker, WorkerState

from workbench.codec import sanitize_text
from workbench.files import same_file
from workbench.replay.script import Script
from workbench.ui.dialogs import ConfirmDialog
from workbench.ui.evidence_forms import (
    REPLAY_MODES,
    ExportRequest,
    FormError,
    ReplayMode,
    ReplayRequest,
    capture_name,
    export_capture,
    load_recording,
    read_export_fields,
    read_replay_fields,
)
from workbench.ui.file_jobs import Notice, cancelled
from workbench.ui.macro_dialog import DIALOG_CSS, compact_input, show_error, small_form

EVIDENCE_JOBS = "evidence"

Field = tuple[str, Widget]  # a label and its field


class JobForm(ModalScreen[Notice]):
    """A form whose OK starts work off the UI thread; it closes with the notice once the
    work (and `finished`) went, or shows the error in words and stays. It looks as the
    small forms of workbench/ui/macro_dialog.py do (their stylesheet)."""

    DEFAULT_CSS = (
        DIALOG_CSS
        + """
    ExportCaptureDialog, ReplayDialog {
        align: center middle;
    }
    ExportCaptureDialog #status, ExportCaptureDialog #error,
    ReplayDialog #status, ReplayDialog #error {
        margin-top: 1;
    }
    """
    )
    SCOPED_CSS = False
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    TITLE_TEXT = ""
    OK_LABEL = "OK"
    WORKING = "working..."

    def __init__(self) -> None:
        super().__init__()
        self.working = False

    def question(self) -> str:
        raise NotImplementedError

    def form_fields(self) -> list[Field]:
        """Each field with its label; the first has the focus."""
        raise NotImplementedError

    def field(self, field_id: str) -> str:
        return self.query_one(f"#{field_id}", Input).value

    def compose(self) -> ComposeResult:
        fields = self.form_fields()
        yield from small_form(self.TITLE_TEXT, self.question(), fields, self.OK_LABEL, status=True)

    def on_mount(self) -> None:
        self.query(Input).first().focus()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)  # a job still running is cancelled with the form

    def prepare(self) -> None:
        """Read the fields (FormError) and start the work with `run_job`, or ask first."""
        raise NotImplementedError

    def finished(self, result: Any) -> Notice:
        """On the UI thread, once the work went: the notice (FormError: shown, the form stays)."""
        raise NotImplementedError

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def submit(self) -> None:
        if self.working:
            return
        show_error(self, "")
        try:
            self.prepare()
        except FormError as exc:
            show_error(self, str(exc))

    def run_job(self, job: Callable[[], Any]) -> None:
        self.set_working(True)
        self.run_worker(job, group=EVIDENCE_JOBS, exit_on_error=False, thread=True)

    def set_working(self, working: bool) -> None:
        self.working = working
        status = self.query_one("#status", Static)
        status.update(Content(f"{self.WORKING} (escape cancels)" if working else ""))
        status.display = working
        self.query_one("#ok", Button).disabled = working

    @on(Worker.StateChanged)
    def job_done(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != EVIDENCE_JOBS or event.state not in (
            WorkerState.SUCCESS,
            WorkerState.ERROR,
        ):
            return
        self.set_working(False)
        try:
            if event.state == WorkerState.ERROR:
                error = worker.error
                if isinstance(error, FormError):
                    raise error
                raise FormError(f"{self.TITLE_TEXT} failed: {error!r}")
            notice = self.finished(worker.result)
        except FormError as exc:
            show_error(self, str(exc))
            return
        self.dismiss(notice)


class ExportCaptureDialog(JobForm):
    """The transcript, the capture's file, a session and connections: `sockbench export
    TRANSCRIPT --pcapng FILE [--session N] [--conn ID]`, in the app."""

    TITLE_TEXT = "Export capture (pcapng)"
    OK_LABEL = "Export"
    WORKING = "exporting..."

    def __init__(
        self,
        recording: str | None,
        flush: Callable[[], bool],
        transcript: str = "",
        output: str = "",
        conn: str = "",
        stopped: str = "",
    ) -> None:
        """`recording`: the transcript this app records (None: none); `flush` makes it
        current on disk; `stopped`: the one it stopped recording, and why. The fields start
        with `transcript`, `output` and `conn`."""
        super().__init__()
        self.recording = recording
        self.stopped = stopped
        self.flush = flush
        self.initial = (transcript or recording or "", output, conn)
        self.transcript_before = self.initial[0]  # what the capture's default name follows
        self.request: ExportRequest | None = None  # the export last started

    def question(self) -> str:
        what = (
            "Writes a capture Wireshark and tshark open, synthesised from what a transcript "
            "recorded."
        )
        if self.stopped:
            return (
                f"{what} This app stopped recording its transcript, {self.stopped}: it holds "
                "what came before."
            )
        if self.recording is None:
            return (
                f"{what} This app records none (sockbench --transcript FILE records one): "
                "give the transcript's file."
            )
        return f"{what} This app records to {self.recording}: it is flushed first."

    def form_fields(self) -> list[Field]:
        transcript, output, conn = self.initial
        return [
            ("Transcript", compact_input(transcript, "transcript", "FILE.jsonl")),
            ("Capture", compact_input(output or capture_name(transcript), "output")),
            ("Session", compact_input("", "session", "blank: the last (this app's)")),
            ("Connections", compact_input(conn, "conns", "blank: every one; C1 C3")),
        ]

    @on(Input.Changed, "#transcript")
    def transcript_changed(self, event: Input.Changed) -> None:
        """The capture's name follows the transcript's while it is the default one."""
        output = self.query_one("#output", Input)
        if output.value in ("", capture_name(self.transcript_before.strip())):
            output.value = capture_name(event.value.strip())
        self.transcript_before = event.value

    def prepare(self) -> None:
        request = read_export_fields(
            self.field("transcript"), self.field("output"), self.field("session"),
            self.field("conns"),
        )  # fmt: skip
        if os.path.lexists(request.output):
            self.confirm_replace(request)
        else:
            self.export(request)

    def confirm_replace(self, request: ExportRequest) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.export(request)

        question = sanitize_text(f"{request.output} exists. Replace it with the capture?")
        self.app.push_screen(ConfirmDialog(question, yes="Replace"), answered)

    def export(self, request: ExportRequest) -> None:
        self.request = request
        flush = self.flush if self.is_recording(request.transcript) else None
        self.run_job(lambda: export_capture(request, flush, cancelled))

    def is_recording(self, transcript: str) -> bool:
        return self.recording is not None and same_file(transcript, self.recording)

    def finished(self, result: Any) -> Notice:
        text, clean = result
        return Notice(text, "information" if clean else "warning")


OpenReplay = Callable[[ReplayRequest, tuple[Script, ...]], str]


class ReplayDialog(JobForm):
    """A recording (FILE, FILE@2, FILE#C3) played as the server at an address, or as the
    client against one."""

    TITLE_TEXT = "Replay a recording"
    OK_LABEL = "Replay"
    WORKING = "reading the recording..."

    def __init__(
        self,
        open_replay: OpenReplay,
        recording: str = "",
        mode: ReplayMode = ReplayMode.SERVE,
        address: str = "",
        bind_host: str = "127.0.0.1",
    ) -> None:
        """`open_replay` opens what the request asks for (FormError in words) and says
        what it opened."""
        super().__init__()
        self.open_replay = open_replay
        self.bind_host = bind_host
        self.initial = (recording, mode, address)
        self.request: ReplayRequest | None = None

    def serve_address(self) -> str:
        host = f"[{self.bind_host}]" if ":" in self.bind_host else self.bind_host
        return f"{host}:0"

    def question(self) -> str:
        return (
            "Serve: a listener plays the recorded server to each new client in turn (a mock). "
            "Against: a connection per recorded connection plays the recorded client to a "
            "live server; the Log says where its answers differ. Recording: FILE, FILE@2 (its "
            "session 2), FILE#C3 (its connection C3)."
        )

    def form_fields(self) -> list[Field]:
        recording, mode, address = self.initial
        if not address and mode is ReplayMode.SERVE:
            address = self.serve_address()
        select: Select[ReplayMode] = Select(
            REPLAY_MODES, value=mode, allow_blank=False, id="play", compact=True
        )
        return [
            ("Recording", compact_input(recording, "recording", "FILE.jsonl, FILE@2, FILE#C3")),
            ("Play", select),
            (
                "Address",
                compact_input(address, "address", "host:port, a URL or a Unix socket's path"),
            ),
        ]

    @property
    def mode(self) -> ReplayMode:
        return ReplayMode(str(self.query_one("#play", Select).value))

    @on(Select.Changed, "#play")
    def mode_changed(self, event: Select.Changed) -> None:
        """The listener's default address is no server to play against, and back."""
        address = self.query_one("#address", Input)
        if self.mode is ReplayMode.AGAINST and address.value == self.serve_address():
            address.value = ""
        elif self.mode is ReplayMode.SERVE and not address.value.strip():
            address.value = self.serve_address()

    def prepare(self) -> None:
        request = read_replay_fields(
            self.field("recording"), self.mode, self.field("address"), self.bind_host
        )
        self.request = request
        self.run_job(lambda: load_recording(request))

    def finished(self, result: Any) -> Notice:
        assert self.request is not None
        return Notice(self.open_replay(self.request, result))
