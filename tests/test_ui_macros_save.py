"""The palette's "Save session..." writes what the app has open (listeners with the behaviour
they have now, the user's connections, the macros) to a file that the loader reads and that
reopens to the same state; a file that exists is replaced only when the user says so."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from pathlib import Path

from peers import recv_exactly
from test_app_palette import run_command
from textual.pilot import Pilot
from textual.widgets import Input
from ui_helpers import (
    blocking,
    make_app,
    run_app,
    the_app,
    wait_listener_port,
    wait_notified,
    wait_ui,
)

from workbench.engine import Engine, EventBridge
from workbench.protocol.endpoints import parse_url
from workbench.protocol.options import parse_options
from workbench.protocol.sequences import SendStep, Sequence
from workbench.session.startup import StartupAction, actions_of
from workbench.session_file.loader import load_session
from workbench.session_file.model import Macro
from workbench.ui.app import SockbenchApp
from workbench.ui.dialogs import ConfirmDialog
from workbench.ui.macro_book import make_macro
from workbench.ui.macro_dialog import SaveSessionDialog

MACROS = [
    make_macro("ping", "text", "PING {counter}\\r\\n", key="f9", repeat_ms="250", count="4"),
    make_macro("raw", "hex", "de ad be ef", key="ctrl+b"),
]
HELLO = Sequence("up", (SendStep(b"HELLO\r\n"),))
State = tuple[
    list[tuple[str, tuple[str, ...], str]], list[str], list[object], list[tuple[str, str]]
]


def state_of(app: SockbenchApp) -> State:
    """What must survive a save and a reopen: each listener's transport, addresses and
    behaviour; the user's open connections' remote addresses; the macros; the names."""
    listeners = [
        (info.transport, info.local, info.behaviour) for info in app.session.listeners.values()
    ]
    connections = sorted(conn.remote for conn in app.session.connections.values() if conn.outgoing)
    names = sorted(app.session.names.items())
    return listeners, connections, list(app.macro_control.book), names


async def save_to(
    pilot: Pilot[None], path: Path, offered: str = "./sockbench-session.toml"
) -> None:
    """Save from the palette to `path`; the dialog offers `offered` (the last file saved)."""
    app = the_app(pilot)
    await run_command(pilot, "save sess", "Save session...")
    dialog = await wait_ui(
        pilot,
        lambda: (
            isinstance(app.screen, SaveSessionDialog) and app.screen.query("#path") and app.screen
        ),
        "Save",
    )
    field = dialog.query_one("#path", Input)
    assert field.value == offered
    field.value = str(path)
    await pilot.press("enter")


def test_a_saved_session_reopens_to_the_same_state(tmp_path: Path) -> None:
    path = tmp_path / "saved.toml"
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)  # accept waits no longer
    server_port = server.getsockname()[1]
    saved: list[State] = []

    async def first(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await wait_listener_port(pilot, "L1")
        await wait_listener_port(pilot, "L2")
        await wait_ui(pilot, lambda: app.session.connections.get("C1"), "C1")
        await wait_ui(pilot, lambda: app.session.connections["C1"].is_open, "C1 open")
        # A behaviour changed while it runs (as the Behaviour dialog does) is saved too.
        greet = parse_options("greet=hi%0A", "greet=hi%0A", "tcp", for_listen=True)
        app.engine.set_behaviour("L2", greet)
        await wait_ui(pilot, lambda: "greet" in app.session.listeners["L2"].behaviour, "greet")
        await save_to(pilot, path)
        await wait_notified(pilot, f"session saved to {path}")
        # Saved again: the file exists, and it is replaced only once the user says so.
        path.write_text("# not a session\n")
        await save_to(pilot, path, offered=str(path))
        confirm = await wait_ui(
            pilot, lambda: isinstance(app.screen, ConfirmDialog) and app.screen, "the question"
        )
        assert "saved.toml exists. Replace it" in confirm.question
        await pilot.press("y")
        await wait_ui(pilot, lambda: "[[listen]]" in path.read_text(), "the file replaced")
        saved.append(state_of(app))

    with server:
        listen = [
            StartupAction(
                "listen", parse_url("tcp://127.0.0.1:0?echo=1", for_listen=True), name="echo"
            ),
            StartupAction("listen", parse_url("tcp://127.0.0.1:0", for_listen=True)),
        ]
        up = parse_url(f"tcp://127.0.0.1:{server_port}", for_listen=False)
        run_app(opened_with([*listen, StartupAction("connect", up, HELLO, "up")], MACROS), first)
        spec = load_session(path)
        assert list(spec.macros) == MACROS
        assert [item.sequence.steps for item in spec.connections if item.sequence] == [HELLO.steps]
        peer, _ = server.accept()  # the first app's connection: it said hello
        with peer:
            assert recv_exactly(peer, 7) == b"HELLO\r\n"

        async def reopened(pilot: Pilot[None]) -> None:
            app = the_app(pilot)
            await wait_listener_port(pilot, "L2")
            await wait_ui(pilot, lambda: app.session.connections.get("C1"), "C1")
            await wait_ui(pilot, lambda: app.session.connections["C1"].is_open, "C1 open")
            peer, _ = await blocking(server.accept)
            with peer:  # its sequence ran again
                assert await blocking(recv_exactly, peer, 7) == b"HELLO\r\n"
            assert state_of(app) == saved[0]
            assert app.session.names == {"L1": "echo", "C1": "up"}
            # Shown beside the ids: the listener's label and the target line.
            assert "L1 echo tcp 127.0.0.1:" in app.listeners_tree.get_node_at_line(0).label.plain
            assert app.core.target_line().target.startswith("to C1 up 127.0.0.1:")

        assert [s.name for s in spec.listeners] == ["echo", ""]
        # As `sockbench --session FILE` opens it (workbench/cli.py).
        run_app(opened_with(actions_of(spec), spec.macros), reopened)


def opened_with(startup: list[StartupAction], macros: Iterable[Macro]) -> SockbenchApp:
    bridge = EventBridge()
    engine = Engine(bridge)
    return SockbenchApp(lambda: engine, bridge, startup, macros=macros)


def test_a_session_that_cannot_be_written_says_why(tmp_path: Path) -> None:
    missing = tmp_path / "no such dir" / "s.toml"

    async def scenario(pilot: Pilot[None]) -> None:
        await wait_listener_port(pilot)
        await save_to(pilot, missing)
        await wait_notified(pilot, f"not saved: {missing}", "error")

    run_app(make_app(listen=["tcp://127.0.0.1:0"], macros=MACROS), scenario)
