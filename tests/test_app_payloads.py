"""What the composer sends, end to end against real peers: modes, line endings, encodings,
several targets at once."""

from __future__ import annotations

import os

from peers import connect_client, recv_exactly
from textual.pilot import Pilot
from ui_helpers import (
    blocking,
    focus,
    make_app,
    run_app,
    the_app,
    type_line,
    wait_listener_port,
    wait_log,
    wait_open_connection,
    wait_ui,
)

from workbench.payloads import SendSettings


def test_hex_mode_sends_exact_bytes_and_rejects_bad_hex_inline() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        await wait_open_connection(pilot)
        await pilot.press("ctrl+t")
        assert app.core.sending.mode == "hex"
        assert str(app.query_one("#mode").render()) == "hex"
        await type_line(pilot, "de ad be ef 00 0a")
        assert await blocking(recv_exactly, client, 6) == b"\xde\xad\xbe\xef\x00\x0a"
        await type_line(pilot, "de:ad:b")
        assert "column" in str(app.query_one("#composer-error").render())
        assert app.composer.value == "de:ad:b"
        await type_line(pilot, "0xCAFE")
        assert await blocking(recv_exactly, client, 2) == b"\xca\xfe"
        await wait_log(pilot, "→ \\xca\\xfe")
        client.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario)


def test_file_mode_sends_a_large_file_exactly_with_progress(tmp_path) -> None:
    payload = os.urandom(8 * 1024 * 1024)
    path = tmp_path / "firmware.bin"
    path.write_bytes(payload)

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        await wait_open_connection(pilot)
        await pilot.press("ctrl+t", "ctrl+t")
        assert app.core.sending.mode == "file"
        await type_line(pilot, str(tmp_path / "missing.bin"))
        assert "no such file" in str(app.query_one("#composer-error").render())
        await type_line(pilot, str(path))
        await wait_log(pilot, "sending file")
        received = await blocking(recv_exactly, client, len(payload), 20.0)
        assert received == payload
        await wait_log(pilot, f"sent file {path}: {len(payload):,} bytes")
        conn = app.session.connections["C1"]
        await wait_ui(pilot, lambda: conn.bytes_out == len(payload), "every byte counted")
        assert not app.query_one("#progress").display
        client.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario)


def test_line_ending_and_encoding_per_connection() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        await wait_open_connection(pilot)
        await type_line(pilot, "lf")
        assert await blocking(recv_exactly, client, 3) == b"lf\n"
        await pilot.press("f7")  # LF -> CRLF
        assert "CRLF" in str(app.query_one("#mode").render())
        await type_line(pilot, "crlf")
        assert await blocking(recv_exactly, client, 6) == b"crlf\r\n"
        await pilot.press("f7")  # CRLF -> none
        await type_line(pilot, "bare")
        assert await blocking(recv_exactly, client, 4) == b"bare"
        await pilot.press("f8")  # utf-8 -> latin-1
        assert "latin-1" in str(app.query_one("#mode").render())
        await type_line(pilot, "café")
        assert await blocking(recv_exactly, client, 4) == "café".encode("latin-1")
        client.sendall("naïve\n".encode("latin-1"))
        await wait_log(pilot, "← naïve\\n")  # shown decoded as latin-1
        await pilot.press("f8")  # latin-1 -> ascii: é cannot be sent
        await type_line(pilot, "é")
        assert "cannot be sent as ascii" in str(app.query_one("#composer-error").render())
        client.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario)


def test_default_line_ending_from_the_command_line() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        await wait_open_connection(pilot)
        await type_line(pilot, "HELO x")
        assert await blocking(recv_exactly, client, 8) == b"HELO x\r\n"
        client.close()

    app = make_app(listen=["tcp://127.0.0.1:0"], default_settings=SendSettings("crlf"))
    run_app(app, scenario)


def test_mark_several_connections_and_send_to_all() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        clients = [connect_client(port) for _ in range(3)]
        await wait_ui(pilot, lambda: len(app.session.open_connections()) == 3, "3 peers")
        table = app.connections_table
        await focus(pilot, table)
        for cid in ("C1", "C3"):
            table.move_cursor(row=table.get_row_index(cid))
            await pilot.press("space")
        assert app.core.marked == {"C1", "C3"}
        assert str(app.query_one("#target").render()) == "to 2 marked"
        await type_line(pilot, "broadcast")
        by_cid = {c.cid: c for c in app.session.open_connections()}
        ports = {cid: int(conn.remote.rsplit(":", 1)[1]) for cid, conn in by_cid.items()}
        sock_for = {
            cid: next(s for s in clients if s.getsockname()[1] == p) for cid, p in ports.items()
        }
        for cid in ("C1", "C3"):
            assert await blocking(recv_exactly, sock_for[cid], 10) == b"broadcast\n"
        sock_for["C2"].settimeout(0.3)
        try:
            extra = sock_for["C2"].recv(100)
        except TimeoutError:
            extra = b""
        assert extra == b""
        await focus(pilot, table)
        table.move_cursor(row=table.get_row_index("C1"))
        await pilot.press("space")
        assert app.core.marked == {"C3"}
        for client in clients:
            client.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario)


def test_changing_the_encoding_shows_history_in_the_new_one() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        await wait_open_connection(pilot)
        client.sendall("café\n".encode("latin-1"))
        await wait_log(pilot, "← caf\\xe9\\n")  # not UTF-8: shown as the raw byte
        await pilot.press("f8")  # utf-8 -> latin-1, for the target C1
        await wait_log(pilot, "← café\\n")
        client.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario)
