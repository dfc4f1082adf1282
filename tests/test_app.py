"""The real app, driven with Pilot against real peers on loopback."""

from __future__ import annotations

import json
import shutil
import socket

import pytest
from peers import (
    EchoServer,
    GreetingServer,
    RecordingServer,
    abort,
    connect_client,
    http_server,
    ncat_client,
    recv_exactly,
    recv_until_eof,
    socat_client,
    unanswering_listener,
)
from textual.pilot import Pilot
from textual.widgets import Input, Static
from ui_helpers import (
    blocking,
    focus,
    log_text,
    make_app,
    run_app,
    the_app,
    type_line,
    wait_listener_port,
    wait_log,
    wait_notified,
    wait_open_connection,
    wait_ui,
)

from workbench.ui.dialogs import ConfirmDialog, ConnectDialog, ListenDialog


async def put_tree_cursor_on(pilot: Pilot[None], tree, item: str) -> None:
    """Move the Listeners tree's cursor to `item`, as arrow keys would. A label refresh
    invalidates the tree's line numbers until its next layout, so retry until it lands."""

    def landed() -> bool:
        node = next(
            n
            for listener in tree.root.children
            for n in (listener, *listener.children)
            if n.data == item
        )
        tree.move_cursor(node)
        return tree.cursor_node is not None and tree.cursor_node.data == item

    await wait_ui(pilot, landed, f"the tree cursor on {item}")


def peer_client_for_this_machine():  # pragma: no cover - chooses what is installed
    if shutil.which("socat"):
        return socat_client
    if shutil.which("ncat"):
        return ncat_client
    pytest.skip("neither socat nor ncat is installed (apt-get install socat ncat)")


def test_composer_has_focus_and_no_target_at_start() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        assert app.focused is app.composer
        await type_line(pilot, "hello")
        error = app.query_one("#composer-error")
        assert error.display
        assert "no target" in str(error.render())

    run_app(make_app(), scenario)


def test_after_first_screen_runs_once_laid_out_and_before_the_engine_starts() -> None:
    seen: list[tuple[bool, bool]] = []

    def after_first_screen() -> None:  # `app` is bound below, before it runs
        engine_running = bool(app.engine._thread and app.engine._thread.is_alive())
        seen.append((app.listeners_tree.region.width > 0, engine_running))

    async def scenario(pilot: Pilot[None]) -> None:
        await wait_listener_port(pilot)  # the engine started after the hook
        assert seen == [(True, False)]
        assert app.engine._thread is not None and app.engine._thread.is_alive()

    app = make_app(listen=["tcp://127.0.0.1:0"], after_first_screen=after_first_screen)
    run_app(app, scenario)


def test_listen_dialog_python_and_socat_clients_type_to_each() -> None:
    """Open a listener from the dialog; a Python client and a socat/ncat client connect and
    appear under it; the composer reaches the chosen peer; its reply shows in the Log."""
    client_of = peer_client_for_this_machine()

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await pilot.press("f2")
        assert isinstance(app.screen, ListenDialog)
        await pilot.press("enter")  # host 127.0.0.1, port 0: the defaults
        port = await wait_listener_port(pilot)
        python_peer = connect_client(port)
        first = await wait_open_connection(pilot)
        with client_of(port) as tool_peer:
            second = await wait_open_connection(pilot, lambda c: c.cid != first.cid)
            tree = app.listeners_tree
            await wait_ui(pilot, lambda: len(tree.root.children[0].children) == 2, "2 peers")
            assert [n.data for n in tree.root.children[0].children] == [first.cid, second.cid]

            # The first peer to connect became the target.
            assert app.target == first.cid
            await type_line(pilot, r"hello python\x21")
            assert await blocking(recv_exactly, python_peer, 14) == b"hello python!\n"

            # Choose the other peer in the Connections pane, type to it.
            table = app.connections_table
            await focus(pilot, table)
            table.move_cursor(row=table.get_row_index(second.cid))
            await pilot.press("enter")
            assert app.target == second.cid
            assert app.focused is app.composer
            await type_line(pilot, "hello tool")
            assert await blocking(tool_peer.wait_output, 11) == b"hello tool\n"

            tool_peer.send(b"reply from the tool\n")
            await wait_log(pilot, "← reply from the tool\\n")
            python_peer.sendall(b"reply from python\n")
            await wait_log(pilot, "← reply from python\\n")
        python_peer.close()

    run_app(make_app(), scenario)


