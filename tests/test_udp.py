"""UDP with real peers on loopback: each source address is a peer of its listener, replies go
to the right one, datagram boundaries are kept (in events and in the transcript), errors in
plain words, a bounded peer table, "Send to...", socket options, multicast in a network
namespace of its own, and loss under load."""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from peers import (
    Collector,
    UdpEchoServer,
    closed_udp_port,
    ncat_udp_client,
    port_of,
    recv_nothing,
    requires_ncat,
    requires_socat,
    socat_udp_client,
    udp_drops,
    udp_socket,
)

from workbench.engine import Engine
from workbench.engine.datagram import DatagramSocket
from workbench.protocol import events as ev
from workbench.protocol.endpoints import Endpoint, format_sockname, parse_url

LOCALHOST = "127.0.0.1"
MAX_IPV4_PAYLOAD = 65_507


# --- helpers ---


def endpoint(url: str, listen: bool = False) -> Endpoint:
    return parse_url(url, for_listen=listen)


def listen_udp(
    engine: Engine, events: Collector, url: str = "udp://127.0.0.1:0"
) -> tuple[str, int, ev.ListenerOpened]:
    """Open a UDP listener; return its id, the port it got and its ListenerOpened event."""
    lid = engine.listen(endpoint(url, listen=True))
    opened = events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid)
    return lid, port_of(opened.local[0]), opened


def peer_opened(events: Collector, lid: str, remote: str) -> ev.ConnectionOpened:
    """The ConnectionOpened of the listener's peer at `remote` ('host:port')."""
    return events.wait_for(
        lambda e: isinstance(e, ev.ConnectionOpened) and e.listener == lid and e.remote == remote
    )


def peer_of(events: Collector, lid: str, sock: socket.socket) -> str:
    """The connection id the listener gave to the plain socket `sock`."""
    return peer_opened(events, lid, format_sockname(sock.getsockname())).cid


def datagram_socket(engine: Engine, lid: str) -> DatagramSocket:
    listener = engine.listeners[lid]
    assert listener.opened is not None and listener.opened.datagram is not None
    return listener.opened.datagram


def error_from(source: str, text: str = "") -> Any:
    return lambda e: isinstance(e, ev.ErrorReported) and e.source == source and text in e.message


def closed(cid: str) -> Any:
    return lambda e: isinstance(e, ev.ConnectionClosed) and e.cid == cid


def transcript_datagrams(path: Path, cid: str, direction: str) -> list[bytes]:
    """The payload of each data record of `cid` in `direction` ("in"/"out"), in order."""
    found = []
    for line in path.read_bytes().splitlines():
        record = json.loads(line)
        if record["event"] == "data" and record["conn"] == cid and record["dir"] == direction:
            chunk = base64.b64decode(record["data"], validate=True)
            assert record["size"] == len(chunk)
            found.append(chunk)
    return found


# --- peers of a listener ---


@pytest.mark.parametrize(
    "tool",
    [
        pytest.param("socat", marks=requires_socat),
        pytest.param("ncat", marks=requires_ncat),
    ],
)
def test_python_and_tool_peers_are_separate_and_each_gets_only_its_reply(
    engine: Engine, events: Collector, tool: str
) -> None:
    lid, port, _ = listen_udp(engine, events)
    start_tool = socat_udp_client if tool == "socat" else ncat_udp_client
    with udp_socket() as py, start_tool(port) as other:
        py.sendto(b"from python", (LOCALHOST, port))
        other.send(f"from {tool}\n".encode())
        opened = events.wait_until(
            lambda: len(events.of(ev.ConnectionOpened)) >= 2 and events.of(ev.ConnectionOpened),
            what="two peers",
        )
        assert {o.listener for o in opened} == {lid}
        assert {o.transport for o in opened} == {"udp"}
        assert len({o.cid for o in opened}) == 2, "each source address is its own peer"
        assert len({o.remote for o in opened}) == 2
        assert all(o.local == f"{LOCALHOST}:{port}" for o in opened)
        py_cid = peer_of(events, lid, py)
        (other_cid,) = {o.cid for o in opened} - {py_cid}
        assert events.wait_received(py_cid, 11) == b"from python"
        assert events.wait_received(other_cid, len(tool) + 6) == f"from {tool}\n".encode()

        engine.send(py_cid, b"to python")
        engine.send(other_cid, f"to {tool}\n".encode())
        data, sender = py.recvfrom(1 << 16)
        assert (data, sender) == (b"to python", (LOCALHOST, port))
        assert other.wait_output(len(tool) + 4) == f"to {tool}\n".encode()
        # Nothing else arrives at either: each got only its own reply.
        assert recv_nothing(py) is None
        assert other.output == f"to {tool}\n".encode()


