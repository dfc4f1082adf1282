"""`sockbench replay`: sessions recorded through the real engine (`sockbench run
--transcript` against the seed greeting-then-close and echo servers), then played back as
a mock server to real clients (Python sockets, socat) and as a client against live
servers, as CI would run it: the real command in a subprocess."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from peers import (
    DEFAULT_TIMEOUT,
    EchoServer,
    GreetingServer,
    ThreadedServer,
    connect_client,
    free_port,
    recv_exactly,
    recv_until_eof,
    requires_ipv6,
    requires_socat,
    short_temp_dir,
    socat_client,
)
from test_runner import RUN_TIMEOUT, LinesOf

from workbench.replay.recording import scripts_of
from workbench.replay.script import Side

GREETING = b"hello from the greeting server\n"


def sockbench(*args: str, timeout: float = RUN_TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def echo_steps(url: str, name: str, lines: list[str]) -> str:
    steps = "".join(
        f"  {{ send = '{line}\\n' }},\n  {{ expect = '{line}\\n' }},\n" for line in lines
    )
    head = f'[[connect]]\nname = "{name}"\nurl = "{url}"\n'
    return f'{head}steps = [\n{steps}  {{ close = "eof" }},\n]\n'


def record(transcript: Path, session: Path, text: str) -> None:
    session.write_text(text)
    result = sockbench("run", str(session), "--transcript", str(transcript))
    assert result.returncode == 0, result.stderr


def record_three_sessions(transcript: Path) -> Path:
    """One transcript, three sessions: 1 a greeting-then-close server's (GREETING), 2 an
    echo server's (two lines, then our EOF), 3 two connections to the echo server."""
    where = transcript.parent
    with GreetingServer(GREETING) as greeting, EchoServer() as echo:
        record(transcript, where / "1.toml", f'[[connect]]\nurl = "{greeting.url}"\n')
        record(transcript, where / "2.toml", echo_steps(echo.url, "echo", ["hello", "world"]))
        record(
            transcript,
            where / "3.toml",
            echo_steps(echo.url, "first", ["aaa"]) + echo_steps(echo.url, "second", ["bbb"]),
        )
    return transcript


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return record_three_sessions(tmp_path_factory.mktemp("recording") / "recorded.jsonl")


