"""The palette holds every action, found by name whatever has the focus: the Log's, the
composer's settings, and one command per connection action that then lists the connections
(numbered order, open ones first, filtered by typing), fast with 200 of them."""

from __future__ import annotations

import socket
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack

from peers import recv_exactly
from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from textual.widgets import OptionList
from ui_helpers import (
    focus,
    make_app,
    run_app,
    the_app,
    type_line,
    wait_listener_port,
    wait_log,
    wait_open_connection,
    wait_ui,
)

from workbench.ui.connection_picker import ConnectionPicker
from workbench.ui.log_dialogs import FilterDialog, PathDialog
from workbench.ui.palette import session_commands

TCP_LISTENER = "tcp://127.0.0.1:0"
Scenario = Callable[[Pilot[None]], Awaitable[None]]
TIMEOUT = 5.0


def highlighted_title(palette: CommandPalette) -> str:
    commands = palette.query_one(CommandList)
    if commands.highlighted is None:
        return ""
    return str(commands.get_option_at_index(commands.highlighted).prompt)


async def run_command(pilot: Pilot[None], query: str, title: str) -> None:
    """Open the palette, type `query`, wait until the first command found is `title` and run
    it, as a user would."""
    app = the_app(pilot)
    await pilot.press("ctrl+p")
    palette = await wait_ui(
        pilot, lambda: isinstance(app.screen, CommandPalette) and app.screen, "the palette"
    )
    await pilot.press(*query)
    await wait_ui(
        pilot,
        lambda: highlighted_title(palette).startswith(title),
        f"{title!r} first for {query!r} (now {highlighted_title(palette)!r})",
    )
    await pilot.press("enter")
    await wait_ui(pilot, lambda: not isinstance(app.screen, CommandPalette), "the palette gone")


def picker_ids(picker: ConnectionPicker) -> list[str]:
    options = picker.query_one(OptionList)
    return [str(options.get_option_at_index(i).id) for i in range(options.option_count)]


def connect_clients(port: int, count: int, stack: ExitStack) -> list[socket.socket]:
    clients = []
    for _ in range(count):
        client = stack.enter_context(socket.create_connection(("127.0.0.1", port), TIMEOUT))
        clients.append(client)
    return clients


def test_the_logs_actions_work_from_the_palette_while_the_composer_has_the_focus() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        conn = await wait_open_connection(pilot)
        await type_line(pilot, "hello")
        await wait_log(pilot, "→ hello")
        assert app.focused is app.composer

        await run_command(pilot, "hex dump", "Log view: hex dump")
        await wait_ui(pilot, lambda: app.log_view.settings.display == "both", "the hex dump")
        await run_command(pilot, "log view text", "Log view: text")
        await wait_ui(pilot, lambda: app.log_view.settings.display == "text", "the text view")
        await run_command(pilot, "framing lines", "Log framing: lines")
        assert app.log_view.settings.framing == "lines"
        await run_command(pilot, "relative", "Log time: relative")
        assert app.log_view.settings.relative_time

        await run_command(pilot, "filter", "Log: filter")
        await wait_ui(pilot, lambda: isinstance(app.screen, FilterDialog), "the filter dialog")
        await pilot.press("escape")
        await wait_ui(pilot, lambda: not isinstance(app.screen, FilterDialog), "filter closed")

        await run_command(pilot, "search", "Log: search")
        search = app.main_screen.log_pane.search_bar
        await wait_ui(pilot, lambda: app.focused is search, "the search bar")
        await pilot.press(*"hello", "enter")
        await wait_ui(pilot, lambda: app.log_view.search_pattern == "hello", "the search")

        await focus(pilot, app.composer)
        await run_command(pilot, "log: export", "Log: export")
        dialog = await wait_ui(
            pilot, lambda: isinstance(app.screen, PathDialog) and app.screen, "export dialog"
        )
        assert conn.cid in str(dialog.query_one("Input").value)  # type: ignore[attr-defined]
        await pilot.press("escape")

    run_app(make_app(listen=[TCP_LISTENER]), scenario_with_client(scenario))


def scenario_with_client(scenario: Scenario) -> Scenario:
    """`scenario` with one client connected to the app's listener L1."""

    async def run(pilot: Pilot[None]) -> None:
        port = await wait_listener_port(pilot)
        with socket.create_connection(("127.0.0.1", port), TIMEOUT):
            await scenario(pilot)

    return run


