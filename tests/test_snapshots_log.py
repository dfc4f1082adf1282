"""The Log's views (hex, hexdump, filtered, a record's details, search), compared with reviewed
SVG snapshots (update with --snapshot-update). Real traffic from clients on fixed ports."""

from __future__ import annotations

from scenes import log_scene
from ui_helpers import TERMINAL_SIZE


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
