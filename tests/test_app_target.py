"""The target follows the user's intent, and peers that leave free what they held: the real
app with real peers (plain Python sockets) on loopback."""

from __future__ import annotations

import json
import socket

from peers import connect_client, recv_exactly, recv_until_eof
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Static
from ui_helpers import (
    blocking,
    log_contains,
    make_app,
    run_app,
    the_app,
    type_line,
    wait_listener_port,
    wait_log,
    wait_open_connection,
    wait_ui,
)

from workbench.ui.app import SockbenchApp
from workbench.ui.composer import TargetLabel
from workbench.ui.dialogs import ConnectDialog, ListenDialog


def label(app: SockbenchApp) -> str:
    """The target's whole label (drawn, it is fitted to the width the last layout gave)."""
    return app.main_screen.widget("target", TargetLabel).text


def composer_error(app: SockbenchApp) -> str:
    return str(app.main_screen.widget("composer-error", Static).render())


def test_a_reply_typed_after_a_client_left_reaches_the_next_client() -> None:
    """The seed print server's workflow: client 1 sends and leaves, client 2 connects and
    waits; the typed reply goes to client 2, never to the one that left."""

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        with connect_client(port) as first:
            first.sendall(b"from the first\n")
            await wait_log(pilot, "← from the first\\n")
            assert app.target == "C1"
            assert label(app).startswith("to C1 127.0.0.1:") and label(app).endswith("(open)")
        await wait_log(pilot, "closed after the peer's EOF")
        await wait_ui(pilot, lambda: label(app) == "no target: C1 closed", "the label")
        with connect_client(port) as second:
            await wait_ui(pilot, lambda: app.target == "C2", "C2 as the target")
            assert label(app).endswith("(new, open)"), "the label says the target changed"
            await type_line(pilot, "a reply")
            assert await blocking(recv_exactly, second, 8) == b"a reply\n"
            assert composer_error(app) == ""

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario)


def test_when_the_target_leaves_the_newest_open_peer_becomes_it() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        first = connect_client(port)
        await wait_ui(pilot, lambda: app.target == "C1", "C1 as the target")
        with connect_client(port) as second, connect_client(port) as third:
            await wait_ui(pilot, lambda: len(app.session.open_connections()) == 3, "3 peers")
            assert app.target == "C1", "a new peer does not take a usable target"
            first.close()
            await wait_ui(pilot, lambda: app.target == "C3", "the newest open peer")
            assert label(app).startswith("to C3 ") and label(app).endswith("(new, open)")
            await type_line(pilot, "to the newest")
            assert await blocking(recv_exactly, third, 14) == b"to the newest\n"
            assert label(app).endswith("(open)") and "new" not in label(app)
            second.sendall(b"still here")
            await wait_log(pilot, "← still here")

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario)


def test_a_connection_opened_with_f3_gets_the_next_line() -> None:
    listener = socket.create_server(("127.0.0.1", 0))

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        with connect_client(port) as peer:
            await wait_ui(pilot, lambda: app.target == "C1", "the peer as the target")
            await pilot.press("f3")
            dialog = app.screen
            assert isinstance(dialog, ConnectDialog)
            dialog.query_one("#address", Input).value = str(listener.getsockname()[1])
            await pilot.press("enter")
            await wait_ui(pilot, lambda: app.target == "C2", "the new connection as the target")
            remote, _ = await blocking(listener.accept)
            with remote:
                await wait_ui(pilot, lambda: label(app).endswith("(open)"), "C2 open")
                assert label(app).startswith("to C2 127.0.0.1:")
                await type_line(pilot, "to the new one")
                assert await blocking(recv_exactly, remote, 15) == b"to the new one\n"
            peer.sendall(b"the old peer was not sent to")
            await wait_log(pilot, "← the old peer was not sent to")
            assert app.session.connections["C1"].bytes_out == 0

    with listener:
        run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario)


def test_a_connection_given_with_connect_is_the_target_before_it_opens() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        url = f"tcp://127.0.0.1:{listener.getsockname()[1]}"

        async def scenario(pilot: Pilot[None]) -> None:
            app = the_app(pilot)
            await wait_ui(pilot, lambda: app.target == "C1", "the --connect connection")
            remote, _ = await blocking(listener.accept)
            with remote:
                await wait_ui(pilot, lambda: label(app).endswith("(open)"), "open")
                await type_line(pilot, "hi")
                assert await blocking(recv_exactly, remote, 3) == b"hi\n"

        run_app(make_app(listen=["tcp://127.0.0.1:0"], connect=[url]), scenario)


