"""The `sockbench` command as a user runs it: real subprocesses, and the real UI inside tmux."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from tmux_helpers import ENTRY_POINT, RUN_TIMEOUT, SCREEN_TIMEOUT, Tmux

from workbench import __version__
from workbench.cli import build_parser, startup_endpoints
from workbench.protocol.options import OPTIONS

LOCALHOST = "127.0.0.1"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


# --- answers that never need a terminal ---


def test_help_names_every_option_and_the_url_form() -> None:
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    for option in ("--listen", "--connect", "--transcript", "--max-conns", "--idle", "--version"):
        assert option in result.stdout
    assert "tcp://HOST:PORT" in result.stdout
    assert "tcp://[::1]:PORT" in result.stdout


def test_version_prints_the_package_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"sockbench {__version__}\n"
    assert result.stderr == ""


@pytest.mark.skipif(not ENTRY_POINT.exists(), reason=f"no console script at {ENTRY_POINT}")
def test_console_script_answers_version() -> None:
    result = subprocess.run(
        [str(ENTRY_POINT), "--version"],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"sockbench {__version__}\n"


def test_max_conns_and_idle_apply_where_the_url_sets_none() -> None:
    listen = ["tcp://127.0.0.1:0", "tcp://127.0.0.1:0?max=7&idle=9", "unix:///tmp/x.sock"]
    listen.append("udp://127.0.0.1:0")
    argv = ["--max-conns", "500", "--idle", "2.5", "--connect", "tcp://127.0.0.1:9"]
    for url in listen:
        argv += ["--listen", url]
    args = build_parser().parse_args(argv)
    (plain, own, unix, udp), (outgoing,) = startup_endpoints(args)
    assert (plain.options.max_connections, plain.options.idle) == (500, 2.5)
    assert (own.options.max_connections, own.options.idle) == (7, 9.0)
    assert (unix.options.max_connections, unix.options.idle) == (500, 2.5)
    assert udp.options.max_connections is None and udp.options.idle is None
    assert outgoing.options.idle == 2.5


def test_half_open_and_the_eof_grace_from_the_command_line() -> None:
    argv = ["--half-open", "--eof-grace", "2", "--listen", "unix:///tmp/x.sock"]
    args = build_parser().parse_args([*argv, "--connect", "tcp://127.0.0.1:9?grace=0"])
    (unix,), (outgoing,) = startup_endpoints(args)
    assert (unix.options.half_open, unix.eof_grace) == (True, 2.0)
    assert (outgoing.options.half_open, outgoing.eof_grace) == (True, 0.0)
    defaults = startup_endpoints(build_parser().parse_args(["--listen", "tcp://127.0.0.1:0"]))
    assert (defaults[0][0].options.half_open, defaults[0][0].eof_grace) == (False, 0.5)


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--max-conns", "0"], "'0' is not a positive whole number"),
        (["--idle", "soon"], "idle takes a number of seconds"),
        (["--eof-grace", "later"], "grace takes a number of seconds"),
        (["--listen", "foo"], "'foo' is not a URL"),
        (["--connect", "tcp://127.0.0.1"], "has no port"),
        (["--connect", "tcp://127.0.0.1:0"], "port 0 can only be used to listen"),
        (["--listen", "sctp://x:1"], "unknown transport 'sctp://'"),
        (["--connect", "tcp://[::1:80"], "needs [IPV6]:PORT"),
    ],
)
def test_malformed_url_is_one_line_on_stderr_and_status_2(args: list[str], problem: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sockbench: error: ")
    assert args[0] in lines[0]  # which option
    assert problem in lines[0]  # what is wrong with it


def test_unwritable_transcript_is_refused_before_the_ui_starts() -> None:
    result = run_cli("--transcript", "/nonexistent-dir/x.jsonl", "--listen", "tcp://127.0.0.1:0")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot write transcript /nonexistent-dir/x.jsonl" in lines[0]


# --- the real UI in a real terminal (tmux) ---


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOCALHOST, 0))
        return probe.getsockname()[1]


def transcript_records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_real_app_in_tmux_shows_hostile_bytes_safely_and_records_them(
    tmux: Tmux, tmp_path: Path
) -> None:
    port = free_port()
    transcript = tmp_path / "session.jsonl"
    tmux.start_sockbench(
        tmp_path, "--listen", f"tcp://{LOCALHOST}:{port}", "--transcript", str(transcript)
    )

    tmux.wait_screen(f"listening on tcp {LOCALHOST}:{port}", "the listener on the screen")

    with socket.create_connection((LOCALHOST, port), timeout=SCREEN_TIMEOUT) as peer:
        peer.sendall(b"hello\x1b]2;pwned\x07\n")
        tmux.wait_screen(r"hello\x1b]2;pwned\x07\n", "the peer's bytes as visible escapes")
        assert "pwned" not in tmux.show("#{pane_title}")

        # The first peer becomes the target; Enter sends the line + LF, escapes decoded.
        tmux.run("send-keys", "-t", "main", "-l", r"typed in tmux\x21")
        tmux.run("send-keys", "-t", "main", "Enter")
        expected = b"typed in tmux!\n"
        received = b""
        peer.settimeout(SCREEN_TIMEOUT)
        while len(received) < len(expected):
            chunk = peer.recv(4096)
            if not chunk:
                break
            received += chunk
        assert received == expected

        tmux.quit_sockbench()
        peer.settimeout(SCREEN_TIMEOUT)
        assert peer.recv(4096) == b"", "quitting closes the peer's connection"

    records = transcript_records(transcript)
    closes = {r["conn"]: r for r in records if r["event"] == "close"}
    assert "L1" in closes and "C1" in closes, records
    assert closes["L1"]["reason"] == "sockbench quit"
    assert closes["C1"]["bytes_in"] == len(b"hello\x1b]2;pwned\x07\n")
    assert closes["C1"]["bytes_out"] == len(expected)


def test_the_garbage_collector_is_off_until_the_first_screen_then_tuned_for_a_long_run() -> None:
    code = (
        "import gc\n"
        "from workbench.gc_tuning import THRESHOLDS, pause_until_first_screen, tune_for_long_run\n"
        "pause_until_first_screen()\n"
        "print(gc.isenabled())\n"
        "import textual.app\n"
        "tune_for_long_run()\n"
        "print(gc.isenabled(), gc.get_threshold() == THRESHOLDS, gc.get_freeze_count() > 1000)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=RUN_TIMEOUT
    )
    assert result.stdout.split() == ["False", "True", "True", "True"], result.stderr


def test_help_names_every_declared_option_flag_and_url_option() -> None:
    text = build_parser().format_help()
    for option in OPTIONS:
        assert f"{option.url_name}={option.kind.metavar}" in text
        if option.command_line:
            assert option.command_line.flag in text


def test_echo_from_the_command_line_reaches_every_listener_and_no_connection() -> None:
    listen = ["tcp://127.0.0.1:0", "udp://127.0.0.1:0", "unix:///tmp/x.sock", "unix-dgram://@y"]
    argv = ["--echo", "--connect", "tcp://127.0.0.1:9"]
    for url in listen:
        argv += ["--listen", url]
    listeners, (outgoing,) = startup_endpoints(build_parser().parse_args(argv))
    assert [e.options.echo for e in listeners] == [True] * 4
    assert not outgoing.options.echo
    assert "--echo" in build_parser().format_help()
    assert not startup_endpoints(build_parser().parse_args(argv[1:]))[0][0].options.echo
