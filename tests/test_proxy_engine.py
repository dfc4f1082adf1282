"""The PROXY protocol on the engine, with real peers on loopback: a `proxy=1` listener reads
the header its clients send (plain Python clients, socat, HAProxy's send-proxy) and shows
the client it names; `send-proxy=v1|v2` connections send one first (to a Python server
that parses it with workbench.framing.proxy_header, to HAProxy's accept-proxy)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_helpers import endpoint, listen, transcript_records, transcript_streams
from peers import (
    DEFAULT_TIMEOUT,
    Collector,
    connect_client,
    free_port,
    recv_until_eof,
    requires_socat,
    wait_until,
)

from workbench.cli import flag_options, parse_command_line
from workbench.engine import Engine, proxy_accept
from workbench.engine import core as engine_core
from workbench.framing.proxy_header import (
    ProxyHeader,
    TlvType,
    build_v1,
    build_v2,
    parse,
)
from workbench.protocol import events as ev
from workbench.protocol.addresses import EndpointError
from workbench.protocol.endpoints import format_sockname, with_defaults
from workbench.session_file.option_keys import option_value

requires_haproxy = pytest.mark.skipif(
    shutil.which("haproxy") is None, reason="haproxy is not installed (apt-get install haproxy)"
)


@pytest.fixture(params=["uvloop", "asyncio"])
def either_loop(
    request: pytest.FixtureRequest, make_engine, monkeypatch: pytest.MonkeyPatch
) -> tuple[Engine, Collector]:
    """An engine on uvloop, then on asyncio's own loop: the header is read with add_reader
    and MSG_PEEK on the socket before either loop's transport takes it."""
    if request.param == "asyncio":
        monkeypatch.setattr(engine_core, "new_event_loop", asyncio.new_event_loop)
    else:
        pytest.importorskip("uvloop")
    engine, events = make_engine()
    return engine, events


def opened_via(events: Collector, lid: str, client: socket.socket) -> ev.ConnectionOpened:
    """The listener's connection for `client` (shown as the client its header names, via
    the client's real address)."""
    real = f" via {format_sockname(client.getsockname())}"
    return events.wait_for(
        lambda e: isinstance(e, ev.ConnectionOpened) and e.listener == lid and real in e.remote
    )


def notes(events: Collector, source: str) -> list[str]:
    return [e.message for e in events.of(ev.Note) if e.source == source]


def errors(events: Collector, source: str) -> list[str]:
    return [e.message for e in events.of(ev.ErrorReported) if e.source == source]


def counted_without_header(events: Collector, lid: str, count: int) -> None:
    """The listener's count of clients closed without a valid header reaches `count`."""
    events.wait_for(
        lambda e: (
            isinstance(e, ev.ListenerRefused)
            and e.lid == lid
            and e.no_proxy_header == count
            and e.denied == 0
        )
    )


def closed_without_a_word(client: socket.socket) -> None:
    """The listener closed `client` without sending anything (EOF or a reset)."""
    with contextlib.suppress(ConnectionResetError):
        assert recv_until_eof(client) == b""


# --- the listener: headers from plain Python clients ---


def test_a_v1_header_and_data_in_one_segment(engine: Engine, events: Collector) -> None:
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?proxy=1")
    request = b"GET / HTTP/1.1\r\nHost: example\r\n\r\n"
    with connect_client(port) as client:
        client.sendall(build_v1(("203.0.113.7", 51234), ("192.0.2.1", 443)) + request)
        opened = opened_via(events, lid, client)
        assert opened.remote == f"203.0.113.7:51234 via {format_sockname(client.getsockname())}"
        assert events.wait_received(opened.cid, len(request)) == request, "the header is no data"
        client.sendall(b"more")
        assert events.wait_received(opened.cid, len(request) + 4) == request + b"more"
    assert notes(events, opened.cid)[0] == (
        "PROXY v1 header (44 bytes): PROXY TCP4 203.0.113.7:51234 → 192.0.2.1:443"
    )


def test_a_v2_header_with_tlvs_sent_a_byte_at_a_time(either_loop: tuple[Engine, Collector]) -> None:
    engine, events = either_loop
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?proxy=1")
    header = build_v2(
        ("2001:db8::7", 40000),
        ("2001:db8::1", 443),
        [(TlvType.ALPN, b"h2"), (TlvType.AUTHORITY, b"example.com\x1b]2;x\x07")],
        checksum=True,
    )
    with connect_client(port) as client:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for at in range(len(header)):
            client.send(header[at : at + 1])
        client.sendall(b"hello")
        opened = opened_via(events, lid, client)
        assert opened.remote.startswith("[2001:db8::7]:40000 via 127.0.0.1:")
        assert events.wait_received(opened.cid, 5) == b"hello"
    (said,) = notes(events, opened.cid)[:1]
    assert said.startswith("PROXY v2 header (")
    assert "PROXY TCP6 [2001:db8::7]:40000 → [2001:db8::1]:443" in said
    assert "ALPN h2" in said and "CRC32C ok" in said
    assert "AUTHORITY example.com\x1b]2;x\x07" in said, "as sent: the Log sanitizes it"


