"""`sockbench export --pcapng`: choosing sessions and connections, errors in words (exit 2),
never writing through a planted link or over a device, TLS and Unix datagram notes, the
checksum against RFC 1071's own sum, and a big export in bounded memory."""

from __future__ import annotations

import base64
import json
import os
import struct
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_pcapng import export, follow, problems, requires_tshark, tshark

from workbench.bench.pcapng_case import write_synthetic_transcript
from workbench.transcript.capture import export_pcapng, how_closed
from workbench.transcript.synthesis import checksum

MIB = 1024 * 1024


def record(ts: float, event: str, conn: str = "", **fields: object) -> str:
    return json.dumps({"ts": ts, "event": event, "conn": conn, **fields}) + "\n"


def data(ts: float, conn: str, direction: str, payload: bytes) -> str:
    body = base64.b64encode(payload).decode()
    return (
        f'{{"ts":{ts:.6f},"event":"data","conn":"{conn}","dir":"{direction}",'
        f'"size":{len(payload)},"data":"{body}"}}\n'
    )


def session(ts: float, schema: int = 1) -> str:
    return record(ts, "session", version="0.1.0", schema=schema, session_id=f"{int(ts):016x}")


def tcp_open(ts: float, cid: str, port: int, listener: str | None = "L1") -> str:
    return record(
        ts, "open", cid, transport="tcp", listener=listener,
        local="127.0.0.1:9000", remote=f"127.0.0.1:{port}",
    )  # fmt: skip


def two_sessions(path: Path) -> None:
    """Session 1: C1 sends "one"; session 2: C1 sends "two" and C2 sends "three"."""
    path.write_text(
        session(1.0)
        + tcp_open(1.1, "C1", 41001)
        + data(1.2, "C1", "in", b"one")
        + record(1.3, "close", "C1", reason="closed by peer", cause="peer")
        + session(2.0)
        + tcp_open(2.1, "C1", 42001)
        + data(2.2, "C1", "in", b"two")
        + tcp_open(2.3, "C2", 42002)
        + data(2.4, "C2", "in", b"three")
    )


def client_bytes(capture: Path) -> list[bytes]:
    return [stream.from_first for stream in follow(capture, "tcp")]


@requires_tshark
def test_the_last_session_by_default_and_another_by_number(tmp_path: Path, capsys) -> None:
    transcript, capture = tmp_path / "t.jsonl", tmp_path / "c.pcapng"
    two_sessions(transcript)
    assert export(transcript, capture) == 0
    assert client_bytes(capture) == [b"two", b"three"]
    assert "--session N" in capsys.readouterr().err  # it says there were others
    assert export(transcript, capture, "--session", "1") == 0
    assert client_bytes(capture) == [b"one"]
    assert export(transcript, capture, "--conn", "C2") == 0
    assert client_bytes(capture) == [b"three"]
    assert export(transcript, capture, "--conn", "C2", "--conn", "C1") == 0
    assert client_bytes(capture) == [b"two", b"three"]
    assert problems(capture) == []


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--session", "3"], "no session 3 in"),
        (["--session", "0"], "is not a session number"),
        (["--conn", "C9"], "no connection C9 in session 2"),
        (["--session", "1", "--conn", "C2"], "no connection C2 in session 1"),
    ],
)
def test_what_is_not_there_is_said_and_nothing_written(
    tmp_path: Path, capsys, args: list[str], words: str
) -> None:
    transcript, capture = tmp_path / "t.jsonl", tmp_path / "c.pcapng"
    two_sessions(transcript)
    assert status(transcript, capture, *args) == 2
    assert words in capsys.readouterr().err
    assert not capture.exists()
    assert os.listdir(tmp_path) == ["t.jsonl"]  # no temporary file left behind


def status(transcript: Path, capture: Path, *args: str) -> int:
    """The export's exit status, a usage error's (argparse exits) included."""
    try:
        return export(transcript, capture, *args)
    except SystemExit as exited:
        return int(exited.code or 0)


def test_files_that_cannot_be_read_or_written(tmp_path: Path, capsys) -> None:
    transcript, capture = tmp_path / "t.jsonl", tmp_path / "c.pcapng"
    two_sessions(transcript)
    assert export(tmp_path / "missing.jsonl", capture) == 2
    assert "cannot read" in capsys.readouterr().err
    assert export(tmp_path, capture) == 2  # a directory
    assert "cannot read" in capsys.readouterr().err
    assert export(transcript, tmp_path / "no" / "c.pcapng") == 2
    assert "cannot write" in capsys.readouterr().err
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert export(transcript, fifo) == 2  # never replaced: a device or pipe stays one
    assert "not a regular file" in capsys.readouterr().err
    assert fifo.is_fifo()
    empty = tmp_path / "empty.jsonl"
    empty.write_text("not a transcript\n")
    assert export(empty, capture) == 2
    assert "holds no session" in capsys.readouterr().err
    newer = tmp_path / "newer.jsonl"
    newer.write_text(session(1.0, schema=99))
    assert export(newer, capture) == 2
    assert "newer sockbench" in capsys.readouterr().err


def test_the_transcript_is_never_replaced_by_its_own_capture(tmp_path: Path, capsys) -> None:
    """The capture named as the transcript (by its name, or another path to it) is refused:
    the recording is what is asked for, and replacing it loses it."""
    transcript = tmp_path / "t.jsonl"
    two_sessions(transcript)
    kept = transcript.read_bytes()
    (tmp_path / "again").symlink_to(tmp_path)
    for capture in (transcript, tmp_path / "again" / "t.jsonl"):
        assert export(transcript, capture) == 2
        assert "is the transcript itself" in capsys.readouterr().err
        assert transcript.read_bytes() == kept
    assert sorted(os.listdir(tmp_path)) == ["again", "t.jsonl"]  # nothing left behind


