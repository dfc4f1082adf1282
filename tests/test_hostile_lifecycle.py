"""A hostile look at the peer-EOF lifecycle, the target, pasted blocks and cleanup: each test
here failed on the code it was written against.

Real sockets on loopback, real peers; every wait has a timeout."""

from __future__ import annotations

import socket
from pathlib import Path

from fault_helpers import listen
from peers import Collector, connect_client, free_port, recv_exactly
from test_app_blocks import paste, with_a_peer
from textual.events import Key, Paste
from textual.pilot import Pilot
from tmux_helpers import SCREEN_TIMEOUT, Tmux
from ui_helpers import (
    blocking,
    make_app,
    run_app,
    the_app,
    type_line,
    wait_listener_port,
    wait_notified,
    wait_ui,
)

from workbench.engine import Engine
from workbench.protocol import events as ev
from workbench.ui.paste_guard import PasteSafeParser


def test_a_storm_of_one_line_clients_is_taken_quickly_by_a_half_open_listener(
    engine: Engine, events: Collector
) -> None:
    """`?max=5&halfopen=1`: each client sends a line and closes, so each connection is
    half-open with its peer's EOF, and makes room for the next one. The connections waiting
    in the backlog must come in as soon as such a peer's EOF makes room, not one wait (0.1 s)
    per five of them: 500 clients took 9 s that way, and clients that wait for an answer
    give up long before."""
    clients = 500
    _lid, port = listen(engine, events, "tcp://127.0.0.1:0?max=5&halfopen=1")
    for number in range(clients):
        with connect_client(port) as client:
            client.sendall(b"%d\n" % number)
    events.wait_until(
        lambda: len(events.of(ev.ConnectionOpened)) == clients,
        timeout=4,
        what=f"{clients} connections accepted",
    )
    assert not events.of(ev.ListenerRefused)


# --- the target ---


def test_ctrl_d_f4_f6_do_not_act_on_a_target_that_moved_there_by_itself() -> None:
    """You talk to C1; its client half-closes (nc -N) and, a moment later, you press ctrl+d
    to answer with your EOF, f4 or f6. The target has just moved to C2 by itself (the label
    flips to `(new, open)` as you press): the key ended C2, a connection you never chose.
    Typing still goes to the new target (the print-server workflow); the keys that end a
    connection wait until you choose it or send to it."""

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        with connect_client(port) as first, connect_client(port) as second:
            await wait_ui(pilot, lambda: len(app.session.open_connections()) == 2, "2 peers")
            assert app.target == "C1"
            first.sendall(b"request\n")
            first.shutdown(socket.SHUT_WR)
            await wait_ui(pilot, lambda: app.target == "C2", "C2 as the target, by itself")
            for key in ("ctrl+d", "f4", "f6"):
                await pilot.press(key)
                await wait_notified(pilot, "C2 became the target by itself")
                app.clear_notifications()
                c2 = app.session.connections["C2"]
                assert c2.can_send and c2.state == "open", f"{key} acted on C2"
            # Once you send to it, it is yours: ctrl+d sends EOF on it.
            await type_line(pilot, "hello")
            assert await blocking(recv_exactly, second, 6) == b"hello\n"
            await pilot.press("ctrl+d")
            await wait_ui(pilot, lambda: app.session.connections["C2"].local_eof, "EOF on C2")

    run_app(make_app(listen=["tcp://127.0.0.1:0?grace=30"]), scenario)


# --- pasted blocks ---


def test_typing_after_a_paste_that_ends_with_a_line_break_goes_after_the_paste() -> None:
    """The paste's final line break ends its last line and is not shown as an empty row, so
    the cursor must be at the end of that line: it was at its start, and what the user typed
    next (another header, a second paste) went before the line just pasted."""

    async def scenario(pilot: Pilot[None], peer: socket.socket) -> None:
        app = the_app(pilot)
        await paste(pilot, "GET / HTTP/1.1\nHost: x\n")
        assert app.block_composer.cursor_location == (1, 7)
        await pilot.press(*"yz")
        assert app.block_composer.lines == ["GET / HTTP/1.1", "Host: xyz"]

    with_a_peer(scenario)


