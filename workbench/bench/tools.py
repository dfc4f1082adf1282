"""The reference tools and the plumbing around them: finding them, free loopback ports,
waiting for a listener, and ending processes. Every wait here is bounded."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, cast

LOCALHOST = "127.0.0.1"
WAIT_SECONDS = 10.0
POLL_SECONDS = 0.005


class BenchError(RuntimeError):
    """A round could not be run or its result is wrong."""


def missing(tool: str) -> str:
    """Why `tool` cannot be used, or "" when it is installed."""
    if shutil.which(tool) is None:
        return f"{tool} is not installed (apt-get install {tool})"
    return ""


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind((LOCALHOST, 0))
        return int(probe.getsockname()[1])


def _listening_ports(table: str, listen_state: str | None) -> set[int]:
    ports = set()
    with contextlib.suppress(OSError), open(table) as lines:
        next(lines)
        for line in lines:
            fields = line.split()
            if listen_state is None or fields[3] == listen_state:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def wait_listening(
    port: int, udp: bool = False, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Wait until something listens on `port`, without connecting to it (a connect would be
    the one connection a single-shot sink accepts)."""
    table, state = ("/proc/net/udp", None) if udp else ("/proc/net/tcp", "0A")
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if port in _listening_ports(table, state):
            return
        if proc is not None and proc.poll() is not None:
            command = " ".join(str(arg) for arg in cast("list[str]", proc.args))
            raise BenchError(f"{command} exited with {proc.returncode}")
        time.sleep(POLL_SECONDS)
    raise BenchError(f"nothing listened on port {port} within {WAIT_SECONDS:g} s")


# What a spawned process's stdin, stdout or stderr is: subprocess.PIPE, DEVNULL, a file.
Stream = int | IO[bytes] | None


def spawn(
    argv: Sequence[str],
    stdin: Stream = subprocess.DEVNULL,
    stdout: Stream = subprocess.DEVNULL,
    stderr: Stream = subprocess.DEVNULL,
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        list(argv), stdin=stdin, stdout=stdout, stderr=stderr, start_new_session=True
    )


def finish(proc: subprocess.Popen[bytes], timeout: float) -> int:
    """Wait for `proc` to end by itself; kill it and fail if it takes longer than `timeout`."""
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        end(proc)
        name = Path(str(proc.args[0])).name  # type: ignore[index]
        raise BenchError(f"{name} did not finish within {timeout:g} s") from None


def end(proc: subprocess.Popen[bytes], grace: float = 2.0) -> None:
    """Terminate `proc` (and its process group), then kill it if it lingers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(grace)


@contextlib.contextmanager
def running(
    argv: Sequence[str], stdout: Stream = subprocess.DEVNULL, stderr: Stream = subprocess.DEVNULL
) -> Iterator[subprocess.Popen[bytes]]:
    proc = spawn(argv, stdout=stdout, stderr=stderr)
    try:
        yield proc
    finally:
        end(proc)


def python_peer(*args: str) -> list[str]:
    """The command line of one of the bench's own peers (workbench/bench/peers.py)."""
    return [sys.executable, "-m", "workbench.bench.peers", *args]


def peer_report(proc: subprocess.Popen[bytes], timeout: float) -> dict[str, float]:
    """The JSON line one of the bench's peers prints when it is done (stdout=PIPE)."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        end(proc)
        raise BenchError(f"the bench peer did not finish within {timeout:g} s") from None
    if proc.returncode != 0 or not out.strip():
        raise BenchError(f"the bench peer failed (exit status {proc.returncode})")
    figures: dict[str, float] = json.loads(out.decode().strip().splitlines()[-1])
    return figures


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise BenchError(f"no memory figure for process {pid}")
