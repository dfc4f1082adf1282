"""The palette's "Replay a recording..." in the real app (issue 18): sessions recorded
through the real engine (`sockbench run --transcript` against the seed greeting-then-close
and echo servers, in a file whose name needs quoting in a URL), then served by the app to a
Python client as a mock, and played as the client against live servers, which the Log says
answer as recorded or not. Errors in the form, in words."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from peers import (
    EchoServer,
    closed_port,
    connect_client,
    recv_exactly,
    recv_until_eof,
    short_temp_dir,
)
from test_app_palette import run_command
from test_replay import GREETING, record_three_sessions
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static
from ui_helpers import (
    blocking,
    focus,
    log_contains,
    make_app,
    notified,
    run_app,
    the_app,
    wait_listener_port,
    wait_log,
    wait_notified,
    wait_ui,
)

from workbench.log.plain_rows import ORIGIN_SYMBOL
from workbench.protocol.endpoints import parse_url
from workbench.ui.evidence_dialogs import ReplayDialog
from workbench.ui.evidence_forms import ReplayMode

# Spaces, @, #, ?, & and %: the file's name survives the listener's URL (saved sessions).
AWKWARD_NAME = "rec @1 #C9 ?a=1&b=%41.jsonl"


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """test_replay's three sessions, in a file whose name needs quoting in a URL."""
    return record_three_sessions(tmp_path_factory.mktemp("recording") / AWKWARD_NAME)


class ShoutingEchoServer(EchoServer):
    """An echo server changed since the recording: it answers in capitals."""

    def answer(self, chunk: bytes) -> bytes:
        return chunk.upper()


async def open_replay(pilot: Pilot[None]) -> ReplayDialog:
    app = the_app(pilot)
    await run_command(pilot, "replay", "Replay a recording...")
    return await wait_ui(
        pilot,
        lambda: (
            isinstance(app.screen, ReplayDialog) and app.screen.query("#address") and app.screen
        ),
        "the replay form",
    )


async def fill(
    pilot: Pilot[None], dialog: ReplayDialog, recording: str, mode: ReplayMode, address: str
) -> None:
    dialog.query_one("#recording", Input).value = recording
    dialog.query_one("#play", Select).value = mode
    await pilot.pause()  # the address follows the mode: set it after
    dialog.query_one("#address", Input).value = address
    await pilot.press("enter")


def error_of(dialog: ReplayDialog) -> str:
    error = dialog.query_one("#error", Static)
    return str(error.render()) if error.display else ""


def test_the_app_serves_a_recorded_greeting_to_a_client(recording: Path) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        dialog = await open_replay(pilot)
        assert dialog.query_one("#address", Input).value == "127.0.0.1:0"  # serve, by default
        await fill(pilot, dialog, f"{recording}@1", ReplayMode.SERVE, "127.0.0.1:0")
        await wait_notified(pilot, "L1 plays the recorded server of 1 recorded connection")
        assert notified(app, "at 127.0.0.1, on the port the Listeners pane shows")
        port = await wait_listener_port(pilot, "L1")
        listener = app.session.listeners["L1"]
        assert "replay" in listener.behaviour  # the Listeners pane's note
        client = await blocking(connect_client, port)
        with client:
            assert await blocking(recv_until_eof, client) == GREETING
        await wait_log(pilot, "replay: " + GREETING.decode().strip())  # its origin
        await wait_log(pilot, "replay: closed as recorded")
        # A second client is served the recording again.
        again = await blocking(connect_client, port)
        with again:
            assert await blocking(recv_until_eof, again) == GREETING
        # Opened as the Listen dialog opens: a saved session reopens it, the name intact.
        saved = app.main_screen.opened.listeners["L1"].endpoint
        assert parse_url(saved.url, for_listen=True).options.replay == f"{recording}@1"

    run_app(make_app(), scenario)


def test_against_a_live_echo_server_the_log_says_it_answered_as_recorded(
    recording: Path,
) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        with EchoServer() as echo:
            dialog = await open_replay(pilot)
            await fill(pilot, dialog, f"{recording}@2", ReplayMode.AGAINST, echo.url)
            await wait_notified(pilot, "C1 plays the recorded client")
            await wait_log(pilot, "replay: closed as recorded; the server sent what was recorded")
            assert not log_contains(app, "differs")
            conn = app.session.connections["C1"]
            assert conn.outgoing and conn.bytes_out == len(b"hello\nworld\n")

    run_app(make_app(), scenario)


def test_against_plays_each_recorded_connection_on_a_connection_of_its_own(
    recording: Path,
) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        with EchoServer() as echo:
            dialog = await open_replay(pilot)
            await fill(pilot, dialog, f"{recording}@3", ReplayMode.AGAINST, echo.url)
            await wait_notified(pilot, "C1, C2 play the recorded client of 2 recorded connections")
            await wait_ui(
                pilot,
                lambda: all(c.closed_at for c in app.session.connections.values()),
                "both replays to end",
            )
            assert echo.connections == 2
            assert not log_contains(app, "differs")
            sent = {c.cid: c.bytes_out for c in app.session.connections.values()}
            assert sent == {"C1": len(b"aaa\n"), "C2": len(b"bbb\n")}
        # Each opened as the Connect dialog opens one, playing its own recorded connection.
        replays = [
            spec.endpoint.options.replay for spec in app.main_screen.opened.connections.values()
        ]
        assert replays == [f"{recording}@3#C1", f"{recording}@3#C2"]

    run_app(make_app(), scenario)


