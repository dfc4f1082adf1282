"""The Log pane: the live Log with its search bar, and the Log's own actions (view, framing,
time, wrapping, filter, search, details, save, export), each bound to its key here.

Saves and exports run in thread workers (workbench/ui/file_jobs.py); every one of them ends
in `file_job_done`, which shows its notice or its error in words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input
from textual.worker import Worker, WorkerState

from workbench.log import ViewSettings
from workbench.log.settings import FRAMINGS
from workbench.payloads import next_in
from workbench.ui.log_view import DEFAULT_MAX_ROWS, LogView

if TYPE_CHECKING:
    from workbench.engine import Engine
    from workbench.session.core import SessionCore
    from workbench.ui.file_jobs import Notice

FILE_JOBS = "files"  # the worker group of saves and exports
# The pane's keys act on the Log itself: not while the search bar has the focus.
LOG_ACTIONS = {"display", "framing", "time", "wrap", "filter", "open_search", "save", "export"}


class LogPane(Vertical):
    BINDINGS = [
        Binding("m", "display", "View"),
        Binding("l", "framing", "Lines"),
        Binding("r", "time", "Time"),
        Binding("w", "wrap", "Wrap"),
        Binding("f", "filter", "Filter"),
        Binding("slash", "open_search", "Search"),
        Binding("s", "save", "Save"),
        Binding("e", "export", "Export"),
    ]

    def __init__(
        self,
        core: SessionCore,
        get_engine: Callable[[], Engine],
        max_rows: int = DEFAULT_MAX_ROWS,
        time_format: Callable[[float], str] | None = None,
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.core = core
        self.get_engine = get_engine  # the engine is made when it starts
        self.time_format = time_format
        self.log_view = LogView(max_rows, time_format=time_format, id="log")
        search_hint = "search the Log (Enter finds, n/N next/previous)"
        self.search_bar = Input(placeholder=search_hint, id="search")

    def compose(self) -> ComposeResult:
        yield self.search_bar
        yield self.log_view

    def on_mount(self) -> None:
        self.log_view.border_title = "Log"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.log_view.has_focus if action in LOG_ACTIONS else True

    # --- the view ---

    def view_settings(self) -> ViewSettings:
        # The ones asked for last: m, l, r and f pressed while a large Log is laid out
        # again build on them (the presses coalesce; see LogView.apply).
        return self.log_view.settings

    def action_display(self) -> None:
        modes = ("text", "hex", "both")
        settings = self.view_settings()
        self.log_view.apply(replace(settings, display=next_in(modes, settings.display)))

    def action_framing(self) -> None:
        """raw → lines → messages (once a connection has a framing=) → raw."""
        settings = self.view_settings()
        framings = FRAMINGS if self.log_view.model.framings else FRAMINGS[:2]
        framing = next_in(framings, settings.framing) if settings.framing in framings else "raw"
        self.log_view.apply(replace(settings, framing=framing))

    def action_time(self) -> None:
        settings = self.view_settings()
        self.log_view.apply(replace(settings, relative_time=not settings.relative_time))

    def action_wrap(self) -> None:
        settings = self.view_settings()
        self.log_view.apply(replace(settings, wrap=not settings.wrap))

    def action_filter(self) -> None:
        from workbench.ui.log_dialogs import FilterDialog

        def chosen(settings: ViewSettings | None) -> None:
            if settings is not None:
                self.log_view.apply(settings)
            self.log_view.focus()

        self.app.push_screen(FilterDialog(self.view_settings(), self.core.target), chosen)

    def reencode(self, encodings: dict[str, str]) -> None:
        """What the Log holds of these connections, in their new encoding."""
        self.log_view.model.store.set_encodings(encodings)
        self.log_view.apply(self.view_settings(), relayout=True)

    # --- search ---

    def action_open_search(self) -> None:
        search = self.search_bar
        search.display = True
        search.value = self.log_view.search_pattern
        search.focus()

    @on(Input.Submitted, "#search")
    def search_submitted(self, event: Input.Submitted) -> None:
        event.input.display = False
        self.log_view.focus()
        # An empty search clears the pattern and its highlights.
        if not self.log_view.search(event.value) and event.value:
            self.notify(f"not found: {event.value}", markup=False)

    def close_search(self) -> None:
        self.search_bar.display = False

    # --- details ---

    @on(LogView.DetailsRequested)
    def show_details(self, message: LogView.DetailsRequested) -> None:
        from workbench.ui.detail import RecordDetail

        record = message.record
        conn = self.core.session.connections.get(record.source)
        self.app.push_screen(RecordDetail(record, conn, self.time_format))

    # --- saving and exporting, off the UI thread ---

    def action_save(self) -> None:
        from workbench.ui.file_jobs import save_job
        from workbench.ui.log_dialogs import PathDialog

        def chosen(path: str | None) -> None:
            if path:  # the rows as shown now; the file is written off the UI thread
                self.run_file_job(f"save {path}", save_job(self.log_view.row_texts(), path))

        help_text = "Saves the rows the Log shows now (with the current view and filter)."
        self.app.push_screen(PathDialog("Save the Log", "sockbench-log.txt", help_text), chosen)

    def action_export(self) -> None:
        from workbench.ui.log_dialogs import PathDialog

        cursor = self.log_view.cursor  # the row under it, else the composer's target
        rows = self.log_view.model.rows
        item = rows[cursor].record.source if cursor is not None else self.core.target
        conn = self.core.session.connections.get(item or "")
        if conn is None:
            self.notify("nothing to export: choose a connection first", severity="warning")
            return

        def chosen(prefix: str | None) -> None:
            if prefix:
                self.export_connection(conn.cid, prefix)

        help_text = (
            f"Writes PREFIX.in.bin and PREFIX.out.bin: the bytes {conn.cid} received and sent."
        )
        self.app.push_screen(
            PathDialog(f"Export {conn.cid}", f"sockbench-{conn.cid}", help_text), chosen
        )

    def export_connection(self, cid: str, prefix: str) -> None:
        """In a worker: this run's session of the transcript, streamed, after its flush;
        else the Log's bytes, taken on this thread."""
        from workbench.transcript.export import log_chunks
        from workbench.ui.file_jobs import LogSnapshot, export_job

        model = self.log_view.model

        def snapshot() -> LogSnapshot:
            return log_chunks(cid, model.store, model.records_dropped)

        job = export_job(self.app, self.get_engine(), cid, prefix, snapshot)
        self.run_file_job(f"export {cid}", job)

    def run_file_job(self, name: str, job: Callable[[], Notice]) -> None:
        self.run_worker(job, name=name, group=FILE_JOBS, exit_on_error=False, thread=True)

    @on(Worker.StateChanged)
    def file_job_done(self, event: Worker.StateChanged) -> None:
        """Every save and export ends here: its notice, or its error in words."""
        from workbench.ui.file_jobs import JobError, Notice

        worker = event.worker
        if worker.group != FILE_JOBS:
            return
        if event.state == WorkerState.SUCCESS and isinstance(worker.result, Notice):
            notice = worker.result
            self.notify(notice.text, severity=notice.severity, markup=False)  # type: ignore[arg-type]
        elif event.state == WorkerState.ERROR:
            error = worker.error
            text = str(error) if isinstance(error, JobError) else f"{worker.name} failed: {error!r}"
            self.notify(text, severity="error", markup=False)