def test_the_composers_settings_are_set_from_the_palette() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        conn = await wait_open_connection(pilot)
        sending = app.core.sending
        await run_command(pilot, "line ending crlf", "Line ending: CRLF")
        assert sending.settings_for(conn.cid).line_ending == "crlf"
        await run_command(pilot, "encoding latin", "Encoding: latin-1")
        assert sending.settings_for(conn.cid).encoding == "latin-1"
        await run_command(pilot, "composer mode hex", "Composer mode: hex")
        assert sending.mode == "hex"
        assert "hex" in str(app.query_one("#mode").render())
        await run_command(pilot, "composer mode text", "Composer mode: text")
        assert sending.mode == "text"

    run_app(make_app(listen=[TCP_LISTENER]), scenario_with_client(scenario))


def test_one_command_per_connection_action_not_one_per_connection() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        with ExitStack() as stack:
            connect_clients(port, 12, stack)
            await wait_ui(pilot, lambda: len(app.session.connections) == 12, "12 connections")
            titles = [str(c.title) for c in session_commands(app.main_screen)]
            for title in ("Target...", "Close...", "Send EOF (half-close)...", "Reset..."):
                assert titles.count(title) == 1
            assert not [t for t in titles if "C1" in t]

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


def test_the_target_picker_lists_200_connections_in_numbered_order_and_picks_by_typing() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        with ExitStack() as stack:
            clients = connect_clients(port, 200, stack)
            await wait_ui(pilot, lambda: len(app.session.connections) == 200, "200 connections")
            # C3 and C20 end: they come after the open ones.
            for index in (2, 19):
                clients[index].close()
            ended = ("C3", "C20")
            connections = app.session.connections
            await wait_ui(pilot, lambda: all(connections[c].closed_at for c in ended), "two closed")

            started = time.monotonic()
            await run_command(pilot, "target", "Target...")
            picker = await wait_ui(
                pilot,
                lambda: isinstance(app.screen, ConnectionPicker) and app.screen,
                "the picker",
            )
            ids = picker_ids(picker)
            numbered = [f"C{n}" for n in range(1, 201) if f"C{n}" not in ended]
            assert ids == numbered + list(ended)  # C2 before C10, open ones first
            await pilot.press(*"C150")
            await wait_ui(pilot, lambda: picker_ids(picker)[:1] == ["C150"], "C150 first")
            assert picker_ids(picker) == ["C150"]
            await pilot.press("enter")
            await wait_ui(pilot, lambda: app.target == "C150", "C150 the target")
            assert time.monotonic() - started < 5.0
            assert "C150" in str(app.query_one("#target").render())

            # Typing goes there.
            await type_line(pilot, "to C150")
            assert recv_exactly(clients[149], len(b"to C150\n"), TIMEOUT) == b"to C150\n"

    run_app(make_app(listen=[f"{TCP_LISTENER}?max=300"]), scenario)


def test_the_picker_puts_an_exact_id_first_and_escape_cancels() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        with ExitStack() as stack:
            connect_clients(port, 15, stack)
            await wait_ui(pilot, lambda: len(app.session.connections) == 15, "15 connections")
            before = app.target
            await run_command(pilot, "target", "Target...")
            picker = await wait_ui(
                pilot, lambda: isinstance(app.screen, ConnectionPicker) and app.screen, "picker"
            )
            await pilot.press("c", "1")
            await wait_ui(pilot, lambda: len(picker_ids(picker)) == 7, "C1, C10 to C15")
            assert picker_ids(picker) == ["C1", "C10", "C11", "C12", "C13", "C14", "C15"]
            await pilot.press("escape")
            await wait_ui(pilot, lambda: not isinstance(app.screen, ConnectionPicker), "gone")
            assert app.target == before

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


def test_close_from_the_palette_closes_the_picked_connection() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        with ExitStack() as stack:
            clients = connect_clients(port, 3, stack)
            await wait_ui(pilot, lambda: len(app.session.connections) == 3, "3 connections")
            await run_command(pilot, "close...", "Close...")
            await wait_ui(pilot, lambda: isinstance(app.screen, ConnectionPicker), "the picker")
            await pilot.press("C", "2", "enter")
            await wait_ui(
                pilot, lambda: app.session.connections["C2"].closed_at, "C2 closed by you"
            )
            assert clients[1].recv(1) == b""  # the peer sees the close
            assert app.session.connections["C1"].is_open

    run_app(make_app(listen=[TCP_LISTENER]), scenario)
