"""The engine with real sockets on loopback: listeners, connections, data, EOF, close, reset,
errors in plain words, shutdown, and the bridge under pressure."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from peers import (
    Collector,
    EchoServer,
    GreetingServer,
    ProcessPeer,
    RecordingServer,
    abort,
    closed_port,
    connect_client,
    free_port,
    http_server,
    ncat_client,
    port_of,
    process_peer,
    recv_exactly,
    recv_until_eof,
    requires_ipv6,
    requires_ncat,
    requires_socat,
    socat_client,
    unanswering_listener,
    wait_until,
)

from workbench.engine import Engine, EventBridge
from workbench.engine.bridge import PREVIEW_BYTES
from workbench.engine.sockets import RMEM_MAX_PATH, STREAM_RCVBUF, stream_rcvbuf
from workbench.protocol import events as ev
from workbench.protocol.endpoints import Endpoint, format_sockname, parse_url

MB = 1024 * 1024


# --- helpers ---


def endpoint(url: str, listen: bool = False) -> Endpoint:
    return parse_url(url, for_listen=listen)


def start_listener(
    engine: Engine, events: Collector, host: str = "127.0.0.1", query: str = ""
) -> tuple[str, int]:
    """Listen on port 0 (with URL options `query`); return the listener id and the port the
    system picked."""
    shown = f"[{host}]" if ":" in host else host
    lid = engine.listen(endpoint(f"tcp://{shown}:0{query}", listen=True))
    opened = events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid)
    return lid, port_of(opened.local[0])


def accept_client(
    events: Collector, lid: str, port: int, host: str = "127.0.0.1"
) -> tuple[socket.socket, str]:
    """Connect a plain socket to the engine's listener; return it and the engine's id for it."""
    client = connect_client(port, host)
    me = format_sockname(client.getsockname())
    opened = events.wait_for(
        lambda e: isinstance(e, ev.ConnectionOpened) and e.listener == lid and e.remote == me
    )
    return client, opened.cid


def open_connection(engine: Engine, events: Collector, url: str) -> str:
    cid = engine.connect(endpoint(url))
    events.wait_opened(cid)
    return cid


@contextlib.contextmanager
def accepted(
    engine: Engine, events: Collector, query: str = ""
) -> Iterator[tuple[socket.socket, str]]:
    """A listener (with URL options `query`) with one plain-socket peer; yields (peer socket,
    engine id)."""
    lid, port = start_listener(engine, events, query=query)
    client, cid = accept_client(events, lid, port)
    with client:
        yield client, cid


def is_closed(cid: str) -> Callable[[ev.Event], bool]:
    return lambda e: isinstance(e, ev.ConnectionClosed) and e.cid == cid


def is_half_closed(cid: str, outgoing: bool) -> Callable[[ev.Event], bool]:
    return lambda e: isinstance(e, ev.HalfClosed) and e.cid == cid and e.outgoing == outgoing


def error_from(source: str) -> Callable[[ev.Event], bool]:
    return lambda e: isinstance(e, ev.ErrorReported) and e.source == source


def kinds(events: list[ev.Event]) -> list[str]:
    return [type(e).__name__ for e in events]


# --- listening ---


def test_listen_on_port_zero_reports_the_port_the_system_picked(
    engine: Engine, events: Collector
) -> None:
    lid = engine.listen(endpoint("tcp://127.0.0.1:0", listen=True))
    opened = events.wait_for(lambda e: isinstance(e, ev.ListenerOpened))
    assert opened.lid == lid
    assert opened.url == "tcp://127.0.0.1:0"
    (local,) = opened.local
    assert local.startswith("127.0.0.1:")
    port = port_of(local)
    assert port != 0
    with connect_client(port):
        events.wait_opened(listener=lid)


@requires_ipv6
def test_listen_and_accept_on_ipv6_loopback(engine: Engine, events: Collector) -> None:
    lid, port = start_listener(engine, events, host="::1")
    assert listening_local(events, lid) == (f"[::1]:{port}",)
    client, cid = accept_client(events, lid, port, host="::1")
    with client:
        opened = events.wait_opened(cid)
        assert opened.local == f"[::1]:{port}"
        assert opened.remote.startswith("[::1]:")


def listening_local(events: Collector, lid: str) -> tuple[str, ...]:
    return events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid).local


def test_accepts_several_peers_each_tagged_with_its_listener(
    engine: Engine, events: Collector
) -> None:
    lid, port = start_listener(engine, events)
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(connect_client(port)) for _ in range(3)]
        names = {format_sockname(c.getsockname()) for c in clients}
        if shutil.which("socat"):
            stack.enter_context(socat_client(port))
        if shutil.which("ncat"):
            stack.enter_context(ncat_client(port))
        expected = 3 + bool(shutil.which("socat")) + bool(shutil.which("ncat"))
        opened = events.wait_until(
            lambda: (
                len(events.of(ev.ConnectionOpened)) >= expected and events.of(ev.ConnectionOpened)
            ),
            what=f"{expected} accepted peers",
        )
        assert len(opened) == expected
        assert all(o.listener == lid for o in opened)
        assert len({o.cid for o in opened}) == expected, "each peer has its own id"
        assert all(o.cid.startswith("C") for o in opened)
        assert names <= {o.remote for o in opened}
        assert all(o.local == f"127.0.0.1:{port}" for o in opened)


def test_ids_of_accepted_and_outgoing_connections_never_collide(
    engine: Engine, events: Collector
) -> None:
    lid, port = start_listener(engine, events)
    outgoing = open_connection(engine, events, f"tcp://127.0.0.1:{port}")
    accepted_side = events.wait_opened(listener=lid).cid
    assert outgoing != accepted_side
    assert events.wait_opened(outgoing).listener is None


def test_port_in_use_is_reported_in_plain_words(engine: Engine, events: Collector) -> None:
    first, port = start_listener(engine, events)
    second = engine.listen(endpoint(f"tcp://127.0.0.1:{port}", listen=True))
    error = events.wait_for(error_from(second))
    assert "already in use" in error.message
    assert f"127.0.0.1:{port}" in error.message
    assert not [e for e in events.of(ev.ListenerOpened) if e.lid == second]
    # The first listener still works.
    with connect_client(port):
        events.wait_opened(listener=first)


def test_port_held_by_another_program_is_in_use(engine: Engine, events: Collector) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        lid = engine.listen(endpoint(f"tcp://127.0.0.1:{port}", listen=True))
        assert "already in use" in events.wait_for(error_from(lid)).message


def test_listen_on_an_address_of_another_machine_is_refused(
    engine: Engine, events: Collector
) -> None:
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): never an address of this machine.
    lid = engine.listen(endpoint("tcp://192.0.2.1:0", listen=True))
    error = events.wait_for(error_from(lid))
    assert error.message.startswith("cannot listen:")
    assert "not an address of this machine" in error.message


def test_close_listener_closes_its_peers_and_stops_accepting(
    engine: Engine, events: Collector
) -> None:
    lid, port = start_listener(engine, events)
    client, cid = accept_client(events, lid, port)
    with client:
        engine.close_listener(lid)
        closed = events.wait_for(lambda e: isinstance(e, ev.ListenerClosed) and e.lid == lid)
        assert closed.reason == "closed by you"
        assert events.wait_closed(cid).reason == f"closed with listener {lid}"
        assert recv_until_eof(client) == b""
    with pytest.raises(ConnectionRefusedError):
        connect_client(port).close()


def test_close_listener_can_keep_its_peers(engine: Engine, events: Collector) -> None:
    lid, port = start_listener(engine, events)
    client, cid = accept_client(events, lid, port)
    with client:
        engine.close_listener(lid, close_peers=False)
        events.wait_for(lambda e: isinstance(e, ev.ListenerClosed) and e.lid == lid)
        engine.send(cid, b"still here")
        assert recv_exactly(client, 10) == b"still here"
        assert not events.of(ev.ConnectionClosed, cid)


def test_closing_an_unknown_listener_is_an_error(engine: Engine, events: Collector) -> None:
    engine.close_listener("L99")
    assert "not open" in events.wait_for(error_from("L99")).message


# --- connecting ---


def test_connect_to_an_echo_server(engine: Engine, events: Collector) -> None:
    with EchoServer() as server:
        cid = engine.connect(endpoint(server.url))
        connecting = events.wait_for(lambda e: isinstance(e, ev.Connecting) and e.cid == cid)
        assert connecting.remote == f"127.0.0.1:{server.port}"
        opened = events.wait_opened(cid)
        assert opened.listener is None
        assert opened.remote == f"127.0.0.1:{server.port}"
        assert opened.local.startswith("127.0.0.1:")
        payload = b"hello\r\n\x00\xff" + bytes(range(256))
        engine.send(cid, payload)
        assert events.wait_received(cid, len(payload)) == payload
        assert events.sent(cid) == payload


@requires_ipv6
def test_connect_over_ipv6_loopback(engine: Engine, events: Collector) -> None:
    with EchoServer(host="::1") as server:
        cid = open_connection(engine, events, server.url)
        assert events.wait_opened(cid).remote == f"[::1]:{server.port}"
        engine.send(cid, b"v6")
        assert events.wait_received(cid, 2) == b"v6"


def test_connect_by_host_name(engine: Engine, events: Collector) -> None:
    with RecordingServer() as server:
        cid = open_connection(engine, events, f"tcp://localhost:{server.port}")
        engine.send(cid, b"by name")
        assert server.wait_for_bytes(7) == b"by name"


def test_connect_to_the_engines_own_listener(engine: Engine, events: Collector) -> None:
    lid, port = start_listener(engine, events)
    out = open_connection(engine, events, f"tcp://127.0.0.1:{port}")
    inbound = events.wait_opened(listener=lid)
    outbound = events.wait_opened(out)
    assert (inbound.local, inbound.remote) == (outbound.remote, outbound.local)
    engine.send(out, b"ping")
    assert events.wait_received(inbound.cid, 4) == b"ping"
    engine.send(inbound.cid, b"pong")
    assert events.wait_received(out, 4) == b"pong"


def receive_buffer(engine: Engine, cid: str) -> int:
    transport = engine.connections[cid].transport  # type: ignore[union-attr]
    return transport.get_extra_info("socket").getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)


@pytest.mark.skipif(
    stream_rcvbuf() is None, reason=f"{RMEM_MAX_PATH} is below {STREAM_RCVBUF:,} bytes here"
)
def test_tcp_connections_get_a_large_receive_buffer(engine: Engine, events: Collector) -> None:
    lid, port = start_listener(engine, events)
    out = open_connection(engine, events, f"tcp://127.0.0.1:{port}")
    inbound = events.wait_opened(listener=lid).cid
    assert receive_buffer(engine, inbound) >= STREAM_RCVBUF  # Linux reports it doubled
    assert receive_buffer(engine, out) >= STREAM_RCVBUF


def test_the_tcp_receive_buffer_is_left_to_the_kernel_where_it_would_be_capped(
    tmp_path: Path,
) -> None:
    def with_rmem_max(text: str) -> int | None:
        path = tmp_path / f"rmem_max-{len(list(tmp_path.iterdir()))}"  # read once per path
        path.write_text(text)
        return stream_rcvbuf(str(path))

    assert with_rmem_max("212992\n") is None  # Linux's usual default
    assert with_rmem_max(f"{STREAM_RCVBUF}\n") == STREAM_RCVBUF
    assert with_rmem_max("not a number") is None
    assert stream_rcvbuf(str(tmp_path / "missing")) is None


def test_talk_to_python_http_server(engine: Engine, events: Collector) -> None:
    with http_server() as http:
        cid = open_connection(engine, events, http.url)
        engine.send(cid, http.request())
        events.wait_for(is_half_closed(cid, outgoing=False))
        response = events.received(cid)
        assert response.startswith(b"HTTP/1.0 200")
        assert response.endswith(http.content)


def test_connection_refused_is_reported_in_plain_words(engine: Engine, events: Collector) -> None:
    port = closed_port()
    cid = engine.connect(endpoint(f"tcp://127.0.0.1:{port}"))
    closed = events.wait_closed(cid)
    assert "refused" in closed.reason
    assert f"127.0.0.1:{port}" in closed.reason
    assert closed.error
    assert kinds(events.for_conn(cid)) == ["Connecting", "ConnectionClosed"]


def test_unknown_host_is_reported_in_plain_words(engine: Engine, events: Collector) -> None:
    cid = engine.connect(endpoint("tcp://nonexistent.invalid:80"))
    closed = events.wait_closed(cid, timeout=10)
    assert closed.reason.startswith("host not found: 'nonexistent.invalid'")
    assert closed.error


def test_connect_timeout(engine: Engine, events: Collector) -> None:
    with unanswering_listener() as port:
        cid = engine.connect(endpoint(f"tcp://127.0.0.1:{port}"), timeout=0.3)
        closed = events.wait_closed(cid)
        if not closed.error and events.of(ev.ConnectionOpened, cid):
            pytest.skip("this kernel answered a connect to a full accept queue")
        assert closed.reason == f"127.0.0.1:{port} did not answer within 0.3 s"
        assert closed.error


def test_close_cancels_a_pending_connect(engine: Engine, events: Collector) -> None:
    with unanswering_listener() as port:
        cid = engine.connect(endpoint(f"tcp://127.0.0.1:{port}"), timeout=30)
        events.wait_for(lambda e: isinstance(e, ev.Connecting) and e.cid == cid)
        started = time.monotonic()
        engine.close(cid)
        closed = events.wait_closed(cid)
        assert closed.reason == "connect cancelled"
        assert not closed.error
        assert time.monotonic() - started < 2


# --- commands sent back to back ---
#
# A UI can send several commands before the engine's loop runs again. `hold_engine_loop` makes
# that happen deterministically: it parks the loop for a moment, so the commands submitted
# meanwhile are all handled in one loop iteration.


def hold_engine_loop(engine: Engine, seconds: float = 0.2) -> None:
    assert engine._loop is not None
    engine._loop.call_soon_threadsafe(time.sleep, seconds)


def test_close_right_after_connect_still_reports_the_cancel(
    engine: Engine, events: Collector
) -> None:
    with unanswering_listener() as port:
        hold_engine_loop(engine)
        cid = engine.connect(endpoint(f"tcp://127.0.0.1:{port}"), timeout=30)
        engine.close(cid)
        closed = events.wait_closed(cid, timeout=1)
        assert closed.reason == "connect cancelled"


def test_close_listener_right_after_listen_closes_it(engine: Engine, events: Collector) -> None:
    hold_engine_loop(engine)
    lid = engine.listen(endpoint("tcp://127.0.0.1:0", listen=True))
    engine.close_listener(lid)
    events.wait_for(lambda e: isinstance(e, ev.ListenerClosed) and e.lid == lid, timeout=1)
    events.settle(0.1)
    assert not events.of(ev.ErrorReported)
    assert lid not in engine.listeners


def test_close_listener_while_a_failing_listen_is_in_flight(
    engine: Engine, events: Collector, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        loop = engine._loop
        assert loop is not None
        # The name makes create_server resolve it in a thread: the Listen task is then waiting
        # when the CloseListener, queued one loop iteration later, is handled.
        lid = engine.listen(endpoint(f"tcp://localhost:{port}", listen=True))
        loop.call_soon_threadsafe(lambda: loop.call_soon(engine.close_listener, lid))
        events.wait_for(lambda e: isinstance(e, ev.ListenerClosed) and e.lid == lid)
        events.settle(0.2)
    problems = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert problems == []


@pytest.mark.parametrize("action", ["close", "reset"])
def test_send_right_after_close_is_not_sent(engine: Engine, events: Collector, action: str) -> None:
    with accepted(engine, events) as (_client, cid):
        hold_engine_loop(engine)
        getattr(engine, action)(cid)
        engine.send(cid, b"late")
        events.wait_closed(cid)
        events.settle(0.1)
        assert events.sent(cid) == b"", "bytes that never left are reported as sent"
        assert "not sent" in events.wait_for(error_from(cid), timeout=0.5).message


# --- data ---


def test_five_megabytes_each_way_arrive_exactly(make_engine, tmp_path) -> None:
    """The counters are exact; the bytes are exact at the peer and in the transcript (the
    bridge only carries what a view can show)."""
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    to_peer, from_peer = os.urandom(5 * MB), os.urandom(5 * MB)
    with accepted(engine, events) as (client, cid):
        sender = threading.Thread(target=client.sendall, args=(from_peer,), daemon=True)
        sender.start()
        piece = 64 * 1024
        for start in range(0, len(to_peer), piece):
            engine.send(cid, to_peer[start : start + piece])
        assert recv_exactly(client, len(to_peer), timeout=20) == to_peer
        sender.join(20)
        assert not sender.is_alive(), "the peer could not send its 5 MB within 20 s"

        # Both totals: the last Data events of either direction may still be on their way
        # through the bridge when the peer has every byte.
        def totals() -> tuple[int, int]:
            return events.size(cid, outgoing=False), events.size(cid, outgoing=True)

        expected = (len(from_peer), len(to_peer))
        events.wait_until(
            lambda: all(got >= want for got, want in zip(totals(), expected, strict=True)),
            20,
            f"{expected[0]:,} bytes counted in and {expected[1]:,} out",
        )
        assert totals() == expected
    engine.stop()
    streams: dict[str, bytearray] = {"in": bytearray(), "out": bytearray()}
    for line in transcript.read_text().splitlines():
        record = json.loads(line)
        if record["event"] == "data" and record["conn"] == cid:
            streams[record["dir"]] += base64.b64decode(record["data"])
    assert streams["in"] == from_peer
    assert streams["out"] == to_peer


def test_data_sent_before_close_is_delivered_before_eof(engine: Engine, events: Collector) -> None:
    payload = os.urandom(2 * MB)
    with accepted(engine, events) as (client, cid):
        engine.send(cid, payload)
        engine.close(cid)
        assert recv_until_eof(client, timeout=10) == payload
        closed = events.wait_closed(cid)
        assert closed.reason == "closed by you"
        assert not closed.error


def test_events_of_one_connection_arrive_in_order(engine: Engine, events: Collector) -> None:
    greeting = b"welcome\n"
    with GreetingServer(greeting) as server:
        cid = engine.connect(endpoint(server.url + "?halfopen=1"))
        events.wait_for(is_half_closed(cid, outgoing=False))
        engine.half_close(cid)
        events.wait_closed(cid)
        sequence = kinds(events.for_conn(cid))
        assert sequence[:2] == ["Connecting", "ConnectionOpened"]
        assert sequence[-3:] == ["HalfClosed", "HalfClosed", "ConnectionClosed"]
        assert set(sequence[2:-3]) == {"Data"}
        assert events.received(cid) == greeting
        assert events.wait_closed(cid).reason == "closed by both sides"


def test_data_a_peer_sends_right_away_comes_after_the_open(
    engine: Engine, events: Collector
) -> None:
    _lid, port = start_listener(engine, events, query="?halfopen=1")
    for _ in range(20):
        with connect_client(port) as client:
            client.sendall(b"first words")
            client.shutdown(socket.SHUT_WR)
            me = format_sockname(client.getsockname())
            opened = events.wait_for(
                lambda e, me=me: isinstance(e, ev.ConnectionOpened) and e.remote == me
            )
            events.wait_for(is_half_closed(opened.cid, outgoing=False))
            sequence = kinds(events.for_conn(opened.cid))
            assert sequence[0] == "ConnectionOpened"
            assert sequence[-1] == "HalfClosed"
            assert set(sequence[1:-1]) == {"Data"}


# --- half close ---


def test_our_eof_reaches_the_peer_and_we_still_receive(engine: Engine, events: Collector) -> None:
    with accepted(engine, events) as (client, cid):
        engine.send(cid, b"last words")
        engine.half_close(cid)
        events.wait_for(is_half_closed(cid, outgoing=True))
        assert recv_until_eof(client) == b"last words"
        client.sendall(b"the peer goes on")
        assert events.wait_received(cid, 16) == b"the peer goes on"
        # Sending after our EOF is refused in plain words.
        engine.send(cid, b"more")
        assert "already sent EOF" in events.wait_for(error_from(cid)).message
        assert not events.of(ev.ConnectionClosed, cid)
        client.shutdown(socket.SHUT_WR)
        closed = events.wait_closed(cid)
        assert closed.reason == "closed by both sides"
        assert not closed.error


def test_peer_eof_is_reported_and_we_still_send(engine: Engine, events: Collector) -> None:
    with accepted(engine, events, "?halfopen=1") as (client, cid):
        client.sendall(b"bye")
        client.shutdown(socket.SHUT_WR)
        events.wait_for(is_half_closed(cid, outgoing=False))
        assert events.received(cid) == b"bye"
        engine.send(cid, b"but we still talk")
        assert recv_exactly(client, 17) == b"but we still talk"
        engine.half_close(cid)
        assert recv_until_eof(client) == b""
        closed = events.wait_closed(cid)
        assert closed.reason == "closed by both sides"
        assert not closed.error


def test_close_after_the_peers_eof_is_ours(engine: Engine, events: Collector) -> None:
    with accepted(engine, events, "?halfopen=1") as (client, cid):
        client.shutdown(socket.SHUT_WR)
        events.wait_for(is_half_closed(cid, outgoing=False))
        engine.close(cid)
        assert events.wait_closed(cid).reason == "closed by you"
        assert recv_until_eof(client) == b""


def test_half_close_twice_reports_one_eof(engine: Engine, events: Collector) -> None:
    with accepted(engine, events) as (client, cid):
        engine.half_close(cid)
        engine.half_close(cid)
        engine.send(cid, b"x")  # a marker: its error comes after both half-closes were handled
        events.wait_for(error_from(cid))
        assert len(events.of(ev.HalfClosed, cid)) == 1
        assert recv_until_eof(client) == b""


# --- close and reset ---


def test_close_by_us(engine: Engine, events: Collector) -> None:
    with RecordingServer() as server:
        cid = open_connection(engine, events, server.url)
        engine.send(cid, b"goodbye")
        engine.close(cid)
        assert server.wait_for_eof() == b"goodbye"
        closed = events.wait_closed(cid)
        assert (closed.reason, closed.error) == ("closed by you", False)


def test_reset_by_peer(engine: Engine, events: Collector) -> None:
    with accepted(engine, events) as (client, cid):
        client.sendall(b"then a reset")
        events.wait_received(cid, 12)
        abort(client)
        closed = events.wait_closed(cid)
        assert closed.reason == "reset by peer"
        assert closed.error


def test_reset_by_us(engine: Engine, events: Collector) -> None:
    with accepted(engine, events) as (client, cid):
        engine.reset(cid)
        closed = events.wait_closed(cid)
        assert (closed.reason, closed.error) == ("reset by you", False)
        client.settimeout(5)
        with pytest.raises(ConnectionResetError):
            client.recv(100)


def test_sending_to_a_peer_that_closed_ends_in_an_error(engine: Engine, events: Collector) -> None:
    with GreetingServer(b"hi\n") as server:
        cid = engine.connect(endpoint(server.url + "?halfopen=1"))
        events.wait_for(is_half_closed(cid, outgoing=False))
        # The peer closed its socket: the first send draws a reset, a later one fails.
        closed = events.wait_until(
            lambda: engine.send(cid, b"anyone there?") or events.of(ev.ConnectionClosed, cid),
            what="the connection to end",
        )[0]
        assert closed.error
        assert closed.reason in ("reset by peer", "closed by peer while sending (broken pipe)")


@pytest.mark.parametrize(
    "action", ["send", "half_close", "close", "reset"], ids=lambda a: f"{a}-unknown"
)
def test_commands_for_an_unknown_connection_are_reported(
    engine: Engine, events: Collector, action: str
) -> None:
    """A send that cannot be made is an error (bytes asked for were not sent); closing, EOF
    or reset of a connection that is not open is the user's slip: a notice in the Log."""
    if action == "send":
        engine.send("C99", b"abc")
        message = events.wait_for(error_from("C99")).message
        assert message.startswith("not sent (3 bytes)")
    else:
        getattr(engine, action)("C99")
        message = events.wait_for(lambda e: isinstance(e, ev.Note) and e.source == "C99").message
        assert not events.of(ev.ErrorReported)
    assert "C99 is not open" in message