def test_a_paste_with_an_escape_in_it_sends_nothing_by_itself(tmux: Tmux, tmp_path: Path) -> None:
    """A paste is text to look at before Enter. tmux's paste-buffer -p (like terminals that do
    not filter a paste) passes an ESC through; the characters after it must stay in the
    paste: Textual's parser reissued them as key presses, and the CRs among them, as Enter,
    sent the half-pasted line to the peer twice (workbench/ui/paste_guard.py)."""
    port = free_port()
    tmux.start_sockbench(tmp_path, "--listen", f"tcp://127.0.0.1:{port}")
    tmux.wait_screen("listening on tcp", "the listener")
    with socket.create_connection(("127.0.0.1", port), timeout=SCREEN_TIMEOUT) as peer:
        tmux.wait_screen("to C1", "the peer as the target")
        pasted = tmp_path / "paste.txt"
        pasted.write_bytes(b"x\x1b[A]2;PWNED\x07 y\nz\n")
        tmux.run("load-buffer", "-b", "hostile", str(pasted))
        tmux.run("paste-buffer", "-p", "-d", "-b", "hostile", "-t", "main")
        # The whole paste in the block editor, the ESC shown as an escape.
        tmux.wait_screen("2 lines", "the paste in the block editor")
        tmux.wait_screen(r"x\u001b[A]2;PWNED\u0007 y", "the paste, ESC and BEL shown")
        # Drop it, then send a marker: it must be the first thing the peer receives.
        tmux.keys("C-u")
        tmux.wait(lambda: "2 lines" not in tmux.screen(), "the block dropped")
        tmux.keys("marker", literal=True)
        tmux.keys("Enter")
        assert recv_exactly(peer, len(b"marker\n"), SCREEN_TIMEOUT) == b"marker\n"
        tmux.quit_sockbench()


HIDDEN = "a\x1b[2J b\u202eevil\u202c c\u200bd \x7f\x01\x9b"
HIDDEN_SHOWN = r"a\u001b[2J b\u202eevil\u202c c\u200bd \u007f\u0001\u009b"


def test_a_pasted_block_shows_its_controls_as_escapes_and_sends_the_bytes_pasted() -> None:
    """What a paste holds must be seen before Enter sends it: the block editor showed an
    ESC, bidi overrides, a zero-width space, DEL and C1 controls raw (invisible, or acted on
    by the terminal), and a form feed split the line in two, so a line ending was sent in its
    place. Now they show as the composer's escapes, which send exactly the bytes pasted."""

    async def scenario(pilot: Pilot[None], peer: socket.socket) -> None:
        app = the_app(pilot)
        await paste(pilot, f"{HIDDEN}\nform\x0cfeed\n")
        assert app.block_composer.lines == [HIDDEN_SHOWN, r"form\u000cfeed"]
        await pilot.press("enter")
        expected = f"{HIDDEN}\nform\x0cfeed\n".encode()
        assert await blocking(recv_exactly, peer, len(expected)) == expected

    with_a_peer(scenario)


def test_a_one_line_paste_shows_its_controls_as_escapes_and_sends_the_bytes_pasted() -> None:
    async def scenario(pilot: Pilot[None], peer: socket.socket) -> None:
        app = the_app(pilot)
        await pilot.press(*"x")
        app.post_message(Paste(HIDDEN + "\x0cz"))
        await wait_ui(pilot, lambda: app.composer.value.endswith("z"), "the paste")
        assert not app.composer.block_open, "a form feed is not a line break"
        assert app.composer.value == "x" + HIDDEN_SHOWN + r"\u000cz"
        await pilot.press("enter")
        expected = f"x{HIDDEN}\x0cz\n".encode()
        assert await blocking(recv_exactly, peer, len(expected)) == expected

    with_a_peer(scenario)


def test_a_paste_into_an_open_block_shows_its_controls_as_escapes() -> None:
    async def scenario(pilot: Pilot[None], peer: socket.socket) -> None:
        app = the_app(pilot)
        await paste(pilot, "one\ntwo\n")
        app.post_message(Paste("\u202e!"))
        await wait_ui(pilot, lambda: app.block_composer.lines[-1].endswith("!"), "the paste")
        assert app.block_composer.lines == ["one", r"two\u202e!"]
        await pilot.press("enter")
        expected = "one\ntwo\u202e!\n".encode()
        assert await blocking(recv_exactly, peer, len(expected)) == expected

    with_a_peer(scenario)


def test_no_key_comes_out_of_a_paste_wherever_the_reads_cut_it() -> None:
    """The terminal's input arrives in reads of any size: the paste's markers and the ESC in
    it may be cut anywhere, and still only the keys around the paste are keys."""
    pasted = "x\x1b[A]2;PWNED\x07 y\rz\r\x1b"
    data = f"q\x1b[200~{pasted}\x1b[201~w"
    for first in range(1, len(data)):
        for second in range(first + 1, len(data) + 1):
            parser = PasteSafeParser()
            tokens = []
            for chunk in (data[:first], data[first:second], data[second:]):
                if chunk:
                    tokens += list(parser.feed(chunk))
            keys = [t.key for t in tokens if isinstance(t, Key)]
            pastes = [t.text for t in tokens if isinstance(t, Paste)]
            assert (keys, pastes) == (["q", "w"], [pasted]), f"cut at {first} and {second}"


def test_a_paste_is_escaped_in_text_mode_only() -> None:
    """Escapes are text mode's notation; in hex or file mode a paste goes in as it is."""

    async def scenario(pilot: Pilot[None], peer: socket.socket) -> None:
        app = the_app(pilot)
        assert app.composer.pasted("a\x0cb") == r"a\u000cb"
        await pilot.press("ctrl+t")
        await wait_ui(pilot, lambda: app.core.sending.mode == "hex", "hex mode")
        assert app.composer.pasted("a\x0cb") == "a\x0cb"

    with_a_peer(scenario)
