"""The Listen and Connect dialogs' option checkboxes, declared in the option registry: each
shows for the transports and the role that take its option and sets it on the endpoint; and
the Listen dialog's behaviour choice."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Select
from ui_helpers import make_app, run_app, the_app, wait_listener_port, wait_ui

from workbench.protocol.enums import Transport
from workbench.ui.dialogs import ConnectDialog, ListenDialog


def test_the_listen_dialog_echoes_on_every_transport_when_asked() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await pilot.press("f2")
        dialog = app.screen
        assert isinstance(dialog, ListenDialog)
        behaviour = dialog.query_one("#behaviour", Select)
        for transport in Transport:
            dialog.query_one("#transport", Select).value = transport
            await pilot.pause()
            assert behaviour.display, f"{transport} listeners have behaviours"
        dialog.query_one("#transport", Select).value = Transport.UNIX_DGRAM
        dialog.query_one("#address", Input).value = "@sockbench-echo-dialog"
        behaviour.value = "echo"
        await pilot.pause()
        assert dialog.endpoint().options.echo, "the only way for a unix-dgram listener"
        dialog.query_one("#transport", Select).value = Transport.TCP
        await pilot.pause()
        dialog.query_one("#address", Input).value = "127.0.0.1:0"
        dialog.query_one("#address", Input).focus()
        await pilot.press("enter")
        await wait_listener_port(pilot)
        assert app.session.listeners["L1"].url == "tcp://127.0.0.1:0?echo=1"

    run_app(make_app(), scenario)


def test_the_connect_dialog_has_a_connections_behaviours_and_its_half_open_box() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await pilot.press("f3")
        await wait_ui(pilot, lambda: isinstance(app.screen, ConnectDialog), "the dialog")
        choices = [value for _, value in app.screen.query_one("#behaviour", Select)._options]
        assert "echo" in choices and "broker" not in choices, "broker is for listeners"
        half_open = app.screen.query_one("#halfopen", Checkbox)
        assert half_open.display
        app.screen.query_one("#transport", Select).value = Transport.UDP
        await pilot.pause()
        assert not half_open.display, "datagrams have no EOF to keep open for"

    run_app(make_app(), scenario)
