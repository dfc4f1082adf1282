"""Behaviours in the app: the Listen dialog's behaviour fields, and the Behaviour dialog that
changes a running listener's (`b` on a listener, or the palette), against real peers."""

from __future__ import annotations

import socket
from pathlib import Path

from peers import connect_client, recv_exactly, recv_until_eof
from test_app_palette import Scenario
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Label, Select, Static
from ui_helpers import (
    blocking,
    focus,
    make_app,
    run_app,
    the_app,
    wait_listener_port,
    wait_log,
    wait_screen,
    wait_ui,
)

from workbench.ui.behaviour_dialog import BehaviourDialog
from workbench.ui.dialogs import ListenDialog
from workbench.ui.panes import ListenersTree


async def open_listen_dialog(pilot: Pilot[None]) -> ListenDialog:
    app = the_app(pilot)
    await pilot.press("f2")
    await wait_ui(pilot, lambda: isinstance(app.screen, ListenDialog), "the Listen dialog")
    assert isinstance(app.screen, ListenDialog)
    return app.screen


async def submitted_error(pilot: Pilot[None], dialog: ListenDialog | BehaviourDialog) -> str:
    dialog.query_one("#greet", Input).focus()
    await pilot.press("enter")
    error = dialog.query_one("#error", Static)
    await wait_ui(pilot, lambda: error.display, "the dialog's error")
    return str(error.render())


async def open_behaviour_dialog(pilot: Pilot[None]) -> BehaviourDialog:
    """`b` on the Listeners pane: the Behaviour dialog of its selected listener."""
    await focus(pilot, the_app(pilot).query_one(ListenersTree))
    await pilot.press("b")
    return await wait_screen(pilot, BehaviourDialog, "#behaviour", "the Behaviour dialog")


def test_the_listen_dialog_asks_for_what_a_behaviour_needs() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        dialog = await open_listen_dialog(pilot)
        argument = dialog.query_one("#behaviour-argument", Input)
        assert not argument.display, "none and echo take nothing more"
        dialog.query_one("#behaviour", Select).value = "rules"
        await wait_ui(pilot, lambda: argument.display, "the rules file field")
        assert str(dialog.query_one("#argument-label", Label).render()) == "Rules file"
        assert "needs its rules file" in await submitted_error(pilot, dialog)
        dialog.query_one("#behaviour", Select).value = "broker"
        dialog.query_one("#transport", Select).value = "udp"
        await pilot.pause()
        assert "broker= is for TCP and Unix stream listeners, not UDP" in await submitted_error(
            pilot, dialog
        )

    run_app(make_app(), scenario)


def test_a_greeting_and_hang_up_from_the_listen_dialog_serve_a_real_client() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        dialog = await open_listen_dialog(pilot)
        dialog.query_one("#greet", Input).value = "Hello, client!\\n"
        dialog.query_one("#hangup", Checkbox).value = True
        await focus(pilot, dialog.query_one("#address", Input))
        await pilot.press("enter")
        port = await wait_listener_port(pilot)
        with connect_client(port) as client:
            assert await blocking(recv_until_eof, client) == b"Hello, client!\n"
        assert "greet=Hello,%20client!\\n&hangup=1" in app.session.listeners["L1"].url
        # The next Listen dialog opens with the same behaviour.
        again = await open_listen_dialog(pilot)
        assert again.query_one("#greet", Input).value == "Hello, client!\\n"
        assert again.query_one("#hangup", Checkbox).value

    run_app(make_app(), scenario)


def test_the_behaviour_dialog_turns_echo_on_for_an_open_connection() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        with connect_client(port) as client:
            await wait_log(pilot, "accepted")
            dialog = await open_behaviour_dialog(pilot)
            assert dialog.query_one("#greet", Input).value == "hi\\n", "filled in from L1's"
            dialog.query_one("#behaviour", Select).value = "echo"
            await pilot.click("#ok")
            await wait_log(pilot, "behaviour now: greet: each peer gets 'hi\\n'; echo:")
            client.sendall(b"ping")
            assert await blocking(recv_exactly, client, 3 + 4) == b"hi\nping"
            await wait_log(pilot, "↺ echo: ping")
            assert app.session.listeners["L1"].behaviour == "echo=1&greet=hi\\n"
            client.shutdown(socket.SHUT_WR)

    run_app(make_app(listen=["tcp://127.0.0.1:0?greet=hi\\n"]), scenario)


def test_the_palette_has_each_listeners_behaviour() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        from workbench.ui.palette import session_commands

        app = the_app(pilot)
        await wait_listener_port(pilot)
        titles = [command.title for command in session_commands(app.main_screen)]
        assert any(title.startswith("Behaviour of listener L1 (") for title in titles)

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario)


def test_a_connection_from_the_connect_dialog_echoes_what_its_server_sends() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(10)
        port = server.getsockname()[1]

        async def scenario(pilot: Pilot[None]) -> None:
            app = the_app(pilot)
            await pilot.press("f3")
            await wait_ui(pilot, lambda: app.screen.query("#behaviour"), "the Connect dialog")
            dialog = app.screen
            dialog.query_one("#address", Input).value = str(port)
            dialog.query_one("#behaviour", Select).value = "echo"
            await focus(pilot, dialog.query_one("#address", Input))
            await pilot.press("enter")
            peer, _ = await blocking(server.accept)
            with peer:
                peer.sendall(b"ping")
                assert await blocking(recv_exactly, peer, 4) == b"ping"
            await wait_log(pilot, "↺ echo: ping")

        run_app(make_app(), scenario)


def test_the_behaviour_dialog_refuses_message_rules_without_a_framing(tmp_path: Path) -> None:
    """Rules on messages need the listener's framing= (or the file's own): the dialog says so
    before the engine would refuse the change; with the listener's framing the same file is
    taken."""
    rules = tmp_path / "messages.toml"
    rules.write_text('[[rule]]\nexact = "ping"\non = "message"\nreply = "pong"\n')

    def scenario_for(framed: bool) -> Scenario:
        async def scenario(pilot: Pilot[None]) -> None:
            await wait_listener_port(pilot)
            dialog = await open_behaviour_dialog(pilot)
            dialog.query_one("#behaviour", Select).value = "rules"
            argument = dialog.query_one("#behaviour-argument", Input)
            await wait_ui(pilot, lambda: argument.display, "the rules file field")
            argument.value = str(rules)
            if not framed:
                error = await submitted_error(pilot, dialog)
                assert "no framing says what a message is" in error, error
                return
            await focus(pilot, argument)
            await pilot.press("enter")
            await wait_log(pilot, "behaviour now: rules")

        return scenario

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario_for(False))
    run_app(make_app(listen=["tcp://127.0.0.1:0?framing=len:2:be"]), scenario_for(True))
