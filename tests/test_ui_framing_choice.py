"""A framing chosen in the app: the Listen and Connect dialogs' Framing field (checked as it
is typed in, the same as framing= in the URL), and the palette's "Framing of a
connection..." that changes it while the connection runs: the Log's messages view and the
composer follow. Real sockets: a plain client and a recording server."""

from __future__ import annotations

import socket

from peers import DEFAULT_TIMEOUT, RecordingServer
from test_app_palette import run_command
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static
from ui_helpers import (
    log_contains,
    log_text,
    make_app,
    run_app,
    the_app,
    type_line,
    wait_listener_port,
    wait_open_connection,
    wait_ui,
)

from workbench.protocol.enums import Transport
from workbench.ui.connection_picker import ConnectionPicker
from workbench.ui.dialogs import ConnectDialog, ListenDialog
from workbench.ui.framing_choice import FramingDialog


def test_the_listen_dialogs_framing_field_frames_its_peers() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await pilot.press("f2")
        dialog = await wait_ui(
            pilot, lambda: isinstance(app.screen, ListenDialog) and app.screen, "Listen"
        )
        framing = dialog.query_one("#framing", Input)
        assert framing.display, "a TCP listener's peers have messages"
        dialog.query_one("#transport", Select).value = Transport.UDP
        await pilot.pause()
        assert not framing.display, "a datagram is a message as it is"
        dialog.query_one("#transport", Select).value = Transport.UNIX
        await pilot.pause()
        assert framing.display and not dialog.query_one("#options", Input).display
        dialog.query_one("#transport", Select).value = Transport.TCP
        await pilot.pause()
        dialog.query_one("#address", Input).value = "127.0.0.1:0"
        framing.value = "len:3:be"
        framing.focus()
        await pilot.press("enter")
        error = dialog.query_one("#error", Static)
        await wait_ui(pilot, lambda: error.display, "the error shown")
        assert "framing:" in str(error.render()) and "1, 2, 4 or 8" in str(error.render())
        framing.value = "len:2:be"
        framing.focus()
        await pilot.press("enter")
        port = await wait_listener_port(pilot)
        assert app.main_screen.opened.listeners["L1"].endpoint.options.framing == "len:2:be"
        with socket.create_connection(("127.0.0.1", port), timeout=DEFAULT_TIMEOUT) as client:
            await wait_open_connection(pilot)
            client.sendall(b"\x00\x05hello\x00\x05")
            client.sendall(b"world")
            await pilot.press("escape")  # the Log's keys: l cycles raw, lines, messages
            app.log_view.focus()
            await pilot.press("l", "l")
            await wait_ui(pilot, lambda: log_contains(app, "world"), "the messages")
            rows = [row for row in log_text(app) if "hello" in row or "world" in row]
            assert len(rows) == 2 and all("[len 5]" in row for row in rows), rows

    run_app(make_app(), scenario)


def test_the_connect_dialog_refuses_a_framing_it_cannot_use() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await pilot.press("f3")
        dialog = await wait_ui(
            pilot, lambda: isinstance(app.screen, ConnectDialog) and app.screen, "Connect"
        )
        dialog.query_one("#address", Input).value = "127.0.0.1:9"
        dialog.query_one("#framing", Input).value = "carrier-pigeon"
        assert "framing:" in str(_refusal(dialog))

    run_app(make_app(), scenario)


def _refusal(dialog: ConnectDialog) -> str:
    from workbench.protocol.addresses import EndpointError

    try:
        dialog.endpoint()
    except EndpointError as exc:
        return str(exc)
    return ""


def test_a_connections_framing_is_chosen_and_dropped_while_it_runs() -> None:
    with RecordingServer() as server:

        async def scenario(pilot: Pilot[None]) -> None:
            app = the_app(pilot)
            await wait_open_connection(pilot)
            await type_line(pilot, "plain")
            await run_command(pilot, "framing of", "Framing of a connection...")
            picker = await wait_ui(
                pilot, lambda: isinstance(app.screen, ConnectionPicker) and app.screen, "picker"
            )
            await pilot.press("enter")
            dialog = await wait_ui(
                pilot, lambda: isinstance(app.screen, FramingDialog) and app.screen, "Framing"
            )
            assert picker is not dialog
            dialog.query_one("#spec", Input).value = "len:9"
            await pilot.press("enter")
            error = dialog.query_one("#error", Static)
            await wait_ui(pilot, lambda: error.display, "the error shown")
            dialog.query_one("#spec", Input).value = "len:2:be"
            await pilot.press("enter")
            model = app.main_screen.log_view.model
            await wait_ui(pilot, lambda: model.framings.get("C1") == "len:2:be", "C1 framed")
            assert "one len:2:be message" in app.composer.placeholder
            await type_line(pilot, "hi")
            # And back to none: the line ending again.
            await run_command(pilot, "framing of", "Framing of a connection...")
            await wait_ui(pilot, lambda: isinstance(app.screen, ConnectionPicker), "picker")
            await pilot.press("enter")
            dialog = await wait_ui(
                pilot, lambda: isinstance(app.screen, FramingDialog) and app.screen, "Framing"
            )
            assert dialog.query_one("#spec", Input).value == "len:2:be", "it shows the one now"
            dialog.query_one("#spec", Input).value = ""
            await pilot.press("enter")
            await wait_ui(pilot, lambda: "C1" not in model.framings, "C1 unframed")
            await type_line(pilot, "end")
            spec = app.main_screen.opened.connections["C1"]
            assert spec.endpoint.options.framing is None

        run_app(make_app(connect=[server.url]), scenario)
        expected = b"plain\n\x00\x02hiend\n"
        assert server.wait_for_bytes(len(expected)) == expected
