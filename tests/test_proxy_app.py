"""What a user sees of a `proxy=1` listener in the app: the Log's "accepted" line, the
header's line and the Connections pane show the client the header names via the real
peer; a client without a header is said in the Log and counted on the listener."""

from __future__ import annotations

import contextlib
import socket

from peers import connect_client, recv_until_eof
from textual.pilot import Pilot
from ui_helpers import (
    blocking,
    log_text,
    make_app,
    run_app,
    the_app,
    wait_listener_port,
    wait_log,
    wait_ui,
)

from workbench.framing.proxy_header import TlvType, build_v2
from workbench.protocol.endpoints import format_sockname


def send_then_hold(port: int, data: bytes) -> tuple[socket.socket, str]:
    client = connect_client(port)
    client.sendall(data)
    return client, format_sockname(client.getsockname())


def refused(port: int, data: bytes) -> None:
    with connect_client(port) as client:
        client.sendall(data)
        with contextlib.suppress(ConnectionResetError):
            assert recv_until_eof(client) == b""


def test_the_named_client_via_the_real_peer_and_a_client_without_a_header() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        header = build_v2(
            ("203.0.113.7", 51234),
            ("192.0.2.1", 443),
            [(TlvType.AUTHORITY, b"evil\x1b]2;pwned\x07")],
        )
        client, real = await blocking(send_then_hold, port, header + b"hello")
        with client:
            shown = f"203.0.113.7:51234 via {real}"
            await wait_log(pilot, f"accepted {shown} on 127.0.0.1:{port} (L1)")
            await wait_log(pilot, "PROXY v2 header (45 bytes): PROXY TCP4")
            await wait_log(pilot, "AUTHORITY evil\\x1b]2;pwned\\x07")
            assert not any("\x1b" in row for row in log_text(app)), "a peer's escape, shown"
            await wait_log(pilot, "hello")
            table = app.connections_table

            def remote_cell() -> str:
                return str(table.get_cell("C1", "remote")) if "C1" in table.rows else ""

            await wait_ui(pilot, lambda: shown in remote_cell(), "the Connections pane")
        await blocking(refused, port, b"GET / HTTP/1.1\r\n")
        await wait_log(pilot, "no PROXY header: it starts with 'GET / HTTP/1.1\\r\\n'")

        def label() -> str:
            return str(app.listeners_tree.root.children[0].label)

        await wait_ui(pilot, lambda: "1 closed without a PROXY header" in label(), "the count")

    run_app(make_app(listen=["tcp://127.0.0.1:0?proxy=1"]), scenario)
