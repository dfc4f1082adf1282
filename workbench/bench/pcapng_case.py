"""pcapng export: `sockbench export --pcapng` of one connection that received a given size,
from a synthetic transcript written for it (quickly: one record's base64 made once, written
again and again). Reports MB/s and the export's peak RSS; no target (report only)."""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from workbench.bench.rounds import SOCKBENCH, Case, Figures, Goal, Metric, Variant
from workbench.bench.tools import BenchError

MB = 1_000_000
RECORD_BYTES = 1024 * 1024  # a file send's chunk: what sockbench writes per data record
SLOWEST_MB_PER_S = 5
POLL_SECONDS = 0.01  # a round slower than this is broken: it fails instead of hanging
START_TS = 1_800_000_000.0


def write_synthetic_transcript(path: str | Path, size: int, record: int = RECORD_BYTES) -> None:
    """A one-session transcript as sockbench writes it: a TCP listener, one accepted
    connection that receives `size` bytes (records of `record` bytes, a pattern that is
    not all zeros), sends a line back, and the peer's EOF and the close."""
    pattern = bytes(range(256)) * (record // 256 + 1)
    chunk = pattern[:record]
    body = base64.b64encode(chunk).decode("ascii")
    lines = [
        f'{{"ts":{START_TS:.6f},"event":"session","conn":"","version":"0.1.0","schema":1,'
        '"session_id":"0123456789abcdef"}',
        f'{{"ts":{START_TS:.6f},"event":"listen","conn":"L1","transport":"tcp",'
        '"local":["127.0.0.1:9000"],"notes":[]}',
        f'{{"ts":{START_TS:.6f},"event":"open","conn":"C1","transport":"tcp","listener":"L1",'
        '"local":"127.0.0.1:9000","remote":"127.0.0.1:45000"}',
    ]
    with open(path, "w", encoding="ascii") as file:
        file.write("\n".join(lines) + "\n")
        ts, left = START_TS, size
        while left > 0:
            ts += 0.0001
            if left >= record:
                piece, text = record, body
            else:
                piece = left
                text = base64.b64encode(chunk[:left]).decode("ascii")
            file.write(
                f'{{"ts":{ts:.6f},"event":"data","conn":"C1","dir":"in",'
                f'"size":{piece},"data":"{text}"}}\n'
            )
            left -= piece
        reply = base64.b64encode(b"got it\n").decode("ascii")
        file.write(
            f'{{"ts":{ts + 0.01:.6f},"event":"data","conn":"C1","dir":"out","size":7,'
            f'"data":"{reply}"}}\n'
            f'{{"ts":{ts + 0.02:.6f},"event":"eof","conn":"C1","dir":"in","then":"close"}}\n'
            f'{{"ts":{ts + 0.03:.6f},"event":"close","conn":"C1","reason":"closed by peer",'
            f'"cause":"peer","bytes_in":{size},"bytes_out":7}}\n'
        )


def export_argv(transcript: str, output: str) -> list[str]:
    return [sys.executable, "-m", "workbench", "export", transcript, "--pcapng", output]


def timed_export(transcript: str, output: str, timeout: float) -> tuple[float, int]:
    """Run the export as its own process: (seconds, its peak RSS in bytes).

    The peak is the process's own high-water mark (VmHWM in /proc), read while it runs:
    wait4's ru_maxrss also counts what the process held before its exec, and a child forked
    from a big process (a long test run) starts as big as its parent."""
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            export_argv(transcript, output), stdout=subprocess.DEVNULL, stderr=errors
        )
        deadline = time.monotonic() + timeout
        peak = 0
        while True:
            peak = max(peak, high_water_mark(process.pid))
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise BenchError(f"the export took longer than {timeout:g} s")
            time.sleep(POLL_SECONDS)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            said = errors.read().decode(errors="replace").strip()
            raise BenchError(f"the export failed ({process.returncode}): {said}")
    # Without /proc: wait4's figure (Linux counts it in KiB), an upper bound.
    return seconds, peak or usage.ru_maxrss * 1024


def high_water_mark(pid: int) -> int:
    """The peak resident memory of process `pid`'s program so far, in bytes (0: unknown)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def pcapng_export(size: int) -> Case:
    place: dict[str, Path] = {}

    @contextlib.contextmanager
    def transcript() -> Iterator[None]:
        with tempfile.TemporaryDirectory(prefix="sockbench-pcapng-") as directory:
            place["dir"] = Path(directory)
            write_synthetic_transcript(place["dir"] / "t.jsonl", size)
            yield

    def run() -> Figures:
        directory = place["dir"]
        output = directory / "out.pcapng"
        seconds, peak = timed_export(
            str(directory / "t.jsonl"), str(output), 30 + size / (SLOWEST_MB_PER_S * MB)
        )
        if output.stat().st_size < size:
            raise BenchError(f"the capture holds {output.stat().st_size:,} bytes, under {size:,}")
        os.unlink(output)
        return {"throughput": size / MB / seconds, "peak": peak / MB}

    return Case(
        "pcapng export",
        f"sockbench export --pcapng of one TCP connection that received {size / 2**20:,.0f} "
        "MiB (a synthetic transcript, 1 MiB records), as its own process: payload MB/s and "
        "the process's peak RSS",
        [
            Metric("throughput", "MB/s"),
            Metric("peak", "MB peak RSS", higher_is_better=False),
        ],
        [Goal("throughput", None), Goal("peak", None)],
        [Variant(SOCKBENCH, run)],
        prepare=transcript,
    )
