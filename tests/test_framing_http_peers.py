"""The HTTP/1.1 framing against real peers on loopback: `python -m http.server` (a subprocess,
HTTP/1.0 responses with Content-Length) and a chunked HTTP server (a Python socket server that
answers pipelined requests with chunked responses written in small pieces, with trailers).
The bytes are read by a plain socket client and fed to the framer."""

from __future__ import annotations

import socket

from framing_helpers import read_messages, recv_all
from peers import LOCALHOST, ThreadedServer, http_server

from workbench.framing.http1 import HttpFramer
from workbench.framing.messages import MAX_MESSAGE_BYTES, encode, make_framer, parse_framing

HTTP = parse_framing("http")


def http_framer() -> HttpFramer:
    framer = make_framer(HTTP)
    assert isinstance(framer, HttpFramer)
    return framer


def test_http_server_responses_are_framed_with_their_headers_and_body_size() -> None:
    with http_server() as server:
        big = bytes(range(256)) * (12 * 1024)  # 3 MiB: more than a record holds
        (server.directory / "big.bin").write_bytes(big)
        typed = {
            "hello.txt": b"GET /hello.txt HTTP/1.1\nHost: 127.0.0.1",
            "missing": b"GET /missing HTTP/1.1\nHost: 127.0.0.1",
            "big.bin": b"GET /big.bin HTTP/1.1\nHost: 127.0.0.1",
        }
        responses = {}
        for name, request in typed.items():
            wire = encode(HTTP, request)  # the composer's typing, sent with CRLF
            assert http_framer().feed(wire)[0].summary == f"GET /{name} HTTP/1.1"
            with socket.create_connection((LOCALHOST, server.port), 5) as sock:
                sock.sendall(wire)
                received = recv_all(sock)  # http.server closes after each response
            framer = http_framer()
            messages = framer.feed(received) + framer.end()
            assert len(messages) == 1 and not messages[0].error, messages
            assert messages[0].whole_size == len(received)
            responses[name] = messages[0]

        hello = responses["hello.txt"]
        assert hello.summary == f"HTTP/1.0 200 OK ({len(server.content)} bytes)"
        fields = dict(hello.fields)
        assert fields["Content-Length"] == str(len(server.content))
        assert fields["Server"].startswith("SimpleHTTP/")
        assert hello.data.endswith(b"\r\n\r\n" + server.content)

        missing = responses["missing"]
        assert missing.summary.startswith("HTTP/1.0 404 File not found (")

        cut = responses["big.bin"]
        assert cut.summary == f"HTTP/1.0 200 OK ({len(big):,} bytes)"
        assert len(cut.data) == MAX_MESSAGE_BYTES and cut.size > len(big)


def test_a_response_to_head_from_http_server_is_framed_as_the_framer_is_told() -> None:
    with http_server() as server:
        with socket.create_connection((LOCALHOST, server.port), 5) as sock:
            sock.sendall(encode(HTTP, b"HEAD /hello.txt HTTP/1.1\nHost: 127.0.0.1"))
            received = recv_all(sock)
        told = http_framer()
        told.expect_response_to("HEAD")
        (message,) = told.feed(received)
        assert message.summary == "HTTP/1.0 200 OK" and message.data == received
        # Not told: it waits for the announced body, and says so when the stream ends.
        assumed = http_framer()
        assert assumed.feed(received) == []
        (unfinished,) = assumed.end()
        length = len(server.content)
        assert unfinished.error == f"stream ended inside the body (0 of {length} bytes)"


class ChunkedServer(ThreadedServer):
    """Keeps the connection open and answers each request (framed with HttpFramer) with a
    chunked response: the path's text repeated, in chunks of 7 bytes with an extension,
    a trailer, written a few bytes at a time."""

    def handle(self, conn: socket.socket) -> None:
        framer = HttpFramer()
        for chunk in self.received(conn):
            for request in framer.feed(chunk):
                path = request.summary.split(" ")[1].encode()
                wire = self.response(path * 10)
                for start in range(0, len(wire), 5):
                    conn.sendall(wire[start : start + 5])

    @staticmethod
    def response(body: bytes) -> bytes:
        chunks = [body[i : i + 7] for i in range(0, len(body), 7)]
        wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Count\r\n\r\n"
        wire += b"".join(b"%x;part\r\n%s\r\n" % (len(c), c) for c in chunks)
        return wire + b"0\r\nX-Count: %d\r\n\r\n" % len(chunks)


def test_pipelined_requests_to_a_chunked_server_come_back_as_one_message_each() -> None:
    with ChunkedServer() as server, socket.create_connection((LOCALHOST, server.port), 5) as sock:
        paths = [b"/a", b"/bb", b"/ccc"]
        sock.sendall(b"".join(b"GET %s HTTP/1.1\r\nHost: h\r\n\r\n" % p for p in paths))
        framer = http_framer()
        messages, received = read_messages(sock, framer, 3)
        assert b"".join(m.data for m in messages) == received
        assert [m.summary for m in messages] == [
            f"HTTP/1.1 200 OK ({len(p) * 10} bytes, chunked)" for p in paths
        ]
        assert [dict(m.fields)["X-Count (trailer)"] for m in messages] == [
            str(-(-len(p) * 10 // 7))
            for p in paths  # chunks of 7 bytes
        ]
        assert [m.error for m in messages] == ["", "", ""]
        assert framer.held == 0
        assert server.errors == []
