"""STARTTLS over real sockets: our client side against scripted servers playing each
protocol on loopback, then a real TLS handshake (Python's ssl, a certificate from tls_certs)
on the same socket; the injection case (go-ahead and a forged reply in one write); and our
server side against `openssl s_client -starttls PROTO`, which must complete the handshake and
verify our certificate."""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import threading
from pathlib import Path

import pytest
from peers import LOCALHOST, ThreadedServer, process_peer, wait_until
from test_tls_starttls import MYSQL_SSL_REQUEST, mysql_greeting
from tls_certs import Pki, client_context, make_pki, server_context

from workbench.tls.starttls import SERVER_PROTOCOLS, Step, negotiator

WAIT = 10.0
requires_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl")

XMPP_FEATURES = (
    b"<?xml version='1.0'?><stream:stream xmlns='jabber:client'"
    b" xmlns:stream='http://etherx.jabber.org/streams' id='1' from='localhost' version='1.0'>"
    b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>"
    b"</starttls></stream:features>"
)

# A server's part: ("say", bytes) or ("hear", bytes it waits for). TLS follows the script.
Script = list[tuple[str, bytes]]
SCRIPTS: dict[str, Script] = {
    "smtp": [
        ("say", b"220-localhost ESMTP scripted\r\n220 hello\r\n"),
        ("hear", b"EHLO localhost\r\n"),
        ("say", b"250-localhost\r\n250-SIZE 1000\r\n250 STARTTLS\r\n"),
        ("hear", b"STARTTLS\r\n"),
        ("say", b"220 2.0.0 go ahead\r\n"),
    ],
    "lmtp": [
        ("say", b"220 lmtp\r\n"),
        ("hear", b"LHLO localhost\r\n"),
        ("say", b"250-localhost\r\n250 STARTTLS\r\n"),
        ("hear", b"STARTTLS\r\n"),
        ("say", b"220 go ahead\r\n"),
    ],
    "imap": [
        ("say", b"* OK IMAP ready\r\n"),
        ("hear", b"a001 CAPABILITY\r\n"),
        ("say", b"* CAPABILITY IMAP4rev1 STARTTLS\r\na001 OK done\r\n"),
        ("hear", b"a002 STARTTLS\r\n"),
        ("say", b"a002 OK begin TLS\r\n"),
    ],
    "pop3": [("say", b"+OK ready\r\n"), ("hear", b"STLS\r\n"), ("say", b"+OK go\r\n")],
    "ftp": [
        ("say", b"220-welcome\r\n220 ready\r\n"),
        ("hear", b"AUTH TLS\r\n"),
        ("say", b"234 go\r\n"),
    ],
    "xmpp": [
        ("hear", b"to='localhost' version='1.0'>"),
        ("say", XMPP_FEATURES),
        ("hear", b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
        ("say", b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
    ],
    "postgres": [("hear", bytes.fromhex("0000000804d2162f")), ("say", b"S")],
    "nntp": [
        ("say", b"200 news ready\r\n"),
        ("hear", b"CAPABILITIES\r\n"),
        ("say", b"101 Capability list:\r\nVERSION 2\r\nSTARTTLS\r\n.\r\n"),
        ("hear", b"STARTTLS\r\n"),
        ("say", b"382 go\r\n"),
    ],
    "sieve": [
        ("say", b'"IMPLEMENTATION" "scripted"\r\n"STARTTLS"\r\nOK "ready"\r\n'),
        ("hear", b"STARTTLS\r\n"),
        ("say", b'OK "go"\r\n'),
    ],
    "irc": [
        ("hear", b"STARTTLS\r\n"),
        ("say", b":irc NOTICE * :hello\r\nPING :42\r\n"),
        ("hear", b"PONG :42\r\n"),
        ("say", b":irc 670 * :go ahead\r\n"),
    ],
    "mysql": [("say", mysql_greeting()), ("hear", MYSQL_SSL_REQUEST)],
}
INJECTED = b"250 injected\r\n"


class ScriptedServer(ThreadedServer):
    """Plays a script on each connection, then (with a context) TLS: reads `ping`, says `pong`."""

    def __init__(self, script: Script, tls: ssl.SSLContext | None) -> None:
        super().__init__(timeout=WAIT)
        self.script = script
        self.tls = tls
        self.heard = b""
        self.tls_version = ""

    def handle(self, conn: socket.socket) -> None:
        buffer = b""
        for action, data in self.script:
            if action == "say":
                conn.sendall(data)
                continue
            while data not in buffer:
                # A byte at a time: what follows (a mysql client's ClientHello comes right
                # after its request) is the TLS handshake's, not the script's.
                chunk = conn.recv(1)
                if not chunk:
                    return
                buffer += chunk
            self.heard += buffer
            buffer = b""
        if self.tls is None:
            return
        with self.tls.wrap_socket(conn, server_side=True) as tls:
            self.tls_version = tls.version() or ""
            if tls.recv(16) == b"ping\n":
                tls.sendall(b"pong\n")


def negotiate(sock: socket.socket, proto: str, role: str) -> tuple[Step, bytes]:
    """Drive a negotiator over a socket as the engine does; the last step and all sent."""
    side = negotiator(proto, role, "localhost")
    sent = side.start()
    sock.sendall(sent)
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            data = b""
        step = side.feed(data) if data else Step(error="the peer closed the connection")
        if step.send:
            sock.sendall(step.send)
        sent += step.send
        if step.ready or step.error:
            return step, sent


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def upgrade_and_ping(sock: socket.socket, pki: Pki) -> str:
    """The TLS handshake on the negotiated socket, and one exchange over it; the version."""
    with client_context(pki.ca).wrap_socket(sock, server_hostname="localhost") as tls:
        tls.sendall(b"ping\n")
        assert tls.recv(16) == b"pong\n"
        return tls.version() or ""


@pytest.mark.parametrize("proto", sorted(SCRIPTS))
def test_client_side_negotiates_then_tls_works(proto: str, pki: Pki) -> None:
    with (
        ScriptedServer(SCRIPTS[proto], server_context(pki.server)) as server,
        socket.create_connection((LOCALHOST, server.port), timeout=WAIT) as sock,
    ):
        step, sent = negotiate(sock, proto, "client")
        assert step._replace(send=b"") == Step(ready=True)
        assert upgrade_and_ping(sock, pki).startswith("TLSv1.")
        assert sent == server.heard
    assert not server.errors and server.tls_version.startswith("TLSv1.")


def test_injected_reply_is_leftover_not_fed_to_tls(pki: Pki) -> None:
    """CVE-2011-0411: the go-ahead and a forged reply in one write. The forged reply comes
    back as leftover (reported, not swallowed, never sent on), and TLS still works."""
    script = [*SCRIPTS["smtp"][:-1], ("say", b"220 go ahead\r\n" + INJECTED)]
    with (
        ScriptedServer(script, server_context(pki.server)) as server,
        socket.create_connection((LOCALHOST, server.port), timeout=WAIT) as sock,
    ):
        step, sent = negotiate(sock, "smtp", "client")
        assert step.ready and step.leftover == INJECTED
        assert INJECTED not in sent
        assert upgrade_and_ping(sock, pki).startswith("TLSv1.")


@pytest.mark.parametrize(
    ("script", "error"),
    [
        (
            [("say", b"220 hi\r\n"), ("hear", b"EHLO"), ("say", b"250-x\r\n250 SIZE 1\r\n")],
            "the server does not offer STARTTLS (its EHLO answer: 250-x / 250 SIZE 1)",
        ),
        (
            [*SCRIPTS["smtp"][:-1], ("say", b"454 4.7.0 TLS not available\r\n")],
            "STARTTLS refused: 454 4.7.0 TLS not available",
        ),
        ([("say", b"220 hi\r\n")], "the peer closed the connection"),
    ],
)
def test_client_side_failures_over_a_socket(script: Script, error: str) -> None:
    with (
        ScriptedServer(script, None) as server,
        socket.create_connection((LOCALHOST, server.port), timeout=WAIT) as sock,
    ):
        step, _ = negotiate(sock, "smtp", "client")
    assert error in step.error


class OurServer:
    """Our server side on a listening socket: negotiate, TLS, then say `hello over tls`."""

    def __init__(self, proto: str, pki: Pki) -> None:
        self.proto, self.pki = proto, pki
        self.listener = socket.create_server((LOCALHOST, 0))
        self.listener.settimeout(WAIT)
        self.port = self.listener.getsockname()[1]
        self.step = Step()
        self.tls_version = ""
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        try:
            conn, _ = self.listener.accept()
            with conn:
                conn.settimeout(WAIT)
                self.step, _ = negotiate(conn, self.proto, "server")
                if not self.step.ready:
                    return
                with server_context(self.pki.server).wrap_socket(conn, server_side=True) as tls:
                    self.tls_version = tls.version() or ""
                    tls.sendall(b"hello over tls\n")
                    with contextlib.suppress(OSError):
                        tls.recv(16)  # until s_client leaves
        except BaseException as failure:  # reported by the test
            self.failure = failure

    def close(self) -> None:
        self.thread.join(WAIT)
        self.listener.close()


@requires_openssl
@pytest.mark.parametrize("proto", SERVER_PROTOCOLS)
def test_openssl_s_client_starttls_against_our_server_side(
    proto: str, pki: Pki, tmp_path: Path
) -> None:
    server = OurServer(proto, pki)
    argv = [
        "openssl", "s_client", "-starttls", proto, "-connect", f"{LOCALHOST}:{server.port}",
        "-CAfile", str(pki.ca.cert), "-verify_return_error", "-servername", "localhost",
        "-name", "localhost",
    ]  # fmt: skip
    try:
        with process_peer(argv) as s_client:
            wait_until(
                lambda: b"hello over tls" in s_client.output or s_client.proc.poll() is not None,
                WAIT,
                "openssl s_client to print what came over TLS",
            )
            output = s_client.output.decode(errors="replace")
            s_client.close_stdin()
            assert "hello over tls" in output, output
            assert "Verify return code: 0 (ok)" in output
    finally:
        server.close()
    assert server.failure is None, server.failure
    assert server.step.ready and server.step.leftover == b""
    assert server.tls_version.startswith("TLSv1.")