def test_sending_to_a_closed_connection_is_not_sent(engine: Engine, events: Collector) -> None:
    with accepted(engine, events) as (_client, cid):
        engine.close(cid)
        events.wait_closed(cid)
        engine.send(cid, b"too late")
        message = events.wait_for(error_from(cid)).message
        assert "not sent" in message
        assert "8 bytes" in message


# --- peers: socat and ncat ---

PROCESS_CLIENTS = [
    pytest.param(socat_client, marks=requires_socat, id="socat"),
    pytest.param(ncat_client, marks=requires_ncat, id="ncat"),
]


@pytest.mark.parametrize("client_factory", PROCESS_CLIENTS)
def test_talk_with_a_real_client_both_ways_then_eof(
    engine: Engine,
    events: Collector,
    client_factory: Callable[[int], contextlib.AbstractContextManager[ProcessPeer]],
) -> None:
    lid, port = start_listener(engine, events, query="?halfopen=1")
    with client_factory(port) as peer:
        cid = events.wait_opened(listener=lid).cid
        engine.send(cid, b"to the peer\n\x00\xff")
        assert peer.wait_output(14) == b"to the peer\n\x00\xff"
        peer.send(b"from the peer\n")
        assert events.wait_received(cid, 14) == b"from the peer\n"
        peer.close_stdin()
        events.wait_for(is_half_closed(cid, outgoing=False))
        engine.half_close(cid)
        closed = events.wait_closed(cid)
        assert (closed.reason, closed.error) == ("closed by both sides", False)
        assert peer.wait_exit() == 0