def test_listener_shows_what_a_client_sends_with_its_address() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        client_address = "{}:{}".format(*client.getsockname())
        client.sendall(b"GET /status\r\n")
        await wait_log(pilot, f"accepted {client_address} on 127.0.0.1:{port} (L1)")
        await wait_log(pilot, "← GET /status\\r\\n")
        conn = await wait_open_connection(pilot)
        assert conn.remote == client_address
        await wait_ui(pilot, lambda: conn.bytes_in == 13, "13 bytes counted in")
        client.close()
        await wait_log(pilot, "peer sent EOF; closing in 0.5 s")
        await wait_log(pilot, "closed after the peer's EOF")

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario)


def test_connect_to_an_echo_server_and_see_the_echo() -> None:
    with EchoServer() as echo:

        async def scenario(pilot: Pilot[None]) -> None:
            await wait_open_connection(pilot)
            await type_line(pilot, "echo me")
            await wait_log(pilot, "→ echo me\\n")
            await wait_log(pilot, "← echo me\\n")

        run_app(make_app(connect=[echo.url]), scenario)


def test_connect_from_the_dialog_and_send_an_http_request_with_escapes() -> None:
    with http_server() as server:

        async def scenario(pilot: Pilot[None]) -> None:
            app = the_app(pilot)
            await pilot.press("f3")
            dialog = app.screen
            assert isinstance(dialog, ConnectDialog)
            dialog.query_one("#address", Input).value = str(server.port)
            await pilot.press("enter")
            await wait_open_connection(pilot)
            # Typed key by key, backslashes and all; Enter adds the final LF.
            await pilot.press(*r"GET /hello.txt HTTP/1.0\r\nHost: 127.0.0.1\r\n\r")
            await pilot.press("enter")
            await wait_log(pilot, "← HTTP/1.0 200 OK\\r\\n")
            await wait_log(pilot, "hello from sockbench's test http server\\n")
            await wait_log(pilot, "closed after the peer's EOF")

        run_app(make_app(), scenario)


def test_connections_table_counts_messages_and_shows_the_current_rate() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        table = app.connections_table
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        conn = await wait_open_connection(pilot)

        def cell(column: str) -> str:
            return str(table.get_cell(conn.cid, column))

        assert (cell("msgs"), cell("rate")) == ("0/0", "-")
        for n in range(3):  # three reads: each waits for the one before to be counted
            client.sendall(b"x" * 1000)
            await wait_ui(pilot, lambda n=n: conn.chunks_in == n + 1, f"read {n + 1}")
        await type_line(pilot, "one reply")
        await wait_ui(pilot, lambda: cell("msgs") == "3/1", "3 reads in, 1 send out")
        # The rate is of the last whole second: shown once it ended, gone a second later.
        await wait_ui(pilot, lambda: cell("rate").endswith("/s"), "a rate", timeout=4)
        shown = cell("rate").removesuffix("/s")  # "1000B" or "2.9K": some of the 3,010 bytes
        value = float(shown[:-1]) * {"B": 1, "K": 1024}[shown[-1]]
        assert 10 <= value <= 3010 * 1.05, shown
        await wait_ui(pilot, lambda: cell("rate") == "-", "the rate back to -", timeout=4)
        client.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario)


def test_a_rate_shown_by_the_refresh_each_second_widens_its_column() -> None:
    now = [0.0]  # the app's clock: the table asks it for the current second

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        table = app.connections_table
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        conn = await wait_open_connection(pilot)
        client.sendall(b"x" * 1000)
        await wait_ui(pilot, lambda: conn.bytes_in == 1000, "the bytes")
        assert str(table.get_cell(conn.cid, "rate")) == "-"  # as of the clock's second 0
        now[0] = conn.last_activity + 1  # the second after: the 1,000 bytes are its rate
        app.main_screen.refresh_ages()
        await pilot.pause()
        shown = str(table.get_cell(conn.cid, "rate"))
        assert shown == "1000B/s"
        assert table.columns["rate"].content_width >= len(shown), "cut to fit the column"  # type: ignore[index]
        client.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"], clock=lambda: now[0]), scenario)


def test_greeting_then_close_shows_the_greeting_and_closed_by_peer() -> None:
    with GreetingServer(b"220 welcome to the test server\r\n") as server:

        async def scenario(pilot: Pilot[None]) -> None:
            await wait_log(pilot, "← 220 welcome to the test server\\r\\n")
            await wait_log(pilot, "peer sent EOF; closing in 0.5 s")
            await wait_log(pilot, "closed after the peer's EOF")
            app = the_app(pilot)
            conn = app.session.connections["C1"]
            assert conn.peer_eof and conn.state == "closed"
            assert "closed after the peer" in str(app.connections_table.get_cell("C1", "state"))
            # The target leaves with it, and the composer's label says so.
            assert app.target is None
            assert str(app.main_screen.widget("target", Static).render()) == "no target: C1 closed"

        run_app(make_app(connect=[server.url]), scenario)


