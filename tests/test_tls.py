"""TLS listeners and connections with real peers: openssl s_client and s_server, socat's
OPENSSL addresses, ncat --ssl and Python's ssl; the local CA; verification refused and
explained; pinning; client certificates; ALPN; versions; the key log."""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from peers import Collector, free_port, listening_port, process_peer, wait_until
from tls_certs import Issued, issue, make_ca

from workbench.engine import Engine
from workbench.protocol import events as ev
from workbench.protocol.endpoints import parse_url
from workbench.tls.local_ca import local_ca

requires_openssl = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="openssl is not installed (apt-get install openssl)"
)
requires_socat = pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed")
requires_ncat = pytest.mark.skipif(shutil.which("ncat") is None, reason="ncat is not installed")


def listen(engine: Engine, events: Collector, url: str) -> tuple[str, int]:
    lid = engine.listen(parse_url(url, for_listen=True))
    events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid)
    return lid, listening_port(events, lid)


def connect(engine: Engine, url: str) -> str:
    return engine.connect(parse_url(url, for_listen=False))


def established(events: Collector, cid: str) -> ev.TlsEstablished:
    found: ev.TlsEstablished = events.wait_for(
        lambda e: isinstance(e, ev.TlsEstablished) and e.cid == cid
    )
    return found


def python_client(port: int, cafile: Path | None = None, **wrap: object) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
    if cafile is None:
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return context.wrap_socket(sock, server_hostname=str(wrap.get("name", "localhost")))


@contextlib.contextmanager
def served_once(serve: Callable[[socket.socket], None]) -> Iterator[int]:
    """A server on a thread that hands its first connection to `serve`; yields its port."""
    listener = socket.create_server(("127.0.0.1", 0))

    def run() -> None:
        with contextlib.suppress(OSError), listener.accept()[0] as conn:
            conn.settimeout(5)
            serve(conn)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        thread.join(5)