def test_a_planted_link_is_replaced_not_written_through(tmp_path: Path) -> None:
    transcript, capture = tmp_path / "t.jsonl", tmp_path / "c.pcapng"
    two_sessions(transcript)
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me")
    capture.symlink_to(victim)
    assert export(transcript, capture) == 0
    assert victim.read_bytes() == b"keep me"
    assert not capture.is_symlink()
    assert capture.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"  # a pcapng section header


@requires_tshark
def test_tls_and_unix_datagrams_say_what_they_are(tmp_path: Path) -> None:
    transcript, capture = tmp_path / "t.jsonl", tmp_path / "c.pcapng"
    transcript.write_text(
        session(1.0)
        + tcp_open(1.1, "C1", 41001)
        + record(1.2, "tls", "C1", version="TLSv1.3", cipher="TLS_AES_256_GCM_SHA384")
        + data(1.3, "C1", "in", b"GET / HTTP/1.1\r\n\r\n")
        + record(
            1.4,
            "open",
            "C2",
            transport="unix-dgram",
            listener="L2",
            local="/tmp/a.sock",
            remote="(unnamed)",
        )
        + data(1.5, "C2", "in", b"d" * 70_000)  # longer than a UDP datagram can be
        + data(1.6, "C2", "out", b"reply")
    )
    assert export(transcript, capture) == 0
    comments = tshark("-r", str(capture), "-T", "fields", "-e", "frame.comment")
    assert "decrypted bytes" in comments and "key log" in comments
    assert "Unix socket has no IP address; synthesised as UDP" in comments
    (tls,) = follow(capture, "tcp")
    assert tls.from_first == b"GET / HTTP/1.1\r\n\r\n"
    (unix,) = follow(capture, "udp")
    assert (unix.from_first, unix.from_second) == (b"d" * 70_000, b"reply")
    assert unix.first.startswith("127.0.0.2:") and unix.second == "127.0.0.3:60002"
    assert problems(capture) == []


def rfc1071(data: bytes) -> int:
    """The Internet checksum as RFC 1071 writes it: 16-bit words summed, carries folded."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


@given(st.lists(st.binary(max_size=9000).map(lambda b: b[: len(b) // 2 * 2]), max_size=4),
       st.binary(min_size=1, max_size=9001))  # fmt: skip
def test_checksum_is_rfc_1071s(even_parts: list[bytes], last: bytes) -> None:
    parts = [b"\x00\x06", *even_parts, last]  # a protocol number: never all zeros
    assert checksum(*parts) == rfc1071(b"".join(parts))


@requires_tshark
def test_a_big_connection_exports_in_bounded_memory(tmp_path: Path) -> None:
    size = 64 * MIB
    transcript, capture = tmp_path / "t.jsonl", tmp_path / "c.pcapng"
    write_synthetic_transcript(transcript, size + 12_345)  # the last record a short one
    tracemalloc.start()
    try:
        found = export_pcapng(str(transcript), str(capture))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert found.connections == ["C1"]
    assert peak < 8 * MIB, f"peak {peak:,} bytes while exporting {size:,}"
    # Every byte is there: the client's FIN comes right after them (relative numbers).
    fins = tshark(
        "-r", str(capture), "-Y", "tcp.flags.fin == 1", "-T", "fields", "-e", "tcp.seq",
        "-e", "tcp.srcport",
    )  # fmt: skip
    assert f"{size + 12_345 + 1}\t45000" in fins.splitlines()
    assert capture.stat().st_size > size


def test_the_bench_case_measures_an_export(tmp_path: Path) -> None:
    from workbench.bench.pcapng_case import pcapng_export
    from workbench.bench.rounds import SOCKBENCH, run_case

    # The figure is the export's own, however big the process measuring it is (a forked
    # child's wait4 figure counts its parent's memory from before its exec).
    big = bytearray(256 * MIB)
    big[::4096] = b"\x01" * len(range(0, len(big), 4096))
    result = run_case(pcapng_export(4 * MIB), 1, lambda line: None)
    del big
    assert result.errors == {}
    (figures,) = result.figures[SOCKBENCH]
    assert figures["throughput"] > 0
    assert 0 < figures["peak"] < 200  # MB: a Python process, not the 4 MiB connection


@pytest.mark.parametrize(
    ("reason", "cause", "expected"),
    [
        ("closed by you", "you", (False, True)),
        ("closed by peer", "peer", (False, False)),
        ("closed after the peer's EOF", "peer", (False, False)),
        ("reset by you", "you", (True, True)),
        ("reset by you: 20,791,296 bytes queued were not sent", "you", (True, True)),
        ("idle for 5 s: 1,024 bytes queued were not sent", "idle", (True, True)),
        ("idle for 5 s", "idle", (False, True)),
        ("reset by peer", "peer", (True, False)),
        ("closed by peer while sending (broken pipe)", "peer", (True, False)),
        ("connection lost: [Errno 110] Connection timed out", "error", (True, False)),
        ("cut off: 4 MiB waiting that it did not read (you)", "behaviour", (True, True)),
        ("sockbench quit", "quit", (False, True)),
    ],
)
def test_a_close_record_is_a_reset_or_fins_and_from_whom(
    reason: str, cause: str, expected: tuple[bool, bool]
) -> None:
    """(reset, by the local side) from the engine's own words for each way to end."""
    assert how_closed({"reason": reason, "cause": cause}) == expected
