"""The palette's commands of the session (a command Provider beside Textual's own): every
action the keys have, found by name whatever has the focus. Opening, closing and cleaning
up; the Log's view, framing, time, filter, search, details, save and export; the composer's
mode, line ending and encoding. An action on one connection is one command that then lists
the connections (workbench/ui/connection_picker.py), not one command per connection."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.command import DiscoveryHit, Hit, Hits, Provider

from workbench.payloads import (
    ENCODING_NAMES,
    LINE_ENDING_LABELS,
    LINE_ENDING_NAMES,
    MODES,
    SendSettings,
)
from workbench.session.model import ConnectionInfo
from workbench.ui.behaviour_dialog import change_behaviour
from workbench.ui.framing_choice import ask_framing, frames
from workbench.ui.safe_markup import literal_markup

if TYPE_CHECKING:
    from workbench.ui.main_screen import MainScreen

LOG_VIEWS = {"text": "text", "hex": "hex", "both": "hex dump"}
# Textual's "Keys" command shows the focused widget's keys (an input's thirty editing keys
# first) in a panel that escape does not close: the help screen replaces it.
TEXTUAL_KEYS_COMMAND = "Keys"


class SessionCommands(Provider):
    """Found as Textual's system commands are: listed when the palette opens, matched by
    their titles when the user types."""

    def commands(self) -> list[SystemCommand]:
        from workbench.ui.app import SockbenchApp  # the app imports this module

        app = self.app
        assert isinstance(app, SockbenchApp)
        return list(session_commands(app.main_screen))

    async def discover(self) -> Hits:
        for title, help_text, callback, _ in self.commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback, _ in self.commands():
            if (match := matcher.match(title)) > 0:
                yield Hit(match, matcher.highlight(title), callback, help=help_text)


def with_help(
    commands: Iterable[SystemCommand], open_help: Callable[[], None]
) -> Iterator[SystemCommand]:
    """Textual's system commands, with its Keys panel replaced by the help screen."""
    for command in commands:
        if command.title == TEXTUAL_KEYS_COMMAND:
            yield SystemCommand(
                "Keys and help", "The keys of the focused pane and what it shows (f1)", open_help
            )
        else:
            yield command


def session_commands(main: MainScreen) -> Iterator[SystemCommand]:
    yield from connection_commands(main)
    yield from main.cleanup.system_commands()  # workbench/ui/cleanup.py
    yield from main.evidence.system_commands()  # workbench/ui/evidence_actions.py
    yield from log_commands(main)
    yield from main.diffs.system_commands()  # workbench/ui/diff_actions.py
    yield from composer_commands(main)
    yield from macro_commands(main)


# --- opening, closing, choosing ---


