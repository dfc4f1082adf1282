"""The files sockbench writes, attacked by another user of the machine (`nobody`, through
setpriv) in a shared sticky directory like /tmp.

O_NOFOLLOW only guards a path's last component. A link planted by another user at a
*directory* on the way (`/tmp/x` -> a directory of yours) must not be followed either: it
would make `--transcript /tmp/x/t.jsonl` append to a file of yours of that name and an
export `/tmp/x/p` replace `p.in.bin` there. Links that belong to the user (or root) are
followed as before, `..` included; the lock holds whatever path names the file.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import EngineFactory
from test_file_safety import plant, run_sockbench
from test_transcript_thread import (
    FLOOD_BYTES,
    WAIT,
    accept,
    flood,
    start_listener,
)
from tmux_helpers import RUN_TIMEOUT, Tmux, read_line, sockbench_command, wait_until
from unprivileged import require_nobody, run_as_nobody

from workbench.engine import Engine, EventBridge
from workbench.files import TranscriptInUse, open_for_reading
from workbench.transcript.export import (
    TranscriptSession,
    export_from_log,
    export_from_transcript,
    save_lines,
)
from workbench.transcript.reader import copy_connection

SECRET = b"root's own file: must stay as it is\n"
CHILD_TIMEOUT = 20.0


@pytest.fixture
def private(tmp_path: Path) -> Path:
    """A directory of the user's with files the attacker would like written."""
    directory = tmp_path / "private"
    directory.mkdir(mode=0o700)
    for name in ("t.jsonl", "p.in.bin", "p.out.bin", "rows.txt"):
        (directory / name).write_bytes(SECRET)
        (directory / name).chmod(0o600)
    return directory


def untouched(directory: Path) -> None:
    assert sorted(p.name for p in directory.iterdir()) == [
        "p.in.bin",
        "p.out.bin",
        "rows.txt",
        "t.jsonl",
    ], "a file appeared in the directory the link points to"
    for path in directory.iterdir():
        assert path.read_bytes() == SECRET, f"{path} was written through the planted link"


def test_a_transcript_through_a_directory_link_of_another_user_is_refused(
    shared: Path, private: Path
) -> None:
    plant(shared / "x", private)
    name = shared / "x" / "t.jsonl"
    result = run_sockbench("--transcript", str(name), "--listen", "tcp://127.0.0.1:0")
    untouched(private)
    assert result.returncode == 2, result
    assert (
        f"sockbench: error: cannot write transcript {name}: x is a symbolic link of another "
        in (result.stderr)
    )
    assert "link of another user" in result.stderr


def test_a_new_transcript_is_not_created_through_a_directory_link(
    shared: Path, private: Path
) -> None:
    plant(shared / "x", private)
    with pytest.raises(PermissionError, match="symbolic link of another user"):
        Engine(EventBridge(), transcript_path=str(shared / "x" / "new.jsonl"))
    untouched(private)


def test_a_link_in_a_directory_another_user_owns_is_not_followed(
    shared: Path, private: Path
) -> None:
    """`/tmp/x` a real directory of nobody's, with a link `y` in it: nobody decides where
    `/tmp/x/y` leads, so sockbench does not go there."""
    require_nobody()
    made = run_as_nobody(
        "-c",
        "import os, sys; os.mkdir(sys.argv[1]); os.symlink(sys.argv[2], sys.argv[1] + '/y')",
        str(shared / "x"),
        str(private),
    )
    assert made.returncode == 0, made.stderr
    with pytest.raises(PermissionError, match="y is a symbolic link of another user"):
        Engine(EventBridge(), transcript_path=str(shared / "x" / "y" / "t.jsonl"))
    untouched(private)


def test_an_export_and_a_save_through_a_directory_link_are_refused(
    shared: Path, private: Path
) -> None:
    plant(shared / "x", private)
    with pytest.raises(PermissionError, match="symbolic link of another user"):
        export_from_log("C1", str(shared / "x" / "p"), [("in", b"from a peer")], True)
    with pytest.raises(PermissionError, match="symbolic link of another user"):
        save_lines(["a row"], str(shared / "x" / "rows.txt"))
    untouched(private)
    assert sorted(p.name for p in shared.iterdir()) == ["x"], "a file was left behind"


def test_a_file_is_not_read_back_through_a_directory_link(shared: Path, private: Path) -> None:
    """What export reads (the transcript) is not taken from a place another user chose."""
    plant(shared / "x", private)
    with pytest.raises(PermissionError, match="symbolic link of another user"):
        open_for_reading(str(shared / "x" / "t.jsonl"))


def test_links_of_the_user_on_the_way_are_followed(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "mine").symlink_to(real)
    (tmp_path / "relative").symlink_to("real")
    done = export_from_log("C1", str(tmp_path / "mine" / ".." / "relative" / "p"), [], True)
    assert done.received_bytes == 0
    engine = Engine(EventBridge(), transcript_path=str(tmp_path / "mine" / "t.jsonl"))
    engine.stop()
    assert sorted(p.name for p in real.iterdir()) == ["p.in.bin", "p.out.bin", "t.jsonl"]
    with open_for_reading(str(tmp_path / "relative" / "t.jsonl")) as file:
        assert b'"event":"session"' in file.read()


