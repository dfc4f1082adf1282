"""What a user sees of faults and hostile peers, driving the real app with Pilot against real
peers and the fault proxy: a reset mid-stream, a peer that never reads (the queue shown, sends
refused in words, abort), a listener at its maximum, idle peers, a connect that never
answers, and a listener on every interface."""

from __future__ import annotations

import json
import os
import socket
import threading

from faultproxy import FaultProxy
from peers import (
    GreetingServer,
    RecordingServer,
    abort,
    connect_client,
    recv_until_eof,
    unanswering_listener,
)
from textual.pilot import Pilot
from textual.widgets import Input
from ui_helpers import (
    blocking,
    focus,
    make_app,
    run_app,
    the_app,
    type_line,
    wait_listener_port,
    wait_log,
    wait_notified,
    wait_open_connection,
    wait_ui,
)

from workbench.ui.app import SockbenchApp
from workbench.ui.connection_picker import Choice
from workbench.ui.dialogs import ConnectDialog, ListenDialog
from workbench.ui.palette import session_commands


def state_cell(app: SockbenchApp, cid: str) -> str:
    return str(app.connections_table.get_cell(cid, "state"))


def listener_label(app: SockbenchApp, index: int = 0) -> str:
    return str(app.listeners_tree.root.children[index].label)


def test_reset_mid_stream_keeps_what_arrived_and_later_lines_are_not_sent() -> None:
    with (
        GreetingServer(b"first part\nsecond part\n" + b"x" * 100) as server,
        FaultProxy(server.port, reset_after=23) as proxy,
    ):

        async def scenario(pilot: Pilot[None]) -> None:
            app = the_app(pilot)
            await wait_log(pilot, "reset by peer")
            await wait_log(pilot, "← first part\\n")
            await wait_log(pilot, "second part\\n")  # the same read, its next line
            assert app.session.connections["C1"].bytes_in == 23
            assert state_cell(app, "C1") == "reset by peer"
            await wait_notified(pilot, "reset by peer", "error")
            await type_line(pilot, "too late")
            error = str(app.query_one("#composer-error").render())
            assert error.startswith("no target (C1 closed)")

        run_app(make_app(connect=[proxy.url]), scenario)


def test_never_reading_peer_shows_the_queue_refuses_in_words_and_aborts() -> None:
    with RecordingServer() as server, FaultProxy(server.port, blackhole=True) as proxy:

        async def scenario(pilot: Pilot[None]) -> None:
            app = the_app(pilot)
            conn = await wait_open_connection(pilot)
            piece = os.urandom(1024 * 1024)
            for _ in range(40):  # 40 MiB, as a big paste or a script would send
                app.engine.send(conn.cid, piece)
            await wait_ui(pilot, lambda: "queued" in state_cell(app, conn.cid), "N queued")
            assert state_cell(app, conn.cid).endswith("M queued")  # e.g. "19.8M queued"
            await wait_log(pilot, "KiB queued that the peer has not taken")
            # The palette's Reset... lists it with what waits (one command, then the picker).
            palette = [c.title for c in session_commands(app.main_screen)]
            assert "Reset..." in palette
            choice = Choice(app.session.connections[conn.cid], 2)
            assert (
                choice.text.plain.startswith(f"{conn.cid} tcp  ")
                and "M queued" in choice.text.plain
            )
            # f6 on the selected connection drops the queue by resetting it.
            await focus(pilot, app.connections_table)
            await pilot.press("f6")
            await wait_log(pilot, "bytes queued were not sent")
            assert app.session.connections[conn.cid].reason.startswith("reset by you: ")
            assert app.session.connections[conn.cid].queued == 0

        run_app(make_app(connect=[proxy.url]), scenario)


