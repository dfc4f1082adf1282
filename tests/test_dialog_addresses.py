"""The Listen, Connect and Send to dialogs start in one Address field that takes what people
paste (`9000`, `:9000`, `host:9000`, `[::1]:9000`, `host 9000`, a path, a whole URL), say
what is wrong in the words typed, and open with the last values of the session."""

from __future__ import annotations

import socket
from typing import TypeVar

from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Select, Static
from ui_helpers import (
    blocking,
    make_app,
    run_app,
    the_app,
    wait_listener_port,
    wait_open_connection,
    wait_ui,
)

from workbench.protocol.addresses import EndpointError
from workbench.protocol.enums import Transport
from workbench.ui.dialogs import ConnectDialog, EndpointDialog, ListenDialog, SendToDialog

D = TypeVar("D", bound=EndpointDialog)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def open_dialog(pilot: Pilot[None], key: str, kind: type[D]) -> D:
    app = the_app(pilot)
    await pilot.press(key)
    dialog = await wait_ui(pilot, lambda: isinstance(app.screen, kind) and app.screen, key)
    assert isinstance(dialog, kind)
    await wait_ui(pilot, lambda: app.focused is dialog.query_one("#address"), "the focus")
    return dialog


def address(dialog: EndpointDialog) -> Input:
    return dialog.query_one("#address", Input)


def error_of(dialog: EndpointDialog) -> str:
    return str(dialog.query_one("#error", Static).render())


def shown_endpoint(dialog: EndpointDialog, typed: str) -> str:
    """The URL the dialog makes of `typed` in its Address field, or its error."""
    address(dialog).value = typed
    try:
        return dialog.endpoint().url
    except EndpointError as exc:
        return f"error: {exc}"


def test_both_dialogs_start_in_the_address_field_and_typing_replaces_it() -> None:
    port = free_port()

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        listen = await open_dialog(pilot, "f2", ListenDialog)
        field = address(listen)
        assert field.value == "127.0.0.1:0"
        assert field.selected_text == "127.0.0.1:0", "selected, so that typing replaces it"
        await pilot.press(*str(port), "enter")
        assert await wait_listener_port(pilot) == port
        assert app.session.listeners["L1"].url == f"tcp://127.0.0.1:{port}"
        connect = await open_dialog(pilot, "f3", ConnectDialog)
        assert address(connect).value == ""
        assert "9000, host:9000, [::1]:9000" in address(connect).placeholder
        await pilot.press(*str(port), "enter")
        conn = await wait_open_connection(pilot, lambda c: c.listener is None)
        assert conn.remote == f"127.0.0.1:{port}"

    run_app(make_app(), scenario)


def test_every_pasted_form_means_what_it_says() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        listen = await open_dialog(pilot, "f2", ListenDialog)
        forms = {
            "9000": "tcp://127.0.0.1:9000",
            ":9000": "tcp://127.0.0.1:9000",
            "localhost:9000": "tcp://localhost:9000",
            "[::1]:9000": "tcp://[::1]:9000",
            "127.0.0.1 9000": "tcp://127.0.0.1:9000",
            "0.0.0.0:9000?max=5": "tcp://0.0.0.0:9000?max=5",
            " tcp://127.0.0.1:9000 \n": "tcp://127.0.0.1:9000",
        }
        for typed, url in forms.items():
            assert shown_endpoint(listen, typed) == url, typed
        # The selector follows a pasted URL, and the options with it.
        address(listen).value = "udp://127.0.0.1:5000"
        select = listen.query_one("#transport", Select)
        await wait_ui(pilot, lambda: select.value == Transport.UDP, "the selector on UDP")
        assert "broadcast=1" in listen.query_one("#options", Input).placeholder
        assert not listen.query_one("#halfopen", Checkbox).display, "no EOF for datagrams"
        address(listen).value = "unix:///tmp/sockbench-dialog.sock"
        await wait_ui(pilot, lambda: select.value == Transport.UNIX, "the selector on Unix")
        assert "/tmp/app.sock, @name" in address(listen).placeholder
        assert shown_endpoint(listen, "@name") == "unix://@name"
        assert shown_endpoint(listen, "/tmp/x.sock") == "unix:///tmp/x.sock"

    run_app(make_app(), scenario)


def test_errors_quote_what_was_typed_never_a_url_made_of_it() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        connect = await open_dialog(pilot, "f3", ConnectDialog)
        errors = {
            "127.0.0.1:?127.0.0.1:5006": "'127.0.0.1:?127.0.0.1:5006' has no port",
            "localhost": "'localhost' has no port",
            "::1": "'::1': put an IPv6 address in brackets, like [::1]:9000",
            "70000": "port 70000 is out of range (0-65535)",
            "9000": "",  # fine: 127.0.0.1:9000 (it is the options that are wrong below)
            "": "the address is empty",
            "0": "port 0 can only be used to listen",
        }
        options = connect.query_one("#options", Input)
        options.value = "idle=soon"
        for typed, error in errors.items():
            address(connect).value = typed
            await pilot.press("enter")
            shown = await wait_ui(pilot, lambda: error_of(connect), "an error")
            assert isinstance(app.screen, ConnectDialog), "still open"
            assert (error or "'idle=soon': idle takes a number of seconds") in shown, typed
            assert "tcp://" not in shown
            connect.query_one("#error", Static).update("")
        # The hidden Options field of a Unix transport counts for nothing.
        address(connect).value = "unix:///tmp/sockbench-nowhere.sock"
        await pilot.pause()
        assert connect.endpoint().url == "unix:///tmp/sockbench-nowhere.sock"

    run_app(make_app(), scenario)


