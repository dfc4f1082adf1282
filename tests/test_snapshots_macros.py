"""What a user sees of macros and repeats, compared with reviewed SVG snapshots (update with
--snapshot-update): the Macros dialog, and a running repeat's line under the composer."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from scenes import SCENE_HOST, Scene, client_from, frozen_app
from textual.pilot import Pilot
from textual.widgets import Input
from ui_helpers import TERMINAL_SIZE, the_app, wait_log, wait_ui

from workbench.ui.app import SockbenchApp
from workbench.ui.macro_book import make_macro
from workbench.ui.macro_dialog import MacroEditor, MacrosDialog, RepeatDialog
from workbench.ui.running_line import RunningLine

MACRO_PORT = 19170
MACRO_PEER_PORT = 19171
REPEAT_PORT = 19172
REPEAT_PEER_PORT = 19173

MACROS = [
    make_macro("login", "text", "USER alice\\r\\nPASS {hex:73 33 63}\\r\\n", key="f9"),
    make_macro("ping", "text", "PING {counter} from {conn}\\n", "ctrl+b", "500", "20"),
    make_macro("magic", "hex", "de ad be ef 00 01", key="alt+m"),
    make_macro("tick", "text", "tick {unixtime}\\n", repeat_ms="1000"),
]


async def macros_dialog(pilot: Pilot[None]) -> None:
    app = the_app(pilot)
    await wait_ui(pilot, lambda: app.focused is app.composer, "the main screen")
    await pilot.press("f12")
    await wait_ui(pilot, lambda: isinstance(app.screen, MacrosDialog), "the Macros dialog")
    await pilot.pause()


def test_macros_dialog(snap_compare) -> None:
    app = frozen_app(macros=MACROS)
    assert snap_compare(app, terminal_size=TERMINAL_SIZE, run_before=macros_dialog)


class RepeatScene(Scene):
    """A peer, and the composer's message repeated to it every minute, 5 times: the line
    under the composer says how far it got."""

    app_options = {"listen": [f"tcp://{SCENE_HOST}:{REPEAT_PORT}"]}

    async def run(self, pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await wait_ui(pilot, lambda: "L1" in app.session.listeners, "the listener")
        self.sockets.append(client_from(REPEAT_PEER_PORT, REPEAT_PORT))
        await wait_log(pilot, f"accepted {SCENE_HOST}:{REPEAT_PEER_PORT}")
        app.composer.value = "tick {counter}"
        app.macro_control.repeat_composer()
        dialog = await wait_ui(
            pilot,
            lambda: (
                isinstance(app.screen, RepeatDialog) and app.screen.query("#count") and app.screen
            ),
            "Repeat",
        )
        dialog.query_one("#interval", Input).value = "60000"
        dialog.query_one("#count", Input).value = "5"
        await pilot.press("enter")
        line = app.main_screen.widget("running", RunningLine)
        await wait_ui(pilot, lambda: "repeat R1: 1/5" in str(line.render()), "the repeat line")
        await wait_log(pilot, "repeat: tick 1")
        await pilot.pause(0.1)


@contextlib.contextmanager
def repeat_scene() -> Iterator[tuple[SockbenchApp, RepeatScene]]:
    scene = RepeatScene()
    try:
        yield frozen_app(**scene.app_options), scene
    finally:
        scene.close()


def test_a_running_repeats_line(snap_compare) -> None:
    with repeat_scene() as (app, scene):
        assert snap_compare(app, terminal_size=TERMINAL_SIZE, run_before=scene.run)


async def editor_with_an_error(pilot: Pilot[None]) -> None:
    """The editor of a new macro whose template has an unknown field: said in words."""
    app = the_app(pilot)
    await macros_dialog(pilot)
    await pilot.press("a")
    editor = await wait_ui(
        pilot,
        lambda: isinstance(app.screen, MacroEditor) and app.screen.query("#count") and app.screen,
        "the editor",
    )
    editor.query_one("#name", Input).value = "hello"
    editor.query_one("#given", Input).value = "HELO {host}\\r\\n"
    editor.query_one("#key", Input).value = "f9"
    await pilot.press("enter")
    await wait_ui(pilot, lambda: editor.query_one("#error").display, "the error")
    await pilot.pause()


def test_macro_editor_with_an_error(snap_compare) -> None:
    assert snap_compare(frozen_app(), terminal_size=TERMINAL_SIZE, run_before=editor_with_an_error)
