"""The Listen and Connect dialogs' TLS box: beside the transport (the dialogs still fit a
24-row terminal), for the stream transports, setting tls=1 (a pasted tls:// URL ticks it);
absent while sockbench has no TLS."""

from __future__ import annotations

from scenes import frozen_app
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Select
from ui_helpers import TERMINAL_SIZE, make_app, run_app, the_app, wait_ui

from workbench.protocol.enums import Transport
from workbench.ui.dialogs import TLS_OPTION, ConnectDialog, EndpointDialog, ListenDialog


async def open_dialog(pilot: Pilot[None], key: str, kind: type[EndpointDialog]) -> EndpointDialog:
    app = the_app(pilot)
    await pilot.press(key)
    dialog = await wait_ui(pilot, lambda: isinstance(app.screen, kind) and app.screen, "dialog")
    assert isinstance(dialog, EndpointDialog)
    return dialog


def test_the_tls_box_is_beside_the_transport_and_sets_tls() -> None:

    async def scenario(pilot: Pilot[None]) -> None:
        dialog = await open_dialog(pilot, "f3", ConnectDialog)
        tls = dialog.query_one(f"#{TLS_OPTION}", Checkbox)
        assert tls.region.y == dialog.query_one("#transport").region.y
        assert dialog.query_one("#ok").region.bottom <= 24, "fits 24 rows"
        for transport, shown in ((Transport.UDP, False), (Transport.UNIX, True)):
            dialog.query_one("#transport", Select).value = transport
            await pilot.pause()
            assert tls.display == shown, transport
        dialog.query_one("#transport", Select).value = Transport.TCP
        dialog.query_one("#address", Input).value = "127.0.0.1:9820"
        await pilot.pause()
        assert not dialog.endpoint().options.tls  # type: ignore[attr-defined]
        tls.value = True
        await pilot.pause()
        endpoint = dialog.endpoint()
        assert endpoint.options.tls  # type: ignore[attr-defined]
        assert endpoint.url.startswith("tls://127.0.0.1:9820")

    run_app(make_app(), scenario, size=(80, 24))


def test_a_pasted_tls_url_ticks_the_box() -> None:

    async def scenario(pilot: Pilot[None]) -> None:
        dialog = await open_dialog(pilot, "f2", ListenDialog)
        dialog.query_one("#transport", Select).value = Transport.UDP
        dialog.query_one("#address", Input).value = "tls://127.0.0.1:9821"
        await wait_ui(
            pilot, lambda: dialog.query_one(f"#{TLS_OPTION}", Checkbox).value, "the box ticked"
        )
        assert dialog.query_one("#transport", Select).value == Transport.TCP
        assert dialog.endpoint().url.startswith("tls://127.0.0.1:9821")

    run_app(make_app(), scenario)


async def listen_dialog_with_tls(pilot: Pilot[None]) -> None:
    dialog = await open_dialog(pilot, "f2", ListenDialog)
    dialog.query_one(f"#{TLS_OPTION}", Checkbox).value = True
    await pilot.pause(0.1)


def test_listen_dialog_with_the_tls_box(snap_compare) -> None:
    assert snap_compare(
        frozen_app(), terminal_size=TERMINAL_SIZE, run_before=listen_dialog_with_tls
    )