def test_sendto_recvfrom_ping_pong(engine: Engine, events: Collector) -> None:
    """The classic exchange: a client sends "ping", the listener answers that peer "pong"."""
    lid, port, _ = listen_udp(engine, events)
    with udp_socket() as client:
        client.sendto(b"ping", (LOCALHOST, port))
        cid = peer_of(events, lid, client)
        assert events.wait_received(cid, 4) == b"ping"
        engine.send(cid, b"pong")
        assert client.recvfrom(100) == (b"pong", (LOCALHOST, port))
        events.wait_for(lambda e: isinstance(e, ev.Data) and e.cid == cid and e.outgoing)
        assert events.sent(cid) == b"pong"


def test_a_peer_sending_again_stays_the_same_peer(engine: Engine, events: Collector) -> None:
    lid, port, _ = listen_udp(engine, events)
    with udp_socket() as client:
        for word in (b"one", b"two", b"three"):
            client.sendto(word, (LOCALHOST, port))
        cid = peer_of(events, lid, client)
        assert events.wait_received(cid, 11) == b"onetwothree"
        assert [e.data for e in events.data(cid, outgoing=False)] == [b"one", b"two", b"three"]
        assert len(events.of(ev.ConnectionOpened)) == 1


# --- the client side ---


def test_udp_client_talks_to_a_python_echo_server(engine: Engine, events: Collector) -> None:
    with UdpEchoServer(prefix=b"echo: ") as server:
        cid = engine.connect(endpoint(server.url))
        opened = events.wait_opened(cid)
        assert opened.listener is None
        assert opened.transport == "udp"
        assert opened.remote == f"{LOCALHOST}:{server.port}"
        for word in (b"hello", b"udp", b"world"):
            engine.send(cid, word)
        assert server.wait_for_datagrams(3) == [b"hello", b"udp", b"world"]
        (sender,) = {address for _, address in server.received}
        assert opened.local == format_sockname(sender)
        events.wait_received(cid, 3 * 6 + 13)
        assert [e.data for e in events.data(cid, outgoing=False)] == [
            b"echo: hello",
            b"echo: udp",
            b"echo: world",
        ]


def test_closing_a_udp_client_closes_its_socket(engine: Engine, events: Collector) -> None:
    with UdpEchoServer() as server:
        cid = engine.connect(endpoint(server.url))
        events.wait_opened(cid)
        engine.close(cid)
        assert events.wait_for(closed(cid)).reason == "closed by you"
        engine.send(cid, b"late")
        assert "not sent" in events.wait_for(error_from(cid, "not sent")).message
        assert events.sent(cid) == b""
        assert server.datagrams() == []


# --- datagram boundaries ---


def varied_payloads(count: int = 50, seed: int = 7) -> list[bytes]:
    """`count` datagrams of varied sizes from 1 to 2000 bytes (both ends included)."""
    rng = random.Random(seed)
    sizes = [1, 2000] + [rng.randint(1, 2000) for _ in range(count - 2)]
    rng.shuffle(sizes)
    return [bytes(rng.getrandbits(8) for _ in range(size)) for size in sizes]


