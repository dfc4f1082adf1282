"""Permission denied: listening on a low port as an unprivileged user is reported in plain
words, and the engine goes on (a later listener on a free high port works).

The check runs in a child process as `nobody` (setpriv drops root's user, groups and
capabilities), driving the Engine the way the UI does. It needs root to switch users, and a
system where low ports are privileged at all (`net.ipv4.ip_unprivileged_port_start`).
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from unprivileged import require_nobody, run_as_nobody

LOCALHOST = "127.0.0.1"
UNPRIVILEGED_PORT_START = Path("/proc/sys/net/ipv4/ip_unprivileged_port_start")

# The child: listen on the low port (TCP and UDP) and on port 0, connect to a Unix socket in
# a directory only root may enter, print each listener's or connection's outcome as JSON.
# Passed with -c: nobody may not read pytest's temporary directory.
CHILD = """
import json, sys, time
from workbench.protocol.endpoints import parse_url
from workbench.engine import Engine, EventBridge
from workbench.protocol import events as ev

port, unix_path = int(sys.argv[1]), sys.argv[2]
bridge = EventBridge()
engine = Engine(bridge)
engine.start()
for url in (f"tcp://127.0.0.1:{port}", f"udp://127.0.0.1:{port}", "tcp://127.0.0.1:0"):
    engine.listen(parse_url(url, for_listen=True))
engine.connect(parse_url(f"unix://{unix_path}", for_listen=False))
seen = {}
deadline = time.monotonic() + 10
while len(seen) < 4 and time.monotonic() < deadline:
    for event in bridge.drain():
        if isinstance(event, ev.ErrorReported):
            seen[event.source] = {"error": event.message}
        elif isinstance(event, ev.ConnectionClosed):
            seen[event.cid] = {"error": event.reason}
        elif isinstance(event, ev.ListenerOpened):
            seen[event.lid] = {"listening": list(event.local)}
    time.sleep(0.02)
engine.stop()
print(json.dumps(seen))
"""


def privileged_port_limit() -> int:
    try:
        return int(UNPRIVILEGED_PORT_START.read_text())
    except (OSError, ValueError):
        return 1024  # the kernel's rule before the setting existed


def free_low_port(limit: int) -> int:
    """A port below `limit` nothing is bound to (root can check by binding)."""
    for port in (80, 81, 88, 443, 444, 777, 999, 1000, 1001, 1010):
        if port >= limit:
            continue
        try:
            with socket.socket() as tcp, socket.socket(type=socket.SOCK_DGRAM) as udp:
                tcp.bind((LOCALHOST, port))
                udp.bind((LOCALHOST, port))
        except OSError:
            continue
        return port
    pytest.skip(f"no free port below {limit} to try")


def test_a_low_port_or_a_closed_directory_is_refused_to_an_unprivileged_user_in_plain_words(
    tmp_path: Path,
) -> None:
    require_nobody()
    limit = privileged_port_limit()
    if limit == 0:
        pytest.skip("net.ipv4.ip_unprivileged_port_start is 0: every user may bind low ports here")
    port = free_low_port(limit)

    private = tmp_path / "root-only"
    private.mkdir(mode=0o700)
    unix_path = str(private / "app.sock")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(unix_path)
        server.listen()
        result = run_as_nobody("-c", CHILD, str(port), unix_path)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.splitlines()[-1])
    address = f"{LOCALHOST}:{port}"
    why = "ports below 1024 need root or CAP_NET_BIND_SERVICE"
    assert seen["L1"] == {"error": f"cannot listen: permission denied for {address} ({why})"}
    assert seen["L2"] == {"error": f"cannot listen: permission denied for {address} ({why})"}
    assert seen["C1"] == {"error": f"permission denied for {unix_path}"}
    # The engine goes on: the next listener opens.
    assert "listening" in seen["L3"], seen
