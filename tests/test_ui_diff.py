"""Diffs in the real app against real peers (plain Python sockets on loopback): two marked
connections, two picked ones (read back from the transcript), two recordings made by
`sockbench run`; hostile bytes stay escaped, and a Log that dropped a connection's first
records says so."""

from __future__ import annotations

import socket
from contextlib import ExitStack
from pathlib import Path

from peers import EchoServer, connect_client, recv_exactly, udp_socket
from test_app_palette import picker_ids, run_command
from test_diff import ShoutingEcho, record
from textual.pilot import Pilot
from textual.widgets import Input, Static
from ui_helpers import (
    blocking,
    focus,
    make_app,
    run_app,
    the_app,
    type_line,
    wait_listener_port,
    wait_log,
    wait_notified,
    wait_screen,
    wait_ui,
)

from workbench.ui.app import SockbenchApp
from workbench.ui.connection_picker import ConnectionPicker
from workbench.ui.diff_actions import DiffRecordingsDialog
from workbench.ui.diff_screen import DiffScreen
from workbench.ui.help_screen import HelpScreen
from workbench.ui.log_dialogs import PathDialog

LISTENER = "tcp://127.0.0.1:0"
HOSTILE = b"\x1b]2;pwned\x07 \x1b[31mred [b]markup[/b] \xc2\x9b \xe2\x80\xae\n"


async def two_peers(pilot: Pilot[None], stack: ExitStack) -> list[socket.socket]:
    app = the_app(pilot)
    port = await wait_listener_port(pilot)
    clients = []
    for count in (1, 2):  # one after the other: C1 is the first client
        clients.append(stack.enter_context(connect_client(port)))
        await wait_ui(pilot, lambda n=count: len(app.session.connections) == n, f"{count} peers")
    return clients


async def peer_sends(pilot: Pilot[None], client: socket.socket, data: bytes, cid: str) -> None:
    """Send `data` from a peer and wait until the app has all of it (its count, its
    records: both come from the same events)."""
    conn = the_app(pilot).session.connections[cid]
    wanted = conn.bytes_in + len(data)
    client.sendall(data)
    await wait_ui(pilot, lambda: conn.bytes_in == wanted, f"{len(data)} bytes more on {cid}")


def request(name: bytes) -> bytes:
    """A request of 42 lines: a diff longer than the screen."""
    headers = b"".join(b"X-%s-%d: 1\r\n" % (name, n) for n in range(40))
    return b"GET /%s HTTP/1.0\r\n%s\r\n" % (name, headers)


async def open_diff(pilot: Pilot[None]) -> DiffScreen:
    await run_command(pilot, "diff two conn", "Diff two connections")
    return await shown_diff(pilot)


async def shown_diff(pilot: Pilot[None]) -> DiffScreen:
    app = the_app(pilot)
    screen: DiffScreen = await wait_ui(
        pilot,
        lambda: isinstance(app.screen, DiffScreen) and app.screen.report is not None and app.screen,
        "the diff, computed",
    )
    await pilot.pause()
    return screen


def kinds(screen: DiffScreen) -> list[tuple[str, str]]:
    return screen.view.lines


def drawn(screen: DiffScreen) -> list[str]:
    """What the view draws, every line (scrolled through), as the terminal gets it."""
    view = screen.view
    height = view.scrollable_content_region.height
    lines = []
    for top in range(0, max(len(view.lines), 1), height):
        view.scroll_to(0, top, animate=False, immediate=True)
        for y in range(min(height, len(view.lines) - top)):
            lines.append("".join(s.text for s in view.render_line(y)).rstrip())
    view.scroll_to(0, 0, animate=False, immediate=True)
    return lines


