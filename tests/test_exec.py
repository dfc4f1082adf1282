"""The exec and sh behaviours (`?exec=COMMAND`, `?sh=COMMAND`) against real peers: a program
per connection with the peer on its stdin and stdout, its stderr in the Log, its exit
ending the connection with its status, and the connection's end ending the program."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
from fault_helpers import (
    accept,
    answered_then_sent_on,
    listen,
    transcript_close,
    transcript_records,
    transcript_streams,
)
from peers import Collector, recv_exactly, recv_until_eof, short_temp_dir, wait_until

from workbench.behaviour_options import check_behaviours
from workbench.protocol import events as ev
from workbench.protocol.addresses import EndpointError
from workbench.protocol.endpoints import parse_url
from workbench.protocol.enums import CloseCause, Origin

WAIT = 30.0


def url(kind: str, command: str, more: str = "") -> str:
    """A TCP listener's URL running `command` (kind: exec or sh)."""
    return f"tcp://127.0.0.1:0?{more}{kind}={quote(command, safe='')}"


UPPER = url("exec", "tr a-z A-Z")


def notes(events: Collector, cid: str) -> list[str]:
    return [e.message for e in events.of(ev.Note) if e.source == cid]


def wait_note(events: Collector, cid: str, pattern: str) -> str:
    found = events.wait_until(
        lambda: next((t for t in notes(events, cid) if re.search(pattern, t)), None),
        WAIT,
        f"a note on {cid} matching {pattern!r}",
    )
    assert isinstance(found, str)
    return found


def program_pid(events: Collector, cid: str) -> int:
    return int(wait_note(events, cid, r"started \(pid \d+\)").rsplit(" ", 1)[1].rstrip(")"))


def gone(pid: int) -> bool:
    """The program is gone and reaped (no zombie left): nothing answers to its pid."""
    return not os.path.exists(f"/proc/{pid}")


def dead(pid: int) -> bool:
    """A process of the program's (not sockbench's child: its reaping is init's) has ended."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed")
def test_a_socat_client_gets_its_bytes_back_in_upper_case(make_engine, tmp_path: Path) -> None:
    transcript = tmp_path / "t.jsonl"
    engine, events = make_engine(transcript_path=str(transcript))
    _lid, port = listen(engine, events, UPPER)
    done = subprocess.run(
        ["socat", "-t", "5", "-", f"TCP:127.0.0.1:{port}"],
        input=b"hello, exec\n",
        capture_output=True,
        timeout=WAIT,
        check=False,
    )
    assert done.stdout == b"HELLO, EXEC\n"
    (closed,) = events.wait_until(lambda: events.of(ev.ConnectionClosed), WAIT, "the close")
    assert (closed.reason, closed.cause) == ("exec: tr exited with status 0", CloseCause.BEHAVIOUR)
    assert [(e.origin, e.data) for e in events.data(closed.cid, outgoing=True)] == [
        (Origin.EXEC, b"HELLO, EXEC\n")
    ]
    engine.stop()
    streams = transcript_streams(transcript)
    assert streams[closed.cid, "in"] == b"hello, exec\n"
    assert streams[closed.cid, "out"] == b"HELLO, EXEC\n"
    outs = [r for r in transcript_records(transcript) if r["event"] == "data" and r["dir"] == "out"]
    assert {r["origin"] for r in outs} == {"exec"}
    assert transcript_close(transcript, closed.cid)["reason"] == "exec: tr exited with status 0"


def test_sh_runs_through_the_shell_and_its_exit_status_ends_the_connection(make_engine) -> None:
    engine, events = make_engine()
    lid, port = listen(engine, events, url("sh", "echo hi; exit 3"))
    client, cid = accept(events, lid, port)
    with client:
        # What it wrote before it exited reaches the peer before the connection ends.
        assert recv_until_eof(client) == b"hi\n"
    closed = events.wait_closed(cid)
    assert (closed.reason, closed.cause) == ("sh: sh exited with status 3", CloseCause.BEHAVIOUR)


def test_what_a_program_wrote_reaches_a_client_that_sends_on_after_it_exits(make_engine) -> None:
    """`head -n 1` answers the first line and exits while the client still sends: closing
    with those bytes unread answered with a reset, which dropped the answer at the client.
    The exit ends sockbench's side; what the client sends after is recorded, not lost."""
    engine, events = make_engine()
    lid, port = listen(engine, events, url("exec", "head -n 1"))
    for cid in answered_then_sent_on(events, lid, port, b"first\n", b"first\n", tries=5):
        closed = events.wait_closed(cid)
        assert closed.reason == "exec: head exited with status 0"
        assert events.size(cid, outgoing=False) == 6 + 5 * 2000


def test_a_program_killed_by_a_signal_says_which(make_engine) -> None:
    engine, events = make_engine()
    lid, port = listen(engine, events, url("sh", "kill -9 $$"))
    client, cid = accept(events, lid, port)
    with client:
        assert recv_until_eof(client) == b""
    reason = events.wait_closed(cid).reason
    assert reason == "sh: sh killed by signal 9 (SIGKILL)"


