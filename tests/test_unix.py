"""Unix sockets with real peers: stream listeners and clients (filesystem paths and abstract
names), datagram listeners and clients, and what happens to the socket file: stale ones are
replaced, live ones and other files are refused, and ours is removed when we are done."""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import socket
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from peers import (
    Collector,
    UnixDgramServer,
    UnixEchoServer,
    process_peer,
    recv_exactly,
    recv_nothing,
    requires_socat,
    short_temp_dir,
    wait_until,
)

from workbench.engine import Engine
from workbench.protocol import events as ev
from workbench.protocol.addresses import EndpointError
from workbench.protocol.endpoints import UNIX_PATH_MAX, Endpoint, parse_url

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="abstract names and autobind are Linux-only"
)

_names = itertools.count()


# --- helpers ---


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    """A directory short enough for socket paths (pytest's tmp_path can exceed 107 bytes)."""
    with short_temp_dir() as directory:
        yield directory


def endpoint(url: str, listen: bool = False) -> Endpoint:
    return parse_url(url, for_listen=listen)


def abstract_name() -> str:
    return f"sockbench-test-{os.getpid()}-{next(_names)}"


def listen(engine: Engine, events: Collector, url: str) -> tuple[str, ev.ListenerOpened]:
    lid = engine.listen(endpoint(url, listen=True))
    opened = events.wait_for(
        lambda e: (
            (isinstance(e, ev.ListenerOpened) and e.lid == lid)
            or (isinstance(e, ev.ErrorReported) and e.source == lid)
        )
    )
    assert isinstance(opened, ev.ListenerOpened), opened
    return lid, opened


def listen_error(engine: Engine, events: Collector, url: str) -> str:
    lid = engine.listen(endpoint(url, listen=True))
    error = events.wait_for(lambda e: isinstance(e, ev.ErrorReported) and e.source == lid)
    assert not [e for e in events.of(ev.ListenerOpened) if e.lid == lid]
    assert lid not in engine.listeners
    return error.message


def unix_client(path: str, kind: int = socket.SOCK_STREAM) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, kind)
    sock.settimeout(5)
    if kind == socket.SOCK_STREAM:
        sock.connect(path)
    return sock


def opened_on(events: Collector, lid: str, count: int) -> list[ev.ConnectionOpened]:
    return events.wait_until(
        lambda: (
            len(found := [e for e in events.of(ev.ConnectionOpened) if e.listener == lid]) >= count
            and found
        ),
        what=f"{count} peers on {lid}",
    )


def cid_that_sent(events: Collector, candidates: list[str], first: bytes) -> str:
    """Which of `candidates` received `first` (the peers say who they are in their first words)."""

    def find() -> str | None:
        for cid in candidates:
            if events.received(cid).startswith(first):
                return cid
        return None

    return events.wait_until(find, what=f"a peer that sent {first!r}")


def transcript_streams(path: Path) -> dict[tuple[str, str], bytes]:
    """The bytes of each (connection, direction) in a transcript, in order."""
    streams: dict[tuple[str, str], bytearray] = defaultdict(bytearray)
    for line in path.read_bytes().splitlines():
        record = json.loads(line)
        if record["event"] == "data":
            streams[record["conn"], record["dir"]] += base64.b64decode(record["data"])
    return {key: bytes(value) for key, value in streams.items()}


def make_stale(path: Path, kind: int = socket.SOCK_STREAM) -> None:
    """Leave a socket file behind, as a listener that crashed would."""
    sock = socket.socket(socket.AF_UNIX, kind)
    sock.bind(str(path))
    if kind == socket.SOCK_STREAM:
        sock.listen()
    sock.close()
    assert path.is_socket()


# --- stream listener and clients ---


