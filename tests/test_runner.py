"""`sockbench run FILE`: a session file run without the screen, as CI runs it: the real
command in a subprocess against real peers on loopback (a scripted SMTP-like server, socat
clients), its exit status, its stdout (the Log as text lines, or JSON Lines) and stderr."""

from __future__ import annotations

import base64
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from peers import (
    DEFAULT_TIMEOUT,
    EchoServer,
    ThreadedServer,
    closed_port,
    requires_socat,
    socat_client,
    wait_until,
)
from smtp_peer import SmtpLikeServer

RUN_TIMEOUT = 60.0


SMTP_STEPS = """
[[connect.steps]]
expect = '^220 '
timeout = 5

[[connect.steps]]
send = 'EHLO sockbench.test\\r\\n'

[[connect.steps]]
expect = '(?m)^250 '
timeout = {ehlo_timeout}

[[connect.steps]]
send = 'QUIT\\r\\n'

[[connect.steps]]
expect = '^221'
"""


def smtp_session(path: Path, port: int, ehlo_timeout: float = 5) -> Path:
    path.write_text(
        f'[[connect]]\nname = "smtp"\nurl = "tcp://127.0.0.1:{port}"\n'
        + SMTP_STEPS.format(ehlo_timeout=ehlo_timeout)
    )
    return path


def run(*args: str, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", "run", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_a_sequence_that_passes_exits_0_and_prints_the_log(tmp_path: Path) -> None:
    with SmtpLikeServer() as server:
        result = run(str(smtp_session(tmp_path / "smtp.toml", server.port)))
    assert result.returncode == 0, result.stderr
    assert server.lines == [b"EHLO sockbench.test", b"QUIT"]
    out = result.stdout
    # The Log's rows as the pane shows them: what arrived, what the sequence sent.
    assert "C1    ← 220 mail.test ESMTP ready\\r\\n" in out
    assert "C1    ↺ sequence smtp: EHLO sockbench.test\\r\\n" in out
    assert "sequence smtp passed" in out
    assert "every sequence passed" in result.stderr


def test_an_expect_that_times_out_exits_1_naming_the_step_and_what_arrived(
    tmp_path: Path,
) -> None:
    with SmtpLikeServer(silent_after_ehlo=True) as server:
        session = smtp_session(tmp_path / "smtp.toml", server.port, ehlo_timeout=0.5)
        result = run(str(session))
    assert result.returncode == 1, result.stdout
    failure = [line for line in result.stderr.splitlines() if "failed" in line]
    assert len(failure) == 1, result.stderr
    assert "sequence smtp (C1) failed at step 3/5" in failure[0]
    assert "(?m)^250 " in failure[0]
    # The expect looks at what arrived since the last match ended (the greeting's rest).
    assert "arrived instead: 23 bytes: mail.test ESMTP ready\\r\\n" in result.stderr
    assert server.lines == [b"EHLO sockbench.test"], "no QUIT after the failed step"


def test_what_arrived_instead_is_shown_sanitized(tmp_path: Path) -> None:
    """A server that answers with the wrong code (and terminal escapes): the failure shows
    it, escaped."""

    class WrongAnswer(ThreadedServer):
        def handle(self, conn: socket.socket) -> None:
            conn.sendall(b"554 no \x1b]2;owned\x07 service\r\n")
            conn.recv(100)

    with WrongAnswer() as server:
        session = smtp_session(tmp_path / "smtp.toml", server.port)
        session.write_text(session.read_text().replace("timeout = 5", "timeout = 0.5"))
        result = run(str(session))
    assert result.returncode == 1
    assert "failed at step 1/5" in result.stderr
    assert "arrived instead: 27 bytes: 554 no \\x1b]2;owned\\x07 service\\r\\n" in result.stderr
    assert "\x1b" not in result.stderr + result.stdout


def test_a_bad_file_exits_2_naming_the_line_and_the_key(tmp_path: Path) -> None:
    session = tmp_path / "bad.toml"
    session.write_text(
        '[[connect]]\nurl = "tcp://127.0.0.1:25"\n\n[[connect.steps]]\nexpekt = "x"\n'
    )
    result = run(str(session))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"sockbench run: error: {session}:5: connect[1].steps[1]")
    assert "expekt" in result.stderr


def test_a_missing_file_and_an_empty_one_exit_2(tmp_path: Path) -> None:
    missing = run(str(tmp_path / "none.toml"))
    assert missing.returncode == 2 and "cannot be read" in missing.stderr
    empty = tmp_path / "empty.toml"
    empty.write_text("# nothing\n")
    result = run(str(empty))
    assert result.returncode == 2 and "nothing to run" in result.stderr