@requires_socat
def test_connect_to_a_socat_listener(engine: Engine, events: Collector) -> None:
    port = free_port()
    with process_peer(["socat", f"TCP4-LISTEN:{port},bind=127.0.0.1,reuseaddr", "-"]) as peer:
        wait_until(lambda: _listening(port), what="socat to listen")
        cid = open_connection(engine, events, f"tcp://127.0.0.1:{port}")
        engine.send(cid, b"hello socat\n")
        assert peer.wait_output(12) == b"hello socat\n"
        peer.send(b"hello sockbench\n")
        assert events.wait_received(cid, 16) == b"hello sockbench\n"


def _listening(port: int) -> bool:
    with open("/proc/net/tcp") as table:
        rows = table.read().splitlines()[1:]
    # Column 1 is local address:port in hex, column 3 the state (0A = LISTEN).
    return any(r.split()[1].endswith(f":{port:04X}") and r.split()[3] == "0A" for r in rows)


# --- shutdown ---


def test_stop_closes_every_socket_and_is_safe_twice(make_engine) -> None:
    engine, events = make_engine()
    lid, port = start_listener(engine, events)
    with RecordingServer() as server, unanswering_listener() as silent_port:
        client, accepted_cid = accept_client(events, lid, port)
        outgoing = open_connection(engine, events, server.url)
        pending = engine.connect(endpoint(f"tcp://127.0.0.1:{silent_port}"), timeout=30)
        events.wait_for(lambda e: isinstance(e, ev.Connecting) and e.cid == pending)
        with client:
            engine.stop()
            assert recv_until_eof(client) == b""
            server.wait_for_eof()
        assert events.wait_closed(accepted_cid).reason == "closed: sockbench quit"
        assert events.wait_closed(outgoing).reason == "closed: sockbench quit"
        assert events.wait_closed(pending).reason == "connect cancelled: sockbench quit"
        listener_closed = events.wait_for(lambda e: isinstance(e, ev.ListenerClosed))
        assert listener_closed.reason == "sockbench quit"
        with pytest.raises(ConnectionRefusedError):
            connect_client(port).close()
        started = time.monotonic()
        engine.stop()
        assert time.monotonic() - started < 0.5
        assert engine._thread is not None and not engine._thread.is_alive()


