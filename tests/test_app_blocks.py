"""A pasted block of several lines, end to end against real peers: it is sent whole, as one
send per recipient, each line with the connection's line ending; the block editor shows and
edits it; ctrl+u drops it; a large block asks first; errors name the line."""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from peers import connect_client, recv_exactly
from textual import events
from textual.pilot import Pilot
from ui_helpers import (
    blocking,
    focus,
    make_app,
    run_app,
    the_app,
    type_line,
    wait_listener_port,
    wait_open_connection,
    wait_ui,
)

from workbench.payloads import (
    BLOCK_CONFIRM_BYTES,
    LINE_ENDINGS,
    BlockError,
    SendSettings,
    build_block_payload,
)
from workbench.ui.app import SockbenchApp
from workbench.ui.dialogs import ConfirmDialog

REQUEST_LF = "GET / HTTP/1.1\nHost: x\n\n"
REQUEST_CRLF = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"

Scenario = Callable[[Pilot[None], socket.socket], Awaitable[None]]


def with_a_peer(scenario: Scenario, **options: Any) -> None:
    """Run the app with a listener and one Python peer (the target, C1)."""

    async def run(pilot: Pilot[None]) -> None:
        port = await wait_listener_port(pilot)
        peer = connect_client(port)
        try:
            await wait_open_connection(pilot)
            await scenario(pilot, peer)
        finally:
            peer.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"], **options), run)


async def paste(pilot: Pilot[None], text: str) -> None:
    """A bracketed paste, delivered as Textual delivers it: to the focused widget."""
    app = the_app(pilot)
    await focus(pilot, app.composer)
    app.post_message(events.Paste(text))
    await wait_ui(pilot, lambda: app.composer.block_open, "the block editor")
    await wait_ui(pilot, lambda: app.focused is app.block_composer, "focus on the block")


def composer_error(app: SockbenchApp) -> str:
    error = app.query_one("#composer-error")
    return str(error.render()) if error.display else ""


def question_asked(app: SockbenchApp) -> ConfirmDialog | None:
    return app.screen if isinstance(app.screen, ConfirmDialog) else None


def count_sends(app: SockbenchApp) -> list[tuple[str, bytes]]:
    """Record each engine.send (the engine still sends: a spy, not a mock)."""
    sends: list[tuple[str, bytes]] = []
    send = app.engine.send

    def spy(cid: str, data: bytes) -> None:
        sends.append((cid, data))
        send(cid, data)

    app.engine.send = spy  # type: ignore[method-assign]
    return sends


async def nothing_was_sent(pilot: Pilot[None], peer: socket.socket) -> None:
    """What the peer receives first is a marker sent now: nothing was sent before it."""
    app = the_app(pilot)
    if app.composer.block_open:
        await pilot.press("ctrl+u")
    mode, app.core.sending.mode = app.core.sending.mode, "text"
    await type_line(pilot, "marker")
    app.core.sending.mode = mode
    expected = b"marker" + LINE_ENDINGS[app.core.sending.settings_for("C1").line_ending]
    assert await blocking(recv_exactly, peer, len(expected)) == expected