def test_the_environment_names_the_connection_and_its_peer(make_engine) -> None:
    engine, events = make_engine()
    command = "echo $SOCKBENCH_CONN $SOCKBENCH_LISTENER $SOCKBENCH_TRANSPORT $SOCKBENCH_PEER"
    lid, port = listen(engine, events, url("sh", command))
    client, cid = accept(events, lid, port)
    with client:
        me = "{}:{}".format(*client.getsockname())
        assert recv_until_eof(client) == f"{cid} {lid} tcp {me}\n".encode()


def test_the_peers_eof_closes_the_programs_stdin_and_its_answer_still_comes(make_engine) -> None:
    """sort answers only at the end of its input: the connection stays open after the peer's
    EOF (past the usual grace) until the program has answered and exited."""
    engine, events = make_engine()
    lid, port = listen(engine, events, url("sh", "sleep 1; sort"))
    client, cid = accept(events, lid, port)
    with client:
        client.sendall(b"b\nc\na\n")
        client.shutdown(socket.SHUT_WR)
        assert recv_until_eof(client) == b"a\nb\nc\n"
    assert events.wait_closed(cid).reason == "sh: sh exited with status 0"
    # The Log says so, rather than "closing in 0.5 s".
    (eof,) = [e for e in events.of(ev.HalfClosed, cid) if not e.outgoing]
    assert eof.closes_after is None
    wait_note(events, cid, f"^sh: sh's input ended; {cid} ends when sh exits$")


def test_closing_the_connection_ends_the_program(make_engine) -> None:
    engine, events = make_engine()
    lid, port = listen(engine, events, url("exec", "cat"))
    client, cid = accept(events, lid, port)
    pid = program_pid(events, cid)
    with client:
        client.sendall(b"ping")
        assert recv_exactly(client, 4) == b"ping"
        engine.close(cid)
        events.wait_closed(cid)
    wait_until(lambda: gone(pid), WAIT, f"cat (pid {pid}) to end")
    assert "SIGTERM" in wait_note(events, cid, rf"exec: cat \(pid {pid}\) ended with {cid}")


def test_a_program_that_ignores_sigterm_is_killed_after_the_grace(make_engine) -> None:
    engine, events = make_engine()
    ignores_term = "trap '' TERM; echo ready; while :; do sleep 0.1; done"
    lid, port = listen(engine, events, url("sh", ignores_term))
    client, cid = accept(events, lid, port)
    pid = program_pid(events, cid)
    with client:
        assert recv_exactly(client, 6) == b"ready\n"
        engine.close(cid)
        events.wait_closed(cid)
    wait_until(lambda: gone(pid), WAIT, f"sh (pid {pid}) to be killed")
    assert "SIGKILL" in wait_note(events, cid, rf"\(pid {pid}\) ended with {cid}")


def test_a_reset_ends_the_program_and_its_children(make_engine) -> None:
    engine, events = make_engine()
    lid, port = listen(engine, events, url("sh", "sleep 300 & echo $!; wait"))
    client, cid = accept(events, lid, port)
    pid = program_pid(events, cid)
    with client:
        child = int(client.makefile("rb").readline())
        engine.reset(cid)
        events.wait_closed(cid)
    wait_until(lambda: gone(pid) and dead(child), WAIT, "sh and its sleep to end")


def test_a_child_that_left_the_session_does_not_hold_the_end_for_ever(make_engine) -> None:
    """It keeps the program's stdout open after the program exits: the connection stays (what
    it writes still goes to the peer) until closed, and then it is not waited for."""
    engine, events = make_engine()
    lid, port = listen(engine, events, url("sh", "setsid sleep 60 & echo $!"))
    client, cid = accept(events, lid, port)
    with client:
        escaped = int(client.makefile("rb").readline())
        try:
            wait_until(lambda: os.getsid(escaped) == escaped, WAIT, "sleep in its own session")
            engine.close(cid)
            events.wait_closed(cid)
            wait_note(events, cid, rf"^sh: sh \(pid \d+\) ended with {cid}: ")
        finally:
            os.kill(escaped, signal.SIGKILL)


def test_closing_the_listener_ends_its_programs(make_engine) -> None:
    engine, events = make_engine()
    lid, port = listen(engine, events, url("exec", "cat"))
    client, cid = accept(events, lid, port)
    pid = program_pid(events, cid)
    with client:
        engine.close_listener(lid)
        events.wait_closed(cid)
    wait_until(lambda: gone(pid), WAIT, "cat to end with its listener")


def test_stopping_the_engine_ends_every_program(make_engine) -> None:
    engine, events = make_engine()
    lid, port = listen(engine, events, url("sh", "trap '' TERM; cat"))
    pids = []
    clients = []
    for _ in range(3):
        client, cid = accept(events, lid, port)
        clients.append(client)
        pids.append(program_pid(events, cid))
    engine.stop()
    for client in clients:
        client.close()
    for pid in pids:
        assert gone(pid), f"pid {pid} outlived the engine"