def test_listener_at_its_maximum_counts_the_connections_it_refused() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        kept = [connect_client(port) for _ in range(2)]
        await wait_ui(pilot, lambda: len(app.session.open_connections()) == 2, "2 open")
        extra = [connect_client(port) for _ in range(3)]
        for client in extra:
            assert await blocking(recv_until_eof, client) == b""
        await wait_ui(pilot, lambda: "3 refused" in listener_label(app), "the refused count")
        assert "(2 open, 3 refused at max 2)" in listener_label(app)
        await wait_log(pilot, "L1 full (2 open): refused 127.0.0.1:")
        # Said once where it cannot be cut off: the pane's label may be at 120 columns.
        await wait_notified(pilot, "L1 is at its maximum of connections", "warning")
        assert sum("at its maximum" in str(n.message) for n in app._notifications) == 1
        for client in kept + extra:
            abort(client)

    run_app(make_app(listen=["tcp://127.0.0.1:0?max=2"]), scenario)


def test_idle_timeout_from_the_connect_dialog_closes_with_the_reason() -> None:
    with RecordingServer() as server:

        async def scenario(pilot: Pilot[None]) -> None:
            app = the_app(pilot)
            await pilot.press("f3")
            dialog = await wait_ui(pilot, lambda: isinstance(app.screen, ConnectDialog), "dialog")
            assert dialog
            app.screen.query_one("#address", Input).value = str(server.port)
            options = app.screen.query_one("#options", Input)
            assert options.display, "TCP has options too"
            options.value = "idle=0.5"
            await focus(pilot, options)
            await pilot.press("enter")
            await wait_log(pilot, "idle for 0.5 s")
            assert state_cell(app, "C1") == "idle for 0.5 s"

        run_app(make_app(), scenario)


def test_connect_that_never_answers_times_out_in_words() -> None:
    with unanswering_listener() as port:

        async def scenario(pilot: Pilot[None]) -> None:
            app = the_app(pilot)
            await pilot.press("f3")
            await wait_ui(pilot, lambda: isinstance(app.screen, ConnectDialog), "dialog")
            app.screen.query_one("#address", Input).value = str(port)
            timeout = app.screen.query_one("#timeout", Input)
            timeout.value = "0.5"
            await focus(pilot, timeout)
            await pilot.press("enter")
            await wait_log(pilot, f"127.0.0.1:{port} did not answer within 0.5 s")
            assert app.session.connections["C1"].state == "failed"
            await wait_notified(pilot, "did not answer", "error")

        run_app(make_app(), scenario)


def test_listen_dialog_defaults_to_loopback_and_every_interface_warns() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await pilot.press("f2")
        await wait_ui(pilot, lambda: isinstance(app.screen, ListenDialog), "dialog")
        address = app.screen.query_one("#address", Input)
        assert address.value == "127.0.0.1:0"
        address.value = "0.0.0.0:0"
        app.screen.query_one("#options", Input).value = "max=5"
        await focus(pilot, address)
        await pilot.press("enter")
        await wait_log(pilot, "warning: listening on every interface")
        await wait_notified(pilot, "L1: listening on every interface", "warning")
        assert app.session.listeners["L1"].max_connections == 5
        # It works: a client on loopback is accepted.
        port = await wait_listener_port(pilot)
        with connect_client(port):
            await wait_open_connection(pilot)

    run_app(make_app(), scenario)


def test_flood_keeps_the_ui_answering_keys_and_the_count_exact(tmp_path) -> None:
    size = 64 * 1024 * 1024
    transcript = tmp_path / "t.jsonl"

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        client = connect_client(port, timeout=60)
        chunk = os.urandom(1024 * 1024)

        def flood() -> None:
            for _ in range(size // len(chunk)):
                client.sendall(chunk)
            client.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=flood, daemon=True)
        sender.start()
        try:
            conn = await wait_open_connection(pilot)
            # Keys work while the data pours in: a dialog opens and closes.
            await pilot.press("f2")
            await wait_ui(pilot, lambda: isinstance(app.screen, ListenDialog), "the dialog")
            await pilot.press("escape")
            await wait_ui(pilot, lambda: not isinstance(app.screen, ListenDialog), "closed")
            await wait_ui(pilot, lambda: conn.bytes_in == size, "every byte counted", timeout=60)
            await wait_log(pilot, "closed after the peer's EOF")
        finally:
            await blocking(sender.join, 60)
            client.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"], transcript=str(transcript)), scenario)
    total = 0
    for line in transcript.read_text().splitlines():
        if '"event":"data"' in line:
            total += json.loads(line)["size"]
    assert total == size
