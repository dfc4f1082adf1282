"""Helpers shared by the fault tests (test_faults_*.py): opening things on a real Engine and
reading a transcript back."""

from __future__ import annotations

import base64
import json
import socket
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from peers import (
    DEFAULT_TIMEOUT,
    LOCALHOST,
    Collector,
    connect_client,
    port_of,
    recv_exactly,
    recv_until_eof,
)

from workbench.engine import Engine
from workbench.protocol import events as ev
from workbench.protocol.endpoints import Endpoint, format_sockname, parse_url


def endpoint(url: str, listen: bool = False) -> Endpoint:
    return parse_url(url, for_listen=listen)


def listen(engine: Engine, events: Collector, url: str = "tcp://127.0.0.1:0") -> tuple[str, int]:
    """Open a listener; return its id and port."""
    lid = engine.listen(endpoint(url, listen=True))
    opened = events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid)
    return lid, port_of(opened.local[0])


def accept(
    events: Collector, lid: str, port: int, receive_buffer: int | None = None
) -> tuple[socket.socket, str]:
    """A plain client of the engine's listener, and the engine's id for it. A receive_buffer
    is set before the connect, so it fixes the client's window (no autotuning)."""
    if receive_buffer is None:
        client = connect_client(port)
    else:
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        client.settimeout(DEFAULT_TIMEOUT)
        client.connect((LOCALHOST, port))
    me = format_sockname(client.getsockname())
    opened = events.wait_for(
        lambda e: isinstance(e, ev.ConnectionOpened) and e.listener == lid and e.remote == me
    )
    return client, opened.cid


def connect(engine: Engine, events: Collector, url: str) -> str:
    cid = engine.connect(endpoint(url))
    events.wait_opened(cid)
    return cid


def transcript_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def transcript_streams(path: Path) -> dict[tuple[str, str], bytes]:
    """{(connection id, "in" or "out"): bytes} from a one-session transcript."""
    found: dict[tuple[str, str], bytearray] = defaultdict(bytearray)
    for record in transcript_records(path):
        if record["event"] == "data":
            found[record["conn"], record["dir"]] += base64.b64decode(record["data"])
    return {key: bytes(value) for key, value in found.items()}


def transcript_close(path: Path, cid: str) -> dict[str, Any]:
    return next(r for r in transcript_records(path) if r["event"] == "close" and r["conn"] == cid)


def answered_then_sent_on(
    events: Collector, lid: str, port: int, ask: bytes, answer: bytes, tries: int
) -> list[str]:
    """`tries` clients that each send `ask`, read `answer` (after which the listener's
    behaviour ends the connection), send on (5 bytes 2,000 times) and read to the end of the
    stream: their connections' ids. Fails if a client was reset instead: a close with those
    bytes unread answers with one, and the client loses what it had not read yet."""
    cids = []
    for attempt in range(1, tries + 1):
        client, cid = accept(events, lid, port)
        with client:
            client.sendall(ask)
            try:
                assert recv_exactly(client, len(answer)) == answer, f"try {attempt}"
                client.sendall(b"more\n" * 2000)
                assert recv_until_eof(client, 30.0) == b"", f"try {attempt}"
            except ConnectionResetError:
                pytest.fail(f"try {attempt}: the client was reset")
        cids.append(cid)
    return cids
