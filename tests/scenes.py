"""Screen states a user sees, built with real traffic, for snapshot tests and screenshots.

Snapshots must look the same on every run, so scenes use fixed ports below the ephemeral
range (clients bind their source port too), a frozen clock, and wait for each step before
the next so that ids and order never vary.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from typing import TypeVar

from peers import abort
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, Select
from ui_helpers import focus, make_app, shows, type_line, wait_log, wait_notified, wait_ui

from workbench.protocol.endpoints import parse_url
from workbench.ui.app import SockbenchApp

FROZEN_TIME = "12:00:00.000"
SCENE_HOST = "127.0.0.1"
LISTEN_PORT = 19100
ALICE_PORT = 19101
BOB_PORT = 19102
REFUSED_PORT = 19103
CONFIRM_PORT = 19110
SEND_TO_PORT = 19130


def frozen_app(**options: object) -> SockbenchApp:
    return make_app(clock=lambda: 0.0, time_format=lambda ts: FROZEN_TIME, **options)


def client_from(source_port: int, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.settimeout(5)
    sock.bind((SCENE_HOST, source_port))
    sock.connect((SCENE_HOST, port))
    return sock


class Scene:
    """Peers that play a scene against the app; their sockets are reset when it is over
    (RST, not FIN: no TIME_WAIT left on the fixed ports for the next run)."""

    app_options: dict[str, object] = {}

    def __init__(self) -> None:
        self.sockets: list[socket.socket] = []

    def close(self) -> None:
        for sock in self.sockets:
            abort(sock)


SceneType = TypeVar("SceneType", bound=Scene)


@contextlib.contextmanager
def playing(scene: SceneType) -> Iterator[tuple[SockbenchApp, SceneType]]:
    """A frozen app with the scene's options, and the scene, closed afterwards."""
    try:
        yield frozen_app(**scene.app_options), scene
    finally:
        scene.close()


class TrafficScene(Scene):
    """A listener with two peers, typed traffic both ways, a hostile line and a refused
    connect. `sockets` are closed by `scene()` when the screen has been captured."""

    app_options = {"listen": [f"tcp://{SCENE_HOST}:{LISTEN_PORT}"]}

    async def run(self, pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, SockbenchApp)
        await wait_ui(pilot, lambda: "L1" in app.session.listeners, "the listener")
        alice = client_from(ALICE_PORT, LISTEN_PORT)
        self.sockets.append(alice)
        await wait_log(pilot, f"accepted {SCENE_HOST}:{ALICE_PORT}")
        alice.sendall(b"hello from alice\n")
        await wait_log(pilot, "hello from alice")
        await type_line(pilot, "hi alice, welcome")
        await wait_log(pilot, "hi alice, welcome")

        bob = client_from(BOB_PORT, LISTEN_PORT)
        self.sockets.append(bob)
        await wait_log(pilot, f"accepted {SCENE_HOST}:{BOB_PORT}")
        bob.sendall(b"GET /status HTTP/1.1\r\nHost: sockbench\r\nAccept: */*\r\n\r\n")
        await wait_log(pilot, "Accept: */*")
        bob.sendall(b"\x1b]2;pwned\x07\x1b[31mred\x1b[0m [bold]not markup[/bold] \xff\xfe\n")
        await wait_log(pilot, "not markup")
        app.main_screen.choose_target("C2")
        await type_line(pilot, r"HTTP/1.1 204 No Content\r\n\r")
        await wait_log(pilot, "204 No Content")

        app.engine.connect(parse_url(f"tcp://{SCENE_HOST}:{REFUSED_PORT}", for_listen=False))
        await wait_log(pilot, "connection refused")
        await pilot.pause(0.1)


def traffic_scene() -> contextlib.AbstractContextManager[tuple[SockbenchApp, TrafficScene]]:
    return playing(TrafficScene())


async def connect_dialog_with_error(pilot: Pilot[None]) -> None:
    await pilot.press("f3")
    dialog = pilot.app.screen
    dialog.query_one("#address", Input).value = "no such host:80"
    await pilot.press("enter")
    await pilot.pause()


async def listen_dialog(pilot: Pilot[None]) -> None:
    await pilot.press("f2")
    await pilot.pause()


async def on_the_listener(pilot: Pilot[None], key: str) -> SockbenchApp:
    """Press `key` on the first listener's row, once it is there."""
    app = pilot.app
    assert isinstance(app, SockbenchApp)
    await wait_ui(pilot, lambda: "L1" in app.session.listeners, "the listener")
    tree = app.listeners_tree
    await focus(pilot, tree)
    tree.move_cursor(tree.root.children[0])
    await pilot.press(key)
    return app


async def confirm_close_listener(pilot: Pilot[None]) -> None:
    await on_the_listener(pilot, "f4")
    await pilot.pause()