def connection_commands(main: MainScreen) -> Iterator[SystemCommand]:
    engine = main.engine
    yield SystemCommand("Listen...", "Open a TCP, UDP or Unix listener (f2)", main.action_listen)
    yield SystemCommand(
        "Connect...", "Open a TCP, UDP or Unix connection (f3)", main.action_connect
    )
    yield SystemCommand(
        "Send to...",
        "Send datagrams from a UDP or Unix datagram listener to an address (f5)",
        main.action_send_to,
    )
    yield SystemCommand(
        "Target...",
        "Choose the connection you type to (Enter on its row)",
        lambda: pick(main, "Target", lambda c: True, main.choose_target),
    )
    yield SystemCommand(
        "Mark or unmark...",
        "Typing goes to every marked connection (space on its row)",
        lambda: pick(main, "Mark or unmark", lambda c: True, main.toggle_mark),
    )
    yield SystemCommand(
        "Close...",
        "Close a connection, or cancel one still connecting (f4)",
        lambda: pick(main, "Close", lambda c: c.closed_at is None, engine.close),
    )
    yield SystemCommand(
        "Send EOF (half-close)...",
        "The peer sees end of stream, you keep receiving (ctrl+d)",
        lambda: pick(main, "Send EOF on", is_open_stream, engine.half_close),
    )
    yield SystemCommand(
        "Reset...",
        "Abort a stream at once, dropping unsent and queued data; TCP sends a RST (f6)",
        lambda: pick(main, "Reset", is_open_stream, engine.reset),
    )
    yield SystemCommand(
        "STARTTLS...",
        "Upgrade an open plain stream to TLS in place: the client on yours, the server on a "
        "listener's peer (ctrl+s)",
        lambda: pick(main, "Start TLS on", is_plain_stream, engine.start_tls),
    )
    yield SystemCommand(
        "TLS details...",
        "A TLS connection's handshake: version, cipher, verification, the whole chain",
        lambda: pick(
            main,
            "TLS details of",
            lambda c: c.tls is not None,
            show_tls(main),
            none="no TLS connection: open one with a tls:// URL or the dialogs' TLS box",
        ),
    )
    yield SystemCommand(
        "Framing of a connection...",
        "How its messages are framed (len:2:be, netstring, resp, http, delim:...): the Log's "
        "messages view (l) and the composer's sends",
        lambda: pick(
            main,
            "Framing of",
            frames,
            lambda cid: ask_framing(main, cid),
            none="no stream connection: datagrams are messages as they are",
        ),
    )
    for listener in main.session.listeners.values():
        where = literal_markup(", ".join(listener.local))  # palette titles are markup
        yield SystemCommand(
            f"Behaviour of listener {listener.lid} ({where})...",
            "What it does on its own: echo, a greeting, rules, broker, chat, a program (b)",
            lambda lid=listener.lid: change_behaviour(main, lid),
        )
        yield SystemCommand(
            f"Close listener {listener.lid} ({where})",
            "Stop listening and close its peers (asks first)",
            lambda lid=listener.lid: main.confirm_close_listener(lid),
        )


def show_tls(main: MainScreen) -> Callable[[str], None]:
    """What the picker does with the chosen TLS connection: show its handshake."""

    def show(cid: str) -> None:
        from workbench.ui.tls_detail import TlsDetail

        main.app.push_screen(TlsDetail(main.session.connections[cid]))

    return show


def is_open_stream(conn: ConnectionInfo) -> bool:
    return conn.is_open and not conn.is_datagram


def is_plain_stream(conn: ConnectionInfo) -> bool:
    return is_open_stream(conn) and conn.tls is None


def pick(
    main: MainScreen,
    verb: str,
    eligible: Callable[[ConnectionInfo], bool],
    act: Callable[[str], object],
    none: str = "no connection",
) -> None:
    """Ask which connection (of the eligible ones), then act on it if it is still there;
    `none`: what the list says when no connection is eligible."""
    from workbench.ui.connection_picker import ConnectionPicker

    connections = [conn for conn in main.session.connections.values() if eligible(conn)]

    def chosen(cid: str | None) -> None:
        conn = main.session.connections.get(cid or "")
        if conn is not None and eligible(conn):
            act(conn.cid)

    picker = ConnectionPicker(f"{verb}: which connection?", connections, main.target, none)
    main.app.push_screen(picker, chosen)


# --- the Log ---


