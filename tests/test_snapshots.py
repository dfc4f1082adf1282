"""What a user sees, compared with reviewed SVG snapshots (update with --snapshot-update)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from scenes import (
    BEHAVIOUR_PORT,
    CONFIRM_PORT,
    SCENE_HOST,
    SEND_TO_PORT,
    behaviour_dialog,
    cleanup_scene,
    confirm_close_listener,
    connect_dialog_with_error,
    datagram_scene,
    frozen_app,
    listen_dialog,
    listen_dialog_udp,
    listen_dialog_with_behaviour,
    pasted_block,
    send_to_dialog,
    traffic_scene,
    width_scene,
)
from textual.pilot import Pilot
from ui_helpers import TERMINAL_SIZE, focus, the_app, wait_ui

from workbench.ui.help_screen import HelpScreen


def test_main_screen_with_traffic(snap_compare) -> None:
    with traffic_scene() as (app, scene):
        assert snap_compare(app, terminal_size=TERMINAL_SIZE, run_before=scene.run)


def test_empty_main_screen(snap_compare) -> None:
    assert snap_compare(frozen_app(), terminal_size=TERMINAL_SIZE)


def test_listen_dialog(snap_compare) -> None:
    assert snap_compare(frozen_app(), terminal_size=TERMINAL_SIZE, run_before=listen_dialog)


def test_listen_dialog_with_a_behaviour(snap_compare) -> None:
    assert snap_compare(
        frozen_app(), terminal_size=TERMINAL_SIZE, run_before=listen_dialog_with_behaviour
    )


def test_behaviour_dialog(snap_compare) -> None:
    app = frozen_app(listen=[f"tcp://{SCENE_HOST}:{BEHAVIOUR_PORT}?echo=1&greet=hi%21\\n"])
    assert snap_compare(app, terminal_size=TERMINAL_SIZE, run_before=behaviour_dialog)


def test_connect_dialog_with_an_error(snap_compare) -> None:
    assert snap_compare(
        frozen_app(), terminal_size=TERMINAL_SIZE, run_before=connect_dialog_with_error
    )


def test_confirm_close_listener_dialog(snap_compare) -> None:
    app = frozen_app(listen=[f"tcp://{SCENE_HOST}:{CONFIRM_PORT}"])
    assert snap_compare(app, terminal_size=TERMINAL_SIZE, run_before=confirm_close_listener)


def test_udp_and_unix_endpoints(snap_compare) -> None:
    with datagram_scene() as (app, scene):
        assert snap_compare(app, terminal_size=TERMINAL_SIZE, run_before=scene.run)


def test_listen_dialog_for_udp_with_options(snap_compare) -> None:
    assert snap_compare(frozen_app(), terminal_size=TERMINAL_SIZE, run_before=listen_dialog_udp)


def test_send_to_dialog(snap_compare) -> None:
    app = frozen_app(listen=[f"udp://{SCENE_HOST}:{SEND_TO_PORT}"])
    assert snap_compare(app, terminal_size=TERMINAL_SIZE, run_before=send_to_dialog)


def test_clean_up_menu(snap_compare) -> None:
    with cleanup_scene() as (app, scene):
        assert snap_compare(app, terminal_size=TERMINAL_SIZE, run_before=scene.menu)


def test_composer_holding_a_pasted_block_at_80x24(snap_compare) -> None:
    assert snap_compare(frozen_app(), terminal_size=(80, 24), run_before=pasted_block)


def help_of(pane: str) -> Callable[[Pilot[None]], Awaitable[None]]:
    """F1 with the focus on one of the app's panes (an attribute of the app)."""

    async def run_before(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await wait_ui(pilot, lambda: app.focused is app.composer, "the first screen")
        await focus(pilot, getattr(app, pane))
        await pilot.press("f1")
        await wait_ui(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        await pilot.pause()

    return run_before


def test_help_screen_of_the_log_at_80x24(snap_compare) -> None:
    assert snap_compare(frozen_app(), terminal_size=(80, 24), run_before=help_of("log_view"))


def test_help_screen_of_the_connections_at_220x60(snap_compare) -> None:
    app = frozen_app()
    assert snap_compare(app, terminal_size=(220, 60), run_before=help_of("connections_table"))


def test_main_screen_at_80x24_with_a_refused_peer_and_a_long_row(snap_compare) -> None:
    with width_scene() as (app, scene):
        assert snap_compare(app, terminal_size=(80, 24), run_before=scene.run)


def test_main_screen_at_220x60_with_a_refused_peer_and_a_long_row(snap_compare) -> None:
    with width_scene() as (app, scene):
        assert snap_compare(app, terminal_size=(220, 60), run_before=scene.run)
