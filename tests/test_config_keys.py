"""The config file's bind_host and [keys]: read, checked, noticed when bad, and applied in the
real app (Pilot presses the new key) and by the command line's nc form."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from peers import EchoServer
from textual.binding import Binding
from textual.pilot import Pilot
from ui_helpers import (
    focus,
    make_app,
    run_app,
    the_app,
    wait_notified,
    wait_open_connection,
    wait_ui,
)

from workbench.cli import parse_command_line, startup_endpoints
from workbench.config import CONFIG_DIR_VARIABLE, load_config
from workbench.keymap import ACTIONS, key_problem, read_keys
from workbench.ui.app import SockbenchApp
from workbench.ui.composer import Composer
from workbench.ui.dialogs import ListenDialog

RUN_TIMEOUT = 20


def config_file(directory: Path, text: str) -> Path:
    path = directory / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_actions_are_the_apps_bindings() -> None:
    bindings = [b for b in SockbenchApp.BINDINGS if isinstance(b, Binding)]
    assert len(bindings) == len(SockbenchApp.BINDINGS)
    assert {binding.id for binding in bindings if binding.id} == set(ACTIONS)
    for action, (keys, _) in ACTIONS.items():
        bound = {binding.key for binding in bindings if binding.id == action}
        assert sorted(bound) == sorted(keys.split(",")), action
    # The composer's own ctrl+d is the same action: rebinding it moves both.
    assert any(isinstance(b, Binding) and b.id == "half_close" for b in Composer.BINDINGS)


@pytest.mark.parametrize(
    "key", ["f2", "ctrl+o", "alt+shift+f5", "ctrl+question_mark", "ctrl+slash", "pageup"]
)
def test_good_key_names(key: str) -> None:
    assert key_problem(key) is None


@pytest.mark.parametrize("key", ["", "f99", "ctrl+", "cntrl+o", "ctrl+ctrl+o", "Escape", "no_such"])
def test_bad_key_names(key: str) -> None:
    assert key_problem(key) is not None


def test_the_keys_table_is_read_and_its_bad_entries_noticed(tmp_path: Path) -> None:
    path = config_file(
        tmp_path,
        'theme = "nord"\n\n[keys]\nlisten = "f2, ctrl+o"\nlisen = "f10"\n'
        'connect = "ctrl+nothing"\nclose = 4\nclear_log = "k"\nreset = "f2"\n',
    )
    config = load_config(path)
    assert config.keymap == {"listen": "f2,ctrl+o"}
    assert config.values == {"theme": "nord"}
    lisen, connect, close, clear_log, reset = config.notices
    assert lisen.startswith(f"{path}, line 5: [keys] lisen = 'f10' is ignored: no such action")
    assert f"{path}, line 6: [keys] connect = 'ctrl+nothing' is ignored" in connect
    assert "'nothing' is no key's name" in connect
    assert f"{path}, line 7: [keys] close = 4 is ignored" in close
    assert "'k' types a character" in clear_log
    assert "'f2' is listen's key" in reset


def test_keys_may_be_swapped() -> None:
    assert read_keys({"listen": "f3", "connect": "f2"}).keys == {"listen": "f3", "connect": "f2"}


def test_keys_not_a_table_is_noticed(tmp_path: Path) -> None:
    config = load_config(config_file(tmp_path, 'keys = "f2"\n'))
    assert config.keymap == {}
    [notice] = config.notices
    assert "keys is ignored: it must be a table" in notice


def test_a_rebinding_works_in_the_real_app(tmp_path: Path) -> None:
    config = load_config(config_file(tmp_path, '[keys]\nlisten = "ctrl+o"\nnope = "f12"\n'))
    app = make_app(keymap=config.keymap, notices=config.notices)

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await wait_notified(pilot, "[keys] nope = 'f12' is ignored: no such action", "warning")
        await pilot.press("f2")  # no longer Listen's key
        await pilot.pause()
        assert not isinstance(app.screen, ListenDialog)
        await pilot.press("ctrl+o")
        await wait_ui(pilot, lambda: isinstance(app.screen, ListenDialog), "the Listen dialog")
        await pilot.press("escape")
        await pilot.press("f3")  # the others keep theirs
        await wait_ui(pilot, lambda: app.screen.query("#timeout"), "the Connect dialog")

    run_app(app, scenario)


def test_a_rebinding_reaches_the_composers_own_key(tmp_path: Path) -> None:
    """The composer has its own ctrl+d (Send EOF, over the input line's delete): the same
    action id, so it moves too."""
    config = load_config(config_file(tmp_path, '[keys]\nhalf_close = "f10"\n'))
    with EchoServer() as server:
        app = make_app(connect=[server.url], keymap=config.keymap)

        async def scenario(pilot: Pilot[None]) -> None:
            app = the_app(pilot)
            conn = await wait_open_connection(pilot)
            await focus(pilot, app.composer)
            await pilot.press("ctrl+d")
            await pilot.pause()
            assert not app.session.connections[conn.cid].local_eof
            await pilot.press("f10")
            await wait_ui(
                pilot, lambda: app.session.connections[conn.cid].local_eof, "EOF sent by f10"
            )

        run_app(app, scenario)


# --- bind_host ---


def test_bind_host_is_read_and_a_bad_one_noticed(tmp_path: Path) -> None:
    assert load_config(config_file(tmp_path, 'bind_host = "0.0.0.0"\n')).value("bind_host") == (
        "0.0.0.0"
    )
    assert load_config(config_file(tmp_path, 'bind_host = "[::]"\n')).value("bind_host") == "::"
    config = load_config(config_file(tmp_path, 'bind_host = "not a host"\n'))
    assert config.value("bind_host") == "127.0.0.1"
    [notice] = config.notices
    assert "line 1: bind_host = 'not a host' is ignored" in notice and "127.0.0.1" in notice


def test_the_nc_listen_form_binds_bind_host_and_the_flag_wins(tmp_path: Path) -> None:
    defaults = load_config(config_file(tmp_path, 'bind_host = "0.0.0.0"\n')).flag_defaults()
    [listener], _ = startup_endpoints(parse_command_line(["-l", "9000"], defaults))
    assert (listener.host, listener.port) == ("0.0.0.0", 9000)
    args = parse_command_line(["-l", "9000", "--bind-host", "::1"], defaults)
    [listener], _ = startup_endpoints(args)
    assert (listener.host, listener.port) == ("::1", 9000)
    # A host given is the host; a connection's host is never bind_host.
    [listener], _ = startup_endpoints(parse_command_line(["-l", "127.0.0.2", "9000"], defaults))
    assert listener.host == "127.0.0.2"
    _, [conn] = startup_endpoints(parse_command_line(["localhost", "9000"], defaults))
    assert conn.host == "localhost"


def test_a_bad_bind_host_flag_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_command_line(["--bind-host", "a b", "-l", "9000"])
    assert exited.value.code == 2
    assert "--bind-host" in capsys.readouterr().err


def test_the_listen_dialog_binds_bind_host() -> None:
    app = make_app(bind_host="0.0.0.0")

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await pilot.pause()
        await pilot.press("f2")
        await wait_ui(pilot, lambda: isinstance(app.screen, ListenDialog), "the Listen dialog")
        dialog = app.screen
        assert dialog.query_one("#address").value == "0.0.0.0:0"  # type: ignore[attr-defined]
        assert "9000 means 0.0.0.0:9000" in str(dialog.query_one("#help").render())
        dialog.query_one("#address").value = "0"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await wait_ui(pilot, lambda: app.session.listeners.get("L1"), "listener L1")
        assert app.session.listeners["L1"].local[0].startswith("0.0.0.0:")

    run_app(app, scenario)


# --- `sockbench config` ---


def test_sockbench_config_lists_the_actions_and_bind_host(tmp_path: Path) -> None:
    config_file(tmp_path, 'bind_host = "::"\n[keys]\nlisten = "ctrl+o"\nbogus = "f2"\n')
    result = subprocess.run(
        [sys.executable, "-m", "workbench", "config"],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, CONFIG_DIR_VARIABLE: str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("bind_host    '::'             config") for line in lines)
    assert "[keys]: the actions' keys, by id" in lines
    for action in ACTIONS:
        assert any(line.startswith(f"{action} ") for line in lines), action
    assert any(line.split()[:3] == ["listen", "ctrl+o", "config"] for line in lines)
    assert any(line.split()[:3] == ["connect", "f3", "default"] for line in lines)
    assert "[keys] bogus = 'f2' is ignored: no such action" in result.stdout
