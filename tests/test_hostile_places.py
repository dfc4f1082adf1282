"""Every place a peer's text can appear, driven with Pilot against real peers: the Log in each
view, the record details, the saved rows, connection labels (a Unix peer names itself), the
command palette, notifications and error messages that quote a peer's address.

What is checked is the rendered screen (the strips the compositor hands to the terminal): no
control, bidi or invisible character, the visible escapes instead, and markup shown as text
and never acted on.
"""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import replace
from pathlib import Path

from hostile import HOSTILE_LINES, HOSTILE_NAME, HOSTILE_NAME_SHOWN, unsafe_characters
from hypothesis import given
from hypothesis import strategies as st
from peers import DEFAULT_TIMEOUT, connect_client, recv_exactly
from textual.command import CommandPalette
from textual.content import Content
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input
from textual.widgets._toast import Toast
from ui_helpers import (
    focus,
    make_app,
    run_app,
    the_app,
    wait_listener_port,
    wait_log,
    wait_open_connection,
    wait_ui,
)

from workbench.codec import sanitize_text
from workbench.ui.app import SockbenchApp
from workbench.ui.connection_picker import ConnectionPicker
from workbench.ui.detail import RecordDetail
from workbench.ui.dialogs import ConnectDialog
from workbench.ui.log_dialogs import PathDialog
from workbench.ui.safe_markup import literal_markup

TCP_LISTENER = "tcp://127.0.0.1:0"
# Tall and wide enough for every hostile row of the Log at once.
BIG_TERMINAL = (170, 70)
CLICK_MARKUP = "[@click=app.quit]"


def screen_lines(app: SockbenchApp) -> list[str]:
    """The text of the screen as it would go to the terminal, row by row."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def safe_screen(app: SockbenchApp) -> str:
    """The screen's text, after checking it holds nothing a terminal could act on."""
    text = "\n".join(screen_lines(app))
    leaked = unsafe_characters(text, allowed="\n")
    assert not leaked, f"raw {leaked} on the screen:\n{text}"
    return text


async def wait_screen_text(pilot: Pilot[None], needle: str, what: str) -> str:
    await wait_screen_text_unchecked(pilot, needle, what)
    return safe_screen(the_app(pilot))


async def wait_screen_text_unchecked(pilot: Pilot[None], needle: str, what: str) -> None:
    app = the_app(pilot)
    await wait_ui(pilot, lambda: needle in "\n".join(screen_lines(app)), what)


async def wait_for_screen(pilot: Pilot[None], kind: type[Screen[object]]) -> Screen[object]:
    app = the_app(pilot)
    await wait_ui(pilot, lambda: isinstance(app.screen, kind), f"the {kind.__name__} screen")
    await pilot.pause()
    return app.screen


async def assert_still_answering(pilot: Pilot[None], peer: socket.socket) -> None:
    """The app runs, and a line typed in the composer shows there and reaches `peer`."""
    app = the_app(pilot)
    assert app.is_running and not app._exit_requested, "the app is quitting"
    await focus(pilot, app.composer)
    await pilot.press(*"still here")
    await wait_screen_text(pilot, "still here", "the typed text in the composer")
    await pilot.press("enter")
    received = await asyncio.to_thread(recv_exactly, peer, len(b"still here\n"), DEFAULT_TIMEOUT)
    assert received == b"still here\n"


def hostile_bytes() -> bytes:
    return b"".join(payload + b"\n" for payload, _ in HOSTILE_LINES)


# --- the Log, its details and its saved rows ---


def test_log_shows_hostile_bytes_as_visible_escapes_in_every_view(tmp_path: Path) -> None:
    saved = tmp_path / "rows.txt"

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        log = app.log_view
        port = await wait_listener_port(pilot)
        peer = connect_client(port)
        peer.sendall(hostile_bytes())
        await wait_log(pilot, HOSTILE_LINES[-1][1])
        await focus(pilot, log)

        # m cycles text -> hex -> both, l turns line framing on and off: all six views.
        seen = set()
        for key in ("", "m", "m", "l", "m", "m"):
            if key:
                await pilot.press(key)
            await pilot.pause()
            display, framing = log.model.settings.display, log.model.settings.framing
            seen.add((display, framing))
            screen = safe_screen(app)
            rows = "\n".join(log.row_texts())
            assert not unsafe_characters(rows, allowed="\n"), (display, framing)
            if display == "text":
                for _, shown in HOSTILE_LINES:
                    assert shown in screen, (display, framing, shown)
            else:  # the bytes of the first line, as hex
                assert "6f 73 63 30 20 1b 5d 30" in rows, (display, framing)
        assert seen == {(d, f) for d in ("text", "hex", "both") for f in ("raw", "lines")}

        # Clicking the peer's click markup where the Log shows it does nothing.
        log.apply(replace(log.model.settings, display="text"))
        await pilot.pause()
        await click_on(pilot, "markup2 " + CLICK_MARKUP + "x")

        # The saved rows hold what the screen showed: visible escapes, no raw controls.
        await pilot.press("s")
        dialog = await wait_for_screen(pilot, PathDialog)
        dialog.query_one("#path", Input).value = str(saved)
        await pilot.press("enter")
        await wait_ui(pilot, saved.exists, "the saved file")
        await wait_ui(pilot, lambda: saved.read_text(encoding="utf-8").endswith("\n"), "all rows")
        text = saved.read_text(encoding="utf-8")
        assert not unsafe_characters(text, allowed="\n")
        for _, shown in HOSTILE_LINES:
            assert shown in text

        await assert_still_answering(pilot, peer)
        peer.close()

    run_app(make_app(listen=[TCP_LISTENER]), scenario, size=BIG_TERMINAL, notifications=True)


