"""chat=1: each whole line a peer sends goes to the others as `<C3> line`, its control bytes
escaped as ncat's chat escapes them; joins and leaves are announced; the user's lines go to
the others as `<you> line`. Real peers on loopback, and the line handling by plain calls."""

from __future__ import annotations

import socket
from pathlib import Path

from fault_helpers import accept, listen, transcript_records
from peers import Collector, recv_exactly
from test_broker import nothing_more, origins

from workbench.engine.behaviours import behaviour_notes
from workbench.engine.behaviours.broker import MAX_CHAT_LINE, Lines, chat_line, escaped
from workbench.protocol import events as ev
from workbench.protocol.endpoints import parse_url

CHAT = "tcp://127.0.0.1:0?chat=1"


def read_line(sock: socket.socket) -> bytes:
    line = b""
    while not line.endswith(b"\n"):
        line += recv_exactly(sock, 1)
    return line


def joined(events: Collector, lid: str, port: int) -> tuple[socket.socket, str]:
    sock, cid = accept(events, lid, port)
    assert read_line(sock).endswith(f" is connected as <{cid}>.\n".encode())
    assert read_line(sock).startswith(b"<announce> already connected: ")
    return sock, cid


def test_escaped_writes_controls_as_ncat_does_and_keeps_text() -> None:
    hostile = b"\x1b]0;pwned\x07\x1b[2J\x00\x7f tab\there \xc2\x9b \xff caf\xc3\xa9 \xe2\x82\xac"
    assert escaped(hostile) == (
        b"\\033]0;pwned\\007\\033[2J\\000\\177 tab\there \\302\\233 \\377 caf\xc3\xa9 \xe2\x82\xac"
    )
    assert escaped(b"over\rwrite") == b"over\\015write", "a CR cannot rewrite the line"
    assert escaped("\u202eevil\u2028".encode()) == b"\\342\\200\\256evil\\342\\200\\250"


def test_a_line_keeps_its_own_ending() -> None:
    assert chat_line("C3", b"hi\r\n") == b"<C3> hi\r\n"
    assert chat_line("C3", b"a\rb\n") == b"<C3> a\\015b\n"


def test_lines_are_whole_across_reads_and_long_ones_come_in_pieces() -> None:
    lines = Lines()
    assert lines.add(b"he") == []
    assert lines.add(b"llo\nwor") == [b"hello\n"]
    assert lines.rest() == [b"wor\n"] and lines.rest() == []
    pieces = lines.add(b"x" * (2 * MAX_CHAT_LINE + 5))
    assert pieces == [b"x" * MAX_CHAT_LINE + b"\n"] * 2
    assert lines.rest() == [b"xxxxx\n"]


def test_three_peers_and_the_user_chat(make_engine, tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    lid, port = listen(engine, events, CHAT)
    a, ca = joined(events, lid, port)
    b, cb = joined(events, lid, port)
    assert (
        read_line(a)
        == f"<announce> 127.0.0.1:{b.getsockname()[1]} is connected as <{cb}>.\n".encode()
    )
    c, cc = joined(events, lid, port)
    for sock in (a, b):
        assert read_line(sock).endswith(f"is connected as <{cc}>.\n".encode())
    with a, b, c:
        a.sendall(b"hel")
        a.sendall(b"lo\r\nsecond")  # a line in two reads is one line
        assert read_line(b) == read_line(c) == f"<{ca}> hello\r\n".encode()
        engine.send(cb, b"hi all\n")  # typed to one: it gets it as typed, the others named
        assert read_line(b) == b"hi all\n"
        assert read_line(a) == read_line(c) == b"<you> hi all\n"
        c.sendall(b"\x1b]0;pwned\x07\x1b[31mred\r\n")  # a hostile peer
        assert read_line(a) == read_line(b) == f"<{cc}> \\033]0;pwned\\007\\033[31mred\r\n".encode()
        a.close()  # its unfinished line goes first, then its leaving
        for sock in (b, c):
            assert read_line(sock) == f"<{ca}> second\n".encode()
            assert read_line(sock) == f"<announce> <{ca}> is disconnected.\n".encode()
        assert nothing_more(b) and nothing_more(c)
    events.wait_until(lambda: (f"chat {ca}", f"<{ca}> hello\r\n".encode()) in origins(events, cb))
    assert ("chat you", b"<you> hi all\n") in origins(events, cc)
    assert ("you", b"hi all\n") in origins(events, cb)
    engine.stop()
    out = {r.get("origin", "you") for r in transcript_records(transcript) if r.get("dir") == "out"}
    assert {"chat", f"chat {ca}", f"chat {cc}", "chat you", "you"} <= out


def test_the_listening_note_says_what_chat_does(make_engine) -> None:
    engine, events = make_engine()
    lid, _port = listen(engine, events, CHAT)
    opened = events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid)
    assert opened.notes == behaviour_notes(parse_url(CHAT, for_listen=True).options)
    assert opened.notes[0].startswith("chat: each peer's lines go to the others as '<C3> line'")
