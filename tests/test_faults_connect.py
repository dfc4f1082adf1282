"""Connecting to broken peers, through the fault proxy: what a user sees when the other end
is slow, silent or in the way. (Refused, host not found, connect timeout, cancel and port in
use against plain sockets are in test_engine.py and test_app.py.)"""

from __future__ import annotations

import contextlib
import os
import socket

from fault_helpers import connect, endpoint, listen
from faultproxy import FaultProxy
from peers import Collector, EchoServer, GreetingServer, RecordingServer, closed_port

from workbench.engine import Engine
from workbench.protocol import events as ev


def test_a_proxy_whose_peer_is_gone_closes_and_sending_then_fails_in_words(
    engine: Engine, events: Collector
) -> None:
    """The proxy accepts, then cannot reach its upstream and closes: the user sees the peer's
    EOF at once (not a hang); what they send then meets a closed socket, which is said."""
    with FaultProxy(closed_port()) as proxy:
        cid = connect(engine, events, proxy.url)
        events.wait_for(lambda e: isinstance(e, ev.HalfClosed) and e.cid == cid)
        for _ in range(3):  # the first send is answered with a reset; later ones fail at once
            engine.send(cid, b"hello?\n")
        closed = events.wait_closed(cid)
        assert closed.error
        assert closed.reason in ("reset by peer", "closed by peer while sending (broken pipe)")


def test_black_hole_opens_but_never_answers_until_the_idle_timeout(
    engine: Engine, events: Collector
) -> None:
    with RecordingServer(b"hello") as server, FaultProxy(server.port, blackhole=True) as proxy:
        cid = connect(engine, events, proxy.url + "?idle=0.5")
        engine.send(cid, b"anyone there?\n")
        closed = events.wait_closed(cid)
        assert closed.reason == "idle for 0.5 s"
        assert not closed.error
        assert events.received(cid) == b""
        assert server.connections == 0, "a black hole forwards nothing"


def test_black_hole_can_be_closed_by_the_user(engine: Engine, events: Collector) -> None:
    with EchoServer() as echo, FaultProxy(echo.port, blackhole=True) as proxy:
        cid = connect(engine, events, proxy.url)
        engine.send(cid, b"ping\n")
        events.settle(0.3)
        assert events.received(cid) == b""
        engine.close(cid)
        assert events.wait_closed(cid).reason == "closed by you"


def test_latency_delays_but_keeps_every_byte_in_order(engine: Engine, events: Collector) -> None:
    with EchoServer() as echo, FaultProxy(echo.port, latency=0.1) as proxy:
        cid = connect(engine, events, proxy.url)
        lines = [b"line %d\n" % i for i in range(10)]
        for line in lines:
            engine.send(cid, line)
        assert events.wait_received(cid, sum(map(len, lines))) == b"".join(lines)


def test_one_byte_at_a_time_arrives_whole_in_many_reads(engine: Engine, events: Collector) -> None:
    greeting = os.urandom(300)
    with GreetingServer(greeting) as server, FaultProxy(server.port, one_byte=True) as proxy:
        cid = connect(engine, events, proxy.url)
        assert events.wait_received(cid, len(greeting), timeout=10) == greeting
        events.wait_for(lambda e: isinstance(e, ev.HalfClosed) and e.cid == cid)
        reads = sum(d.chunks for d in events.data(cid, outgoing=False))
        assert reads > len(greeting) // 4, "the bytes came in many small reads"


def test_listen_on_a_port_the_proxy_holds_is_in_use(engine: Engine, events: Collector) -> None:
    with EchoServer() as echo, FaultProxy(echo.port) as proxy:
        lid = engine.listen(endpoint(f"tcp://127.0.0.1:{proxy.port}", listen=True))
        error = events.wait_error(lid)
        assert error.message == (
            f"cannot listen: 127.0.0.1:{proxy.port} is already in use "
            "(another socket is bound to it)"
        )
        assert lid not in engine.listeners


def test_connecting_to_our_own_listener_through_a_slow_proxy(
    engine: Engine, events: Collector
) -> None:
    """Both ends are sockbench's: the listener's peer and the outgoing connection each see
    the other's bytes, exactly, one byte at a time."""
    lid, port = listen(engine, events)
    with FaultProxy(port, one_byte=True) as proxy:
        cid = connect(engine, events, proxy.url)
        accepted = events.wait_opened(listener=lid)
        engine.send(cid, b"hello listener")
        assert events.wait_received(accepted.cid, 14) == b"hello listener"
        engine.half_close(cid)
        events.wait_for(
            lambda e: isinstance(e, ev.HalfClosed) and e.cid == accepted.cid and not e.outgoing
        )
        engine.send(accepted.cid, b"bye")
        assert events.wait_received(cid, 3) == b"bye"


def test_unix_socket_peer_that_never_accepts_does_not_hang_the_engine(
    engine: Engine, events: Collector, tmp_path
) -> None:
    """A Unix listener whose backlog is full: the connect fails or times out, in words."""
    path = str(tmp_path / "full.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(0)
        fillers = []
        try:
            for _ in range(3):
                filler = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                filler.setblocking(False)
                fillers.append(filler)
                with contextlib.suppress(BlockingIOError):
                    filler.connect(path)
            cid = engine.connect(endpoint(f"unix://{path}"), timeout=0.5)
            closed = events.wait_closed(cid)
            assert closed.error
            assert closed.reason == f"{path} did not answer within 0.5 s"
        finally:
            for filler in fillers:
                filler.close()
