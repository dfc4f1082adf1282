"""`sockbench export TRANSCRIPT --pcapng FILE` (issue 18): real traffic recorded through the
engine (TCP over IPv4 and IPv6, UDP, a Unix socket; an EOF, a reset by sockbench, a reset by
the peer), exported, and read back by tshark: `follow` gives exactly the bytes of each
direction, and no packet is malformed or has a bad checksum. Skipped without tshark
(apt-get install tshark)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from peers import (
    Collector,
    abort,
    connect_client,
    ipv6_loopback_available,
    port_of,
    recv_exactly,
    recv_until_eof,
    short_temp_dir,
    udp_socket,
)
from tls_certs import make_pki

from workbench.cli import main
from workbench.engine import Engine, EventBridge
from workbench.protocol import events as ev
from workbench.protocol.endpoints import format_sockname, parse_url
from workbench.transcript.reader import read
from workbench.transcript.records import Event

TSHARK_TIMEOUT = 60.0
requires_tshark = pytest.mark.skipif(
    shutil.which("tshark") is None, reason="tshark is not installed (apt-get install tshark)"
)
CHECKS = ["-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE"]
CHECKS += ["-o", "udp.check_checksum:TRUE"]


def tshark(*args: str) -> str:
    done = subprocess.run(
        ["tshark", *args], capture_output=True, timeout=TSHARK_TIMEOUT, check=False
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout.decode(errors="replace")


@dataclass
class Followed:
    """One stream as tshark follows it: node 0 (the first packet's source) and node 1."""

    first: str
    second: str
    from_first: bytes
    from_second: bytes


def follow(capture: Path, kind: str) -> list[Followed]:
    """Every `kind` ("tcp" or "udp") stream of the capture, followed by tshark (raw)."""
    field = f"{kind}.stream"
    ids = {int(n) for n in tshark("-r", str(capture), "-T", "fields", "-e", field).split()}
    if not ids:
        return []
    args = [a for n in sorted(ids) for a in ("-z", f"follow,{kind},raw,{n}")]
    output = tshark("-r", str(capture), "-q", *args)
    streams: dict[int, Followed] = {}
    for block in output.split("=" * 67):
        number = re.search(r"Filter: \S+ eq (\d+)", block)
        if number is None:
            continue
        nodes = re.findall(r"^Node [01]: (.*)$", block, re.M)
        body = block.split(nodes[1], 1)[1] if len(nodes) == 2 else ""
        first, second = bytearray(), bytearray()
        for line in body.splitlines():
            if line.strip():
                (second if line.startswith("\t") else first).extend(bytes.fromhex(line.strip()))
        streams[int(number[1])] = Followed(nodes[0], nodes[1], bytes(first), bytes(second))
    return [streams[n] for n in sorted(streams)]


def problems(capture: Path) -> list[str]:
    """What tshark finds wrong: malformed packets, bad checksums, errors in its expert info."""
    verbose = tshark("-r", str(capture), "-V", *CHECKS)
    found = [
        line.strip()
        for line in verbose.splitlines()
        if "incorrect" in line
        or "Malformed" in line
        or ("Bad" in line and "Checksum" in line)
        or "[Checksum Status: Bad]" in line
    ]
    expert = tshark("-r", str(capture), "-q", "-z", "expert,error", *CHECKS)
    found += [line for line in expert.splitlines() if re.search(r"^\s+\d+\s", line)]
    return found


def export(transcript: Path, capture: Path, *more: str) -> int:
    return main(["export", str(transcript), "--pcapng", str(capture), *more])


# --- recording real traffic ---


def listen(engine: Engine, events: Collector, url: str) -> tuple[str, str]:
    lid = engine.listen(parse_url(url, for_listen=True))
    opened = events.wait_for(
        lambda e: (
            (isinstance(e, ev.ListenerOpened) and e.lid == lid)
            or (isinstance(e, ev.ErrorReported) and e.source == lid)
        )
    )
    assert isinstance(opened, ev.ListenerOpened), opened
    return lid, opened.local[0]


def accepted(events: Collector, lid: str) -> str:
    return events.wait_opened(listener=lid).cid


def tcp_with_eofs(engine: Engine, events: Collector, host: str) -> tuple[str, bytes, bytes]:
    """A client sends (more than one segment's worth), sockbench answers and sends EOF, the
    client sends after that and then its own EOF: the connection closes after both."""
    url = f"tcp://[{host}]:0" if ":" in host else f"tcp://{host}:0"
    lid, local = listen(engine, events, url)
    client = connect_client(port_of(local), host)
    cid = accepted(events, lid)
    sent = os.urandom(200_000) + b"\x00\xff end"
    with client:
        client.sendall(sent[:150_000])
        events.wait_received(cid, 150_000)
        reply = b"ok \x00\x01\r\n" * 1000
        engine.send(cid, reply)
        assert recv_exactly(client, len(reply)) == reply
        engine.half_close(cid)
        assert recv_until_eof(client) == b""
        client.sendall(sent[150_000:])
        events.wait_received(cid, len(sent))
        client.shutdown(socket.SHUT_WR)
        events.wait_closed(cid)
    return cid, sent, reply


def reset_by_sockbench(engine: Engine, events: Collector, host: str) -> tuple[str, bytes]:
    url = f"tcp://[{host}]:0" if ":" in host else f"tcp://{host}:0"
    lid, local = listen(engine, events, url)
    with connect_client(port_of(local), host) as client:
        cid = accepted(events, lid)
        client.sendall(b"before the reset\n")
        events.wait_received(cid, 17)
        engine.reset(cid)
        closed = events.wait_closed(cid)
        assert "reset" in closed.reason
    return cid, b"before the reset\n"


def reset_by_peer(engine: Engine, events: Collector) -> tuple[str, bytes]:
    lid, local = listen(engine, events, "tcp://127.0.0.1:0")
    client = connect_client(port_of(local))
    cid = accepted(events, lid)
    client.sendall(b"then a reset\n")
    events.wait_received(cid, 13)
    abort(client)
    closed = events.wait_closed(cid)
    assert "reset" in closed.reason, closed.reason
    return cid, b"then a reset\n"


def udp_peer(engine: Engine, events: Collector) -> tuple[str, list[bytes], bytes]:
    lid, local = listen(engine, events, "udp://127.0.0.1:0")
    datagrams = [b"first datagram\n", bytes(range(256)), b"x" * 60_000]
    with udp_socket() as client:
        for datagram in datagrams:
            client.sendto(datagram, ("127.0.0.1", port_of(local)))
        cid = accepted(events, lid)
        events.wait_received(cid, sum(map(len, datagrams)))
        engine.send(cid, b"a reply\n")
        assert client.recv(100) == b"a reply\n"
    return cid, datagrams, b"a reply\n"


def unix_stream(engine: Engine, events: Collector, directory: Path) -> tuple[str, bytes, bytes]:
    path = directory / "s.sock"
    lid, _ = listen(engine, events, f"unix://{path}")
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(5)
    with contextlib.closing(client):
        client.connect(str(path))
        cid = accepted(events, lid)
        client.sendall(b"over a unix socket\n")
        events.wait_received(cid, 19)
        engine.send(cid, b"answered\n")
        assert recv_exactly(client, 9) == b"answered\n"
        client.shutdown(socket.SHUT_WR)
        events.wait_closed(cid)
    return cid, b"over a unix socket\n", b"answered\n"


def tls_connection(engine: Engine, events: Collector, directory: Path) -> tuple[str, bytes, bytes]:
    """A TLS client and a tls:// listener: the transcript holds the decrypted bytes."""
    pki = make_pki(directory)
    url = f"tls://127.0.0.1:0?cert={pki.server.cert}&key={pki.server.key}"
    lid, local = listen(engine, events, url)
    context = ssl.create_default_context(cafile=str(pki.ca.cert))
    with (
        socket.create_connection(("127.0.0.1", port_of(local)), timeout=5) as plain,
        context.wrap_socket(plain, server_hostname="localhost") as client,
    ):
        cid = accepted(events, lid)
        client.sendall(b"secret over TLS\n")
        events.wait_received(cid, 16)
        engine.send(cid, b"decrypted reply\n")
        assert recv_exactly(client, 16) == b"decrypted reply\n"
    events.wait_closed(cid)
    return cid, b"secret over TLS\n", b"decrypted reply\n"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """One session of real traffic, recorded to a transcript and exported."""
    directory = tmp_path_factory.mktemp("pcapng")
    transcript = directory / "session.jsonl"
    bridge = EventBridge()
    engine = Engine(bridge, transcript_path=str(transcript))
    events = Collector(bridge)
    engine.start()
    found: dict[str, object] = {"transcript": transcript}
    try:
        found["v4"] = tcp_with_eofs(engine, events, "127.0.0.1")
        if ipv6_loopback_available():
            found["v6"] = tcp_with_eofs(engine, events, "::1")
            found["v6 reset"] = reset_by_sockbench(engine, events, "::1")
        found["reset"] = reset_by_sockbench(engine, events, "127.0.0.1")
        found["peer reset"] = reset_by_peer(engine, events)
        found["udp"] = udp_peer(engine, events)
        found["tls"] = tls_connection(engine, events, directory)
        found["proxied"] = proxied(engine, events)
        with short_temp_dir() as unix_dir:
            found["unix"] = unix_stream(engine, events, unix_dir)
    finally:
        engine.stop()
    capture = directory / "session.pcapng"
    assert export(transcript, capture) == 0
    found["capture"] = capture
    return found


def proxied(engine: Engine, events: Collector) -> tuple[str, bytes, str]:
    """A client accepted with a PROXY header (?proxy=1): its record names another client."""
    lid, local = listen(engine, events, "tcp://127.0.0.1:0?proxy=1")
    client = connect_client(port_of(local))
    sent = b"behind a proxy\n"
    with client:
        client.sendall(b"PROXY TCP4 203.0.113.7 127.0.0.1 51234 80\r\n" + sent)
        cid = accepted(events, lid)
        events.wait_received(cid, len(sent))
        real = format_sockname(client.getsockname())
    return cid, sent, real


def by_client(streams: list[Followed]) -> dict[str, Followed]:
    return {stream.first: stream for stream in streams}


def open_fields(transcript: Path, cid: str) -> dict[str, str]:
    """The fields of `cid`'s open record (local, remote: as tshark names addresses)."""
    with open(transcript, "rb") as file:
        for record in read(file, data=False):
            if isinstance(record, Event) and record.conn == cid and record.event == "open":
                return {k: str(v) for k, v in record.fields.items()}
    raise AssertionError(f"no open record for {cid}")


def remote_of(transcript: Path, cid: str) -> str:
    """The client's address ([::1]:port, 127.0.0.1:port)."""
    return open_fields(transcript, cid)["remote"]


@requires_tshark
def test_follow_gives_back_each_direction_of_tcp_over_ipv4(recorded: dict) -> None:
    cid, sent, reply = recorded["v4"]
    stream = by_client(follow(recorded["capture"], "tcp"))[remote_of(recorded["transcript"], cid)]
    assert stream.from_first == sent  # the client's bytes: what sockbench received
    assert stream.from_second == reply


@requires_tshark
@pytest.mark.skipif(not ipv6_loopback_available(), reason="IPv6 loopback (::1) not available")
def test_follow_gives_back_each_direction_of_tcp_over_ipv6(recorded: dict) -> None:
    cid, sent, reply = recorded["v6"]
    streams = by_client(follow(recorded["capture"], "tcp"))
    client = remote_of(recorded["transcript"], cid)
    assert client.startswith("[::1]:")
    assert streams[client].from_first == sent
    assert streams[client].from_second == reply


@requires_tshark
def test_follow_gives_back_each_datagram_of_udp(recorded: dict) -> None:
    cid, datagrams, reply = recorded["udp"]
    stream = by_client(follow(recorded["capture"], "udp"))[remote_of(recorded["transcript"], cid)]
    assert stream.from_first == b"".join(datagrams)
    assert stream.from_second == reply
    lengths = tshark("-r", str(recorded["capture"]), "-T", "fields", "-e", "udp.length")
    assert [int(n) - 8 for n in lengths.split()] == [*map(len, datagrams), len(reply)]


@requires_tshark
def test_a_unix_socket_is_tcp_over_loopback_and_says_so(recorded: dict) -> None:
    cid, sent, reply = recorded["unix"]
    number = int(cid[1:])
    stream = by_client(follow(recorded["capture"], "tcp"))[f"127.0.0.2:{40000 + number}"]
    assert stream.second.startswith("127.0.0.3:6")  # the listening side: 60000 + its number
    assert stream.from_first == sent
    assert stream.from_second == reply
    comments = tshark("-r", str(recorded["capture"]), "-T", "fields", "-e", "frame.comment")
    assert any(
        f"{cid} (unix" in line and "a Unix socket has no IP address" in line
        for line in comments.splitlines()
    ), comments


@requires_tshark
def test_fin_and_rst_as_recorded(recorded: dict) -> None:
    capture, transcript = recorded["capture"], recorded["transcript"]
    rows = tshark(
        "-r", str(capture), "-T", "fields", "-E", "separator=,",
        "-e", "tcp.stream", "-e", "tcp.srcport", "-e", "tcp.flags.fin", "-e", "tcp.flags.reset",
    )  # fmt: skip
    flags: dict[int, list[tuple[int, bool, bool]]] = {}
    for row in rows.split():
        if not row.split(",")[0]:
            continue  # a UDP packet
        stream, port, fin, rst = row.split(",")
        flags.setdefault(int(stream), []).append(
            (int(port), fin in ("1", "True"), rst in ("1", "True"))
        )
    streams = follow(capture, "tcp")
    index = {s.first: n for n, s in enumerate(streams)}

    def local_of(transcript: Path, key: str) -> str:
        return open_fields(transcript, recorded[key][0])["local"]

    def of(key: str) -> tuple[int, list[tuple[int, bool, bool]]]:
        client = remote_of(transcript, recorded[key][0])
        return port_of(client), flags[index[client]]

    port, packets = of("v4")  # sockbench's EOF first, then the client's: a FIN each way
    assert [p for p, fin, _ in packets if fin] == [port_of(local_of(transcript, "v4")), port]
    assert not any(rst for *_, rst in packets)
    port, packets = of("reset")  # reset by sockbench: one RST, from the listening side
    assert [p for p, _, rst in packets if rst] == [port_of(local_of(transcript, "reset"))]
    assert not any(fin for _, fin, _ in packets)
    port, packets = of("peer reset")  # the client's RST
    assert [p for p, _, rst in packets if rst] == [port]
    assert not any(fin for _, fin, _ in packets)


@requires_tshark
def test_comments_name_each_connection_and_its_listener(recorded: dict) -> None:
    comments = tshark("-r", str(recorded["capture"]), "-T", "fields", "-e", "frame.comment")
    named = [line for line in comments.splitlines() if line.strip()]
    cid = recorded["v4"][0]
    assert any(line.startswith(f"{cid} (tcp, accepted by listener L") for line in named), named
    assert len(named) >= 5


@requires_tshark
def test_tshark_finds_nothing_malformed_and_no_bad_checksum(recorded: dict) -> None:
    assert problems(recorded["capture"]) == []
    # The check itself works: one flipped payload byte is reported.
    broken = recorded["capture"].with_name("broken.pcapng")
    data = bytearray(recorded["capture"].read_bytes())
    at = data.find(b"\x00\xff end")
    data[at] ^= 0x55
    broken.write_bytes(bytes(data))
    assert any("incorrect" in line or "Bad" in line for line in problems(broken))


@requires_tshark
def test_one_connection_with_conn(recorded: dict) -> None:
    cid, sent, reply = recorded["v4"]
    capture = recorded["capture"].with_name("one.pcapng")
    assert export(recorded["transcript"], capture, "--conn", cid) == 0
    streams = follow(capture, "tcp")
    assert [(s.from_first, s.from_second) for s in streams] == [(sent, reply)]
    assert follow(capture, "udp") == []


@requires_tshark
def test_tls_is_exported_as_its_decrypted_bytes_and_says_so(recorded: dict) -> None:
    cid, sent, reply = recorded["tls"]
    stream = by_client(follow(recorded["capture"], "tcp"))[remote_of(recorded["transcript"], cid)]
    assert (stream.from_first, stream.from_second) == (sent, reply)
    comments = tshark("-r", str(recorded["capture"]), "-T", "fields", "-e", "frame.comment")
    assert any(
        line.startswith("TLS (TLSv1.3") and "decrypted bytes" in line and "key log" in line
        for line in comments.splitlines()
    ), comments


@requires_tshark
def test_a_proxied_connection_goes_between_the_sockets(recorded: dict) -> None:
    """The packets went between the sockets: the record's `A via B` exports as B."""
    cid, sent, real = recorded["proxied"]
    assert remote_of(recorded["transcript"], cid) == f"203.0.113.7:51234 via {real}"
    assert by_client(follow(recorded["capture"], "tcp"))[real].from_first == sent
