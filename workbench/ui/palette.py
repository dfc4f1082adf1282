"""The palette's commands of the session (a command Provider beside Textual's own): open,
send to, clean up, and one per listener and connection, named after them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.command import DiscoveryHit, Hit, Hits, Provider

from workbench.codec import format_size
from workbench.ui.safe_markup import literal_markup

if TYPE_CHECKING:
    from workbench.ui.main_screen import MainScreen


class SessionCommands(Provider):
    """Found as Textual's system commands are: listed when the palette opens, matched by
    their titles when the user types."""

    def commands(self) -> list[SystemCommand]:
        from workbench.ui.app import SockbenchApp  # the app imports this module

        app = self.app
        assert isinstance(app, SockbenchApp)
        return list(session_commands(app.main_screen))

    async def discover(self) -> Hits:
        for title, help_text, callback, _ in sorted(self.commands(), key=lambda c: c.title):
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback, _ in self.commands():
            if (match := matcher.match(title)) > 0:
                yield Hit(match, matcher.highlight(title), callback, help=help_text)


def session_commands(main: MainScreen) -> Iterator[SystemCommand]:
    engine = main.engine
    yield SystemCommand("Listen...", "Open a TCP, UDP or Unix listener", main.action_listen)
    yield SystemCommand("Connect...", "Open a TCP, UDP or Unix connection", main.action_connect)
    yield SystemCommand(
        "Send to...",
        "Send datagrams from a UDP or Unix datagram listener to an address",
        main.action_send_to,
    )
    yield from main.cleanup.system_commands()  # workbench/ui/cleanup.py
    for listener in main.session.listeners.values():
        where = literal_markup(", ".join(listener.local))  # palette titles are markup
        yield SystemCommand(
            f"Close listener {listener.lid} ({where})",
            "Stop listening and close its peers (asks first)",
            lambda lid=listener.lid: main.confirm_close_listener(lid),
        )
    for conn in main.session.connections.values():
        if conn.is_open or conn.is_pending:
            remote = literal_markup(conn.remote)  # a peer's name: palette titles are markup
            yield SystemCommand(
                f"Target {conn.cid} ({remote})",
                "Type to this connection",
                lambda cid=conn.cid: main.choose_target(cid),
            )
            verb = "Cancel connect" if conn.is_pending else "Close"
            yield SystemCommand(
                f"{verb} {conn.cid} ({remote})", "", lambda cid=conn.cid: engine.close(cid)
            )
            if conn.is_open and not conn.is_datagram:
                yield SystemCommand(
                    f"Send EOF on {conn.cid} ({remote})",
                    "Half-close: the peer sees end of stream, you keep receiving",
                    lambda cid=conn.cid: engine.half_close(cid),
                )
                yield SystemCommand(
                    f"Reset {conn.cid} ({remote})",
                    "Abort at once, dropping unsent data (TCP sends a RST)",
                    lambda cid=conn.cid: engine.reset(cid),
                )
                if conn.queued:
                    yield SystemCommand(
                        f"Abort {format_size(conn.queued)} queued on {conn.cid} ({remote})",
                        "Drop what the peer has not taken, by resetting the connection (f6)",
                        lambda cid=conn.cid: engine.reset(cid),
                    )