@requires_socat
def test_stream_listener_with_a_python_and_a_socat_client(make_engine: Any, sock_dir: Path) -> None:
    transcript = sock_dir / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    path = str(sock_dir / "l.sock")
    lid, opened = listen(engine, events, f"unix://{path}")
    assert opened.local == (path,)
    assert opened.url == f"unix://{path}"
    with (
        contextlib.closing(unix_client(path)) as py,
        process_peer(["socat", "-", f"UNIX-CONNECT:{path}"]) as tool,
    ):
        py.sendall(b"from python\n")
        tool.send(b"from socat\n")
        peers = opened_on(events, lid, 2)
        assert len(peers) == 2 and len({p.cid for p in peers}) == 2
        assert {p.transport for p in peers} == {"unix"}
        assert {p.remote for p in peers} == {"(unnamed)"}
        assert {p.local for p in peers} == {path}
        cids = [p.cid for p in peers]
        py_cid = cid_that_sent(events, cids, b"from python")
        (tool_cid,) = set(cids) - {py_cid}
        assert events.wait_received(py_cid, 12) == b"from python\n"
        assert events.wait_received(tool_cid, 11) == b"from socat\n"

        big = os.urandom(300_000)
        engine.send(py_cid, big)
        engine.send(tool_cid, b"to socat\n")
        assert recv_exactly(py, len(big)) == big
        assert tool.wait_output(9) == b"to socat\n"
        back = os.urandom(300_000)
        py.sendall(back)
        events.wait_received(py_cid, 12 + len(back))
        assert events.size(py_cid, outgoing=False) == 12 + len(back)
        assert recv_nothing(py) is None
        assert tool.output == b"to socat\n", "each peer gets only what was sent to it"
    engine.stop()
    # The events carry a view of big chunks; the transcript has every byte.
    streams = transcript_streams(transcript)
    assert streams[py_cid, "in"] == b"from python\n" + back
    assert streams[py_cid, "out"] == big
    assert streams[tool_cid, "in"] == b"from socat\n"
    assert streams[tool_cid, "out"] == b"to socat\n"


def test_stream_client_to_a_python_unix_server(
    engine: Engine, events: Collector, sock_dir: Path
) -> None:
    path = str(sock_dir / "echo.sock")
    with UnixEchoServer(path) as server:
        cid = engine.connect(endpoint(f"unix://{path}"))
        opened = events.wait_opened(cid)
        assert opened.transport == "unix"
        assert opened.listener is None
        assert opened.remote == path
        payload = os.urandom(48_000)  # under the 64 KiB a Data event carries of one chunk
        engine.send(cid, payload)
        assert events.wait_received(cid, len(payload)) == payload
        engine.half_close(cid)
        assert events.wait_closed(cid).reason == "closed by both sides"
        assert server.connections == 1


def test_stream_client_to_nothing_is_refused_in_plain_words(
    engine: Engine, events: Collector, sock_dir: Path
) -> None:
    missing = str(sock_dir / "nobody.sock")
    cid = engine.connect(endpoint(f"unix://{missing}"))
    closed = events.wait_closed(cid)
    assert closed.error
    assert f"no such socket: {missing}" in closed.reason


def test_abstract_listener_with_a_python_client(
    engine: Engine, events: Collector, sock_dir: Path
) -> None:
    name = abstract_name()
    lid, opened = listen(engine, events, f"unix://@{name}")
    assert opened.local == (f"@{name}",)
    with contextlib.closing(unix_client(f"\0{name}")) as py:
        py.sendall(b"python here")
        (peer,) = opened_on(events, lid, 1)
        assert peer.local == f"@{name}"
        assert peer.remote == "(unnamed)"
        assert events.wait_received(peer.cid, 11) == b"python here"
        engine.send(peer.cid, b"engine here")
        assert recv_exactly(py, 11) == b"engine here"
    assert os.listdir(sock_dir) == [], "an abstract name leaves no file"


def test_abstract_stream_client_to_an_abstract_listener(engine: Engine, events: Collector) -> None:
    name = abstract_name()
    lid, _ = listen(engine, events, f"unix://@{name}")
    cid = engine.connect(endpoint(f"unix://@{name}"))
    client = events.wait_for(
        lambda e: isinstance(e, ev.ConnectionOpened | ev.ConnectionClosed) and e.cid == cid
    )
    assert isinstance(client, ev.ConnectionOpened), client
    assert client.remote == f"@{name}"
    accepted = opened_on(events, lid, 1)[0]
    assert accepted.local == f"@{name}"
    engine.send(cid, b"to the listener")
    engine.send(accepted.cid, b"to the client")
    assert events.wait_received(accepted.cid, 15) == b"to the listener"
    assert events.wait_received(cid, 13) == b"to the client"


