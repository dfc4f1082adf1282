"""What a user sees of a diff, compared with a reviewed SVG snapshot (update with
--snapshot-update): two marked connections whose clients sent partly different lines (one
of them hostile), and were sent the same reply."""

from __future__ import annotations

from scenes import SCENE_HOST, Scene, client_from, playing
from textual.pilot import Pilot
from ui_helpers import TERMINAL_SIZE, the_app, type_line, wait_log, wait_ui

from workbench.ui.diff_screen import DiffScreen

DIFF_PORT = 19260
FIRST_PEER_PORT = 19261
SECOND_PEER_PORT = 19262

FIRST = b"HELO alice\r\nMAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n"
SECOND = (
    b"HELO alice\r\nMAIL FROM:<mallory@example.org>\r\nRCPT TO:<bob@example.org>\r\n"
    b"\x1b]2;pwned\x07[b]not markup[/b]\r\nDATA\r\n"
)


class DiffScene(Scene):
    app_options = {"listen": [f"tcp://{SCENE_HOST}:{DIFF_PORT}"]}

    async def run(self, pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await wait_ui(pilot, lambda: "L1" in app.session.listeners, "the listener")
        for source, data, shown in (
            (FIRST_PEER_PORT, FIRST, "alice@example.org"),
            (SECOND_PEER_PORT, SECOND, "not markup"),
        ):
            sock = client_from(source, DIFF_PORT)
            self.sockets.append(sock)
            await wait_log(pilot, f"accepted {SCENE_HOST}:{source}")
            sock.sendall(data)
            await wait_log(pilot, shown)
        app.main_screen.toggle_mark("C1")
        app.main_screen.toggle_mark("C2")
        await type_line(pilot, "250 ok")
        await wait_ui(pilot, lambda: app.session.connections["C2"].bytes_out == 7, "the reply")
        app.main_screen.diffs.diff_connections()
        await wait_ui(
            pilot,
            lambda: isinstance(app.screen, DiffScreen) and app.screen.report is not None,
            "the diff",
        )
        await pilot.pause(0.1)


def test_a_diff_of_two_connections(snap_compare) -> None:
    with playing(DiffScene()) as (app, scene):
        assert snap_compare(app, terminal_size=TERMINAL_SIZE, run_before=scene.run)