UDP_PORT = 19120
UDP_PEER_PORTS = (19121, 19122)
UNIX_PATH = "/tmp/sockbench-snapshot.sock"


class DatagramScene(Scene):
    """A UDP listener with two peers and a Unix stream listener with one client."""

    app_options = {"listen": [f"udp://{SCENE_HOST}:{UDP_PORT}"]}

    async def run(self, pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, SockbenchApp)
        # One after the other: opened together, either could be logged first.
        await wait_ui(pilot, lambda: len(app.session.listeners) == 1, "the UDP listener")
        app.engine.listen(parse_url(f"unix://{UNIX_PATH}", for_listen=True))
        await wait_ui(pilot, lambda: len(app.session.listeners) == 2, "both listeners")
        for index, source in enumerate(UDP_PEER_PORTS):
            peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            peer.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            peer.bind((SCENE_HOST, source))
            self.sockets.append(peer)
            peer.sendto(b"sensor %d: temp=21.%d\n" % (index + 1, index), (SCENE_HOST, UDP_PORT))
            await wait_log(pilot, f"sensor {index + 1}")
        await type_line(pilot, "ack 1")
        await wait_log(pilot, "ack 1")
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sockets.append(client)
        client.connect(UNIX_PATH)
        await wait_log(pilot, "accepted unix")
        client.sendall(b'{"method": "status"}\n')
        await wait_log(pilot, "status")
        await pilot.pause(0.1)

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


@contextlib.contextmanager
def datagram_scene() -> Iterator[tuple[SockbenchApp, DatagramScene]]:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(UNIX_PATH)
    with playing(DatagramScene()) as played:
        yield played


async def listen_dialog_udp(pilot: Pilot[None]) -> None:
    await pilot.press("f2")
    dialog = pilot.app.screen
    dialog.query_one("#transport", Select).value = "udp"
    dialog.query_one("#options", Input).value = "broadcast=1&rcvbuf=4194304"
    await pilot.pause()


async def send_to_dialog(pilot: Pilot[None]) -> None:
    app = pilot.app
    assert isinstance(app, SockbenchApp)
    await wait_ui(pilot, lambda: "L1" in app.session.listeners, "the listener")
    await pilot.press("f5")
    await pilot.pause()


async def listen_dialog_with_behaviour(pilot: Pilot[None]) -> None:
    await pilot.press("f2")
    dialog = pilot.app.screen
    dialog.query_one("#behaviour", Select).value = "rules"
    dialog.query_one("#behaviour-argument", Input).value = "/srv/sockbench/smtp.toml"
    dialog.query_one("#greet", Input).value = "220 sockbench ESMTP\\r\\n"
    await pilot.pause()


BEHAVIOUR_PORT = 19150


async def behaviour_dialog(pilot: Pilot[None]) -> None:
    app = await on_the_listener(pilot, "b")
    await wait_ui(pilot, lambda: app.screen.query("#behaviour"), "the Behaviour dialog")
    await pilot.pause()


LOG_LISTEN_PORT = 19140
LOG_ALICE_PORT = 19141
LOG_BOB_PORT = 19142