# --- datagram listener and clients ---


def test_dgram_listener_replies_reach_an_autobound_python_client(
    engine: Engine, events: Collector, sock_dir: Path
) -> None:
    path = str(sock_dir / "d.sock")
    lid, opened = listen(engine, events, f"unix-dgram://{path}")
    assert opened.local == (path,)
    with (
        contextlib.closing(unix_client(path, socket.SOCK_DGRAM)) as one,
        contextlib.closing(unix_client(path, socket.SOCK_DGRAM)) as two,
    ):
        for client in (one, two):
            client.bind("")  # Linux autobind: an abstract name replies can go to
        one.sendto(b"one", path)
        two.sendto(b"two", path)
        peers = opened_on(events, lid, 2)
        assert {p.transport for p in peers} == {"unix-dgram"}
        by_remote = {p.remote: p.cid for p in peers}
        one_name = "@" + one.getsockname()[1:].decode()
        two_name = "@" + two.getsockname()[1:].decode()
        assert set(by_remote) == {one_name, two_name}
        assert events.wait_received(by_remote[one_name], 3) == b"one"
        assert events.wait_received(by_remote[two_name], 3) == b"two"
        engine.send(by_remote[one_name], b"reply to one")
        engine.send(by_remote[two_name], b"reply to two")
        assert one.recvfrom(100) == (b"reply to one", path)
        assert two.recvfrom(100) == (b"reply to two", path)
        # Datagram boundaries hold, including an empty datagram.
        for payload in (b"a", b"", b"ccc"):
            engine.send(by_remote[one_name], payload)
        assert [one.recv(100) for _ in range(3)] == [b"a", b"", b"ccc"]
        assert recv_nothing(two) is None


def test_dgram_listener_cannot_answer_an_unbound_sender(
    engine: Engine, events: Collector, sock_dir: Path
) -> None:
    path = str(sock_dir / "d.sock")
    lid, _ = listen(engine, events, f"unix-dgram://{path}")
    with contextlib.closing(unix_client(path, socket.SOCK_DGRAM)) as anonymous:
        anonymous.sendto(b"guess who", path)
        (peer,) = opened_on(events, lid, 1)
        assert events.wait_received(peer.cid, 9) == b"guess who"
        engine.send(peer.cid, b"hello?")
        error = events.wait_for(lambda e: isinstance(e, ev.ErrorReported) and e.source == peer.cid)
        assert "has no address" in error.message
        assert events.data(peer.cid, outgoing=True) == []


def test_an_unbound_dgram_sender_is_shown_as_unnamed(
    engine: Engine, events: Collector, sock_dir: Path
) -> None:
    path = str(sock_dir / "d.sock")
    lid, _ = listen(engine, events, f"unix-dgram://{path}")
    with contextlib.closing(unix_client(path, socket.SOCK_DGRAM)) as anonymous:
        anonymous.sendto(b"guess who", path)
        (peer,) = opened_on(events, lid, 1)
        assert peer.remote == "(unnamed)"


def test_dgram_client_to_a_python_server_gets_its_replies(
    engine: Engine, events: Collector, sock_dir: Path
) -> None:
    path = str(sock_dir / "srv.sock")
    with UnixDgramServer(path, prefix=b"reply: ") as server:
        cid = engine.connect(endpoint(f"unix-dgram://{path}"))
        opened = events.wait_opened(cid)
        assert opened.transport == "unix-dgram"
        assert opened.remote == path
        assert opened.local.startswith("@"), "autobound to an abstract name"
        engine.send(cid, b"first")
        engine.send(cid, b"second")
        got = server.wait_for_datagrams(2)
        assert [data for data, _ in got] == [b"first", b"second"]
        assert {"@" + sender[1:].decode() for _, sender in got} == {opened.local}
        events.wait_received(cid, len(b"reply: first") + len(b"reply: second"))
        assert [e.data for e in events.data(cid, outgoing=False)] == [
            b"reply: first",
            b"reply: second",
        ]


