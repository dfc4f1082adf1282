"""STARTTLS in the engine: `Engine.start_tls` upgrades an open plain connection in place
(both roles), and `starttls=PROTO` drives a negotiator first. The negotiators are another
module's (`workbench.tls.starttls`): here a small one of the same interface stands in, so
that what the engine does (the exchange shown, injection refused, the upgrade) is tested
on its own."""

from __future__ import annotations

import contextlib
import socket
import ssl
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from peers import Collector, recv_exactly
from test_tls import connect, established, listen, open_tls_connection, served_once
from tls_certs import Issued, issue

from workbench.engine import Engine
from workbench.protocol import events as ev
from workbench.protocol.endpoints import parse_url
from workbench.tls.local_ca import local_ca


def server_context(issued: Issued) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(issued.cert, issued.key)
    return context


@contextlib.contextmanager
def plain_then_tls_server(
    issued: Issued, go: bytes = b"220 go\r\n"
) -> Iterator[tuple[int, list[bytes]]]:
    """Greets, waits for STARTTLS, answers `go`, then speaks TLS: echoes one read."""
    got: list[bytes] = []

    def serve(conn: socket.socket) -> None:
        conn.sendall(b"220 hello\r\n")
        got.append(recv_exactly(conn, 10))  # STARTTLS\r\n
        conn.sendall(go)
        with server_context(issued).wrap_socket(conn, server_side=True) as tls:
            data = tls.recv(100)
            got.append(data)
            tls.sendall(b"tls:" + data)

    with served_once(serve) as port:
        yield port, got


def test_start_tls_as_the_client(engine: Engine, events: Collector, tmp_path: Path) -> None:
    issued = issue(tmp_path, "s", None)
    with plain_then_tls_server(issued) as (port, got):
        cid = connect(engine, f"tcp://localhost:{port}?pin={issued.sha256}")
        events.wait_received(cid, 11)
        engine.send(cid, b"STARTTLS\r\n")
        events.wait_received(cid, 19)
        engine.start_tls(cid)
        info = established(events, cid).info
        assert info.verified and info.chain[0].sha256 == issued.sha256
        engine.send(cid, b"secret")
        assert events.wait_received(cid, 29).endswith(b"tls:secret")
    assert got == [b"STARTTLS\r\n", b"secret"]


def test_start_tls_as_the_server(engine: Engine, events: Collector) -> None:
    lid, port = listen(engine, events, "tcp://127.0.0.1:0")
    context = ssl.create_default_context(cafile=str(local_ca().cert_path))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        cid = events.wait_opened(listener=lid).cid
        sock.sendall(b"STARTTLS\r\n")
        events.wait_received(cid, 10)
        engine.send(cid, b"220 go\r\n")
        engine.start_tls(cid)
        assert recv_exactly(sock, 8) == b"220 go\r\n"
        with context.wrap_socket(sock, server_hostname="localhost") as tls:
            info = established(events, cid).info
            assert info.local_certificate is not None and info.sni == "localhost"
            tls.sendall(b"inside")
            assert events.wait_received(cid, 16).endswith(b"inside")


def test_start_tls_twice_or_on_nothing_is_said(engine: Engine, events: Collector) -> None:
    cid = open_tls_connection(engine, events)
    engine.start_tls(cid)
    note = events.wait_for(lambda e: isinstance(e, ev.Note) and e.source == cid)
    assert "TLS already" in note.message
    engine.start_tls("C99")
    assert (
        "not an open stream"
        in events.wait_for(lambda e: isinstance(e, ev.Note) and e.source == "C99").message
    )


def test_failed_upgrade_closes_once_in_words(engine: Engine, events: Collector) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        cid = connect(engine, f"tcp://127.0.0.1:{listener.getsockname()[1]}")
        conn, _ = listener.accept()
        with conn:
            events.wait_opened(cid)
            engine.start_tls(cid)
            conn.recv(1024)  # the ClientHello
            conn.sendall(b"500 not tls at all\r\n" * 3)
            closed = events.wait_closed(cid)
    assert closed.error and "TLS handshake failed" in closed.reason
    events.settle()
    assert len(events.of(ev.ConnectionClosed, cid)) == 1


