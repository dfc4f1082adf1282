"""Reading many datagrams per system call (recvmmsg): what it returns must be exactly what
Python's recvfrom would have, datagram by datagram, with real sockets on loopback."""

from __future__ import annotations

import errno
import select
import socket
import sys
import threading
from collections.abc import Iterator

import pytest

from workbench.engine import many_datagrams
from workbench.engine.many_datagrams import BatchReceiver, decode_sockaddr

pytestmark = pytest.mark.skipif(
    BatchReceiver.create(1, 16) is None, reason="recvmmsg(2) is not available here (not Linux)"
)
MAX_UDP = 65_507


def receiver(count: int = 64) -> BatchReceiver:
    made = BatchReceiver.create(count, 65_536)
    assert made is not None
    return made


def pair(family: socket.AddressFamily = socket.AF_INET) -> tuple[socket.socket, socket.socket]:
    host = "127.0.0.1" if family == socket.AF_INET else "::1"
    reader = socket.socket(family, socket.SOCK_DGRAM)
    reader.bind((host, 0))
    reader.setblocking(False)
    reader.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    writer = socket.socket(family, socket.SOCK_DGRAM)
    writer.bind((host, 0))
    return reader, writer


@pytest.fixture
def sockets() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()


def wait_readable(sock: socket.socket) -> None:
    assert select.select([sock], [], [], 5.0)[0], "nothing arrived within 5 s"


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6])
def test_datagrams_and_addresses_are_what_recvfrom_gives(
    family: socket.AddressFamily, sockets: list[socket.socket]
) -> None:
    try:
        reader, writer = pair(family)
    except OSError as exc:
        pytest.skip(f"no {family.name} loopback here: {exc}")
    sockets += [reader, writer]
    # Around the small slot's size (a datagram starts there and goes on in a large one),
    # and the largest: patterns, so a piece from the wrong place shows.
    pattern = bytes(range(251)) * (MAX_UDP // 251 + 1)
    payloads = [b"first", b"", pattern[:2048], pattern[3:2052], pattern[:MAX_UDP], b"last\n"]
    for payload in payloads:
        writer.sendto(payload, reader.getsockname())
    wait_readable(reader)
    datagrams, senders, error = receiver().receive(reader.fileno())
    assert error is None
    assert datagrams == payloads
    # The same sender read the ordinary way, for the address tuple to compare with.
    writer.sendto(b"again", reader.getsockname())
    wait_readable(reader)
    data, address = reader.recvfrom(100)
    assert data == b"again"
    assert senders == [(address, len(payloads))]


def test_more_than_one_batch_waiting_comes_in_order(sockets: list[socket.socket]) -> None:
    reader, writer = pair()
    sockets += [reader, writer]
    sent = [b"%05d" % index for index in range(150)]
    for payload in sent:
        writer.sendto(payload, reader.getsockname())
    wait_readable(reader)
    reading = receiver(count=64)
    got: list[bytes] = []
    sizes = []
    for _ in range(10):
        datagrams, senders, error = reading.receive(reader.fileno())
        assert error is None
        if not datagrams:
            break
        sizes.append(len(datagrams))
        assert sum(count for _, count in senders) == len(datagrams)
        got += datagrams
    assert got == sent
    assert sizes == [64, 64, 22]


def test_nothing_waiting_is_an_empty_batch_not_an_error(sockets: list[socket.socket]) -> None:
    reader, writer = pair()
    sockets += [reader, writer]
    assert receiver().receive(reader.fileno()) == ([], [], None)


def test_many_senders_each_get_their_own_address(
    sockets: list[socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A cache smaller than the senders: addresses must stay right when it is emptied.
    monkeypatch.setattr(many_datagrams, "MAX_CACHED_ADDRESSES", 3)
    reader, _ = pair()
    sockets.append(reader)
    senders = []
    for _ in range(8):
        sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender.bind(("127.0.0.1", 0))
        sockets.append(sender)
        senders.append(sender)
    reading = receiver()
    for round_ in range(3):
        for index, sender in enumerate(senders):
            sender.sendto(b"%d:%d" % (round_, index), reader.getsockname())
            sender.sendto(b"%d:%d again" % (round_, index), reader.getsockname())
        wait_readable(reader)
        datagrams, runs, _ = reading.receive(reader.fileno())
        assert datagrams == [
            b"%d:%d%s" % (round_, index, again)
            for index in range(len(senders))
            for again in (b"", b" again")
        ]
        assert runs == [(sender.getsockname(), 2) for sender in senders]


def test_port_unreachable_is_reported_as_the_errno(sockets: list[socket.socket]) -> None:
    # A connected UDP socket hears the ICMP "port unreachable" of its peer as ECONNREFUSED.
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    gone = closed.getsockname()
    closed.close()
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sockets.append(client)
    client.connect(gone)
    client.setblocking(False)
    client.send(b"anyone?")
    wait_readable(client)
    datagrams, senders, error = receiver().receive(client.fileno())
    assert datagrams == [] and senders == []
    assert isinstance(error, OSError) and error.errno == errno.ECONNREFUSED


def test_decoding_an_address_that_is_not_ip_fails_plainly() -> None:
    raw = socket.AF_UNIX.to_bytes(2, sys.byteorder) + b"/tmp/x"
    with pytest.raises(ValueError, match="not an IP socket address"):
        decode_sockaddr(raw)


def test_each_thread_has_its_own_receiver() -> None:
    mine = many_datagrams.for_this_thread(8, 1024)
    assert mine is many_datagrams.for_this_thread(8, 1024)
    theirs: list[object] = []
    thread = threading.Thread(target=lambda: theirs.append(many_datagrams.for_this_thread(8, 1024)))
    thread.start()
    thread.join(5)
    assert theirs and theirs[0] is not mine