def test_two_clients_on_one_listener_type_to_each_in_turn() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        alice, bob = connect_client(port), connect_client(port)
        first = await wait_open_connection(pilot)
        second = await wait_open_connection(pilot, lambda c: c.cid != first.cid)
        by_port = {alice.getsockname()[1]: alice, bob.getsockname()[1]: bob}
        first_sock = by_port[int(first.remote.rsplit(":", 1)[1])]
        second_sock = by_port[int(second.remote.rsplit(":", 1)[1])]
        tree = app.listeners_tree
        await wait_ui(pilot, lambda: len(tree.root.children[0].children) == 2, "2 peers")

        for turn in range(2):
            for conn, sock in ((first, first_sock), (second, second_sock)):
                # Choose the peer in the Listeners tree.
                await focus(pilot, tree)
                await put_tree_cursor_on(pilot, tree, conn.cid)
                await pilot.press("enter")
                assert app.target == conn.cid
                line = f"turn {turn} for {conn.cid}"
                await type_line(pilot, line)
                got = await blocking(recv_exactly, sock, len(line) + 1)
                assert got == (line + "\n").encode()
        alice.close()
        bob.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario)


HOSTILE = (
    b"\x1b]2;pwned-title\x07"  # OSC window title
    b"\x1b[2J\x1b[H"  # clear screen, cursor home
    b"\x1b[31mred\x1b[0m"  # SGR colour
    b"\xc2\x9b31m"  # C1 CSI (U+009B)
    b"\x9b"  # a raw C1 byte, invalid UTF-8
    b" [/bold] [@click=app.quit]x[/] [link=http://x]y[/link]"
    b" \xe2\x80\xaeevil\xe2\x80\x8b"  # bidi override, zero-width space
    b"\xff\xfe\x00\r\n"
)


def test_hostile_payload_is_shown_escaped_and_the_app_stays_up() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        client.sendall(HOSTILE)
        await wait_log(pilot, "\\x1b]2;pwned-title\\x07")
        row = next(r for r in log_text(app) if "pwned-title" in r)
        for visible in (
            "\\x1b[2J\\x1b[H",
            "\\x1b[31mred\\x1b[0m",
            "\\u009b31m",
            "\\x9b",
            "[/bold] [@click=app.quit]x[/] [link=http://x]y[/link]",
            "\\u202eevil\\u200b",
            "\\xff\\xfe\\x00\\r\\n",
        ):
            assert visible in row
        assert not any(ch in row for ch in "\x1b\x07\x9b\u202e\u200b\x00\r")
        # Still running and answering keys.
        await pilot.press("f2")
        assert isinstance(app.screen, ListenDialog)
        await pilot.press("escape")
        assert app.is_running
        client.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario)


def test_port_in_use_is_reported_and_the_app_keeps_running() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        async def scenario(pilot: Pilot[None]) -> None:
            app = the_app(pilot)
            await wait_log(pilot, f"127.0.0.1:{port} is already in use")
            await wait_notified(pilot, "already in use")
            assert not app.session.listeners
            await pilot.press("f2")
            await pilot.press("enter")
            await wait_listener_port(pilot, "L2")

        run_app(make_app(listen=[f"tcp://127.0.0.1:{port}"]), scenario)


def test_refused_and_unknown_host_show_why_in_plain_words() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await wait_log(pilot, f"connection refused by 127.0.0.1:{closed}")
        await pilot.press("f3")
        dialog = app.screen
        dialog.query_one("#address", Input).value = "no-such-host.invalid:80"
        await pilot.press("enter")
        await wait_log(pilot, "host not found: 'no-such-host.invalid'")
        states = [str(app.connections_table.get_cell(c, "state")) for c in ("C1", "C2")]
        assert "refused" in states[0] and "host not found" in states[1]

    run_app(make_app(connect=[f"tcp://127.0.0.1:{closed}"]), scenario)