# --- starttls=PROTO, with a stand-in negotiator ---


class Step(NamedTuple):
    send: bytes = b""
    ready: bool = False
    leftover: bytes = b""
    error: str = ""


class LineNegotiator:
    """The client waits for GO; the server greets, waits for STARTTLS and answers GO."""

    def __init__(self, role: str) -> None:
        self.role, self.buffer = role, b""

    def start(self) -> bytes:
        return b"HELLO\r\n" if self.role == "server" else b"STARTTLS\r\n"

    def feed(self, data: bytes) -> Step:
        self.buffer += data
        wanted = b"GO\r\n" if self.role == "client" else b"STARTTLS\r\n"
        if b"NO\r\n" in self.buffer:
            return Step(error="the server said NO")
        _, found, rest = self.buffer.partition(wanted)
        if not found:
            return Step()
        return Step(send=b"GO\r\n" if self.role == "server" else b"", ready=True, leftover=rest)


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("workbench.tls.starttls")
    module.negotiator = lambda proto, role, host: LineNegotiator(role)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "workbench.tls.starttls", module)


@pytest.mark.usefixtures("stand_in")
def test_starttls_listener_plays_the_server(engine: Engine, events: Collector) -> None:
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?starttls=smtp&echo=1")
    context = ssl.create_default_context(cafile=str(local_ca().cert_path))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        assert recv_exactly(sock, 7) == b"HELLO\r\n"
        sock.sendall(b"STARTTLS\r\n")
        assert recv_exactly(sock, 4) == b"GO\r\n"
        with context.wrap_socket(sock, server_hostname="localhost") as tls:
            tls.sendall(b"echo me")
            assert recv_exactly(tls, 7) == b"echo me"  # its behaviour starts after TLS
    cid = events.wait_opened(listener=lid).cid
    sent = [e for e in events.data(cid, outgoing=True) if e.origin == "starttls"]
    assert b"".join(e.data for e in sent) == b"HELLO\r\nGO\r\n"


@pytest.mark.usefixtures("stand_in")
def test_starttls_client_refuses_injected_bytes(
    engine: Engine, events: Collector, tmp_path: Path
) -> None:
    issued = issue(tmp_path, "s", None)
    with plain_then_tls_server(issued, go=b"GO\r\n250 INJECTED\r\n") as (port, got):
        cid = connect(engine, f"tcp://localhost:{port}?starttls=smtp&pin={issued.sha256}")
        error = events.wait_error(cid)
        assert "possible injection" in error.message and "14 bytes" in error.message
        # Dropped, not read as TLS nor shown as the server's answer to anything after it.
        assert established(events, cid).info.verified
    assert got[:1] == [b"STARTTLS\r\n"]


@pytest.mark.usefixtures("stand_in")
def test_starttls_client_negotiates_then_verifies(
    engine: Engine, events: Collector, tmp_path: Path
) -> None:
    issued = issue(tmp_path, "s", None)
    with plain_then_tls_server(issued, go=b"GO\r\n") as (port, got):
        cid = connect(engine, f"tcp://localhost:{port}?starttls=smtp&pin={issued.sha256}")
        assert established(events, cid).info.verified
        engine.send(cid, b"mail")
        assert events.wait_received(cid, 8 + 11 + 4).endswith(b"tls:mail")
    assert got == [b"STARTTLS\r\n", b"mail"]


@pytest.mark.usefixtures("stand_in")
def test_starttls_negotiation_failure_closes_in_its_words(
    engine: Engine, events: Collector
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        cid = connect(engine, f"tcp://127.0.0.1:{listener.getsockname()[1]}?starttls=smtp")
        conn, _ = listener.accept()
        with conn:
            recv_exactly(conn, 10)
            conn.sendall(b"NO\r\n")
            closed = events.wait_closed(cid)
    assert closed.error and closed.reason == "STARTTLS (smtp) failed: the server said NO"


def test_starttls_on_tls_is_refused(engine: Engine, events: Collector) -> None:
    lid = engine.listen(parse_url("tls://127.0.0.1:0?starttls=smtp", for_listen=True))
    assert "not for tls://" in events.wait_error(lid).message
