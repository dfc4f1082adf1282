"""The first screen the command line draws before the app's modules load
(workbench/ui/first_screen.py): it looks like the main screen, and what is typed there is
kept."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widgets import Input
from ui_helpers import make_app, run_app, the_app, wait_log, wait_ui

import workbench.ui.app as app_module
from workbench.payloads import SendSettings
from workbench.ui.app import SockbenchApp
from workbench.ui.first_screen import FirstScreen
from workbench.ui.main_screen import MainScreen

SIZE = (120, 30)


def screen_lines(app: SockbenchApp) -> list[str]:
    update = app.screen._compositor.render_full_update(simplify=True)
    return ["".join(strip.text for strip in line) for line in update.strips]


class HeldFirstScreen(SockbenchApp):
    """The command line's app, held on its first screen until `go` is set."""

    CSS_PATH = Path(app_module.__file__).with_name("app.tcss")

    def __init__(self, *args: object, **options: object) -> None:
        super().__init__(*args, first_screen=True, **options)  # type: ignore[arg-type]
        self.go = asyncio.Event()

    async def start_engine(self) -> None:
        # Waited for in a task of its own: the app goes on handling keys meanwhile.
        self.held = asyncio.create_task(self.start_when_told())

    async def start_when_told(self) -> None:
        await self.go.wait()
        await super().start_engine()


def held_app(listen: str = "", **options: object) -> HeldFirstScreen:
    made = make_app([listen] if listen else [], **options)
    return HeldFirstScreen(made._make_engine, made.bridge, made.startup.actions, **options)


def test_the_first_screen_draws_what_the_main_screen_shows_before_any_event() -> None:
    settings = SendSettings(line_ending="crlf", encoding="latin-1")
    seen: dict[str, list[str]] = {}

    async def first(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await pilot.pause()
        assert isinstance(app.screen, FirstScreen)
        seen["first"] = screen_lines(app)

    async def main(pilot: Pilot[None]) -> None:
        await pilot.pause()
        seen["main"] = screen_lines(the_app(pilot))

    run_app(held_app(default_settings=settings), first, size=SIZE)
    run_app(make_app(default_settings=settings), main, size=SIZE)
    first_lines, main_lines = seen["first"], seen["main"]
    assert "CRLF · latin-1" in "\n".join(first_lines)
    header_row = next(i for i, line in enumerate(main_lines) if " id " in line)
    # The same screen, but for the Connections table's header, drawn once the table is in.
    assert [line for i, line in enumerate(first_lines) if i != header_row] == [
        line for i, line in enumerate(main_lines) if i != header_row
    ]


def test_what_is_typed_on_the_first_screen_is_sent_from_the_main_composer() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = held_app(f"tcp://127.0.0.1:{port}")

    async def scenario(pilot: Pilot[None]) -> None:
        await pilot.pause()
        assert isinstance(app.screen, FirstScreen)
        # Its input takes the focus as the screen starts (on a loaded machine a moment
        # after the first pause): keys before that go nowhere.
        await wait_ui(pilot, lambda: app.focused is not None, "the first screen's input")
        await pilot.press("f1")  # not yet: no help over the first screen, then hidden
        await pilot.press(*"hello")
        await pilot.press("left")
        app.go.set()
        await wait_ui(pilot, lambda: not isinstance(app.screen, FirstScreen), "the main screen")
        assert app.composer.value == "hello"
        assert app.composer.cursor_position == 4
        assert app.composer.has_focus
        assert len(app.screen_stack) == 2  # the main screen over the first, nothing else
        await wait_log(pilot, "listening on")
        with socket.create_connection(("127.0.0.1", port), timeout=5) as peer:
            await wait_ui(pilot, lambda: app.target is not None, "the peer as the target")
            await pilot.press("end", "!", "enter")
            peer.settimeout(5)
            got = b""
            while not got.endswith(b"\n"):
                got += await asyncio.to_thread(peer.recv, 100)
            assert got == b"hello!\n"

    run_app(app, scenario, size=SIZE)


def test_the_palette_waits_for_the_main_screen() -> None:
    """Its commands are the main screen's; opened while the screens change, its search ran
    on against a palette already gone."""
    app = held_app()

    async def scenario(pilot: Pilot[None]) -> None:
        await pilot.pause()
        await pilot.press("ctrl+p", "t", "a")
        await pilot.pause()
        assert isinstance(app.screen, FirstScreen)
        assert app.query_one("#composer", Input).value == "ta"  # the keys went on to it
        app.go.set()
        await wait_ui(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        assert [type(screen) for screen in app.screen_stack] == [FirstScreen, MainScreen]
        await pilot.press("ctrl+p")
        await wait_ui(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")

    run_app(app, scenario, size=SIZE)
