"""Reading a transcript back survives a cut line and never joins two sessions (issue 12,
point 1): the reader module, the README's own example, and Export (e) after a real kill -9
mid-flood and a restart on the same file.

A cut line is what a run killed mid-write leaves: this version's writer starts the next
session on a line of its own; an older one appended the next `session` record to the cut
line (the issue's case: exporting the new C1, 18 bytes received, wrote 210,065,938 bytes of
the previous session's traffic and said it was exact).
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from peers import connect_client, recv_exactly
from test_exit_signals import FLOOD_ON_DISK, Flood, Wrapped, listen_port
from tmux_helpers import Tmux, wait_until
from ui_helpers import (
    blocking,
    focus,
    make_app,
    run_app,
    type_line,
    wait_listener_port,
    wait_notified,
    wait_open_connection,
    wait_ui,
)

from workbench.transcript.export import export_connection
from workbench.ui.log_dialogs import PathDialog

README = Path(__file__).resolve().parents[1] / "README.md"
NEW_LINE = b"18 bytes, new run\n"  # the new C1: 18 bytes received
assert len(NEW_LINE) == 18


def session(number: int, **extra: object) -> bytes:
    record = {"ts": float(number), "event": "session", "conn": "", "version": "0.1.0", **extra}
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


def data(
    cid: str, direction: str, payload: bytes, ts: float = 1.0, origin: str | None = None
) -> bytes:
    """A data record as the writer lays it out: `origin` right after `dir` when not you."""
    body = base64.b64encode(payload).decode()
    marked = f'"origin":"{origin}",' if origin is not None else ""
    return (
        f'{{"ts":{ts:.6f},"event":"data","conn":"{cid}","dir":"{direction}",{marked}'
        f'"size":{len(payload)},"data":"{body}"}}\n'
    ).encode()


def cut(line: bytes, keep: int = 40) -> bytes:
    """The first bytes of a record, as a kill mid-write leaves them (no newline)."""
    return line[:keep]


OLD_BYTES = b"previous session's traffic " * 1000


def older_writer_file(path: Path) -> None:
    """An older sockbench: the next session's record appended to the cut line."""
    path.write_bytes(
        session(1)
        + data("C1", "in", OLD_BYTES)
        + cut(data("C1", "in", b"x" * 5000))
        + session(2)
        + data("C1", "in", NEW_LINE)
        + data("C1", "out", b"ok\n")
    )


def this_writer_file(path: Path) -> None:
    """This version: the cut line ends, the next session starts on its own line."""
    path.write_bytes(
        session(1, session_id="aaaa")
        + data("C1", "in", OLD_BYTES)
        + cut(data("C1", "in", b"x" * 5000))
        + b"\n"
        + session(2, session_id="bbbb", previous_cut=True)
        + data("C1", "in", NEW_LINE)
        + data("C1", "out", b"ok\n")
    )


@pytest.mark.parametrize("write", [older_writer_file, this_writer_file])
def test_an_export_after_a_cut_session_takes_only_the_new_session(
    tmp_path: Path, write: Any
) -> None:
    path = tmp_path / "t.jsonl"
    write(path)
    done = export_connection("C1", str(tmp_path / "c1"), [], str(path), dropped=0)
    assert done.source == "transcript"
    assert done.received.read_bytes() == NEW_LINE, "the previous session's bytes were joined"
    assert done.sent.read_bytes() == b"ok\n"
    assert done.complete


def test_the_reader_skips_cut_lines_counts_them_and_finds_every_session(tmp_path: Path) -> None:
    from workbench.transcript.reader import Stats, connection_bytes, sessions

    path = tmp_path / "t.jsonl"
    older_writer_file(path)
    stats = Stats()
    found = sessions(str(path), stats)
    assert [s.number for s in found] == [1, 2]
    assert (stats.skipped, stats.recovered) == (1, 1)
    assert connection_bytes(str(path), "C1", 1) == (OLD_BYTES, b"")
    assert connection_bytes(str(path), "C1", 2) == (NEW_LINE, b"ok\n")
    assert connection_bytes(str(path), "C1") == (NEW_LINE, b"ok\n")  # the last session

    this_writer_file(path)
    assert [s.session_id for s in sessions(str(path))] == ["aaaa", "bbbb"]
    assert [s.previous_cut for s in sessions(str(path))] == [False, True]
    assert connection_bytes(str(path), "C1", "aaaa") == (OLD_BYTES, b"")
    assert connection_bytes(str(path), "C1", "bbbb") == (NEW_LINE, b"ok\n")


