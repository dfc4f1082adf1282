"""`sockbench replay` with a framing, a looser match and the recorded pace, with real peers:
exchanges recorded through the real engine (`sockbench run --transcript`) against plain
Python socket servers (a `len:2:be` server that answers each message, one that takes its
time), then played back as a mock server to Python clients that ask other things than the
recorded client did, and as a client against a changed server."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from peers import ThreadedServer, connect_client, free_port, recv_exactly, recv_until_eof
from test_replay import ended, record, serve, sockbench

from workbench.framing.messages import encode, parse_framing
from workbench.replay.recording import scripts_of
from workbench.replay.script import Sent, Side

LEN2 = parse_framing("len:2:be")
# The recorded server's pause before its answer in the paced recording.
PAUSE = 0.5


def message(payload: bytes) -> bytes:
    return encode(LEN2, payload)


class LengthPrefixedServer(ThreadedServer):
    """Reads `len:2:be` messages and answers each with `answer(n, payload)` (n from 0),
    `len:2:be` too; closes at the client's EOF."""

    def __init__(self, answer: Callable[[int, bytes], bytes]) -> None:
        super().__init__()
        self.answer = answer

    def handle(self, conn: socket.socket) -> None:
        count = 0
        while not self._stopping.is_set():
            try:
                prefix = recv_exactly(conn, 2)
            except (AssertionError, OSError):
                return  # the client ended (or went quiet)
            payload = recv_exactly(conn, int.from_bytes(prefix, "big"))
            conn.sendall(message(self.answer(count, payload)))
            count += 1


class TakesItsTime(ThreadedServer):
    """Answers each line with `pong\\n`, PAUSE seconds after it came (the peer's own pace)."""

    def handle(self, conn: socket.socket) -> None:
        for _ in self.received(conn):
            time.sleep(PAUSE)
            conn.sendall(b"pong\n")


def acked(count: int, payload: bytes) -> bytes:
    return b"ack " + payload


def hex_of(data: bytes) -> str:
    return " ".join(f"{byte:02x}" for byte in data)


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Session 1: two `len:2:be` messages ("abc", "hello") to a server that acks each,
    then our EOF. Session 2: a line to a server that answers PAUSE seconds later."""
    where = tmp_path_factory.mktemp("recording")
    transcript = where / "recorded.jsonl"
    with LengthPrefixedServer(acked) as acks, TakesItsTime() as slow:
        record(
            transcript,
            where / "1.toml",
            f'[[connect]]\nurl = "{acks.url}"\nsteps = [\n'
            f'  {{ send_hex = "{hex_of(message(b"abc"))}" }},\n'
            "  { expect = 'ack abc' },\n"
            f'  {{ send_hex = "{hex_of(message(b"hello"))}" }},\n'
            "  { expect = 'ack hello' },\n"
            '  { close = "eof" },\n]\n',
        )
        record(
            transcript,
            where / "2.toml",
            f'[[connect]]\nurl = "{slow.url}"\nsteps = [\n'
            "  { send = 'ping\\n' },\n  { expect = 'pong' },\n  { close = \"eof\" },\n]\n",
        )
    return transcript


def ask(port: int, questions: list[bytes], answers: list[bytes]) -> None:
    """One client: each question, then its answer, then our EOF and the mock's."""
    with connect_client(port) as client:
        for question, answer in zip(questions, answers, strict=True):
            client.sendall(question)
            assert recv_exactly(client, len(answer)) == answer
        client.shutdown(socket.SHUT_WR)
        assert recv_until_eof(client) == b""


RECORDED_ANSWERS = [message(b"ack abc"), message(b"ack hello")]
# Not the recorded client's: other lengths, another payload (another key, another id).
OTHER_QUESTIONS = [message(b"x"), message(b"0123456789")]


def test_a_framed_mock_answers_each_message_whatever_its_length(
    recording: Path, serving: list[subprocess.Popen[str]]
) -> None:
    """Byte for byte, the mock would wait for the 5 bytes recorded and never answer "x"; in
    its framing it answers each message, and says how each differs."""
    process, out, port = serve(serving, f"{recording}@1", "--framing", "len:2:be", "--once")
    ask(port, OTHER_QUESTIONS, RECORDED_ANSWERS)
    status, err = ended(process)
    assert status == 1, "--once says a client differed"
    said = [line for line in err.splitlines() if "differs from the recording" in line]
    assert len(said) == 2, err
    assert "the client sent another message (its turn 1, message 1 of 1)" in said[0]
    assert "recorded '\\x00\\x03abc', got '\\x00\\x01x'" in said[0], "escaped, as the Log"
    assert "(its turn 2, message 1 of 1)" in said[1]
    assert "message by message in len:2:be" in out.text(), "the listener's note says how"


def test_the_recorded_client_itself_differs_in_nothing(
    recording: Path, serving: list[subprocess.Popen[str]]
) -> None:
    process, out, port = serve(serving, f"{recording}@1", "--framing", "len:2:be", "--once")
    ask(port, [message(b"abc"), message(b"hello")], RECORDED_ANSWERS)
    status, err = ended(process)
    assert status == 0, err
    assert "differs" not in err + out.text()


def test_a_counting_mock_answers_whatever_is_asked_without_a_word(
    recording: Path, serving: list[subprocess.Popen[str]]
) -> None:
    process, out, port = serve(
        serving, f"{recording}@1", "--framing", "len:2:be", "--match", "count", "--once"
    )
    ask(port, OTHER_QUESTIONS, RECORDED_ANSWERS)
    status, err = ended(process)
    assert status == 0, err
    assert "differs" not in err + out.text()
    assert "the client sent as much as recorded (not compared)" in out.text()