def test_datagram_boundaries_are_kept_both_ways_and_in_the_transcript(
    make_engine, tmp_path: Path
) -> None:
    transcript = tmp_path / "udp.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    lid, port, _ = listen_udp(engine, events)
    incoming = varied_payloads(seed=1)
    outgoing = varied_payloads(seed=2)
    with udp_socket() as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        for payload in incoming:
            client.sendto(payload, (LOCALHOST, port))
        cid = peer_of(events, lid, client)
        events.wait_until(
            lambda: len(events.data(cid, outgoing=False)) >= len(incoming),
            what=f"{len(incoming)} datagrams",
        )
        received = events.data(cid, outgoing=False)
        assert [e.chunks for e in received] == [1] * len(incoming), "one event per datagram"
        assert [e.size for e in received] == [len(p) for p in incoming]
        assert [e.data for e in received] == incoming

        for payload in outgoing:
            engine.send(cid, payload)
        arrived = [client.recv(1 << 16) for _ in outgoing]
        assert arrived == outgoing
        assert recv_nothing(client) is None
        events.wait_until(lambda: len(events.data(cid, outgoing=True)) >= len(outgoing))
        assert [e.data for e in events.data(cid, outgoing=True)] == outgoing
    engine.stop()
    assert transcript_datagrams(transcript, cid, "in") == incoming
    assert transcript_datagrams(transcript, cid, "out") == outgoing


def test_an_empty_datagram_is_received_as_one_empty_data_event(
    engine: Engine, events: Collector
) -> None:
    lid, port, _ = listen_udp(engine, events)
    with udp_socket() as client:
        client.sendto(b"", (LOCALHOST, port))
        client.sendto(b"after", (LOCALHOST, port))
        cid = peer_of(events, lid, client)
        events.wait_received(cid, 5)
        assert [(e.data, e.size) for e in events.data(cid, outgoing=False)] == [
            (b"", 0),
            (b"after", 5),
        ]


def test_sending_an_empty_datagram_sends_one_or_says_it_did_not(
    engine: Engine, events: Collector
) -> None:
    lid, port, _ = listen_udp(engine, events)
    with udp_socket() as client:
        client.sendto(b"hi", (LOCALHOST, port))
        cid = peer_of(events, lid, client)
        engine.send(cid, b"")
        engine.send(cid, b"marker")
        first = client.recv(1 << 16)
        events.settle(0.1)
        said_sent = [e.size for e in events.data(cid, outgoing=True)]
        refused = [e for e in events.of(ev.ErrorReported) if e.source == cid]
        if first == b"":
            assert said_sent == [0, 6]
        else:
            assert first == b"marker"
            assert refused, "an empty datagram that was not sent must be reported"
            assert said_sent == [6], "a datagram that never left is reported as sent"


# --- errors ---


def test_oversize_datagram_is_refused_and_nothing_is_sent(
    engine: Engine, events: Collector
) -> None:
    lid, port, _ = listen_udp(engine, events)
    with udp_socket() as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        client.sendto(b"hi", (LOCALHOST, port))
        cid = peer_of(events, lid, client)
        engine.send(cid, b"x" * (MAX_IPV4_PAYLOAD + 1))
        error = events.wait_for(error_from(cid))
        assert "datagram too large" in error.message
        assert "65,508" in error.message and "65,507" in error.message
        assert recv_nothing(client) is None
        assert events.data(cid, outgoing=True) == []
        # The largest datagram IPv4 carries goes, whole.
        biggest = os.urandom(MAX_IPV4_PAYLOAD)
        engine.send(cid, biggest)
        assert client.recv(1 << 17) == biggest
        assert engine.connections[cid].is_open


def test_oversize_datagram_on_a_udp_client(engine: Engine, events: Collector) -> None:
    with UdpEchoServer() as server:
        cid = engine.connect(endpoint(server.url))
        events.wait_opened(cid)
        engine.send(cid, bytes(100_000))
        assert "datagram too large" in events.wait_for(error_from(cid)).message
        engine.send(cid, b"small")
        assert server.wait_for_datagrams(1) == [b"small"]


