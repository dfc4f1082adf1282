"""The main screen: the listeners and connections panes, the stats line, the Log pane and the
composer, and what the user does with them (open, close, target, mark, send).

It shows what the session core makes of the engine's events (`show_update`) and sends the
user's commands to the engine; the app starts and stops the engine and drains its events.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.events import DescendantFocus, Resize
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Input, Static, Tree

from workbench.codec import format_size, sanitize_text
from workbench.payloads import (
    BLOCK_CONFIRM_BYTES,
    FilePayload,
    SendSettings,
    build_block_payload,
    build_payload,
)
from workbench.protocol.endpoints import DEFAULT_HOST, Endpoint
from workbench.session.core import NotSendable, SessionCore, TargetLine, Update
from workbench.session.model import ConnectionInfo, Session
from workbench.ui.composer import Composer, TargetLabel
from workbench.ui.first_screen import PANE_TITLES, TEXT_MODE_HINT, fit_footer
from workbench.ui.framed_send import NotFramed, as_messages, framed
from workbench.ui.log_pane import LogPane
from workbench.ui.log_view import DEFAULT_MAX_ROWS, LogView
from workbench.ui.panes import ConnectionsTable, ListenersTree
from workbench.ui.running_line import RunningLine
from workbench.ui.session_save import OpenedEndpoints
from workbench.ui.stats import StatsBar

if TYPE_CHECKING:
    from textual.widgets import TextArea

    from workbench.engine import Engine
    from workbench.ui.block_composer import BlockComposer
    from workbench.ui.cleanup import Cleanup
    from workbench.ui.diff_actions import DiffActions
    from workbench.ui.evidence_actions import EvidenceActions

WidgetType = TypeVar("WidgetType", bound=Widget)
# What handling the engine's events touches.
PANES = ("log", "listeners", "connections", "composer", "target", "mode")
MODE_PLACEHOLDERS = {
    "text": TEXT_MODE_HINT,
    "hex": "hex bytes: de ad be ef, deadbeef, de:ad:be:ef or 0xdeadbeef; Enter sends them",
    "file": "path of a file to send; Enter sends its bytes",
}
FRAMED_TEXT_HINT = (
    r"type to the target · Enter sends it as one {framing} message · \r \n \t \0 \e \\ \xNN"
)


class MainScreen(Screen[None]):
    AUTO_FOCUS = "#composer"

    def __init__(
        self,
        get_engine: Callable[[], Engine],
        core: SessionCore,
        clock: Callable[[], float],
        time_format: Callable[[float], str] | None = None,
        log_max_rows: int = DEFAULT_MAX_ROWS,
    ) -> None:
        super().__init__(id="_default")
        self._get_engine = get_engine  # the engine is made when it starts
        self.core = core
        self.clock = clock
        self.time_format = time_format
        self.log_max_rows = log_max_rows
        self.quitting = False  # set by the app: the timers' ticks leave the widgets alone
        self._counted: set[str] = set()  # connections whose counters changed, not yet shown
        self._target_shown: TargetLine | None = None  # what show_target last put on screen
        self._widgets: dict[str, Widget] = {}  # by id, see _keep
        self._composer_error = ""  # shown under the composer
        self._structure_changed = False  # the panes' rows to sync with the next shown slice
        self.dialog_memory: dict[str, dict[str, str | bool]] = {}  # the dialogs' last values
        self.bind_host = DEFAULT_HOST  # what a port alone means in the Listen dialog
        self.opened = OpenedEndpoints()  # what "Save session..." writes

    # --- layout ---

    def compose(self) -> ComposeResult:
        keep = self._keep
        with Horizontal(id="panes"):
            yield keep(ListenersTree(self.clock, id="listeners"))
            yield keep(ConnectionsTable(self.clock, id="connections"))
        yield keep(StatsBar(id="stats"))
        pane = LogPane(self.core, self._get_engine, self.log_max_rows, self.time_format)
        keep(pane.log_view)
        yield pane
        yield keep(Static("", id="composer-error"))
        yield keep(Static("", id="progress"))
        yield keep(RunningLine(id="running"))  # repeats and sequences
        with Horizontal(id="composer-row"):
            yield keep(TargetLabel("", id="target"))
            yield keep(Static("", id="mode"))
            yield keep(Composer(id="composer"))  # and, once needed, its block editor
        yield Footer()

    def on_resize(self, event: Resize) -> None:
        self.listeners_tree.fit_width(event.size.width)  # it takes a share of the screen
        fit_footer(self, event.size.width)

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

    def showing(self) -> bool:
        """Whether a timer's tick may update the widgets (not once quitting began)."""
        return not self.quitting and self.panes_mounted()

    @property
    def log_view(self) -> LogView:
        return self.widget("log", LogView)

    @property
    def log_pane(self) -> LogPane:
        pane = self.log_view.parent
        assert isinstance(pane, LogPane)
        return pane

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
    def block_composer(self) -> BlockComposer | None:
        """The block editor, once the composer made it (a paste of several lines...)."""
        return self.composer.block

    @property
    def engine(self) -> Engine:
        return self._get_engine()

    @property
    def session(self) -> Session:
        return self.core.session

    @property
    def target(self) -> str | None:
        return self.core.target

    def on_mount(self) -> None:
        self.listeners_tree.border_title = PANE_TITLES["listeners"]
        self.connections_table.border_title = PANE_TITLES["connections"]
        self.show_target()
        self.show_stats()  # from the start, not from the first tick: the screen does not jump

    # --- what the engine's events changed ---

    def show_update(self, update: Update, show: bool) -> None:
        """`show` False: a later slice of the same batch follows, and the Log and the panes'
        new rows are drawn with it: an accept storm's 5,000 new rows are added and laid out
        once, not once per slice."""
        changes = update.changes
        for cid in changes.opened:  # before its records: the messages view frames them
            framing = self.opened.framing_of(cid, self.session)
            if framing:
                self.log_view.model.set_framing(cid, framing)
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
        self.widget("running", RunningLine).show(self.session)
        if update.target_moved or self.target in changes.connections:
            self.show_stats()

    def show_counters(self) -> None:
        """Bytes and message counts, a few times a second rather than on every batch: under a
        flood, redrawing the table and tree 30 times a second took a fifth of the UI's time."""
        if not self._counted or not self.showing():
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
        if not self.showing():
            return  # a tick while quitting: the widgets are already gone
        self.show_stats()
        self.connections_table.refresh_each_second(self.session)
        self.listeners_tree.refresh_datagram_peers(self.session)

    def release(self, cids: Iterable[str]) -> None:
        """The session forgot these connections: so does everything else kept about them."""
        forgotten = list(cids)
        self.core.release(forgotten)
        self._counted.difference_update(forgotten)

    # --- the target and the marks ---

    def show_target(self) -> None:
        self.connections_table.set_target(self.target)
        self.connections_table.set_marked(self.core.marked)
        line = self.core.target_line()
        if line == self._target_shown:
            return  # called after every batch: updating a label lays the screen out again
        self._target_shown = line
        self.widget("mode", Static).update(Content(line.mode))
        self.composer.mode = self.core.sending.mode
        self.composer.placeholder = self.placeholder()
        label = self.widget("target", Static)
        label.update(Content(line.target))
        label.set_class(not line.usable, "none")

    def placeholder(self) -> str:
        """What the empty composer says: its mode's hint, or to a target with a framing that
        Enter sends one message of it (no line ending)."""
        mode = self.composer.mode
        target = self.target
        framing = None
        if mode == "text" and target is not None and not self.core.marked:
            framing = self.opened.framing_of(target, self.session)
        if framing:
            return FRAMED_TEXT_HINT.format(framing=sanitize_text(framing))
        return MODE_PLACEHOLDERS[mode]

    def choose_target(self, cid: str) -> None:
        if self.core.choose(cid):
            self.show_target()
            self.show_stats()

    def opened_by_user(self, cid: str) -> None:
        self.core.targeting.opened_by_user(cid)  # the next line goes to it
        self.show_target()

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

    def toggle_mark(self, cid: str) -> None:
        self.core.toggle_mark(cid)
        self.show_target()

    @on(ConnectionsTable.ToggleMark)
    def mark_toggled(self, message: ConnectionsTable.ToggleMark) -> None:
        self.toggle_mark(message.cid)

    # --- the composer ---

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
        messages: Callable[[SendSettings], list[bytes]] | None = None,
    ) -> None:
        """Send what `build` makes of the composer's input with each recipient's settings,
        once they can all take it, then call `sent`; otherwise show why, and send nothing.
        `hold`, given the payloads, may keep them back: True when it asked a question and
        sends again itself."""
        try:
            payloads = self.core.payloads(build)
            payloads = framed(
                payloads,
                messages or (lambda settings: as_messages(build(settings))),
                lambda cid: self.opened.framing_of(cid, self.session),
                self.core.sending.settings_for,
            )
        except (NotSendable, NotFramed) as exc:
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

    def on_block_composer_submitted(self, message: BlockComposer.Submitted) -> None:
        self.send_lines(message.lines)

    def send_lines(self, lines: list[str], confirmed: bool = False) -> None:
        """A block: every line with its line ending, as one send per recipient so that it
        arrives together. Over BLOCK_CONFIRM_BYTES it asks first (unless `confirmed`)."""

        def sent() -> None:
            self.composer.remember("\n".join(lines))
            if self.composer.block is not None:
                self.composer.block.close()

        def ask_if_large(payloads: list[tuple[str, bytes | FilePayload]]) -> bool:
            sizes = [len(p) for _, p in payloads if isinstance(p, bytes)]
            if confirmed or max(sizes, default=0) <= BLOCK_CONFIRM_BYTES:
                return False
            self.confirm_large_block(lines, [cid for cid, _ in payloads], sizes)
            return True

        mode = self.core.sending.mode
        build = lambda settings: build_block_payload(mode, lines, settings)  # noqa: E731

        # To a framed connection each line is a message of its own.
        def each(settings: SendSettings) -> list[bytes]:
            return [m for line in lines for m in as_messages(build_payload(mode, line, settings))]

        self.send_input(build, sent, ask_if_large, each)

    def confirm_large_block(self, lines: list[str], cids: list[str], sizes: list[int]) -> None:
        from workbench.ui.dialogs import ConfirmDialog

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

        self.app.push_screen(ConfirmDialog(sanitize_text(question), yes="Send"), answered)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        if event.text_area is self.composer.block:
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

    def action_focus_composer(self) -> None:
        self.log_pane.close_search()
        self.composer.focus()
        self.log_view.follow()  # also when the composer had the focus already

    @on(DescendantFocus)
    def log_follows_in_composer(self, event: DescendantFocus) -> None:
        """Back in the composer (escape, tab, a click, Enter on a pane's row): the Log
        follows new rows again."""
        if event.widget is self._widgets.get("composer"):
            self.log_view.follow()

    # --- send settings ---

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
            self.log_pane.reencode(encodings)

    # --- opening and closing ---

    def action_listen(self) -> None:
        from workbench.ui.dialogs import ListenDialog

        def opened(endpoint: object) -> None:
            if isinstance(endpoint, Endpoint):
                self.opened.listened(self.engine.listen(endpoint), endpoint)
            self.composer.focus()

        self.app.push_screen(ListenDialog(self.dialog_memory, bind_host=self.bind_host), opened)

    def action_connect(self) -> None:
        from workbench.ui.dialogs import ConnectDialog, ConnectRequest

        def chosen(request: object) -> None:
            if isinstance(request, ConnectRequest):
                cid = self.engine.connect(request.endpoint, request.timeout)
                self.opened_by_user(self.opened.connected(cid, request.endpoint))
            self.composer.focus()

        self.app.push_screen(ConnectDialog(self.dialog_memory), chosen)

    def action_send_to(self) -> None:
        from workbench.ui.dialogs import SendToDialog, SendToRequest

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

        self.app.push_screen(SendToDialog(listeners, selected, self.dialog_memory), chosen)

    def action_behaviour(self) -> None:
        from workbench.ui.behaviour_dialog import change_behaviour

        item = self.selected_item()
        conn = self.session.connections.get(item or "")
        change_behaviour(self, conn.listener if conn is not None else item)

    def selected_item(self) -> str | None:
        """The id under the cursor of the focused pane, else the composer's target."""
        focused = self.app.focused  # over a dialog or the palette: theirs, not a pane
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
            and not isinstance(self.app.focused, (ListenersTree, ConnectionsTable))
        ):
            # The target moved there by itself, perhaps as the key was pressed: a key that
            # ends a connection waits until the user chose it or sent to it.
            self.notify(
                f"nothing to {action}: {conn.cid} became the target by itself; choose it "
                "(Enter on its row, or Target... in the palette) or send to it first",
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

    def action_start_tls(self) -> None:
        conn = self.selected_connection("start TLS on")
        if conn is not None:
            self.engine.start_tls(conn.cid)

    def action_reset(self) -> None:
        conn = self.selected_connection("reset")
        if conn is not None:
            self.engine.reset(conn.cid)

    def confirm_close_listener(self, lid: str) -> None:
        from workbench.ui.dialogs import ConfirmDialog

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

        self.app.push_screen(ConfirmDialog(sanitize_text(question), yes="Close"), answered)

    # --- cleaning up (f9, ctrl+l): workbench/ui/cleanup.py ---

    @cached_property
    def cleanup(self) -> Cleanup:
        from workbench.ui.cleanup import Cleanup

        return Cleanup(self)

    @cached_property
    def evidence(self) -> EvidenceActions:  # pcapng export, replay: the palette's
        from workbench.ui.evidence_actions import EvidenceActions

        return EvidenceActions(self)

    def action_clean_up(self) -> None:
        self.cleanup.open_menu()

    def action_clear_log(self) -> None:
        if self.cleanup.main_screen_only():
            self.cleanup.clear_log()

    # --- diffs (the palette's): workbench/ui/diff_actions.py ---

    @cached_property
    def diffs(self) -> DiffActions:
        from workbench.ui.diff_actions import DiffActions

        return DiffActions(self)
