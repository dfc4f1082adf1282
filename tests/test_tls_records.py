"""What a TLS handshake leaves behind: the Log's line, the transcript's `tls` record; TLS
over Unix stream sockets; EOF on a TLS connection; `sockbench tls ca`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import EngineFactory
from peers import Collector
from test_tls import connect, established, listen, open_tls_connection

from workbench.engine import Engine
from workbench.protocol import events as ev
from workbench.protocol.endpoints import parse_url, with_defaults
from workbench.protocol.options import SocketOptions
from workbench.protocol.tls_info import Certificate, TlsInfo, handshake_text
from workbench.session.records import RecordMaker
from workbench.tls.local_ca import local_ca

CERT = Certificate("CN=x", "CN=ca", ("DNS:x",), "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z",
                   "EC P-256", "AB")  # fmt: skip


def test_the_log_line_says_version_cipher_alpn_and_verification() -> None:
    info = TlsInfo("TLSv1.3", "TLS_AES_256_GCM_SHA384", "h2", "x", True, "", (CERT,), None)
    assert handshake_text(info) == "TLSv1.3 TLS_AES_256_GCM_SHA384, ALPN h2, verified"
    refused = info._replace(verified=False, verify_error="it is self-signed", alpn="")
    assert handshake_text(refused) == (
        "TLSv1.3 TLS_AES_256_GCM_SHA384, not verified: it is self-signed (verify=0)"
    )
    records = list(RecordMaker().other_records(ev.TlsEstablished(1.0, "C1", info)))
    assert records[0].text == handshake_text(info) and records[0].source == "C1"


def test_transcript_has_a_tls_record_before_the_data(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    lid, port = listen(engine, events, "tls://127.0.0.1:0?alpn=h2")
    cid = connect(engine, f"tls://localhost:{port}?alpn=h2")
    established(events, cid)
    engine.send(cid, b"x")
    server = events.wait_opened(listener=lid).cid
    events.wait_received(server, 1)
    assert engine.flush_transcript()
    records = [json.loads(line) for line in transcript.read_text().splitlines()]
    mine = [r for r in records if r["conn"] == cid]
    assert [r["event"] for r in mine][:3] == ["open", "tls", "data"]
    tls = mine[1]
    assert tls["version"] == "TLSv1.3" and tls["alpn"] == "h2" and tls["verified"] is True
    assert tls["chain"][0]["key"] == "EC P-256" and "IP:127.0.0.1" in tls["chain"][0]["names"]
    assert tls["sni"] == "localhost" and tls["local_certificate"] is None
    served = next(r for r in records if r["conn"] == server and r["event"] == "tls")
    assert served["local_certificate"]["sha256"] == tls["chain"][0]["sha256"]


def test_tls_over_a_unix_stream_socket(engine: Engine, events: Collector, tmp_path: Path) -> None:
    path = tmp_path / "tls.sock"
    tls = SocketOptions(tls=True)
    listener = with_defaults(parse_url(f"unix://{path}", for_listen=True), tls, for_listen=True)
    lid = engine.listen(listener)
    events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid)
    client = with_defaults(parse_url(f"unix://{path}", for_listen=False), tls, for_listen=False)
    cid = engine.connect(client)
    info = established(events, cid).info
    assert info.verified, info.verify_error
    engine.send(cid, b"over unix")
    server = events.wait_opened(listener=lid).cid
    assert events.wait_received(server, 9) == b"over unix"


def test_eof_alone_on_tls_is_refused_in_words(engine: Engine, events: Collector) -> None:
    cid = open_tls_connection(engine, events)
    engine.half_close(cid)
    note = events.wait_for(lambda e: isinstance(e, ev.Note) and e.source == cid)
    assert "no half-close" in note.message
    engine.send(cid, b"still open")
    assert not events.of(ev.ConnectionClosed, cid)


def test_tls_ca_command_prints_path_and_fingerprint(own_data_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "workbench", "tls", "ca"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    ca = local_ca()
    assert str(ca.cert_path) in result.stdout and ca.sha256 in result.stdout
    assert str(own_data_dir) in result.stdout