def test_an_export_of_a_named_session_never_reads_into_the_next(tmp_path: Path) -> None:
    """A session that is not the last: exported alone, and a cut line inside it says the
    export is incomplete."""
    from workbench.transcript.export import TranscriptSession, export_from_transcript

    path = tmp_path / "t.jsonl"
    this_writer_file(path)
    first = export_from_transcript("C1", str(tmp_path / "a"), TranscriptSession(str(path), "aaaa"))
    assert first.received.read_bytes() == OLD_BYTES
    assert not first.complete and "cut or damaged" in first.why_incomplete
    offset = path.read_bytes().index(session(2, session_id="bbbb", previous_cut=True))
    second = export_from_transcript(
        "C1", str(tmp_path / "b"), TranscriptSession(str(path), "bbbb", offset)
    )
    assert second.received.read_bytes() == NEW_LINE
    assert second.complete


def readme_reader() -> str:
    """The README's Python example that rebuilds each connection's bytes, without its last
    lines (which print the streams of a file named session.jsonl)."""
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    (block,) = [b for b in blocks if "def streams(" in b]
    return block.split("\nfor ")[0]


@pytest.mark.parametrize("write", [older_writer_file, this_writer_file])
def test_the_readme_reader_survives_a_cut_line_and_keeps_sessions_apart(
    tmp_path: Path, write: Any
) -> None:
    path = tmp_path / "t.jsonl"
    write(path)
    namespace: dict[str, Any] = {}
    exec(compile(readme_reader(), "README.md", "exec"), namespace)
    found = namespace["streams"](str(path))
    assert found[(1, "C1", "in")] == OLD_BYTES
    assert found[(2, "C1", "in")] == NEW_LINE
    assert found[(2, "C1", "out")] == b"ok\n"


# --- the real thing: kill -9 mid-flood, a restart on the same file, Export (e) ---


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses Linux's /proc")
def test_kill_9_mid_flood_then_a_restart_exports_only_the_new_sessions_bytes(
    tmux: Tmux, tmp_path: Path
) -> None:
    transcript = tmp_path / "flood.jsonl"
    run = Wrapped(tmux, tmp_path, "--listen", "tcp://127.0.0.1:0", "--transcript", str(transcript))
    flood = Flood(listen_port(transcript))
    flood.start()
    try:
        wait_until(lambda: transcript.stat().st_size > FLOOD_ON_DISK, "the flood in the transcript")
        os.kill(run.pid, signal.SIGKILL)
        assert run.wait_status() == -signal.SIGKILL
    finally:
        flood.stop()
    killed = transcript.read_bytes()
    if killed.endswith(b"\n"):
        # The kill came between two writes: cut the last record as a kill during a write
        # does (the kernel stops a write to a file between pages for SIGKILL).
        last = killed.rindex(b"\n", 0, len(killed) - 1) + 1
        killed = killed[: last + (len(killed) - last) // 2]
        transcript.write_bytes(killed)
    flooded = len(killed)

    async def scenario(pilot: Any) -> None:
        app = pilot.app
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        conn = await wait_open_connection(pilot)
        assert conn.cid == "C1"  # the same id as the flooded connection of the killed run
        client.sendall(NEW_LINE)
        await wait_ui(pilot, lambda: conn.bytes_in == len(NEW_LINE), "the 18 bytes")
        await type_line(pilot, "ok")
        assert await blocking(recv_exactly, client, 3) == b"ok\n"

        await focus(pilot, app.log_view)
        await pilot.press("e")
        await wait_ui(pilot, lambda: isinstance(app.screen, PathDialog), "the export dialog")
        app.screen.query_one("#path").value = str(tmp_path / "c1")
        await pilot.press("enter")
        await wait_notified(pilot, "wrote ", timeout=30)
        notice = next(str(n.message) for n in app._notifications if "wrote" in str(n.message))
        assert "from the transcript" in notice and "incomplete" not in notice, notice
        client.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"], transcript=str(transcript)), scenario)
    assert (tmp_path / "c1.in.bin").read_bytes() == NEW_LINE
    assert (tmp_path / "c1.out.bin").read_bytes() == b"ok\n"

    # The README's reader reads the file too: the killed session's flood, then the new one.
    namespace: dict[str, Any] = {}
    exec(compile(readme_reader(), "README.md", "exec"), namespace)
    found = namespace["streams"](str(transcript))
    assert len(found[(1, "C1", "in")]) > flooded // 2
    assert found[(2, "C1", "in")] == NEW_LINE
