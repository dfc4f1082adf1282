"""A regex filter against hostile peer text, in the real app with real peers (issue 12,
point 2): `(a+)+$` and one line of 40 `a` and a `b` froze the whole process (keys, ctrl+q,
SIGINT, the engine) with Python's backtracking `re`. The scenario runs in a child process:
a frozen process cannot time itself out, so the parent kills it after a bound."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from peers import connect_client
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Static
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

from workbench.ui.log_dialogs import FilterDialog

TESTS = Path(__file__).parent
# The child needs a few seconds; frozen, it would run for hours.
CHILD_TIMEOUT = 45
HOSTILE_LINE = b"a" * 40 + b"b\n"


async def open_filter(pilot: Pilot[None], text: str, regex: bool) -> FilterDialog:
    app = the_app(pilot)
    await focus(pilot, app.log_view)
    await pilot.press("f")
    dialog = await wait_ui(pilot, lambda: isinstance(app.screen, FilterDialog) and app.screen, "f")
    assert isinstance(dialog, FilterDialog)
    dialog.query_one("#text", Input).value = text
    dialog.query_one("#regex", Checkbox).value = regex
    return dialog


def redos_scenario() -> None:
    """Run in the child: the filter on, a hostile line from one peer, then a key answered
    and another peer's data recorded and shown."""

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        log = app.log_view
        port = await wait_listener_port(pilot)
        hostile = connect_client(port)
        await wait_open_connection(pilot, lambda c: c.cid == "C1")
        other = connect_client(port)
        await wait_open_connection(pilot, lambda c: c.cid == "C2")

        await open_filter(pilot, "(a+)+$", regex=True)
        await pilot.click("#ok")
        await wait_ui(pilot, lambda: log.model.settings.regex, "the regex filter applied")

        hostile.sendall(HOSTILE_LINE)
        await wait_ui(pilot, lambda: app.session.connections["C1"].bytes_in == 42, "C1's line")
        other.sendall(b"from the other peer, ending in aaa")
        await wait_log(pilot, "from the other peer, ending in aaa")  # the filter shows it
        assert app.session.connections["C2"].bytes_in == 34
        assert log.model.store[-1].data == b"from the other peer, ending in aaa"
        assert not any(row.record.source == "C1" and row.record.is_data for row in log.model.rows)

        # Keys are answered: r switches the time; the filter dialog opens and closes.
        await pilot.press("r")
        assert log.model.settings.relative_time
        hostile.sendall(HOSTILE_LINE * 100)
        await pilot.press("f")
        await wait_ui(pilot, lambda: isinstance(app.screen, FilterDialog), "the filter dialog")
        await pilot.press("escape")
        await wait_ui(pilot, lambda: not isinstance(app.screen, FilterDialog), "dialog closed")
        await wait_ui(pilot, lambda: app.session.connections["C1"].bytes_in == 42 * 101, "C1")
        hostile.close()
        other.close()
        print("answered")

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario)


@pytest.mark.timeout(CHILD_TIMEOUT + 30)
def test_a_redos_filter_on_a_hostile_line_leaves_the_app_answering() -> None:
    code = f"import sys; sys.path.insert(0, {str(TESTS)!r}); "
    code += "from test_app_log_regex import redos_scenario; redos_scenario()"
    try:
        result = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the app froze: no answer in {CHILD_TIMEOUT} s (killed)")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "answered" in result.stdout


def test_the_filter_dialog_refuses_a_pattern_re2_cannot_take_and_says_why() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        settings = app.log_view.model.settings
        dialog = await open_filter(pilot, r"(\w+) \1", regex=True)
        await pilot.click("#ok")
        await pilot.pause()
        assert app.screen is dialog
        error = str(dialog.query_one("#error", Static).render())
        # Sanitized: the pattern's backslash shows as \\ (a visible escape, as always).
        assert "not a regular expression: backreferences (\\\\1) are not supported" in error
        assert "linear time" in error
        await pilot.press("escape")
        assert app.log_view.model.settings == settings

    run_app(make_app(), scenario)
