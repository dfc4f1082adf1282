"""Regenerate the README's screenshots from the real app: `python tests/make_screenshots.py`.

Each screenshot is a scene from tests/scenes.py (real sockets on loopback, frozen clock),
exported as SVG into screenshots/.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from scenes import (
    BEHAVIOUR_PORT,
    SCENE_HOST,
    behaviour_dialog,
    connect_dialog_with_error,
    datagram_scene,
    framed_scene,
    frozen_app,
    listen_dialog_with_behaviour,
    playing,
    traffic_scene,
)
from test_snapshots_diff import DiffScene
from test_snapshots_tls import hostile_certificate_details
from textual.pilot import Pilot
from ui_helpers import TERMINAL_SIZE

from workbench.ui.app import SockbenchApp

SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
# Tall enough for the whole framed Log: the RESP commands and the HTTP requests.
FRAMED_SIZE = (120, 48)


async def capture(
    app: SockbenchApp,
    scene: Callable[[Pilot[None]], Awaitable[None]],
    name: str,
    size: tuple[int, int] = TERMINAL_SIZE,
) -> Path:
    async with app.run_test(size=size) as pilot:
        await scene(pilot)
        await pilot.pause(0.2)
        svg = app.export_screenshot(title="sockbench")
    path = SCREENSHOTS / f"{name}.svg"
    path.write_text(svg, encoding="utf-8")
    return path


async def main() -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    with traffic_scene() as (app, scene):
        print(await capture(app, scene.run, "main"))
    with datagram_scene() as (app, scene):
        print(await capture(app, scene.run, "datagrams"))
    print(await capture(frozen_app(), connect_dialog_with_error, "connect-dialog"))
    print(await capture(frozen_app(), listen_dialog_with_behaviour, "listen-dialog"))
    echoing = frozen_app(listen=[f"tcp://{SCENE_HOST}:{BEHAVIOUR_PORT}?echo=1&greet=hi%21\\n"])
    print(await capture(echoing, behaviour_dialog, "behaviour-dialog"))
    print(await capture(frozen_app(), hostile_certificate_details, "tls-details"))
    with framed_scene() as (app, scene):
        print(await capture(app, scene.run, "framed-log", FRAMED_SIZE))
    with playing(DiffScene()) as (app, scene):
        print(await capture(app, scene.run, "diff"))


if __name__ == "__main__":
    asyncio.run(main())
