"""The greet behaviour in the app: the Log shows the greeting marked `greet`, the listening
line says what the listener does, and the Listen dialog's Options field takes it (and refuses
what cannot work, in words)."""

from __future__ import annotations

from peers import connect_client, recv_until_eof
from textual.pilot import Pilot
from textual.widgets import Input, Static
from ui_helpers import blocking, make_app, run_app, the_app, wait_listener_port, wait_log, wait_ui

from workbench.ui.dialogs import ListenDialog

SEED = "tcp://127.0.0.1:0?greet=Hello,%20client!\\n&hangup=1"


def test_the_log_shows_the_greeting_with_its_origin() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        port = await wait_listener_port(pilot)
        await wait_log(pilot, "greet: each peer gets 'Hello, client!\\n', then hangs up")
        with connect_client(port) as client:
            assert await blocking(recv_until_eof, client) == b"Hello, client!\n"
        await wait_log(pilot, "↺ greet: Hello, client!\\n")
        await wait_log(pilot, "hung up after the greeting (hangup=1)")

    run_app(make_app(listen=[SEED]), scenario)


def test_the_listen_dialog_takes_a_greeting_in_its_options() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await pilot.press("f2")
        dialog = await wait_ui(pilot, lambda: isinstance(app.screen, ListenDialog), "the dialog")
        dialog = app.screen
        dialog.query_one("#options", Input).value = "hangup=1"
        dialog.query_one("#address", Input).focus()
        await pilot.press("enter")
        error = dialog.query_one("#error", Static)
        await wait_ui(pilot, lambda: error.display, "the dialog's error")
        assert "hangup=1 needs greet=TEXT" in str(error.render())
        dialog.query_one("#options", Input).value = "greet=Hi there\\r\\n&hangup=1"
        dialog.query_one("#address", Input).focus()
        await pilot.press("enter")
        port = await wait_listener_port(pilot)
        assert app.session.listeners["L1"].url.endswith("?greet=Hi%20there\\r\\n&hangup=1")
        with connect_client(port) as client:
            assert await blocking(recv_until_eof, client) == b"Hi there\r\n"

    run_app(make_app(), scenario)
