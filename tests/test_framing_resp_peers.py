"""The RESP framing against real peers on loopback: `redis-server` (Debian's package: skipped
with the reason when it is not installed) and, always, a scripted RESP peer (a Python socket
server answering PING, SET, GET and ECHO with RESP2 replies, written a byte at a time) so that
a machine without Redis still frames a live peer's replies."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from framing_helpers import read_messages
from peers import DEFAULT_TIMEOUT, LOCALHOST, ThreadedServer, free_port, wait_until

from workbench.framing.messages import encode, make_framer, parse_framing
from workbench.framing.resp import RespFramer

RESP = parse_framing("resp")

requires_redis = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="redis-server is not installed (apt-get install redis-server)",
)


@contextlib.contextmanager
def redis_server(directory: Path) -> Iterator[int]:
    """`redis-server` on 127.0.0.1 at a free port, saving nothing; its port."""
    port = free_port()
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port", str(port),
            "--bind", LOCALHOST,
            "--save", "",
            "--appendonly", "no",
            "--dir", str(directory),
            "--protected-mode", "no",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(lambda: accepts(port) or proc.poll() is not None, 10, "redis-server to accept")
        if proc.poll() is not None:
            raise AssertionError(f"redis-server exited with {proc.returncode}")
        yield port
    finally:
        proc.kill()
        proc.wait(DEFAULT_TIMEOUT)


def accepts(port: int) -> bool:
    try:
        with socket.create_connection((LOCALHOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def ask(sock: socket.socket, framer: RespFramer, typed: bytes, count: int) -> list[str]:
    """Send the composer's `typed` lines encoded as RESP; the summaries of `count` replies."""
    sock.sendall(encode(RESP, typed))
    messages, received = read_messages(sock, framer, count)
    assert b"".join(m.data for m in messages) == received
    assert [m.error for m in messages] == [""] * count
    return [m.summary for m in messages]


@requires_redis
def test_redis_replies_are_framed_one_value_each(tmp_path: Path) -> None:
    with redis_server(tmp_path) as port, socket.create_connection((LOCALHOST, port), 5) as sock:
        framer = make_framer(RESP)
        assert isinstance(framer, RespFramer)
        assert ask(sock, framer, b'PING\nSET k "a b"\nGET k\nGET missing', 4) == [
            "+PONG",
            "+OK",
            '$3 "a b"',
            "$-1 (nil)",
        ]
        pushed, listed, unknown = ask(sock, framer, b"RPUSH l x y z\nLRANGE l 0 -1\nNOSUCH", 3)
        assert (pushed, listed) == (":3", "*3 x y z")
        assert unknown.startswith("-ERR unknown command")  # its words vary between versions
        # RESP3: HELLO 3 answers a map; then replies use RESP3 types.
        (hello,) = ask(sock, framer, b"HELLO 3", 1)
        assert hello.startswith("%") and " {server: redis, version: " in hello
        assert ask(
            sock, framer, b"GET missing\nSADD s a\nSMEMBERS s\nHSET h f v\nHGETALL h", 5
        ) == [
            "_ (null)",
            ":1",
            "~1 a",
            ":1",
            "%1 {f: v}",
        ]


@requires_redis
def test_redis_resp3_doubles_verbatim_strings_and_pushes_are_framed(tmp_path: Path) -> None:
    with (
        redis_server(tmp_path) as port,
        socket.create_connection((LOCALHOST, port), 5) as subscriber,
        socket.create_connection((LOCALHOST, port), 5) as publisher,
    ):
        framer = make_framer(RESP)
        assert isinstance(framer, RespFramer)
        ask(subscriber, framer, b"HELLO 3", 1)
        score, info = ask(subscriber, framer, b"ZADD z 1.5 a\nZSCORE z a\nCLIENT INFO", 3)[1:]
        assert score == ",1.5"
        assert info.startswith("=") and ' "txt:id=' in info
        assert ask(subscriber, framer, b"SUBSCRIBE news", 1) == [">3 subscribe news 1"]
        publisher.sendall(encode(RESP, b'PUBLISH news "hello there"'))
        (pushed,), _ = read_messages(subscriber, framer, 1)
        assert pushed.summary == '>3 message news "hello there"'
        assert dict(pushed.fields)["type"] == "push"


@requires_redis
def test_redis_pipelined_replies_and_a_big_value_are_framed(tmp_path: Path) -> None:
    """100 commands in one write come back as 100 messages; a 3 MiB value comes out with the
    first MAX_MESSAGE_BYTES held and its whole size."""
    with redis_server(tmp_path) as port, socket.create_connection((LOCALHOST, port), 5) as sock:
        framer = make_framer(RESP)
        assert isinstance(framer, RespFramer)
        replies = ask(sock, framer, b"\n".join(b"INCR n" for _ in range(100)), 100)
        assert replies == [f":{i}" for i in range(1, 101)]
        big = b"v" * (3 * 1024 * 1024)
        sock.sendall(encode(RESP, b"SET big " + big + b"\nGET big"))
        messages, received = read_messages(sock, framer, 2)
        assert messages[0].summary == "+OK"
        value = messages[1]
        assert value.size == len(received) - 5 == len(big) + len(b"$3145728\r\n\r\n")
        assert value.summary == "$3145728 " + "v" * 64 + "..."
        assert framer.held == 0


class ScriptedRespPeer(ThreadedServer):
    """Answers RESP2 commands (arrays of bulk strings) like a tiny Redis: PING, SET, GET, ECHO;
    anything else is an error reply. Writes each reply a byte at a time."""

    def handle(self, conn: socket.socket) -> None:
        store: dict[bytes, bytes] = {}
        framer = RespFramer()
        for chunk in self.received(conn):
            for message in framer.feed(chunk):
                for byte in self.reply(words_of(message.data), store):
                    conn.sendall(bytes([byte]))

    @staticmethod
    def reply(words: list[bytes], store: dict[bytes, bytes]) -> bytes:
        name = words[0].upper() if words else b""
        if name == b"PING":
            return b"+PONG\r\n"
        if name == b"SET" and len(words) == 3:
            store[words[1]] = words[2]
            return b"+OK\r\n"
        if name == b"GET" and len(words) == 2:
            value = store.get(words[1])
            return b"$-1\r\n" if value is None else b"$%d\r\n%s\r\n" % (len(value), value)
        if name == b"ECHO" and len(words) == 2:
            return b"$%d\r\n%s\r\n" % (len(words[1]), words[1])
        return b"-ERR unknown command\r\n"


def words_of(command: bytes) -> list[bytes]:
    """The bulk strings of a RESP array of bulk strings (what the composer encodes)."""
    header, _, rest = command.partition(b"\r\n")
    words = []
    for _ in range(int(header[1:])):
        length, _, rest = rest.partition(b"\r\n")
        size = int(length[1:])
        words.append(rest[:size])
        rest = rest[size + 2 :]
    return words


def test_a_scripted_resp_peer_replies_written_a_byte_at_a_time_are_framed() -> None:
    with ScriptedRespPeer() as peer, socket.create_connection((LOCALHOST, peer.port), 5) as sock:
        framer = make_framer(RESP)
        assert isinstance(framer, RespFramer)
        typed = b'PING\nSET k "a\\r\\nb"\nGET k\nGET nope\nECHO ""\nFLY'
        assert ask(sock, framer, typed, 6) == [
            "+PONG",
            "+OK",
            '$4 "a\\r\\nb"',
            "$-1 (nil)",
            '$0 ""',
            "-ERR unknown command",
        ]
        assert peer.errors == []