def test_a_listener_that_cannot_open_exits_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        session = tmp_path / "s.toml"
        session.write_text(f'[[listen]]\nurl = "tcp://127.0.0.1:{taken.getsockname()[1]}"\n')
        result = run(str(session))
    assert result.returncode == 1
    assert "address already in use" in result.stderr.lower() or "in use" in result.stderr


class LinesOf:
    """A subprocess's stdout lines, read by a thread as they come (so waits have timeouts)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self.process = process
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stdout: Any) -> None:
        for line in stdout:
            self.lines.append(line)

    def wait_for(self, pattern: str) -> re.Match[str]:
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if match := re.search(pattern, line):
                    return match
            assert self.process.poll() is None, f"the runner ended: {self.lines}"
            time.sleep(0.01)
        raise AssertionError(f"no {pattern!r} in {RUN_TIMEOUT} s: {self.lines}")

    def text(self) -> str:
        self._reader.join(DEFAULT_TIMEOUT)
        return "".join(self.lines)


@requires_socat
def test_a_listener_serves_socat_clients_until_sigterm_then_exits_0(tmp_path: Path) -> None:
    session = tmp_path / "mock.toml"
    session.write_text('[[listen]]\nname = "mock"\nurl = "tcp://127.0.0.1:0"\necho = true\n')
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench", "run", str(session)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    out = LinesOf(process)
    try:
        port = int(out.wait_for(r"listening on tcp 127\.0\.0\.1:(\d+)").group(1))
        for number in range(3):
            with socat_client(port) as client:
                client.send(b"ping %d\n" % number)
                assert client.wait_output(7) == b"ping %d\n" % number
        out.wait_for(r"↺ echo: ping 2")
        process.send_signal(signal.SIGTERM)
        assert process.stderr is not None
        err = process.stderr.read()
        process.wait(RUN_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(DEFAULT_TIMEOUT)
    assert process.returncode == 0, err
    log = out.text()
    assert log.count("↺ echo: ping") == 3, log
    assert "listener closed (sockbench quit)" in log


def test_json_lines_are_the_transcripts_records(tmp_path: Path) -> None:
    with EchoServer() as server:
        session = tmp_path / "echo.toml"
        session.write_text(
            f'[[connect]]\nname = "e"\nurl = "{server.url}"\n'
            "steps = [{ send = 'hi\\n' }, { expect = '^hi\\n' }, { close = true }]\n"
        )
        transcript = tmp_path / "t.jsonl"
        result = run(str(session), "--json", "--transcript", str(transcript))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    data = [r for r in records if r["event"] == "data"]
    assert [(r["dir"], r.get("origin"), base64.b64decode(r["data"])) for r in data] == [
        ("out", "sequence e", b"hi\n"),
        ("in", None, b"hi\n"),
    ]
    ended = [r for r in records if r["event"] == "sequence"]
    assert len(ended) == 1 and ended[0]["passed"] is True
    kept = [json.loads(line) for line in transcript.read_text().splitlines()]
    assert [r["event"] for r in kept if r["event"] == "data"] == ["data", "data"]


def test_stdout_closed_early_does_not_crash_the_run(tmp_path: Path) -> None:
    with SmtpLikeServer() as server:
        session = smtp_session(tmp_path / "smtp.toml", server.port)
        process = subprocess.Popen(
            [sys.executable, "-m", "workbench", "run", str(session)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        assert process.stdout is not None
        process.stdout.close()  # `| head -0`
        _, err = process.communicate(timeout=RUN_TIMEOUT)
    assert process.returncode == 0, err
    assert b"Traceback" not in err
    wait_until(lambda: server.lines == [b"EHLO sockbench.test", b"QUIT"], what="the QUIT")


def test_the_screen_refuses_a_bad_session_file_before_it_starts(tmp_path: Path) -> None:
    """`sockbench --session FILE` says what is wrong (file, line, key) and exits 2, before
    it needs a terminal."""
    session = tmp_path / "bad.toml"
    session.write_text('[[listen]]\nurl = "tcp://127.0.0.1:0"\nechoo = true\n')
    result = subprocess.run(
        [sys.executable, "-m", "workbench", "--session", str(session)],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"sockbench: error: {session}:3: listen[1].echoo: unknown key")


def test_a_connection_that_cannot_open_fails_the_run(tmp_path: Path) -> None:
    """No steps, but the file asked for a connection that could not be made: status 1."""
    session = tmp_path / "s.toml"
    session.write_text(f'[[connect]]\nurl = "tcp://127.0.0.1:{closed_port()}"\n')
    result = run(str(session))
    assert result.returncode == 1, result.stdout
    assert "C1: " in result.stderr and "refused" in result.stderr
