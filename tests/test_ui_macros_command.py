"""The real command in tmux: `sockbench --session FILE` brings the file's macros, and a
macro's key sends it to the peer."""

from __future__ import annotations

import socket
from pathlib import Path

from peers import recv_exactly
from tmux_helpers import Tmux


def test_a_session_files_macro_key_sends_from_the_real_command(tmux: Tmux, tmp_path: Path) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)
    port = server.getsockname()[1]
    session = tmp_path / "session.toml"
    session.write_text(
        f'[[connect]]\nurl = "tcp://127.0.0.1:{port}"\n\n'
        '[[macro]]\nname = "ping"\ntext = "PING {counter} {conn}\\r\\n"\nkey = "f9"\n'
    )
    with server:
        tmux.start_sockbench(tmp_path, "--session", str(session))
        peer, _ = server.accept()
        with peer:
            tmux.wait_screen("(open)", "the connection open")
            tmux.wait_screen("f9 now sends macro ping", "the notice of the key it took")
            tmux.keys("F9")
            assert recv_exactly(peer, 11) == b"PING 1 C1\r\n"
            tmux.wait_screen("macro ping: PING 1 C1\\r\\n", "the send in the Log")
            tmux.quit_sockbench()