class LogScene(Scene):
    """A listener with two peers, text and binary traffic both ways, for the Log's display
    modes, filter, search and detail view. `sockets` are closed (RST) by `log_scene()`."""

    app_options = {"listen": [f"tcp://{SCENE_HOST}:{LOG_LISTEN_PORT}"]}

    async def traffic(self, pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, SockbenchApp)
        await wait_ui(pilot, lambda: "L1" in app.session.listeners, "the listener")
        alice = client_from(LOG_ALICE_PORT, LOG_LISTEN_PORT)
        self.sockets.append(alice)
        await wait_log(pilot, f"accepted {SCENE_HOST}:{LOG_ALICE_PORT}")
        alice.sendall(b"Hello\x00\xff\n")
        await wait_log(pilot, "Hello\\x00\\xff\\n")
        await type_line(pilot, "hi alice, where is the needle?")
        await wait_log(pilot, "where is the needle?")

        bob = client_from(LOG_BOB_PORT, LOG_LISTEN_PORT)
        self.sockets.append(bob)
        await wait_log(pilot, f"accepted {SCENE_HOST}:{LOG_BOB_PORT}")
        bob.sendall(b"GET /needle HTTP/1.1\r\nHost: sockbench\r\n\r\n")
        await wait_log(pilot, "Host: sockbench")
        alice.sendall(b"\x01\x02\x03 status=ok needle=\xca\xfe\xba\xbe\n")
        await wait_log(pilot, "status=ok")
        await focus(pilot, app.log_view)

    async def hex_mode(self, pilot: Pilot[None]) -> None:
        await self.traffic(pilot)
        await pilot.press("m")
        await self.shown_as(pilot, "hex")

    async def both_mode(self, pilot: Pilot[None]) -> None:
        await self.traffic(pilot)
        await pilot.press("m", "m")
        await self.shown_as(pilot, "both")

    @staticmethod
    async def shown_as(pilot: Pilot[None], display: str) -> None:
        """The Log laid out again in `display` (on a loaded machine that takes a while)."""
        log = pilot.app.log_view  # type: ignore[attr-defined]
        await wait_ui(
            pilot,
            lambda: log.model.settings.display == display and not log.laying_out,
            f"the Log shown as {display}",
        )
        await pilot.pause(0.1)

    async def filtered(self, pilot: Pilot[None]) -> None:
        await self.traffic(pilot)
        app = pilot.app
        await pilot.press("f")
        await wait_ui(pilot, lambda: app.screen.query("#text"), "the filter dialog")
        app.screen.query_one("#text", Input).value = "needle"
        await pilot.press("enter")
        await wait_ui(pilot, lambda: not app.screen.query("#text"), "the filter applied")
        await pilot.pause(0.1)

    async def details(self, pilot: Pilot[None]) -> None:
        await self.traffic(pilot)
        app = pilot.app
        # Rows: listening, accepted alice, Hello, the reply, accepted bob, then bob's request.
        await pilot.press("home", *["down"] * 5, "enter")
        await wait_ui(pilot, lambda: app.screen.query("#detail-hex"), "the detail view")
        await pilot.pause(0.1)

    async def search_open(self, pilot: Pilot[None]) -> None:
        await self.traffic(pilot)
        app = pilot.app
        assert isinstance(app, SockbenchApp)
        await pilot.press("slash", *"needle", "enter")
        await wait_ui(pilot, lambda: app.log_view.cursor is not None, "the cursor on a match")
        await pilot.press("slash")  # open again: it shows the pattern, the match stays lit
        await wait_ui(pilot, lambda: app.query_one("#search").has_focus, "the search bar")
        await pilot.pause(0.1)

    async def new_rows_below(self, pilot: Pilot[None]) -> None:
        """The cursor on the last row, then 12 rows arrive below it: the marker says so."""
        await self.traffic(pilot)
        app = pilot.app
        assert isinstance(app, SockbenchApp)
        alice, bob = self.sockets
        bob.sendall(b"".join(b"X-Line-%02d: filler\r\n" % n for n in range(20)))
        await wait_log(pilot, "X-Line-19")
        await pilot.press("up")
        await wait_ui(pilot, lambda: not app.log_view.following, "the Log not following")
        alice.sendall(b"".join(b"tick %02d\n" % n for n in range(12)))
        await wait_ui(pilot, lambda: app.log_view.new_rows() == 12, "12 new rows below")
        await pilot.pause(0.1)


def log_scene() -> contextlib.AbstractContextManager[tuple[SockbenchApp, LogScene]]:
    return playing(LogScene())


CLEANUP_PORT = 19150
CLEANUP_PEER_PORTS = (19151, 19152)


class CleanupScene(Scene):
    """A listener with a live peer and a half-closed one, and f9's clean-up menu open."""

    app_options = {"listen": [f"tcp://{SCENE_HOST}:{CLEANUP_PORT}"]}

    async def menu(self, pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, SockbenchApp)
        await wait_ui(pilot, lambda: "L1" in app.session.listeners, "the listener")
        for source in CLEANUP_PEER_PORTS:
            self.sockets.append(client_from(source, CLEANUP_PORT))
            await wait_log(pilot, f"accepted {SCENE_HOST}:{source}")
        app.engine.half_close("C2")
        await wait_log(pilot, "you sent EOF")
        await pilot.press("f9")
        await wait_ui(pilot, lambda: app.screen.query("#cleanup-options"), "the menu")
        await pilot.pause(0.1)


def cleanup_scene() -> contextlib.AbstractContextManager[tuple[SockbenchApp, CleanupScene]]:
    return playing(CleanupScene())


async def pasted_block(pilot: Pilot[None]) -> None:
    """A three-line request pasted into the composer: the block editor holds it."""
    app = pilot.app
    assert isinstance(app, SockbenchApp)
    await focus(pilot, app.composer)
    app.post_message(events.Paste("GET / HTTP/1.1\r\nHost: example\r\n\r\n"))
    await wait_ui(pilot, lambda: app.focused is app.block_composer, "the block editor")
    app.block_composer.cursor_blink = False  # held still, as snap_compare does for inputs
    await pilot.pause()


WIDTH_PORT = 19160
WIDTH_PEER_PORTS = (19161, 19162)
LONG_LINE = b"".join(
    b"%03d:" % n + (b"abcdefghijklmnopqrstuvwxyz0123456789" * 2)[:46] for n in range(10)
)


