"""broker=1 against real peers on loopback: what one peer sends reaches all the others (not
itself), what the user sends to one reaches all, each relay marked with who sent it; a peer
that stops reading is cut off, with a reason, while the others keep talking."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest
from fault_helpers import accept, listen, transcript_close, transcript_records
from peers import Collector, recv_exactly, wait_until

from workbench.behaviour_options import check_behaviours
from workbench.engine import Engine
from workbench.engine.behaviours import behaviour_notes
from workbench.engine.behaviours.broker import RELAY_LIMIT
from workbench.protocol import events as ev
from workbench.protocol.addresses import EndpointError
from workbench.protocol.endpoints import parse_url, with_defaults
from workbench.protocol.enums import CloseCause
from workbench.protocol.options import SocketOptions

WAIT = 30.0
SEND_PIECE = 1024 * 1024
CUT_OFF = "cut off: 4 MiB waiting that it did not read (broker)"


def origins(events: Collector, cid: str) -> list[tuple[str, bytes]]:
    return [(e.origin, e.data) for e in events.data(cid, outgoing=True)]


def nothing_more(sock: socket.socket) -> bool:
    """Whether `sock` has nothing waiting to be read (it got no copy of its own)."""
    sock.setblocking(False)
    try:
        sock.recv(1)
    except BlockingIOError:
        return True
    finally:
        sock.setblocking(True)
    return False


def three(
    engine: Engine, events: Collector, url: str
) -> tuple[list[socket.socket], list[str], str]:
    lid, port = listen(engine, events, url)
    pairs = [accept(events, lid, port) for _ in range(3)]
    return [s for s, _ in pairs], [c for _, c in pairs], lid


def test_what_one_peer_sends_reaches_the_others_and_the_user_talks_to_all(
    make_engine, tmp_path: Path
) -> None:
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    (a, b, c), (ca, cb, cc), _ = three(engine, events, "tcp://127.0.0.1:0?broker=1")
    with a, b, c:
        a.sendall(b"hello from a\n")
        assert recv_exactly(b, 13) == recv_exactly(c, 13) == b"hello from a\n"
        engine.send(cb, b"from you\n")  # typed to one of them: all three get it
        for sock in (a, b, c):
            assert recv_exactly(sock, 9) == b"from you\n"
        c.sendall(b"c here")
        assert recv_exactly(a, 6) == recv_exactly(b, 6) == b"c here"
        events.wait_until(lambda: events.size(ca, outgoing=True) == 15)
        assert nothing_more(a) and nothing_more(c), "no peer gets its own bytes back"
    assert origins(events, ca) == [("broker you", b"from you\n"), (f"broker {cc}", b"c here")]
    assert origins(events, cb)[:2] == [(f"broker {ca}", b"hello from a\n"), ("you", b"from you\n")]
    engine.stop()
    records = transcript_records(transcript)
    out = [(r["conn"], r.get("origin", "you")) for r in records if r.get("dir") == "out"]
    assert (cc, f"broker {ca}") in out and (cc, "broker you") in out and (cb, "you") in out


@pytest.mark.skipif(shutil.which("ncat") is None, reason="ncat is not installed")
def test_ncat_clients_over_a_unix_socket(make_engine, tmp_path: Path) -> None:
    """ncat's own clients, as they would talk to `ncat --broker`; the listener is Unix."""
    path = tmp_path / "broker.sock"
    engine, events = make_engine()
    unix = parse_url(f"unix://{path}", for_listen=True)  # --broker: a Unix URL has no options
    lid = engine.listen(with_defaults(unix, SocketOptions(broker=True), for_listen=True))
    events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid)
    listening = subprocess.Popen(
        ["ncat", "-U", str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        first = events.wait_for(lambda e: isinstance(e, ev.ConnectionOpened) and e.listener == lid)
        with socket.socket(socket.AF_UNIX) as talker:
            talker.settimeout(WAIT)
            talker.connect(str(path))
            events.wait_until(lambda: len(events.of(ev.ConnectionOpened)) == 2)
            talker.sendall(b"over unix\n")
            assert listening.stdout is not None
            assert listening.stdout.readline() == b"over unix\n"
            engine.send(first.cid, b"typed\n")
            assert recv_exactly(talker, 6) == b"typed\n"
            assert listening.stdout.readline() == b"typed\n"
    finally:
        listening.kill()
        listening.wait(WAIT)


def test_a_peer_that_does_not_read_is_cut_off_and_the_others_keep_talking(
    make_engine, tmp_path: Path
) -> None:
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?broker=1")
    sender, cs = accept(events, lid, port)
    reader, cr = accept(events, lid, port)
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # and it never reads
    stuck.connect(("127.0.0.1", port))
    stuck_cid = events.wait_for(
        lambda e: isinstance(e, ev.ConnectionOpened) and e.cid not in (cs, cr)
    ).cid
    total = 2 * RELAY_LIMIT
    got = bytearray()

    def read_all() -> None:
        while len(got) < total and (piece := reader.recv(1 << 20)):
            got.extend(piece)

    reading = threading.Thread(target=read_all)
    reading.start()
    with sender, reader, stuck:
        # Never held back by the stuck peer. Paced by the reading one, which reads in this
        # process, sharing its GIL with the engine: a reader left RELAY_LIMIT behind (a
        # loaded machine) is cut off as well, as it should be.
        for sent in range(SEND_PIECE, total + 1, SEND_PIECE):
            sender.sendall(b"x" * SEND_PIECE)
            behind = sent - RELAY_LIMIT // 2
            wait_until(lambda behind=behind: len(got) >= behind, WAIT, "the reader's progress")
        reading.join(WAIT)
        assert len(got) == total, "the reading peer got everything"
        closed = events.wait_closed(stuck_cid)
        assert closed.reason.startswith(CUT_OFF) and closed.cause is CloseCause.BEHAVIOUR
        assert "bytes queued were not sent" in closed.reason
        reader.sendall(b"still here")
        assert recv_exactly(sender, 10) == b"still here"
    engine.stop()
    assert transcript_close(transcript, stuck_cid)["reason"].startswith(CUT_OFF)


def test_the_listening_note_says_what_it_does() -> None:
    (note,) = behaviour_notes(parse_url("tcp://127.0.0.1:0?broker=1", for_listen=True).options)
    assert note.startswith("broker: what each peer sends goes to all the others")
    assert "4 MiB unread is cut off" in note


def test_broker_is_for_streams_only() -> None:
    check_behaviours(parse_url("tcp://127.0.0.1:0?broker=1", for_listen=True).options)
    with pytest.raises(EndpointError):
        parse_url("udp://127.0.0.1:0?broker=1", for_listen=True)


def test_greet_then_broker(make_engine) -> None:
    """Greet goes first, then the broker relays, the user's sends too (through the chain)."""
    engine, events = make_engine()
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?greet=hi\\n&broker=1")
    a, ca = accept(events, lid, port)
    b, _cb = accept(events, lid, port)
    with a, b:
        assert recv_exactly(a, 3) == recv_exactly(b, 3) == b"hi\n"
        a.sendall(b"one")
        assert recv_exactly(b, 3) == b"one"
        engine.send(ca, b"two")
        assert recv_exactly(a, 3) == recv_exactly(b, 3) == b"two"
        assert nothing_more(a)


def test_peers_left_open_by_their_closed_listener_are_no_longer_relayed(make_engine) -> None:
    engine, events = make_engine()
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?broker=1")
    a, ca = accept(events, lid, port)
    b, cb = accept(events, lid, port)
    with a, b:
        engine.close_listener(lid, close_peers=False)
        events.wait_for(lambda e: isinstance(e, ev.ListenerClosed) and e.lid == lid)
        a.sendall(b"anyone?")
        events.wait_until(lambda: events.size(ca, outgoing=False) == 7)
        engine.send(cb, b"only b")
        assert recv_exactly(b, 6) == b"only b"
        assert nothing_more(b) and nothing_more(a)
