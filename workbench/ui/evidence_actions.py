"""Evidence, on the main screen: the palette's "Export capture (pcapng)..." and "Replay a
recording..." (no key of their own: the free keys left are those terminals take, f10 and
f11, or the composer's editing keys).

The forms (workbench/ui/evidence_dialogs.py) ask and do the file work off the UI thread;
this module gives them what the app knows (the transcript it records, the Log cursor's
connection) and opens a replay's listener or connections as the Listen and Connect dialogs
do, so that they show in the panes like any other (their sent data marked `replay`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from textual.app import SystemCommand

from workbench.replay.script import Script
from workbench.ui.evidence_forms import ReplayMode, ReplayRequest, replay_endpoints, replay_told
from workbench.ui.file_jobs import FLUSH_SECONDS, Notice

if TYPE_CHECKING:
    from workbench.ui.main_screen import MainScreen

EXPORT_CAPTURE = "Export capture (pcapng)..."
REPLAY_RECORDING = "Replay a recording..."
EXPORT_CAPTURE_HELP = (
    "What the transcript recorded, as a capture Wireshark and tshark open: this app's "
    "(--transcript FILE), or another"
)
REPLAY_RECORDING_HELP = (
    "A transcript's connection played back: serve its server at an address (a mock), or "
    "play its client against a live server"
)


class EvidenceActions:
    def __init__(self, main: MainScreen) -> None:
        self.main = main
        self.last_export = ("", "")  # the transcript and capture the last export wrote
        self.last_replay: tuple[str, ReplayMode, str] = ("", ReplayMode.SERVE, "")

    # --- the capture ---

    def recording(self) -> str | None:
        """The transcript this app records, while it records it."""
        return self.main.engine.transcript_path

    def flush(self) -> bool:
        """Make the transcript current on disk (run off the UI thread: it waits)."""
        try:
            return self.main.engine.flush_transcript(FLUSH_SECONDS)
        except RuntimeError:  # the engine's loop is gone (quitting)
            return False

    def cursor_connection(self) -> str:
        """The connection of the Log row under the cursor, if the cursor is on one."""
        view = self.main.log_view
        cursor = view.cursor
        if cursor is None:
            return ""
        source = view.model.rows[cursor].record.source
        return source if source in self.main.session.connections else ""

    def export_capture(self) -> None:
        from workbench.ui.evidence_dialogs import ExportCaptureDialog

        transcript, output = self.last_export
        recording = self.recording()
        if recording is not None and not transcript:
            transcript = recording  # this app's; the capture beside it
        engine = self.main.engine
        stopped = ""
        if recording is None and engine.transcript is not None:  # writing it failed
            stopped = f"{engine.transcript.path} ({engine.transcript_error or 'stopped'})"
            transcript = transcript or engine.transcript.path
        dialog = ExportCaptureDialog(
            recording, self.flush, transcript, output, self.cursor_connection(), stopped
        )

        def exported(notice: Notice | None) -> None:
            if notice is not None and dialog.request is not None:
                self.last_export = (dialog.request.transcript, dialog.request.output)
                self.main.notify(
                    notice.text,
                    title="capture",
                    severity=notice.severity,  # type: ignore[arg-type]
                    markup=False,
                )
            self.main.composer.focus()

        self.main.app.push_screen(dialog, exported)

    # --- the replay ---

    def replay(self) -> None:
        from workbench.ui.evidence_dialogs import ReplayDialog

        recording, mode, address = self.last_replay
        dialog = ReplayDialog(self.open_replay, recording, mode, address, self.main.bind_host)
        self.main.app.push_screen(dialog, self.replayed)

    def open_replay(self, request: ReplayRequest, scripts: tuple[Script, ...]) -> str:
        """Open what the form asked for, as the Listen and Connect dialogs do; what to say
        (FormError in words: the options do not go together)."""
        main = self.main
        endpoints = replay_endpoints(request, scripts)
        opened = []
        for endpoint in endpoints:
            if request.mode is ReplayMode.SERVE:
                opened.append(main.opened.listened(main.engine.listen(endpoint), endpoint))
            else:
                cid = main.opened.connected(main.engine.connect(endpoint), endpoint)
                opened.append(cid)
                main.opened_by_user(cid)
        self.last_replay = (str(request.selection), request.mode, request.endpoint.url)
        return replay_told(request, scripts, opened)

    def replayed(self, notice: Notice | None) -> None:
        if notice is not None:
            self.main.notify(notice.text, title="replay", markup=False)
        self.main.composer.focus()

    # --- the palette ---

    def system_commands(self) -> Iterator[SystemCommand]:
        yield SystemCommand(EXPORT_CAPTURE, EXPORT_CAPTURE_HELP, self.export_capture)
        yield SystemCommand(REPLAY_RECORDING, REPLAY_RECORDING_HELP, self.replay)
