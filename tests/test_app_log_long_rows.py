"""Long rows and floods in the real Log, against real peers on loopback: a row cut at the edge
ends with a mark, wraps (w) or scrolls sideways; rows that continue a record show their
connection; the Log's letter keys act only while it has the focus."""

from __future__ import annotations

from peers import connect_client
from textual import events
from textual.pilot import Pilot
from textual.strip import Strip
from ui_helpers import (
    focus,
    log_text,
    make_app,
    run_app,
    the_app,
    wait_listener_port,
    wait_log,
    wait_open_connection,
    wait_ui,
)

from workbench.log.plain_rows import CONTINUATION_MARK
from workbench.ui.app import SockbenchApp
from workbench.ui.log_rows import CUT_MARK
from workbench.ui.log_view import LogView

TCP_LISTENER = "tcp://127.0.0.1:0"
# 500 characters that say where they are: "000-" at 0, "004-" at 4, ..., then the end.
LONG_LINE = "".join(f"{n:03d}-" for n in range(0, 496, 4)) + "END!"
assert len(LONG_LINE) == 500


def screen_strips(log: LogView) -> list[Strip]:
    """The Log's lines as drawn now, top to bottom (inside its border)."""
    return [log.render_line(y) for y in range(log.size.height)]


def screen_texts(log: LogView) -> list[str]:
    return [strip.text for strip in screen_strips(log)]


def long_lines(log: LogView) -> list[Strip]:
    """The drawn lines of the long row (the only data the peer sent)."""
    strips = screen_strips(log)
    first = next(i for i, strip in enumerate(strips) if "C1    ← " in strip.text)
    lines = [strips[first]]
    for strip in strips[first + 1 :]:
        if f"C1    {CONTINUATION_MARK} " not in strip.text:
            break
        lines.append(strip)
    return lines


def text_after_head(line: str) -> str:
    """A drawn line's text after its head (`... C1    ← ` or `... C1    ┆ `)."""
    for mark in ("← ", f"{CONTINUATION_MARK} "):
        if mark in line:
            return line.split(mark, 1)[1]
    raise AssertionError(f"no head in {line!r}")


def marks_in(strip: Strip) -> list[int]:
    """The cells that hold the cut mark (as drawn: in its style)."""
    cells, at = [], 0
    for segment in strip:
        if segment.text == CUT_MARK and segment.style and segment.style.reverse:
            cells.append(at)
        at += segment.cell_length
    return cells


async def long_line_from_a_peer(pilot: Pilot[None]) -> SockbenchApp:
    app = the_app(pilot)
    port = await wait_listener_port(pilot)
    client = connect_client(port)
    client.sendall(LONG_LINE.encode() + b"\n")
    await wait_log(pilot, "END!")
    client.close()
    await focus(pilot, app.log_view)
    return app


def test_a_500_character_line_is_cut_with_a_mark_and_wraps_whole_with_w() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = await long_line_from_a_peer(pilot)
        log = app.log_view
        width = log.scrollable_content_region.width
        (line,) = long_lines(log)
        assert marks_in(line) == [width - 1], line.text  # the last cell, and only there
        assert "END!" not in line.text

        await pilot.press("w")
        assert log.model.settings.wrap
        assert "wrap" in str(log.border_subtitle)
        lines = long_lines(log)
        assert len(lines) > 1
        shown = "".join(text_after_head(strip.text).rstrip() for strip in lines)
        assert shown == LONG_LINE + "\\n"  # every character, in order, across the lines
        assert not any(marks_in(strip) for strip in lines)
        # Each wrapped line is marked as the record's, with its connection and no time.
        for strip in lines[1:]:
            assert strip.text.lstrip().startswith(f"C1    {CONTINUATION_MARK} ")

        await pilot.press("w")
        assert not log.model.settings.wrap
        assert len(long_lines(log)) == 1

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


def test_the_rows_scroll_sideways_with_the_arrows_and_shift_wheel() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = await long_line_from_a_peer(pilot)
        log = app.log_view
        width = log.scrollable_content_region.width
        await pilot.press("right")
        assert log.shift == 8
        (line,) = long_lines(log)
        # The head stays; the text from its column 8 on, the mark over its first cell (and
        # its last).
        assert text_after_head(line.text).startswith(CUT_MARK + "08-012-")
        head = len(line.text) - len(text_after_head(line.text))
        assert marks_in(line) == [head, width - 1]
        assert "from column 9" in str(log.border_subtitle)

        # shift+wheel too, then the arrows to the end of the row: its end shows, unmarked.
        wheel = events.MouseScrollDown(log, 5, 5, 0, 1, 0, True, False, False)
        log.post_message(wheel)
        await wait_ui(pilot, lambda: log.shift == 16, "shift+wheel to scroll sideways")
        for _ in range(80):
            await pilot.press("right")
        (line,) = long_lines(log)
        assert line.text.rstrip().endswith("END!\\n")
        assert marks_in(line) == [head]
        await pilot.press("left")
        assert CUT_MARK in long_lines(log)[0].text[-1:]

        # Wrapping scrolls nothing sideways.
        await pilot.press("w")
        assert log.shift == 0
        await pilot.press("right")
        assert log.shift == 0

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


