"""Cleaning up in one step: close the ended connections (and clear the closed rows from the
panes), close the connections of a listener, close everything, unmark all, clear the Log.

f9 opens a small menu with a letter per action, ctrl+l clears the Log, and the command palette
has each action. An action that would close live connections (open, not half-closed) asks
first and says how many. Closing goes through the engine; the panes change with its events.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from workbench.codec import sanitize_text
from workbench.session.model import ConnectionInfo, ListenerInfo, Session
from workbench.ui.dialogs import ConfirmDialog
from workbench.ui.safe_markup import literal_markup

if TYPE_CHECKING:
    from workbench.ui.main_screen import MainScreen

# The rows of connections closed by "close ended" are cleared once they close: a connection
# whose peer does not take what is queued for it may take a while.
FORGET_WATCH_SECONDS = 30.0
FORGET_POLL_SECONDS = 0.1


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def is_ended(conn: ConnectionInfo) -> bool:
    """Open, but the peer or you sent EOF (half-closed)."""
    return conn.is_open and (conn.peer_eof or conn.local_eof)


def is_live(conn: ConnectionInfo) -> bool:
    """Open and not half-closed: what closing it ends is still in use."""
    return conn.is_open and not (conn.peer_eof or conn.local_eof)


@dataclass(frozen=True)
class Closing:
    """What an action closes, counted for its question."""

    live: int = 0
    ended: int = 0
    connecting: int = 0
    listeners: int = 0

    @classmethod
    def of(cls, conns: list[ConnectionInfo], listeners: int = 0) -> Closing:
        return cls(
            live=sum(map(is_live, conns)),
            ended=sum(map(is_ended, conns)),
            connecting=sum(1 for conn in conns if conn.is_pending),
            listeners=listeners,
        )

    def parts(self) -> list[str]:
        parts = []
        if self.live:
            parts.append(plural(self.live, "open connection"))
        if self.ended:
            parts.append(f"{self.ended:,} half-closed")
        if self.connecting:
            parts.append(f"{self.connecting:,} connecting")
        if self.listeners:
            parts.append(plural(self.listeners, "listener"))
        return parts

    def text(self) -> str:
        parts = self.parts()
        if len(parts) > 1:
            return f"{', '.join(parts[:-1])} and {parts[-1]}"
        return parts[0] if parts else "nothing"


def listener_place(listener: ListenerInfo) -> str:
    return f"{listener.transport} {', '.join(listener.local)}"


def listener_connections(session: Session, lid: str) -> list[ConnectionInfo]:
    """The connections of listener `lid` that are open (half-closed or not)."""
    listener = session.listeners.get(lid)
    if listener is None:
        return []
    conns = session.connections
    return [conns[cid] for cid in listener.peers if cid in conns and conns[cid].is_open]


def everything(session: Session) -> list[ConnectionInfo]:
    """Every connection still open or connecting."""
    return [c for c in session.connections.values() if c.is_open or c.is_pending]


class CleanupMenu(ModalScreen[str | None]):
    """A letter per action (or arrows and Enter); escape cancels. Returns the action's key."""

    DEFAULT_CSS = """
    CleanupMenu { align: center middle; }
    CleanupMenu OptionList { height: auto; max-height: 20; border: none; padding: 0; }
    CleanupMenu #cleanup-help { color: $text-muted; margin-top: 1; height: auto; }
    """

    BINDINGS = [
        Binding("escape", "pick(None)", "Cancel"),
        Binding("e", "pick('ended')", "Ended", show=False),
        Binding("l", "pick('listener')", "Listener", show=False),
        Binding("a", "pick('all')", "Everything", show=False),
        Binding("u", "pick('unmark')", "Unmark", show=False),
        Binding("c", "pick('log')", "Clear Log", show=False),
    ]

    def __init__(self, title: str, items: list[tuple[str, str, str, str, bool]]) -> None:
        """`items`: (action, letter, what it does, what it would touch, enabled)."""
        super().__init__()
        self.title_text = title
        self.items = items

    def compose(self) -> ComposeResult:
        options = [
            Option(
                Content.assemble(
                    (f"{letter}  ", "bold $accent" if enabled else ""),
                    (sanitize_text(label), "bold" if enabled else ""),
                    ("\n   " + sanitize_text(detail), "$text-muted"),
                ),
                id=action,
                disabled=not enabled,
            )
            for action, letter, label, detail, enabled in self.items
        ]
        with Vertical(id="dialog") as dialog:
            dialog.border_title = self.title_text
            yield OptionList(*options, id="cleanup-options")
            yield Static("a letter or Enter chooses · escape cancels", id="cleanup-help")

    def action_pick(self, action: str | None) -> None:
        if action is not None:
            option_list = self.query_one(OptionList)
            try:
                if option_list.get_option(action).disabled:
                    return
            except Exception:  # an action this menu does not list
                return
        self.dismiss(action)

    @on(OptionList.OptionSelected)
    def selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class ListenerChoice(ModalScreen[str | None]):
    """Which listener's connections to close; escape cancels."""

    DEFAULT_CSS = """
    ListenerChoice { align: center middle; }
    ListenerChoice OptionList { height: auto; max-height: 20; border: none; padding: 0; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session

    def compose(self) -> ComposeResult:
        options = []
        for lid, listener in self.session.listeners.items():
            closing = Closing.of(listener_connections(self.session, lid))
            text = f"{lid} {listener_place(listener)}: {closing.text()}"
            options.append(Option(Content(sanitize_text(text)), id=lid))
        with Vertical(id="dialog") as dialog:
            dialog.border_title = "Close the connections of"
            yield OptionList(*options)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(OptionList.OptionSelected)
    def selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class Cleanup:
    """The clean-up actions, over the main screen's session, engine, marks and Log."""

    def __init__(self, main: MainScreen) -> None:
        self.main = main
        self._to_forget: set[str] = set()  # closing: their rows go once they are closed
        self._forget_until = 0.0
        self._watch: Timer | None = None

    @property
    def session(self) -> Session:
        return self.main.session

    # --- the menu (f9) ---

    def main_screen_only(self) -> bool:
        """Keys act on the main screen only, not over a dialog."""
        return not isinstance(self.main.app.screen, ModalScreen)

    def open_menu(self) -> None:
        if not self.main_screen_only():
            return
        session = self.session
        ended = [c for c in session.connections.values() if is_ended(c)]
        closed = sum(1 for c in session.connections.values() if c.closed_at is not None)
        lid = self.selected_listener()
        if lid is not None:
            listener = session.listeners[lid]
            closing = Closing.of(listener_connections(session, lid))
            listener_label = f"Close the connections of {lid} ({listener_place(listener)})"
            listener_detail = f"{closing.text()}; {lid} stays open"
        else:
            listener_label = "Close the connections of a listener…"
            listener_detail = f"choose one of {plural(len(session.listeners), 'listener')}"
        all_closing = Closing.of(everything(session), len(session.listeners))
        marked = self.marked()
        records = len(self.main.log_view.model.store)
        ended_parts = [f"close {len(ended):,} half-closed"] if ended else []
        if closed:
            ended_parts.append(f"clear {plural(closed, 'closed row')} from the panes")
        ended_detail = ", ".join(ended_parts) or "none: no connection is half-closed or closed"
        items = [
            ("ended", "e", "Close ended connections", ended_detail, bool(ended or closed)),
            ("listener", "l", listener_label, listener_detail, bool(session.listeners)),
            ("all", "a", "Close everything", all_closing.text(), bool(all_closing.parts())),
            ("unmark", "u", "Unmark all", f"{len(marked):,} marked", bool(marked)),
            (
                "log",
                "c",
                "Clear the Log (ctrl+l)",
                f"{plural(records, 'record')}; the transcript is untouched",
                True,
            ),
        ]
        self.main.app.push_screen(CleanupMenu("Clean up", items), self.run)

    def run(self, action: str | None) -> None:
        match action:
            case "ended":
                self.close_ended()
            case "listener":
                self.close_listener_connections(self.selected_listener())
            case "all":
                self.close_everything()
            case "unmark":
                self.unmark_all()
            case "log":
                self.clear_log()

    def selected_listener(self) -> str | None:
        """The listener under the cursor of the focused pane (or the one of the connection
        there); else the only listener; else None (the user chooses)."""
        session = self.session
        item = self.main.selected_item() if self.pane_has_focus() else None
        if item in session.listeners:
            return item
        conn = session.connections.get(item or "")
        if conn is not None and conn.listener in session.listeners:
            return conn.listener
        if len(session.listeners) == 1:
            return next(iter(session.listeners))
        return None

    def pane_has_focus(self) -> bool:
        main = self.main
        return main.app.focused in (main.listeners_tree, main.connections_table)

    # --- the actions ---

    def close_ended(self) -> None:
        """Close the half-closed connections; clear the closed ones from the panes (now, and
        those closed here once they are closed). Nothing live closes, so it never asks."""
        session = self.session
        ended = [c.cid for c in session.connections.values() if is_ended(c)]
        for cid in ended:
            self.main.engine.close(cid)
        cleared = self.forget(session.forget_closed())
        if ended:
            self._to_forget.update(ended)
            self._forget_until = time.monotonic() + FORGET_WATCH_SECONDS
            if self._watch is None:
                self._watch = self.main.set_interval(FORGET_POLL_SECONDS, self.forget_closing)
        if not ended and not cleared:
            self.main.notify("nothing to clean up: no connection is half-closed or closed")
            return
        self.main.notify(
            f"closing {plural(len(ended), 'ended connection')}; "
            f"cleared {plural(cleared, 'closed row')}"
        )

    def forget_closing(self) -> None:
        """A timer's tick: clear the rows of the connections close_ended closed, once closed."""
        if not self.main.panes_mounted():
            return  # quitting
        self.forget(self.session.forget_closed(self._to_forget))
        self._to_forget &= set(self.session.connections)
        if not self._to_forget or time.monotonic() > self._forget_until:
            self._to_forget.clear()
            if self._watch is not None:
                self._watch.stop()
                self._watch = None

    def forget(self, gone: list[str]) -> int:
        """Take the forgotten connections' rows out of the panes; how many there were."""
        if not gone:
            return 0
        main = self.main
        main.release(gone)  # their marks and settings go with them
        main.listeners_tree.sync(self.session)
        main.connections_table.sync(self.session)
        main.listeners_tree.refresh_labels(self.session, set(self.session.listeners))
        main.show_target()
        main.show_stats()
        return len(gone)

    def close_listener_connections(self, lid: str | None) -> None:
        """Close the open connections of `lid` (asks first if some are live); with None,
        the user chooses the listener first."""
        session = self.session
        if not session.listeners:
            self.main.notify("no listener: nothing to close", severity="warning")
            return
        if lid is None or lid not in session.listeners:
            self.main.app.push_screen(ListenerChoice(session), self.close_listener_connections_of)
            return
        conns = listener_connections(session, lid)
        if not conns:
            self.main.notify(f"{lid} has no open connection", markup=False)
            return
        closing = Closing.of(conns)
        place = listener_place(session.listeners[lid])
        question = f"Close {closing.text()} of listener {lid} on {place}? The listener stays open."
        self.confirm(closing, question, lambda: self.close_all(conn.cid for conn in conns))

    def close_listener_connections_of(self, lid: str | None) -> None:
        if lid is not None:
            self.close_listener_connections(lid)

    def close_everything(self) -> None:
        session = self.session
        conns = everything(session)
        listeners = list(session.listeners)
        closing = Closing.of(conns, len(listeners))
        if not closing.parts():
            self.main.notify("nothing to close: no connection or listener is open")
            return
        # A listener closes its own peers: the other connections are closed one by one.
        by_listener = {c.cid for c in conns if c.listener in session.listeners}
        others = [c.cid for c in conns if c.cid not in by_listener]

        def close() -> None:
            for lid in listeners:
                self.main.engine.close_listener(lid)
            self.close_all(others)

        self.confirm(closing, f"Close everything: {closing.text()}?", close)

    def close_all(self, cids: Iterable[str]) -> None:
        for cid in cids:
            self.main.engine.close(cid)

    def confirm(self, closing: Closing, question: str, then: Callable[[], None]) -> None:
        """Run `then` at once when nothing live closes; else after a yes."""
        if not closing.live:
            then()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                then()

        self.main.app.push_screen(ConfirmDialog(sanitize_text(question), yes="Close"), answered)

    def marked(self) -> set[str]:
        return {cid for cid in self.main.core.marked if cid in self.session.connections}

    def unmark_all(self) -> None:
        count = len(self.marked())
        self.main.core.marked.clear()
        self.main.show_target()
        self.main.notify(f"unmarked {plural(count, 'connection')}" if count else "nothing marked")

    def clear_log(self) -> None:
        log = self.main.log_view
        count = len(log.model.store)
        log.clear()
        where = " (the transcript keeps them)" if self.main.engine.transcript_path else ""
        self.main.notify(f"cleared the Log: {plural(count, 'record')}{where}")

    # --- the command palette ---

    def system_commands(self) -> Iterator[SystemCommand]:
        yield SystemCommand(
            "Clean up...", "Close ended connections, close everything, clear the Log (f9)",
            self.open_menu,
        )  # fmt: skip
        yield SystemCommand(
            "Close ended connections",
            "Close the half-closed connections and clear the closed ones from the panes",
            self.close_ended,
        )
        for lid, listener in self.session.listeners.items():
            if listener_connections(self.session, lid):
                where = literal_markup(listener_place(listener))  # palette titles are markup
                yield SystemCommand(
                    f"Close the connections of {lid} ({where})",
                    "The listener stays open (asks first if some are open)",
                    lambda lid=lid: self.close_listener_connections(lid),
                )
        yield SystemCommand(
            "Close everything",
            "Every connection and listener (asks first if connections are open)",
            self.close_everything,
        )
        yield SystemCommand("Unmark all", "Send to the target again", self.unmark_all)
        yield SystemCommand(
            "Clear the Log", "Forget the rows the Log holds (ctrl+l); not the transcript",
            self.clear_log,
        )  # fmt: skip
