"""The Textual app: the main screen over an engine it starts and stops.

The app never touches a socket: it sends commands to the engine and builds everything it
shows from the engine's events, drained from the bridge about 30 times a second and handled
as one message per batch. What is shown, and what the keys do, is the main screen's
(workbench/ui/main_screen.py) and the Log pane's (workbench/ui/log_pane.py).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import Provider
from textual.driver import Driver
from textual.screen import Screen

from workbench import __version__
from workbench.gc_tuning import collect_young
from workbench.payloads import SendSettings, mode_line
from workbench.protocol.endpoints import DEFAULT_HOST
from workbench.session.startup import StartupAction, StartupPlan
from workbench.ui import exit_signals
from workbench.ui.first_screen import FirstScreen
from workbench.ui.paste_guard import paste_safe

if TYPE_CHECKING:
    from workbench.engine import Engine, EventBridge
    from workbench.memory import Loaded
    from workbench.protocol import events as ev
    from workbench.session.model import Session
    from workbench.session_file.model import Macro
    from workbench.ui.block_composer import BlockComposer
    from workbench.ui.composer import Composer
    from workbench.ui.log_view import LogView
    from workbench.ui.macro_control import MacroControl
    from workbench.ui.main_screen import MainScreen
    from workbench.ui.panes import ConnectionsTable, ListenersTree
    from workbench.ui.remembering import Remembering
    from workbench.ui.stats_file import StatsFile

COUNTERS_SECONDS = 0.25
# Imported on first use (a dialog, the detail view, a save or an export), not before the
# first screen; loaded once it is drawn, before the engine starts: an import opens files,
# and a connection flood may later take every file descriptor there is.
LOADED_AFTER_FIRST_SCREEN = (
    "workbench.ui.behaviour_dialog",
    "workbench.ui.block_composer",
    "workbench.ui.cleanup",
    "workbench.ui.detail",
    "workbench.ui.dialogs",
    "workbench.ui.diff_actions",
    "workbench.ui.diff_screen",
    "workbench.ui.evidence_actions",
    "workbench.ui.evidence_dialogs",
    "workbench.ui.file_jobs",
    "workbench.ui.help_screen",
    "workbench.ui.connection_picker",
    "workbench.ui.log_dialogs",
    "workbench.ui.macro_dialog",
)


def session_commands() -> type[Provider]:
    from workbench.ui.palette import SessionCommands

    return SessionCommands


class SockbenchApp(App[None]):
    CSS_PATH = "app.tcss"
    COMMANDS = App.COMMANDS | {session_commands}
    TITLE = "sockbench"
    SUB_TITLE = f"socket workbench {__version__}"

    # The main screen's keys, handled there ("screen."): on the app they keep their place in
    # the footer, after Quit, as Textual lists the app's bindings after the screen's. Their
    # ids are the config file's [keys] (workbench/keymap.py).
    BINDINGS = [
        # f1 over dialogs too (a priority key); ? outside text fields, which type it.
        Binding("f1", "help", "Help", priority=True, id="help"),
        Binding("question_mark", "help", "Help", show=False, id="help"),
        Binding("f2", "screen.listen", "Listen", id="listen"),
        Binding("f3", "screen.connect", "Connect", id="connect"),
        Binding("f4", "screen.close", "Close", id="close"),
        # Send to is for datagrams only: the palette has it.
        Binding("f5", "screen.send_to", "Send to", show=False, id="send_to"),
        Binding("ctrl+d", "screen.half_close", "Send EOF", id="half_close"),
        Binding("f6", "screen.reset", "Reset", show=False, id="reset"),
        Binding("ctrl+s", "screen.start_tls", "STARTTLS", show=False, id="start_tls"),
        Binding("ctrl+t", "screen.cycle_mode", "Mode", id="cycle_mode"),
        Binding("f7", "screen.cycle_line_ending", "EOL", id="cycle_line_ending"),
        # Not in the footer, which fits 80 columns.
        Binding("f8", "screen.cycle_encoding", "Encoding", show=False, id="cycle_encoding"),
        Binding("f9", "screen.clean_up", "Clean up", id="clean_up"),
        Binding("ctrl+l", "screen.clear_log", "Clear Log", show=False, id="clear_log"),
        # Macros and repeats: workbench/ui/macro_control.py (tooltips: what the help says).
        Binding(
            "f12",
            "macros",
            "Macros",
            show=False,
            tooltip="Macros: saved messages to send, bind to a key or repeat",
            id="macros",
        ),
        Binding(
            "ctrl+r",
            "stop_repeats",
            "Stop repeats",
            show=False,
            tooltip="Stop every running repeat (the palette stops one)",
            id="stop_repeats",
        ),
        Binding("escape", "screen.focus_composer", "Composer", show=False, id="focus_composer"),
        Binding("ctrl+q", "quit", "Quit", priority=True, id="quit"),
    ]

    def __init__(
        self,
        make_engine: Callable[[], Engine],
        bridge: EventBridge | None,
        startup: Iterable[StartupAction] = (),
        *,
        clock: Callable[[], float] = time.time,
        time_format: Callable[[float], str] | None = None,
        log_max_rows: int | None = None,
        default_settings: SendSettings | None = None,
        stats_path: str | None = None,
        after_first_screen: Callable[[], None] | None = None,
        first_screen: bool = False,
        theme: str | None = None,
        notices: Iterable[str] = (),
        keymap: Mapping[str, str] | None = None,
        bind_host: str = DEFAULT_HOST,
        memory: Loaded | None = None,
        macros: Iterable[Macro] = (),
        log_framing: str = "raw",
    ) -> None:
        """`make_engine`: called once, when the engine is first needed, which is when it
        starts, after the first screen (loading its core is not worth a wait for the screen).
        `bridge`: the engine's (None: the app makes it when it is first needed, after the
        first screen too: its module loads the engine's events).
        `after_first_screen`: called once the first screen is drawn, before the engine
        starts (the command line tunes the garbage collector there).
        `first_screen`: draw workbench/ui/first_screen.py's stand-in at once, and load the
        session core, the Log and the panes after it (the command line does).
        `theme`: the config file's (a known one); `notices`: what was ignored of that file,
        shown once the main screen is up (workbench/config.py).
        `keymap`: the config file's [keys], checked (action id: keys); `bind_host`: the host
        a listener given only a port binds; `memory`: what was remembered from the last
        launches, remembered again as the app runs (workbench/ui/remembering.py);
        `macros`: a session file's (workbench/ui/macro_control.py holds them);
        `log_framing`: the Log's framing at start (raw, lines or messages; `l` changes it)."""
        super().__init__()
        self.notices = list(notices)
        if theme is not None:
            self.theme = theme
        if keymap:
            self.set_keymap(dict(keymap))
        self.bind_host = bind_host
        self.remembering: Remembering | None = None
        if memory is not None:
            from workbench.ui.remembering import Remembering

            self.remembering = Remembering(self, memory)
        self._make_engine = make_engine
        self._engine: Engine | None = None
        self._bridge = bridge
        self.startup = StartupPlan(startup)
        self._exit_requested = False
        self.after_first_screen = after_first_screen
        self._made_with = (default_settings, clock, time_format, log_max_rows, stats_path)
        self._main: MainScreen | None = None
        self._macros = list(macros)
        self._log_framing = log_framing
        self._macro_control: MacroControl | None = None
        self.stats_file: StatsFile | None = None
        self.stand_in: FirstScreen | None = None
        if first_screen:
            self.stand_in = FirstScreen(mode_line("text", default_settings or SendSettings()))
        else:
            self.build()

    @property
    def bridge(self) -> EventBridge:
        if self._bridge is None:
            from workbench.engine.bridge import EventBridge

            self._bridge = EventBridge()
        return self._bridge

    def build(self) -> None:
        """The session core, the main screen and what drains the engine into them."""
        from workbench.session.core import SessionCore
        from workbench.session.drain import Drainer
        from workbench.ui.log_view import DEFAULT_MAX_ROWS
        from workbench.ui.main_screen import MainScreen
        from workbench.ui.session_save import RecordingOpener
        from workbench.ui.stats_file import StatsFile

        settings, clock, time_format, log_max_rows, stats_path = self._made_with
        self.core = SessionCore(settings)
        rows = DEFAULT_MAX_ROWS if log_max_rows is None else log_max_rows
        self._main = MainScreen(lambda: self.engine, self.core, clock, time_format, rows)
        self._main.bind_host = self.bind_host
        from workbench.ui.macro_control import MacroControl

        self._macro_control = MacroControl(self._main, lambda: self.engine, self._macros)
        self.opener = RecordingOpener(lambda: self.engine, self._main.opened, self.core.session)
        self.drainer = Drainer(self.bridge, self.handle_events, collect_young)
        self.stats_file = StatsFile(stats_path) if stats_path else None

    def get_default_screen(self) -> Screen[None]:
        return self.stand_in or self.main_screen

    def get_driver_class(self) -> type[Driver]:
        # No key presses out of a paste (workbench/ui/paste_guard.py).
        return paste_safe(super().get_driver_class())

    # The help and the palette are of the main screen, drawn a moment after the first one:
    # not before it (the palette's search would run on while the screens change).
    def action_help(self) -> None:
        if self.stand_in is not None:
            return
        from workbench.ui.help_screen import open_help

        open_help(self)

    def action_command_palette(self) -> None:
        if self.stand_in is None:
            super().action_command_palette()

    def get_system_commands(self, screen: Screen[object]) -> Iterator[SystemCommand]:
        from workbench.ui.palette import with_help

        return with_help(super().get_system_commands(screen), self.action_help)

    @property
    def main_screen(self) -> MainScreen:
        assert self._main is not None, "the main screen is made once the first one is drawn"
        return self._main

    @property
    def macro_control(self) -> MacroControl:
        assert self._macro_control is not None, "made with the main screen"
        return self._macro_control

    # Macros and repeats (workbench/ui/macro_control.py): on the main screen only.
    def action_macros(self) -> None:
        if self._main is not None and self.screen is self._main:
            self.macro_control.open_dialog()

    def action_stop_repeats(self) -> None:
        if self._main is not None:
            self.macro_control.stop_repeats()

    def action_send_macro(self, name: str) -> None:
        if self._main is not None and self.screen is self._main:
            self.macro_control.send_by_key(name)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._make_engine()
        return self._engine

    # --- what tests and the palette reach through the app ---

    @property
    def session(self) -> Session:
        return self.core.session

    @property
    def target(self) -> str | None:
        return self.core.target

    @property
    def log_view(self) -> LogView:
        return self.main_screen.log_view

    @property
    def listeners_tree(self) -> ListenersTree:
        return self.main_screen.listeners_tree

    @property
    def connections_table(self) -> ConnectionsTable:
        return self.main_screen.connections_table

    @property
    def composer(self) -> Composer:
        return self.main_screen.composer

    @property
    def block_composer(self) -> BlockComposer | None:
        return self.main_screen.block_composer

    # --- the engine's life ---

    def on_mount(self) -> None:
        # After the first screen: starting the engine's loop (and importing uvloop) is not
        # worth making the user wait for the screen.
        self.call_after_refresh(self.start_engine)

    async def start_engine(self) -> None:
        # From here the loop takes SIGHUP/SIGTERM/SIGINT: one that came already quits now.
        if exit_signals.install(self) or self._exit_requested:
            return
        if self.stand_in is None:
            self.run_engine()
            return
        # The main screen is drawn before the rest: loading the dialogs and starting the
        # engine can wait for it as they waited for the first screen.
        await self.replace_stand_in(self.stand_in)
        if not self._exit_requested:
            self.call_after_refresh(self.run_engine)

    def run_engine(self) -> None:
        if self._exit_requested:
            return
        for module in LOADED_AFTER_FIRST_SCREEN:
            importlib.import_module(module)
        if self.after_first_screen is not None:
            self.after_first_screen()
        main = self.main_screen
        if self._log_framing != main.log_view.settings.framing:
            main.log_view.apply(replace(main.log_view.settings, framing=self._log_framing))
        self.engine.start()
        from workbench.engine.bridge import DRAIN_INTERVAL_SECONDS

        self.set_interval(DRAIN_INTERVAL_SECONDS, self.drain_engine)
        self.set_interval(1.0, main.refresh_ages)
        self.set_interval(COUNTERS_SECONDS, main.show_counters)
        if self.stats_file is not None:
            from workbench.ui.stats_file import STATS_SECONDS

            self.set_interval(STATS_SECONDS, self.write_stats)
        for cid in self.startup.begin(self.opener):  # remembered for Save session
            self.core.targeting.opened_by_user(cid)
        self.macro_control.bind_keys()
        main.show_target()
        if self.remembering is not None:
            self.remembering.attach()
        if self.notices:
            # One warning for all: a bad config file is said, and the app goes on.
            text = "\n".join(self.notices)
            self.notify(text, title="config file", severity="warning", timeout=20, markup=False)

    async def replace_stand_in(self, stand_in: FirstScreen) -> None:
        """The main screen over the first one (which stays under it, unseen: the default
        screen cannot be replaced), with what was typed there."""
        self.build()
        if self._exit_requested:
            return
        typed, cursor = stand_in.typed()
        await self.push_screen(self.main_screen)
        self.stand_in = None
        if typed:
            self.composer.value, self.composer.cursor_position = typed, cursor

    async def action_quit(self) -> None:
        self.quitting()
        await super().action_quit()

    def on_unmount(self) -> None:
        self.quitting()
        if self.remembering is not None:
            self.remembering.save_now()
        self.engine.stop()
        if self.stats_file is not None:
            self.stats_file.close()

    def quitting(self) -> None:
        self._exit_requested = True
        if self._main is not None:
            self._main.quitting = True

    def write_stats(self) -> None:
        if self.stats_file is not None and not self._exit_requested:
            listening = [a for lis in self.session.listeners.values() for a in lis.local]
            framed = self.log_view.model.framed_counts
            self.stats_file.write(
                self.core.records.seq,
                self.connections_table.row_count,
                listening,
                messages=framed.messages,
                malformed_messages=framed.malformed,
                message_gaps=framed.gaps,
                batches=self.drainer.batches,
                batch_seconds=round(self.drainer.seconds, 6),
            )

    # --- events from the engine ---

    async def drain_engine(self) -> None:
        """The engine's events, about 30 times a second, in the drain timer's own task
        (workbench/session/drain.py): keys and frames go on between slices."""
        main = self.main_screen
        await self.drainer.drain(lambda: self._exit_requested or not main.panes_mounted())

    def handle_events(self, events: list[ev.Event], show: bool = True) -> None:
        """`show` False: a later slice of the same batch follows (see MainScreen.show_update)."""
        self.main_screen.show_update(self.core.apply(events), show)
        # Start-up connections go out once the start-up listeners are open (they may be to
        # them).
        for cid in self.startup.apply(events, self.opener):
            self.core.targeting.opened_by_user(cid)
