"""End to end: peers send terminal escape sequences and markup to the real `sockbench` command
running in tmux, and none of it reaches the terminal.

tmux is the terminal here, set up to act on what an escape would do: `set-clipboard on` makes
an OSC 52 fill a paste buffer, `allow-rename on` lets ESC k name the window, and OSC 0/2 set
the pane title. Each payload must instead show on the screen as visible escapes.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from hostile import HOSTILE_LINES, HOSTILE_NAME, HOSTILE_NAME_SHOWN, unsafe_characters
from peers import free_port, recv_exactly
from tmux_helpers import SCREEN_TIMEOUT, Tmux

LOCALHOST = "127.0.0.1"
TMUX_CONFIG = "set -g set-clipboard on\nset -g allow-rename on\nset -g automatic-rename off\n"


def assert_terminal_untouched(tmux: Tmux, title: str, window: str) -> None:
    screen = tmux.screen()
    assert "pwned" not in tmux.show("#{pane_title}")
    assert tmux.show("#{pane_title}") == title
    assert tmux.show("#{window_name}") == window
    assert tmux.buffers() == "", "an OSC 52 reached tmux and set its clipboard"
    leaked = unsafe_characters(screen, allowed="\n")
    assert not leaked, f"raw {leaked} on the screen:\n{screen}"


def test_hostile_peers_never_reach_the_terminal_and_the_app_answers_keys(
    tmux: Tmux, tmp_path: Path
) -> None:
    port = free_port()
    unix_name = f"sockbench-hostile-{os.getpid()}"
    tmux.start_sockbench(
        tmp_path,
        "--listen", f"tcp://{LOCALHOST}:{port}",
        "--listen", f"unix://@{unix_name}",
        config=TMUX_CONFIG,
    )  # fmt: skip
    tmux.wait_screen(f"listening on unix @{unix_name}", "both listeners on the screen")
    title, window = tmux.show("#{pane_title}"), tmux.show("#{window_name}")

    with socket.create_connection((LOCALHOST, port), timeout=SCREEN_TIMEOUT) as peer:
        for payload, shown in HOSTILE_LINES:
            peer.sendall(payload + b"\n")
            label = shown.split(" ", 1)[0] + " "  # printed before any escape could act
            tmux.wait_screen(label, f"the row of {payload!r}")
            assert_terminal_untouched(tmux, title, window)
            tmux.wait_screen(shown, f"{payload!r} shown as {shown}")

        # A Unix client names itself: its address is peer text too (connection labels, Log).
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix_peer:
            unix_peer.bind(b"\0" + HOSTILE_NAME)
            unix_peer.settimeout(SCREEN_TIMEOUT)
            unix_peer.connect(b"\0" + unix_name.encode())
            tmux.wait_screen(
                f"accepted unix @{HOSTILE_NAME_SHOWN}", "the Unix peer's name as visible escapes"
            )
            assert_terminal_untouched(tmux, title, window)

            # The palette's Target... lists the connections by their addresses: markup from
            # the peer must stay text there too.
            tmux.keys("C-p")
            tmux.wait_screen("🔎", "the command palette")
            tmux.keys("Target", literal=True)
            tmux.wait_screen("Target...", "the palette's Target command")
            tmux.keys("Enter")
            tmux.wait_screen("Target: which connection?", "the connection picker")
            tmux.keys("C2", literal=True)
            tmux.wait_screen(f"@{HOSTILE_NAME_SHOWN[:30]}", "the peer's name in the picker")
            assert_terminal_untouched(tmux, title, window)
            tmux.keys("Escape")
            tmux.wait(lambda: "which connection?" not in tmux.screen(), "the picker to close")

            # Still running and answering keys: what is typed shows in the composer, and
            # Enter sends it to the target (the first peer).
            tmux.keys("still answering", literal=True)
            tmux.wait_screen("still answering", "the typed text in the composer")
            tmux.keys("Enter")
            assert recv_exactly(peer, len(b"still answering\n"), SCREEN_TIMEOUT) == (
                b"still answering\n"
            )
            assert tmux.exited() == "", "sockbench ended"
            assert_terminal_untouched(tmux, title, window)
            tmux.quit_sockbench()