def test_a_loop_of_links_is_refused_in_words(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(OSError, match="too many links"):
        save_lines(["x"], str(tmp_path / "a" / "rows.txt"))


def test_an_export_over_a_directory_is_refused_and_leaves_no_temporary_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "p.in.bin").mkdir()
    with pytest.raises(IsADirectoryError):
        export_from_log("C1", str(tmp_path / "p"), [("in", b"x")], True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.in.bin"]


def test_an_export_over_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    """Neither written into (it would block) nor replaced (its reader's pipe would be gone,
    as /dev/null would be for root): refused in words, the FIFO left as it was."""
    os.mkfifo(tmp_path / "p.in.bin")
    with pytest.raises(OSError, match="it is a FIFO, not a file"):
        export_from_log("C1", str(tmp_path / "p"), [("in", b"bytes")], True)
    assert stat.S_ISFIFO((tmp_path / "p.in.bin").stat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.in.bin"]


# --- one writer per transcript, whatever names it ---


def test_the_lock_holds_under_another_path_to_the_same_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path)
    first = Engine(EventBridge(), transcript_path=str(tmp_path / "t.jsonl"))
    try:
        for other in (
            tmp_path / "sub" / ".." / "t.jsonl",
            tmp_path / "alias" / "t.jsonl",
            Path(os.path.relpath(tmp_path / "t.jsonl")),
        ):
            with pytest.raises(TranscriptInUse):
                Engine(EventBridge(), transcript_path=str(other))
    finally:
        first.stop()


HOLD = """\
import sys, time
from workbench.engine import Engine, EventBridge
engine = Engine(EventBridge(), transcript_path=sys.argv[1])
print("held", flush=True)
time.sleep(60)
"""


def test_a_lock_left_by_a_killed_run_does_not_hold_the_next(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "held"
        with pytest.raises(TranscriptInUse, match=f"pid {child.pid}"):
            Engine(EventBridge(), transcript_path=str(path))
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(CHILD_TIMEOUT)
    Engine(EventBridge(), transcript_path=str(path)).stop()


# --- without a terminal ---


@pytest.mark.skipif(shutil.which("nohup") is None, reason="nohup is not installed")
def test_the_real_nohup_is_refused_in_words_not_a_crash_that_exits_0(
    tmux: Tmux, tmp_path: Path
) -> None:
    """`nohup sockbench` in a terminal: nohup leaves it no terminal (input from an unreadable
    file, output to nohup.out). It crashed in Textual's input thread, its screen and a
    traceback went to nohup.out, and it exited 0; now it says why, exit status 2."""
    status = tmp_path / "status"
    command = shlex.join(["nohup", *sockbench_command("--listen", "tcp://127.0.0.1:0")])
    conf = tmp_path / "tmux.conf"
    conf.write_text("")
    script = f"cd {shlex.quote(str(tmp_path))} && {command}; echo $? > {shlex.quote(str(status))}"
    tmux.start(conf, shlex.join(["bash", "-c", script + "; sleep 30"]))
    wait_until(lambda: read_line(status), "sockbench under nohup to end", RUN_TIMEOUT)
    out = (tmp_path / "nohup.out").read_text(errors="replace")
    assert read_line(status) == "2\n", out[-2000:]
    assert "sockbench: error: standard input is not a terminal" in out
    assert "Traceback" not in out


def test_input_that_is_not_a_terminal_is_refused_before_any_socket(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_sockbench("--listen", f"tcp://127.0.0.1:{port}")
    assert result.returncode == 2, result
    assert result.stderr.startswith("sockbench: error: standard input is not a terminal")


# --- quitting while the transcript is behind ---


class SlowReader(threading.Thread):
    """A FIFO's reader that is alive but slow: 64 KiB every 20 ms (about 3 MiB/s)."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.done = threading.Event()

    def run(self) -> None:
        try:
            while not self.done.wait(0.02):
                with contextlib.suppress(BlockingIOError):
                    if os.read(self.fd, 64 * 1024) == b"":
                        return
        finally:
            os.close(self.fd)


def send_quietly(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # reset when the engine stops
        sock.sendall(data)


def test_quitting_with_a_slow_fifo_ends_in_time_and_says_what_was_lost(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    """The file takes bytes, slowly: 64 MiB behind would take it 20 s. Quitting waited as long
    as it took any; the app's stop gives up after 5 s and the process exited with the writer
    thread mid-record: a cut transcript, and not a word said (exit 0)."""
    fifo = tmp_path / "t.fifo"
    os.mkfifo(fifo)
    reader = SlowReader(fifo)
    reader.start()
    try:
        engine, events = make_engine(transcript_path=str(fifo))
        lid, port = start_listener(engine, events)
        client, _cid = accept(events, lid, port)
        data = flood(FLOOD_BYTES)
        threading.Thread(target=send_quietly, args=(client, data), daemon=True).start()
        writer = engine.transcript
        assert writer is not None
        deadline = time.monotonic() + WAIT
        while not writer.behind:
            assert time.monotonic() < deadline, "the transcript never fell behind"
            time.sleep(0.05)
        started = time.monotonic()
        engine.stop()  # as the app does when it quits
        took = time.monotonic() - started
        assert engine._thread is not None
        assert not engine._thread.is_alive(), (
            f"stop returned after {took:.1f} s with the transcript still being written"
        )
        assert engine.transcript_error is not None, "nothing said about what was not written"
        assert "they are lost" in engine.transcript_error
        client.close()
    finally:
        reader.done.set()
        reader.join(WAIT)


# --- files sent to a peer ---


def test_a_file_to_send_planted_as_a_link_by_another_user_is_not_sent(
    make_engine: EngineFactory, shared: Path, private: Path
) -> None:
    """`/tmp/payload.bin` planted by nobody as a link to a file of yours: sending it (the user
    meant the file in /tmp) sent your file to the peer, who may be the one who planted it."""
    link = shared / "payload.bin"
    plant(link, private / "t.jsonl")
    engine, events = make_engine()
    lid, port = start_listener(engine, events)
    client, cid = accept(events, lid, port)
    with client:
        engine.send_file(cid, str(link))
        error = events.wait_error(cid, WAIT)
        assert "symbolic link of another user" in error.message
        engine.half_close(cid)
        client.settimeout(WAIT)
        received = b""
        while chunk := client.recv(65536):
            received += chunk
    assert SECRET not in received, "the file the link points to was sent to the peer"
    assert received == b""


def test_a_file_to_send_through_a_link_of_the_user_is_sent(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    (tmp_path / "data.bin").write_bytes(b"the user's own bytes")
    (tmp_path / "mine").symlink_to(tmp_path)
    (tmp_path / "link.bin").symlink_to("mine/data.bin")
    engine, events = make_engine()
    lid, port = start_listener(engine, events)
    client, cid = accept(events, lid, port)
    with client:
        engine.send_file(cid, str(tmp_path / "link.bin"))
        client.settimeout(WAIT)
        received = b""
        while len(received) < 20 and (chunk := client.recv(65536)):
            received += chunk
    assert received == b"the user's own bytes"


# --- export while the connection goes on ---


def test_an_export_holds_what_was_recorded_when_it_started_not_what_came_after(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    """Export streamed the transcript (`copy_connection`) to its end, wherever that was by
    then: bytes that arrived after it started went in too, and with a flood on, the end kept
    moving (an export that may never end, files that grow with the flood)."""
    path = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(path))
    lid, port = start_listener(engine, events)
    client, cid = accept(events, lid, port)
    got = bytearray()
    with client:
        client.sendall(b"before the export\n")
        events.wait_received(cid, 18, WAIT)
        assert engine.flush_transcript(WAIT)
        writer = engine.transcript
        assert writer is not None
        more = [b"after it started\n"]

        def received(data: bytes) -> None:  # the export is under way: the peer goes on
            got.extend(data)
            if more:
                client.sendall(more.pop())
                events.wait_received(cid, 18 + 17, WAIT)
                assert engine.flush_transcript(WAIT)

        copy_connection(
            str(path), cid, writer.session_id, received, got.extend, got.clear,
            start=writer.session_offset,
        )  # fmt: skip
    assert not more
    assert bytes(got) == b"before the export\n"


def test_an_export_is_cancelled_while_it_reads_past_other_connections(tmp_path: Path) -> None:
    """Quitting cancels an export (its temporary files go): the cancel was looked at only
    between records of the exported connection, so one that scanned past a big flood of
    another kept the quit waiting to the end of the file."""
    path = tmp_path / "t.jsonl"
    head = b'{"ts":1.0,"event":"session","conn":"","version":"0","session_id":"abcd"}\n'
    line = b'{"ts":1.0,"event":"data","conn":"C1","dir":"in","size":3,"data":"eHh4"}\n'
    path.write_bytes(head + line * 20_000)
    asked: list[int] = []

    def cancelled() -> bool:  # quitting, from the second look on
        asked.append(1)
        return len(asked) > 1

    session = TranscriptSession(str(path), "abcd")
    with pytest.raises(InterruptedError):
        export_from_transcript("C2", str(tmp_path / "p"), session, cancelled)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.jsonl"], "temporary files left"


def test_a_second_sockbench_on_the_same_fifo_is_refused(tmp_path: Path) -> None:
    """Two writers on one FIFO interleave their records mid-line (a write over PIPE_BUF is
    not atomic): the lock is taken on a FIFO too."""
    fifo = tmp_path / "t.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        first = Engine(EventBridge(), transcript_path=str(fifo))
        try:
            with pytest.raises(TranscriptInUse):
                Engine(EventBridge(), transcript_path=str(fifo)).stop()
        finally:
            first.stop()
        Engine(EventBridge(), transcript_path=str(fifo)).stop()  # free again
    finally:
        os.close(reader)
