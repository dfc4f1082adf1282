"""Driving the real app with Pilot: build it, wait for what it shows, read its Log."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from textual.pilot import Pilot
from textual.widget import Widget

from workbench.engine import Engine, EventBridge
from workbench.protocol.endpoints import parse_url
from workbench.session.model import ConnectionInfo
from workbench.session.startup import StartupAction
from workbench.ui.app import SockbenchApp

UI_TIMEOUT = 8.0
TERMINAL_SIZE = (120, 36)

T = TypeVar("T")


def the_app(pilot: Pilot[None]) -> SockbenchApp:
    """The app a Pilot drives, typed."""
    assert isinstance(pilot.app, SockbenchApp)
    return pilot.app


def make_app(
    listen: Iterable[str] = (),
    connect: Iterable[str] = (),
    transcript: str | None = None,
    **options: Any,
) -> SockbenchApp:
    bridge = EventBridge()
    engine = Engine(bridge, transcript_path=transcript)
    startup = [StartupAction("listen", parse_url(u, for_listen=True)) for u in listen]
    startup += [StartupAction("connect", parse_url(u, for_listen=False)) for u in connect]
    return SockbenchApp(lambda: engine, bridge, startup, **options)


def run_app(
    app: SockbenchApp,
    scenario: Callable[[Pilot[None]], Awaitable[None]],
    size: tuple[int, int] = TERMINAL_SIZE,
    notifications: bool = False,
) -> None:
    """Run `scenario` against the app in a headless terminal; the engine stops on exit.
    `notifications`: show them as toasts on the screen (off by default in run_test)."""

    async def main() -> None:
        async with app.run_test(size=size, notifications=notifications) as pilot:
            await scenario(pilot)
        assert not app.engine._thread or not app.engine._thread.is_alive()

    asyncio.run(main())


async def wait_ui(
    pilot: Pilot[None], condition: Callable[[], T], what: str, timeout: float = UI_TIMEOUT
) -> T:
    """Let the app run until `condition()` is truthy; AssertionError with `what` if not."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            log = "\n".join(log_text(pilot.app)[-30:])  # type: ignore[arg-type]
            raise AssertionError(f"timed out waiting for {what}; the Log shows:\n{log}")
        await pilot.pause(0.03)


def log_text(app: SockbenchApp) -> list[str]:
    return app.log_view.row_texts()


def log_contains(app: SockbenchApp, needle: str) -> bool:
    return any(needle in row for row in log_text(app))


def notified(app: SockbenchApp, text: str, severity: str | None = None) -> bool:
    """Whether a notification containing `text` (of `severity`, if given) is showing."""
    return any(
        text in str(n.message) and (severity is None or n.severity == severity)
        for n in app._notifications
    )


async def wait_notified(
    pilot: Pilot[None], text: str, severity: str | None = None, timeout: float = UI_TIMEOUT
) -> None:
    """`notify` posts a message: the notification arrives a turn of the app's queue after
    whatever the same batch of events put in the Log."""
    app: SockbenchApp = pilot.app  # type: ignore[assignment]
    what = f"a notification {text!r}" + (f" ({severity})" if severity else "")
    await wait_ui(pilot, lambda: notified(app, text, severity), what, timeout)


S = TypeVar("S")


async def wait_screen(pilot: Pilot[None], kind: type[S], part: str, what: str) -> S:
    """The app's screen once it is a `kind` and shows `part` (a selector): mounted whole."""
    app = pilot.app
    screen: S = await wait_ui(
        pilot,
        lambda: isinstance(app.screen, kind) and app.screen.query(part) and app.screen,
        what,
    )
    return screen


async def wait_log(pilot: Pilot[None], needle: str, timeout: float = UI_TIMEOUT) -> None:
    app: SockbenchApp = pilot.app  # type: ignore[assignment]
    await wait_ui(pilot, lambda: log_contains(app, needle), f"{needle!r} in the Log", timeout)


async def wait_listener_port(pilot: Pilot[None], lid: str = "L1") -> int:
    app: SockbenchApp = pilot.app  # type: ignore[assignment]
    listener = await wait_ui(pilot, lambda: app.session.listeners.get(lid), f"listener {lid}")
    return int(listener.local[0].rsplit(":", 1)[1])


async def wait_open_connection(
    pilot: Pilot[None], predicate: Callable[[ConnectionInfo], bool] = lambda c: True
) -> ConnectionInfo:
    app: SockbenchApp = pilot.app  # type: ignore[assignment]

    def find() -> ConnectionInfo | None:
        connections = app.session.connections.values()
        return next((c for c in connections if c.is_open and predicate(c)), None)

    return await wait_ui(pilot, find, "an open connection")


async def focus(pilot: Pilot[None], widget: Any) -> None:
    """Focus `widget` and wait until it has the focus, so that the next key goes to it."""
    widget.focus()
    await wait_ui(pilot, lambda: pilot.app.focused is widget, f"focus on {widget!r}")


async def type_line(pilot: Pilot[None], text: str) -> None:
    """Put `text` in the composer and press Enter, as a user would."""
    app: SockbenchApp = pilot.app  # type: ignore[assignment]
    await focus(pilot, app.composer)
    app.composer.value = text
    await pilot.press("enter")


async def blocking(func: Callable[..., T], *args: Any) -> T:
    """Run a blocking peer call (recv with timeout) off the app's loop."""
    return await asyncio.to_thread(func, *args)


def shown_lines(widget: Widget) -> list[str]:
    """What the widget draws, line by line (its content, without its border)."""
    return [
        "".join(segment.text for segment in widget.render_line(y))
        for y in range(widget.scrollable_content_region.height)
    ]


def shows(widget: Widget, pattern: str) -> bool:
    return any(re.search(pattern, line) for line in shown_lines(widget))