def test_port_unreachable_for_a_udp_client(engine: Engine, events: Collector) -> None:
    port = closed_udp_port()
    cid = engine.connect(endpoint(f"udp://127.0.0.1:{port}"))
    events.wait_opened(cid)
    engine.send(cid, b"anyone there?")
    error = events.wait_for(error_from(cid))
    assert "port unreachable" in error.message
    assert f"127.0.0.1:{port}" in error.message


def test_second_udp_listener_on_the_same_port_is_in_use(engine: Engine, events: Collector) -> None:
    first, port, _ = listen_udp(engine, events)
    second = engine.listen(endpoint(f"udp://127.0.0.1:{port}", listen=True))
    error = events.wait_for(error_from(second))
    assert "already in use" in error.message
    assert f"127.0.0.1:{port}" in error.message
    assert not [e for e in events.of(ev.ListenerOpened) if e.lid == second]
    assert second not in engine.listeners
    with udp_socket() as client:  # the first listener still works
        client.sendto(b"still here", (LOCALHOST, port))
        assert events.wait_received(peer_of(events, first, client), 10) == b"still here"


def test_half_close_and_reset_of_a_datagram_peer_are_refused_with_a_notice(
    engine: Engine, events: Collector
) -> None:
    """The user's slip: said in the Log (a Note), not an error of the session."""
    lid, port, _ = listen_udp(engine, events)
    with udp_socket() as client:
        client.sendto(b"hi", (LOCALHOST, port))
        cid = peer_of(events, lid, client)
        engine.half_close(cid)
        engine.reset(cid)
        events.wait_until(lambda: len([e for e in events.of(ev.Note) if e.source == cid]) >= 2)
        assert not [e for e in events.of(ev.ErrorReported) if e.source == cid]
        messages = [e.message for e in events.of(ev.Note) if e.source == cid]
        assert all("datagram peer" in m for m in messages), messages
        assert engine.connections[cid].is_open
        engine.send(cid, b"still open")
        assert client.recv(100) == b"still open"


def test_closing_a_listeners_peer_forgets_it(engine: Engine, events: Collector) -> None:
    lid, port, _ = listen_udp(engine, events)
    with udp_socket() as client:
        client.sendto(b"first", (LOCALHOST, port))
        cid = peer_of(events, lid, client)
        engine.close(cid)
        assert events.wait_for(closed(cid)).reason == "forgotten by you"
        client.sendto(b"again", (LOCALHOST, port))
        new = events.wait_for(
            lambda e: isinstance(e, ev.ConnectionOpened) and e.listener == lid and e.cid != cid
        )
        assert new.remote == format_sockname(client.getsockname())
        assert events.wait_received(new.cid, 5) == b"again"


def test_closing_a_udp_listener_closes_its_peers(engine: Engine, events: Collector) -> None:
    lid, port, _ = listen_udp(engine, events)
    with udp_socket() as one, udp_socket() as two:
        one.sendto(b"1", (LOCALHOST, port))
        two.sendto(b"2", (LOCALHOST, port))
        cids = [peer_of(events, lid, one), peer_of(events, lid, two)]
        engine.close_listener(lid)
        events.wait_for(lambda e: isinstance(e, ev.ListenerClosed) and e.lid == lid)
        for cid in cids:
            assert lid in events.wait_for(closed(cid)).reason
        one.sendto(b"nobody", (LOCALHOST, port))
        events.settle(0.1)
        assert len(events.of(ev.ConnectionOpened)) == 2


# --- the peer table ---


