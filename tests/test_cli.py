"""The `sockbench` command as a user runs it: real subprocesses, and the real UI inside tmux."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from workbench import __version__

LOCALHOST = "127.0.0.1"
RUN_TIMEOUT = 30.0  # seconds for one CLI subprocess (it never starts the UI in these tests)
SCREEN_TIMEOUT = 15.0  # seconds for something to appear on the tmux screen
POLL_SECONDS = 0.1

ENTRY_POINT = Path(sys.executable).with_name("sockbench")


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
    for option in ("--listen", "--connect", "--transcript", "--version"):
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


@pytest.mark.parametrize(
    ("args", "problem"),
    [
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


def wait_until(condition: Callable[[], object], what: str, timeout: float = SCREEN_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(POLL_SECONDS)


class Tmux:
    """A private tmux server (its own socket name), so no user session is touched."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
        self.socket_path: Path | None = None

    def run(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.name, *args],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            env=self.env,
            stdin=subprocess.DEVNULL,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-J", "-t", "main")

    def show(self, key: str) -> str:
        return self.run("display", "-p", "-t", "main", key).strip()

    def wait(self, condition: Callable[[], object], what: str) -> None:
        """Poll `condition`; on timeout, fail with the pane's last screen."""
        try:
            wait_until(condition, what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the screen:\n{self.screen()}") from None

    def wait_screen(self, text: str, what: str) -> None:
        self.wait(lambda: text in self.screen(), what)

    def start(self, config: Path, shell_command: str) -> None:
        """One detached 120x36 session, `main`, running `shell_command`."""
        self.run(
            "-f", str(config),
            "new-session", "-d", "-s", "main", "-x", "120", "-y", "36",
            shell_command,
        )  # fmt: skip
        self.socket_path = Path(self.show("#{socket_path}"))

    def kill(self) -> None:
        self.run("kill-server", check=False)
        if self.socket_path is not None:
            self.socket_path.unlink(missing_ok=True)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (apt-get install tmux): the end-to-end test needs it")
    server = Tmux(f"sockbench-test-{os.getpid()}")
    try:
        yield server
    finally:
        server.kill()


def read_line(path: Path) -> str:
    """The file's text once a whole line is in it, else ''."""
    text = path.read_text() if path.exists() else ""
    return text if text.endswith("\n") else ""


def transcript_records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_real_app_in_tmux_shows_hostile_bytes_safely_and_records_them(
    tmux: Tmux, tmp_path: Path
) -> None:
    port = free_port()
    transcript = tmp_path / "session.jsonl"
    command = (
        [str(ENTRY_POINT)] if ENTRY_POINT.exists() else [sys.executable, "-m", "workbench"]
    ) + ["--listen", f"tcp://{LOCALHOST}:{port}", "--transcript", str(transcript)]
    # The pane's shell records the exit status: tmux 3.3a sometimes misses the SIGCHLD of a
    # pane's process, leaving #{pane_dead_status} empty. The app's stderr is left alone:
    # Textual draws the UI on it.
    exit_status = tmp_path / "exit-status"
    shell_command = f"{shlex.join(command)}; echo $? > {shlex.quote(str(exit_status))}"
    config = tmp_path / "tmux.conf"
    config.write_text("set -g remain-on-exit on\n")  # keep the last screen for failure reports
    tmux.start(config, shell_command)

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

        tmux.run("send-keys", "-t", "main", "C-q")
        tmux.wait(lambda: read_line(exit_status), "sockbench to quit on ctrl+q")
        assert read_line(exit_status) == "0\n", "sockbench did not exit with status 0"
        peer.settimeout(SCREEN_TIMEOUT)
        assert peer.recv(4096) == b"", "quitting closes the peer's connection"

    records = transcript_records(transcript)
    closes = {r["conn"]: r for r in records if r["event"] == "close"}
    assert "L1" in closes and "C1" in closes, records
    assert closes["L1"]["reason"] == "sockbench quit"
    assert closes["C1"]["bytes_in"] == len(b"hello\x1b]2;pwned\x07\n")
    assert closes["C1"]["bytes_out"] == len(expected)
