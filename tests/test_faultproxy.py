"""The fault proxy itself, with plain sockets on both sides: each fault does what it says."""

from __future__ import annotations

import socket
import time

import pytest
from faultproxy import FaultProxy
from peers import (
    EchoServer,
    GreetingServer,
    RecordingServer,
    connect_client,
    recv_exactly,
    recv_until_eof,
    wait_until,
)


def test_forwards_both_ways_and_eof() -> None:
    with EchoServer() as echo, FaultProxy(echo.port) as proxy, connect_client(proxy.port) as c:
        c.sendall(b"hello")
        assert recv_exactly(c, 5) == b"hello"
        c.shutdown(socket.SHUT_WR)
        assert recv_until_eof(c) == b""
        wait_until(lambda: proxy.connections[0].client_eof, what="the client's EOF seen")


def test_latency_delays_each_chunk() -> None:
    with (
        EchoServer() as echo,
        FaultProxy(echo.port, latency=0.3) as proxy,
        connect_client(proxy.port) as client,
    ):
        started = time.monotonic()
        client.sendall(b"ping")
        assert recv_exactly(client, 4) == b"ping"
        # Once on the way there, once on the way back.
        assert time.monotonic() - started >= 0.6


def test_one_byte_at_a_time() -> None:
    greeting = b"0123456789abcdef"
    with (
        GreetingServer(greeting) as server,
        FaultProxy(server.port, one_byte=True) as proxy,
        connect_client(proxy.port) as client,
    ):
        reads = []
        while (chunk := client.recv(100)) and len(reads) < 100:
            reads.append(chunk)
    assert b"".join(reads) == greeting
    # Each byte is its own segment; a busy machine may still merge a few of them in one read.
    assert len(reads) >= len(greeting) // 2


def test_reset_after_some_bytes() -> None:
    greeting = b"x" * 1000
    with (
        GreetingServer(greeting) as server,
        FaultProxy(server.port, reset_after=100) as proxy,
        connect_client(proxy.port) as client,
    ):
        received = b""
        with pytest.raises(ConnectionResetError):
            while chunk := client.recv(4096):
                received += chunk
        assert received == greeting[:100]
        assert proxy.connections[0].reset


def test_reset_all_resets_now() -> None:
    with EchoServer() as echo, FaultProxy(echo.port) as proxy, connect_client(proxy.port) as c:
        c.sendall(b"a")
        assert recv_exactly(c, 1) == b"a"
        proxy.reset_all()
        with pytest.raises(ConnectionResetError):
            c.recv(10)


def test_blackhole_accepts_but_never_answers_nor_forwards() -> None:
    with RecordingServer(b"hello") as server, FaultProxy(server.port, blackhole=True) as proxy:
        with connect_client(proxy.port, timeout=0.5) as client:
            client.sendall(b"anyone there?")
            with pytest.raises(TimeoutError):
                client.recv(10)
        assert server.connections == 0


def test_slow_reader_takes_only_part_of_a_large_send() -> None:
    size = 8 * 1024 * 1024
    with (
        RecordingServer() as server,
        FaultProxy(server.port, read_rate=20_000) as proxy,
        connect_client(proxy.port) as client,
    ):
        client.setblocking(False)
        sent = 0
        deadline = time.monotonic() + 2
        while sent < size and time.monotonic() < deadline:
            try:
                sent += client.send(b"z" * 65536)
            except BlockingIOError:
                time.sleep(0.01)
        # The kernel's buffers take some; the proxy forwards only a trickle.
        assert sent < size
        assert proxy.connections[0].to_upstream < sent


def test_eof_after_closes_one_direction_only() -> None:
    with (
        RecordingServer(b"0123456789") as server,
        FaultProxy(server.port, eof_after=4) as proxy,
        connect_client(proxy.port) as client,
    ):
        assert recv_until_eof(client) == b"0123"
        client.sendall(b"still talking")
        assert server.wait_for_bytes(13) == b"still talking"
        assert proxy.connections[0].eof_sent


def test_eof_all_then_still_forwards_upstream() -> None:
    with (
        RecordingServer() as server,
        FaultProxy(server.port) as proxy,
        connect_client(proxy.port) as client,
    ):
        client.sendall(b"one")
        server.wait_for_bytes(3)
        proxy.eof_all()
        assert recv_until_eof(client) == b""
        client.sendall(b"two")
        assert server.wait_for_bytes(6) == b"onetwo"
