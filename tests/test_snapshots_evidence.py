"""What a user sees of the evidence forms, compared with a reviewed SVG snapshot (update
with --snapshot-update): the Replay form, filled in, saying in words why it cannot play."""

from __future__ import annotations

from scenes import frozen_app
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static
from ui_helpers import TERMINAL_SIZE, the_app, wait_ui

from workbench.ui.evidence_forms import ReplayMode

MISSING_RECORDING = "captures/redis session.jsonl@2"  # relative, and never there


async def replay_form_with_an_error(pilot: Pilot[None]) -> None:
    from test_ui_evidence_replay import open_replay

    app = the_app(pilot)
    await wait_ui(pilot, lambda: app.focused is app.composer, "the main screen")
    dialog = await open_replay(pilot)
    dialog.query_one("#recording", Input).value = MISSING_RECORDING
    dialog.query_one("#play", Select).value = ReplayMode.AGAINST
    await pilot.pause()
    dialog.query_one("#address", Input).value = "127.0.0.1:6379"
    dialog.query_one("#recording", Input).focus()
    await pilot.press("enter")
    error = dialog.query_one("#error", Static)
    await wait_ui(pilot, lambda: error.display and "cannot read" in str(error.render()), "error")
    await pilot.pause()


def test_replay_form(snap_compare) -> None:
    app = frozen_app()
    assert snap_compare(app, terminal_size=TERMINAL_SIZE, run_before=replay_form_with_an_error)