@contextlib.contextmanager
def python_server(
    issued: Issued, newest: ssl.TLSVersion | None = None
) -> Iterator[tuple[int, list[bytes]]]:
    """A TLS server that answers its first client with what it read, then closes."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(issued.cert, issued.key)
    if newest is not None:
        context.maximum_version = newest
    got: list[bytes] = []

    def serve(conn: socket.socket) -> None:
        with context.wrap_socket(conn, server_side=True) as tls:
            data = tls.recv(1024)
            got.append(data)
            tls.sendall(b"you said " + data)

    with served_once(serve) as port:
        yield port, got


def open_tls_connection(engine: Engine, events: Collector) -> str:
    """A TLS connection from sockbench to a sockbench listener, established."""
    _, port = listen(engine, events, "tls://127.0.0.1:0")
    cid = connect(engine, f"tls://localhost:{port}")
    established(events, cid)
    return cid


# --- URLs ---


def test_tls_url_is_tcp_with_tls_and_writes_itself_back() -> None:
    endpoint = parse_url("tls://127.0.0.1:9600?alpn=h2,http/1.1&max=1.3", for_listen=False)
    assert endpoint.transport == "tcp" and endpoint.options.tls
    assert endpoint.options.tls_max == "1.3" and endpoint.options.max_connections is None
    assert endpoint.url == "tls://127.0.0.1:9600?alpn=h2,http/1.1&max=1.3"
    listener = parse_url("tls://127.0.0.1:0?max=5", for_listen=True)
    assert listener.options.max_connections == 5 and listener.options.tls_max is None


# --- the local CA ---


@requires_openssl
def test_listener_without_certificate_is_accepted_by_openssl_with_the_local_ca(
    engine: Engine, events: Collector
) -> None:
    lid, port = listen(engine, events, "tls://127.0.0.1:0")
    opened = events.of(ev.ListenerOpened)[0]
    assert any("local CA" in note for note in opened.notes)
    ca = local_ca()
    result = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-verify_return_error",
         "-CAfile", str(ca.cert_path), "-servername", "localhost", "-verify_hostname",
         "localhost", "-brief"],
        input=b"hello\n", capture_output=True, timeout=10,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    assert b"Verification: OK" in result.stderr
    cid = events.wait_opened(listener=lid).cid
    assert events.wait_received(cid, 6) == b"hello\n"
    info = established(events, cid).info
    assert info.version == "TLSv1.3" and info.sni == "localhost"
    assert info.local_certificate is not None
    assert "IP:127.0.0.1" in info.local_certificate.names


def test_python_strict_verification_accepts_the_local_ca(engine: Engine, events: Collector) -> None:
    _, port = listen(engine, events, "tls://127.0.0.1:0")
    context = ssl.create_default_context(cafile=str(local_ca().cert_path))
    context.verify_flags |= ssl.VERIFY_X509_STRICT | ssl.VERIFY_X509_PARTIAL_CHAIN
    for name in ("localhost", "127.0.0.1"):
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as sock,
            context.wrap_socket(sock, server_hostname=name) as tls,
        ):
            assert tls.version() == "TLSv1.3"


def test_local_ca_files_are_private(own_data_dir: Path) -> None:
    ca = local_ca()
    assert ca.cert_path.parent == own_data_dir
    assert ca.key_path.stat().st_mode & 0o777 == 0o600
    assert own_data_dir.stat().st_mode & 0o777 == 0o700


# --- both directions with real peers ---


def test_sockbench_client_to_sockbench_server_verified(engine: Engine, events: Collector) -> None:
    lid, port = listen(engine, events, "tls://127.0.0.1:0?alpn=h2")
    cid = connect(engine, f"tls://localhost:{port}?alpn=h2,http/1.1")
    info = established(events, cid).info
    assert info.verified and info.verify_error == "" and info.alpn == "h2"
    assert info.chain and info.chain[0].key == "EC P-256"
    # The handshake is reported before any data.
    engine.send(cid, b"ping")
    server = events.wait_opened(listener=lid).cid
    assert events.wait_received(server, 4) == b"ping"
    kinds = [type(e) for e in events.for_conn(cid)]
    assert kinds.index(ev.TlsEstablished) < kinds.index(ev.Data)


@requires_openssl
def test_connect_to_openssl_s_server(engine: Engine, events: Collector, tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    server = issue(tmp_path, "server", ca)
    port = free_port()
    argv = ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(server.cert),
            "-key", str(server.key), "-quiet", "-alpn", "h2"]  # fmt: skip
    with process_peer(argv) as peer:
        wait_until(lambda: can_connect(port), what="openssl s_server listening")
        cid = connect(engine, f"tls://localhost:{port}?ca={ca.cert}&alpn=h2")
        info = established(events, cid).info
        assert info.verified and info.alpn == "h2" and info.sni == "localhost"
        assert info.chain[0].sha256 == server.sha256
        engine.send(cid, b"over tls\n")
        wait_until(lambda: b"over tls" in peer.output, what="s_server got it")


@requires_socat
def test_socat_openssl_client_to_listener(engine: Engine, events: Collector) -> None:
    lid, port = listen(engine, events, "tls://127.0.0.1:0")
    address = f"OPENSSL:127.0.0.1:{port},cafile={local_ca().cert_path},commonname=localhost"
    with process_peer(["socat", "-", address]) as peer:
        cid = events.wait_opened(listener=lid).cid
        established(events, cid)
        peer.send(b"from socat\n")
        assert events.wait_received(cid, 11) == b"from socat\n"
        engine.send(cid, b"to socat\n")
        wait_until(lambda: b"to socat" in peer.output, what="socat got it")


@requires_socat
def test_connect_to_socat_openssl_listen(engine: Engine, events: Collector, tmp_path: Path) -> None:
    server = issue(tmp_path, "server", None)
    port = free_port()
    address = (
        f"OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={server.cert},"
        f"key={server.key},verify=0"
    )
    with process_peer(["socat", address, "-"]) as peer:
        wait_until(lambda: can_connect(port), what="socat listening")
        cid = connect(engine, f"tls://127.0.0.1:{port}?pin={server.sha256}")
        assert established(events, cid).info.verified
        engine.send(cid, b"to socat\n")
        wait_until(lambda: b"to socat" in peer.output, what="socat got it")


@requires_ncat
def test_ncat_ssl_client_to_listener(engine: Engine, events: Collector) -> None:
    lid, port = listen(engine, events, "tls://127.0.0.1:0")
    argv = ["ncat", "--ssl", "--ssl-verify", "--ssl-trustfile", str(local_ca().cert_path),
            "localhost", str(port)]  # fmt: skip
    with process_peer(argv) as peer:
        cid = events.wait_opened(listener=lid).cid
        assert established(events, cid).info.version.startswith("TLSv1")
        peer.send(b"from ncat\n")
        assert events.wait_received(cid, 10) == b"from ncat\n"


def can_connect(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


# --- verification refused, and explained ---


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("self-signed", "self-signed"),
        ("expired", "expired on"),
        ("wrong-name", "it is not for localhost"),
        ("unknown-ca", "a CA you do not trust"),
    ],
)
def test_verify_failures_are_refused_in_words(
    engine: Engine, events: Collector, tmp_path: Path, kind: str, words: str
) -> None:
    ca = make_ca(tmp_path, "Other CA")
    server = {
        "self-signed": lambda: issue(tmp_path, "s", None),
        "expired": lambda: issue(tmp_path, "s", ca, expired=True),
        "wrong-name": lambda: issue(tmp_path, "s", ca, names=("example.org",)),
        "unknown-ca": lambda: issue(tmp_path, "s", ca),
    }[kind]()
    trust = f"&ca={ca.cert}" if kind in ("expired", "wrong-name") else ""
    with python_server(server) as (port, _):
        cid = connect(engine, f"tls://localhost:{port}?alpn=x{trust}")
        closed = events.wait_closed(cid)
    assert closed.error and words in closed.reason
    assert server.sha256 in closed.reason and "verify=0" in closed.reason
    assert "subject CN=" in closed.reason and "; issuer " in closed.reason
    info = established(events, cid).info
    assert not info.verified and words in info.verify_error
    assert not events.data(cid, outgoing=False)


def test_verify_0_goes_on_and_says_what_the_check_found(
    engine: Engine, events: Collector, tmp_path: Path
) -> None:
    server = issue(tmp_path, "s", None)
    with python_server(server) as (port, _):
        cid = connect(engine, f"tls://localhost:{port}?verify=0")
        info = established(events, cid).info
        assert not info.verified and "self-signed" in info.verify_error
        engine.send(cid, b"hi")
        assert events.wait_received(cid, 11) == b"you said hi"


def test_pin_accepts_exactly_that_certificate(
    engine: Engine, events: Collector, tmp_path: Path
) -> None:
    server = issue(tmp_path, "s", None)
    other = issue(tmp_path, "o", None)
    with python_server(server) as (port, _):
        cid = connect(engine, f"tls://localhost:{port}?pin={server.sha256.replace(':', '')}")
        assert established(events, cid).info.verified
    with python_server(server) as (port, _):
        cid = connect(engine, f"tls://localhost:{port}?pin={other.sha256}")
        closed = events.wait_closed(cid)
    assert closed.error and "not the pinned" in closed.reason and server.sha256 in closed.reason


# --- client certificates ---


def test_client_certificate_required_and_given(
    engine: Engine, events: Collector, tmp_path: Path
) -> None:
    ca = make_ca(tmp_path)
    client = issue(tmp_path, "client", ca, names=(), client=True, common="alice")
    lid, port = listen(engine, events, f"tls://127.0.0.1:0?client-cert=require&ca={ca.cert}")
    cid = connect(
        engine,
        f"tls://localhost:{port}?cert={client.cert}&key={client.key}",
    )
    established(events, cid)
    server_side = events.wait_opened(listener=lid).cid
    info = established(events, server_side).info
    assert info.verified and info.chain[0].subject == "CN=alice"


def test_sockbench_client_refused_by_a_sockbench_server_is_told(
    engine: Engine, events: Collector
) -> None:
    # asyncio's TLS closes without sending its alert when a handshake fails: the client,
    # whose TLS 1.3 handshake had ended, sees the connection go without a close_notify.
    _, port = listen(engine, events, "tls://127.0.0.1:0?client-cert=require")
    closed = events.wait_closed(connect(engine, f"tls://localhost:{port}"))
    assert closed.error and "without ending TLS" in closed.reason


def test_client_certificate_required_and_missing(engine: Engine, events: Collector) -> None:
    lid, port = listen(engine, events, "tls://127.0.0.1:0?client-cert=require")
    # TLS 1.3: the refusal comes after the client's side of the handshake ended.
    with contextlib.suppress(OSError), python_client(port, local_ca().cert_path) as tls:
        assert tls.recv(10) == b""
    error = events.wait_error(lid)
    assert "requires one" in error.message


# --- versions, ALPN, plain text ---


def test_versions_refused_both_ways(engine: Engine, events: Collector, tmp_path: Path) -> None:
    lid, port = listen(engine, events, "tls://127.0.0.1:0?min=1.3")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(ssl.SSLError), socket.create_connection(("127.0.0.1", port)) as sock:
        context.wrap_socket(sock)
    assert "no TLS version in common" in events.wait_error(lid).message
    server = issue(tmp_path, "s", None)
    with python_server(server, newest=ssl.TLSVersion.TLSv1_2) as (port, _):
        cid = connect(engine, f"tls://localhost:{port}?min=1.3&verify=0")
        closed = events.wait_closed(cid)
    assert closed.error and "TLS version" in closed.reason


def test_max_version_is_negotiated(engine: Engine, events: Collector) -> None:
    _, port = listen(engine, events, "tls://127.0.0.1:0")
    cid = connect(engine, f"tls://localhost:{port}?max=1.2")
    assert established(events, cid).info.version == "TLSv1.2"


def test_plain_text_to_a_tls_port_is_said_in_words(engine: Engine, events: Collector) -> None:
    lid, port = listen(engine, events, "tls://127.0.0.1:0")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        error = events.wait_error(lid)
    assert "plain" in error.message and "HTTP" in error.message
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"hello there, this is not tls\r\n")
        events.wait_until(lambda: len(events.of(ev.ErrorReported)) >= 2)
    assert "plain text" in events.of(ev.ErrorReported)[1].message


def test_tls_client_to_a_plain_server_is_said_in_words(engine: Engine, events: Collector) -> None:
    _, port = listen(engine, events, "tcp://127.0.0.1:0?greet=220%20hello%0D%0A")
    cid = connect(engine, f"tls://127.0.0.1:{port}")
    closed = events.wait_closed(cid)
    assert closed.error and "TLS" in closed.reason


# --- the key log ---


def test_keylog_file_is_written(engine: Engine, events: Collector, tmp_path: Path) -> None:
    keylog = tmp_path / "keys.log"
    _, port = listen(engine, events, "tls://127.0.0.1:0")
    cid = connect(engine, f"tls://localhost:{port}?keylog={keylog}")
    established(events, cid)
    wait_until(lambda: keylog.exists() and b"CLIENT_TRAFFIC_SECRET_0" in keylog.read_bytes())
    for line in keylog.read_text().splitlines():
        if line and not line.startswith("#"):
            label, random, secret = line.split(" ")
            assert label.isupper() and len(random) == 64 and int(secret, 16) >= 0


def test_sslkeylogfile_is_honoured(
    engine: Engine, events: Collector, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keylog = tmp_path / "env-keys.log"
    monkeypatch.setenv("SSLKEYLOGFILE", str(keylog))
    _, port = listen(engine, events, "tls://127.0.0.1:0")
    established(events, connect(engine, f"tls://localhost:{port}"))
    wait_until(
        lambda: keylog.exists() and b"SERVER_HANDSHAKE_TRAFFIC_SECRET" in keylog.read_bytes()
    )


def test_peer_closing_a_tls_connection_ends_it_quietly(
    engine: Engine, events: Collector, caplog: pytest.LogCaptureFixture
) -> None:
    lid, port = listen(engine, events, "tls://127.0.0.1:0")
    with python_client(port, local_ca().cert_path) as tls:
        cid = events.wait_opened(listener=lid).cid
        established(events, cid)
        tls.sendall(b"bye")
        events.wait_received(cid, 3)
        tls.unwrap()  # close_notify
    closed = events.wait_closed(cid)
    assert not closed.error and "peer" in closed.reason
    assert events.of(ev.HalfClosed, cid)
    assert not [r for r in caplog.records if r.name == "asyncio"], "asyncio complained"


@pytest.mark.parametrize(
    ("url", "for_listen", "words"),
    [
        ("tls://127.0.0.1:1?verify=0", True, "verify is for connections"),
        ("tls://127.0.0.1:1?pin=" + "AB" * 32, True, "pin is for connections"),
        ("tls://127.0.0.1:1?client-cert=require", False, "client-cert is for listeners"),
        ("tls://127.0.0.1:1?min=1.4", False, "min takes 1.0 or 1.1 or 1.2 or 1.3"),
        ("tls://127.0.0.1:1?pin=abc", False, "64 hex digits"),
        ("tls://127.0.0.1:1?client-cert=maybe", True, "optional or require"),
    ],
)
def test_tls_options_refused_in_words(url: str, for_listen: bool, words: str) -> None:
    from workbench.protocol.addresses import EndpointError

    with pytest.raises(EndpointError, match=words):
        parse_url(url, for_listen=for_listen)


def test_missing_certificate_file_is_said_when_listening(
    engine: Engine, events: Collector, tmp_path: Path
) -> None:
    lid = engine.listen(parse_url(f"tls://127.0.0.1:0?cert={tmp_path}/nope.pem", for_listen=True))
    error = events.wait_error(lid)
    assert "cannot listen" in error.message and "nope.pem" in error.message


def test_connect_right_after_listen_waits_for_its_tls(engine: Engine, events: Collector) -> None:
    port = free_port()
    engine.listen(parse_url(f"tls://127.0.0.1:{port}", for_listen=True))
    cid = connect(engine, f"tls://localhost:{port}")  # as --listen and --connect at start
    assert established(events, cid).info.verified


def test_listener_whose_tls_cannot_be_set_up_frees_its_port(
    engine: Engine, events: Collector, tmp_path: Path
) -> None:
    port = free_port()
    url = f"tls://127.0.0.1:{port}?cert={tmp_path}/nope.pem"
    events.wait_error(engine.listen(parse_url(url, for_listen=True)))
    wait_until(lambda: not can_connect(port), what="the port freed")


@requires_openssl
def test_client_without_the_certificate_a_server_requires_is_told_in_words(
    engine: Engine, events: Collector, tmp_path: Path
) -> None:
    server = issue(tmp_path, "server", None)
    port = free_port()
    argv = ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(server.cert),
            "-key", str(server.key), "-quiet", "-Verify", "1"]  # fmt: skip
    with process_peer(argv):
        wait_until(lambda: can_connect(port), what="openssl s_server listening")
        cid = connect(engine, f"tls://localhost:{port}?verify=0")
        closed = events.wait_closed(cid)
    assert closed.error and "requires a client certificate" in closed.reason, closed.reason


def test_a_flood_of_failed_handshakes_is_not_a_flood_of_lines(
    engine: Engine, events: Collector
) -> None:
    lid, port = listen(engine, events, "tls://127.0.0.1:0")
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"not tls at all\r\n")
            with contextlib.suppress(OSError):
                sock.recv(10)
    events.wait_until(lambda: len(events.of(ev.ErrorReported)) >= 6)
    events.settle()
    said = [e.message for e in events.of(ev.ErrorReported) if e.source == lid]
    assert len(said) == 6 and "not shown for a few seconds" in said[-1]