def test_peer_table_forgets_the_least_recently_heard_first(
    engine: Engine, events: Collector
) -> None:
    lid, port, _ = listen_udp(engine, events)
    table = datagram_socket(engine, lid)
    table.max_peers = 3
    sockets = [udp_socket() for _ in range(table.max_peers + 3)]
    try:
        cids = []
        for index, sock in enumerate(sockets):
            sock.sendto(b"%d" % index, (LOCALHOST, port))
            cids.append(peer_of(events, lid, sock))  # one at a time: the order is known
        forgotten = events.wait_until(
            lambda: len(events.of(ev.ConnectionClosed)) >= 3 and events.of(ev.ConnectionClosed),
            what="three forgotten peers",
        )
        assert [e.cid for e in forgotten] == cids[:3], "the oldest go first"
        assert all(e.reason.startswith("forgotten: peer table full") for e in forgotten)
        assert not any(e.error for e in forgotten)
        assert table.forgotten == 3
        assert sorted(p.cid for p in table.peers.values()) == sorted(cids[3:])
        for cid, sock in zip(cids[3:], sockets[3:], strict=True):  # the rest still answer
            engine.send(cid, b"kept")
            assert sock.recv(100) == b"kept"
    finally:
        for sock in sockets:
            sock.close()


def test_a_peer_heard_again_is_kept_over_an_older_one(engine: Engine, events: Collector) -> None:
    lid, port, _ = listen_udp(engine, events)
    table = datagram_socket(engine, lid)
    table.max_peers = 2
    with udp_socket() as a, udp_socket() as b, udp_socket() as c:
        a.sendto(b"a", (LOCALHOST, port))
        a_cid = peer_of(events, lid, a)
        b.sendto(b"b", (LOCALHOST, port))
        b_cid = peer_of(events, lid, b)
        a.sendto(b"a again", (LOCALHOST, port))
        events.wait_received(a_cid, 8)
        c.sendto(b"c", (LOCALHOST, port))
        peer_of(events, lid, c)
        assert events.wait_for(lambda e: isinstance(e, ev.ConnectionClosed)).cid == b_cid
        assert a_cid in engine.connections


# --- "Send to..." ---


def test_send_to_makes_a_python_socket_a_peer(engine: Engine, events: Collector) -> None:
    lid, port, _ = listen_udp(engine, events)
    with udp_socket() as target:
        target_port = target.getsockname()[1]
        engine.add_peer(lid, endpoint(f"udp://127.0.0.1:{target_port}"))
        resolved = events.wait_for(lambda e: isinstance(e, ev.PeerResolved) and e.lid == lid)
        opened = events.wait_opened(resolved.cid)
        assert opened.listener == lid
        assert opened.remote == f"127.0.0.1:{target_port}"
        assert opened.transport == "udp"
        engine.send(resolved.cid, b"hello, stranger")
        assert target.recvfrom(100) == (b"hello, stranger", (LOCALHOST, port))
        # Its answer comes in on the same peer, and asking again names the same peer.
        target.sendto(b"who are you?", (LOCALHOST, port))
        assert events.wait_received(resolved.cid, 12) == b"who are you?"
        engine.add_peer(lid, endpoint(f"udp://localhost:{target_port}"))
        events.wait_until(lambda: len(events.of(ev.PeerResolved)) == 2)
        assert {e.cid for e in events.of(ev.PeerResolved)} == {resolved.cid}
        assert len(events.of(ev.ConnectionOpened)) == 1


def test_send_to_on_a_tcp_listener_is_an_error(engine: Engine, events: Collector) -> None:
    lid = engine.listen(endpoint("tcp://127.0.0.1:0", listen=True))
    events.wait_for(lambda e: isinstance(e, ev.ListenerOpened))
    engine.add_peer(lid, endpoint("udp://127.0.0.1:9"))
    assert "not an open datagram listener" in events.wait_for(error_from(lid)).message
    assert events.of(ev.PeerResolved) == []


# --- socket options ---


def test_rcvbuf_option_says_what_took_effect(engine: Engine, events: Collector) -> None:
    _, _, opened = listen_udp(engine, events, "udp://127.0.0.1:0?rcvbuf=1048576")
    (note,) = [n for n in opened.notes if n.startswith("receive buffer")]
    assert "(asked 1,048,576)" in note


def test_broadcast_option_says_broadcast_allowed(engine: Engine, events: Collector) -> None:
    _, _, plain = listen_udp(engine, events)
    assert plain.notes == ()
    _, _, opened = listen_udp(engine, events, "udp://127.0.0.1:0?broadcast=1")
    assert "broadcast allowed" in opened.notes


