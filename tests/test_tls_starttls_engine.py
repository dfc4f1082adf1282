"""STARTTLS end to end with the real negotiators (`workbench.tls.starttls`) in the engine:
a `starttls=smtp` listener against `openssl s_client -starttls smtp`, and a `starttls=smtp`
connection against a scripted mail server that then speaks TLS."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from peers import Collector, recv_exactly
from test_tls import connect, established, listen, served_once
from tls_certs import Issued, issue, server_context

from workbench.engine import Engine
from workbench.tls.local_ca import local_ca

requires_openssl = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="openssl is not installed (apt-get install openssl)"
)


def mail_server(
    issued: Issued, said: list[bytes], reply: bytes = b""
) -> Callable[[socket.socket], None]:
    """A mail server for `served_once`: its plain lines up to STARTTLS, then TLS, where it
    keeps the client's first read and answers `reply`. What the client said goes to `said`."""

    def serve(conn: socket.socket) -> None:
        conn.sendall(b"220 mail.example ESMTP\r\n")
        said.append(conn.recv(200))  # EHLO
        conn.sendall(b"250-mail.example\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
        said.append(recv_exactly(conn, 10))  # STARTTLS\r\n
        conn.sendall(b"220 2.0.0 go ahead\r\n")
        with server_context(issued).wrap_socket(conn, server_side=True) as tls:
            said.append(tls.recv(100))
            tls.sendall(reply)

    return serve


@requires_openssl
def test_openssl_s_client_starttls_smtp_against_a_sockbench_listener(
    engine: Engine, events: Collector
) -> None:
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?starttls=smtp")
    ca = str(local_ca().cert_path)
    client = subprocess.run(
        [
            "openssl", "s_client", "-starttls", "smtp", "-connect", f"127.0.0.1:{port}",
            "-servername", "localhost", "-CAfile", ca, "-verify_return_error",
            "-verify_hostname", "localhost",
        ],
        input=b"ping\n",
        capture_output=True,
        timeout=30,
        check=False,
    )  # fmt: skip
    out = client.stdout.decode(errors="replace")
    assert "Verify return code: 0 (ok)" in out, out[-2000:]
    cid = events.wait_opened(listener=lid).cid
    assert established(events, cid).info.version.startswith("TLSv1.")

    def received() -> bytes:
        return b"".join(e.data for e in events.data(cid, outgoing=False))

    events.wait_until(lambda: received().endswith(b"ping\n"))  # inside TLS
    assert received().startswith(b"EHLO "), "the plain exchange first, shown"


def test_a_starttls_smtp_connection_negotiates_with_a_mail_server(
    engine: Engine, events: Collector, tmp_path: Path
) -> None:
    issued = issue(tmp_path, "mail", None)
    said: list[bytes] = []

    with served_once(mail_server(issued, said)) as port:
        cid = connect(engine, f"tcp://localhost:{port}?starttls=smtp&pin={issued.sha256}")
        info = established(events, cid).info
        assert info.verified and info.version.startswith("TLSv1.")
        engine.send(cid, b"QUIT\r\n")
        events.wait_until(lambda: len(said) == 3)
    assert said[0].startswith(b"EHLO ") and said[1] == b"STARTTLS\r\n"
    assert said[2] == b"QUIT\r\n", "sent inside TLS"
    plain = [e for e in events.data(cid, outgoing=True) if e.origin == "starttls"]
    assert b"".join(e.data for e in plain).endswith(b"STARTTLS\r\n"), "the exchange is shown"
    assert ssl.OPENSSL_VERSION