def test_stop_does_not_wait_for_a_peer_that_never_reads(make_engine) -> None:
    engine, events = make_engine()
    with accepted(engine, events) as (client, cid):
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        engine.send(cid, b"\x00" * (20 * MB))
        events.wait_for(lambda e: isinstance(e, ev.Data) and e.cid == cid)
        started = time.monotonic()
        engine.stop()
        assert time.monotonic() - started < 3
        assert events.wait_closed(cid)


def test_stop_before_start_does_nothing() -> None:
    Engine(EventBridge()).stop()


# --- the bridge ---


def test_bridge_under_pressure_merges_chunks_but_keeps_exact_sizes(make_engine) -> None:
    bridge = EventBridge(max_events=4, max_bytes=8 * 1024)
    engine, events = make_engine(bridge=bridge)
    payload = os.urandom(2 * MB)
    piece = 16 * 1024
    with accepted(engine, events, "?halfopen=1") as (client, cid):
        for start in range(0, len(payload), piece):
            client.sendall(payload[start : start + piece])
        client.shutdown(socket.SHUT_WR)
        # Let the whole flood reach the engine without draining, so the bridge fills up.
        conn = engine.connections[cid]
        deadline = time.monotonic() + 10
        while conn.bytes_in < len(payload) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert conn.bytes_in == len(payload)
        events.wait_for(is_half_closed(cid, outgoing=False))
        data = events.data(cid, outgoing=False)
        assert sum(d.size for d in data) == len(payload)
        assert any(d.chunks > 1 for d in data), "chunks were merged"
        assert sum(len(d.data) for d in data) < len(payload) // 2, "the view holds previews"
        merged = next(d for d in data if d.chunks > 1)
        assert merged.truncated == merged.size - len(merged.data) > 0
        # Each event's preview is the start of its own bytes.
        offset = 0
        for d in data:
            assert payload[offset : offset + len(d.data)] == d.data
            offset += d.size
        sequence = kinds(events.for_conn(cid))
        assert sequence[-1] == "HalfClosed", "EOF never jumps ahead of the data"


