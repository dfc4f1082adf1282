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

from peers import free_port, recv_exactly
from tmux_helpers import SCREEN_TIMEOUT, Tmux

LOCALHOST = "127.0.0.1"
TMUX_CONFIG = "set -g set-clipboard on\nset -g allow-rename on\nset -g automatic-rename off\n"

# (what a peer sends, how the Log must show it). One line each, so each is one Log row; the
# first word labels the row.
HOSTILE_LINES: list[tuple[bytes, str]] = [
    (b"osc0 \x1b]0;pwned-osc0\x07", r"osc0 \x1b]0;pwned-osc0\x07"),
    (b"osc2 \x1b]2;pwned-osc2\x1b\\", r"osc2 \x1b]2;pwned-osc2\x1b\\"),
    (b"name \x1bkpwned-name\x1b\\", r"name \x1bkpwned-name\x1b\\"),
    (b"clear \x1b[2J\x1b[H", r"clear \x1b[2J\x1b[H"),
    (b"ris \x1bc", r"ris \x1bc"),
    (b"moves \x1b[10;10H\x1b[5A\x1b[2K\x1b7\x1b8", r"moves \x1b[10;10H\x1b[5A\x1b[2K\x1b7\x1b8"),
    (b"clip \x1b]52;c;cHduZWQ=\x07", r"clip \x1b]52;c;cHduZWQ=\x07"),
    (
        b"link \x1b]8;;https://example.com\x07x\x1b]8;;\x07",
        r"link \x1b]8;;https://example.com\x07x\x1b]8;;\x07",
    ),
    ("csi8 \u009b2J".encode(), r"csi8 \u009b2J"),
    (b"csi8raw \x9b2J", r"csi8raw \x9b2J"),
    (b"cr good\rEVIL", r"cr good\rEVIL"),
    (
        "bidi \u202eabc \u2066d\u2067e\u2068f\u2069".encode(),
        r"bidi \u202eabc \u2066d\u2067e\u2068f\u2069",
    ),
    ("zw a\u200bb\u200dc\ufeffd".encode(), r"zw a\u200bb\u200dc\ufeffd"),
    (b"markup1 [/]", "markup1 [/]"),
    (b"markup2 [@click=app.quit]x[/]", "markup2 [@click=app.quit]x[/]"),
    (b"markup3 [link=https://example.com]x[/link]", "markup3 [link=https://example.com]x[/link]"),
    (b"markup4 [bold red]boom", "markup4 [bold red]boom"),
]

# Characters that must never be on the screen: each is a control, a bidi override or an
# invisible character that only a leak could have put there.
FORBIDDEN = "\x1b\x07\r\x9b\u009b\u202e\u2066\u2067\u2068\u2069\u200b\u200d\ufeff"


def assert_terminal_untouched(tmux: Tmux, title: str, window: str) -> None:
    screen = tmux.screen()
    assert "pwned" not in tmux.show("#{pane_title}")
    assert tmux.show("#{pane_title}") == title
    assert tmux.show("#{window_name}") == window
    assert tmux.buffers() == "", "an OSC 52 reached tmux and set its clipboard"
    leaked = sorted({f"U+{ord(ch):04X}" for ch in screen if ch in FORBIDDEN})
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
            unix_peer.bind(b"\0evil\x1b]2;pwned-unix\x07[@click=app.quit]q[/]\xe2\x80\xae")
            unix_peer.settimeout(SCREEN_TIMEOUT)
            unix_peer.connect(b"\0" + unix_name.encode())
            tmux.wait_screen(
                r"accepted unix @evil\x1b]2;pwned-unix\x07[@click=app.quit]q[/]\u202e",
                "the Unix peer's name as visible escapes",
            )
            assert_terminal_untouched(tmux, title, window)

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