class WidthScene(Scene):
    """A listener at its maximum (?max=1) that refused a second peer, and a 500-character
    line from the first: for the panes, the Log and the composer at 80 and 220 columns."""

    app_options = {"listen": [f"tcp://{SCENE_HOST}:{WIDTH_PORT}?max=1"]}

    async def run(self, pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, SockbenchApp)
        await wait_ui(pilot, lambda: "L1" in app.session.listeners, "the listener")
        kept, refused = (client_from(source, WIDTH_PORT) for source in WIDTH_PEER_PORTS)
        self.sockets += [kept, refused]
        await wait_log(pilot, f"accepted {SCENE_HOST}:{WIDTH_PEER_PORTS[0]}")
        await wait_log(pilot, f"refused {SCENE_HOST}:{WIDTH_PEER_PORTS[1]}")
        kept.sendall(LONG_LINE + b"\n")
        await wait_log(pilot, "007:")
        listener = app.session.listeners["L1"]
        await wait_ui(pilot, lambda: listener.refused == 1, "the refused count")
        # The table widens a column for a longer count when it is next idle: drawn whole.
        table = app.connections_table
        await wait_ui(pilot, lambda: shows(table, r" 501 B "), "the bytes in, drawn whole")
        # "L1 is at its maximum" would cover the panes: cleared once it is there (a
        # notification arrives a turn of the app's queue after the event that made it).
        await wait_notified(pilot, "is at its maximum")
        app.clear_notifications()
        await pilot.pause(0.1)


def width_scene() -> contextlib.AbstractContextManager[tuple[SockbenchApp, WidthScene]]:
    return playing(WidthScene())


FRAMED_RESP_PORT = 19170
FRAMED_HTTP_PORT = 19171
FRAMED_REDIS_CLIENT_PORT = 19172
FRAMED_HTTP_CLIENT_PORT = 19173


class FramedScene(Scene):
    """The Log's messages view: a Redis client's commands to a `framing=resp` listener and
    the replies typed in the composer, an HTTP client's pipelined requests to a
    `framing=http` listener and a response typed back."""

    app_options = {
        "listen": [
            f"tcp://{SCENE_HOST}:{FRAMED_RESP_PORT}?framing=resp",
            f"tcp://{SCENE_HOST}:{FRAMED_HTTP_PORT}?framing=http",
        ]
    }

    async def run(self, pilot: Pilot[None]) -> None:
        app = pilot.app
        assert isinstance(app, SockbenchApp)
        await wait_ui(pilot, lambda: len(app.session.listeners) == 2, "the listeners")
        redis = client_from(FRAMED_REDIS_CLIENT_PORT, FRAMED_RESP_PORT)
        self.sockets.append(redis)
        await wait_log(pilot, f"accepted {SCENE_HOST}:{FRAMED_REDIS_CLIENT_PORT}")
        set_command = b"*3\r\n$3\r\nSET\r\n$4\r\ngree\r\n$11\r\nhello world\r\n"
        redis.sendall(set_command)
        # One read each, whatever the machine: the second is sent once the first is in.
        got = lambda: app.session.connections.get("C1")  # noqa: E731
        await wait_ui(pilot, lambda: (c := got()) and c.bytes_in == len(set_command), "SET")
        redis.sendall(b"*2\r\n$3\r\nGET\r\n$4\r\ngree\r\n")
        await wait_log(pilot, "GET")
        app.main_screen.choose_target("C1")
        await type_line(pilot, "+OK\\r\\n")
        await type_line(pilot, "$11\\r\\nhello world\\r\\n")
        await wait_log(pilot, "hello world\\r\\n")
        web = client_from(FRAMED_HTTP_CLIENT_PORT, FRAMED_HTTP_PORT)
        self.sockets.append(web)
        await wait_log(pilot, f"accepted {SCENE_HOST}:{FRAMED_HTTP_CLIENT_PORT}")
        web.sendall(
            b"GET /index.html HTTP/1.1\r\nHost: sockbench\r\n\r\n"
            b"HEAD /logo.png HTTP/1.1\r\nHost: sockbench\r\n\r\n"
        )
        await wait_log(pilot, "HEAD /logo.png")
        app.main_screen.choose_target("C2")
        await type_line(pilot, "HTTP/1.1 200 OK\\r\\nContent-Length: 11\\r\\n\\r\\nhello world")
        await wait_log(pilot, "Content-Length: 11")
        await focus(pilot, app.log_view)
        for _ in range(2):  # raw -> lines -> messages
            await pilot.press("l")
        await wait_ui(pilot, lambda: app.log_view.model.settings.framing == "messages", "messages")
        await pilot.pause(0.1)


def framed_scene() -> contextlib.AbstractContextManager[tuple[SockbenchApp, FramedScene]]:
    return playing(FramedScene())
