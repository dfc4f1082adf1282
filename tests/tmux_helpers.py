"""The real `sockbench` command inside a private tmux server: start it, read its screen, send
keys, and see what reached the terminal (pane title, window name, paste buffers)."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

RUN_TIMEOUT = 30.0  # seconds for one tmux or CLI subprocess
SCREEN_TIMEOUT = 15.0  # seconds for something to appear on the tmux screen
POLL_SECONDS = 0.1
WIDTH, HEIGHT = 120, 36

ENTRY_POINT = Path(sys.executable).with_name("sockbench")


def sockbench_command(*args: str) -> list[str]:
    """The installed console script when there is one, else `python -m workbench`."""
    base = [str(ENTRY_POINT)] if ENTRY_POINT.exists() else [sys.executable, "-m", "workbench"]
    return [*base, *args]


def wait_until(condition: Callable[[], object], what: str, timeout: float = SCREEN_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(POLL_SECONDS)


def read_line(path: Path) -> str:
    """The file's text once a whole line is in it, else ''."""
    text = path.read_text() if path.exists() else ""
    return text if text.endswith("\n") else ""


class Tmux:
    """A private tmux server (its own socket name), so no user session is touched."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "TMUX_PANE")}
        self.socket_path: Path | None = None
        self.exit_status: Path | None = None

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

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.run("send-keys", "-t", "main", *(["-l"] if literal else []), *keys)

    def buffers(self) -> str:
        """The paste buffers: an OSC 52 that reached tmux (with set-clipboard on) adds one."""
        return self.run("list-buffers")

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
            "new-session", "-d", "-s", "main", "-x", str(WIDTH), "-y", str(HEIGHT),
            shell_command,
        )  # fmt: skip
        self.socket_path = Path(self.show("#{socket_path}"))

    def start_sockbench(self, tmp_path: Path, *args: str, config: str = "") -> None:
        """Run the real command with `args`; `config` adds lines to the tmux configuration.

        The pane's shell records the exit status (see `exited`): tmux 3.3a sometimes misses
        the SIGCHLD of a pane's process, leaving #{pane_dead_status} empty. The app's stderr
        is left alone: Textual draws the UI on it.
        """
        self.exit_status = tmp_path / "exit-status"
        command = shlex.join(sockbench_command(*args))
        shell_command = f"{command}; echo $? > {shlex.quote(str(self.exit_status))}"
        conf = tmp_path / "tmux.conf"
        # remain-on-exit keeps the last screen for failure reports.
        conf.write_text("set -g remain-on-exit on\n" + config)
        self.start(conf, shell_command)

    def exited(self) -> str:
        """'STATUS\\n' once the command ended, else ''."""
        assert self.exit_status is not None, "start_sockbench first"
        return read_line(self.exit_status)

    def quit_sockbench(self) -> None:
        """ctrl+q, then wait for the command to end with status 0."""
        self.keys("C-q")
        self.wait(self.exited, "sockbench to quit on ctrl+q")
        assert self.exited() == "0\n", "sockbench did not exit with status 0"

    def kill(self) -> None:
        self.run("kill-server", check=False)
        if self.socket_path is not None:
            self.socket_path.unlink(missing_ok=True)


@contextlib.contextmanager
def tmux_server() -> Iterator[Tmux]:
    """A private server, killed at the end; skips the test when tmux is not installed."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (apt-get install tmux): the end-to-end test needs it")
    server = Tmux(f"sockbench-test-{os.getpid()}")
    try:
        yield server
    finally:
        server.kill()