def test_the_match_and_the_framing_are_url_options_too(
    recording: Path, serving: list[subprocess.Popen[str]]
) -> None:
    url = "tcp://127.0.0.1:0?framing=len:2:be&replay-match=count"
    process, out, port = serve(serving, f"{recording}@1", "--once", url=url)
    ask(port, OTHER_QUESTIONS, RECORDED_ANSWERS)
    status, err = ended(process)
    assert status == 0, err + out.text()


def test_a_malformed_message_is_reported_and_the_mock_goes_on(
    recording: Path, serving: list[subprocess.Popen[str]]
) -> None:
    """A length past the framing's maximum is a malformed message: said (escaped), and
    counted as its turn's message. The framing cannot find a message after it, so what
    follows comes as unframed pieces: each is a message too, and the mock serves on."""
    process, out, port = serve(serving, f"{recording}@1", "--framing", "len:2:be:max=8", "--once")
    with connect_client(port) as client:
        client.sendall(message(b"\x1b]2;" + b"y" * 20))
        assert recv_exactly(client, len(RECORDED_ANSWERS[0])) == RECORDED_ANSWERS[0]
        client.sendall(message(b"hello"))  # unframed now: a piece, at least one message
        rest = b"".join(RECORDED_ANSWERS[1:])
        assert recv_exactly(client, len(rest)) == rest
        client.shutdown(socket.SHUT_WR)
        assert recv_until_eof(client) == b""
    status, err = ended(process)
    assert status == 1
    said = [line for line in err.splitlines() if "differs from the recording" in line]
    assert "the client sent a malformed message (its turn 1, message 1 of 1: " in said[0]
    assert "length 24 > max 8" in said[0]
    assert all("malformed" in line or "more than recorded" in line for line in said), err
    assert "\x1b" not in err + out.text() and "Traceback" not in err


def elapsed_answer(port: int) -> float:
    """Seconds from our line to the mock's answer (monotonic)."""
    with connect_client(port) as client:
        started = time.monotonic()
        client.sendall(b"ping\n")
        assert recv_exactly(client, 5) == b"pong\n"
        took = time.monotonic() - started
        client.shutdown(socket.SHUT_WR)
        recv_until_eof(client)
    return took


def test_the_recorded_pause_is_kept_with_pace_recorded(
    recording: Path, serving: list[subprocess.Popen[str]]
) -> None:
    (script,) = scripts_of(f"{recording}@2")
    answer = next(t for t in script.turns if isinstance(t, Sent) and t.side is Side.SERVER)
    assert answer.pause >= PAUSE * 0.9, "the recording has the server's pause"
    process, _, port = serve(serving, f"{recording}@2", "--pace", "recorded", "--once")
    assert elapsed_answer(port) >= PAUSE * 0.8
    status, err = ended(process)
    assert status == 0, err


def test_without_pace_the_answer_goes_at_once(
    recording: Path, serving: list[subprocess.Popen[str]]
) -> None:
    process, _, port = serve(serving, f"{recording}@2", "--once")
    assert elapsed_answer(port) < PAUSE * 0.8
    status, err = ended(process)
    assert status == 0, err


def test_against_a_changed_server_reports_the_changed_message_only(recording: Path) -> None:
    """The changed server's first answer is longer than recorded: byte for byte every byte
    after it would be out of step; message by message only that message differs."""

    def louder_first(count: int, payload: bytes) -> bytes:
        return b"ACKNOWLEDGED " + payload if count == 0 else b"ack " + payload

    with LengthPrefixedServer(louder_first) as changed:
        result = sockbench(
            "replay", f"{recording}@1", "--against", changed.url, "--framing", "len:2:be"
        )
    assert result.returncode == 1, result.stderr + result.stdout
    said = [line for line in result.stderr.splitlines() if "differs from the recording" in line]
    assert len(said) == 1, result.stderr
    assert "the server sent another message (its turn 1, message 1 of 1)" in said[0]
    assert "recorded '\\x00\\x07ack abc', got '\\x00\\x10ACKNOWLEDGED abc'" in said[0]
    assert "responses differ" in result.stdout


def test_bad_match_pace_and_framing_exit_2(recording: Path) -> None:
    cases = {
        "invalid choice: 'loose'": ("--match", "loose"),
        "invalid choice: 'fast'": ("--pace", "fast"),
        "--framing": ("--framing", "len:3"),
    }
    for words, args in cases.items():
        result = sockbench("replay", f"{recording}@1", "--serve", "tcp://127.0.0.1:0", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert words in result.stderr and "Traceback" not in result.stderr


def test_a_session_files_listener_takes_the_framing_and_the_match_as_keys(
    recording: Path, tmp_path: Path
) -> None:
    """`framing` and `replay-match` keys beside `replay` (any engine opens it: the app,
    `sockbench run`), checked by the same file's connection asking another key."""
    port = free_port()
    session = tmp_path / "mock.toml"
    session.write_text(
        f'[[listen]]\nurl = "tcp://127.0.0.1:{port}"\nreplay = "{recording}@1"\n'
        'framing = "len:2:be"\nreplay-match = "count"\n\n'
        f'[[connect]]\nname = "check"\nurl = "tcp://127.0.0.1:{port}"\nsteps = [\n'
        f'  {{ send_hex = "{hex_of(message(b"GET another key"))}" }},\n'
        "  { expect = 'ack abc' },\n]\n"
    )
    result = sockbench("run", str(session))
    assert result.returncode == 0, result.stderr + result.stdout
    assert "↺ replay: \\x00\\x07ack abc" in result.stdout
    assert "differs" not in result.stdout + result.stderr
