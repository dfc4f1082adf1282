"""What sockbench remembers across launches, shown on the real app: two (or three) run_test()
sessions in a row, each loading the memory from the data directory (a temporary one) as the
command line does, against real peers on loopback."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from peers import EchoServer
from textual.pilot import Pilot
from tmux_helpers import Tmux
from ui_helpers import (
    focus,
    make_app,
    run_app,
    the_app,
    type_line,
    wait_notified,
    wait_open_connection,
    wait_ui,
)

from workbench.data_dir import DATA_DIR_VARIABLE
from workbench.memory import MEMORY_FILE, load_memory
from workbench.ui.app import SockbenchApp


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(tmp_path))
    return tmp_path


def launch(**options: Any) -> SockbenchApp:
    """The app as the command line makes it: with what the data directory remembers."""
    return make_app(memory=load_memory(), **options)


async def send_lines(pilot: Pilot[None], *lines: str) -> None:
    """Type `lines` to the target, a real echo server, and wait until each came back."""
    app = the_app(pilot)
    conn = await wait_open_connection(pilot)
    expected = 0
    for line in lines:
        await type_line(pilot, line)
        expected += len(line) + 1  # with its line feed

        def echoed(size: int = expected) -> bool:
            return app.session.connections[conn.cid].bytes_in >= size

        await wait_ui(pilot, echoed, f"the echo of {line!r}")


async def recalled(pilot: Pilot[None], presses: int) -> list[str]:
    """What `presses` presses of up put in the composer, one after the other."""
    app = the_app(pilot)
    await wait_open_connection(pilot)
    await focus(pilot, app.composer)
    shown = []
    for _ in range(presses):
        await pilot.press("up")
        shown.append(app.composer.value)
    return shown


def test_history_survives_a_restart_the_targets_lines_first(data_dir: Path) -> None:
    with EchoServer() as first, EchoServer() as second:

        async def to_first(pilot: Pilot[None]) -> None:
            await send_lines(pilot, "HELO one", "MAIL two")

        async def to_second(pilot: Pilot[None]) -> None:
            await send_lines(pilot, "other target")

        run_app(launch(connect=[first.url]), to_first)
        run_app(launch(connect=[second.url]), to_second)
        shown: list[str] = []

        async def back_to_first(pilot: Pilot[None]) -> None:
            shown.extend(await recalled(pilot, 4))

        run_app(launch(connect=[first.url]), back_to_first)
    # The first target's own lines, newest first, then the rest; up stops at the oldest.
    assert shown == ["MAIL two", "HELO one", "other target", "other target"]
    assert stat.S_IMODE(os.stat(data_dir / MEMORY_FILE).st_mode) == 0o600


def test_a_hex_payload_over_4_kib_is_not_kept(data_dir: Path) -> None:
    small, large = "de ad be ef", "ab" * 4097
    with EchoServer() as server:

        async def in_hex(pilot: Pilot[None]) -> None:
            app = the_app(pilot)
            await pilot.press("ctrl+t")  # text -> hex
            await wait_ui(pilot, lambda: app.core.sending.mode == "hex", "hex mode")
            conn = await wait_open_connection(pilot)
            for line, size in ((small, 4), (large, 4101)):
                await type_line(pilot, line)
                await wait_ui(
                    pilot,
                    lambda s=size: app.session.connections[conn.cid].bytes_in >= s,  # type: ignore[misc]
                    "the echo",
                )
            # Recalled in this launch all the same.
            await focus(pilot, app.composer)
            await pilot.press("up")
            assert app.composer.value == large

        run_app(launch(connect=[server.url]), in_hex)
    saved = json.loads((data_dir / MEMORY_FILE).read_text())
    assert saved["history"]["overall"] == [small]
    assert load_memory().memory.history.recall(None) == [small]


def test_the_theme_chosen_is_the_next_launchs(data_dir: Path) -> None:
    async def choose(pilot: Pilot[None]) -> None:
        await pilot.pause()
        the_app(pilot).theme = "nord"  # what ctrl+p, Change theme does
        await pilot.pause()

    run_app(launch(), choose)
    themes: list[str] = []

    async def look(pilot: Pilot[None]) -> None:
        await pilot.pause()
        themes.append(the_app(pilot).theme)

    from workbench.ui.remembering import start_theme

    remembered = load_memory().memory.theme
    run_app(launch(theme=start_theme(None, remembered, {"nord", "gruvbox"})), look)
    assert themes == ["nord"]
    # The config file's theme wins; a remembered theme that no longer exists is not used.
    assert start_theme("gruvbox", remembered, {"nord", "gruvbox"}) == "gruvbox"
    assert start_theme(None, "gone", {"nord"}) == "textual-dark"


def test_the_dialogs_last_values_come_back(data_dir: Path) -> None:
    with EchoServer() as server:
        address = f"127.0.0.1:{server.port}"

        async def connect_once(pilot: Pilot[None]) -> None:
            app = the_app(pilot)
            await pilot.pause()
            await pilot.press("f3")
            await wait_ui(pilot, lambda: app.screen.query("#address"), "the Connect dialog")
            app.screen.query_one("#address").value = address  # type: ignore[attr-defined]
            app.screen.query_one("#timeout").value = "7"  # type: ignore[attr-defined]
            await pilot.press("enter")
            await wait_open_connection(pilot)

        run_app(launch(), connect_once)
        fields: list[str] = []

        async def open_again(pilot: Pilot[None]) -> None:
            app = the_app(pilot)
            await wait_ui(pilot, lambda: app.remembering and app.remembering.attached, "up")
            await pilot.press("f3")
            await wait_ui(pilot, lambda: app.screen.query("#address"), "the Connect dialog")
            for name in ("#address", "#timeout"):
                fields.append(app.screen.query_one(name).value)  # type: ignore[attr-defined]
            await pilot.press("escape")

        run_app(launch(), open_again)
    assert fields == [address, "7"]


def test_a_corrupt_memory_file_is_ignored_with_a_notice(data_dir: Path) -> None:
    path = data_dir / MEMORY_FILE
    path.write_text('{"version": 1, "history": {"overall": [1, 2]}', encoding="utf-8")

    async def goes_on(pilot: Pilot[None]) -> None:
        await wait_notified(pilot, f"{path}: not valid JSON", "warning")
        app = the_app(pilot)
        app.theme = "nord"
        await pilot.pause()

    run_app(launch(), goes_on)
    # Replaced at the next save, by a good one.
    assert load_memory().notices == [] and load_memory().memory.theme == "nord"


def test_a_memory_file_of_the_wrong_shape_is_ignored(data_dir: Path) -> None:
    path = data_dir / MEMORY_FILE
    path.write_text('{"version": 1, "history": {"overall": [1, 2]}}', encoding="utf-8")
    loaded = load_memory()
    [notice] = loaded.notices
    assert "the history is not a list of lines" in notice and "ignored" in notice
    assert loaded.memory.history.overall == []


def test_a_planted_link_is_replaced_not_followed(data_dir: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    (data_dir / MEMORY_FILE).symlink_to(victim)
    loaded = load_memory()
    assert loaded.notices and "cannot be read" in loaded.notices[0]

    async def choose(pilot: Pilot[None]) -> None:
        await pilot.pause()
        the_app(pilot).theme = "nord"
        await pilot.pause()

    run_app(make_app(memory=loaded), choose)
    assert victim.read_text(encoding="utf-8") == "precious"
    assert not (data_dir / MEMORY_FILE).is_symlink()
    assert load_memory().memory.theme == "nord"


def test_the_real_command_remembers_across_launches(tmux: Tmux, tmp_path: Path) -> None:
    data = tmp_path / "data"
    tmux.env[DATA_DIR_VARIABLE] = str(data)  # the tmux server starts with it
    with EchoServer() as server:
        tmux.start_sockbench(tmp_path, "127.0.0.1", str(server.port))
        tmux.wait_screen("(open)", "the connection open")
        tmux.keys("remembered line", literal=True)
        tmux.keys("Enter")
        tmux.wait_screen("← remembered line", "the echo")
        tmux.quit_sockbench()
        tmux.kill()
        tmux.start_sockbench(tmp_path, "127.0.0.1", str(server.port))
        tmux.wait_screen("(open)", "the connection open again")
        assert "remembered line" not in tmux.screen()
        tmux.keys("Up")
        tmux.wait_screen("remembered line", "the line recalled by up")
        tmux.quit_sockbench()
    assert stat.S_IMODE(os.stat(data / MEMORY_FILE).st_mode) == 0o600


def test_a_block_comes_back_as_a_block(data_dir: Path) -> None:
    with EchoServer() as server:

        async def send_block(pilot: Pilot[None]) -> None:
            app = the_app(pilot)
            conn = await wait_open_connection(pilot)
            app.main_screen.send_lines(["EHLO a", "QUIT"])  # what the block editor's Enter does
            await wait_ui(
                pilot, lambda: app.session.connections[conn.cid].bytes_in >= 12, "the echo"
            )

        run_app(launch(connect=[server.url]), send_block)
        rows: list[str] = []

        async def recall_block(pilot: Pilot[None]) -> None:
            app = the_app(pilot)
            await recalled(pilot, 1)
            await wait_ui(pilot, lambda: app.composer.block_open, "the block editor open")
            assert app.block_composer is not None
            rows.extend(app.block_composer.text.split("\n"))

        run_app(launch(connect=[server.url]), recall_block)
    assert rows == ["EHLO a", "QUIT"]
