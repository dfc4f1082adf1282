"""The Textual app: panes, Log and composer over an engine it starts and stops.

The app never touches a socket: it sends commands to the engine and builds everything it
shows from the engine's events, drained from the bridge about 30 times a second and handled
as one message per batch.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TypeVar

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.driver import Driver
from textual.events import DescendantFocus
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Header, Input, Static, TextArea, Tree
from textual.worker import Worker, WorkerState

from workbench import __version__
from workbench.codec import format_size, sanitize_text
from workbench.engine import Engine, EventBridge
from workbench.engine.bridge import DRAIN_INTERVAL_SECONDS
from workbench.gc_tuning import collect_young
from workbench.log import ViewSettings
from workbench.payloads import (
    BLOCK_CONFIRM_BYTES,
    FilePayload,
    SendSettings,
    build_block_payload,
    build_payload,
    next_in,
)
from workbench.protocol import events as ev
from workbench.protocol.endpoints import Endpoint
from workbench.session.core import NotSendable, SessionCore, TargetLine, Update
from workbench.session.drain import Drainer
from workbench.session.model import ConnectionInfo, Session
from workbench.transcript.export import log_chunks
from workbench.ui import exit_signals
from workbench.ui.cleanup import Cleanup
from workbench.ui.composer import BlockComposer, Composer
from workbench.ui.detail import RecordDetail
from workbench.ui.dialogs import (
    ConfirmDialog,
    ConnectDialog,
    ConnectRequest,
    ListenDialog,
    SendToDialog,
    SendToRequest,
)
from workbench.ui.file_jobs import GROUP as FILES
from workbench.ui.file_jobs import JobError, LogSnapshot, Notice, export_job, save_job
from workbench.ui.log_dialogs import FilterDialog, PathDialog
from workbench.ui.log_view import DEFAULT_MAX_ROWS, LogView
from workbench.ui.palette import SessionCommands
from workbench.ui.panes import ConnectionsTable, ListenersTree
from workbench.ui.paste_guard import paste_safe
from workbench.ui.stats import StatsBar
from workbench.ui.stats_file import STATS_SECONDS, StatsFile

WidgetType = TypeVar("WidgetType", bound=Widget)
COUNTERS_SECONDS = 0.25
# What handling the engine's events touches.
PANES = ("log", "listeners", "connections", "composer", "target", "mode")
MODE_PLACEHOLDERS = {
    "text": r"type to the target · Enter sends it + line ending · \r \n \t \0 \e \\ \xNN \u{…}",
    "hex": "hex bytes: de ad be ef, deadbeef, de:ad:be:ef or 0xdeadbeef; Enter sends them",
    "file": "path of a file to send; Enter sends its bytes",
}


@dataclass(frozen=True)
class StartupAction:
    kind: str  # "listen" or "connect"
    endpoint: Endpoint


class SockbenchApp(App[None]):
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {SessionCommands}
    TITLE = "sockbench"
    SUB_TITLE = f"socket workbench {__version__}"

    BINDINGS = [
        Binding("f2", "listen", "Listen"),
        Binding("f3", "connect", "Connect"),
        Binding("f4", "close", "Close"),
        Binding("f5", "send_to", "Send to"),
        Binding("ctrl+d", "half_close", "Send EOF"),
        Binding("f6", "reset", "Reset", show=False),
        Binding("ctrl+t", "cycle_mode", "Mode"),
        Binding("f7", "cycle_line_ending", "EOL"),
        Binding("f8", "cycle_encoding", "Encoding"),
        Binding("f9", "clean_up", "Clean up"),
        Binding("ctrl+l", "clear_log", "Clear Log", show=False),
        Binding("escape", "focus_composer", "Composer", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        engine: Engine,
        bridge: EventBridge,
        startup: Iterable[StartupAction] = (),
        *,
        clock: Callable[[], float] = time.time,
        time_format: Callable[[float], str] | None = None,
        log_max_rows: int = DEFAULT_MAX_ROWS,
        default_settings: SendSettings | None = None,
        stats_path: str | None = None,
        after_first_screen: Callable[[], None] | None = None,
    ) -> None:
        """`after_first_screen`: called once the first screen is drawn, before the engine
        starts (the command line tunes the garbage collector there)."""
        super().__init__()
        self.engine = engine
        self.bridge = bridge
        self.startup = list(startup)
        self.clock = clock
        self.time_format = time_format
        self.log_max_rows = log_max_rows
        self.core = SessionCore(default_settings)
        self.drainer = Drainer(bridge, self.handle_events, collect_young)
        self._exit_requested = False
        self.stats_file = StatsFile(stats_path) if stats_path else None
        self.after_first_screen = after_first_screen
        self._counted: set[str] = set()  # connections whose counters changed, not yet shown
        self._target_shown: TargetLine | None = None  # what show_target last put on screen
        self._widgets: dict[str, Widget] = {}  # by id, see _keep
        self._composer_error = ""  # shown under the composer
        self._structure_changed = False  # the panes' rows to sync with the next shown slice

    # --- layout ---

    def compose(self) -> ComposeResult:
        keep = self._keep
        yield Header()
        with Horizontal(id="panes"):
            yield keep(ListenersTree(self.clock, id="listeners"))
            yield keep(ConnectionsTable(self.clock, id="connections"))
        yield keep(StatsBar(id="stats"))
        search_hint = "search the Log (Enter finds, n/N next/previous)"
        yield keep(Input(placeholder=search_hint, id="search"))
        yield keep(LogView(self.log_max_rows, time_format=self.time_format, id="log"))
        yield keep(Static("", id="composer-error"))
        yield keep(Static("", id="progress"))
        with Horizontal(id="composer-row"):
            yield keep(Static("", id="target"))
            yield keep(Static("", id="mode"))
            composer = keep(Composer(id="composer"))
            yield composer
            yield keep(BlockComposer(composer, id="block-composer"))  # a pasted block
        yield Footer()

    def _keep(self, widget: WidgetType) -> WidgetType:
        """Remember a widget by its id: a DOM query per engine batch cost a tenth of the UI's
        time under a flood."""
        assert widget.id is not None
        self._widgets[widget.id] = widget
        return widget

    def widget(self, name: str, kind: type[WidgetType]) -> WidgetType:
        widget = self._widgets[name]
        assert isinstance(widget, kind)
        return widget

    def panes_mounted(self) -> bool:
        """False while the app shuts down: its widgets go in an order we do not choose, and
        the engine's events (handled in a timer's own task) must not reach the gone ones."""
        widgets = self._widgets
        return all(widgets[name].is_attached for name in PANES)

    @property
    def log_view(self) -> LogView:
        return self.widget("log", LogView)

    @property
    def listeners_tree(self) -> ListenersTree:
        return self.widget("listeners", ListenersTree)

    @property
    def connections_table(self) -> ConnectionsTable:
        return self.widget("connections", ConnectionsTable)

    @property
    def composer(self) -> Composer:
        return self.widget("composer", Composer)

    @property
    def block_composer(self) -> BlockComposer:
        return self.widget("block-composer", BlockComposer)

    def on_mount(self) -> None:
        self.listeners_tree.border_title = "Listeners"
        self.connections_table.border_title = "Connections"
        self.log_view.border_title = "Log"
        self.show_target()
        self.show_stats()  # from the start, not from the first tick: the screen does not jump
        self.composer.focus()
        # After the first screen: starting the engine's loop (and importing uvloop) is not
        # worth making the user wait for the screen.
        self.call_after_refresh(self.start_engine)

    def start_engine(self) -> None:
        # From here the loop takes SIGHUP/SIGTERM/SIGINT: one that came already quits now.
        if exit_signals.install(self) or self._exit_requested:
            return
        if self.after_first_screen is not None:
            self.after_first_screen()
        self.engine.start()
        self.set_interval(DRAIN_INTERVAL_SECONDS, self.drain_engine)
        self.set_interval(1.0, self.refresh_ages)
        self.set_interval(COUNTERS_SECONDS, self.show_counters)
        if self.stats_file is not None:
            self.set_interval(STATS_SECONDS, self.write_stats)
        for action in self.startup:
            if action.kind == "listen":
                self.engine.listen(action.endpoint)
            else:
                self.core.targeting.opened_by_user(self.engine.connect(action.endpoint))
        self.show_target()

    async def action_quit(self) -> None:
        self._exit_requested = True
        await super().action_quit()

    def on_unmount(self) -> None:
        self._exit_requested = True
        self.engine.stop()
        if self.stats_file is not None:
            self.stats_file.close()

    def write_stats(self) -> None:
        if self.stats_file is not None and not self._exit_requested:
            listening = [a for lis in self.session.listeners.values() for a in lis.local]
            self.stats_file.write(
                self.core.records.seq,
                self.connections_table.row_count,
                listening,
                batches=self.drainer.batches,
                batch_seconds=round(self.drainer.seconds, 6),
            )

    # --- events from the engine ---

    @property
    def session(self) -> Session:
        return self.core.session

    async def drain_engine(self) -> None:
        """The engine's events, about 30 times a second, in the drain timer's own task
        (workbench/session/drain.py): keys and frames go on between slices."""
        await self.drainer.drain(lambda: self._exit_requested or not self.panes_mounted())

    def handle_events(self, events: list[ev.Event], show: bool = True) -> None:
        """`show` False: a later slice of the same batch follows, and the Log and the panes'
        new rows are drawn with it (see drain_engine): an accept storm's 5,000 new rows are
        added and laid out once, not once per slice."""
        self.show_update(self.core.apply(events), show)

    def show_update(self, update: Update, show: bool) -> None:
        changes = update.changes
        self.log_view.add_records(update.records, show=show)
        added: set[str] = set()
        self._structure_changed |= changes.structure
        if self._structure_changed and show:
            self._structure_changed = False
            self.listeners_tree.sync(self.session)
            added = self.connections_table.sync(self.session)
        self.listeners_tree.refresh_labels(
            self.session, (changes.listeners | changes.connections) - added
        )
        self.connections_table.refresh_rows(self.session, changes.connections - added)
        self._counted |= changes.counted
        self._counted.difference_update(changes.forgotten)
        if update.progress:
            self.show_progress()
        if update.chosen:
            self.composer.focus()
        for notice in update.notices:
            severity = notice.severity
            self.notify(notice.text, title=notice.title, severity=severity, markup=False)  # type: ignore[arg-type]
        self.show_target()
        if update.target_moved or self.target in changes.connections:
            self.show_stats()

    def show_counters(self) -> None:
        """Bytes and message counts, a few times a second rather than on every batch: under a
        flood, redrawing the table and tree 30 times a second took a fifth of the UI's time."""
        if self._exit_requested or not self._counted or not self.panes_mounted():
            return
        counted, self._counted = self._counted, set()
        self.listeners_tree.refresh_labels(self.session, counted)  # datagram peers' counts
        self.connections_table.refresh_rows(self.session, counted)
        if self.target in counted:
            self.show_stats()

    def show_progress(self) -> None:
        label = self.widget("progress", Static)
        parts = [
            f"{p.cid}: sending {os.path.basename(p.path)} "
            f"{format_size(p.sent)} of {format_size(p.total)}"
            f" ({100 * p.sent // max(p.total, 1)}%)"
            for p in self.core.transfers.values()
        ]
        label.update(Content(sanitize_text("   ".join(parts))))
        label.display = bool(parts)

    def show_stats(self) -> None:
        bar = self.widget("stats", StatsBar)
        if bar.is_attached:  # not while quitting: widgets go in an order we do not choose
            bar.show(self.session.connections.get(self.target or ""), self.clock())

    def refresh_ages(self) -> None:
        if self._exit_requested or not self.panes_mounted():
            return  # a tick while quitting: the widgets are already gone
        self.show_stats()
        self.connections_table.refresh_each_second(self.session)
        self.listeners_tree.refresh_datagram_peers(self.session)

    # --- the target ---

    @property
    def target(self) -> str | None:
        return self.core.target

    def show_target(self) -> None:
        self.connections_table.set_target(self.target)
        self.connections_table.set_marked(self.core.marked)
        line = self.core.target_line()
        if line == self._target_shown:
            return  # called after every batch: updating a label lays the screen out again
        self._target_shown = line
        self.widget("mode", Static).update(Content(line.mode))
        self.composer.placeholder = MODE_PLACEHOLDERS[self.core.sending.mode]
        label = self.widget("target", Static)
        label.update(Content(line.target))
        label.set_class(not line.usable, "none")

    def choose_target(self, cid: str) -> None:
        if self.core.choose(cid):
            self.show_target()
            self.show_stats()

    @on(DataTable.RowSelected, "#connections")
    def connection_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.choose_target(event.row_key.value)
            self.composer.focus()

    @on(Tree.NodeSelected, "#listeners")
    def peer_selected(self, event: Tree.NodeSelected[str]) -> None:
        if event.node.data in self.session.connections:
            self.choose_target(event.node.data)
            self.composer.focus()

    # --- the composer ---

    def release(self, cids: Iterable[str]) -> None:
        """The session forgot these connections: so does everything else kept about them."""
        forgotten = list(cids)
        self.core.release(forgotten)
        self._counted.difference_update(forgotten)

    @on(Input.Submitted, "#composer")
    def send_line(self, event: Input.Submitted) -> None:
        def sent() -> None:
            self.composer.remember(event.value)
            self.composer.value = ""

        mode = self.core.sending.mode
        self.send_input(lambda settings: build_payload(mode, event.value, settings), sent)

    def send_input(
        self,
        build: Callable[[SendSettings], bytes | FilePayload],
        sent: Callable[[], None],
        hold: Callable[[list[tuple[str, bytes | FilePayload]]], bool] | None = None,
    ) -> None:
        """Send what `build` makes of the composer's input with each recipient's settings,
        once they can all take it, then call `sent`; otherwise show why, and send nothing.
        `hold`, given the payloads, may keep them back: True when it asked a question and
        sends again itself."""
        try:
            payloads = self.core.payloads(build)
        except NotSendable as exc:
            self.show_composer_error(str(exc))
            return
        if hold is not None and hold(payloads):
            return
        for cid, payload in payloads:
            if isinstance(payload, FilePayload):
                if not os.path.isfile(payload.path):
                    self.show_composer_error(f"not sent: no such file: {payload.path}")
                    return
                self.engine.send_file(cid, payload.path)
            else:
                self.engine.send(cid, payload)
        self.core.targeting.acknowledge()
        self.show_target()
        sent()
        self.show_composer_error("")

    @on(BlockComposer.Submitted)
    def send_block(self, message: BlockComposer.Submitted) -> None:
        self.send_lines(message.lines)

    def send_lines(self, lines: list[str], confirmed: bool = False) -> None:
        """A block: every line with its line ending, as one send per recipient so that it
        arrives together. Over BLOCK_CONFIRM_BYTES it asks first (unless `confirmed`)."""

        def sent() -> None:
            self.composer.remember("\n".join(lines))
            self.block_composer.close()

        def ask_if_large(payloads: list[tuple[str, bytes | FilePayload]]) -> bool:
            sizes = [len(p) for _, p in payloads if isinstance(p, bytes)]
            if confirmed or max(sizes, default=0) <= BLOCK_CONFIRM_BYTES:
                return False
            self.confirm_large_block(lines, [cid for cid, _ in payloads], sizes)
            return True

        mode = self.core.sending.mode
        build = lambda settings: build_block_payload(mode, lines, settings)  # noqa: E731
        self.send_input(build, sent, ask_if_large)

    def confirm_large_block(self, lines: list[str], cids: list[str], sizes: list[int]) -> None:
        largest = max(sizes)
        size = f"{format_size(largest)} ({largest:,} bytes)"
        if len(cids) == 1:
            conn = self.session.connections.get(cids[0])
            who = f"{cids[0]} ({conn.remote})" if conn is not None else cids[0]
        else:
            size = f"{size} each" if min(sizes) == largest else f"up to {size} each"
            who = f"{len(cids)} connections: {', '.join(cids)}"
        question = f"Send this block of {len(lines):,} lines, {size}, to {who}?"

        def answered(yes: bool | None) -> None:
            if yes:
                self.send_lines(lines, confirmed=True)

        self.push_screen(ConfirmDialog(sanitize_text(question), yes="Send"), answered)

    @on(TextArea.Changed, "#block-composer")
    def clear_block_error(self) -> None:
        self.show_composer_error("")

    @on(Input.Changed, "#composer")
    def clear_composer_error(self) -> None:
        self.show_composer_error("")

    def show_composer_error(self, text: str) -> None:
        # Cleared on every key: an update lays out the whole screen again, so only a change.
        if text == self._composer_error:
            return
        self._composer_error = text
        error = self.widget("composer-error", Static)
        error.update(Content(sanitize_text(text)))
        error.display = bool(text)

    # --- actions ---

    def action_cycle_mode(self) -> None:
        self.core.sending.cycle_mode()
        self.show_target()
        self.show_composer_error("")

    def action_cycle_line_ending(self) -> None:
        self.core.cycle_line_ending()
        self.show_target()

    def action_cycle_encoding(self) -> None:
        encodings = self.core.cycle_encoding()
        self.show_target()
        if encodings:  # what the Log holds of these connections, in the new encoding too
            self.log_view.model.store.set_encodings(encodings)
            self.log_view.apply(self.view_settings(), relayout=True)

    def toggle_mark(self, cid: str) -> None:
        self.core.toggle_mark(cid)
        self.show_target()

    @on(ConnectionsTable.ToggleMark)
    def mark_toggled(self, message: ConnectionsTable.ToggleMark) -> None:
        self.toggle_mark(message.cid)

    # --- the Log's view ---

    def view_settings(self) -> ViewSettings:
        # The ones asked for last: m, l, r and f pressed while a large Log is laid out
        # again build on them (the presses coalesce; see LogView.apply).
        return self.log_view.settings

    def action_log_display(self) -> None:
        modes = ("text", "hex", "both")
        settings = self.view_settings()
        self.log_view.apply(replace(settings, display=next_in(modes, settings.display)))

    def action_log_framing(self) -> None:
        settings = self.view_settings()
        framing = "lines" if settings.framing == "raw" else "raw"
        self.log_view.apply(replace(settings, framing=framing))

    def action_log_time(self) -> None:
        settings = self.view_settings()
        self.log_view.apply(replace(settings, relative_time=not settings.relative_time))

    def action_log_filter(self) -> None:
        def chosen(settings: ViewSettings | None) -> None:
            if settings is not None:
                self.log_view.apply(settings)
            self.log_view.focus()

        self.push_screen(FilterDialog(self.view_settings(), self.target), chosen)

    def action_log_search(self) -> None:
        search = self.widget("search", Input)
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

    def action_log_save(self) -> None:
        def chosen(path: str | None) -> None:
            if path:  # the rows as shown now; the file is written off the UI thread
                self.run_file_job(f"save {path}", save_job(self.log_view.row_texts(), path))

        help_text = "Saves the rows the Log shows now (with the current view and filter)."
        self.push_screen(PathDialog("Save the Log", "sockbench-log.txt", help_text), chosen)

    def action_log_export(self) -> None:
        log = self.log_view
        if self.focused is log and log.cursor is not None:
            item: str | None = log.model.rows[log.cursor].record.source
        else:
            item = self.selected_item()
        conn = self.session.connections.get(item or "")
        if conn is None:
            self.notify("nothing to export: choose a connection first", severity="warning")
            return

        def chosen(prefix: str | None) -> None:
            if prefix:
                self.export_connection(conn.cid, prefix)

        help_text = (
            f"Writes PREFIX.in.bin and PREFIX.out.bin: the bytes {conn.cid} received and sent."
        )
        self.push_screen(
            PathDialog(f"Export {conn.cid}", f"sockbench-{conn.cid}", help_text), chosen
        )

    def export_connection(self, cid: str, prefix: str) -> None:
        """In a worker (workbench/ui/file_jobs.py): this run's session of the transcript,
        streamed, after its flush; else the Log's bytes, taken on this thread."""
        model = self.log_view.model

        def snapshot() -> LogSnapshot:
            return log_chunks(cid, model.store, model.records_dropped)

        self.run_file_job(f"export {cid}", export_job(self, self.engine, cid, prefix, snapshot))

    def run_file_job(self, name: str, job: Callable[[], Notice]) -> None:
        self.run_worker(job, name=name, group=FILES, exit_on_error=False, thread=True)

    @on(Worker.StateChanged)
    def file_job_done(self, event: Worker.StateChanged) -> None:
        """Every save and export ends here: its notice, or its error in words."""
        worker = event.worker
        if worker.group != FILES:
            return
        if event.state == WorkerState.SUCCESS and isinstance(worker.result, Notice):
            notice = worker.result
            self.notify(notice.text, severity=notice.severity, markup=False)  # type: ignore[arg-type]
        elif event.state == WorkerState.ERROR:
            error = worker.error
            text = str(error) if isinstance(error, JobError) else f"{worker.name} failed: {error!r}"
            self.notify(text, severity="error", markup=False)

    @on(LogView.DetailsRequested)
    def show_details(self, message: LogView.DetailsRequested) -> None:
        record = message.record
        conn = self.session.connections.get(record.source)
        self.push_screen(RecordDetail(record, conn, self.time_format))

    def action_focus_composer(self) -> None:
        self.widget("search", Input).display = False
        self.composer.focus()
        self.log_view.follow()  # also when the composer had the focus already

    @on(DescendantFocus)
    def log_follows_in_composer(self, event: DescendantFocus) -> None:
        """Back in the composer (escape, tab, a click, Enter on a pane's row): the Log
        follows new rows again."""
        if event.widget is self._widgets.get("composer"):
            self.log_view.follow()

    def action_listen(self) -> None:
        def opened(endpoint: object) -> None:
            if isinstance(endpoint, Endpoint):
                self.engine.listen(endpoint)
            self.composer.focus()

        self.push_screen(ListenDialog(), opened)

    def action_connect(self) -> None:
        def chosen(request: object) -> None:
            if isinstance(request, ConnectRequest):
                cid = self.engine.connect(request.endpoint, request.timeout)
                self.core.targeting.opened_by_user(cid)  # the next line goes to it
                self.show_target()
            self.composer.focus()

        self.push_screen(ConnectDialog(), chosen)

    def action_send_to(self) -> None:
        listeners = [
            (lid, info.transport, f"{lid} {info.transport} {', '.join(info.local)}")
            for lid, info in self.session.listeners.items()
            if info.is_datagram
        ]
        if not listeners:
            self.notify(
                "Send to needs a UDP or Unix datagram listener: open one with f2 (port 0 is fine)",
                severity="warning",
                markup=False,
            )
            return
        item = self.selected_item()
        conn = self.session.connections.get(item or "")
        selected = conn.listener if conn is not None else item

        def chosen(request: object) -> None:
            if isinstance(request, SendToRequest):
                self.engine.add_peer(request.lid, request.endpoint)
            self.composer.focus()

        self.push_screen(SendToDialog(listeners, selected), chosen)

    def selected_item(self) -> str | None:
        """The id under the cursor of the focused pane, else the composer's target."""
        focused = self.focused
        if isinstance(focused, ListenersTree) and focused.cursor_node is not None:
            return focused.cursor_node.data
        if isinstance(focused, ConnectionsTable):
            return focused.selected_id()
        return self.target

    def selected_connection(self, action: str) -> ConnectionInfo | None:
        item = self.selected_item()
        conn = self.session.connections.get(item or "")
        if conn is None:
            self.notify(f"nothing to {action}: no connection selected", severity="warning")
        elif (
            item == self.target
            and self.core.targeting.note == "new"
            and not isinstance(self.focused, (ListenersTree, ConnectionsTable))
        ):
            # The target moved there by itself, perhaps as the key was pressed: a key that
            # ends a connection waits until the user chose it or sent to it.
            self.notify(
                f"nothing to {action}: {conn.cid} became the target by itself; choose it "
                f"(Enter on its row, or Target {conn.cid} in the palette) or send to it first",
                severity="warning",
                markup=False,
            )
            return None
        return conn

    def action_close(self) -> None:
        item = self.selected_item()
        if item in self.session.listeners:
            self.confirm_close_listener(item)
            return
        conn = self.selected_connection("close")
        if conn is not None:
            self.engine.close(conn.cid)

    def action_half_close(self) -> None:
        conn = self.selected_connection("send EOF to")
        if conn is not None:
            self.engine.half_close(conn.cid)

    def action_reset(self) -> None:
        conn = self.selected_connection("reset")
        if conn is not None:
            self.engine.reset(conn.cid)

    def confirm_close_listener(self, lid: str) -> None:
        listener = self.session.listeners[lid]
        peers = [c for c in listener.peers if self.session.connections[c].is_open]
        question = f"Close listener {lid} on {', '.join(listener.local)}"
        if peers:
            question += f" and its {len(peers)} open peer{'s' if len(peers) != 1 else ''}?"
        else:
            question += "? No peer is connected to it."

        def answered(yes: bool | None) -> None:
            if yes:
                self.engine.close_listener(lid)

        self.push_screen(ConfirmDialog(sanitize_text(question), yes="Close"), answered)

    # --- cleaning up (f9, ctrl+l): workbench/ui/cleanup.py ---

    @cached_property
    def cleanup(self) -> Cleanup:
        return Cleanup(self)

    def action_clean_up(self) -> None:
        self.cleanup.open_menu()

    def action_clear_log(self) -> None:
        if self.cleanup.main_screen_only():
            self.cleanup.clear_log()

    def get_driver_class(self) -> type[Driver]:
        # No key presses out of a paste (workbench/ui/paste_guard.py).
        return paste_safe(super().get_driver_class())
