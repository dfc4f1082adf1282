"""A session file run on the engine and the session core, without the screen: the Log's rows
(or JSON Lines events) on stdout, failures on stderr, an exit status for CI."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Protocol, TextIO

from workbench.engine import Engine
from workbench.engine.bridge import EventBridge
from workbench.log import Record, ViewSettings, layout
from workbench.log.model import format_clock_time
from workbench.log.plain_rows import plain_row
from workbench.runner.json_events import json_lines
from workbench.runner.outcome import Outcome
from workbench.session.core import SessionCore
from workbench.session_file.model import SessionSpec

# How long the bridge is waited on at a time: how soon a signal or the end is noticed.
DRAIN_WAIT_SECONDS = 0.05
# How long the file's listeners have to open before its connections go out.
LISTEN_SECONDS = 10.0
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Writer(Protocol):
    def write(self, text: str, /) -> int: ...
    def flush(self) -> None: ...


class HeadlessRun:
    def __init__(
        self,
        spec: SessionSpec,
        transcript_path: str | None = None,
        as_json: bool = False,
        out: TextIO | None = None,
    ) -> None:
        """Raises OSError when the transcript cannot be written."""
        self.spec = spec
        self.bridge = EventBridge()
        self.engine = Engine(self.bridge, transcript_path=transcript_path)
        self.core = SessionCore()
        self.outcome = Outcome(listened=bool(spec.listeners))
        self.as_json = as_json
        self.out: Writer = out if out is not None else sys.stdout
        self.settings = ViewSettings()
        self.stopping = threading.Event()

    def run(self) -> int:
        """Run until the file's work is over or a signal asks to stop; the exit status."""
        self.engine.start()
        try:
            self._open_listeners()
            if not self.outcome.listener_failed:
                self._open_connections()
            while not self.outcome.over and not self.stopping.is_set():
                self._pump(DRAIN_WAIT_SECONDS)
            if self.stopping.is_set():
                self.outcome.interrupted()
        finally:
            self.engine.stop()
            self._pump(0)  # the closes the stop made
        if self.engine.transcript_error is not None:
            self.outcome.failures.append(self.engine.transcript_error)
        return self.outcome.status

    def stop(self) -> None:
        """Thread-safe, and safe in a signal handler: the loop ends at its next wait."""
        self.stopping.set()

    def _open_listeners(self) -> None:
        for spec in self.spec.listeners:
            self.outcome.listeners[self.engine.listen(spec.endpoint)] = spec.name
        deadline = time.monotonic() + LISTEN_SECONDS
        while not self.outcome.listening and time.monotonic() < deadline:
            if self.stopping.is_set():
                return
            self._pump(DRAIN_WAIT_SECONDS)

    def _open_connections(self) -> None:
        for spec in self.spec.connections:
            cid = self.engine.connect(spec.endpoint)
            self.outcome.connections.add(cid)
            if spec.sequence is not None:
                self.outcome.sequences[cid] = spec.sequence.name
                self.outcome.sequenced.add(cid)
                self.outcome.had_sequences = True
                self.engine.run_sequence(cid, spec.sequence)

    def _pump(self, wait: float) -> None:
        events = self.bridge.drain(wait)
        if not events:
            return
        update = self.core.apply(events)
        self.outcome.apply(events)
        if self.as_json:
            lines = json_lines(events)
        else:
            lines = [line for record in update.records for line in self._rows(record)]
        if lines:
            self._print(lines)

    def _rows(self, record: object) -> list[str]:
        made = record if isinstance(record, Record) else Record(*record)  # type: ignore[misc]
        stamp = format_clock_time(made.ts)
        return [plain_row(row, stamp) for row in layout(made, self.settings)]

    def _print(self, lines: list[str]) -> None:
        try:
            self.out.write("\n".join(lines) + "\n")
            self.out.flush()
        except BrokenPipeError:  # `sockbench run FILE | head`: the reader has gone
            self.out = _Discard()
            # What Python still holds for stdout would fail again at exit, loudly.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)


class _Discard:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def stop_on_signals(stop: Callable[[], None]) -> None:
    """SIGINT, SIGTERM and SIGHUP end the run as its end does: sockets closed, transcript
    flushed, the status said."""

    def handle(signum: int, frame: FrameType | None) -> None:
        stop()

    for number in STOP_SIGNALS:
        signal.signal(number, handle)