def test_udp_client_with_broadcast_reaches_the_loopback_broadcast_address(
    engine: Engine, events: Collector
) -> None:
    """127.255.255.255 is the broadcast address of lo's 127.0.0.0/8."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.255.255.255", 0))
        receiver.settimeout(5)
        port = receiver.getsockname()[1]
        cid = engine.connect(endpoint(f"udp://127.255.255.255:{port}?broadcast=1"))
        events.wait_opened(cid)
        events.wait_for(
            lambda e: (
                isinstance(e, ev.Note) and e.source == cid and "broadcast allowed" in e.message
            )
        )
        engine.send(cid, b"to everyone")
        assert receiver.recv(100) == b"to everyone"


def test_udp_client_to_a_broadcast_address_without_the_option_says_how(
    engine: Engine, events: Collector
) -> None:
    port = closed_udp_port()
    cid = engine.connect(endpoint(f"udp://127.255.255.255:{port}"))
    reason = events.wait_for(closed(cid)).reason
    assert "permission denied" in reason
    assert "broadcast=1" in reason
    assert "below 1024" not in reason


def test_send_to_a_broadcast_address_without_the_option_is_an_error(
    engine: Engine, events: Collector
) -> None:
    lid, _, _ = listen_udp(engine, events)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as receiver:
        receiver.bind(("127.255.255.255", 0))
        port = receiver.getsockname()[1]
        engine.add_peer(lid, endpoint(f"udp://127.255.255.255:{port}"))
        cid = events.wait_for(lambda e: isinstance(e, ev.PeerResolved)).cid
        engine.send(cid, b"to everyone")
        error = events.wait_for(lambda e: isinstance(e, ev.ErrorReported))
        assert "broadcast=1" in error.message, error
        assert recv_nothing(receiver) is None


# --- multicast, in a network namespace of the test's own ---

MULTICAST_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from workbench.protocol.endpoints import parse_url
    from workbench.engine import Engine, EventBridge
    from workbench.protocol import events as ev

    GROUP = "239.1.2.3"
    bridge = EventBridge()
    engine = Engine(bridge)
    engine.start()
    seen = []

    def wait(predicate, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in seen:
                if predicate(event):
                    return event
            seen.extend(bridge.drain(0.05))
        raise SystemExit("timed out; events: " + repr(seen))

    try:
        lid = engine.listen(parse_url(f"udp://{GROUP}:0?join=1&iface=127.0.0.1", for_listen=True))
        opened = wait(lambda e: isinstance(e, ev.ListenerOpened) or isinstance(e, ev.ErrorReported))
        if isinstance(opened, ev.ErrorReported):
            raise SystemExit("listen failed: " + opened.message)
        port = int(opened.local[0].rsplit(":", 1)[1])
        cid = engine.connect(
            parse_url(f"udp://{GROUP}:{port}?ttl=1&loop=1&iface=127.0.0.1", for_listen=False)
        )
        client = wait(lambda e: isinstance(e, ev.ConnectionOpened) and e.cid == cid)
        for word in (b"hello group", b"second"):
            engine.send(cid, word)
        wait(lambda e: isinstance(e, ev.Data) and not e.outgoing and e.data == b"second")
    finally:
        engine.stop()
    received = [e for e in seen if isinstance(e, ev.Data) and not e.outgoing]
    print(json.dumps({
        "listener_local": list(opened.local),
        "listener_notes": list(opened.notes),
        "client_local": client.local,
        "client_notes": [e.message for e in seen if isinstance(e, ev.Note) and e.source == cid],
        "peers": [
            [e.cid, e.listener, e.remote] for e in seen
            if isinstance(e, ev.ConnectionOpened) and e.listener == lid
        ],
        "received": [[e.cid, e.data.decode()] for e in received],
        "errors": [e.message for e in seen if isinstance(e, ev.ErrorReported)],
    }))
    """
)


