"""The Log draws its rows in the theme in force: a theme change from the palette reaches the
rows it had already drawn (it cached them in the old theme's colours)."""

from __future__ import annotations

from textual.pilot import Pilot
from ui_helpers import make_app, run_app, the_app, wait_ui

from workbench.log import Record


def background_of(strip) -> object:  # type: ignore[no-untyped-def]
    return next(seg.style.bgcolor for seg in strip if seg.style and seg.style.bgcolor)


def test_a_theme_change_redraws_the_rows_in_the_new_colours() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        log = app.log_view
        log.add_records([Record(1, 0.0, "C1", "in", b"hello\n", size=6)])
        await wait_ui(pilot, lambda: log.row_count() == 1, "the row")
        await pilot.pause()
        before = background_of(log.render_line(0))
        app.theme = "textual-light" if app.theme != "textual-light" else "textual-dark"
        await wait_ui(pilot, lambda: log.rich_style.bgcolor != before, "the new theme")
        await pilot.pause()
        assert background_of(log.render_line(0)) == log.rich_style.bgcolor != before

    run_app(make_app(), scenario)
