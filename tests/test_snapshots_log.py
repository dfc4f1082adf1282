"""The Log's views (hex, hexdump, filtered, a record's details, search), compared with reviewed
SVG snapshots (update with --snapshot-update). Real traffic from clients on fixed ports."""

from __future__ import annotations

from make_screenshots import FRAMED_SIZE
from scenes import framed_scene, log_scene
from textual.pilot import Pilot
from ui_helpers import TERMINAL_SIZE, wait_log


def test_log_in_hex_mode(snap_compare) -> None:
    with log_scene() as (app, scene):
        assert snap_compare(app, terminal_size=TERMINAL_SIZE, run_before=scene.hex_mode)


def test_log_in_hexdump_mode(snap_compare) -> None:
    with log_scene() as (app, scene):
        assert snap_compare(app, terminal_size=TERMINAL_SIZE, run_before=scene.both_mode)


def test_log_filtered_by_text(snap_compare) -> None:
    with log_scene() as (app, scene):
        assert snap_compare(app, terminal_size=TERMINAL_SIZE, run_before=scene.filtered)


def test_record_detail_view(snap_compare) -> None:
    with log_scene() as (app, scene):
        assert snap_compare(app, terminal_size=TERMINAL_SIZE, run_before=scene.details)


def test_log_search_bar_with_a_highlighted_match(snap_compare) -> None:
    with log_scene() as (app, scene):
        assert snap_compare(app, terminal_size=TERMINAL_SIZE, run_before=scene.search_open)


def test_log_marker_for_new_rows_below(snap_compare) -> None:
    with log_scene() as (app, scene):
        assert snap_compare(app, terminal_size=TERMINAL_SIZE, run_before=scene.new_rows_below)


def test_log_wraps_a_500_character_row(snap_compare) -> None:
    """A 500-character line from a peer, wrapped (w) at 80x24, where the Log is shorter than
    the row: the cursor on it shows its first lines, each marked as the record's."""
    with log_scene() as (app, scene):

        async def wrapped(pilot: Pilot[None]) -> None:
            await scene.traffic(pilot)
            alice = scene.sockets[0]
            alice.sendall(b"".join(b"%03d-" % n for n in range(0, 496, 4)) + b"END!\n")
            await wait_log(pilot, "END!")
            await pilot.press("w", "up")
            await pilot.pause(0.1)

        assert snap_compare(app, terminal_size=(80, 24), run_before=wrapped)


def test_log_messages_of_resp_and_http(snap_compare) -> None:
    with framed_scene() as (app, scene):
        assert snap_compare(app, terminal_size=FRAMED_SIZE, run_before=scene.run)
