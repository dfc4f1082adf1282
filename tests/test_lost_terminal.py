"""Losing the terminal ends sockbench the way ctrl+q does, also when no SIGHUP reaches it.

With SIGHUP ignored by the shell that started it (`trap '' HUP`, as `nohup` does and some
launchers), the shell neither dies nor passes the hangup on, so sockbench gets no signal
at all: Textual's input thread then reads end-of-file from the hung-up terminal forever
(one CPU busy) and the app never ended, holding its ports, its transcript never closed.
Now a watcher notices the terminal is gone (it answers EIO) and the app quits as on SIGHUP:
every socket closed with its record, the transcript closed, exit status 129.

The real command runs in a private tmux server; killing the server hangs its terminal up.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tmux_helpers import RUN_TIMEOUT, Tmux, read_line, sockbench_command, wait_until

LOCALHOST = "127.0.0.1"
# Seconds from the terminal's loss to the process's end: a poll of the terminal (0.5 s),
# the quit (ctrl+q's path) and, if Textual's writes to the dead terminal hold it up, the
# exit watchdog (3 s). Measured here: 0.3-0.6 s.
EXIT_BOUND = 6.0

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="uses Linux's /proc and ptys"
)


def records(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes() if path.exists() else b""
    return [json.loads(line) for line in data.split(b"\n")[:-1]]


def listening(path: Path) -> dict[str, tuple[str, int]]:
    """transport -> (lid, port) of the listeners, once their records are on disk."""
    found: dict[str, tuple[str, int]] = {}

    def on_disk() -> bool:
        for record in records(path):
            if record["event"] == "listen":
                port = int(record["local"][0].rsplit(":", 1)[1])
                found[record["transport"]] = (record["conn"], port)
        return len(found) == 2

    wait_until(on_disk, "both listen records on disk")
    return found


def children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return [int(child) for child in text.split()]
    return []


def alive(pid: int) -> bool:
    """Running (a zombie has ended: only its parent has not reaped it yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def port_free(kind: int, port: int) -> bool:
    """Nothing holds the port (SO_REUSEADDR: the closed connection's TIME_WAIT does not
    count; a listening socket still does)."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOCALHOST, port))
        except OSError:
            return False
    return True


@pytest.mark.parametrize("exec_it", [False, True], ids=["shell-ignores-hup", "nohup-exec"])
def test_losing_the_terminal_with_sighup_ignored_quits_and_keeps_everything(
    tmux: Tmux, tmp_path: Path, exec_it: bool
) -> None:
    """`shell-ignores-hup`: no SIGHUP reaches sockbench (it stayed, before). `nohup-exec`:
    sockbench started with SIGHUP ignored, as `nohup` starts it."""
    transcript = tmp_path / "session.jsonl"
    status = tmp_path / "status"
    command = shlex.join(
        sockbench_command(
            "--listen", f"tcp://{LOCALHOST}:0", "--listen", f"udp://{LOCALHOST}:0",
            "--transcript", str(transcript),
        )
    )  # fmt: skip
    if exec_it:
        script = f"trap '' HUP; exec {command}"
    else:
        script = f"trap '' HUP; {command}; echo $? > {shlex.quote(str(status))}"
    conf = tmp_path / "tmux.conf"
    conf.write_text("")
    tmux.start(conf, shlex.join(["bash", "-c", script]))
    shell = int(tmux.show("#{pane_pid}"))
    ports = listening(transcript)
    if exec_it:
        pid = shell
    else:
        wait_until(lambda: children(shell), "sockbench to start under the shell", RUN_TIMEOUT)
        (pid,) = children(shell)
    try:
        tmux.wait(lambda: "listening on udp" in tmux.screen(), "the listeners on the screen")
        tcp_lid, tcp_port = ports["tcp"]
        udp_lid, udp_port = ports["udp"]
        with socket.create_connection((LOCALHOST, tcp_port), timeout=RUN_TIMEOUT) as peer:
            peer.sendall(b"hello before the terminal went\n")
            tmux.wait(lambda: "hello before the terminal went" in tmux.screen(), "the line")
            started = time.monotonic()
            tmux.kill()  # the terminal hangs up
            wait_until(lambda: not alive(pid), "sockbench to end", EXIT_BOUND)
            took = time.monotonic() - started
            peer.settimeout(RUN_TIMEOUT)
            assert peer.recv(1) == b"", "the peer's connection was not closed"
        print(f"sockbench ended {took:.2f} s after its terminal was lost")
        if not exec_it:
            wait_until(lambda: read_line(status), "the shell to record the exit status")
            assert read_line(status) == f"{128 + signal.SIGHUP}\n"
        got = records(transcript)
        assert transcript.read_bytes().endswith(b"\n")
        (opened,) = [r for r in got if r["event"] == "open"]
        closed = {r["conn"]: r for r in got if r["event"] == "close"}
        assert set(closed) == {opened["conn"], tcp_lid, udp_lid}, got
        assert "sockbench quit" in closed[opened["conn"]]["reason"]
        assert port_free(socket.SOCK_STREAM, tcp_port), "the TCP port is still held"
        assert port_free(socket.SOCK_DGRAM, udp_port), "the UDP port is still held"
    finally:
        for leftover in (pid, shell):
            with contextlib.suppress(ProcessLookupError):
                if alive(leftover):
                    os.kill(leftover, signal.SIGKILL)