def test_dgram_client_to_an_abstract_dgram_listener(engine: Engine, events: Collector) -> None:
    name = abstract_name()
    lid, _ = listen(engine, events, f"unix-dgram://@{name}")
    cid = engine.connect(endpoint(f"unix-dgram://@{name}"))
    events.wait_opened(cid)
    engine.send(cid, b"knock knock")
    (peer,) = opened_on(events, lid, 1)
    assert events.wait_received(peer.cid, 11) == b"knock knock"
    engine.send(peer.cid, b"who's there")
    assert events.wait_received(cid, 11) == b"who's there"


@requires_socat
def test_socat_sendto_as_a_datagram_peer(engine: Engine, events: Collector, sock_dir: Path) -> None:
    path = str(sock_dir / "d.sock")
    own = str(sock_dir / "socat.sock")
    lid, _ = listen(engine, events, f"unix-dgram://{path}")
    with process_peer(["socat", "-", f"UNIX-SENDTO:{path},bind={own}"]) as tool:
        tool.send(b"from socat\n")
        (peer,) = opened_on(events, lid, 1)
        assert peer.remote == own
        assert events.wait_received(peer.cid, 11) == b"from socat\n"
        engine.send(peer.cid, b"to socat\n")
        assert tool.wait_output(9) == b"to socat\n"


# --- the socket file ---


@pytest.mark.parametrize("transport", ["unix", "unix-dgram"])
def test_stale_socket_file_is_replaced(
    engine: Engine, events: Collector, sock_dir: Path, transport: str
) -> None:
    path = sock_dir / "stale.sock"
    kind = socket.SOCK_STREAM if transport == "unix" else socket.SOCK_DGRAM
    make_stale(path, kind)
    lid, _ = listen(engine, events, f"{transport}://{path}")
    assert path.is_socket()
    with contextlib.closing(unix_client(str(path), kind)) as client:
        if kind == socket.SOCK_STREAM:
            client.sendall(b"hi")
        else:
            client.sendto(b"hi", str(path))
        (peer,) = opened_on(events, lid, 1)
        assert events.wait_received(peer.cid, 2) == b"hi"


def test_live_socket_path_is_refused_and_left_working(
    engine: Engine, events: Collector, sock_dir: Path
) -> None:
    path = str(sock_dir / "live.sock")
    with UnixEchoServer(path):
        message = listen_error(engine, events, f"unix://{path}")
        assert "in use" in message
        assert path in message
        with contextlib.closing(unix_client(path)) as client:  # the owner still works
            client.sendall(b"echo?")
            assert recv_exactly(client, 5) == b"echo?"


def test_live_dgram_socket_path_is_refused(
    engine: Engine, events: Collector, sock_dir: Path
) -> None:
    path = str(sock_dir / "live.sock")
    with UnixDgramServer(path):
        assert "in use" in listen_error(engine, events, f"unix-dgram://{path}")
        assert Path(path).is_socket()


def test_path_held_by_our_own_listener_is_in_use(
    engine: Engine, events: Collector, sock_dir: Path
) -> None:
    path = str(sock_dir / "mine.sock")
    first, _ = listen(engine, events, f"unix://{path}")
    assert "in use" in listen_error(engine, events, f"unix://{path}")
    assert first in engine.listeners and Path(path).is_socket()


@pytest.mark.parametrize("transport", ["unix", "unix-dgram"])
def test_regular_file_is_refused_and_left_untouched(
    engine: Engine, events: Collector, sock_dir: Path, transport: str
) -> None:
    path = sock_dir / "notes.txt"
    path.write_bytes(b"precious\n")
    message = listen_error(engine, events, f"{transport}://{path}")
    assert "not a socket" in message
    assert path.read_bytes() == b"precious\n"


