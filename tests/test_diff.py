"""`sockbench diff A B` and the pure diff engine under it (workbench/transcript/diff.py):
recordings made through the real engine against real servers, compared per direction."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from peers import EchoServer, GreetingServer, ThreadedServer
from test_runner import RUN_TIMEOUT

from workbench.framing.messages import parse_framing
from workbench.transcript.diff import MAX_LINE_BYTES, diff_pieces, line_messages

HOSTILE = b"\x1b]2;pwned\x07 \xc2\x9b31m \xe2\x80\xae [bold]x[/] \xff\r\n"
UNSAFE = ("\x1b", "\x07", "\x9b", "\u202e", "\r")


def sockbench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


# --- the pure engine ---


def test_equal_bytes_make_no_diff_however_they_were_read() -> None:
    same = diff_pieces([b"hel", b"lo\nworld\n"], [b"hello\n", b"world\n"], name_a="a", name_b="b")
    assert same.equal and same.lines == ()


def test_a_changed_line_is_a_unified_diff_of_escaped_lines() -> None:
    changed = diff_pieces(
        [b"220 ready\r\n250 ok\r\n"],
        [b"220 ready\r\n554 no\r\n"],
        name_a="a",
        name_b="b",
        direction="in",
    )
    assert not changed.equal
    assert changed.lines == (
        "--- a in",
        "+++ b in",
        "@@ -1,2 +1,2 @@",
        " 220 ready\\r\\n",
        "-250 ok\\r\\n",
        "+554 no\\r\\n",
    )


def test_hostile_bytes_stay_escaped_in_the_diff() -> None:
    lines = "\n".join(diff_pieces([HOSTILE], [b"ok\n"], name_a="a", name_b="b").lines)
    assert "-\\x1b]2;pwned\\x07 \\u009b31m \\u202e [bold]x[/] \\xff\\r\\n" in lines
    assert not any(char in lines for char in UNSAFE)


def test_a_binary_stream_without_line_ends_is_cut_so_the_diff_points_somewhere() -> None:
    data = bytes(range(128, 256)) * 8  # no line feed in it
    assert [len(p) for p in line_messages(data)] == [MAX_LINE_BYTES] * 4
    changed = data[:700] + b"!" + data[701:]
    lines = diff_pieces([data], [changed], name_a="a", name_b="b").lines
    assert sum(1 for line in lines if line.startswith("-")) == 2  # `---` and the third piece


@given(st.lists(st.binary(max_size=40), max_size=6), st.lists(st.binary(max_size=40), max_size=6))
def test_equal_exactly_when_the_bytes_are(a: list[bytes], b: list[bytes]) -> None:
    result = diff_pieces(a, b, name_a="a", name_b="b")
    assert result.equal == (b"".join(a) == b"".join(b))
    assert bool(result.lines) != result.equal
    assert not any(char in line for line in result.lines for char in UNSAFE)


@pytest.mark.skipif(
    importlib.util.find_spec("workbench.framing.netstrings") is None,
    reason="the netstring framing is not built in yet (issue 18's framings)",
)
def test_with_a_framing_each_message_is_a_line_of_the_diff() -> None:
    framing = parse_framing("netstring")
    a = [b"5:hello,5:world,", b"3:abc,"]
    b = [b"5:hello,5:WORLD,3:abc,"]
    lines = diff_pieces(a, b, name_a="a", name_b="b", framing=framing).lines
    assert [line for line in lines if line[:1] in "-+ "][2:] == [
        " 5:hello,",
        "-5:world,",
        "+5:WORLD,",
        " 3:abc,",
    ]


# --- the command, on recordings made through the engine ---


def record(transcript: Path, session: Path, url: str, lines: list[str]) -> None:
    steps = "".join(f"  {{ send = '{x}\\n' }},\n  {{ expect = '(?i){x}\\n' }},\n" for x in lines)
    session.write_text(f'[[connect]]\nurl = "{url}"\nsteps = [\n{steps}  {{ close = "eof" }},\n]\n')
    result = sockbench("run", str(session), "--transcript", str(transcript))
    assert result.returncode == 0, result.stderr


class ShoutingEcho(ThreadedServer):
    """The echo server changed: what comes back is in capitals."""

    def handle(self, conn: socket.socket) -> None:
        while chunk := conn.recv(1 << 16):
            conn.sendall(chunk.upper())
        conn.shutdown(socket.SHUT_WR)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    where = tmp_path_factory.mktemp("diff")
    made = {name: where / f"{name}.jsonl" for name in ("echo", "again", "shout", "hostile")}
    with EchoServer() as echo, ShoutingEcho() as shout:
        record(made["echo"], where / "1.toml", echo.url, ["hello", "world"])
        record(made["again"], where / "2.toml", echo.url, ["hello", "world"])
        record(made["shout"], where / "3.toml", shout.url, ["hello", "world"])
        record(made["shout"], where / "4.toml", echo.url, ["hello", "world"])  # session 2
    with GreetingServer(greeting=HOSTILE) as greeting:
        (where / "5.toml").write_text(f'[[connect]]\nurl = "{greeting.url}"\n')
        result = sockbench("run", str(where / "5.toml"), "--transcript", str(made["hostile"]))
        assert result.returncode == 0, result.stderr
    return made


def test_two_recordings_of_the_same_exchange_are_equal(recordings: dict[str, Path]) -> None:
    result = sockbench("diff", str(recordings["echo"]), str(recordings["again"]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        f"{recordings['echo']}#C1 vs {recordings['again']}#C1: in same, out same"
    ]


def test_a_changed_server_differs_in_what_came_in(recordings: dict[str, Path]) -> None:
    echo, shout = recordings["echo"], recordings["shout"]
    result = sockbench("diff", str(echo), f"{shout}@1")
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        f"{echo}#C1 vs {shout}@1#C1: in differs, out same",
        f"--- {echo}#C1 in",
        f"+++ {shout}@1#C1 in",
        "@@ -1,2 +1,2 @@",
        "-hello\\n",
        "-world\\n",
        "+HELLO\\n",
        "+WORLD\\n",
    ]
    # The file's last session is the default; a connection is named with #.
    assert sockbench("diff", str(echo), str(shout)).returncode == 0
    assert sockbench("diff", f"{echo}#C1", f"{shout}@2#C1").returncode == 0


def test_hostile_bytes_in_a_recording_stay_escaped(recordings: dict[str, Path]) -> None:
    result = sockbench("diff", str(recordings["hostile"]), str(recordings["echo"]))
    assert result.returncode == 1
    assert "-\\x1b]2;pwned\\x07 \\u009b31m \\u202e [bold]x[/] \\xff\\r\\n" in result.stdout
    assert not any(char in result.stdout + result.stderr for char in UNSAFE)


def test_a_connection_without_a_counterpart_is_a_difference(
    recordings: dict[str, Path], tmp_path: Path
) -> None:
    two = tmp_path / "two.jsonl"
    with EchoServer() as echo:
        session = tmp_path / "two.toml"
        steps = "steps = [{ send = 'x\\n' }, { expect = 'x' }, { close = true }]\n"
        session.write_text(f'[[connect]]\nurl = "{echo.url}"\n{steps}' * 2)
        assert sockbench("run", str(session), "--transcript", str(two)).returncode == 0
    result = sockbench("diff", str(two), str(recordings["echo"]))
    assert result.returncode == 1
    assert "has no counterpart" in result.stdout


def test_bad_input_exits_2_in_words(recordings: dict[str, Path], tmp_path: Path) -> None:
    echo = str(recordings["echo"])
    cases = {
        "cannot read": (str(tmp_path / "none.jsonl"), echo),
        "no session 9 (it has 1)": (f"{echo}@9", echo),
        "has no C5": (f"{echo}#C5", echo),
        "--framing: unknown framing 'bogus'": (echo, echo, "--framing", "bogus"),
    }
    for words, args in cases.items():
        result = sockbench("diff", *args)
        assert result.returncode == 2, (args, result.stdout)
        assert words in result.stderr, (words, result.stderr)
        assert "Traceback" not in result.stderr