async def click_on(pilot: Pilot[None], needle: str) -> None:
    """Click the last character of `needle` where the screen shows it; the app must not quit."""
    app = the_app(pilot)
    lines = screen_lines(app)
    where = next(((row, line.index(needle)) for row, line in enumerate(lines) if needle in line))
    row, column = where
    await pilot.click(offset=(column + len(needle) - 1, row))
    await pilot.pause(0.2)
    assert app.is_running and not app._exit_requested, f"clicking {needle!r} quit the app"


def test_record_details_show_hostile_bytes_as_visible_escapes() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        log = app.log_view
        port = await wait_listener_port(pilot)
        peer = connect_client(port)
        peer.sendall(hostile_bytes())
        await wait_log(pilot, HOSTILE_LINES[-1][1])
        await focus(pilot, log)
        first = next(i for i, text in enumerate(log.row_texts()) if "osc0" in text)
        log.move_cursor(first)
        await pilot.press("enter")
        await wait_for_screen(pilot, RecordDetail)
        screen = await wait_screen_text(pilot, "hex dump", "the details")
        for _, shown in HOSTILE_LINES:
            assert shown in screen, shown
        await click_on(pilot, CLICK_MARKUP + "x")
        await pilot.press("escape")
        await wait_ui(pilot, lambda: not isinstance(app.screen, RecordDetail), "details closed")
        await assert_still_answering(pilot, peer)
        peer.close()

    run_app(make_app(listen=[TCP_LISTENER]), scenario, size=BIG_TERMINAL, notifications=True)


# --- a Unix peer's name: labels, the palette, details, notifications ---


def unix_name(tag: str) -> str:
    return f"sockbench-{tag}-{os.getpid()}"


def test_a_unix_peers_name_is_shown_as_visible_escapes_wherever_it_appears() -> None:
    name = unix_name("labels")

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await wait_ui(pilot, lambda: app.session.listeners.get("L1"), "the listener")
        peer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        peer.settimeout(DEFAULT_TIMEOUT)
        peer.bind(b"\0" + HOSTILE_NAME)
        peer.connect(b"\0" + name.encode())
        conn = await wait_open_connection(pilot)
        assert app.target == conn.cid
        shown = f"@{HOSTILE_NAME_SHOWN}"
        await wait_log(pilot, f"accepted unix {shown}")
        # The composer's target takes at most a third of the row: the name is cut in its
        # middle there, its escapes whole.
        label = f"to {conn.cid} unix {shown[:17]}…"
        await wait_screen_text(pilot, label, "the target label")
        # The Connections table and the Log show it whole; the Listeners tree cuts it short.
        # The table widens its columns when it is next idle, after the label shows.
        await wait_ui(
            pilot,
            lambda: "\n".join(screen_lines(app)).count(shown) >= 2,
            "the name in the table and the Log",
        )
        screen = safe_screen(app)
        assert f"{conn.cid} {shown[:40]}" in screen
        await click_on(pilot, shown.split("[/]")[0])  # on the q of [@click=app.quit]q

        # The palette's Target... lists the connections by their addresses.
        await pilot.press("ctrl+p")
        await wait_for_screen(pilot, CommandPalette)
        await pilot.press(*"Target")
        await wait_screen_text(pilot, "Target...", "the palette's command")
        await pilot.press("enter")
        await wait_for_screen(pilot, ConnectionPicker)
        screen = await wait_screen_text(pilot, f"{conn.cid} unix", "the picker's row")
        row = next(line for line in screen.splitlines() if f"{conn.cid} unix" in line)
        assert shown[:40] in row
        await pilot.press("escape")
        await wait_ui(pilot, lambda: not isinstance(app.screen, ConnectionPicker), "picker gone")

        # The details of the "accepted" record name the peer too.
        log = app.log_view
        await focus(pilot, log)
        row = next(i for i, text in enumerate(log.row_texts()) if "accepted unix" in text)
        log.move_cursor(row)
        await pilot.press("enter")
        await wait_for_screen(pilot, RecordDetail)
        screen = safe_screen(app)
        assert f"remote {shown}" in screen
        assert f"accepted unix {shown}" in screen
        await pilot.press("escape")
        await wait_ui(pilot, lambda: not isinstance(app.screen, RecordDetail), "details closed")

        await assert_still_answering(pilot, peer)
        peer.close()

    run_app(make_app(listen=[f"unix://@{name}"]), scenario, size=BIG_TERMINAL, notifications=True)


