"""Macros in the real app against real peers (plain Python sockets on loopback): a macro's key
sends to the marked connections, the Macros dialog adds and sends one, the composer's message
repeats numbered and in order and stops when asked."""

from __future__ import annotations

import socket
import time
from contextlib import ExitStack

from macro_helpers import open_macros
from peers import connect_client, recv_exactly
from test_app_palette import run_command
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static
from ui_helpers import (
    blocking,
    focus,
    log_contains,
    make_app,
    run_app,
    the_app,
    wait_listener_port,
    wait_log,
    wait_notified,
    wait_screen,
    wait_ui,
)

from workbench.protocol.sequences import ExpectStep, SendStep, Sequence
from workbench.ui.macro_book import make_macro
from workbench.ui.macro_dialog import MacroEditor, RepeatDialog
from workbench.ui.running_line import RunningLine

LISTENER = "tcp://127.0.0.1:0"
TIMEOUT = 10.0


def recv_lines(
    sock: socket.socket, count: int, timeout: float = TIMEOUT
) -> tuple[list[bytes], bytes]:
    """At least `count` lines (LF-terminated) from `sock`: the first `count`, and the bytes
    that came after them; AssertionError with how many came otherwise."""
    data = b""
    deadline = time.monotonic() + timeout
    while (got := data.count(b"\n")) < count:
        left = deadline - time.monotonic()
        assert left > 0, f"timed out with {got} of {count} lines"
        sock.settimeout(left)
        chunk = sock.recv(65536)
        assert chunk, f"EOF after {got} of {count} lines"
        data += chunk
    lines = data.split(b"\n")
    return lines[:count], b"\n".join(lines[count:])


def quiet_for(sock: socket.socket, seconds: float) -> bytes:
    """Whatever arrives in `seconds` (a bounded wait that a stopped repeat must leave empty)."""
    data = b""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        if not chunk:
            break
        data += chunk
    return data


def test_a_macro_key_sends_to_the_marked_connections_with_its_origin() -> None:
    macro = make_macro("ping", "text", "PING {counter} {conn}\\n", key="f9")

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        await wait_notified(pilot, "f9 now sends macro ping; Clean up stays in the palette")
        with ExitStack() as stack:
            first = stack.enter_context(connect_client(port))
            second = stack.enter_context(connect_client(port))
            await wait_ui(pilot, lambda: len(app.session.open_connections()) == 2, "2 peers")
            table = app.connections_table
            await focus(pilot, table)
            table.move_cursor(row=0)
            await pilot.press("space", "down", "space")
            await wait_ui(pilot, lambda: app.core.marked == {"C1", "C2"}, "both marked")
            await focus(pilot, app.composer)
            await pilot.press("f9")
            assert await blocking(recv_exactly, first, 10) == b"PING 1 C1\n"
            assert await blocking(recv_exactly, second, 10) == b"PING 1 C2\n"
            await wait_log(pilot, "macro ping: PING 1 C1\\n")
            await wait_log(pilot, "macro ping: PING 1 C2\\n")
            await pilot.press("f9")  # {counter} counts the macro's sends
            assert await blocking(recv_exactly, first, 10) == b"PING 2 C1\n"
            assert not log_contains(app, "Clean up"), "f9 no longer opens the clean-up menu"

    run_app(make_app(listen=[LISTENER], macros=[macro]), scenario)


def test_the_macros_dialog_adds_one_says_what_is_wrong_and_sends_it() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        with connect_client(port) as client:
            await wait_ui(pilot, lambda: app.target == "C1", "C1 as the target")
            dialog = await open_macros(pilot)
            await pilot.press("a")
            editor = await wait_screen(pilot, MacroEditor, "#count", "the editor")
            editor.query_one("#name", Input).value = "hello"
            editor.query_one("#given", Input).value = "HELLO {nope}\\r\\n"
            editor.query_one("#key", Input).value = "ctrl+g"
            await focus(pilot, editor.query_one("#name", Input))
            await pilot.press("enter")
            error = editor.query_one("#error", Static)
            await wait_ui(pilot, lambda: error.display, "the editor's error")
            assert str(error.render()).startswith("Text: "), str(error.render())
            assert "nope" in str(error.render())
            editor.query_one("#given", Input).value = "HELLO {counter} from {conn}\\r\\n"
            await pilot.press("enter")
            await wait_ui(pilot, lambda: app.screen is dialog, "back in the Macros dialog")
            table = dialog.query_one("#macros", DataTable)
            assert table.row_count == 1
            row = [str(cell) for cell in table.get_row_at(0)]
            assert row[:3] == ["hello", "ctrl+g", "HELLO {counter} from {conn}\\r\\n"]
            await focus(pilot, table)
            await pilot.press("s")
            assert await blocking(recv_exactly, client, 17) == b"HELLO 1 from C1\r\n"
            await wait_log(pilot, "macro hello: HELLO 1 from C1\\r\\n")
            await pilot.press("escape")
            await wait_ui(pilot, lambda: app.screen is app.main_screen, "the main screen")
            await pilot.press("ctrl+g")  # its key, bound as it was saved
            assert await blocking(recv_exactly, client, 17) == b"HELLO 2 from C1\r\n"

    run_app(make_app(listen=[LISTENER]), scenario)


