"""Hostile clients of a listener: more connections than its maximum, idle peers, running out
of file descriptors (the engine in a child process under a low RLIMIT_NOFILE), and
listeners on every interface, which work but warn."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
from fault_helpers import accept, endpoint, listen
from peers import (
    Collector,
    abort,
    connect_client,
    recv_until_eof,
    requires_ipv6,
    wait_until,
)

from workbench.engine import Engine
from workbench.engine.opening import ALL_INTERFACES_WARNING, DEFAULT_MAX_CONNECTIONS
from workbench.protocol import events as ev
from workbench.protocol.endpoints import with_defaults
from workbench.protocol.options import SocketOptions

# --- the maximum of connections ---


def test_extra_connections_are_closed_at_once_and_counted(
    engine: Engine, events: Collector
) -> None:
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?max=3")
    opened = events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid)
    assert opened.max_connections == 3
    assert opened.url == "tcp://127.0.0.1:0?max=3"
    kept = [accept(events, lid, port) for _ in range(3)]
    extra = [connect_client(port) for _ in range(2)]
    try:
        for client in extra:
            # Closed at once: the client reads the end of the stream, not a hang.
            assert recv_until_eof(client) == b""
        refused = events.wait_for(
            lambda e: isinstance(e, ev.ListenerRefused) and e.lid == lid and e.refused == 2
        )
        assert refused.refused == 2
        note = events.wait_for(lambda e: isinstance(e, ev.Note) and e.source == lid)
        assert note.message.startswith(f"{lid} full (3 open): refused 127.0.0.1:")
        assert len(events.of(ev.ConnectionOpened)) == 3
        # Room again once one of them closes.
        first_client, first_cid = kept[0]
        abort(first_client)  # a reset: a plain close would leave it open for us to send
        events.wait_closed(first_cid)
        client, cid = accept(events, lid, port)
        with client:
            client.sendall(b"in again")
            assert events.wait_received(cid, 8) == b"in again"
    finally:
        for client in extra:
            client.close()
        for client, _ in kept:
            client.close()


def test_stream_listeners_have_a_default_maximum(
    engine: Engine, events: Collector, tmp_path
) -> None:
    tcp = engine.listen(endpoint("tcp://127.0.0.1:0", listen=True))
    unix = engine.listen(endpoint(f"unix://{tmp_path}/s.sock", listen=True))
    udp = engine.listen(endpoint("udp://127.0.0.1:0", listen=True))
    events.wait_until(lambda: len(events.of(ev.ListenerOpened)) == 3, what="three listeners")
    maxima = {e.lid: e.max_connections for e in events.of(ev.ListenerOpened)}
    assert maxima == {tcp: DEFAULT_MAX_CONNECTIONS, unix: DEFAULT_MAX_CONNECTIONS, udp: 0}


# --- idle peers ---


def test_idle_peer_is_closed_with_the_reason(engine: Engine, events: Collector) -> None:
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?idle=0.5")
    client, cid = accept(events, lid, port)
    with client:
        closed = events.wait_closed(cid)
        assert (closed.reason, closed.error) == ("idle for 0.5 s", False)
        assert recv_until_eof(client) == b""


def test_traffic_resets_the_idle_timer(engine: Engine, events: Collector) -> None:
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?idle=1")
    client, cid = accept(events, lid, port)
    with client:
        started = time.monotonic()
        for _ in range(8):  # 1.6 s of traffic, a byte every 0.2 s
            client.sendall(b".")
            time.sleep(0.2)
        events.pump()
        assert not events.of(ev.ConnectionClosed, cid), "traffic keeps it open"
        # Our own sends count as traffic too.
        for _ in range(4):
            engine.send(cid, b"!")
            time.sleep(0.2)
        events.pump()
        assert not events.of(ev.ConnectionClosed, cid)
        assert events.wait_closed(cid).reason == "idle for 1 s"
        assert time.monotonic() - started > 2.4


def test_outgoing_connection_with_an_idle_timeout(engine: Engine, events: Collector) -> None:
    lid, port = listen(engine, events)
    cid = engine.connect(endpoint(f"tcp://127.0.0.1:{port}?idle=0.3"))
    assert events.wait_closed(cid).reason == "idle for 0.3 s"
    accepted = events.wait_opened(listener=lid)
    events.wait_for(lambda e: isinstance(e, ev.HalfClosed) and e.cid == accepted.cid)


# --- listening on every interface ---


@pytest.mark.parametrize(
    "url",
    [
        "tcp://0.0.0.0:0",
        "udp://0.0.0.0:0",
        pytest.param("tcp://[::]:0", marks=requires_ipv6),
        pytest.param("udp://[::]:0", marks=requires_ipv6),
    ],
)
def test_every_interface_works_but_warns(engine: Engine, events: Collector, url: str) -> None:
    lid, _ = listen(engine, events, url)
    opened = events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid)
    assert ALL_INTERFACES_WARNING in opened.warnings
    assert f"warning: {ALL_INTERFACES_WARNING}" in opened.notes


def test_loopback_does_not_warn(engine: Engine, events: Collector) -> None:
    lid, _port = listen(engine, events, "tcp://127.0.0.1:0")
    opened = events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid)
    assert opened.notes == () and opened.warnings == ()


# --- running out of file descriptors ---

CHILD = r"""
import dataclasses, json, resource, sys, threading
from workbench.protocol.endpoints import parse_url
from workbench.engine import Engine, EventBridge

limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
bridge = EventBridge()
engine = Engine(bridge)
engine.start()
engine.listen(parse_url("tcp://127.0.0.1:0?max=1000", for_listen=True))
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
while not stop.is_set():
    for event in bridge.drain(0.1):
        if dataclasses.is_dataclass(event):  # Data; the other events are named tuples
            fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
        else:
            fields = event._asdict()
        fields.pop("data", None)
        print(json.dumps({"type": type(event).__name__, **fields}, default=str), flush=True)
engine.stop()
print(json.dumps({"type": "stopped"}), flush=True)
"""


class Child:
    """The engine in a child process; its events arrive as JSON lines."""

    def __init__(self, limit: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(limit)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.events: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.append(json.loads(line))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in list(self.events) if e["type"] == kind]

    def wait(self, kind: str, predicate: Any = lambda e: True, timeout: float = 10) -> Any:
        return wait_until(
            lambda: next((e for e in self.of(kind) if predicate(e)), None), timeout, kind
        )

    def stop(self) -> int:
        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.close()
        try:
            return self.proc.wait(10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(5)


def test_out_of_file_descriptors_reported_once_and_recovers() -> None:
    child = Child(limit=48)
    clients: list[socket.socket] = []
    try:
        opened = child.wait("ListenerOpened")
        port = int(opened["local"][0].rsplit(":", 1)[1])
        for _ in range(120):  # far more than 48 descriptors allow
            clients.append(connect_client(port))
        accepted = len(child.of("ConnectionOpened"))
        report = child.wait(
            "ErrorReported", lambda e: "out of file descriptors" in e["message"], timeout=10
        )
        assert report["source"] == opened["lid"]
        assert "this process may open 48" in report["message"]
        assert "could not be accepted in the last" in report["message"]
        time.sleep(2.5)  # a whole report period more: still one report
        reports = [e for e in child.of("ErrorReported") if "file descriptors" in e["message"]]
        assert len(reports) == 1, reports
        accepted = len(child.of("ConnectionOpened"))
        assert 0 < accepted < 48
        shed = int(report["message"].split(": ")[1].split(" ")[0].replace(",", ""))
        assert accepted + shed == 120, (accepted, shed)
        assert child.proc.poll() is None, "the engine stays up"
        # Free the descriptors: it accepts again, and says so.
        for client in clients:
            abort(client)  # a reset ends the connection; a close would leave it half-open
        clients.clear()
        wait_until(lambda: len(child.of("ConnectionClosed")) == accepted, 10, "peers closed")
        with connect_client(port) as client:
            client.sendall(b"ping")
            child.wait("Data", lambda e: e["size"] == 4)
        note = child.wait("Note", lambda e: "accepts connections again" in e["message"])
        assert note["source"] == opened["lid"]
    finally:
        for client in clients:
            client.close()
        code = child.stop()
    assert code == 0, child.proc.stderr.read().decode() if child.proc.stderr else ""
    assert child.of("stopped")


DESCRIPTOR_TABLE_PROBE = """
import resource
from workbench.engine import Engine, EventBridge

def table_size():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("FDSize:"))

resource.setrlimit(resource.RLIMIT_NOFILE, (20_000, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
before = table_size()
engine = Engine(EventBridge())
engine.start()
print(before, table_size())
engine.stop()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="FDSize is Linux's /proc")
def test_the_descriptor_table_has_room_for_a_storm_from_the_start() -> None:
    # The kernel grows it by doubling as descriptors open; in a process with threads each
    # growth waits for the old table's readers (milliseconds): a storm's first accepts were
    # 7 times slower in a fresh app, and its listen queue overflowed.
    from workbench.engine.limits import DESCRIPTOR_ROOM

    result = subprocess.run(
        [sys.executable, "-c", DESCRIPTOR_TABLE_PROBE], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    before, after = map(int, result.stdout.split())
    assert before < DESCRIPTOR_ROOM <= after


def test_unix_listener_takes_a_maximum_and_idle_timeout_from_the_command_line(
    engine: Engine, events: Collector, tmp_path
) -> None:
    path = str(tmp_path / "s.sock")
    flags = SocketOptions(max_connections=1, idle=0.5)
    listener = endpoint(f"unix://{path}", listen=True)
    lid = engine.listen(with_defaults(listener, flags, for_listen=True))
    opened = events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid)
    assert opened.max_connections == 1
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as first:
        first.settimeout(5)
        first.connect(path)
        cid = events.wait_opened(listener=lid).cid
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as second:
            second.settimeout(5)
            second.connect(path)
            assert recv_until_eof(second) == b"", "over the maximum: closed at once"
        assert events.wait_closed(cid).reason == "idle for 0.5 s"
        assert recv_until_eof(first) == b""