@pytest.mark.parametrize("pasted", [REQUEST_LF, REQUEST_CRLF], ids=["lf-paste", "crlf-paste"])
@pytest.mark.parametrize(
    ("ending", "expected"),
    [
        ("lf", b"GET / HTTP/1.1\nHost: x\n\n"),
        ("crlf", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    ],
)
def test_a_pasted_request_reaches_the_peer_whole_in_one_send(
    pasted: str, ending: str, expected: bytes
) -> None:
    async def scenario(pilot: Pilot[None], peer: socket.socket) -> None:
        app = the_app(pilot)
        sends = count_sends(app)
        await paste(pilot, pasted)
        block = app.block_composer
        assert str(block.border_title) == "3 lines"
        # The final line break of the paste ends the last line: three rows, as sent.
        assert block.lines == ["GET / HTTP/1.1", "Host: x", ""]
        assert not app.composer.display
        await pilot.press("enter")
        assert await blocking(recv_exactly, peer, len(expected)) == expected
        assert sends == [("C1", expected)]
        # Back to the single-line composer, focused and empty.
        await wait_ui(pilot, lambda: app.focused is app.composer, "focus on the composer")
        assert not block.is_open and app.composer.display and app.composer.value == ""

    with_a_peer(scenario, default_settings=SendSettings(line_ending=ending))


def test_editing_the_block_before_enter_changes_what_is_sent() -> None:
    async def scenario(pilot: Pilot[None], peer: socket.socket) -> None:
        app = the_app(pilot)
        await paste(pilot, "GET / HTTP/1.1\nHost: x\nAccept: */*")
        # The cursor is at the end of the paste; up moves within the block.
        await pilot.press("up", "end", "y")
        await pilot.press("ctrl+j", *"X-Added: 1")
        assert str(app.block_composer.border_title) == "4 lines"
        await pilot.press("enter")
        expected = b"GET / HTTP/1.1\nHost: xy\nX-Added: 1\nAccept: */*\n"
        assert await blocking(recv_exactly, peer, len(expected)) == expected

    with_a_peer(scenario)


def test_ctrl_u_drops_the_block_and_escape_finds_it_while_open() -> None:
    async def scenario(pilot: Pilot[None], peer: socket.socket) -> None:
        app = the_app(pilot)
        await paste(pilot, "one\ntwo\n")
        assert str(app.block_composer.border_title) == "2 lines"
        # Escape ("back to the composer") lands on the block editor while a block is open.
        await focus(pilot, app.log_view)
        await pilot.press("escape")
        await wait_ui(pilot, lambda: app.focused is app.block_composer, "escape to the block")
        await pilot.press("ctrl+u")
        await wait_ui(pilot, lambda: app.focused is app.composer, "focus on the composer")
        assert not app.composer.block_open and app.composer.value == ""
        await nothing_was_sent(pilot, peer)
        # A dropped block is not remembered.
        assert app.composer.history == ["marker"]

    with_a_peer(scenario)


def test_a_sent_block_is_recalled_with_up_as_a_block() -> None:
    async def scenario(pilot: Pilot[None], peer: socket.socket) -> None:
        app = the_app(pilot)
        await paste(pilot, "first\nsecond")
        await pilot.press("enter")
        assert await blocking(recv_exactly, peer, 13) == b"first\nsecond\n"
        await type_line(pilot, "a line")
        assert await blocking(recv_exactly, peer, 7) == b"a line\n"
        await focus(pilot, app.composer)
        await pilot.press("up")
        assert app.composer.value == "a line"
        await pilot.press("up")
        await wait_ui(pilot, lambda: app.focused is app.block_composer, "the block again")
        assert app.block_composer.lines == ["first", "second"]
        await pilot.press("enter")
        assert await blocking(recv_exactly, peer, 13) == b"first\nsecond\n"
        # Sent again: the latest entry, as in a shell.
        assert app.composer.history == ["first\nsecond", "a line", "first\nsecond"]

    with_a_peer(scenario)


def test_the_main_screen_keys_work_in_the_block_editor() -> None:
    async def scenario(pilot: Pilot[None], peer: socket.socket) -> None:
        app = the_app(pilot)
        await paste(pilot, "a\nb")
        await pilot.press("f7")  # the line ending (TextArea's own f7 selects all)
        assert app.core.sending.settings_for("C1").line_ending == "crlf"
        assert app.block_composer.selected_text == ""
        await pilot.press("enter")
        assert await blocking(recv_exactly, peer, 6) == b"a\r\nb\r\n"
        await paste(pilot, "c\nd")
        await pilot.press("home", "ctrl+d")  # send EOF (TextArea's: delete right)
        assert await blocking(peer.recv, 10) == b""
        assert app.block_composer.lines == ["c", "d"]

    with_a_peer(scenario)


def test_ctrl_j_in_the_composer_starts_a_block() -> None:
    async def scenario(pilot: Pilot[None], peer: socket.socket) -> None:
        app = the_app(pilot)
        await focus(pilot, app.composer)
        await pilot.press(*"HELO x", "ctrl+j")
        await wait_ui(pilot, lambda: app.focused is app.block_composer, "the block editor")
        await pilot.press(*"QUIT", "enter")
        assert await blocking(recv_exactly, peer, 14) == b"HELO x\r\nQUIT\r\n"

    with_a_peer(scenario, default_settings=SendSettings(line_ending="crlf"))


def test_a_one_line_paste_stays_in_the_single_line_composer() -> None:
    async def scenario(pilot: Pilot[None], peer: socket.socket) -> None:
        app = the_app(pilot)
        await focus(pilot, app.composer)
        app.post_message(events.Paste("just one line\n"))
        await wait_ui(pilot, lambda: app.composer.value == "just one line", "the pasted line")
        assert not app.composer.block_open

    with_a_peer(scenario)


def test_an_escape_error_names_the_line_and_column_and_sends_nothing() -> None:
    async def scenario(pilot: Pilot[None], peer: socket.socket) -> None:
        app = the_app(pilot)
        await paste(pilot, "fine\\r\nbad \\q here\nalso fine")
        await pilot.press("enter")
        await wait_ui(pilot, lambda: composer_error(app), "an error")
        error = composer_error(app)  # shown through the sanitizer, which doubles backslashes
        assert error.startswith("line 2: unknown escape ") and "q at column 5" in error
        assert app.composer.block_open  # kept for fixing
        assert app.block_composer.lines[1] == "bad \\q here"
        await nothing_was_sent(pilot, peer)

    with_a_peer(scenario)


def test_escapes_work_on_each_line() -> None:
    async def scenario(pilot: Pilot[None], peer: socket.socket) -> None:
        await paste(pilot, "a\\x00b\n\\e[0m\\t\n")
        await pilot.press("enter")
        expected = b"a\x00b\n\x1b[0m\t\n"
        assert await blocking(recv_exactly, peer, len(expected)) == expected

    with_a_peer(scenario)


def test_a_hex_block_is_one_hex_input() -> None:
    async def scenario(pilot: Pilot[None], peer: socket.socket) -> None:
        app = the_app(pilot)
        await pilot.press("ctrl+t")
        assert app.core.sending.mode == "hex"
        await paste(pilot, "de ad\r\n  be:ef\r\n\r\n0x000a\r\n")
        await pilot.press("enter")
        assert await blocking(recv_exactly, peer, 6) == b"\xde\xad\xbe\xef\x00\x0a"
        await paste(pilot, "de ad\nbe eg")
        await pilot.press("enter")
        await wait_ui(pilot, lambda: composer_error(app), "an error")
        assert composer_error(app) == "line 2: 'g' is not a hex digit at column 5"
        await nothing_was_sent(pilot, peer)

    with_a_peer(scenario)


def test_file_mode_refuses_a_block_in_plain_words() -> None:
    async def scenario(pilot: Pilot[None], peer: socket.socket) -> None:
        app = the_app(pilot)
        await pilot.press("ctrl+t", "ctrl+t")
        assert app.core.sending.mode == "file"
        await paste(pilot, "/etc/hostname\n/etc/passwd\n")
        await pilot.press("enter")
        await wait_ui(pilot, lambda: composer_error(app), "an error")
        error = composer_error(app)
        assert "file mode sends one file" in error and "2 lines" in error
        await nothing_was_sent(pilot, peer)

    with_a_peer(scenario)


def test_a_block_over_64_kib_asks_first() -> None:
    lines = [f"line {n:05d} " + "x" * 90 for n in range(700)]
    expected = b"".join(line.encode() + b"\r\n" for line in lines)
    assert len(expected) > BLOCK_CONFIRM_BYTES

    async def scenario(pilot: Pilot[None], peer: socket.socket) -> None:
        app = the_app(pilot)
        await paste(pilot, "\n".join(lines))
        assert str(app.block_composer.border_title) == "700 lines"
        await pilot.press("enter")
        dialog = await wait_ui(pilot, lambda: question_asked(app), "the question")
        assert dialog is not None
        question = str(dialog.query_one("#question").render())
        assert "700 lines" in question and f"{len(expected):,} bytes" in question
        assert "to C1 (127.0.0.1:" in question
        await pilot.press("n")
        await wait_ui(pilot, lambda: app.focused is app.block_composer, "back to the block")
        assert app.block_composer.lines == lines  # kept, not sent
        await pilot.press("enter")
        await wait_ui(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        await pilot.press("y")
        assert await blocking(recv_exactly, peer, len(expected)) == expected
        await wait_ui(pilot, lambda: not app.composer.block_open, "the block sent")
        await nothing_was_sent(pilot, peer)  # and nothing more

    with_a_peer(scenario, default_settings=SendSettings(line_ending="crlf"))


def test_a_block_that_is_declined_sends_nothing() -> None:
    lines = ["y" * 1000] * 70

    async def scenario(pilot: Pilot[None], peer: socket.socket) -> None:
        app = the_app(pilot)
        await paste(pilot, "\n".join(lines))
        await pilot.press("enter")
        await wait_ui(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
        await pilot.press("escape")  # no
        await wait_ui(pilot, lambda: app.focused is app.block_composer, "back to the block")
        await nothing_was_sent(pilot, peer)

    with_a_peer(scenario)


def test_a_block_to_marked_connections_is_one_send_each_with_its_own_line_ending() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        first = connect_client(port)
        second = connect_client(port)
        try:
            await wait_ui(pilot, lambda: len(app.session.connections) == 2, "two peers")
            await wait_open_connection(pilot, lambda c: c.cid == "C2")
            app.core.sending.own_settings("C2").line_ending = "crlf"
            app.main_screen.toggle_mark("C1")
            app.main_screen.toggle_mark("C2")
            sends = count_sends(app)
            await paste(pilot, "a\nb")
            await pilot.press("enter")
            assert await blocking(recv_exactly, first, 4) == b"a\nb\n"
            assert await blocking(recv_exactly, second, 6) == b"a\r\nb\r\n"
            assert sends == [("C1", b"a\nb\n"), ("C2", b"a\r\nb\r\n")]
        finally:
            first.close()
            second.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario)


def test_the_block_editor_fits_80x24_with_the_footer_shown() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await paste(pilot, "\n".join(f"line {n}" for n in range(40)))
        await pilot.pause()
        block, footer = app.block_composer, app.query_one("Footer")
        assert footer.region.y == 23 and footer.region.height == 1
        assert block.region.bottom <= footer.region.y
        assert 5 <= block.region.height <= 10  # it grows, then scrolls
        assert app.log_view.region.height >= 2  # the Log shrinks (to its borders at worst)
        assert block.region.width == 80  # the whole width, target and mode above it

    run_app(make_app(), scenario, size=(80, 24))


def test_block_payloads_without_the_app() -> None:
    utf16 = SendSettings(line_ending="crlf", encoding="utf-16le")
    assert build_block_payload("text", ["a", ""], utf16) == "a\r\n\r\n".encode("utf-16le")
    assert build_block_payload("text", ["é"], SendSettings(encoding="latin-1")) == b"\xe9\n"
    assert build_block_payload("hex", ["0xde", "ad", ""], SendSettings()) == b"\xde\xad"
    with pytest.raises(BlockError) as error:
        build_block_payload("text", ["ok", "ok", "bad\\"], SendSettings())
    assert (error.value.line, error.value.position) == (3, 3)
    assert str(error.value).startswith("line 3: lone backslash at the end (column 4)")
    with pytest.raises(BlockError, match="file mode sends one file"):
        build_block_payload("file", ["/a", "/b"], SendSettings())