def running_text(app: object) -> str:
    from workbench.ui.app import SockbenchApp

    assert isinstance(app, SockbenchApp)
    line = app.main_screen.widget("running", RunningLine)
    return str(line.render()) if line.display else ""


def test_a_repeat_of_the_composers_message_arrives_numbered_in_order() -> None:
    """1,000 sends at 1 ms with {counter}: every one arrives, numbered, in order, and no
    more (the line under the composer is seen while a repeat runs in the next test)."""

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        with connect_client(port) as client:
            await wait_ui(pilot, lambda: app.target == "C1", "C1 as the target")
            app.composer.value = "line {counter}"  # the composer's line ending: LF
            await run_command(pilot, "repeat the comp", "Repeat the composer's message")
            dialog = await wait_screen(pilot, RepeatDialog, "#count", "Repeat")
            dialog.query_one("#interval", Input).value = "1"
            dialog.query_one("#count", Input).value = "1000"
            await pilot.press("enter")
            lines, more = await blocking(recv_lines, client, 1000, 30.0)
            assert lines == [f"line {n}".encode() for n in range(1, 1001)]
            assert more == b"" and await blocking(quiet_for, client, 0.3) == b"", "1,000 only"
            await wait_ui(pilot, lambda: running_text(app) == "", "the repeat line gone")
            await wait_log(pilot, "repeat: line 1000\\n")
            assert app.composer.value == "line {counter}", "the composer keeps its message"

    run_app(make_app(listen=[LISTENER]), scenario)


def test_a_repeat_until_stopped_stops_with_its_key() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        with connect_client(port) as client:
            await wait_ui(pilot, lambda: app.target == "C1", "C1 as the target")
            app.composer.value = "n={counter}"
            await run_command(pilot, "repeat the comp", "Repeat the composer's message")
            dialog = await wait_screen(pilot, RepeatDialog, "#count", "Repeat")
            dialog.query_one("#interval", Input).value = "2"
            await pilot.press("enter")  # count blank: until stopped
            first, more = await blocking(recv_lines, client, 50)
            assert first == [f"n={n}".encode() for n in range(1, 51)]
            assert "(until stopped) every 2 ms (ctrl+r stops)" in running_text(app)
            await pilot.press("ctrl+r")
            await wait_ui(pilot, lambda: running_text(app) == "", "the repeat stopped")
            # What was on its way still arrives, in order; then nothing more.
            rest = more + await blocking(quiet_for, client, 0.5)
            later = await blocking(quiet_for, client, 0.5)
            assert later == b"", "nothing arrives once the repeat stopped"
            numbers = [int(x.split(b"=")[1]) for x in rest.split(b"\n") if x]
            assert numbers == list(range(51, 51 + len(numbers)))

    run_app(make_app(listen=[LISTENER]), scenario)


def test_a_macros_repeat_starts_from_the_dialog_and_a_repeat_stops_from_the_palette() -> None:
    tick = make_macro("tick", "text", "tick {counter}\\n", repeat_ms="5", count="10")
    slow = make_macro("slow", "text", "slow {counter}\\n", repeat_ms="200")

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        with connect_client(port) as client:
            await wait_ui(pilot, lambda: app.target == "C1", "C1 as the target")
            dialog = await open_macros(pilot)
            await pilot.press("r")  # the first macro: tick, 10 times every 5 ms
            lines, more = await blocking(recv_lines, client, 10)
            assert lines == [f"tick {n}".encode() for n in range(1, 11)] and more == b""
            await wait_log(pilot, "macro tick: tick 10\\n")
            table = dialog.query_one("#macros", DataTable)
            table.move_cursor(row=1)
            await pilot.press("r")  # slow: until stopped
            error = dialog.query_one("#error", Static)
            await wait_ui(pilot, lambda: "repeat R2 started" in str(error.render()), "said")
            first, _ = await blocking(recv_lines, client, 3)
            assert first == [b"slow 1", b"slow 2", b"slow 3"]
            await pilot.press("escape")
            await wait_ui(pilot, lambda: "repeat R2: " in running_text(app), "the repeat line")
            await run_command(pilot, "stop r", "Stop repeat R2")
            await wait_ui(pilot, lambda: running_text(app) == "", "the repeat stopped")
            await wait_log(pilot, "repeat R2")
            await blocking(quiet_for, client, 0.3)  # what was on its way
            assert await blocking(quiet_for, client, 0.5) == b"", "nothing more"

    run_app(make_app(listen=[LISTENER], macros=[tick, slow]), scenario)


def test_a_sequences_progress_shows_under_the_composer() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)  # accept waits no longer
    port = server.getsockname()[1]
    login = Sequence("login", (SendStep(b"EHLO me\r\n"), ExpectStep("^250", 30.0)))

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await wait_ui(pilot, lambda: "C1" in app.session.connections, "C1")
        peer, _ = await blocking(server.accept)
        with peer:
            app.engine.run_sequence("C1", login)
            assert await blocking(recv_exactly, peer, 9) == b"EHLO me\r\n"
            await wait_ui(
                pilot,
                lambda: "C1 sequence login: step 2/2: waiting for '^250'" in running_text(app),
                "the sequence's step",
            )
            peer.sendall(b"250 ok\r\n")
            await wait_ui(pilot, lambda: running_text(app) == "", "the sequence done")

    with server:
        run_app(make_app(connect=[f"tcp://127.0.0.1:{port}"]), scenario)
