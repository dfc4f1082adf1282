"""exec and sh in the app: a hostile program's output (ESC, OSC, markup) on its stdout and
its stderr is shown as visible escapes and literal text; and the real command in tmux runs
a program per connection and ends it when sockbench quits."""

from __future__ import annotations

import re
import socket
from pathlib import Path

from hostile import HOSTILE_LINES
from peers import connect_client, free_port, recv_exactly, recv_until_eof
from test_exec import dead, url
from test_hostile_places import BIG_TERMINAL, hostile_bytes, safe_screen, wait_screen_text
from textual.pilot import Pilot
from textual.widgets import Input, Static
from tmux_helpers import SCREEN_TIMEOUT, Tmux
from ui_helpers import (
    blocking,
    make_app,
    run_app,
    the_app,
    wait_listener_port,
    wait_log,
    wait_ui,
)

from workbench.ui.dialogs import ListenDialog


def test_a_hostile_programs_stdout_and_stderr_are_shown_safely(tmp_path: Path) -> None:
    hostile = tmp_path / "hostile.bin"
    hostile.write_bytes(hostile_bytes())
    command = f"cat {hostile}; cat {hostile} >&2"

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await wait_log(pilot, "sh: runs 'cat ")
        port = int(app.session.listeners["L1"].local[0].rsplit(":", 1)[1])
        with connect_client(port) as client:
            assert await blocking(recv_until_eof, client) == hostile_bytes()
        await wait_log(pilot, "sh: sh exited with status 0")
        last = HOSTILE_LINES[-1][1]
        await wait_screen_text(pilot, f"sh stderr: {last}", "the last stderr line")
        screen = safe_screen(app)  # nothing a terminal could act on
        for _, shown in HOSTILE_LINES:
            # stderr is text: a byte that is not UTF-8 is shown as U+FFFD.
            in_stderr = shown.replace("\\x9b", "\ufffd")
            assert f"sh stderr: {in_stderr}" in screen, in_stderr
            assert shown in screen.replace(f"sh stderr: {shown}", ""), shown  # from stdout
        assert "↺ exec: " in screen
        assert "pwned" not in app.title

    # Taller than BIG_TERMINAL: the Log shows both copies of the lines and the hang-up's.
    width, height = BIG_TERMINAL
    run_app(make_app(listen=[url("sh", command)]), scenario, size=(width, height + 10))


def test_the_listen_dialog_takes_a_command_in_its_options_and_refuses_a_missing_one() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await pilot.press("f2")
        await wait_ui(pilot, lambda: isinstance(app.screen, ListenDialog), "the dialog")
        dialog = app.screen
        dialog.query_one("#options", Input).value = "exec=no-such-program-here"
        dialog.query_one("#address", Input).focus()
        await pilot.press("enter")
        error = dialog.query_one("#error", Static)
        await wait_ui(pilot, lambda: error.display, "the dialog's error")
        assert "'no-such-program-here' is not found on PATH" in str(error.render())
        dialog.query_one("#options", Input).value = "exec=tr a-z A-Z"
        dialog.query_one("#address", Input).focus()
        await pilot.press("enter")
        port = await wait_listener_port(pilot)
        await wait_log(pilot, "exec: runs 'tr a-z A-Z' per connection")
        with connect_client(port) as client:
            client.sendall(b"from the dialog")
            client.shutdown(socket.SHUT_WR)
            assert await blocking(recv_until_eof, client) == b"FROM THE DIALOG"

    run_app(make_app(), scenario)


def test_the_real_command_runs_a_program_per_connection_and_ends_them_at_quit(
    tmux: Tmux, tmp_path: Path
) -> None:
    upper, plain = free_port(), free_port()
    tmux.start_sockbench(
        tmp_path,
        "--listen",
        f"tcp://127.0.0.1:{upper}?exec=tr%20a-z%20A-Z",
        "--listen",
        f"tcp://127.0.0.1:{plain}?exec=cat",
    )
    tmux.wait_screen("exec: runs 'tr a-z A-Z' per connection", "the listening line")

    # A client sends and ends its input: tr answers, exits, and the connection ends.
    with socket.create_connection(("127.0.0.1", upper), timeout=SCREEN_TIMEOUT) as first:
        first.sendall(b"hello from the shell\n")
        first.shutdown(socket.SHUT_WR)
        assert recv_until_eof(first) == b"HELLO FROM THE SHELL\n"
    tmux.wait_screen("exec: tr exited with status 0", "the exit status")

    # Another stays connected (cat answers each read): quitting sockbench ends its program.
    with socket.create_connection(("127.0.0.1", plain), timeout=SCREEN_TIMEOUT) as second:
        second.sendall(b"still here\n")
        assert recv_exactly(second, 11) == b"still here\n"
        tmux.wait_screen("exec: cat started (pid", "the program's pid")
        found = re.search(r"exec: cat started \(pid (\d+)\)", tmux.screen())
        assert found is not None
        pid = int(found.group(1))
        assert not dead(pid)
        tmux.quit_sockbench()
        assert second.recv(4096) == b""
    tmux.wait(lambda: dead(pid), f"cat (pid {pid}) to end with sockbench")