def log_commands(main: MainScreen) -> Iterator[SystemCommand]:
    pane, view = main.log_pane, main.log_view
    settings = pane.view_settings  # the ones asked for last, as the keys build on them
    now = settings()
    for display, name in LOG_VIEWS.items():
        yield SystemCommand(
            f"Log view: {name}",
            in_use(now.display == display, "m"),
            lambda d=display: cycle_until(pane.action_display, lambda: settings().display, d),
        )
    framings = [("lines", "lines joined across reads"), ("raw", "raw reads")]
    if view.model.framings:  # `l` offers it once a connection has a framing=
        framings.append(("messages", "messages of each connection's framing="))
    for framing, text in framings:
        yield SystemCommand(
            f"Log framing: {text}",
            in_use(now.framing == framing, "l"),
            lambda f=framing: cycle_until(pane.action_framing, lambda: settings().framing, f),
        )
    for relative, text in ((False, "absolute time"), (True, "relative time")):
        yield SystemCommand(
            f"Log time: {text}",
            in_use(now.relative_time == relative, "r"),
            lambda r=relative: cycle_until(pane.action_time, lambda: settings().relative_time, r),
        )
    wrap_now = "wrapped" if now.wrap else "cut at the edge (← → scroll sideways)"
    yield SystemCommand("Log: wrap long rows", f"On or off; now {wrap_now} (w)", pane.action_wrap)
    yield SystemCommand("Log: filter...", "Which records the Log shows (f)", pane.action_filter)
    yield SystemCommand(
        "Log: search...", "Find rows containing a text (/)", pane.action_open_search
    )
    if view.search_pattern:
        pattern = literal_markup(view.search_pattern)
        yield SystemCommand(
            "Log: next match", f"Of {pattern} (n)", lambda: view.action_search(False)
        )
        yield SystemCommand(
            "Log: previous match", f"Of {pattern} (N)", lambda: view.action_search(True)
        )
    yield SystemCommand(
        "Log: details",
        "Of the row under the cursor, else the last row (Enter)",
        view.action_details,
    )
    yield SystemCommand("Log: follow new rows", "Go to the last row (end)", view.follow)
    yield SystemCommand("Log: save...", "Save the rows shown to a text file (s)", pane.action_save)
    yield SystemCommand(
        "Log: export...",
        "The bytes a connection received and sent, to two files: the Log cursor's "
        "connection, else the target (e)",
        pane.action_export,
    )


def in_use(current: bool, key: str) -> str:
    return f"In use now ({key} cycles)" if current else f"{key} cycles"


def cycle_until(step: Callable[[], object], current: Callable[[], object], wanted: object) -> None:
    """Press a cycling key's action until the setting is `wanted` (the keys' own steps, so
    that the palette does what they do). At most ten steps: none of the cycles is longer."""
    for _ in range(10):
        if current() == wanted:
            return
        step()


# --- macros, repeats, saving the session: workbench/ui/macro_control.py ---


def macro_commands(main: MainScreen) -> Iterator[SystemCommand]:
    from workbench.ui.app import SockbenchApp  # the app imports this module

    app = main.app
    if isinstance(app, SockbenchApp):
        yield from app.macro_control.system_commands()


# --- the composer ---


def composer_commands(main: MainScreen) -> Iterator[SystemCommand]:
    core = main.core

    def recipient_settings() -> list[SendSettings]:
        """What f7 and f8 change: the marked connections, else the target, else the
        default."""
        cids = [conn.cid for conn in core.recipients()]
        return [core.sending.settings_for(cid) for cid in cids] or [core.sending.default]

    def all_set(name: str) -> Callable[[], object]:
        """The value every recipient has, or None while they differ."""

        def value() -> object:
            values = {getattr(settings, name) for settings in recipient_settings()}
            return values.pop() if len(values) == 1 else None

        return value

    for mode in MODES:
        yield SystemCommand(
            f"Composer mode: {mode}",
            in_use(core.sending.mode == mode, "ctrl+t"),
            lambda m=mode: cycle_until(main.action_cycle_mode, lambda: core.sending.mode, m),
        )
    line_ending = all_set("line_ending")()
    for ending in LINE_ENDING_NAMES:
        yield SystemCommand(
            f"Line ending: {LINE_ENDING_LABELS[ending]}",
            "For the marked connections, else the target, else those opened later; "
            + in_use(line_ending == ending, "f7"),
            lambda e=ending: cycle_until(main.action_cycle_line_ending, all_set("line_ending"), e),
        )
    encoding = all_set("encoding")()
    for name in ENCODING_NAMES:
        yield SystemCommand(
            f"Encoding: {name}",
            "Of what you send and what the Log shows, for the same connections as the line "
            "ending; " + in_use(encoding == name, "f8"),
            lambda n=name: cycle_until(main.action_cycle_encoding, all_set("encoding"), n),
        )
