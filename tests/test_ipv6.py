"""IPv6 on loopback: TCP and UDP listeners and clients on [::1] with addresses shown in brackets
(in events and in the transcript), dual-stack listeners on [::] that take IPv4 too, and a host
name that resolves to ::1."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from peers import (
    Collector,
    UdpEchoServer,
    connect_client,
    port_of,
    recv_exactly,
    requires_ipv6,
    udp_socket,
)

from workbench.engine import Engine
from workbench.protocol import events as ev
from workbench.protocol.endpoints import format_sockname, parse_url

pytestmark = requires_ipv6

V6 = "::1"


def listen(engine: Engine, events: Collector, url: str) -> tuple[str, int, ev.ListenerOpened]:
    lid = engine.listen(parse_url(url, for_listen=True))
    opened = events.wait_for(
        lambda e: (
            (isinstance(e, ev.ListenerOpened) and e.lid == lid)
            or (isinstance(e, ev.ErrorReported) and e.source == lid)
        )
    )
    assert isinstance(opened, ev.ListenerOpened), opened
    return lid, port_of(opened.local[0]), opened


def peer_opened(events: Collector, lid: str, remote: str) -> ev.ConnectionOpened:
    return events.wait_for(
        lambda e: isinstance(e, ev.ConnectionOpened) and e.listener == lid and e.remote == remote
    )


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def record_of(found: list[dict[str, Any]], event: str, conn: str) -> dict[str, Any]:
    (record,) = [r for r in found if r["event"] == event and r["conn"] == conn]
    return record


# --- [::1] ---


def test_tcp_on_ipv6_loopback_shows_bracketed_addresses(make_engine, tmp_path: Path) -> None:
    transcript = tmp_path / "v6.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    lid, port, opened = listen(engine, events, "tcp://[::1]:0")
    assert opened.local == (f"[::1]:{port}",)
    # A Python client...
    with connect_client(port, host=V6) as client:
        me = format_sockname(client.getsockname())
        assert me.startswith("[::1]:")
        accepted = peer_opened(events, lid, me)
        assert accepted.local == f"[::1]:{port}"
        client.sendall(b"over v6")
        assert events.wait_received(accepted.cid, 7) == b"over v6"
        engine.send(accepted.cid, b"back over v6")
        assert recv_exactly(client, 12) == b"back over v6"
    # ...and the engine's own client.
    cid = engine.connect(parse_url(f"tcp://[::1]:{port}", for_listen=False))
    connecting = events.wait_for(lambda e: isinstance(e, ev.Connecting) and e.cid == cid)
    assert connecting.remote == f"[::1]:{port}"
    outgoing = events.wait_opened(cid)
    assert outgoing.remote == f"[::1]:{port}"
    assert outgoing.local.startswith("[::1]:")
    inbound = peer_opened(events, lid, outgoing.local)
    engine.send(cid, b"engine to engine")
    assert events.wait_received(inbound.cid, 16) == b"engine to engine"
    engine.stop()

    found = records(transcript)
    listen_record = record_of(found, "listen", lid)
    assert listen_record["local"] == [f"[::1]:{port}"]
    assert record_of(found, "open", accepted.cid)["remote"] == me
    assert record_of(found, "open", accepted.cid)["local"] == f"[::1]:{port}"
    assert record_of(found, "open", cid)["remote"] == f"[::1]:{port}"
    assert record_of(found, "open", inbound.cid)["remote"] == outgoing.local


def test_udp_on_ipv6_loopback_shows_bracketed_addresses(make_engine, tmp_path: Path) -> None:
    transcript = tmp_path / "v6udp.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    lid, port, opened = listen(engine, events, "udp://[::1]:0")
    assert opened.local == (f"[::1]:{port}",)
    with udp_socket(V6) as client:
        client.sendto(b"v6 datagram", (V6, port))
        me = format_sockname(client.getsockname())
        assert me.startswith("[::1]:")
        peer = peer_opened(events, lid, me)
        assert peer.transport == "udp"
        assert peer.local == f"[::1]:{port}"
        assert events.wait_received(peer.cid, 11) == b"v6 datagram"
        engine.send(peer.cid, b"v6 reply")
        data, sender = client.recvfrom(100)
        assert data == b"v6 reply"
        assert sender[:2] == (V6, port)
    cid = engine.connect(parse_url(f"udp://[::1]:{port}", for_listen=False))
    outgoing = events.wait_opened(cid)
    assert outgoing.remote == f"[::1]:{port}"
    assert outgoing.local.startswith("[::1]:")
    engine.send(cid, b"from the engine")
    inbound = peer_opened(events, lid, outgoing.local)
    assert events.wait_received(inbound.cid, 15) == b"from the engine"
    engine.stop()

    found = records(transcript)
    assert record_of(found, "listen", lid)["local"] == [f"[::1]:{port}"]
    assert record_of(found, "open", peer.cid)["remote"] == me
    assert record_of(found, "open", cid)["remote"] == f"[::1]:{port}"
    assert record_of(found, "open", inbound.cid)["remote"] == outgoing.local


def test_udp_client_to_an_ipv6_echo_server(engine: Engine, events: Collector) -> None:
    with UdpEchoServer(V6, prefix=b"echo: ") as server:
        assert server.url == f"udp://[::1]:{server.port}"
        cid = engine.connect(parse_url(server.url, for_listen=False))
        assert events.wait_opened(cid).remote == f"[::1]:{server.port}"
        engine.send(cid, b"ping6")
        assert events.wait_received(cid, 11) == b"echo: ping6"


def test_ipv6_datagram_limit_is_larger_than_ipv4s(engine: Engine, events: Collector) -> None:
    """UDP over IPv6 carries up to 65,527 bytes (no IPv4 header inside the 65,535)."""
    lid, port, _ = listen(engine, events, "udp://[::1]:0")
    with udp_socket(V6) as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        client.sendto(b"hi", (V6, port))
        cid = peer_opened(events, lid, format_sockname(client.getsockname())).cid
        engine.send(cid, bytes(65_528))
        error = events.wait_for(lambda e: isinstance(e, ev.ErrorReported) and e.source == cid)
        assert "datagram too large" in error.message and "IPv6" in error.message
        biggest = bytes(range(256)) * 255 + bytes(65_527 - 256 * 255)
        engine.send(cid, biggest)
        assert client.recv(1 << 17) == biggest


# --- dual-stack [::] ---


def test_tcp_listener_on_all_ipv6_addresses_takes_ipv4_too(
    engine: Engine, events: Collector
) -> None:
    lid, port, opened = listen(engine, events, "tcp://[::]:0")
    assert "dual-stack: accepts IPv4 too" in opened.notes
    assert opened.local == (f"[::]:{port}",)
    with connect_client(port, host="127.0.0.1") as v4, connect_client(port, host=V6) as v6:
        v4_peer = peer_opened(events, lid, f"[::ffff:127.0.0.1]:{v4.getsockname()[1]}")
        v6_peer = peer_opened(events, lid, format_sockname(v6.getsockname()))
        v4.sendall(b"over v4")
        v6.sendall(b"over v6")
        assert events.wait_received(v4_peer.cid, 7) == b"over v4"
        assert events.wait_received(v6_peer.cid, 7) == b"over v6"
        engine.send(v4_peer.cid, b"hello v4")
        engine.send(v6_peer.cid, b"hello v6")
        assert recv_exactly(v4, 8) == b"hello v4"
        assert recv_exactly(v6, 8) == b"hello v6"


def test_udp_listener_on_all_ipv6_addresses_takes_ipv4_too(
    engine: Engine, events: Collector
) -> None:
    lid, port, opened = listen(engine, events, "udp://[::]:0")
    assert "dual-stack: accepts IPv4 too" in opened.notes
    assert opened.local == (f"[::]:{port}",)
    with udp_socket("127.0.0.1") as v4, udp_socket(V6) as v6:
        v4.sendto(b"over v4", ("127.0.0.1", port))
        v6.sendto(b"over v6", (V6, port))
        v4_peer = peer_opened(events, lid, f"[::ffff:127.0.0.1]:{v4.getsockname()[1]}")
        v6_peer = peer_opened(events, lid, format_sockname(v6.getsockname()))
        assert v4_peer.transport == v6_peer.transport == "udp"
        assert events.wait_received(v4_peer.cid, 7) == b"over v4"
        assert events.wait_received(v6_peer.cid, 7) == b"over v6"
        engine.send(v4_peer.cid, b"hello v4")
        engine.send(v6_peer.cid, b"hello v6")
        assert v4.recvfrom(100) == (b"hello v4", ("127.0.0.1", port))
        assert v6.recv(100) == b"hello v6"


def test_ipv6_loopback_listener_does_not_take_ipv4(engine: Engine, events: Collector) -> None:
    _, port, opened = listen(engine, events, "tcp://[::1]:0")
    assert opened.notes == ()
    with pytest.raises(ConnectionRefusedError):
        connect_client(port, host="127.0.0.1").close()


# --- a host name for ::1 ---

V6_NAMES = ("localhost", "ip6-localhost", "ip6-loopback", "localhost6")


def name_for_ipv6_loopback() -> str | None:
    """A name that resolves to ::1 here (only to ::1 is best: UDP uses the first address)."""
    candidates = []
    for name in V6_NAMES:
        try:
            infos = socket.getaddrinfo(name, 0, type=socket.SOCK_STREAM)
        except socket.gaierror:
            continue
        addresses = [info[4][0] for info in infos]
        if V6 in addresses:
            candidates.append((addresses[0] != V6, name))
    return min(candidates)[1] if candidates else None


def test_connect_by_a_name_that_resolves_to_ipv6_loopback(
    engine: Engine, events: Collector
) -> None:
    name = name_for_ipv6_loopback()
    if name is None:
        pytest.skip(f"none of {', '.join(V6_NAMES)} resolves to ::1 here (see /etc/hosts)")
    lid, port, _ = listen(engine, events, "tcp://[::1]:0")
    cid = engine.connect(parse_url(f"tcp://{name}:{port}", for_listen=False))
    opened = events.wait_opened(cid)
    assert opened.remote == f"[::1]:{port}"
    engine.send(cid, b"by name")
    inbound = peer_opened(events, lid, opened.local)
    assert events.wait_received(inbound.cid, 7) == b"by name"