def toast_texts(app: SockbenchApp) -> list[str]:
    return [toast.render().plain for toast in app.screen.query(Toast)]


def test_an_error_quoting_a_unix_datagram_peers_name_is_shown_as_visible_escapes() -> None:
    name = unix_name("dgram")

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await wait_ui(pilot, lambda: app.session.listeners.get("L1"), "the listener")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as peer:
            peer.bind(b"\0" + HOSTILE_NAME)
            peer.sendto(b"hello\n", b"\0" + name.encode())
            conn = await wait_open_connection(pilot)
        # The peer is gone: a reply to it fails, and the error names it.
        await focus(pilot, app.composer)
        await pilot.press(*"reply", "enter")
        # (The name's last byte, invalid UTF-8, shows as an escape too; which one depends on
        # how the system call's address was decoded.)
        expected = f"nothing is bound at @{HOSTILE_NAME_SHOWN}"
        await wait_log(pilot, expected)
        await wait_ui(
            pilot, lambda: any(expected in text for text in toast_texts(app)), "the notification"
        )
        await pilot.pause()
        safe_screen(app)
        assert all(not unsafe_characters(text, allowed="\n") for text in toast_texts(app))
        assert app.is_running and conn.cid in app.session.connections

    run_app(
        make_app(listen=[f"unix-dgram://@{name}"]), scenario, size=BIG_TERMINAL, notifications=True
    )


def test_a_connect_to_a_hostile_unix_path_fails_in_plain_visible_words() -> None:
    # A path with escapes, bidi and click markup, which nothing listens on.
    directory = Path("/tmp") / f"sb-{os.getpid()}"
    path = f"{directory}/\x1b]2;pwned\x07\u202e[@click=app.quit]x[/]"
    shown = r"\x1b]2;pwned\x07\u202e[@click=app.quit]x[/]"

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await wait_log(pilot, shown)
        await wait_ui(
            pilot, lambda: any(shown in text for text in toast_texts(app)), "the notification"
        )
        await pilot.pause()
        screen = safe_screen(app)
        assert shown in screen
        assert app.is_running

    run_app(make_app(connect=[f"unix://{path}"]), scenario, size=BIG_TERMINAL, notifications=True)


def test_a_host_name_with_escapes_and_markup_is_refused_in_visible_words() -> None:
    # Pasted from somewhere a peer wrote: the dialog's error quotes it.
    host = "evil\x1b]2;pwned\x07\u202e[@click=app.quit]x[/]"

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await pilot.press("f3")
        dialog = await wait_for_screen(pilot, ConnectDialog)
        dialog.query_one("#address", Input).value = f"{host}:80"
        await pilot.press("enter")
        shown = r"evil\x1b]2;pwned\x07\u202e[@click=app.quit]x[/]"
        await wait_screen_text_unchecked(pilot, "host name or IP address", "the error")
        # The host field itself shows what was typed or pasted (Textual's Input draws its
        # value as is: the user's own text); empty it, then nothing raw may be left.
        dialog.query_one("#address", Input).value = ""
        await pilot.pause()
        screen = safe_screen(app)
        assert f"'{shown}' is not a" in screen  # the dialog wraps the rest
        await click_on(pilot, CLICK_MARKUP + "x")
        await pilot.press("escape")
        await wait_ui(pilot, lambda: not isinstance(app.screen, ConnectDialog), "dialog closed")

    run_app(make_app(), scenario, size=BIG_TERMINAL)


def test_searching_for_markup_shows_it_literally() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        log = app.log_view
        port = await wait_listener_port(pilot)
        peer = connect_client(port)
        peer.sendall(b"markup [/] [bold red]boom\n")
        await wait_log(pilot, "[bold red]boom")
        await focus(pilot, log)
        await pilot.press("slash", *"[bold red]", "enter")
        await wait_ui(pilot, lambda: log.cursor is not None, "the match")
        await wait_screen_text(pilot, "search: [bold red]", "the search in the subtitle")
        await focus(pilot, log)
        await pilot.press("slash", *"[/]", "enter")
        await wait_screen_text(pilot, "search: [/]", "the search in the subtitle")
        await assert_still_answering(pilot, peer)
        peer.close()

    run_app(make_app(listen=[TCP_LISTENER]), scenario, size=BIG_TERMINAL, notifications=True)


# Markup's own characters over-represented: random text rarely forms a tag.
MARKUP_TEXT = st.text(alphabet=st.sampled_from(list("[]\\/@=$#(){}ab x"))) | st.text()


@given(MARKUP_TEXT)
def test_literal_markup_shows_any_text_exactly_with_no_style_link_or_action(text: str) -> None:
    content = Content.from_markup(literal_markup(text))
    assert content.plain == sanitize_text(text)
    assert not content.spans
