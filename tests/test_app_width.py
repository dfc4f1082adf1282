"""The panes, the composer's label and the footer at 80, 120, 140 and 220 columns: columns as
wide as the terminal allows, and a label that must be cut never cuts a number."""

from __future__ import annotations

from peers import abort, connect_client
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey
from ui_helpers import (
    make_app,
    run_app,
    shown_lines,
    shows,
    the_app,
    wait_listener_port,
    wait_log,
    wait_ui,
)

from workbench.ui.app import SockbenchApp


async def wait_shown(pilot: Pilot[None], widget: Widget, pattern: str) -> None:
    """Until the widget draws `pattern` (a resize is laid out and drawn over a few turns)."""
    await wait_ui(pilot, lambda: shows(widget, pattern), f"{pattern!r} in {widget}")


async def resized(pilot: Pilot[None], width: int, height: int) -> None:
    await pilot.resize_terminal(width, height)
    await pilot.pause()


def test_a_listener_shows_its_whole_port_and_as_many_counts_as_fit() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        kept = connect_client(port)
        await wait_log(pilot, "accepted")
        refused = connect_client(port)
        await wait_log(pilot, "L1 full (1 open)")
        await wait_ui(pilot, lambda: app.session.listeners["L1"].refused == 1, "1 refused")
        tree = app.listeners_tree
        whole_port = rf"127\.0\.0\.1:{port}(?!\d)"
        await resized(pilot, 120, 36)
        await wait_shown(pilot, tree, whole_port + r" \(1 open, 1 refused\)")
        await resized(pilot, 220, 60)
        await wait_shown(pilot, tree, whole_port + r" \(1 open, 1 refused at max 1\)")
        await resized(pilot, 80, 24)  # and back: fitted again, the port whole
        await wait_shown(pilot, tree, whole_port + "…")
        assert not shows(tree, rf":{str(port)[:-1]}(?!\d)")
        abort(kept)
        abort(refused)

    run_app(make_app(listen=["tcp://127.0.0.1:0?max=1"]), scenario, size=(80, 24))


def test_the_state_column_shows_the_whole_reason_when_the_terminal_allows() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        await wait_log(pilot, "accepted")
        client.shutdown(2)  # EOF: the connection closes after the grace
        reason = "closed after the peer's EOF"
        await wait_log(pilot, reason)
        table = app.connections_table
        await wait_shown(pilot, table, reason)
        await resized(pilot, 80, 24)
        await wait_shown(pilot, table, r" closed… ")
        await resized(pilot, 140, 45)
        await wait_shown(pilot, table, reason)
        client.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario, size=(140, 45))


def test_a_long_remote_host_is_cut_in_its_middle_and_keeps_its_port() -> None:
    host = "a-very-long-host-name-that-does-not-resolve.invalid"

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await wait_log(pilot, "host not found")
        table = app.connections_table
        # The host's two ends and the whole port, however narrow the column gets.
        cut_host = r" a-[a-z-]*…[a-z.-]*d:9 "
        await wait_shown(pilot, table, cut_host)
        await resized(pilot, 80, 24)
        await wait_shown(pilot, table, cut_host)

    run_app(make_app(connect=[f"tcp://{host}:9"]), scenario, size=(100, 30))


def test_at_80_columns_the_composer_label_takes_a_third_and_the_footer_its_main_keys() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        source = client.getsockname()[1]
        await wait_ui(pilot, lambda: app.target is not None, "a target")
        label = app.main_screen.widget("target", Widget)
        await wait_ui(pilot, lambda: shows(label, rf":{source}(?!\d)"), "the target's port")
        assert label.outer_size.width <= 80 // 3 + 1
        assert label.outer_size.height == 3 and len(shown_lines(label)) == 2
        assert shown_lines(label)[1].strip() == ""  # one line: not wrapped
        assert app.composer.size.width >= 30
        footer = app.screen.query_one(Footer)
        assert footer.compact
        keys = {key.key: key for key in footer.query(FooterKey)}
        # Every key the footer lists shows whole (no palette hint at this width: f1 says it).
        assert {"ctrl+q", "f1", "f2", "f3", "f4", "ctrl+t", "f7", "f9"} <= set(keys)
        for key, shown in keys.items():
            assert shown.region.right <= 80, key
        assert not footer.show_command_palette
        client.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario, size=(80, 24))


def test_the_panes_follow_a_resize() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app: SockbenchApp = the_app(pilot)
        await wait_listener_port(pilot)
        tree = app.listeners_tree
        # "L1 tcp 127.0.0.1:PORT (0 open)" wants 35 cells, its icon and border included.
        await resized(pilot, 80, 24)
        await wait_ui(pilot, lambda: tree.outer_size.width == 32, "at most 40% of 80")
        await resized(pilot, 140, 45)
        await wait_ui(pilot, lambda: tree.outer_size.width == 35, "what the label needs")
        await resized(pilot, 220, 60)
        await wait_ui(pilot, lambda: tree.outer_size.width == 44, "at least a fifth of 220")
        assert app.connections_table.outer_size.width == 220 - 44

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario, size=(120, 36))
