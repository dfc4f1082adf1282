"""Cleaning up in one step (f9's menu, ctrl+l, the palette): close the ended connections and
clear the closed rows, close a listener's connections, close everything, unmark all, clear
the Log. The real app, driven with Pilot against plain Python socket peers on loopback."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from peers import DEFAULT_TIMEOUT, connect_client, recv_exactly, recv_until_eof
from textual.command import CommandPalette
from textual.pilot import Pilot
from ui_helpers import (
    focus,
    log_contains,
    make_app,
    run_app,
    the_app,
    wait_listener_port,
    wait_log,
    wait_notified,
    wait_ui,
)

from workbench.protocol import events as ev
from workbench.protocol.endpoints import parse_url
from workbench.session.model import ConnectionInfo, Session
from workbench.ui.app import SockbenchApp
from workbench.ui.cleanup import CleanupMenu, ListenerChoice
from workbench.ui.dialogs import ConfirmDialog
from workbench.ui.palette import session_commands

TCP_LISTENER = "tcp://127.0.0.1:0"


@contextmanager
def clients() -> Iterator[list[socket.socket]]:
    """Client sockets made in a test, closed at its end."""
    made: list[socket.socket] = []
    try:
        yield made
    finally:
        for sock in made:
            sock.close()


async def connect_to(
    pilot: Pilot[None], made: list[socket.socket], lid: str = "L1"
) -> tuple[socket.socket, str]:
    """A client of listener `lid`, once the app lists it: (socket, its connection id)."""
    app = the_app(pilot)
    port = await wait_listener_port(pilot, lid)
    client = connect_client(port)
    made.append(client)
    where = f"127.0.0.1:{client.getsockname()[1]}"

    def accepted() -> ConnectionInfo | None:
        conns = app.session.connections.values()
        return next((c for c in conns if c.remote == where and c.is_open), None)

    conn = await wait_ui(pilot, accepted, f"the connection from {where}")
    return client, conn.cid


def conn(app: SockbenchApp, cid: str) -> ConnectionInfo | None:
    return app.session.connections.get(cid)


def is_closed(app: SockbenchApp, cid: str) -> bool:
    info = conn(app, cid)
    return info is None or info.closed_at is not None


async def still_open(pilot: Pilot[None], client: socket.socket, cid: str) -> None:
    """A round trip through connection `cid`: the app sends, the peer receives (a closed
    connection would end the peer's stream instead)."""
    app = the_app(pilot)
    info = conn(app, cid)
    assert info is not None and info.is_open, f"{cid} is not open"
    note = f"still {cid}\n".encode()
    app.engine.send(cid, note)
    assert await asyncio.to_thread(recv_exactly, client, len(note), DEFAULT_TIMEOUT) == note


async def peer_sees_eof(client: socket.socket) -> None:
    await asyncio.to_thread(recv_until_eof, client, DEFAULT_TIMEOUT)


async def open_menu(pilot: Pilot[None]) -> CleanupMenu:
    app = the_app(pilot)
    await pilot.press("f9")
    await wait_ui(pilot, lambda: isinstance(app.screen, CleanupMenu), "the clean-up menu")
    await pilot.pause()
    assert isinstance(app.screen, CleanupMenu)
    return app.screen


async def choose(pilot: Pilot[None], letter: str) -> None:
    """f9, then `letter`: the menu closes."""
    app = the_app(pilot)
    await open_menu(pilot)
    await pilot.press(letter)
    await wait_ui(pilot, lambda: not isinstance(app.screen, CleanupMenu), "the menu closed")


async def question(pilot: Pilot[None]) -> str:
    app = the_app(pilot)
    await wait_ui(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the question")
    screen = app.screen
    assert isinstance(screen, ConfirmDialog)
    return screen.question


async def no_question_asked(pilot: Pilot[None]) -> None:
    app = the_app(pilot)
    await pilot.pause()
    assert not isinstance(app.screen, ConfirmDialog), "asked although nothing live closes"


async def answer(pilot: Pilot[None], key: str) -> None:
    app = the_app(pilot)
    await pilot.press(key)
    await wait_ui(pilot, lambda: not isinstance(app.screen, ConfirmDialog), "the answer")


# --- close ended connections ---


def test_e_closes_the_half_closed_connections_and_clears_the_closed_rows() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        with clients() as made:
            gone, gone_id = await connect_to(pilot, made)
            peer_eof, peer_eof_id = await connect_to(pilot, made)
            our_eof, our_eof_id = await connect_to(pilot, made)
            live, live_id = await connect_to(pilot, made)
            gone.close()
            await wait_ui(pilot, lambda: is_closed(app, gone_id), "the first one closed")
            peer_eof.shutdown(socket.SHUT_WR)
            await wait_ui(pilot, lambda: conn(app, peer_eof_id).peer_eof, "the peer's EOF")
            app.engine.half_close(our_eof_id)
            await wait_ui(pilot, lambda: conn(app, our_eof_id).local_eof, "our EOF")
            assert app.connections_table.row_count == 4

            await choose(pilot, "e")
            await no_question_asked(pilot)
            await peer_sees_eof(our_eof)
            await peer_sees_eof(peer_eof)
            await wait_ui(
                pilot, lambda: set(app.session.connections) == {live_id}, "only the live one"
            )
            await wait_ui(pilot, lambda: app.connections_table.row_count == 1, "one row")
            tree = app.listeners_tree
            peers = [node.data for node in tree.root.children[0].children]
            assert peers == [live_id]
            assert "(1 open)" in str(tree.root.children[0].label)
            await still_open(pilot, live, live_id)
            assert log_contains(app, "closed by you")  # the Log keeps their records

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


def test_e_with_nothing_ended_changes_nothing() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        with clients() as made:
            live, live_id = await connect_to(pilot, made)
            menu = await open_menu(pilot)
            assert menu.query_one("#cleanup-options").get_option("ended").disabled
            await pilot.press("e")  # a disabled entry: the menu stays
            await pilot.pause()
            assert app.screen is menu
            await pilot.press("escape")
            await wait_ui(pilot, lambda: not isinstance(app.screen, CleanupMenu), "cancelled")
            await still_open(pilot, live, live_id)

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


# --- close the connections of a listener ---


def test_l_asks_then_closes_the_connections_of_the_selected_listener_only() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        with clients() as made:
            await wait_listener_port(pilot, "L1")
            app.engine.listen(parse_url(TCP_LISTENER, for_listen=True))
            first, first_id = await connect_to(pilot, made, "L1")
            second, second_id = await connect_to(pilot, made, "L1")
            ended, ended_id = await connect_to(pilot, made, "L1")
            other, other_id = await connect_to(pilot, made, "L2")
            app.engine.half_close(ended_id)
            await wait_ui(pilot, lambda: conn(app, ended_id).local_eof, "our EOF")
            # The selected listener: the one of the connection under the table's cursor.
            table = app.connections_table
            await focus(pilot, table)
            table.move_cursor(row=table.get_row_index(second_id))
            await wait_ui(pilot, lambda: table.selected_id() == second_id, "the table cursor")

            await choose(pilot, "l")
            asked = await question(pilot)
            assert "Close 2 open connections and 1 half-closed of listener L1" in asked
            await answer(pilot, "n")
            for client, cid in ((first, first_id), (second, second_id), (other, other_id)):
                await still_open(pilot, client, cid)
            assert conn(app, ended_id).is_open

            await choose(pilot, "l")
            await question(pilot)
            await answer(pilot, "y")
            for client in (first, second, ended):
                await peer_sees_eof(client)
            await wait_ui(
                pilot,
                lambda: all(is_closed(app, c) for c in (first_id, second_id, ended_id)),
                "L1's connections closed",
            )
            assert set(app.session.listeners) == {"L1", "L2"}  # the listeners stay
            await still_open(pilot, other, other_id)

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


def test_l_without_a_selected_listener_asks_which_one() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        with clients() as made:
            await wait_listener_port(pilot, "L1")
            app.engine.listen(parse_url(TCP_LISTENER, for_listen=True))
            one, one_id = await connect_to(pilot, made, "L1")
            two, two_id = await connect_to(pilot, made, "L2")
            await focus(pilot, app.composer)  # no pane: no listener is selected

            await choose(pilot, "l")
            await wait_ui(pilot, lambda: isinstance(app.screen, ListenerChoice), "the choice")
            await pilot.press("down", "enter")  # L2
            asked = await question(pilot)
            assert "Close 1 open connection of listener L2" in asked
            await answer(pilot, "y")
            await peer_sees_eof(two)
            await wait_ui(pilot, lambda: is_closed(app, two_id), "L2's connection closed")
            await still_open(pilot, one, one_id)

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


def test_l_closes_only_half_closed_connections_without_asking() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        with clients() as made:
            ended, ended_id = await connect_to(pilot, made)
            app.engine.half_close(ended_id)
            await wait_ui(pilot, lambda: conn(app, ended_id).local_eof, "our EOF")
            await choose(pilot, "l")  # the only listener
            await no_question_asked(pilot)
            await peer_sees_eof(ended)
            await wait_ui(pilot, lambda: is_closed(app, ended_id), "the connection closed")
            assert "L1" in app.session.listeners

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


# --- close everything ---


def test_a_asks_then_closes_every_connection_and_listener() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        with clients() as made, socket.create_server(("127.0.0.1", 0)) as server:
            peer, peer_id = await connect_to(pilot, made)
            port = server.getsockname()[1]
            out_id = app.engine.connect(parse_url(f"tcp://127.0.0.1:{port}", for_listen=False))
            remote, _ = await asyncio.to_thread(server.accept)
            made.append(remote)
            remote.settimeout(DEFAULT_TIMEOUT)
            await wait_ui(pilot, lambda: (c := conn(app, out_id)) and c.is_open, "connected")

            await choose(pilot, "a")
            asked = await question(pilot)
            assert asked == "Close everything: 2 open connections and 1 listener?"
            await answer(pilot, "n")
            await still_open(pilot, peer, peer_id)
            await still_open(pilot, remote, out_id)
            assert "L1" in app.session.listeners

            await choose(pilot, "a")
            await question(pilot)
            await answer(pilot, "y")
            await peer_sees_eof(peer)
            await peer_sees_eof(remote)
            await wait_ui(pilot, lambda: not app.session.listeners, "the listener closed")
            await wait_ui(
                pilot, lambda: not app.session.open_connections(), "every connection closed"
            )
            # Nothing was closed twice (that would say "cannot close" in the Log).
            assert not log_contains(app, "cannot close")

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


def test_a_with_no_live_connection_closes_without_asking() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        with clients() as made:
            ended, ended_id = await connect_to(pilot, made)
            app.engine.half_close(ended_id)
            await wait_ui(pilot, lambda: conn(app, ended_id).local_eof, "our EOF")
            await choose(pilot, "a")
            await no_question_asked(pilot)
            await peer_sees_eof(ended)
            await wait_ui(pilot, lambda: not app.session.listeners, "the listener closed")
            await wait_ui(pilot, lambda: is_closed(app, ended_id), "the connection closed")

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


# --- unmark all, clear the Log ---


def test_u_unmarks_every_connection() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        with clients() as made:
            _, one = await connect_to(pilot, made)
            _, two = await connect_to(pilot, made)
            app.main_screen.toggle_mark(one)
            app.main_screen.toggle_mark(two)
            assert app.core.marked == {one, two}
            await choose(pilot, "u")
            await no_question_asked(pilot)
            assert app.core.marked == set()
            assert app.connections_table.marked == set()
            await wait_notified(pilot, "unmarked 2 connections")

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


def test_ctrl_l_in_the_composer_clears_the_log_not_the_transcript(tmp_path: Path) -> None:
    transcript = tmp_path / "session.jsonl"
    seen: list[str] = []

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        log = app.log_view
        with clients() as made:
            client, cid = await connect_to(pilot, made)
            client.sendall(b"before the clear\n")
            await wait_log(pilot, "before the clear")
            await focus(pilot, app.composer)
            await pilot.press("ctrl+l")
            await wait_ui(pilot, lambda: log.row_count() == 0, "an empty Log")
            assert "earlier records dropped" in str(log.border_subtitle)
            await wait_notified(pilot, "cleared the Log")
            client.sendall(b"after the clear\n")
            await wait_log(pilot, "after the clear")
            assert not log_contains(app, "before the clear")
            assert log.following
            # f9's c does the same.
            await choose(pilot, "c")
            await wait_ui(pilot, lambda: log.row_count() == 0, "an empty Log again")
            await still_open(pilot, client, cid)
        seen.append(cid)

    run_app(make_app(listen=[TCP_LISTENER], transcript=str(transcript)), scenario)
    received = b""
    for line in transcript.read_text().splitlines():
        record = json.loads(line)
        if record["event"] == "data" and record["conn"] == seen[0] and record["dir"] == "in":
            received += base64.b64decode(record["data"])
    assert received == b"before the clear\nafter the clear\n"


# --- the palette ---


def test_the_palette_lists_the_clean_up_commands_and_runs_them() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        with clients() as made:
            live, live_id = await connect_to(pilot, made)
            titles = [str(c.title) for c in session_commands(app.main_screen)]
            for title in (
                "Clean up...",
                "Close ended connections",
                "Close everything",
                "Unmark all",
                "Clear the Log",
            ):
                assert title in titles
            assert any(t.startswith("Close the connections of L1 (tcp 127.0.0.1:") for t in titles)

            await pilot.press("ctrl+p")
            await wait_ui(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
            await pilot.press(*"Close everything")
            await pilot.pause(0.2)
            await pilot.press("enter")
            asked = await question(pilot)
            assert asked == "Close everything: 1 open connection and 1 listener?"
            await answer(pilot, "n")
            await still_open(pilot, live, live_id)

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


# --- the session ---


def test_the_session_forgets_only_closed_connections_and_their_place_under_a_listener() -> None:
    session = Session()
    session.apply([ev.ListenerOpened(1.0, "L1", "tcp://127.0.0.1:1", ("127.0.0.1:1",))])
    session.apply([ev.ConnectionOpened(2.0, f"C{n}", "L1", "a", "b") for n in (1, 2, 3)])
    session.apply([ev.ConnectionOpened(2.0, "C4", None, "a", "b")])
    session.apply([ev.ConnectionClosed(3.0, cid, "closed by peer") for cid in ("C1", "C3", "C4")])
    assert session.forget_closed(["C1", "C2"]) == ["C1"]  # C2 is open: it stays
    assert set(session.connections) == {"C2", "C3", "C4"}
    assert session.listeners["L1"].peers == ["C2", "C3"]
    assert session.forget_closed() == ["C3", "C4"]
    assert set(session.connections) == {"C2"}
    assert session.listeners["L1"].peers == ["C2"]
    assert session.forget_closed() == []
    # Forgotten ones are not pruned again later (the count of closed ones starts afresh).
    session.apply([ev.ConnectionClosed(4.0, "C2", "closed by you")])
    assert session.forget_closed() == ["C2"] and not session.connections
