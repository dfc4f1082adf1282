"""broker=1 and chat=1 in the app: the listening line says what the listener does, the user
types to the first peer and every peer gets it, and the Log marks each relay with who sent
it (a hostile peer's bytes shown escaped, as everything a peer sends)."""

from __future__ import annotations

import socket

from peers import connect_client, recv_exactly
from test_broker_chat import read_line
from textual.pilot import Pilot
from ui_helpers import (
    blocking,
    make_app,
    run_app,
    the_app,
    type_line,
    wait_listener_port,
    wait_log,
    wait_ui,
)


def test_three_peers_and_the_user_through_a_broker() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        await wait_log(pilot, "broker: what each peer sends goes to all the others")
        peers = [connect_client(port) for _ in range(3)]
        await wait_ui(pilot, lambda: len(app.session.connections) == 3, "three peers")
        assert app.target == "C1"
        await type_line(pilot, "hello all")  # to C1, the target: all three get it
        for peer in peers:
            assert await blocking(recv_exactly, peer, 10) == b"hello all\n"
        await wait_log(pilot, "broker you: hello all\\n")
        peers[1].sendall(b"\x1b]0;pwned\x07from C2\n")
        for peer in (peers[0], peers[2]):
            assert await blocking(recv_exactly, peer, 18) == b"\x1b]0;pwned\x07from C2\n"
        await wait_log(pilot, "broker C2: \\x1b]0;pwned\\x07from C2\\n")
        for peer in peers:
            peer.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0?broker=1"]), scenario)


def test_chat_names_each_line_and_the_user_joins_in() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        await wait_log(pilot, "chat: each peer's lines go to the others as '<C3> line'")
        first, second = connect_client(port), connect_client(port)
        await wait_ui(pilot, lambda: len(app.session.connections) == 2, "two peers")
        await wait_log(pilot, "<announce> 127.0.0.1:")
        await type_line(pilot, "hi")
        await wait_log(pilot, "chat you: <you> hi\\n")
        await blocking(line_of, second, b"<you> hi\n")
        first.sendall(b"\x1b[2Jbye\n")
        await blocking(line_of, second, b"<C1> \\033[2Jbye\n")
        await wait_log(pilot, "chat C1: <C1> \\\\033[2Jbye\\n")
        first.close()
        second.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0?chat=1"]), scenario)


def line_of(sock: socket.socket, wanted: bytes) -> None:
    """Read lines until `wanted` comes (the announcements come first)."""
    while (line := read_line(sock)) != wanted:
        assert line.startswith(b"<announce> "), f"{line!r} came before {wanted!r}"