def test_two_marked_connections_diff_per_direction() -> None:
    """C1 and C2 sent partly different lines and were sent the same: what they received
    differs by one line (removed, then added); what they sent is identical."""

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        with ExitStack() as stack:
            first, second = await two_peers(pilot, stack)
            await peer_sends(pilot, first, b"hello\nworld\nbye\n", "C1")
            await peer_sends(pilot, second, b"hello\nWORLD\nbye\n", "C2")
            table = app.connections_table
            await focus(pilot, table)
            table.move_cursor(row=0)
            await pilot.press("space", "down", "space")
            await wait_ui(pilot, lambda: app.core.marked == {"C1", "C2"}, "both marked")
            await type_line(pilot, "welcome")  # to both marked connections
            assert await blocking(recv_exactly, first, 8) == b"welcome\n"
            assert await blocking(recv_exactly, second, 8) == b"welcome\n"
            await wait_ui(pilot, lambda: app.session.connections["C2"].bytes_out == 8, "sent")
            screen = await open_diff(pilot)
            lines = kinds(screen)
            assert lines[0] == ("summary", "C1 vs C2: they differ")
            assert ("note", "from the Log") in lines
            received = lines.index(("heading", "C1 vs C2, received (in): 16 bytes"))
            sent = lines.index(("heading", "C1 vs C2, sent (out): 8 bytes"))
            assert lines[received + 1 : sent - 1] == [
                ("file", "--- C1 in"),
                ("file", "+++ C2 in"),
                ("hunk", "@@ -1,3 +1,3 @@"),
                ("context", " hello\\n"),
                ("removed", "-world\\n"),
                ("added", "+WORLD\\n"),
                ("context", " bye\\n"),
            ]
            assert lines[sent + 1] == ("same", "identical")
            assert not any(kind == "warning" for kind, _ in lines), lines
            assert "-world\\n" in drawn(screen)
            await pilot.press("f1")  # the diff screen's keys, in words
            await wait_ui(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
            said = [str(static.render()) for static in app.screen.query(Static)]
            assert "Next change: a hunk, or a direction that is identical" in said
            assert "Save the diff to a text file, every line whole, escapes as shown" in said
            await pilot.press("escape")
            await wait_ui(pilot, lambda: app.screen is screen, "back on the diff")
            await pilot.press("escape")
            await wait_ui(pilot, lambda: app.screen is app.main_screen, "back on the main screen")

    run_app(make_app(listen=[LISTENER]), scenario)


def test_two_picked_connections_are_read_back_from_the_transcript(tmp_path: Path) -> None:
    """Nothing marked: the picker asks for one, then for another (not the first again);
    with --transcript the bytes come from it. `n` goes to the change, `s` saves the diff."""
    saved = tmp_path / "diff.txt"

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        with ExitStack() as stack:
            first, second = await two_peers(pilot, stack)
            await peer_sends(pilot, first, request(b"a"), "C1")
            await peer_sends(pilot, second, request(b"b"), "C2")
            await run_command(pilot, "diff two conn", "Diff two connections")
            picker = await wait_screen(pilot, ConnectionPicker, "OptionList", "the picker")
            assert picker_ids(picker) == ["C1", "C2"]
            await pilot.press("C", "2", "enter")
            picker = await wait_ui(
                pilot,
                lambda: isinstance(app.screen, ConnectionPicker) and app.screen is not picker
                and app.screen.query("OptionList") and app.screen,
                "the second picker",
            )  # fmt: skip
            assert picker.title_text == "Diff C2 with which connection?"
            assert picker_ids(picker) == ["C1"]
            await pilot.press("enter")
            screen = await shown_diff(pilot)
            lines = kinds(screen)
            assert lines[0] == ("summary", "C2 vs C1: they differ")
            assert ("note", f"from the transcript {tmp_path / 't.jsonl'}") in lines
            assert ("removed", "-GET /b HTTP/1.0\\r\\n") in lines
            assert ("added", "+GET /a HTTP/1.0\\r\\n") in lines
            same = lines.index(("same", "identical: no bytes either side"))
            hunk = lines.index(("hunk", "@@ -1,42 +1,42 @@"))
            await pilot.press("n")
            await wait_ui(pilot, lambda: screen.view.scroll_offset.y == hunk - 1, "the change")
            await pilot.press("n")
            last = min(same - 1, screen.view.max_scroll_y)  # at the end: as far as it goes
            await wait_ui(pilot, lambda: screen.view.scroll_offset.y == last, "the next")
            await pilot.press("N")
            await wait_ui(pilot, lambda: screen.view.scroll_offset.y == hunk - 1, "back")
            await pilot.press("s")
            dialog = await wait_screen(pilot, PathDialog, "#path", "the save dialog")
            dialog.query_one("#path", Input).value = str(saved)
            await pilot.press("enter")
            await wait_notified(pilot, "saved the diff")
            assert saved.read_text().splitlines() == [text for _, text in lines]

    run_app(make_app(listen=[LISTENER], transcript=str(tmp_path / "t.jsonl")), scenario)


def test_hostile_bytes_are_shown_escaped_never_as_markup_or_controls() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        with ExitStack() as stack:
            first, second = await two_peers(pilot, stack)
            await peer_sends(pilot, first, b"plain\n", "C1")
            await peer_sends(pilot, second, HOSTILE, "C2")
            app.core.toggle_mark("C1")
            app.core.toggle_mark("C2")
            screen = await open_diff(pilot)
            wanted = (
                "added",
                "+\\x1b]2;pwned\\x07 \\x1b[31mred [b]markup[/b] \\u009b \\u202e\\n",
            )
            assert wanted in kinds(screen), kinds(screen)
            shown = "\n".join(drawn(screen))
            assert "[b]markup[/b]" in shown
            for unsafe in ("\x1b", "\x07", "\x9b", "\u202e", "\r"):
                assert unsafe not in shown

    run_app(make_app(listen=[LISTENER]), scenario)


def test_a_log_that_dropped_a_connections_first_records_says_so() -> None:
    """The Log holds 20 records: C1's 30 lines do not all fit, and the diff says that what
    it dropped is not compared."""

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        with ExitStack() as stack:
            first, second = await two_peers(pilot, stack)
            for n in range(30):
                await peer_sends(pilot, first, f"line {n}\n".encode(), "C1")
            await peer_sends(pilot, second, b"other\n", "C2")
            app.core.toggle_mark("C1")
            app.core.toggle_mark("C2")
            screen = await open_diff(pilot)
            warnings = [text for kind, text in kinds(screen) if kind == "warning"]
            assert len(warnings) == 1, warnings
            assert warnings[0].startswith("the Log no longer holds every byte of C1 (it holds ")
            assert "--transcript" in warnings[0]

    run_app(make_app(listen=[LISTENER], log_max_rows=20), scenario)


def test_a_long_diff_is_drawn_a_screen_at_a_time(tmp_path: Path) -> None:
    """6,000 lines each, every other one different (from the transcript): more than
    6,000 diff lines, of which the view draws those on screen; end reaches the
    last, and the app goes on answering."""
    count = 6_000

    def stream(tag: bytes) -> bytes:
        return b"".join(b"%s %d\n" % (tag if n % 2 else b"same", n) for n in range(count))

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        with ExitStack() as stack:
            first, second = await two_peers(pilot, stack)
            first.sendall(stream(b"first"))
            second.sendall(stream(b"second"))
            size = len(stream(b"first"))
            await wait_ui(
                pilot,
                lambda: (
                    app.session.connections["C1"].bytes_in == size
                    and app.session.connections["C2"].bytes_in == size + count // 2
                ),
                "every byte received",
            )
            app.core.toggle_mark("C1")
            app.core.toggle_mark("C2")
            screen = await open_diff(pilot)
            view = screen.view
            assert len(view.lines) > count
            assert ("removed", f"-first {count - 1}\\n") in view.lines
            await pilot.press("end")
            await wait_ui(pilot, lambda: view.scroll_offset.y == view.max_scroll_y > 0, "the end")
            assert "identical: no bytes either side" in drawn_now(screen)
            await pilot.press("escape")
            await wait_ui(pilot, lambda: app.screen is app.main_screen, "back on the main screen")

    run_app(make_app(listen=[LISTENER], transcript=str(tmp_path / "t.jsonl")), scenario)


def drawn_now(screen: DiffScreen) -> list[str]:
    view = screen.view
    height = view.scrollable_content_region.height
    return ["".join(s.text for s in view.render_line(y)).rstrip() for y in range(height)]


def test_two_udp_peers_are_compared_datagram_by_datagram() -> None:
    """Each datagram is one line of the diff, even one without a line ending; the same
    bytes cut into other datagrams differ."""

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        with udp_socket() as alice, udp_socket() as bob:
            for data in (b"ping 1", b"ping 2"):
                alice.sendto(data, ("127.0.0.1", port))
                await wait_log(pilot, data.decode())
            bob.sendto(b"ping 1ping 2", ("127.0.0.1", port))
            await wait_log(pilot, "ping 1ping 2")
            app.core.toggle_mark("C1")
            app.core.toggle_mark("C2")
            screen = await open_diff(pilot)
            lines = kinds(screen)
            assert ("note", "datagrams compared one by one, each one line") in lines
            assert ("heading", "C1 vs C2, received (in): 12 bytes") in lines
            assert [line for line in lines if line[0] in ("removed", "added")] == [
                ("removed", "-ping 1"),
                ("removed", "-ping 2"),
                ("added", "+ping 1ping 2"),
            ]

    run_app(make_app(listen=["udp://127.0.0.1:0"]), scenario)


def recordings(where: Path) -> Path:
    """Two sessions of one transcript: an echo server's, then a changed one's."""
    transcript = where / "rec.jsonl"
    with EchoServer() as echo, ShoutingEcho() as shout:
        record(transcript, where / "1.toml", echo.url, ["hello", "world"])
        record(transcript, where / "2.toml", shout.url, ["hello", "world"])
    return transcript


def test_two_recordings_from_the_form(tmp_path: Path) -> None:
    """A file that is not there is said in the form; two sessions of a recording show
    what came in differ and what went out is identical."""
    transcript = recordings(tmp_path)

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await wait_listener_port(pilot)
        await run_command(pilot, "diff two rec", "Diff two recordings")
        form = await wait_screen(pilot, DiffRecordingsDialog, "#diff-framing", "the form")
        form.query_one("#diff-a", Input).value = f"{tmp_path / 'nope.jsonl'}@1"
        form.query_one("#diff-b", Input).value = f"{transcript}@2"
        await pilot.press("enter")
        error = form.query_one("#error", Static)
        await wait_ui(pilot, lambda: error.display, "the form's error")
        assert f"A: no such file: {tmp_path / 'nope.jsonl'}" in str(error.render())
        form.query_one("#diff-a", Input).value = f"{transcript}@1"
        form.query_one("#diff-framing", Input).value = "len:9"
        await pilot.press("enter")
        await wait_ui(pilot, lambda: "Framing:" in str(error.render()), "the framing's error")
        form.query_one("#diff-framing", Input).value = "delim:\\n"
        await pilot.press("enter")
        screen = await shown_diff(pilot)
        lines = kinds(screen)
        a, b = f"{transcript}@1#C1", f"{transcript}@2#C1"
        assert lines[0] == ("summary", f"{transcript}@1 vs {transcript}@2: they differ")
        assert lines[1][1].endswith("compared message by message: framing delim:\\n")
        assert ("heading", f"{a} vs {b}, received (in): 12 bytes") in lines
        assert ("removed", "-hello\\n") in lines
        assert ("added", "+HELLO\\n") in lines
        assert lines[-2:] == [
            ("heading", f"{a} vs {b}, sent (out): 12 bytes"),
            ("same", "identical"),
        ]
        await pilot.press("escape")
        await wait_ui(pilot, lambda: app.screen is app.main_screen, "back on the main screen")

    run_app(make_app(listen=[LISTENER]), scenario)


def test_a_recording_that_cannot_be_loaded_is_said_on_the_screen(tmp_path: Path) -> None:
    transcript = recordings(tmp_path)

    async def scenario(pilot: Pilot[None]) -> None:
        app: SockbenchApp = the_app(pilot)
        await wait_listener_port(pilot)
        app.main_screen.diffs.diff_recordings()
        form = await wait_screen(pilot, DiffRecordingsDialog, "#diff-framing", "the form")
        form.query_one("#diff-a", Input).value = f"{transcript}@1"
        form.query_one("#diff-b", Input).value = f"{transcript}@7"
        await pilot.press("enter")
        screen = await shown_diff(pilot)
        (line,) = kinds(screen)
        assert line[0] == "error"
        why = f"{transcript}: no session 7 (it has 2)"
        assert line[1] == f"cannot diff {transcript}@1 vs {transcript}@7: {why}"

    run_app(make_app(listen=[LISTENER]), scenario)
