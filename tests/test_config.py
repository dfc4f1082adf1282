"""The config file: its keys read, a bad file or value ignored with a notice naming the file,
line and key, its values under the command line's flags, shown in the app and by
`sockbench config`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.theme import BUILTIN_THEMES
from tmux_helpers import Tmux
from ui_helpers import make_app, run_app, the_app, wait_notified

from workbench.cli import parse_command_line, startup_endpoints
from workbench.config import (
    CONFIG_DIR_VARIABLE,
    DEFAULT_THEME,
    KEYS,
    load_config,
    with_known_theme,
)

RUN_TIMEOUT = 20


def config_file(directory: Path, text: str) -> Path:
    path = directory / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_file_is_every_default(tmp_path: Path) -> None:
    config = load_config(tmp_path / "config.toml")
    assert not config.exists and config.values == {} and config.notices == []
    assert config.value("line_ending") == "lf" and config.value("theme") == DEFAULT_THEME
    assert config.value("idle") is None


def test_the_default_theme_is_textuals() -> None:
    assert App[None]().theme == DEFAULT_THEME


def test_a_good_file_gives_every_key(tmp_path: Path) -> None:
    path = config_file(
        tmp_path,
        'line_ending = "crlf"\nencoding = "latin-1"\nlog_rows = 5000\n'
        'max_conns = 7\nidle = 30\ntheme = "nord"\n',
    )
    config = load_config(path)
    assert config.notices == []
    assert config.values == {
        "line_ending": "crlf",
        "encoding": "latin-1",
        "log_rows": 5000,
        "max_conns": 7,
        "idle": 30.0,
        "theme": "nord",
    }


def test_bad_toml_is_ignored_with_its_line(tmp_path: Path) -> None:
    path = config_file(tmp_path, 'line_ending = "crlf"\nlog_rows = = 3\n')
    config = load_config(path)
    assert config.values == {}
    [notice] = config.notices
    assert str(path) in notice and "line 2" in notice and "ignored" in notice


def test_a_bad_value_is_ignored_and_named(tmp_path: Path) -> None:
    path = config_file(
        tmp_path,
        '# sockbench\nline_ending = "crlf"\nlog_rows = 0\nidle = "soon"\nmax_conns = true\n',
    )
    config = load_config(path)
    assert config.values == {"line_ending": "crlf"}
    log_rows, idle, max_conns = config.notices
    assert log_rows.startswith(f"{path}, line 3: log_rows = 0 is ignored")
    assert "it stays 100000" in log_rows
    assert f"{path}, line 4: idle = 'soon' is ignored" in idle
    assert f"{path}, line 5: max_conns = True is ignored" in max_conns
    assert config.value("log_rows") == 100_000


def test_an_unknown_key_is_a_notice(tmp_path: Path) -> None:
    path = config_file(tmp_path, 'theme = "nord"\nline_endings = "crlf"\n[colors]\nquit = "q"\n')
    config = load_config(path)
    assert config.values == {"theme": "nord"}
    ending, colors = config.notices
    assert f"{path}, line 2: unknown key 'line_endings'" in ending
    assert "unknown key 'colors'" in colors


def test_an_unknown_theme_is_ignored(tmp_path: Path) -> None:
    path = config_file(tmp_path, 'theme = "no-such-theme"\n')
    config = with_known_theme(load_config(path), BUILTIN_THEMES)
    assert config.value("theme") == DEFAULT_THEME
    [notice] = config.notices
    assert f"{path}, line 1: theme = 'no-such-theme' is ignored: no such theme" in notice


def test_a_file_that_is_no_text_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xff\xfe\x00theme")
    [notice] = load_config(path).notices
    assert str(path) in notice and "ignored" in notice


# --- precedence: flags > config > defaults ---


def test_the_config_gives_the_flags_defaults(tmp_path: Path) -> None:
    path = config_file(
        tmp_path, 'line_ending = "crlf"\nencoding = "latin-1"\nlog_rows = 500\nmax_conns = 7\n'
    )
    args = parse_command_line(["--listen", "tcp://127.0.0.1:0"], load_config(path).flag_defaults())
    assert (args.line_ending, args.encoding, args.log_records) == ("crlf", "latin-1", 500)
    [listener], _ = startup_endpoints(args)
    assert listener.options.max_connections == 7


def test_a_flag_wins_over_the_config(tmp_path: Path) -> None:
    path = config_file(tmp_path, 'line_ending = "crlf"\nmax_conns = 7\nidle = 30\n')
    args = parse_command_line(
        ["--line-ending", "none", "--max-conns", "3", "--listen", "tcp://127.0.0.1:0?idle=5"],
        load_config(path).flag_defaults(),
    )
    assert args.line_ending == "none"
    [listener], _ = startup_endpoints(args)
    assert listener.options.max_connections == 3
    assert listener.options.idle == 5.0  # the URL wins over both


# --- in the app ---


def test_the_app_shows_the_notices_once_up_and_goes_on(tmp_path: Path) -> None:
    path = config_file(tmp_path, "log_rows = -1\nfoo = 1\n")
    config = load_config(path)
    app = make_app(notices=config.notices)

    async def scenario(pilot: Pilot[None]) -> None:
        await wait_notified(pilot, f"{path}, line 1: log_rows = -1 is ignored", "warning")
        [notification] = the_app(pilot)._notifications
        assert "unknown key 'foo'" in str(notification.message)
        assert notification.title == "config file"

    run_app(app, scenario)


def test_the_app_takes_the_configs_theme() -> None:
    app = make_app(theme="nord")

    async def scenario(pilot: Pilot[None]) -> None:
        await pilot.pause()
        assert the_app(pilot).theme == "nord"
        assert the_app(pilot).current_theme.name == "nord"

    run_app(app, scenario)


# --- `sockbench config` ---


def run_config(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", "config", *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, CONFIG_DIR_VARIABLE: str(directory)},
    )


def test_sockbench_config_without_a_file(tmp_path: Path) -> None:
    result = run_config(tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"config file: {tmp_path / 'config.toml'} (does not exist" in result.stdout
    assert "line_ending  'lf'             default" in result.stdout
    assert "ignored" not in result.stdout


def test_sockbench_config_shows_values_sources_and_notices(tmp_path: Path) -> None:
    path = config_file(tmp_path, 'line_ending = "crlf"\ntheme = "nope"\nlog_rows = "many"\n')
    result = run_config(tmp_path)
    assert result.returncode == 0, result.stderr  # a bad file is reported; the app goes on
    lines = result.stdout.splitlines()
    assert f"config file: {path} (exists)" in lines
    assert any(line.startswith("line_ending  'crlf'           config") for line in lines)
    assert any(line.startswith("theme        'textual-dark'   default") for line in lines)
    assert any(line.startswith("log_rows     100000           default") for line in lines)
    assert f"  {path}, line 2: theme = 'nope' is ignored: no such theme" in result.stdout
    assert f"  {path}, line 3: log_rows = 'many' is ignored" in result.stdout


def test_sockbench_config_with_bad_toml(tmp_path: Path) -> None:
    config_file(tmp_path, "theme = \n")
    result = run_config(tmp_path)
    assert result.returncode == 0
    assert "not valid TOML" in result.stdout and "line 1" in result.stdout


@pytest.mark.parametrize("args", [["extra"], ["--nope"]])
def test_sockbench_config_takes_no_arguments(tmp_path: Path, args: list[str]) -> None:
    result = run_config(tmp_path, *args)
    assert result.returncode == 2 and "sockbench config" in result.stderr


def test_the_readmes_example_file_has_no_notice(tmp_path: Path) -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n### Configuration file\n", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    config = with_known_theme(load_config(config_file(tmp_path, example)), BUILTIN_THEMES)
    assert config.notices == [] and set(config.values) == set(KEYS)


def test_the_real_command_takes_the_file_under_its_flags(tmux: Tmux, tmp_path: Path) -> None:
    config_file(tmp_path, 'line_ending = "crlf"\nencoding = "latin-1"\nlog_rows = 0\n')
    tmux.env[CONFIG_DIR_VARIABLE] = str(tmp_path)  # the tmux server starts with it
    tmux.start_sockbench(tmp_path, "--encoding", "utf-8")
    tmux.wait_screen("CRLF · utf-8", "the file's line ending, the flag's encoding")
    tmux.wait_screen("log_rows = 0 is ignored", "the notice on the screen")
    tmux.quit_sockbench()
