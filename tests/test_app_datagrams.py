"""The real app with UDP, Unix and IPv6 endpoints, driven with Pilot against real peers."""

from __future__ import annotations

import socket

from peers import (
    UdpEchoServer,
    requires_ipv6,
    short_temp_dir,
    udp_socket,
)
from textual.pilot import Pilot
from textual.widgets import Input, Select
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

from workbench.ui.dialogs import ListenDialog, SendToDialog


def recv_datagram(sock: socket.socket) -> bytes:
    return sock.recvfrom(65536)[0]


def test_udp_listener_with_two_peers_replies_reach_the_right_one() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        with udp_socket() as alice, udp_socket() as bob:
            alice.sendto(b"hello from alice\n", ("127.0.0.1", port))
            first = await wait_open_connection(pilot)
            bob.sendto(b"hello from bob\n", ("127.0.0.1", port))
            second = await wait_open_connection(pilot, lambda c: c.cid != first.cid)
            assert first.remote == f"127.0.0.1:{alice.getsockname()[1]}"
            assert second.transport == "udp"
            await wait_log(pilot, "← hello from bob\\n")
            tree = app.listeners_tree
            await wait_ui(pilot, lambda: len(tree.root.children[0].children) == 2, "2 peers")
            assert "1↓ 0↑" in str(tree.root.children[0].children[1].label)
            assert "(2 peers)" in str(tree.root.children[0].label)

            # The first peer is the target: one datagram per Enter, to that peer only.
            assert app.target == first.cid
            await type_line(pilot, "reply to alice")
            assert await blocking(recv_datagram, alice) == b"reply to alice\n"

            table = app.connections_table
            await focus(pilot, table)
            table.move_cursor(row=table.get_row_index(second.cid))
            await pilot.press("enter")
            assert app.target == second.cid
            await type_line(pilot, "reply to bob")
            assert await blocking(recv_datagram, bob) == b"reply to bob\n"
            alice.settimeout(0.2)
            assert await blocking(_nothing_more, alice)
            await wait_ui(pilot, lambda: first.chunks_out == 1 and second.chunks_in == 1, "counts")

    run_app(make_app(listen=["udp://127.0.0.1:0"]), scenario)


def _nothing_more(sock: socket.socket) -> bool:
    try:
        sock.recvfrom(65536)
    except TimeoutError:
        return True
    return False


def test_send_to_makes_an_address_a_peer_and_the_target() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await wait_listener_port(pilot)
        with udp_socket() as receiver:
            await pilot.press("f5")
            dialog = app.screen
            assert isinstance(dialog, SendToDialog)
            dialog.query_one("#address", Input).value = str(receiver.getsockname()[1])
            await pilot.press("enter")
            await wait_ui(pilot, lambda: app.target is not None, "a target")
            assert app.session.connections[app.target].listener == "L1"
            await type_line(pilot, "unsolicited")
            data, sender = await blocking(receiver.recvfrom, 65536)
            assert data == b"unsolicited\n"
            assert sender[1] == int(app.session.listeners["L1"].local[0].rsplit(":", 1)[1])

    run_app(make_app(listen=["udp://127.0.0.1:0"]), scenario)


@requires_ipv6
def test_send_to_from_a_dual_stack_listener_takes_a_plain_ipv4_address() -> None:
    """As the README says: the address is shown mapped (::ffff:), the datagram reaches the
    IPv4 peer."""

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await wait_listener_port(pilot)
        with udp_socket() as receiver:
            await pilot.press("f5")
            dialog = app.screen
            assert isinstance(dialog, SendToDialog)
            port = receiver.getsockname()[1]
            dialog.query_one("#address", Input).value = f"127.0.0.1:{port}"
            await pilot.press("enter")
            await wait_ui(pilot, lambda: app.target is not None, "a target")
            assert app.session.connections[app.target].remote == f"[::ffff:127.0.0.1]:{port}"
            await type_line(pilot, "to v4")
            data, _ = await blocking(receiver.recvfrom, 65536)
            assert data == b"to v4\n"

    run_app(make_app(listen=["udp://[::]:0"]), scenario)


def test_send_to_without_a_datagram_listener_says_what_to_do() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await pilot.press("f5")
        assert not isinstance(app.screen, SendToDialog)
        await wait_notified(pilot, "UDP or Unix datagram listener")

    run_app(make_app(), scenario)


def test_udp_client_sees_the_echo_and_eof_is_refused_in_plain_words() -> None:
    with UdpEchoServer(prefix=b"echo: ") as echo:

        async def scenario(pilot: Pilot[None]) -> None:
            await wait_open_connection(pilot)
            await type_line(pilot, "ping")
            await wait_log(pilot, "← echo: ping\\n")
            await pilot.press("ctrl+d")
            await wait_log(pilot, "datagram peer, which has no stream to end")
            assert the_app(pilot).is_running

        run_app(make_app(connect=[f"udp://127.0.0.1:{echo.port}"]), scenario)


def test_unix_listener_from_the_dialog() -> None:
    with short_temp_dir() as directory:
        path = str(directory / "app.sock")

        async def scenario(pilot: Pilot[None]) -> None:
            app = the_app(pilot)
            await pilot.press("f2")
            dialog = app.screen
            assert isinstance(dialog, ListenDialog)
            dialog.query_one("#transport", Select).value = "unix"
            await pilot.pause()
            dialog.query_one("#address", Input).value = path
            await focus(pilot, dialog.query_one("#address", Input))
            await pilot.press("enter")
            await wait_log(pilot, f"listening on unix {path}")
            with socket.socket(socket.AF_UNIX) as client:
                client.settimeout(5)
                client.connect(path)
                client.sendall(b"over a unix socket\n")
                conn = await wait_open_connection(pilot)
                assert conn.remote == "(unnamed)" and conn.transport == "unix"
                await wait_log(pilot, "← over a unix socket\\n")
                await type_line(pilot, "and back")
                assert await blocking(client.recv, 100) == b"and back\n"

        run_app(make_app(), scenario)


def test_unix_listener_refuses_a_path_that_is_not_a_socket() -> None:
    with short_temp_dir() as directory:
        path = directory / "notes.txt"
        path.write_text("keep me")

        async def scenario(pilot: Pilot[None]) -> None:
            await wait_log(pilot, "exists and is not a socket; not replacing it")
            assert path.read_text() == "keep me"

        run_app(make_app(listen=[f"unix://{path}"]), scenario)


@requires_ipv6
def test_ipv6_dual_stack_listener_says_so_and_accepts_ipv4() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await wait_log(pilot, "dual-stack: accepts IPv4 too")
        port = await wait_listener_port(pilot)
        assert app.session.listeners["L1"].local == (f"[::]:{port}",)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            conn = await wait_open_connection(pilot)
            assert conn.remote.startswith("[::ffff:127.0.0.1]:")
            client.sendall(b"v4 over v6\n")
            await wait_log(pilot, "← v4 over v6\\n")

    run_app(make_app(listen=["tcp://[::]:0"]), scenario)
