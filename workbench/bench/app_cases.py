"""Cases that run the real app (`python -m workbench`) in a pseudo-terminal: start-up, an
accept storm, and the UI under a flood. The app reports records and listed connections
through `--stats-file`; frames, key echo and memory are measured from outside."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from workbench.bench.pty_app import PtyApp
from workbench.bench.rounds import SOCKBENCH, Case, Figures, Goal, Metric, Variant
from workbench.bench.tools import BenchError, end, python_peer, rss_bytes, spawn

STARTUP_SECONDS = 20.0
MINIMAL = "minimal Textual app"
MINIMAL_MARKER = "sockbench-bench-minimal-app"
MINIMAL_APP = f"""
from textual.app import App
from textual.widgets import Static

class Minimal(App):
    def compose(self):
        yield Static("{MINIMAL_MARKER}")

Minimal().run()
"""
# What sockbench's first screen surely shows: the Listeners pane's title; and what only the
# main screen drawn over it shows, once the app's modules are in: the Connections table's header.
FIRST_SCREEN = b"Listeners"
MAIN_SCREEN = b"proto"
MB = 1_000_000


def minimal_argv() -> list[str]:
    return [sys.executable, "-c", MINIMAL_APP]


def sockbench_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "workbench", *args]


class StatsReader:
    """Reads the JSON lines the app writes with --stats-file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._offset = 0
        self.lines: list[dict[str, object]] = []

    def poll(self) -> dict[str, object] | None:
        """Read what was added; the newest line, if any."""
        try:
            with open(self.path, encoding="utf-8") as file:
                file.seek(self._offset)
                text = file.read()
        except FileNotFoundError:
            return None
        complete = text[: text.rfind("\n") + 1]
        self._offset += len(complete.encode())
        self.lines += [json.loads(line) for line in complete.splitlines() if line]
        return self.lines[-1] if self.lines else None

    def wait(
        self, what: str, ok: Callable[[dict[str, object]], object], timeout: float
    ) -> dict[str, object]:
        """The first line (read from now on) for which ok(line) is true."""
        deadline = time.monotonic() + timeout
        seen = len(self.lines)
        while time.monotonic() < deadline:
            self.poll()
            for line in self.lines[seen:]:
                if ok(line):
                    return line
            seen = len(self.lines)
            time.sleep(0.02)
        raise BenchError(f"the app did not report {what} within {timeout:g} s")


@contextmanager
def app_with_stats(*args: str) -> Iterator[tuple[PtyApp, StatsReader, int]]:
    """The real app listening (args), in a pty; yields it, its stats, and the listening port."""
    with tempfile.TemporaryDirectory(prefix="sockbench-bench-") as folder:
        stats = StatsReader(os.path.join(folder, "stats.jsonl"))
        argv = sockbench_argv(*args, "--stats-file", stats.path)
        with PtyApp(argv) as app:
            line = stats.wait("a listener", lambda s: s["listening"], STARTUP_SECONDS)
            port = int(str(line["listening"][0]).rsplit(":", 1)[1])  # type: ignore[index]
            yield app, stats, port


# --- start-up ---


def startup() -> Case:
    def first_screen(argv: list[str], marker: bytes) -> Figures:
        with PtyApp(argv, first_screen=marker) as app:
            return {"seconds": app.first_screen_seconds(STARTUP_SECONDS)}

    def sockbench_screens() -> Figures:
        with PtyApp(sockbench_argv(), first_screen=FIRST_SCREEN) as app:
            main = app.watch(MAIN_SCREEN)
            first = app.first_screen_seconds(STARTUP_SECONDS)
            if not main.found.wait(STARTUP_SECONDS):
                raise BenchError(f"no main screen within {STARTUP_SECONDS:g} s")
            return {"seconds": first, "main_seconds": main.seen_at - app.started_at}

    @contextmanager
    def warmed_up() -> Iterator[None]:
        """One launch of each first, not measured: Python compiles a module the first time
        it loads it (Textual's were compiled when it was installed)."""
        first_screen(sockbench_argv(), FIRST_SCREEN)
        first_screen(minimal_argv(), MINIMAL_MARKER.encode())
        yield

    return Case(
        "start-up",
        "from launch to the first screen in a terminal, vs a one-widget Textual app",
        [
            Metric("seconds", "s", higher_is_better=False, digits=3),
            # The first screen is drawn before the app's own modules load (ui/first_screen.py).
            Metric("main_seconds", "s to the main screen", higher_is_better=False, digits=3),
        ],
        [Goal("seconds", 1.3, MINIMAL), Goal("main_seconds", None)],
        [
            Variant(SOCKBENCH, sockbench_screens),
            Variant(MINIMAL, lambda: first_screen(minimal_argv(), MINIMAL_MARKER.encode())),
        ],
        prepare=warmed_up,
    )


