"""A block pasted into the real command in a real terminal (tmux's bracketed paste), then
Enter: the peer receives it whole."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from peers import recv_exactly
from tmux_helpers import SCREEN_TIMEOUT, Tmux

LOCALHOST = "127.0.0.1"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ((), b"GET / HTTP/1.1\nHost: x\n\n"),
        (("--line-ending", "crlf"), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    ],
    ids=["lf", "crlf"],
)
def test_a_request_pasted_in_tmux_reaches_the_peer_whole(
    tmux: Tmux, tmp_path: Path, options: tuple[str, ...], expected: bytes
) -> None:
    with socket.create_server((LOCALHOST, 0)) as listener:
        listener.settimeout(SCREEN_TIMEOUT)
        port = listener.getsockname()[1]
        tmux.start_sockbench(tmp_path, "--connect", f"tcp://{LOCALHOST}:{port}", *options)
        peer, _ = listener.accept()
    with peer:
        tmux.wait_screen(f"to C1 {LOCALHOST}:{port}", "the connection as the target")
        request = tmp_path / "request.txt"
        request.write_bytes(b"GET / HTTP/1.1\nHost: x\n\n")
        tmux.run("load-buffer", "-b", "request", str(request))
        # -p: a bracketed paste, as a terminal sends one (tmux also turns each LF into a CR,
        # as a terminal does).
        tmux.run("paste-buffer", "-p", "-d", "-b", "request", "-t", "main")
        tmux.wait_screen("3 lines", "the block editor with the three lines")
        screen = tmux.screen()
        assert "GET / HTTP/1.1" in screen and "Host: x" in screen
        tmux.keys("Enter")
        assert recv_exactly(peer, len(expected), timeout=SCREEN_TIMEOUT) == expected
        tmux.quit_sockbench()