def test_each_dialog_opens_with_its_last_values() -> None:
    port = free_port()
    with socket.create_server(("127.0.0.1", 0)) as server:
        server_port = server.getsockname()[1]

        async def scenario(pilot: Pilot[None]) -> None:
            app = the_app(pilot)
            listen = await open_dialog(pilot, "f2", ListenDialog)
            await pilot.press(*f"localhost:{port}")
            listen.query_one("#options", Input).value = "idle=30"
            listen.query_one("#halfopen", Checkbox).value = True
            await pilot.press("enter")
            await wait_listener_port(pilot)
            assert app.session.listeners["L1"].url == f"tcp://localhost:{port}?idle=30&halfopen=1"

            connect = await open_dialog(pilot, "f3", ConnectDialog)
            await pilot.press(*f"127.0.0.1 {server_port}")
            connect.query_one("#timeout", Input).value = "3"
            await pilot.press("enter")
            peer, _ = await blocking(server.accept)
            peer.close()

            # Cancelled: not remembered.
            listen = await open_dialog(pilot, "f2", ListenDialog)
            assert address(listen).selected_text == f"localhost:{port}"
            assert listen.query_one("#options", Input).value == "idle=30"
            assert listen.query_one("#halfopen", Checkbox).value
            await pilot.press(*"9", "escape")
            listen = await open_dialog(pilot, "f2", ListenDialog)
            assert address(listen).value == f"localhost:{port}"
            await pilot.press("escape")

            connect = await open_dialog(pilot, "f3", ConnectDialog)
            assert address(connect).selected_text == f"127.0.0.1 {server_port}"
            assert connect.query_one("#timeout", Input).value == "3"
            await pilot.press("escape")

        server.settimeout(8)
        run_app(make_app(), scenario)


def test_a_url_in_the_listen_dialog_is_remembered_with_its_transport() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        await open_dialog(pilot, "f2", ListenDialog)
        await pilot.press(*"udp://127.0.0.1:0", "enter")
        await wait_listener_port(pilot)
        listen = await open_dialog(pilot, "f2", ListenDialog)
        assert listen.query_one("#transport", Select).value == Transport.UDP
        assert address(listen).value == "udp://127.0.0.1:0"

    run_app(make_app(), scenario)


def test_send_to_takes_the_same_forms_remembers_and_keeps_its_transport() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(8)
        port = receiver.getsockname()[1]

        async def scenario(pilot: Pilot[None]) -> None:
            app = the_app(pilot)
            await wait_listener_port(pilot)
            send_to = await open_dialog(pilot, "f5", SendToDialog)
            address(send_to).value = f"tcp://127.0.0.1:{port}"
            await pilot.press("enter")
            shown = await wait_ui(pilot, lambda: error_of(send_to), "an error")
            assert f"'tcp://127.0.0.1:{port}' is a tcp address; L1 sends udp datagrams" in shown
            assert send_to.query_one("#transport", Select).value == Transport.UDP
            address(send_to).value = ""
            await pilot.press(*str(port), "enter")
            await wait_ui(pilot, lambda: app.target is not None, "the new peer as the target")
            send_to = await open_dialog(pilot, "f5", SendToDialog)
            assert address(send_to).selected_text == str(port)

        run_app(make_app(listen=["udp://127.0.0.1:0"]), scenario)


def test_the_memory_is_the_sessions_not_the_process() -> None:
    port = free_port()

    async def typed(pilot: Pilot[None]) -> None:
        listen = await open_dialog(pilot, "f2", ListenDialog)
        await pilot.press(*str(port))
        listen.query_one("#transport", Select).value = Transport.UDP
        await pilot.press("enter")
        await wait_listener_port(pilot)

    async def fresh(pilot: Pilot[None]) -> None:
        listen = await open_dialog(pilot, "f2", ListenDialog)
        assert address(listen).value == "127.0.0.1:0"
        assert listen.query_one("#transport", Select).value == Transport.TCP

    run_app(make_app(), typed)
    run_app(make_app(), fresh)


def test_the_endpoint_dialogs_fit_a_24_row_terminal() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        for key, kind in (("f2", ListenDialog), ("f3", ConnectDialog)):
            dialog = await open_dialog(pilot, key, kind)
            await pilot.pause()
            for button in ("#ok", "#cancel"):
                region = dialog.query_one(button).region
                assert region.height == 3 and region.bottom <= 24, (kind, button, region)
            await pilot.press("escape")

    run_app(make_app(), scenario, size=(80, 24))