def test_dialog_rejects_bad_input_inline() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await pilot.press("f3")
        dialog = app.screen
        dialog.query_one("#address", Input).value = "bad_host! 80"
        await pilot.press("enter")
        assert isinstance(app.screen, ConnectDialog)
        assert "not a host name" in str(dialog.query_one("#error").render())
        dialog.query_one("#address", Input).value = "127.0.0.1:0"
        await pilot.press("enter")
        assert "port 0 can only be used to listen" in str(dialog.query_one("#error").render())
        await pilot.press("escape")
        assert not isinstance(app.screen, ConnectDialog)
        assert not app.session.connections

    run_app(make_app(), scenario)


def test_cancel_a_pending_connect() -> None:
    with unanswering_listener() as port:

        async def scenario(pilot: Pilot[None]) -> None:
            app = the_app(pilot)
            await wait_ui(pilot, lambda: "C1" in app.session.connections, "connecting C1")
            assert app.session.connections["C1"].state == "connecting"
            await focus(pilot, app.connections_table)
            await pilot.press("f4")
            await wait_log(pilot, "connect cancelled")
            assert app.session.connections["C1"].state == "failed"

        run_app(make_app(connect=[f"tcp://127.0.0.1:{port}"]), scenario)


def test_send_eof_keeps_reading_then_close() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        await wait_open_connection(pilot)
        await type_line(pilot, "last words")
        await pilot.press("ctrl+d")
        assert await blocking(recv_until_eof, client) == b"last words\n"
        await wait_log(pilot, "you sent EOF")
        client.sendall(b"still talking\n")  # we keep reading after our EOF
        await wait_log(pilot, "← still talking\\n")
        await type_line(pilot, "too late")
        assert "not sent: you already sent EOF on C1" in str(
            app.query_one("#composer-error").render()
        )
        await pilot.press("f4")
        await wait_log(pilot, "closed by you")
        assert app.session.connections["C1"].state == "closed"
        client.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario)


def test_eof_both_ways_closes_the_connection() -> None:
    with RecordingServer(reply=b"ready\n") as server:

        async def scenario(pilot: Pilot[None]) -> None:
            app = the_app(pilot)
            await wait_log(pilot, "← ready\\n")
            await pilot.press("ctrl+d")
            await blocking(server.wait_for_eof)
            await wait_log(pilot, "closed by both sides")
            await type_line(pilot, "nobody listens")
            error = str(app.query_one("#composer-error").render())
            assert error.startswith("no target (C1 closed)")

        run_app(make_app(connect=[server.url]), scenario)


def test_peer_reset_is_shown() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        client.sendall(b"before the reset\n")
        await wait_log(pilot, "← before the reset\\n")
        abort(client)
        await wait_log(pilot, "reset by peer")
        assert app.session.connections["C1"].error
        await wait_notified(pilot, "reset by peer")

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario)


def test_close_listener_asks_first_then_closes_its_peers() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        await wait_open_connection(pilot)
        tree = app.listeners_tree
        await focus(pilot, tree)
        await put_tree_cursor_on(pilot, tree, "L1")
        await pilot.press("f4")
        assert isinstance(app.screen, ConfirmDialog)
        assert "1 open peer" in app.screen.question
        await pilot.press("n")
        assert "L1" in app.session.listeners
        await pilot.press("f4")
        await pilot.press("y")
        await wait_log(pilot, "listener closed (closed by you)")
        assert await blocking(recv_until_eof, client) == b""
        await wait_log(pilot, "closed with listener L1")
        with pytest.raises(ConnectionRefusedError):
            connect_client(port).close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario)


def test_composer_escapes_errors_and_history() -> None:
    with RecordingServer() as server:

        async def scenario(pilot: Pilot[None]) -> None:
            app = the_app(pilot)
            await wait_open_connection(pilot)
            await type_line(pilot, r"bad \q escape")
            assert "\\q" in str(app.query_one("#composer-error").render())
            assert app.composer.value == r"bad \q escape"  # kept for fixing
            await type_line(pilot, r"one\ttab\x00\\")
            await type_line(pilot, "two")
            assert await blocking(server.wait_for_bytes, 14) == b"one\ttab\x00\\\ntwo\n"
            await pilot.press("up")
            assert app.composer.value == "two"
            await pilot.press("up")
            assert app.composer.value == r"one\ttab\x00\\"
            await pilot.press("down", "down")
            assert app.composer.value == ""

        run_app(make_app(connect=[server.url]), scenario)