# --- accept storm ---


def accept_storm(count: int) -> Case:
    def storm() -> Figures:
        # Past the default maximum of connections per listener, the rest would be refused.
        url = f"tcp://127.0.0.1:0?max={count}"
        with app_with_stats("--listen", url) as (_, stats, port):
            argv = python_peer("connect-storm", str(port), str(count), "60")
            peer = spawn(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            try:
                assert peer.stdout is not None
                started = json.loads(peer.stdout.readline() or "{}").get("started")
                if started is None:
                    raise BenchError("the connecting peer did not start")
                listed = stats.wait(
                    f"{count:,} connections listed", lambda s: counted(s, "listed") >= count, 30
                )
            finally:
                end(peer)
        return {"seconds": float(listed["t"]) - float(started)}  # type: ignore[arg-type]

    return Case(
        "accept storm",
        f"{count:,} simultaneous connections to one listener of the real app",
        [Metric("seconds", "s", higher_is_better=False, digits=2)],
        [Goal("seconds", 1.0)],
        [Variant(SOCKBENCH, storm)],
    )


# --- the UI under a flood ---


KEY_INTERVAL = 0.05
KEY_TIMEOUT = 2.0  # a key not shown by then counts as this late


@dataclass
class FloodPlan:
    records: int  # how many must reach the Log (records; messages in the framed case)
    seconds: float  # at most this long


def key_marker(index: int) -> bytes:
    """A different CJK character for every key: the flood (ASCII) never contains one, and no
    earlier key can be mistaken for this one."""
    return chr(0x4E00 + index % 20000).encode()


def flood_figures(
    app: PtyApp, stats: StatsReader, sender_argv: list[str], count: str, plan: FloodPlan
) -> Figures:
    """Start the sender, type a key every KEY_INTERVAL until the app's stats count
    `plan.records` more of `count` (at most `plan.seconds`): `count` per second from the last
    stats line before it moved to the last one read, frames per second, the keys' p99 from
    press to screen, and the memory grown meanwhile. `stats` has read a line already."""
    time.sleep(0.5)  # let the first screen settle
    base = stats.poll()
    if base is None:
        raise BenchError("the app wrote no stats")
    base_count = counted(base, count)
    rss_before = rss_bytes(app.pid)
    sender = spawn(sender_argv)
    keys: list[tuple[float, object]] = []
    frames_before = app.frames
    started = time.monotonic()
    try:
        index = 0
        while time.monotonic() - started < plan.seconds:
            line = stats.poll() or base
            if counted(line, count) - base_count >= plan.records:
                break
            marker = key_marker(index)
            watch = app.watch(marker)
            app.write(marker)
            keys.append((time.monotonic(), watch))
            index += 1
            time.sleep(KEY_INTERVAL)
        rss_after = rss_bytes(app.pid)
    finally:
        end(sender)
    elapsed = time.monotonic() - started
    frames = app.frames - frames_before
    time.sleep(KEY_TIMEOUT)  # the last keys' echo
    latencies = [
        (w.seen_at - sent) if w.found.is_set() else KEY_TIMEOUT  # type: ignore[attr-defined]
        for sent, w in keys
    ]
    lines = [base, *stats.lines]
    moved = next((i for i, s in enumerate(lines) if counted(s, count) > base_count), None)
    last = lines[-1]
    done = counted(last, count) - base_count
    if moved is None or done < plan.records:
        raise BenchError(f"only {done:,} {count} reached the Log in {plan.seconds:g} s")
    # From the last line before the count moved: the first moving line counts what came
    # since that one.
    span = float(last["t"]) - float(lines[moved - 1]["t"])  # type: ignore[arg-type]
    return {
        count: done / span if span > 0 else 0.0,
        "fps": frames / elapsed,
        "key_p99": 1000 * percentile(latencies, 99),
        "memory": (rss_after - rss_before) / MB,
    }


def flood_metrics(count: Metric) -> list[Metric]:
    return [
        count,
        Metric("fps", "frames/s", digits=1),
        Metric("key_p99", "ms key-to-screen p99", higher_is_better=False),
        Metric("memory", "MB RSS growth", higher_is_better=False, digits=1),
    ]


def flood_goals(count: str) -> list[Goal]:
    return [Goal(count, 100_000), Goal("fps", 20), Goal("key_p99", 100), Goal("memory", 100)]


def ui_flood(plan: FloodPlan) -> Case:
    def flood() -> Figures:
        with app_with_stats("--listen", "udp://127.0.0.1:0") as (app, stats, port):
            limit = str(plan.records * 50)
            sender = python_peer("datagrams", str(port), "0", str(plan.seconds), limit)
            return flood_figures(app, stats, sender, "records", plan)

    return Case(
        "UI under flood",
        f"the real app in a pty, 100-byte datagrams at full speed until {plan.records:,} "
        f"records reached the Log; a key every {KEY_INTERVAL * 1000:.0f} ms",
        flood_metrics(Metric("records", "records/s")),
        flood_goals("records"),
        [Variant(SOCKBENCH, flood)],
    )


FRAMING = "len:2:be"


def framed_flood(plan: FloodPlan) -> Case:
    """As the UI flood, over one TCP connection framed `len:2:be`, the Log in its messages
    view: the count is of messages the Log's framer made (each one a row the user can see),
    not of bytes or reads."""

    def flood() -> Figures:
        listen = f"tcp://127.0.0.1:0?framing={FRAMING}"
        with app_with_stats("--listen", listen, "--log-framing", "messages") as (app, stats, port):
            limit = str(plan.records * 10)
            sender = python_peer("framed-messages", str(port), str(plan.seconds), limit)
            figures = flood_figures(app, stats, sender, "messages", plan)
            last = stats.lines[-1]
            # Every message framed as sent: a gap (bytes the Log did not get) would leave the
            # framing in the wrong place, and what it framed after it would not count.
            for key in ("message_gaps", "malformed_messages"):
                if counted(last, key):
                    raise BenchError(f"the Log reported {counted(last, key):,} {key}")
            return figures

    return Case(
        "Framed Log under flood",
        f"the real app in a pty, its Log in the messages view (--log-framing messages); one "
        f"peer sends {FRAMING} messages of 100 bytes (98 of payload) over TCP at full speed "
        f"(a framed stream is read as fast as the Log takes it, never merged) until the Log "
        f"framed {plan.records:,}; counted by the Log's framer as each read arrives (the view "
        f"frames eagerly: every message is a row, drawn or not), a gap or a malformed message "
        f"fails the round; a key every {KEY_INTERVAL * 1000:.0f} ms",
        flood_metrics(Metric("messages", "messages/s")),
        flood_goals("messages"),
        [Variant(SOCKBENCH, flood)],
    )


def percentile(values: list[float], pct: float) -> float:
    if not values:
        raise BenchError("no key press was measured")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


# --- soak: memory under a long flood ---


def soak(seconds: float) -> Case:
    """A flood for a bounded time with the app's memory sampled every second: after a
    warm-up (the first third: the Log fills to its limit), memory should stay flat."""

    def run() -> Figures:
        with app_with_stats("--listen", "udp://127.0.0.1:0") as (app, stats, port):
            samples: list[tuple[float, int]] = []
            sender = spawn(python_peer("datagrams", str(port), "0", str(seconds), "1000000000"))
            started = time.monotonic()
            try:
                while (elapsed := time.monotonic() - started) < seconds:
                    samples.append((elapsed, rss_bytes(app.pid)))
                    time.sleep(1.0)
            finally:
                end(sender)
            records = counted(stats.poll() or {}, "records")
        warm = [rss for at, rss in samples if at >= seconds / 3]
        if len(warm) < 2:
            raise BenchError("too few memory samples after the warm-up")
        return {
            "growth": (max(warm) - warm[0]) / MB,
            "peak": max(rss for _, rss in samples) / MB,
            "records": records,
        }

    return Case(
        "soak",
        f"the real app under a datagram flood for {seconds:g} s, memory sampled every second; "
        "growth counted after the first third (the Log fills up to its limit)",
        [
            Metric("growth", "MB RSS growth after warm-up", higher_is_better=False, digits=1),
            Metric("peak", "MB RSS peak", higher_is_better=False, digits=0),
            Metric("records", "records in all"),
        ],
        [Goal("growth", 10), Goal("peak", None), Goal("records", None)],
        [Variant(SOCKBENCH, run)],
        rounds=1,  # one long run says more than several short ones
    )


def counted(line: dict[str, object], key: str) -> int:
    """A count from a --stats-file line (0 before the app wrote it)."""
    value = line.get(key, 0)
    assert isinstance(value, int), f"{key} is not a count: {value!r}"
    return value
