"""The Log follows new rows until the user reads history; going back to the composer makes it
follow again, and while it does not follow its bottom border says how many rows arrived
below. The real app, driven with Pilot against real peers on loopback."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from peers import connect_client
from textual.app import App, ComposeResult
from textual.pilot import Pilot
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

from workbench.log import Record
from workbench.ui.log_view import LogView

TCP_LISTENER = "tcp://127.0.0.1:0"


def subtitle(log: LogView) -> str:
    return str(log.border_subtitle)


def last_row_in_view(log: LogView) -> bool:
    return log.first_visible_row() + log.size.height >= log.row_count()


def lines(prefix: str, count: int) -> bytes:
    return b"".join(b"%s %d\n" % (prefix.encode(), n) for n in range(count))


async def read_history(pilot: Pilot[None]) -> LogView:
    """Focus the Log and put the cursor on the last row shown: it stops following."""
    log = the_app(pilot).log_view
    await focus(pilot, log)
    await pilot.press("up")
    await wait_ui(pilot, lambda: not log.following and log.cursor is not None, "a cursor")
    return log


def test_the_log_counts_rows_arriving_below_and_escape_makes_it_follow_again() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        client.sendall(lines("old", 60))  # more than the Log shows at once
        await wait_log(pilot, "old 59")
        log = await read_history(pilot)
        assert log.new_rows() == 0
        assert "new row" not in subtitle(log)

        client.sendall(lines("new", 12))
        await wait_log(pilot, "new 11")
        await wait_ui(pilot, lambda: "12 new rows ↓" in subtitle(log), "the marker")
        assert log.new_rows() == 12
        assert not last_row_in_view(log)

        await pilot.press("escape")
        await wait_ui(pilot, lambda: app.focused is app.composer, "the composer")
        await wait_ui(pilot, lambda: last_row_in_view(log), "the last row in view")
        assert log.following and log.cursor is None
        assert "new row" not in subtitle(log)
        # It follows: the next rows come into view without a key.
        client.sendall(lines("later", 30))
        await wait_log(pilot, "later 29")
        await wait_ui(pilot, lambda: last_row_in_view(log), "the newest row in view")
        assert "new row" not in subtitle(log)
        client.close()

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


def test_the_marker_counts_only_rows_that_pass_the_filter() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        log = app.log_view
        await wait_open_connection(pilot)
        log.apply(replace(log.model.settings, direction="in"))
        client.sendall(lines("in", 60))
        await wait_log(pilot, "in 59")
        await read_history(pilot)
        # Sent by us (filtered out), then 7 lines from the peer (shown).
        app.engine.send("C1", lines("out", 20))
        await wait_ui(pilot, lambda: app.session.connections["C1"].bytes_out > 0, "sent")
        client.sendall(lines("more", 7))
        await wait_log(pilot, "more 6")
        await wait_ui(pilot, lambda: "7 new rows ↓" in subtitle(log), "the marker")
        assert log.new_rows() == 7
        client.close()

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


def test_tab_a_click_or_enter_on_a_connection_make_the_log_follow_again() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        client.sendall(lines("old", 60))
        await wait_log(pilot, "old 59")
        log = app.log_view

        async def stopped_then_new_rows(tag: str) -> None:
            await read_history(pilot)
            client.sendall(lines(tag, 3))
            await wait_ui(pilot, lambda: "3 new rows ↓" in subtitle(log), f"{tag}: the marker")

        async def following_again(how: str) -> None:
            await wait_ui(pilot, lambda: app.focused is app.composer, f"{how}: the composer")
            await wait_ui(pilot, lambda: log.following and last_row_in_view(log), how)
            assert log.cursor is None and "new row" not in subtitle(log)

        await stopped_then_new_rows("a")
        await pilot.press("tab")  # the Log comes right before the composer
        await following_again("tab")

        await stopped_then_new_rows("b")
        await pilot.click("#composer")
        await following_again("a click")

        await stopped_then_new_rows("c")
        await focus(pilot, app.connections_table)
        await pilot.press("enter")
        await following_again("Enter on a connection")
        client.close()

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


class LogOnly(App[None]):
    def __init__(self, max_rows: int) -> None:
        super().__init__()
        self.max_rows = max_rows

    def compose(self) -> ComposeResult:
        yield LogView(self.max_rows, id="log")


def data_records(first_seq: int, count: int) -> list[Record]:
    return [
        Record(seq, 0.0, "C1", "in", b"row %d\n" % seq, 7)
        for seq in range(first_seq, first_seq + count)
    ]


def test_the_marker_counts_only_rows_the_log_still_holds() -> None:
    """The Log holds 100 records here: after 150 more, the rows that arrived are 150 but only
    those still held and below the view can be scrolled to."""

    async def main() -> None:
        app = LogOnly(max_rows=100)
        async with app.run_test(size=(80, 24)) as pilot:
            log = app.query_one(LogView)
            log.add_records(data_records(1, 100))
            await pilot.pause()
            log.focus()
            await pilot.press("up")
            assert not log.following
            log.add_records(data_records(101, 30))
            await pilot.pause()
            assert log.new_rows() == 30
            assert "30 new rows ↓" in subtitle(log)
            log.add_records(data_records(131, 120))
            await pilot.pause()
            held = log.row_count()
            assert held == 100
            # The rows in view fell off the front: the view shows the oldest ones held.
            expected = held - log.first_visible_row() - log.size.height
            assert 0 < expected < 150
            assert log.new_rows() == expected
            assert f"{expected} new rows ↓" in subtitle(log)
            await pilot.press("end")
            assert log.following and log.new_rows() == 0
            assert "new row" not in subtitle(log)

    asyncio.run(main())