@pytest.fixture
def network_namespace() -> Any:
    """A fresh network namespace with lo up and a multicast route on lo; deleted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("multicast runs in a network namespace of its own, which needs root")
    if shutil.which("ip") is None:
        pytest.skip("multicast needs the `ip` command (iproute2) to make a network namespace")
    name = f"sbtest-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot make a network namespace: {made.stderr.strip()}")
    try:
        for argv in (
            ["ip", "-n", name, "link", "set", "lo", "up"],
            ["ip", "-n", name, "route", "add", "224.0.0.0/4", "dev", "lo"],
        ):
            step = subprocess.run(argv, capture_output=True, text=True)
            if step.returncode != 0:
                pytest.skip(f"`{' '.join(argv)}` failed: {step.stderr.strip()}")
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], capture_output=True)


def test_multicast_listener_receives_what_a_client_sends_to_the_group(
    network_namespace: str,
) -> None:
    project = Path(__file__).resolve().parent.parent
    run = subprocess.run(
        ["ip", "netns", "exec", network_namespace, sys.executable, "-c", MULTICAST_SCRIPT],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert run.returncode == 0, f"stdout: {run.stdout}\nstderr: {run.stderr}"
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["errors"] == []
    assert result["listener_local"][0].startswith("239.1.2.3:")
    assert "joined multicast group 239.1.2.3 on 127.0.0.1" in result["listener_notes"]
    assert "multicast TTL 1" in result["client_notes"]
    assert "multicast loopback on" in result["client_notes"]
    (peer,) = result["peers"]
    assert peer[2] == result["client_local"], "the sender is the client's own address"
    assert result["received"] == [[peer[0], "hello group"], [peer[0], "second"]]


# --- loss under load ---

LOAD_DATAGRAMS = 20_000
LOAD_SIZE = 100
LOAD_BURST = 1_000  # datagrams sent at full speed between two drains of the bridge


def test_loss_under_load_is_small_and_sizes_stay_exact(engine: Engine, events: Collector) -> None:
    lid, port, opened = listen_udp(engine, events, "udp://127.0.0.1:0?rcvbuf=4194304")
    assert any(n.startswith("receive buffer") for n in opened.notes)
    payload = b"L" * LOAD_SIZE
    with udp_socket() as sender:
        sender.sendto(payload, (LOCALHOST, port))
        cid = peer_of(events, lid, sender)
        started = time.monotonic()
        for index in range(LOAD_DATAGRAMS - 1):
            sender.sendto(payload, (LOCALHOST, port))
            if index % LOAD_BURST == 0:
                # Drained as the UI drains: the engine stops reading while nobody does.
                events.pump(0)
        sent_in = time.monotonic() - started

        def arrived() -> int:
            return sum(e.chunks for e in events.data(cid, outgoing=False))

        # Wait until all arrived, or nothing more has come for half a second (10 s at most).
        deadline = time.monotonic() + 10
        last, last_change = -1, time.monotonic()
        while time.monotonic() < deadline:
            events.pump(0.05)
            now = arrived()
            if now >= LOAD_DATAGRAMS:
                break
            if now != last:
                last, last_change = now, time.monotonic()
            elif time.monotonic() - last_change > 0.5:
                break
    received = events.data(cid, outgoing=False)
    count = sum(e.chunks for e in received)
    assert sum(e.size for e in received) == LOAD_SIZE * count, "sizes are exact when merged"
    assert count <= LOAD_DATAGRAMS
    dropped = udp_drops(port)  # the listener is still open: its socket is listed
    if dropped is not None:
        assert count + dropped <= LOAD_DATAGRAMS
    lost = LOAD_DATAGRAMS - count
    print(
        f"\nUDP load: {LOAD_DATAGRAMS:,} x {LOAD_SIZE} B sent in {sent_in:.2f} s, "
        f"{count:,} received in {len(received):,} Data events, {lost:,} lost "
        f"({100 * lost / LOAD_DATAGRAMS:.2f} %), kernel-counted drops: {dropped}"
    )
    assert count >= 0.9 * LOAD_DATAGRAMS, f"lost {lost:,} of {LOAD_DATAGRAMS:,}"
