"""Hostile rules output in the real app: a reply template that sends escapes (ESC, OSC, CSI),
bidi and markup, and a rules file whose error quotes them, are shown in the Log as visible
escapes and plain text, never acted on, while the peer gets the bytes exactly."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hostile import HOSTILE_LINES
from peers import DEFAULT_TIMEOUT, connect_client, recv_exactly
from test_hostile_places import BIG_TERMINAL, hostile_bytes, safe_screen, screen_lines
from test_rules import write
from textual.pilot import Pilot
from ui_helpers import make_app, run_app, the_app, wait_listener_port, wait_log, wait_ui

EVIL_KEY = r"\u001b]2;pwned\u0007[@click=app.quit]q[/]\u202e"
EVIL_KEY_SHOWN = r"\x1b]2;pwned\x07[@click=app.quit]q[/]\u202e"


def test_hostile_replies_and_errors_are_shown_safely(tmp_path: Path) -> None:
    file = tmp_path / "rules.toml"
    rules = write(file, f'[[rule]]\nexact = "go"\nreply = "{{hex:{hostile_bytes().hex()}}}"\n')

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        peer = connect_client(port)
        with peer:
            peer.sendall(b"go\n")
            expected = hostile_bytes()
            got = await asyncio.to_thread(recv_exactly, peer, len(expected), DEFAULT_TIMEOUT)
            assert got == expected
            await wait_log(pilot, HOSTILE_LINES[-1][1])
            screen = safe_screen(app)
            for _, shown in HOSTILE_LINES:
                assert shown in screen, shown
            assert "rule 1" in screen, "the replies are marked with their rule"

            write(file, f'"{EVIL_KEY}" = 1\n[[rule]]\nexact = "go"\nreply = "x"\n')
            await wait_ui(
                pilot,
                lambda: any("not reloaded" in line for line in screen_lines(app)),
                "the reload's error",
            )
            screen = safe_screen(app)
            assert f"rules file: unknown key '{EVIL_KEY_SHOWN}'" in screen
        assert app.is_running and not app._exit_requested

    run_app(
        make_app(listen=[f"tcp://127.0.0.1:0?rules={rules}"]),
        scenario,
        size=BIG_TERMINAL,
        notifications=True,
    )