def test_the_program_is_in_a_session_of_its_own(make_engine) -> None:
    """The user's terminal signals (ctrl+c goes to the foreground process group) do not reach
    it, and its process group is what is ended."""
    engine, events = make_engine()
    lid, port = listen(engine, events, url("exec", "cat"))
    client, cid = accept(events, lid, port)
    pid = program_pid(events, cid)
    with client:
        assert os.getsid(pid) == pid
        assert os.getpgid(pid) == pid != os.getpgid(0)


def test_stderr_lines_are_in_the_log(make_engine) -> None:
    engine, events = make_engine()
    lid, port = listen(engine, events, url("sh", "echo oops >&2; echo out"))
    client, cid = accept(events, lid, port)
    with client:
        assert recv_until_eof(client) == b"out\n"
    wait_note(events, cid, "^sh stderr: oops$")
    # stderr is not data: none of it reached the peer or the data records.
    assert events.sent(cid) == b"out\n"


def test_a_program_spewing_stderr_is_bounded_in_the_log(make_engine) -> None:
    engine, events = make_engine()
    spew = "i=0; while [ $i -lt 5000 ]; do echo line $i >&2; i=$((i+1)); done"
    lid, port = listen(engine, events, url("sh", spew))
    client, cid = accept(events, lid, port)
    with client:
        assert recv_until_eof(client) == b""
    events.wait_closed(cid)
    said = wait_note(events, cid, r"more lines not shown")
    assert said.startswith("sh stderr: ")
    stderr_notes = [t for t in notes(events, cid) if t.startswith("sh stderr:")]
    assert len(stderr_notes) < 1000  # 5,000 lines came, in well under a minute


def test_the_listening_line_says_what_runs(make_engine) -> None:
    engine, events = make_engine()
    lid = engine.listen(parse_url(UPPER, for_listen=True))
    opened = events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid)
    assert "exec: runs 'tr a-z A-Z' per connection" in opened.notes


def test_greet_then_exec_greets_first(make_engine) -> None:
    engine, events = make_engine()
    lid, port = listen(engine, events, url("exec", "tr a-z A-Z", more="greet=hi\\n&"))
    client, cid = accept(events, lid, port)
    with client:
        client.sendall(b"abc")
        client.shutdown(socket.SHUT_WR)
        assert recv_until_eof(client) == b"hi\nABC"
    events.wait_closed(cid)
    runs = [(e.origin, e.data) for e in events.data(cid, outgoing=True)]
    assert runs == [(Origin.GREET, b"hi\n"), (Origin.EXEC, b"ABC")]


def test_a_unix_stream_listener_runs_the_program_too(make_engine) -> None:
    engine, events = make_engine()
    with short_temp_dir() as folder:
        path = folder / "x.sock"
        plain = parse_url(f"unix://{path}", for_listen=True)
        options = dataclasses.replace(plain.options, exec_command="tr a-z A-Z")
        lid = engine.listen(dataclasses.replace(plain, options=options))
        events.wait_for(lambda e: isinstance(e, ev.ListenerOpened) and e.lid == lid)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(WAIT)
            client.connect(str(path))
            client.sendall(b"unix")
            client.shutdown(socket.SHUT_WR)
            assert recv_until_eof(client) == b"UNIX"


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("exec=tr%20'a-z", "exec 'tr 'a-z' cannot be split into words: no closing quotation"),
        ("exec=no-such-program%20x", "the program 'no-such-program' is not found on PATH"),
        ("exec=/nonexistent/prog", "the program '/nonexistent/prog' is not an executable file"),
        ("exec=%20", "exec= needs a command"),
        ("sh=%20", "sh= needs a command"),
        ("sh=cat%00x", "a command cannot hold a NUL byte (%00)"),
        ("exec=cat&echo=1", "echo=1 and exec= do not go together"),
        ("exec=cat&sh=cat", "exec= and sh= do not go together: each runs a program per"),
    ],
)
def test_a_command_that_cannot_run_is_refused_before_the_listener_opens(
    query: str, said: str
) -> None:
    endpoint = parse_url(f"tcp://127.0.0.1:0?{query}", for_listen=True)
    with pytest.raises(EndpointError, match=re.escape(said)):
        check_behaviours(endpoint.options)


def test_a_connection_of_yours_runs_a_program_for_its_server(make_engine) -> None:
    """`ncat -e` in connect mode: the server talks to the program, every byte in the Log."""
    engine, events = make_engine()
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(30)
        port = server.getsockname()[1]
        engine.connect(parse_url(f"tcp://127.0.0.1:{port}?exec=tr%20a-z%20A-Z", for_listen=False))
        peer, _ = server.accept()
        with peer:
            peer.settimeout(30)
            peer.sendall(b"hello\n")
            peer.shutdown(socket.SHUT_WR)
            assert recv_until_eof(peer) == b"HELLO\n"
    (closed,) = events.wait_until(lambda: events.of(ev.ConnectionClosed))
    assert "exited with status 0" in closed.reason
