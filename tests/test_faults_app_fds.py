"""End to end: the real `sockbench` command in tmux, under a low RLIMIT_NOFILE (prlimit), takes
a connection flood: it stays up and answers keys, says once that it ran out of file
descriptors, and accepts again once they are free."""

from __future__ import annotations

import contextlib
import json
import shlex
import shutil
import socket
from pathlib import Path

import pytest
from peers import abort, connect_client, free_port
from tmux_helpers import Tmux, sockbench_command, wait_until

LOCALHOST = "127.0.0.1"
LIMIT = 64
FLOOD = 150


@pytest.mark.skipif(shutil.which("prlimit") is None, reason="prlimit (util-linux) is missing")
def test_app_under_a_low_descriptor_limit_survives_a_connection_flood(
    tmux: Tmux, tmp_path: Path
) -> None:
    port = free_port()
    transcript = tmp_path / "t.jsonl"
    tmux.exit_status = tmp_path / "exit-status"
    command = shlex.join(
        [
            "prlimit",
            f"--nofile={LIMIT}:{LIMIT}",
            *sockbench_command(
                "--listen", f"tcp://{LOCALHOST}:{port}?max=1000", "--transcript", str(transcript)
            ),
        ]
    )
    conf = tmp_path / "tmux.conf"
    conf.write_text("set -g remain-on-exit on\n")
    tmux.start(conf, f"{command}; echo $? > {shlex.quote(str(tmux.exit_status))}")
    tmux.wait_screen(f"listening on tcp {LOCALHOST}:{port}", "the listener")

    clients: list[socket.socket] = []
    try:
        for _ in range(FLOOD):
            clients.append(connect_client(port))
        tmux.wait_screen("out of file descriptors", "the out-of-descriptors report")
        assert not tmux.exited(), "the app stays up"
        assert tmux.screen().count("out of file descriptors") <= 2, "one report (and its toast)"
        # It answers keys: the Listen dialog opens and closes.
        tmux.keys("F2")
        tmux.wait_screen("Port 0 picks a free port", "the Listen dialog")
        tmux.keys("Escape")
        tmux.wait(lambda: "Port 0 picks" not in tmux.screen(), "the dialog closed")
        for client in clients:
            abort(client)
        clients.clear()
        # Until the app has closed the flood's connections, a new client may still be shed.
        for attempt in range(20):
            with connect_client(port) as client:
                client.sendall(b"back to normal %d\n" % attempt)
                with contextlib.suppress(AssertionError):
                    wait_until(lambda: "back to normal" in tmux.screen(), "a line", timeout=1)
                    break
        tmux.wait_screen("back to normal", "a new peer's line")
    finally:
        for client in clients:
            client.close()
    tmux.quit_sockbench()
    # (The recovery note itself is checked in test_faults_listener.py: a Log row here is
    # too narrow to show the whole sentence.)
    reports = [
        record
        for record in map(json.loads, transcript.read_text().splitlines())
        if record["event"] == "error" and "out of file descriptors" in record["message"]
    ]
    assert len(reports) == 1, reports
