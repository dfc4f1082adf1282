"""Driving the palette as a user does, for the macros' tests."""

from __future__ import annotations

from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot
from ui_helpers import the_app, wait_screen, wait_ui

from workbench.ui.macro_dialog import MacrosDialog


def highlighted_title(palette: CommandPalette) -> str:
    commands = palette.query_one(CommandList)
    if commands.highlighted is None:
        return ""
    return str(commands.get_option_at_index(commands.highlighted).prompt)


async def run_command(pilot: Pilot[None], query: str, title: str) -> None:
    """Open the palette, type `query`, run the first command once it is `title`."""
    app = the_app(pilot)
    await pilot.press("ctrl+p")
    palette = await wait_ui(
        pilot, lambda: isinstance(app.screen, CommandPalette) and app.screen, "the palette"
    )
    await pilot.press(*query)
    await wait_ui(
        pilot,
        lambda: highlighted_title(palette).startswith(title),
        f"{title!r} first for {query!r} (now {highlighted_title(palette)!r})",
    )
    await pilot.press("enter")
    await wait_ui(pilot, lambda: not isinstance(app.screen, CommandPalette), "the palette gone")


async def open_macros(pilot: Pilot[None]) -> MacrosDialog:
    """Press f12 and wait for the Macros dialog and its list."""
    await pilot.press("f12")
    return await wait_screen(pilot, MacrosDialog, "#macros", "Macros")