def test_against_a_changed_server_the_log_says_where_it_differs(recording: Path) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        with ShoutingEchoServer() as shouting:
            dialog = await open_replay(pilot)
            await fill(pilot, dialog, f"{recording}@2", ReplayMode.AGAINST, shouting.url)
            await wait_log(pilot, "replay: differs from the recording")
            await wait_log(pilot, "recorded 'hello")
            await wait_log(pilot, "closed as recorded; the server differed from the recording")

    run_app(make_app(), scenario)


def test_a_replay_that_cannot_be_done_says_why_in_the_form(recording: Path, tmp_path: Path) -> None:
    datagrams = tmp_path / "datagrams.jsonl"

    async def record_datagrams(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.sendto(b"one datagram", ("127.0.0.1", port))
            await wait_log(pilot, "one datagram")
        assert app.session.connections

    run_app(make_app(listen=["udp://127.0.0.1:0"], transcript=str(datagrams)), record_datagrams)

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        dialog = await open_replay(pilot)
        cases = [
            (str(tmp_path / "missing.jsonl"), ReplayMode.SERVE, "127.0.0.1:0", "missing.jsonl"),
            (str(datagrams), ReplayMode.SERVE, "127.0.0.1:0", "no stream connection"),
            (str(recording), ReplayMode.SERVE, "udp://127.0.0.1:0", "datagram socket"),
            (str(recording), ReplayMode.AGAINST, "no such host:80", "Address:"),
            (str(recording), ReplayMode.AGAINST, "127.0.0.1:0", "port 0"),
            (str(recording), ReplayMode.SERVE, "tcp://127.0.0.1:0?echo=1", "do not go together"),
            (f"{recording}@0", ReplayMode.SERVE, "127.0.0.1:0", "sessions count from 1"),
            (f"{recording}#C7", ReplayMode.SERVE, "127.0.0.1:0", "C7"),
            ("", ReplayMode.SERVE, "127.0.0.1:0", "Recording: give a transcript"),
        ]
        for text, mode, address, said in cases:
            await fill(pilot, dialog, text, mode, address)
            await wait_ui(pilot, lambda s=said: s in error_of(dialog), f"{said!r} said")
            assert app.screen is dialog
        assert not app.session.listeners and not app.session.connections  # nothing opened
        # Corrected, it goes.
        port = closed_port()
        await fill(pilot, dialog, f"{recording}@2", ReplayMode.AGAINST, f"127.0.0.1:{port}")
        await wait_log(pilot, "refused")

    run_app(make_app(), scenario)


def test_the_help_of_the_composer_and_the_listeners_names_both_commands() -> None:
    from test_app_help import close_help, meaning_of, open_help_on

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        for pane in (app.listeners_tree, app.composer):
            lines = await open_help_on(pilot, pane)
            assert "Evidence, in the palette (ctrl+p)" in lines
            assert "pcapng" in meaning_of(lines, "Export capture (pcapng)...")
            assert "live server" in meaning_of(lines, "Replay a recording...")
            await close_help(pilot)
        # What its rows' replay mark means.
        assert f"marked {ORIGIN_SYMBOL} replay" in meaning_of(lines, "Replay a recording...")

    run_app(make_app(), scenario)


def test_the_app_serves_a_recorded_echo_on_a_unix_socket(recording: Path) -> None:
    """A Unix URL has no query string: the form gives the endpoint its replay= itself. A
    path alone is a Unix socket's."""
    with short_temp_dir() as where:
        path = where / "mock.sock"

        async def scenario(pilot: Pilot[None]) -> None:
            app = the_app(pilot)
            dialog = await open_replay(pilot)
            await fill(pilot, dialog, f"{recording}@2", ReplayMode.SERVE, str(path))
            await wait_notified(pilot, f"at {path}")
            await wait_ui(pilot, lambda: "L1" in app.session.listeners, "the listener")
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.settimeout(5)
            with client:
                await blocking(client.connect, str(path))
                client.sendall(b"hello\n")
                assert await blocking(recv_exactly, client, 6) == b"hello\n"
                client.sendall(b"world\n")
                client.shutdown(socket.SHUT_WR)
                assert await blocking(recv_until_eof, client) == b"world\n"
            await wait_log(pilot, "replay: closed as recorded")
            assert not log_contains(app, "differs")

        run_app(make_app(), scenario)


def test_the_behaviour_dialog_shows_a_replay_and_keeps_its_pace(recording: Path) -> None:
    """A listener replaying at the recorded pace, given a greeting in the Behaviour dialog,
    goes on replaying at that pace: the dialog shows the replay and keeps what it does not
    show."""
    from urllib.parse import quote

    from test_app_behaviours import open_behaviour_dialog

    url = f"tcp://127.0.0.1:0?replay={quote(f'{recording}@1')}&replay-pace=recorded"

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await wait_listener_port(pilot)
        dialog = await open_behaviour_dialog(pilot)
        assert dialog.query_one("#behaviour", Select).value == "replay"
        assert dialog.query_one("#behaviour-argument", Input).value == f"{recording}@1"
        dialog.query_one("#greet", Input).value = "hi\\n"
        await focus(pilot, dialog.query_one("#greet", Input))
        await pilot.press("enter")
        await wait_log(pilot, "behaviour now:")
        behaviour = app.session.listeners["L1"].behaviour
        assert "replay-pace=recorded" in behaviour and "greet=hi" in behaviour, behaviour

    run_app(make_app(listen=[url]), scenario)