def test_a_long_line_scrolls_in_the_composer_and_a_key_clears_the_error() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await pilot.press("enter")  # no target yet: an error under the composer
        error = app.query_one("#composer-error")
        assert error.display and "no target" in str(error.render())
        line = "".join(f"{index:03d}," for index in range(60))  # 240 characters
        await pilot.press(*line)
        await pilot.pause()
        assert not error.display  # cleared by the first key
        composer = app.composer
        assert composer.value == line
        assert composer.scroll_x > 0
        shown = "".join(segment.text for segment in composer.render_line(0))
        assert "058,059," in shown and "000," not in shown  # the end, where the cursor is

    run_app(make_app(), scenario)


def test_quit_closes_every_socket_and_completes_the_transcript(tmp_path) -> None:
    transcript = tmp_path / "session.jsonl"
    client_holder: list[socket.socket] = []

    async def scenario(pilot: Pilot[None]) -> None:
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        client_holder.append(client)
        client.sendall(b"\x00\x01binary\xff")
        await wait_log(pilot, "binary")
        await type_line(pilot, "bye")
        await blocking(recv_exactly, client, 4)
        await pilot.press("ctrl+q")

    app = make_app(listen=["tcp://127.0.0.1:0"], transcript=str(transcript))
    run_app(app, scenario)
    assert app.return_code == 0
    assert recv_until_eof(client_holder[0]) == b""
    client_holder[0].close()
    records = [json.loads(line) for line in transcript.read_text().splitlines()]
    closes = [r for r in records if r["event"] == "close"]
    assert {r["conn"] for r in closes} == {"L1", "C1"}
    assert records[-1]["event"] == "close"


def test_log_is_a_bounded_virtual_view() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        # Datagrams: one record each, whatever the timing.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            for index in range(300):
                client.sendto(b"line %d\n" % index, ("127.0.0.1", port))
            conn = await wait_open_connection(pilot)
            await wait_ui(pilot, lambda: conn.bytes_in == 2590, "all 2590 bytes counted")
        log = app.log_view
        assert len(log.model.store) == 100  # the bound
        assert log.model.records_dropped == 302 - 100  # listening, new peer, 300 datagrams
        assert "202 earlier records dropped" in str(log.border_subtitle)
        assert log_text(app)[-1].endswith("← line 299\\n")

    # A large receive buffer: 300 datagrams at once must not overflow the default one.
    app = make_app(listen=["udp://127.0.0.1:0?rcvbuf=4194304"], log_max_rows=100)
    run_app(app, scenario)


def test_traffic_keeps_flowing_into_the_panes_while_a_dialog_is_open() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        await pilot.press("f3")
        assert isinstance(app.screen, ConnectDialog)
        client = connect_client(port)
        client.sendall(b"while you were typing\n")
        await wait_ui(pilot, lambda: app.session.connections.get("C1"), "C1 accepted")
        await wait_log(pilot, "while you were typing")
        assert isinstance(app.screen, ConnectDialog)
        await pilot.press("escape")
        assert app.connections_table.row_count == 1
        client.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario)


def test_log_follows_new_rows_until_the_user_scrolls_up() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        log = app.log_view
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        client.sendall(b"".join(b"first %d\n" % i for i in range(200)))
        await wait_log(pilot, "first 199")
        try:
            await wait_ui(pilot, lambda: log.scroll_y == log.max_scroll_y > 0, "the end")
        except AssertionError:
            raise AssertionError(f"{log.following=} {log.scroll_y=} {log.max_scroll_y=}") from None
        await focus(pilot, log)
        await pilot.press("home")
        await wait_ui(pilot, lambda: log.scroll_y == 0, "the Log at its start")
        assert not log.following
        client.sendall(b"".join(b"second %d\n" % i for i in range(200)))
        await wait_log(pilot, "second 199")
        await pilot.pause(0.1)
        assert log.scroll_y == 0  # the user is reading: the view stays put
        await pilot.press("end")
        await wait_ui(pilot, lambda: log.following, "following again")
        client.sendall(b"third\n")
        await wait_log(pilot, "third")
        await wait_ui(pilot, lambda: log.scroll_y == log.max_scroll_y, "the Log at its end")
        client.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario)


def test_lines_view_shows_a_prompt_that_has_no_line_feed_yet() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        await wait_open_connection(pilot)
        await focus(pilot, app.log_view)
        await pilot.press("l")
        client.sendall(b"welcome\nlogin: ")
        await wait_log(pilot, "← welcome\\n")
        await wait_log(pilot, "login: ")  # the prompt, though its line is not finished
        client.sendall(b"\n")
        await wait_ui(pilot, lambda: log_text(app)[-1].endswith("← login: \\n"), "the whole line")
        client.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario)