def test_a_closing_connection_leaves_the_target_but_takes_a_reply_when_chosen() -> None:
    """In its EOF grace (30 s here) a connection is no longer the target, and a marked one is
    refused in plain words; chosen by hand, it takes the reply a half-closed peer waits for."""

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        with connect_client(port) as client:
            await wait_open_connection(pilot)
            app.main_screen.toggle_mark("C1")
            client.shutdown(socket.SHUT_WR)
            await wait_log(pilot, "peer sent EOF; closing in 30 s")
            await wait_ui(pilot, lambda: app.target is None, "the target to leave C1")
            await type_line(pilot, "to the marked")
            assert composer_error(app).startswith("not sent: C1 is closing: its peer sent EOF")
            assert app.main_screen.widget("composer", Input).value == "to the marked", (
                "the input is kept"
            )
            app.main_screen.toggle_mark("C1")
            app.main_screen.choose_target("C1")
            assert label(app).endswith("(closing)")
            await type_line(pilot, "the answer")
            assert await blocking(recv_exactly, client, 11) == b"the answer\n"
            # It stays the target through the grace, then goes with the connection.
            assert app.target == "C1"
            app.engine.close("C1")
            assert await blocking(recv_until_eof, client) == b""
            await wait_ui(pilot, lambda: app.target is None, "no target once it closed")

    run_app(make_app(listen=["tcp://127.0.0.1:0?grace=30"]), scenario)


def test_a_half_open_connection_stays_the_target_and_takes_a_late_reply() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        with connect_client(port) as client:
            client.sendall(b"request\n")
            client.shutdown(socket.SHUT_WR)
            await wait_log(pilot, "peer sent EOF; half-open: you can still send")
            assert app.target == "C1"
            assert label(app).endswith("(peer sent EOF)")
            await type_line(pilot, "response")
            assert await blocking(recv_exactly, client, 9) == b"response\n"

    run_app(make_app(listen=["tcp://127.0.0.1:0?halfopen=1"]), scenario)


def test_closing_a_closed_connection_is_a_notice_not_an_error(tmp_path) -> None:
    transcript = tmp_path / "t.jsonl"

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        with connect_client(port):
            await wait_open_connection(pilot)
        await wait_log(pilot, "closed after the peer's EOF")
        app.engine.close("C1")  # what f4 on its row sends
        await wait_log(pilot, "cannot close: C1 is not open")
        assert not app._notifications, "no error pops up for the user's own slip"

    run_app(make_app(listen=["tcp://127.0.0.1:0"], transcript=str(transcript)), scenario)
    records = [json.loads(line) for line in transcript.read_text().splitlines()]
    assert not [r for r in records if r["event"] == "error"]


def test_150_one_line_clients_are_all_recorded_and_none_stays_open(tmp_path) -> None:
    transcript = tmp_path / "t.jsonl"

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)

        def clients() -> None:
            for number in range(150):
                with connect_client(port) as client:
                    client.sendall(b"line %03d\n" % number)

        await blocking(clients)
        await wait_ui(
            pilot,
            lambda: all(log_contains(app, f"← line {n:03d}\\n") for n in range(150)),
            "every line in the Log",
            timeout=30,
        )
        tree = app.listeners_tree
        await wait_ui(pilot, lambda: "(0 open)" in str(tree.root.children[0].label), "0 open")
        assert not app.session.listeners["L1"].refused

    run_app(make_app(listen=["tcp://127.0.0.1:0"], transcript=str(transcript)), scenario)
    records = [json.loads(line) for line in transcript.read_text().splitlines()]
    assert sum(r["event"] == "data" and r["dir"] == "in" for r in records) == 150
    assert sum(r["event"] == "close" and r["conn"].startswith("C") for r in records) == 150
    assert not [r for r in records if r["event"] in ("refused", "error")]


def test_the_listen_dialog_keeps_connections_half_open_when_asked() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await pilot.press("f2")
        dialog = app.screen
        assert isinstance(dialog, ListenDialog)
        dialog.query_one("#halfopen", Checkbox).value = True
        dialog.query_one("#address", Input).focus()
        await pilot.press("enter")
        port = await wait_listener_port(pilot)
        assert app.session.listeners["L1"].url == "tcp://127.0.0.1:0?halfopen=1"
        with connect_client(port) as client:
            client.shutdown(socket.SHUT_WR)
            await wait_log(pilot, "peer sent EOF; half-open: you can still send")

    run_app(make_app(), scenario)
