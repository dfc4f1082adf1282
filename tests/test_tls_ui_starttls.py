"""STARTTLS by hand in the app: ctrl+s (or `STARTTLS...` in the palette) upgrades the
target, a plain connection, to TLS in place; the Log says what the handshake gave."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from textual.pilot import Pilot
from tls_certs import issue, server_context
from ui_helpers import make_app, run_app, the_app, wait_log

from workbench.ui.palette import session_commands


def test_ctrl_s_upgrades_the_target_in_place(tmp_path: Path) -> None:
    issued = issue(tmp_path, "server", None)
    got: list[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(30)
        port = server.getsockname()[1]

        def serve() -> None:
            conn, _ = server.accept()
            with conn:
                conn.sendall(b"plain hello\r\n")
                with server_context(issued).wrap_socket(conn, server_side=True) as tls:
                    got.append(tls.recv(100))

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()

        async def scenario(pilot: Pilot[None]) -> None:
            app = the_app(pilot)
            await wait_log(pilot, "plain hello")
            titles = [command.title for command in session_commands(app.main_screen)]
            assert "STARTTLS..." in titles
            await pilot.press("ctrl+s")
            await wait_log(pilot, "not verified: it is self-signed")  # verify=0 says why
            app.main_screen.engine.send("C1", b"secret")

        url = f"tcp://localhost:{port}?verify=0"
        run_app(make_app(connect=[url]), scenario)
        thread.join(30)
    assert got == [b"secret"], "sent inside TLS"