def serve(
    started: list[subprocess.Popen[str]], *args: str, url: str = "tcp://127.0.0.1:0"
) -> tuple[subprocess.Popen[str], LinesOf, int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench", "replay", *args, "--serve", url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    started.append(process)
    out = LinesOf(process)
    port = int(out.wait_for(r"listening on (?:tcp \S+:(\d+)|unix )").group(1) or 0)
    return process, out, port


def ended(process: subprocess.Popen[str]) -> tuple[int, str]:
    assert process.stderr is not None
    err = process.stderr.read()
    return process.wait(RUN_TIMEOUT), err


def test_a_recorded_greeting_is_played_to_a_client_then_closed(
    recording: Path, serving: list[subprocess.Popen[str]]
) -> None:
    process, out, port = serve(serving, f"{recording}@1", "--once")
    with connect_client(port) as client:
        assert recv_until_eof(client) == GREETING
    status, err = ended(process)
    assert status == 0, err
    log = out.text()
    assert "↺ replay: hello from the greeting server\\n" in log
    assert "replay: closed as recorded" in log


@requires_socat
def test_a_recorded_echo_server_answers_socat_as_it_did(
    recording: Path, serving: list[subprocess.Popen[str]]
) -> None:
    process, out, port = serve(serving, str(recording), "--session", "2", "--once")
    with socat_client(port) as client:
        client.send(b"hello\n")
        assert client.wait_output(6) == b"hello\n", "the answer waits for the 6 bytes recorded"
        client.send(b"world\n")
        client.close_stdin()
        assert client.wait_exit() == 0
        assert client.output == b"hello\nworld\n"
    status, err = ended(process)
    assert status == 0, err
    assert "differs" not in out.text() + err


def test_each_new_client_gets_the_next_recorded_connection(
    recording: Path, serving: list[subprocess.Popen[str]]
) -> None:
    scripts = scripts_of(f"{recording}@3")
    asked = [s.sent_by(Side.CLIENT) for s in scripts]
    assert sorted(asked) == [b"aaa\n", b"bbb\n"]
    process, out, port = serve(serving, f"{recording}@3", "--once")
    for question in asked:  # in the order they were recorded
        with connect_client(port) as client:
            client.sendall(question)
            assert recv_exactly(client, len(question)) == question
            client.shutdown(socket.SHUT_WR)
            assert recv_until_eof(client) == b""
    status, err = ended(process)
    assert status == 0, err + out.text()


def test_a_client_that_sends_other_bytes_is_reported_and_served_on(
    recording: Path, serving: list[subprocess.Popen[str]]
) -> None:
    process, out, port = serve(serving, f"{recording}@2#C1", "--once")
    with connect_client(port) as client:
        client.sendall(b"HELLO\n")
        assert recv_exactly(client, 6) == b"hello\n", "a mock answers as recorded"
        client.sendall(b"wo\x1b]2;")  # as many bytes as recorded
        assert recv_exactly(client, 6) == b"world\n"
        client.shutdown(socket.SHUT_WR)
        assert recv_until_eof(client) == b""
    status, err = ended(process)
    assert status == 1, "--once says a client differed"
    said = [line for line in err.splitlines() if "differs from the recording" in line]
    assert len(said) == 2, err
    assert "the client sent other bytes, at byte 0: recorded 'hello\\n', got 'HELLO\\n'" in said[0]
    assert "at byte 8: recorded 'world\\n', got 'wo\\x1b]2;'" in said[1], "peer bytes stay escaped"
    assert "\x1b" not in err + out.text()
    assert "! replay: differs from the recording" in out.text(), "the Log says it too"


@requires_ipv6
def test_a_mock_serves_over_ipv6(recording: Path, serving: list[subprocess.Popen[str]]) -> None:
    process, out, port = serve(serving, f"{recording}@1", "--once", url="tcp://[::1]:0")
    with socket.create_connection(("::1", port), timeout=DEFAULT_TIMEOUT) as client:
        assert recv_until_eof(client) == GREETING
    status, err = ended(process)
    assert status == 0, err
    assert "listening on tcp [::1]:" in out.text()


def test_a_mock_serves_on_a_unix_socket(
    recording: Path, serving: list[subprocess.Popen[str]]
) -> None:
    with short_temp_dir() as where:
        path = where / "mock.sock"
        process, out, _ = serve(serving, f"{recording}@2", "--once", url=f"unix://{path}")
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(DEFAULT_TIMEOUT)
            client.connect(str(path))
            client.sendall(b"hello\nworld\n")
            client.shutdown(socket.SHUT_WR)
            assert recv_until_eof(client) == b"hello\nworld\n"
        status, err = ended(process)
    assert status == 0, err + out.text()


def test_a_mock_serves_until_sigterm_then_exits_0(
    recording: Path, serving: list[subprocess.Popen[str]]
) -> None:
    process, out, port = serve(serving, f"{recording}@1")
    for _ in range(3):  # more clients than recorded: the recording again
        with connect_client(port) as client:
            assert recv_until_eof(client) == GREETING
    out.wait_for(r"C3 .*replay: closed as recorded")
    process.send_signal(signal.SIGTERM)
    status, err = ended(process)
    assert status == 0, err
    assert "listener closed (sockbench quit)" in out.text()


def test_against_a_live_server_that_answers_the_same_exits_0(recording: Path) -> None:
    with EchoServer() as echo:
        result = sockbench("replay", f"{recording}@2", "--against", echo.url)
    assert result.returncode == 0, result.stderr + result.stdout
    assert f"{recording}@2#C1 vs C1: responses same" in result.stdout
    assert "↺ replay: hello\\n" in result.stdout


class ShoutingEcho(ThreadedServer):
    """An echo server changed: the second line comes back in capitals."""

    def handle(self, conn: socket.socket) -> None:
        lines = 0
        while chunk := conn.recv(1 << 16):
            lines += chunk.count(b"\n")
            conn.sendall(chunk.upper() if lines >= 2 else chunk)
        conn.shutdown(socket.SHUT_WR)


def test_against_a_changed_server_exits_1_showing_the_diff(recording: Path) -> None:
    with ShoutingEcho() as changed:
        result = sockbench("replay", f"{recording}@2", "--against", changed.url)
    assert result.returncode == 1, result.stderr + result.stdout
    report = result.stdout[result.stdout.index("responses differ") :].splitlines()
    assert report[1:] == [
        f"--- {recording}@2#C1 (recorded) responses",
        f"+++ {changed.url} (C1) responses",
        "@@ -1,2 +1,2 @@",
        " hello\\n",
        "-world\\n",
        "+WORLD\\n",
    ]
    assert "the server sent other bytes" in result.stderr


def test_against_a_server_that_stays_quiet_gives_up_after_the_timeout(recording: Path) -> None:
    class Silent(ThreadedServer):
        def handle(self, conn: socket.socket) -> None:
            while conn.recv(1 << 16):
                pass

    with Silent() as silent:
        result = sockbench("replay", f"{recording}@2", "--against", silent.url, "--timeout", "0.5")
    assert result.returncode == 1
    assert "nothing for 0.5 s: closed" in result.stderr
    assert "-hello\\n" in result.stdout


def test_bad_transcripts_and_usage_exit_2(recording: Path, tmp_path: Path) -> None:
    cases = {
        "cannot read": (str(tmp_path / "missing.jsonl"), "--serve", "tcp://127.0.0.1:0"),
        "no session 9 (it has 3)": (f"{recording}@9", "--serve", "tcp://127.0.0.1:0"),
        "has no C7": (f"{recording}@2#C7", "--against", "tcp://127.0.0.1:9"),
        "replay plays stream connections": (str(recording), "--serve", "udp://127.0.0.1:0"),
        "one of the arguments --serve --against is required": (str(recording),),
    }
    for words, args in cases.items():
        result = sockbench("replay", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert words in result.stderr, (words, result.stderr)
        assert "Traceback" not in result.stderr


def test_a_session_files_listener_replays_a_recording(recording: Path, tmp_path: Path) -> None:
    """`replay = FILE@N` on a session file's listener (any engine opens it: the app, `sockbench
    run`), checked by the same file's connection."""
    port = free_port()
    session = tmp_path / "mock.toml"
    session.write_text(
        f'[[listen]]\nurl = "tcp://127.0.0.1:{port}"\nreplay = "{recording}@1"\n\n'
        f'[[connect]]\nname = "check"\nurl = "tcp://127.0.0.1:{port}"\n'
        "steps = [{ expect = '^hello from the greeting server\\n' }]\n"
    )
    result = sockbench("run", str(session))
    assert result.returncode == 0, result.stderr
    assert "↺ replay: hello from the greeting server" in result.stdout
