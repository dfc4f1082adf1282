"""Opening the Macros dialog as a user does, for the macros' tests."""

from __future__ import annotations

from textual.pilot import Pilot
from ui_helpers import wait_screen

from workbench.ui.macro_dialog import MacrosDialog


async def open_macros(pilot: Pilot[None]) -> MacrosDialog:
    """Press f12 and wait for the Macros dialog and its list."""
    await pilot.press("f12")
    return await wait_screen(pilot, MacrosDialog, "#macros", "Macros")
