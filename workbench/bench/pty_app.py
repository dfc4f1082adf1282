"""A program in a pseudo-terminal, watched as a terminal would: its output is drained as fast
as it comes, frames are counted, and the time is taken when given bytes first appear.

Textual asks the terminal whether it supports synchronized output; we say yes, so every
frame it draws is wrapped in ESC[?2026h ... ESC[?2026l and can be counted from outside.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Sequence
from types import TracebackType

from workbench.bench.tools import BenchError, end

SYNC_QUERY = b"\x1b[?2026$p"
SYNC_SUPPORTED = b"\x1b[?2026;2$y"
FRAME_START = b"\x1b[?2026h"
TAIL_BYTES = 64  # kept between reads, so a marker split across two reads is still found
QUIT_KEY = b"\x11"  # ctrl+q


class _Watch:
    __slots__ = ("found", "marker", "seen_at")

    def __init__(self, marker: bytes) -> None:
        self.marker = marker
        self.found = threading.Event()
        self.seen_at = 0.0


class PtyApp:
    def __init__(
        self,
        argv: Sequence[str],
        columns: int = 120,
        lines: int = 40,
        first_screen: bytes = b"",
    ) -> None:
        """`first_screen`: bytes whose first appearance marks the first screen drawn."""
        self.argv = list(argv)
        self.columns, self.lines = columns, lines
        self.env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
        # As installed programs run: compiled once, then loaded from their .pyc files.
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.frames = 0
        self.output_bytes = 0
        self.started_at = 0.0
        self.proc: subprocess.Popen[bytes] | None = None
        self._master = -1
        self._watches: list[_Watch] = []
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None
        self.first_screen = self.watch(first_screen) if first_screen else None

    def __enter__(self) -> PtyApp:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", self.lines, self.columns, 0, 0))
        self._master = master
        self.started_at = time.monotonic()
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                env=self.env,
                start_new_session=True,
            )
        finally:
            os.close(slave)
        self._reader = threading.Thread(target=self._read, name="pty-reader", daemon=True)
        self._reader.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.quit()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def _read(self) -> None:
        tail = b""
        while True:
            try:
                chunk = os.read(self._master, 1 << 16)
            except OSError:  # EIO: the program closed the terminal
                return
            if not chunk:
                return
            now = time.monotonic()
            self.output_bytes += len(chunk)
            data = tail + chunk
            # Count frame starts that end inside this chunk (not ones wholly in the tail).
            self.frames += data.count(FRAME_START) - tail.count(FRAME_START)
            if SYNC_QUERY in data and SYNC_QUERY not in tail:
                self.write(SYNC_SUPPORTED)
            with self._lock:
                for watch in self._watches:
                    if watch.marker in data:
                        watch.seen_at = now
                        watch.found.set()
                self._watches = [w for w in self._watches if not w.found.is_set()]
            tail = data[-TAIL_BYTES:]

    def first_screen_seconds(self, timeout: float) -> float:
        """Seconds from start to the first screen (the `first_screen` marker)."""
        assert self.first_screen is not None
        if not self.first_screen.found.wait(timeout):
            raise BenchError(f"no first screen within {timeout:g} s")
        return self.first_screen.seen_at - self.started_at

    def watch(self, marker: bytes) -> _Watch:
        """Start looking for `marker` in the output from now on."""
        found = _Watch(marker)
        with self._lock:
            self._watches.append(found)
        return found

    def wait_for(self, marker: bytes, timeout: float) -> float:
        """Seconds from now until `marker` appears in the output."""
        watch = self.watch(marker)
        started = time.monotonic()
        if not watch.found.wait(timeout):
            raise BenchError(f"{marker!r} did not appear within {timeout:g} s")
        return watch.seen_at - started

    def write(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            os.write(self._master, data)

    def quit(self, timeout: float = 5.0) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            self.write(QUIT_KEY)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                end(proc)  # it did not quit when asked
        if self._reader is not None:
            self._reader.join(timeout)
        with contextlib.suppress(OSError):
            os.close(self._master)
        self.proc = None