def test_bridge_merges_only_within_one_connection_and_direction() -> None:
    bridge = EventBridge(max_events=1, max_bytes=1 << 30)
    bridge.push_data(1.0, "C1", False, b"a" * 10)
    bridge.push_data(1.1, "C1", False, b"b" * 10)
    bridge.push_data(1.2, "C1", True, b"c" * 5)
    bridge.push_data(1.3, "C2", False, b"d" * 7)
    bridge.push_data(1.4, "C1", False, b"e" * 10)
    bridge.push(ev.HalfClosed(1.5, "C1", False))
    bridge.push_data(1.6, "C1", False, b"f" * 3)
    drained = bridge.drain()
    summary = [
        (type(e).__name__, e.cid, getattr(e, "size", None), getattr(e, "chunks", None))
        for e in drained
    ]
    assert summary == [
        ("Data", "C1", 30, 3),
        ("Data", "C1", 5, 1),
        ("Data", "C2", 7, 1),
        ("HalfClosed", "C1", None, None),
        ("Data", "C1", 3, 1),
    ]
    first = drained[0]
    assert isinstance(first, ev.Data)
    assert first.data == b"a" * 10 + b"b" * 10 + b"e" * 10
    assert bridge.drain() == []


def test_bridge_preview_is_bounded_under_pressure() -> None:
    bridge = EventBridge(max_events=1, max_bytes=1)
    for _ in range(100):
        bridge.push_data(1.0, "C1", False, b"x" * 1000)
    (merged,) = bridge.drain()
    assert isinstance(merged, ev.Data)
    assert (merged.size, merged.chunks) == (100_000, 100)
    assert len(merged.data) == PREVIEW_BYTES


def test_bridge_drain_waits_for_the_first_event() -> None:
    bridge = EventBridge()
    timer = threading.Timer(0.05, bridge.push, args=(ev.ErrorReported(1.0, "", "late"),))
    timer.start()
    try:
        started = time.monotonic()
        drained = bridge.drain(timeout=5)
        assert [e.message for e in drained if isinstance(e, ev.ErrorReported)] == ["late"]
        assert time.monotonic() - started < 4
    finally:
        timer.cancel()
    assert bridge.drain(timeout=0.01) == []