@pytest.mark.parametrize("transport", ["unix", "unix-dgram"])
def test_socket_file_is_removed_when_the_listener_closes(
    engine: Engine, events: Collector, sock_dir: Path, transport: str
) -> None:
    path = sock_dir / "bye.sock"
    lid, _ = listen(engine, events, f"{transport}://{path}")
    assert path.is_socket()
    engine.close_listener(lid)
    events.wait_for(lambda e: isinstance(e, ev.ListenerClosed) and e.lid == lid)
    wait_until(lambda: not os.path.lexists(path), what=f"{path} removed")


@pytest.mark.parametrize("transport", ["unix", "unix-dgram"])
def test_socket_file_is_removed_when_the_engine_stops(
    make_engine: Any, sock_dir: Path, transport: str
) -> None:
    engine, events = make_engine()
    path = sock_dir / "quit.sock"
    listen(engine, events, f"{transport}://{path}")
    assert path.is_socket()
    engine.stop()
    assert not os.path.lexists(path)
    assert events.wait_for(lambda e: isinstance(e, ev.ListenerClosed)).reason == "sockbench quit"


def test_a_replacement_socket_file_is_not_removed(
    engine: Engine, events: Collector, sock_dir: Path
) -> None:
    """Another program removed ours and bound its own at the path: closing leaves that one."""
    path = sock_dir / "swap.sock"
    lid, _ = listen(engine, events, f"unix://{path}")
    path.unlink()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as other:
        other.bind(str(path))
        other.listen()
        engine.close_listener(lid)
        events.wait_for(lambda e: isinstance(e, ev.ListenerClosed) and e.lid == lid)
        events.settle(0.1)
        assert path.is_socket()


def test_path_too_long_is_rejected_by_parse_url() -> None:
    long_path = "/tmp/" + "x" * (UNIX_PATH_MAX - 4)  # 108 bytes: one too many
    assert len(long_path) == UNIX_PATH_MAX + 1
    for transport in ("unix", "unix-dgram"):
        with pytest.raises(EndpointError, match="too long"):
            parse_url(f"{transport}://{long_path}", for_listen=True)
        with pytest.raises(EndpointError, match="too long"):
            parse_url(f"{transport}://@{'n' * UNIX_PATH_MAX}", for_listen=False)
    fits = long_path[:-1]
    assert parse_url(f"unix://{fits}", for_listen=True).path == fits


def test_a_name_that_is_not_utf8_shows_the_same_for_stream_and_datagram_peers(
    engine: Engine, events: Collector, sock_dir: Path
) -> None:
    """Both show the bytes as \\xNN; the datagram peer still gets its reply (its name keeps
    the bytes exactly)."""
    raw_name = b"\0sockbench-\x9b\xe9-" + str(os.getpid()).encode()
    shown = "@sockbench-\\x9b\\xe9-" + str(os.getpid())
    stream_path, dgram_path = str(sock_dir / "s.sock"), str(sock_dir / "d.sock")
    stream_lid, _ = listen(engine, events, f"unix://{stream_path}")
    dgram_lid, _ = listen(engine, events, f"unix-dgram://{dgram_path}")
    with (
        contextlib.closing(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)) as stream_peer,
        contextlib.closing(socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)) as dgram_peer,
    ):
        stream_peer.settimeout(5)
        dgram_peer.settimeout(5)
        stream_peer.bind(raw_name)
        stream_peer.connect(stream_path)
        dgram_peer.bind(raw_name + b"-d")
        dgram_peer.sendto(b"hi", dgram_path)
        (stream_opened,) = opened_on(events, stream_lid, 1)
        (dgram_opened,) = opened_on(events, dgram_lid, 1)
        assert stream_opened.remote == shown
        assert dgram_opened.remote == shown + "-d"
        assert events.wait_received(dgram_opened.cid, 2) == b"hi"
        engine.send(dgram_opened.cid, b"reply")
        assert dgram_peer.recvfrom(100) == (b"reply", dgram_path)
