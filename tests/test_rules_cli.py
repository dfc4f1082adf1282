"""The rules behaviour end to end: the real `sockbench` command in a terminal, with one rules
file for a TCP, a UDP and a Unix listener (`--rules`, as a Unix URL takes no query),
answering nc and socat; the transcript marks each reply with its rule."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from test_cli import LOCALHOST, free_port, transcript_records
from test_rules import CHAT_RULES, write
from tmux_helpers import RUN_TIMEOUT, Tmux

pytestmark = pytest.mark.skipif(
    shutil.which("nc") is None or shutil.which("socat") is None,
    reason="nc and socat are needed (apt-get install netcat-openbsd socat)",
)


def client(command: list[str], data: bytes) -> bytes:
    done = subprocess.run(
        command, input=data, capture_output=True, timeout=RUN_TIMEOUT, check=False
    )
    return done.stdout


def test_the_real_command_answers_nc_and_socat_by_its_rules(tmux: Tmux, tmp_path: Path) -> None:
    rules = write(tmp_path / "rules.toml", CHAT_RULES)
    transcript = tmp_path / "session.jsonl"
    tcp, udp, unix = free_port(), free_port(), tmp_path / "rules.sock"
    tmux.start_sockbench(
        tmp_path,
        "--rules", rules,
        "--transcript", str(transcript),
        "--listen", f"tcp://{LOCALHOST}:{tcp}",
        "--listen", f"udp://{LOCALHOST}:{udp}",
        "--listen", f"unix://{unix}",
    )  # fmt: skip
    tmux.wait_screen("rules: 3 from", "the listening line's note")
    tmux.wait(lambda: tmux.screen().count("• listening on") == 3, "three listeners")

    # nc exits by itself: rule 3 closes the connection once it said bye.
    got = client(["nc", LOCALHOST, str(tcp)], b"HELLO bob 42\nPING\nBYE\n")
    assert got == b"hi bob, you said 42 (#1 on C1)\r\nPONG 1\nbye\n"
    got = client(["socat", "-T", "2", "-", f"UDP:{LOCALHOST}:{udp}"], b"PING\n")
    assert got == b"PONG 1\n"
    got = client(["socat", "-", f"UNIX-CONNECT:{unix}"], b"PING\nPING\nBYE\n")
    assert got == b"PONG 1\nPONG 2\nbye\n"

    tmux.wait_screen("closed by rule 3 (close = true)", "the Log says which rule closed")
    tmux.quit_sockbench()
    outs = [r for r in transcript_records(transcript) if r["event"] == "data" and r["dir"] == "out"]
    assert [r["origin"] for r in outs if r["conn"] == "C1"] == ["rule 1", "rule 2", "rule 3"]
    assert len(outs) == 3 + 1 + 3