def test_wrap_is_kept_with_the_other_view_settings() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = await long_line_from_a_peer(pilot)
        log = app.log_view
        await pilot.press("w", "m")  # hex, still wrapped
        assert log.model.settings.wrap and log.model.settings.display == "hex"
        await pilot.press("m", "m", "l")  # back to text, in lines
        settings = log.model.settings
        assert settings.wrap and settings.display == "text" and settings.framing == "lines"
        shown = "".join(text_after_head(strip.text).rstrip() for strip in long_lines(log))
        assert shown == LONG_LINE + "\\n"
        # The filter dialog keeps it too: it changes only what it shows.
        await pilot.press("f")
        await wait_ui(pilot, lambda: app.screen.query("#text"), "the filter dialog")
        await pilot.press("enter")
        await wait_ui(pilot, lambda: not app.screen.query("#text"), "the filter applied")
        assert log.model.settings.wrap

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


def test_the_cursor_reads_a_wrapped_row_taller_than_the_log() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = await long_line_from_a_peer(pilot)
        log = app.log_view
        await pilot.press("w", "home")
        rows = log_text(app)
        long_row = next(i for i, text in enumerate(rows) if "000-" in text)
        for _ in range(long_row):
            await pilot.press("down")
        assert log.cursor == long_row
        assert any("← 000-" in text for text in screen_texts(log))  # its first line on top
        assert not any("END!" in text for text in screen_texts(log))
        # down shows the rest of the row before the cursor goes on.
        for _ in range(20):
            if any("END!" in text for text in screen_texts(log)):
                break
            await pilot.press("down")
            assert log.cursor == long_row
        assert any("END!" in text for text in screen_texts(log))
        await pilot.press("down")
        assert log.cursor == long_row + 1
        await pilot.press("end")
        assert log.following and log.cursor is None

    # 80x24: the Log is shorter than the row wrapped.
    run_app(make_app(listen=[TCP_LISTENER]), scenario, size=(80, 24))


def test_rows_that_continue_a_read_show_its_connection() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        log = app.log_view
        port = await wait_listener_port(pilot)
        first, second = connect_client(port), connect_client(port)
        await wait_ui(pilot, lambda: len(app.session.connections) == 2, "two peers")
        await wait_open_connection(pilot)
        # A flood of several lines in one read each, from two peers.
        first.sendall(b"".join(b"alpha %d\n" % n for n in range(5)))
        second.sendall(b"".join(b"beta %d\n" % n for n in range(5)))
        await wait_log(pilot, "alpha 4")
        await wait_log(pilot, "beta 4")
        texts = log_text(app)
        for index, text in enumerate(texts):
            row = log.row_at(index)
            assert f"{row.record.source} " in text, text  # every row names its connection
            if not row.first:
                assert text.lstrip().startswith(f"{row.record.source}    {CONTINUATION_MARK} ")
        continued = [t for t in texts if CONTINUATION_MARK in t and "alpha" in t]
        assert len(continued) >= 1  # at least one read held several lines
        first.close()
        second.close()

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


def test_letters_typed_in_the_composer_never_reach_the_log() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        log = app.log_view
        await wait_listener_port(pilot)
        settings = log.model.settings
        await focus(pilot, app.composer)
        typed = "mlrwfse/nN"
        for key in typed:
            await pilot.press("slash" if key == "/" else key)
        assert app.composer.value == typed
        assert log.model.settings == settings and log.search_pattern == ""
        assert app.screen is app.main_screen  # no dialog opened
        shown = {key for key, b in app.screen.active_bindings.items() if b.binding.show}
        assert not {"m", "l", "w", "f", "s", "e"} & shown

        # A click on a row gives the Log the focus, puts the cursor there, and the footer
        # lists its keys.
        await pilot.click(LogView, offset=(10, 1))  # the first row, inside the border
        await wait_ui(pilot, lambda: app.focused is log, "the Log focused by a click")
        assert log.cursor == 0
        shown = {key for key, b in app.screen.active_bindings.items() if b.binding.show}
        assert {"m", "l", "r", "w", "f", "s", "e"} <= shown

    run_app(make_app(listen=[TCP_LISTENER]), scenario)
