"""Shared fixtures: a started Engine and the Collector draining its bridge."""

from __future__ import annotations

import inspect
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from peers import Collector
from textual.pilot import Pilot
from textual.widgets import Input
from tmux_helpers import Tmux, tmux_server

from workbench.engine import Engine, EventBridge

if TYPE_CHECKING:
    from test_session_core import Driven

ENGINE_STOP_TIMEOUT = 5.0


@contextmanager
def variable_set(name: str, value: str) -> Iterator[None]:
    """The environment variable `name` is `value` until the generator ends."""
    import os

    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            del os.environ[name]
        else:
            os.environ[name] = before


@pytest.fixture(autouse=True, scope="session")
def own_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """sockbench's data directory (its local CA) in a temporary one, never the user's; the
    apps the tests start inherit it."""
    directory = tmp_path_factory.mktemp("sockbench-data")
    with variable_set("SOCKBENCH_DATA_DIR", str(directory)):
        yield directory


@pytest.fixture(autouse=True)
def nothing_remembered(own_data_dir: Path) -> None:
    """Every test starts with nothing remembered from an earlier one (workbench/memory.py:
    the real command started by a test remembers what it was given)."""
    from workbench.memory import MEMORY_FILE

    (own_data_dir / MEMORY_FILE).unlink(missing_ok=True)


@pytest.fixture(autouse=True, scope="session")
def own_config_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """sockbench's config directory in a temporary, empty one (no config file), never the
    user's; the apps the tests start inherit it."""
    directory = tmp_path_factory.mktemp("sockbench-config")
    with variable_set("SOCKBENCH_CONFIG_DIR", str(directory)):
        yield directory


EngineFactory = Callable[..., tuple[Engine, Collector]]


@pytest.fixture
def make_engine() -> Iterator[EngineFactory]:
    """Start engines with a given bridge or transcript path; all are stopped at teardown."""
    started: list[Engine] = []

    def start(
        bridge: EventBridge | None = None, transcript_path: str | None = None
    ) -> tuple[Engine, Collector]:
        bridge = bridge or EventBridge()
        engine = Engine(bridge, transcript_path=transcript_path)
        engine.start()
        started.append(engine)
        return engine, Collector(bridge)

    yield start
    for engine in started:
        engine.stop(timeout=ENGINE_STOP_TIMEOUT)
        assert engine._thread is not None
        assert not engine._thread.is_alive(), "the engine thread did not end"


@pytest.fixture
def engine_and_events(make_engine: EngineFactory) -> tuple[Engine, Collector]:
    return make_engine()


@pytest.fixture
def engine(engine_and_events: tuple[Engine, Collector]) -> Engine:
    """A started Engine (stopped at teardown); its events are in the `events` fixture."""
    return engine_and_events[0]


@pytest.fixture
def events(engine_and_events: tuple[Engine, Collector]) -> Collector:
    """The Collector draining the `engine` fixture's bridge."""
    return engine_and_events[1]


@pytest.fixture
def shared() -> Iterator[Path]:
    """A directory like /tmp: world-writable and sticky (pytest's tmp_path is closed to other
    users), for files another user plants."""
    directory = Path(tempfile.mkdtemp(prefix="sb-shared-", dir="/tmp"))
    directory.chmod(0o1777)
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    """A private tmux server for the real command (skips when tmux is not installed)."""
    with tmux_server() as server:
        yield server


@pytest.fixture
def snap_compare(snap_compare: Callable[..., bool]) -> Callable[..., bool]:
    """pytest-textual-snapshot's snap_compare with every text cursor held still: a blinking
    cursor made a snapshot depend on when, within half a second, it was taken."""

    def compare(
        app: Any, *, run_before: Callable[[Pilot[Any]], Any] | None = None, **kw: Any
    ) -> bool:
        async def then_steady(pilot: Pilot[Any]) -> None:
            if run_before is not None:
                result = run_before(pilot)
                if inspect.isawaitable(result):
                    await result
            for screen in pilot.app.screen_stack:
                for text_input in screen.query(Input):
                    text_input.cursor_blink = False
            await pilot.pause()

        return snap_compare(app, run_before=then_steady, **kw)

    return compare


@pytest.fixture
def driven() -> Iterator[Driven]:
    """An engine and the session core it feeds (tests/test_session_core.py's Driven)."""
    from test_session_core import Driven

    made = Driven()
    made.engine.start()
    try:
        yield made
    finally:
        made.engine.stop()


@pytest.fixture
def serving() -> Iterator[list[subprocess.Popen[str]]]:
    """The processes a test starts (sockbench replay --serve...): killed if still running."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(5)