def test_what_came_with_the_header_is_not_lost(make_engine, tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?proxy=1")
    payload = bytes(range(256)) * 4096  # 1 MiB right behind the header, in the same send
    with connect_client(port) as client:
        client.sendall(build_v2(("198.51.100.9", 9), ("192.0.2.1", 80)) + payload)
        opened = opened_via(events, lid, client)
        assert events.wait_received(opened.cid, len(payload))[:100] == payload[:100]
    engine.stop()  # the transcript has every byte (the bridge may merge a flood's chunks)
    assert transcript_streams(transcript)[opened.cid, "in"] == payload


def test_local_and_unknown_keep_the_real_peer(engine: Engine, events: Collector) -> None:
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?proxy=1")
    for header, said in ((build_v2(None, None), "LOCAL"), (build_v1(None, None), "UNKNOWN")):
        with connect_client(port) as client:
            client.sendall(header + b"x")
            real = format_sockname(client.getsockname())
            opened = events.wait_for(
                lambda e, real=real: (
                    isinstance(e, ev.ConnectionOpened) and e.listener == lid and real in e.remote
                )
            )
            assert opened.remote == f"{real} (PROXY {said})"
            assert events.wait_received(opened.cid, 1) == b"x"


def test_a_tls_listener_reads_the_header_before_the_handshake(
    either_loop: tuple[Engine, Collector],
) -> None:
    engine, events = either_loop
    lid, port = listen(engine, events, "tls://127.0.0.1:0?proxy=1")
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with connect_client(port) as plain:
        plain.sendall(build_v1(("203.0.113.7", 1234), ("192.0.2.1", 443)))
        me = format_sockname(plain.getsockname())
        with context.wrap_socket(plain, server_hostname="localhost") as tls:
            tls.sendall(b"secret")
            opened = events.wait_opened(listener=lid)
            assert opened.remote == f"203.0.113.7:1234 via {me}"
            assert events.wait_received(opened.cid, 6) == b"secret"
    assert events.of(ev.TlsEstablished, opened.cid)


# --- clients without a valid header ---


@pytest.mark.parametrize(
    ("sent", "reason"),
    [
        (
            b"GET / HTTP/1.1\r\n\r\n",
            "no PROXY header: it starts with 'GET / HTTP/1.1\r\n', not",
        ),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n", "bad PROXY header: v1 line: '99999' is"),
        (build_v2(("10.0.0.1", 1), ("10.0.0.2", 2))[:-1] + b"\x00", ""),  # changed port: valid
    ],
)
def test_a_client_without_a_valid_header_is_closed_in_words(
    engine: Engine, events: Collector, sent: bytes, reason: str
) -> None:
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?proxy=1")
    with connect_client(port) as client:
        client.sendall(sent)
        if not reason:  # the control: a valid header is taken
            opened_via(events, lid, client)
            return
        closed_without_a_word(client)
        me = format_sockname(client.getsockname())
    counted_without_header(events, lid, 1)
    (said,) = errors(events, lid)
    assert said.startswith(f"{lid} closed {me}: {reason}")
    assert not events.of(ev.ConnectionOpened), "it never was a connection"


def test_a_silent_client_is_closed_after_the_timeout(
    engine: Engine, events: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(proxy_accept, "HEADER_SECONDS", 0.3)
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?proxy=1")
    with connect_client(port) as silent, connect_client(port) as partial:
        partial.sendall(b"PROXY TCP4 1.2")
        closed_without_a_word(silent)
        closed_without_a_word(partial)
    counted_without_header(events, lid, 2)
    said = errors(events, lid)
    assert sum("no PROXY header: none came within 0.3 s" in s for s in said) == 2, said


def test_a_client_that_closes_mid_header_is_said(engine: Engine, events: Collector) -> None:
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?proxy=1")
    with connect_client(port) as client:
        client.sendall(b"\r\n\r\n\x00\r\nQU")
        client.shutdown(socket.SHUT_WR)
        closed_without_a_word(client)
    counted_without_header(events, lid, 1)
    assert (
        "part of a PROXY header: the client closed before sending it whole"
        in (errors(events, lid)[0])
    )


def test_a_refused_client_is_recorded(make_engine, tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?proxy=1")
    with connect_client(port) as client:
        client.sendall(b"SSH-2.0-x\r\n")
        closed_without_a_word(client)
        me = format_sockname(client.getsockname())
    counted_without_header(events, lid, 1)
    engine.stop()
    (record,) = [r for r in transcript_records(transcript) if r["event"] == "refused"]
    assert (record["conn"], record["remote"], record["by"]) == (lid, me, "proxy")
    assert record["reason"].startswith("no PROXY header: it starts with 'SSH-2.0-x\r\n'")


def test_a_unix_listener_takes_the_header_from_the_flag(
    engine: Engine, events: Collector, tmp_path: Path
) -> None:
    path = tmp_path / "p.sock"
    flags = flag_options(parse_command_line(["--accept-proxy", "-l", "9700"]))
    lid = engine.listen(
        with_defaults(endpoint(f"unix://{path}", listen=True), flags, for_listen=True)
    )
    events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(DEFAULT_TIMEOUT)
        client.connect(str(path))
        client.sendall(build_v1(("192.0.2.8", 4000), ("192.0.2.1", 80)) + b"over unix")
        opened = events.wait_opened(listener=lid)
        assert opened.remote.startswith("192.0.2.8:4000 via "), opened.remote
        assert events.wait_received(opened.cid, 9) == b"over unix"


@requires_socat
def test_socat_sends_a_header_and_a_request_then_closes(engine: Engine, events: Collector) -> None:
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?proxy=1")
    sent = build_v1(("192.0.2.55", 6000), ("192.0.2.1", 25)) + b"EHLO example\r\n"
    subprocess.run(
        ["socat", "-u", "STDIN", f"TCP:127.0.0.1:{port}"],
        input=sent,
        timeout=DEFAULT_TIMEOUT,
        check=True,
    )
    opened = events.wait_for(lambda e: isinstance(e, ev.ConnectionOpened) and e.listener == lid)
    assert opened.remote.startswith("192.0.2.55:6000 via 127.0.0.1:")
    assert events.wait_received(opened.cid, 14) == b"EHLO example\r\n"


# --- send-proxy: outgoing connections ---


@contextlib.contextmanager
def header_reader(reply: bytes = b"") -> Iterator[tuple[int, list[bytes]]]:
    """A plain server that takes one client and keeps all it sent (until EOF), after
    answering `reply`; yields its port and the list that gets what was sent."""
    server = socket.create_server(("127.0.0.1", 0))
    got: list[bytes] = []

    def run() -> None:
        with contextlib.suppress(OSError), server.accept()[0] as conn:
            conn.settimeout(DEFAULT_TIMEOUT)
            if reply:
                conn.sendall(reply)
            got.append(recv_until_eof(conn))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], got
    finally:
        server.close()
        thread.join(DEFAULT_TIMEOUT)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_send_proxy_goes_first_and_names_the_connection(
    engine: Engine, events: Collector, version: str
) -> None:
    with header_reader(reply=b"220 ready\r\n") as (port, got):
        cid = engine.connect(endpoint(f"tcp://127.0.0.1:{port}?send-proxy={version}"))
        opened = events.wait_opened(cid)
        events.wait_received(cid, 11)
        engine.send(cid, b"after")
        events.wait_until(lambda: events.sent(cid).endswith(b"after"))
        engine.close(cid)
        wait_until(lambda: got, what="the server's read")
    result = parse(got[0])
    assert isinstance(result, ProxyHeader), result
    assert result.version == int(version[1])
    assert (str(result.source), str(result.destination)) == (opened.local, opened.remote)
    assert got[0][result.size :] == b"after", "the header, then what was sent, nothing else"
    (header_record, after) = events.data(cid, outgoing=True)
    assert (header_record.data, header_record.origin) == (got[0][: result.size], "proxy")
    assert after.data == b"after"


def test_send_proxy_then_tls_to_a_proxy_listener(either_loop: tuple[Engine, Collector]) -> None:
    engine, events = either_loop
    lid, port = listen(engine, events, "tls://127.0.0.1:0?proxy=1")
    cid = engine.connect(endpoint(f"tls://127.0.0.1:{port}?send-proxy=v2&verify=0"))
    local = events.wait_opened(cid).local
    peer = events.wait_opened(listener=lid)
    assert peer.remote == f"{local} via {local}", "the header names the connection itself"
    engine.send(cid, b"over TLS")
    assert events.wait_received(peer.cid, 8) == b"over TLS"
    assert events.of(ev.TlsEstablished, cid) and events.of(ev.TlsEstablished, peer.cid)


def test_send_proxy_to_a_closed_port_fails_in_words(engine: Engine, events: Collector) -> None:
    port = free_port()
    cid = engine.connect(endpoint(f"tcp://127.0.0.1:{port}?send-proxy=v1"))
    closed = events.wait_closed(cid)
    assert closed.error and "refused" in closed.reason


# --- options ---


def test_the_options_in_urls_and_flags() -> None:
    assert endpoint("tcp://127.0.0.1:1?proxy=1", listen=True).options.proxy_header
    assert endpoint("tls://127.0.0.1:1?send-proxy=v2").options.send_proxy == "v2"
    assert endpoint("tcp://127.0.0.1:1?send-proxy=v1").options.query() == "send-proxy=v1"
    with pytest.raises(EndpointError, match="proxy is for listeners"):
        endpoint("tcp://127.0.0.1:1?proxy=1")
    with pytest.raises(EndpointError, match="send-proxy is for connections"):
        endpoint("tcp://127.0.0.1:1?send-proxy=v1", listen=True)
    with pytest.raises(EndpointError, match="send-proxy takes v1 or v2, not 'v3'"):
        endpoint("tcp://127.0.0.1:1?send-proxy=v3")
    with pytest.raises(EndpointError, match="unknown option 'send-proxy' for udp"):
        endpoint("udp://127.0.0.1:1?send-proxy=v1")
    assert option_value("proxy", True, "tcp", True) == ("proxy_header", True)
    assert option_value("send-proxy", "v1", "tcp", False) == ("send_proxy", "v1")
    with pytest.raises(EndpointError, match="send-proxy takes v1 or v2"):
        option_value("send-proxy", "2", "tcp", False)
    args = parse_command_line(["--accept-proxy", "--send-proxy", "v2", "-l", "9700"])
    assert flag_options(args).proxy_header
    assert flag_options(args).send_proxy == "v2"


# --- HAProxy: its send-proxy to our listener, our send-proxy to its accept-proxy ---


@contextlib.contextmanager
def haproxy(config: str, tmp_path: Path, port: int) -> Iterator[None]:
    path = tmp_path / "haproxy.cfg"
    path.write_text(config)
    process = subprocess.Popen(
        ["haproxy", "-db", "-f", str(path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_until(lambda: _listening(port) or process.poll() is not None, what="haproxy")
        assert process.poll() is None, process.communicate()[0].decode(errors="replace")
        yield
    finally:
        process.terminate()
        process.communicate(timeout=DEFAULT_TIMEOUT)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


HAPROXY_DEFAULTS = """
global
    log stderr format raw local0 err
defaults
    mode tcp
    timeout connect 5s
    timeout client 5s
    timeout server 5s
"""


@requires_haproxy
@pytest.mark.parametrize(
    ("server_option", "said"),
    [
        ("send-proxy", "PROXY v1 header"),
        ("send-proxy-v2 proxy-v2-options crc32c,unique-id", "CRC32C ok"),
    ],
)
def test_haproxys_header_names_its_client(
    engine: Engine, events: Collector, tmp_path: Path, server_option: str, said: str
) -> None:
    lid, port = listen(engine, events, "tcp://127.0.0.1:0?proxy=1")
    front = free_port()
    config = (
        HAPROXY_DEFAULTS
        + f"""
frontend front
    bind 127.0.0.1:{front}
    unique-id-format sockbench-%rt
    default_backend back
backend back
    server us 127.0.0.1:{port} {server_option}
"""
    )
    with haproxy(config, tmp_path, front), connect_client(front) as client:
        client.sendall(b"through haproxy")
        me = format_sockname(client.getsockname())
        opened = events.wait_for(
            lambda e: (
                isinstance(e, ev.ConnectionOpened)
                and e.listener == lid
                and e.remote.startswith(f"{me} via ")
            )
        )
        assert events.wait_received(opened.cid, 15) == b"through haproxy"
    assert said in notes(events, opened.cid)[0]


@requires_haproxy
def test_haproxy_accepts_our_header_and_passes_the_client_on(
    engine: Engine, events: Collector, tmp_path: Path
) -> None:
    front = free_port()
    with header_reader() as (back, got):
        config = (
            HAPROXY_DEFAULTS
            + f"""
frontend front
    bind 127.0.0.1:{front} accept-proxy
    default_backend back
backend back
    server them 127.0.0.1:{back} send-proxy
"""
        )
        with haproxy(config, tmp_path, front):
            cid = engine.connect(endpoint(f"tcp://127.0.0.1:{front}?send-proxy=v2"))
            local = events.wait_opened(cid).local
            engine.send(cid, b"hello")
            events.wait_until(lambda: events.sent(cid).endswith(b"hello"))
            engine.close(cid)
            wait_until(lambda: got, what="what haproxy passed on")
    passed = parse(got[0])
    assert isinstance(passed, ProxyHeader), got
    assert str(passed.source) == local, "haproxy took the client our header named"
    assert got[0][passed.size :] == b"hello"
