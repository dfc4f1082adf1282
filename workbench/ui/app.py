"""The Textual app: panes, Log and composer over an engine it starts and stops.

The app never touches a socket: it sends commands to the engine and builds everything it
shows from the engine's events, drained from the bridge about 30 times a second and handled
as one message per batch.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TypeVar

from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.driver import Driver
from textual.events import DescendantFocus
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Header, Input, Static, TextArea, Tree
from textual.worker import Worker, WorkerState

from workbench import __version__
from workbench.codec import format_size, sanitize_text
from workbench.engine import Engine, EventBridge
from workbench.engine.bridge import DRAIN_INTERVAL_SECONDS, FULL_BATCH_REST_SECONDS
from workbench.gc_tuning import collect_young
from workbench.logmodel import RawRecord, Record, ViewSettings
from workbench.payloads import (
    BLOCK_CONFIRM_BYTES,
    ENCODING_NAMES,
    LINE_ENDING_NAMES,
    MODES,
    FilePayload,
    SendSettings,
    build_block_payload,
    build_payload,
    next_in,
)
from workbench.protocol import events as ev
from workbench.protocol.endpoints import Endpoint
from workbench.state import ConnectionInfo, Session, id_number
from workbench.targeting import Target
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
from workbench.ui.panes import ConnectionsTable, ListenersTree
from workbench.ui.paste_guard import paste_safe
from workbench.ui.safe_markup import literal_markup
from workbench.ui.stats import StatsBar
from workbench.ui.stats_file import STATS_SECONDS, StatsFile

WidgetType = TypeVar("WidgetType", bound=Widget)
COUNTERS_SECONDS = 0.25
# What handling the engine's events touches.
PANES = ("log", "listeners", "connections", "composer", "target", "mode")
# Engine events handled between two looks at keys and frames (a bridge's batch is at most
# 5,000 events). A key reaches the screen through several tasks, each waiting for the slice
# in progress: 5,000 made the key-to-screen p99 about 200 ms under a datagram flood.
BATCH_SLICE = 2_000
MODE_PLACEHOLDERS = {
    "text": r"type to the target · Enter sends it + line ending · \r \n \t \0 \e \\ \xNN \u{…}",
    "hex": "hex bytes: de ad be ef, deadbeef, de:ad:be:ef or 0xdeadbeef; Enter sends them",
    "file": "path of a file to send; Enter sends its bytes",
}
# A burst of failures (say 500 refused connects) shows a few toasts and a count, not 500.
MAX_NOTIFICATIONS_PER_BATCH = 3


async def others_first(max_turns: int = 30) -> None:
    """Let every other task that is ready run first (keys, frames, messages), up to
    `max_turns` rounds: a key goes through several tasks on its way to the screen, and a
    single turn let a slice of engine events run before each of them."""
    loop = asyncio.get_running_loop()
    # asyncio's own loop keeps its ready callbacks here; without it, one turn.
    ready = getattr(loop, "_ready", None)
    for _ in range(max_turns):
        await asyncio.sleep(0)
        if not ready:
            return


@dataclass(frozen=True)
class StartupAction:
    kind: str  # "listen" or "connect"
    endpoint: Endpoint


class SockbenchApp(App[None]):
    CSS_PATH = "app.tcss"
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
        self.session = Session()
        self.targeting = Target()
        self.mode = "text"
        self.default_settings = default_settings or SendSettings()
        # Only the connections whose settings differ from the default's (f7, f8), until the
        # session forgets them: one entry per peer ever seen grew without bound.
        self.send_settings: dict[str, SendSettings] = {}
        self.marked: set[str] = set()
        self.transfers: dict[str, ev.FileProgress] = {}
        self._seq = 0  # records' sequence numbers
        self._exit_requested = False
        self.stats_file = StatsFile(stats_path) if stats_path else None
        self.after_first_screen = after_first_screen
        self._counted: set[str] = set()  # connections whose counters changed, not yet shown
        self._target_shown: tuple[object, ...] = ()  # what show_target last put on screen
        self.batches = 0  # engine batches handled, and the time it took (for --stats-file)
        self.batch_seconds = 0.0
        self._widgets: dict[str, Widget] = {}  # by id, see _keep
        self._composer_error = ""  # shown under the composer
        self._structure_changed = False  # the panes' rows to sync with the next shown slice
        self._full_told: set[str] = set()  # listeners whose refusals at the maximum were told

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
                self.targeting.opened_by_user(self.engine.connect(action.endpoint))
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
                self._seq,
                self.connections_table.row_count,
                listening,
                batches=self.batches,
                batch_seconds=round(self.batch_seconds, 6),
            )

    # --- events from the engine ---

    async def drain_engine(self) -> None:
        """The engine's events, about 30 times a second. Runs in its timer's own task and
        pauses between slices and between batches, so keys and frames (other tasks) go on
        during a flood: handled as messages, a flood's batches queued up ahead of every key.
        While full batches keep coming it goes on rather than waiting for the next tick (the
        engine stops reading while a full batch waits)."""
        while True:
            events = self.bridge.drain()
            took = 0.0
            for start in range(0, len(events), BATCH_SLICE):
                if self._exit_requested or not self.panes_mounted():
                    return  # quitting: the widgets are going
                started = time.perf_counter()
                last = start + BATCH_SLICE >= len(events)
                self.handle_events(events[start : start + BATCH_SLICE], show=last)
                took += time.perf_counter() - started
                self.batches += 1
                collect_young()
                await others_first()
            self.batch_seconds += took
            if len(events) < self.bridge.max_events:
                return
            # A short rest, not just a turn: a key goes through several tasks to its echo.
            await asyncio.sleep(FULL_BATCH_REST_SECONDS)

    def handle_events(self, events: list[ev.Event], show: bool = True) -> None:
        """`show` False: a later slice of the same batch follows, and the Log and the panes'
        new rows are drawn with it (see drain_engine): an accept storm's 5,000 new rows are
        added and laid out once, not once per slice."""
        changes = self.session.apply(events)
        self.log_view.add_records(self.log_records(events), show=show)
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
        self.release(changes.forgotten)
        target_moved = self.targeting.update(self.session, changes.opened)
        for event in events:
            if isinstance(event, ev.PeerResolved):  # "Send to..." chose this peer
                self.targeting.choose(event.cid)
                self.composer.focus()
            elif isinstance(event, ev.ListenerOpened):
                for note in event.notes:
                    if note.startswith("warning:"):  # e.g. listening on every interface
                        text = sanitize_text(f"{event.lid}: {note.removeprefix('warning: ')}")
                        self.notify(text, severity="warning", markup=False)
            elif isinstance(event, ev.ListenerRefused) and event.lid not in self._full_told:
                # Once per listener: its count in the Listeners pane may be cut at the edge.
                self._full_told.add(event.lid)
                self.notify(
                    f"{event.lid} is at its maximum of connections: new ones are refused "
                    "(?max=N or --max-conns sets it)",
                    severity="warning",
                    markup=False,
                )
        self.notify_errors(changes.errors)
        self.show_target()
        if target_moved or self.target in changes.connections:
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

    def new_record(self, ts: float, source: str, kind: str, *args: object, **kw: object) -> Record:
        self._seq += 1
        return Record(self._seq, ts, source, kind, *args, **kw)  # type: ignore[arg-type]

    def log_records(self, events: list[ev.Event]) -> list[Record | RawRecord]:
        """The Log's records for a batch. Data is nearly every event under a flood: its
        records are made here directly, as the Log holds them (RawRecord), with each
        connection's unit and encoding looked up once per batch."""
        records: list[Record | RawRecord] = []
        add = records.append
        data_event = ev.Data
        shown_as: dict[str, tuple[str, str]] = {}  # cid -> (unit, encoding)
        cid = unit = encoding = ""
        seq = self._seq
        for event in events:
            if type(event) is not data_event:
                self._seq = seq
                records.extend(self.other_records(event))
                seq = self._seq
                continue
            if event.cid != cid:
                cid = event.cid
                how = shown_as.get(cid)
                if how is None:
                    conn = self.session.connections.get(cid)
                    kind_of = "datagrams" if conn is not None and conn.is_datagram else "reads"
                    how = shown_as[cid] = (kind_of, self.settings_for(cid).encoding)
                unit, encoding = how
            seq += 1
            add(
                (
                    seq, event.ts, cid, "out" if event.outgoing else "in", event.data,
                    event.size, event.chunks, unit, encoding, "", False,
                )
            )  # fmt: skip
        self._seq = seq
        return records

    def other_records(self, event: ev.Event) -> Iterator[Record]:
        match event:
            case ev.FileProgress(ts, cid, path, sent, total, finished, error):
                self.show_progress(event)
                if sent == 0 and not finished:
                    text = f"sending file {path} ({format_size(total)})…"
                    yield self.new_record(ts, cid, "info", text=text)
                elif finished and not error:
                    yield self.new_record(ts, cid, "info", text=f"sent file {path}: {sent:,} bytes")
            case ev.ConnectionOpened(ts=ts, cid=cid):
                yield self.new_record(ts, cid, "info", text=opened_text(event))
            case ev.Connecting(ts, cid, remote, transport):
                yield self.new_record(
                    ts, cid, "info", text=f"connecting to {transport}://{remote}…"
                )
            case ev.Note(ts, source, text):
                yield self.new_record(ts, source, "info", text=text)
            case ev.HalfClosed(ts, cid, outgoing, closes_after):
                text = half_closed_text(outgoing, closes_after)
                yield self.new_record(ts, cid, "info", text=text)
            case ev.ConnectionClosed(ts, cid, reason, error):
                yield self.new_record(ts, cid, "error" if error else "info", text=reason)
            case ev.ListenerOpened(ts=ts, lid=lid, url=url, local=local, notes=notes):
                transport = url.split("://", 1)[0]
                text = f"listening on {transport} {', '.join(local)}"
                yield self.new_record(
                    ts, lid, "info", text=text + (f" ({'; '.join(notes)})" if notes else "")
                )
            case ev.ListenerClosed(ts, lid, reason):
                yield self.new_record(ts, lid, "info", text=f"listener closed ({reason})")
            case ev.DatagramsDropped(ts, lid, dropped, burst=True):
                yield self.new_record(ts, lid, "error", text=dropped_text(lid, dropped))
            case ev.ErrorReported(ts, source, text):
                yield self.new_record(ts, source or "-", "error", text=text)

    def notify_errors(self, errors: list[ev.ErrorReported | ev.ConnectionClosed]) -> None:
        for error in errors[:MAX_NOTIFICATIONS_PER_BATCH]:
            if isinstance(error, ev.ErrorReported):
                source, text = error.source, error.message
            else:
                source, text = error.cid, error.reason
            title = sanitize_text(source) if source else "error"
            self.notify(sanitize_text(text), title=title, severity="error", markup=False)
        hidden = len(errors) - MAX_NOTIFICATIONS_PER_BATCH
        if hidden > 0:
            self.notify(f"and {hidden} more errors: see the Log", severity="error", markup=False)

    def show_progress(self, progress: ev.FileProgress) -> None:
        if progress.finished:
            self.transfers.pop(progress.cid, None)
        else:
            self.transfers[progress.cid] = progress
        label = self.widget("progress", Static)
        parts = [
            f"{p.cid}: sending {os.path.basename(p.path)} "
            f"{format_size(p.sent)} of {format_size(p.total)}"
            f" ({100 * p.sent // max(p.total, 1)}%)"
            for p in self.transfers.values()
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
        return self.targeting.cid

    def show_target(self) -> None:
        self.connections_table.set_target(self.target)
        self.connections_table.set_marked(self.marked)
        settings = self.settings_for(self.target) if self.target else self.default_settings
        mode = f"{self.mode} · {settings.describe()}" if self.mode == "text" else self.mode
        marked = [c for c in self.marked if c in self.session.connections]
        conn = self.session.connections.get(self.target or "")
        if marked:
            target, usable = f"to {len(marked)} marked", True
        elif conn is None and self.target is not None:  # just opened: not reported yet
            target, usable = f"to {self.target} (connecting)", False
        elif conn is None:
            note = self.targeting.note
            target, usable = f"no target: {note}" if note else "no target", False
        else:
            state = f"new, {conn.state}" if self.targeting.note == "new" else conn.state
            where = f"{conn.transport} {conn.remote}" if conn.transport != "tcp" else conn.remote
            target, usable = sanitize_text(f"to {conn.cid} {where} ({state})"), conn.can_send
        shown = (mode, target, usable, self.mode)
        if shown == self._target_shown:
            return  # called after every batch: updating a label lays the screen out again
        self._target_shown = shown
        self.widget("mode", Static).update(Content(mode))
        self.composer.placeholder = MODE_PLACEHOLDERS[self.mode]
        label = self.widget("target", Static)
        label.update(Content(target))
        label.set_class(not usable, "none")

    def choose_target(self, cid: str) -> None:
        if cid in self.session.connections:
            self.targeting.choose(cid, closing=self.session.connections[cid].ending)
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

    def recipients(self) -> list[ConnectionInfo]:
        """The marked connections that are still there, else the target."""
        marked = [self.session.connections[c] for c in self.marked if c in self.session.connections]
        if marked:
            return sorted(marked, key=lambda conn: id_number(conn.cid))
        conn = self.session.connections.get(self.target or "")
        return [conn] if conn is not None else []

    def settings_for(self, cid: str) -> SendSettings:
        """How `cid` sends and shows text: its own settings, else the default's (not to be
        changed through this: see `own_settings`)."""
        return self.send_settings.get(cid, self.default_settings)

    def own_settings(self, cid: str) -> SendSettings:
        """`cid`'s own settings, to change: a copy of the default's the first time."""
        settings = self.send_settings.get(cid)
        if settings is None:
            settings = self.send_settings[cid] = replace(self.default_settings)
        return settings

    def release(self, cids: Iterable[str]) -> None:
        """The session forgot these connections: so does everything else kept about them."""
        for cid in cids:
            self.send_settings.pop(cid, None)
            self.transfers.pop(cid, None)
            self.marked.discard(cid)
            self._counted.discard(cid)

    @on(Input.Submitted, "#composer")
    def send_line(self, event: Input.Submitted) -> None:
        def sent() -> None:
            self.composer.remember(event.value)
            self.composer.value = ""

        mode = self.mode
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
        recipients = self.recipients()
        if not recipients:
            note = f" ({self.targeting.note})" if self.targeting.note else ""
            self.show_composer_error(f"no target{note}: connect (f3) or wait for a peer, then type")
            return
        # The target in its EOF grace takes a reply: it is the target only because the user
        # chose it after its peer's EOF (the target moves off a closing connection by itself).
        marked = bool(self.marked & self.session.connections.keys())
        blocked = [c for c in recipients if not (c.can_send or (not marked and c.can_reply))]
        if blocked:
            self.show_composer_error(f"not sent: {why_not_sendable(blocked[0])}")
            return
        try:
            payloads = [(conn.cid, build(self.settings_for(conn.cid))) for conn in recipients]
        except ValueError as exc:  # EscapeError, HexError, BlockError: they say where
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
        self.targeting.acknowledge()
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

        mode = self.mode
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
        self.mode = next_in(MODES, self.mode)
        self.show_target()
        self.show_composer_error("")

    def action_cycle_line_ending(self) -> None:
        self.cycle_setting("line_ending", LINE_ENDING_NAMES)

    def action_cycle_encoding(self) -> None:
        self.cycle_setting("encoding", ENCODING_NAMES)
        # Show what the Log holds of these connections in the new encoding too.
        cids = {conn.cid for conn in self.recipients()}
        if cids:
            encodings = {cid: self.settings_for(cid).encoding for cid in cids}
            self.log_view.model.store.set_encodings(encodings)
            self.log_view.apply(self.view_settings(), relayout=True)

    def cycle_setting(self, name: str, choices: tuple[str, ...]) -> None:
        """Act on the recipients (the marked connections, else the target); with none, on
        the default for connections that open later."""
        recipients = self.recipients()
        subjects = [self.own_settings(conn.cid) for conn in recipients]
        if not subjects:
            # The connections there already keep what they had; only later ones change.
            for cid in self.session.connections:
                self.own_settings(cid)
            subjects = [self.default_settings]
        value = next_in(choices, getattr(subjects[0], name))
        for settings in subjects:
            setattr(settings, name, value)
        self.show_target()

    def toggle_mark(self, cid: str) -> None:
        if cid in self.marked:
            self.marked.discard(cid)
        elif cid in self.session.connections:
            self.marked.add(cid)
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
                self.targeting.opened_by_user(cid)  # the next line goes to it
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
            and self.targeting.note == "new"
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

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Listen...", "Open a TCP, UDP or Unix listener", self.action_listen)
        yield SystemCommand("Connect...", "Open a TCP, UDP or Unix connection", self.action_connect)
        yield SystemCommand(
            "Send to...",
            "Send datagrams from a UDP or Unix datagram listener to an address",
            self.action_send_to,
        )
        yield from self.cleanup.system_commands()  # workbench/ui/cleanup.py
        for listener in self.session.listeners.values():
            where = literal_markup(", ".join(listener.local))  # palette titles are markup
            yield SystemCommand(
                f"Close listener {listener.lid} ({where})",
                "Stop listening and close its peers (asks first)",
                lambda lid=listener.lid: self.confirm_close_listener(lid),
            )
        for conn in self.session.connections.values():
            if conn.is_open or conn.is_pending:
                remote = literal_markup(conn.remote)  # a peer's name: palette titles are markup
                yield SystemCommand(
                    f"Target {conn.cid} ({remote})",
                    "Type to this connection",
                    lambda cid=conn.cid: self.choose_target(cid),
                )
                verb = "Cancel connect" if conn.is_pending else "Close"
                yield SystemCommand(
                    f"{verb} {conn.cid} ({remote})", "", lambda cid=conn.cid: self.engine.close(cid)
                )
                if conn.is_open and not conn.is_datagram:
                    yield SystemCommand(
                        f"Send EOF on {conn.cid} ({remote})",
                        "Half-close: the peer sees end of stream, you keep receiving",
                        lambda cid=conn.cid: self.engine.half_close(cid),
                    )
                    yield SystemCommand(
                        f"Reset {conn.cid} ({remote})",
                        "Abort at once, dropping unsent data (TCP sends a RST)",
                        lambda cid=conn.cid: self.engine.reset(cid),
                    )
                    if conn.queued:
                        yield SystemCommand(
                            f"Abort {format_size(conn.queued)} queued on {conn.cid} ({remote})",
                            "Drop what the peer has not taken, by resetting the connection (f6)",
                            lambda cid=conn.cid: self.engine.reset(cid),
                        )


def why_not_sendable(conn: ConnectionInfo) -> str:
    if conn.is_pending:
        return f"{conn.cid} is still connecting"
    if conn.closed_at is not None:
        return f"{conn.cid} is closed ({conn.reason})"
    if conn.ending:
        return (
            f"{conn.cid} is closing: its peer sent EOF (?halfopen=1 or --half-open keeps such "
            "connections open)"
        )
    return f"you already sent EOF on {conn.cid}"


def half_closed_text(outgoing: bool, closes_after: float | None) -> str:
    if outgoing:
        return "you sent EOF (end of stream); still receiving"
    if closes_after is not None:
        return (
            f"peer sent EOF; closing in {closes_after:g} s (?halfopen=1 or --half-open keeps "
            "it open)"
        )
    return "peer sent EOF; half-open: you can still send until you close (f4)"


def dropped_text(lid: str, dropped: int) -> str:
    """The Log's line when the system starts dropping a listener's datagrams (once a burst;
    the Listeners pane keeps the running total)."""
    return (
        f"the system dropped datagrams sent to {lid}: its receive buffer was full "
        f"({dropped:,} so far; ?rcvbuf=BYTES gives it more room)"
    )


def opened_text(event: ev.ConnectionOpened) -> str:
    kind = "" if event.transport == "tcp" else f"{event.transport} "
    if event.listener is None:
        return f"connected {kind}{event.local} → {event.remote}"
    if event.transport in ("udp", "unix-dgram"):
        return f"new {kind}peer {event.remote} on {event.local} ({event.listener})"
    return f"accepted {kind}{event.remote} on {event.local} ({event.listener})"
