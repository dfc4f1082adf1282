"""TCP cases: bulk in (with and without the transcript), bulk out, and small messages.
sockbench runs as the app runs it (EngineHarness); the references are socat and ncat."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from workbench.bench.harness import EngineHarness
from workbench.bench.peers import MESSAGE_BYTES
from workbench.bench.rounds import SOCKBENCH, Case, Figures, Goal, Metric, Variant
from workbench.bench.tools import (
    LOCALHOST,
    BenchError,
    finish,
    free_port,
    missing,
    peer_report,
    python_peer,
    running,
    wait_listening,
)
from workbench.protocol import events as ev
from workbench.session.model import ConnectionInfo
from workbench.transcript.export import streams_from_transcript

MB = 1_000_000
THROUGHPUT = Metric("throughput", "MB/s")
MESSAGES = Metric("messages", "msg/s")
BIG_SOCAT = "socat -b 131072"
# A round slower than this is broken, not slow: it fails instead of hanging.
SLOWEST_MB_PER_S = 20

Argv = Callable[[int], list[str]]  # a command line for a port


def zero_sender(size: int) -> Argv:
    return lambda port: [
        "socat", "-b", "131072", "-u", f"OPEN:/dev/zero,readbytes={size}", f"TCP:{LOCALHOST}:{port}"
    ]  # fmt: skip


def socat_sink(*options: str) -> Argv:
    return lambda port: ["socat", *options, "-u", f"TCP-LISTEN:{port},reuseaddr", "OPEN:/dev/null"]


def ncat_sink(port: int) -> list[str]:
    return ["ncat", "-l", "--recv-only", LOCALHOST, str(port)]


def bound(size: int) -> float:
    return 10 + size / (SLOWEST_MB_PER_S * MB)


def throughput(size: int, seconds: float) -> Figures:
    if seconds <= 0:
        raise BenchError(f"no time measured ({seconds:.6f} s)")
    return {"throughput": size / MB / seconds}


def sink_seconds(sink: Argv, sender: Argv, size: int) -> float:
    """Start a sink that exits at EOF, then the sender: seconds until the sink has it all."""
    port = free_port()
    with running(sink(port)) as proc:
        wait_listening(port, proc=proc)
        started = time.time()
        with running(sender(port)):
            if finish(proc, bound(size)) != 0:
                raise BenchError(f"{sink(port)[0]} exited with {proc.returncode}")
        return time.time() - started


def receive_seconds(
    size: int,
    transcript: str | None = None,
    url: str = f"tcp://{LOCALHOST}:0",
    sender: Argv | None = None,
) -> tuple[float, ConnectionInfo]:
    """A sender of `size` bytes (the zero sender unless given) into a sockbench listener at
    `url`: seconds until its EOF, and the peer."""
    with EngineHarness(transcript) as bench:
        lid, port = bench.listen(url)
        started = time.time()
        with running((sender or zero_sender(size))(port)) as sender_proc:
            peer = bench.peer_of(lid)
            eof = bench.wait("EOF", lambda: bench.event(ev.HalfClosed, peer.cid), bound(size))
            finish(sender_proc, bound(size))
        bench.wait("the last bytes counted", lambda: peer.bytes_in >= size)
        if peer.bytes_in != size:
            raise BenchError(f"received {peer.bytes_in:,} bytes of {size:,}")
        assert isinstance(eof, ev.HalfClosed)
        return eof.ts - started, peer


def bulk_in(size: int) -> Case:
    def reference(name: str, sink: Argv) -> Variant:
        run = lambda: throughput(size, sink_seconds(sink, zero_sender(size), size))  # noqa: E731
        return Variant(name, run, missing(name.split()[0]) or missing("socat"))

    return Case(
        "TCP bulk in",
        f"{size / MB:,.0f} MB from socat -b 131072 into a TCP listener (transcript off)",
        [THROUGHPUT],
        [
            Goal("throughput", 1.0, "socat"),
            Goal("throughput", 1.0, "ncat"),
            Goal("throughput", None, BIG_SOCAT),
        ],
        [
            Variant(
                SOCKBENCH, lambda: throughput(size, receive_seconds(size)[0]), missing("socat")
            ),
            reference("socat", socat_sink()),
            reference("ncat", ncat_sink),
            reference(BIG_SOCAT, socat_sink("-b", "131072")),
        ],
    )


def bulk_in_with_transcript(size: int) -> Case:
    def ours() -> Figures:
        with tempfile.TemporaryDirectory(prefix="sockbench-bench-") as folder:
            path = os.path.join(folder, "transcript.jsonl")
            seconds, peer = receive_seconds(size, path)
            check_transcript(path, peer.cid, size)
        return throughput(size, seconds)

    def socat() -> Figures:
        return throughput(size, sink_seconds(socat_sink(), zero_sender(size), size))

    return Case(
        "TCP bulk in, transcript on",
        f"as TCP bulk in, with --transcript; the file must decode to the {size / MB:,.0f} MB sent",
        [THROUGHPUT],
        [Goal("throughput", 0.5, "socat")],
        [Variant(SOCKBENCH, ours, missing("socat")), Variant("socat", socat, missing("socat"))],
    )


def check_transcript(path: str, cid: str, size: int) -> None:
    received = streams_from_transcript(path, cid)["in"]
    zeros = received.count(0)
    if len(received) != size or zeros != size:
        raise BenchError(
            f"the transcript holds {len(received):,} bytes ({zeros:,} of them zero) "
            f"of the {size:,} zero bytes sent"
        )


class PayloadFile:
    """A file of varied bytes for the bulk-out rounds, made once per case."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.path = ""

    @contextmanager
    def made(self) -> Iterator[str]:
        block = bytes(range(256)) * 4096  # 1 MiB
        with tempfile.NamedTemporaryFile(prefix="sockbench-bench-", suffix=".bin") as file:
            for offset in range(0, self.size, len(block)):
                file.write(block[: min(len(block), self.size - offset)])
            file.flush()
            self.path = file.name
            yield file.name


def bulk_out(size: int) -> Case:
    payload = PayloadFile(size)

    def ours() -> Figures:
        port = free_port()
        with running(socat_sink()(port)) as sink, EngineHarness() as bench:
            wait_listening(port, proc=sink)
            started = time.time()
            cid = bench.connect(f"tcp://{LOCALHOST}:{port}")
            bench.engine.send_file(cid, payload.path)
            bench.wait("the file sent", lambda: file_sent(bench, cid), bound(size))
            bench.engine.close(cid)
            finish(sink, bound(size))
            seconds = time.time() - started
            sent = bench.session.connections[cid].bytes_out
        if sent != size:
            raise BenchError(f"sent {sent:,} bytes of {size:,}")
        return throughput(size, seconds)

    def socat() -> Figures:
        def sender(port: int) -> list[str]:
            return ["socat", "-u", f"OPEN:{payload.path}", f"TCP:{LOCALHOST}:{port}"]

        return throughput(size, sink_seconds(socat_sink(), sender, size))

    return Case(
        "TCP bulk out",
        f"a {size / MB:,.0f} MB file sent to a socat sink",
        [THROUGHPUT],
        [Goal("throughput", 1.0, "socat")],
        [Variant(SOCKBENCH, ours, missing("socat")), Variant("socat", socat, missing("socat"))],
        prepare=payload.made,
    )


def file_sent(bench: EngineHarness, cid: str) -> bool:
    for event in bench.events:
        if isinstance(event, ev.FileProgress) and event.cid == cid and event.finished:
            if event.error:
                raise BenchError(event.error)
            return True
    return False


def small_messages(seconds: float) -> Case:
    limit = int(seconds * 2_000_000)  # well above what one sender can write
    wait = seconds + 10

    def sender(port: int) -> list[str]:
        return python_peer("small-messages", str(port), str(seconds), str(limit))

    def ours() -> Figures:
        with EngineHarness() as bench:
            lid, port = bench.listen(f"tcp://{LOCALHOST}:0")
            with running(sender(port), stdout=-1) as peer_proc:
                peer = bench.peer_of(lid)
                eof = bench.wait("EOF", lambda: bench.event(ev.HalfClosed, peer.cid), wait)
                done = peer_report(peer_proc, wait)
            expected = int(done["messages"]) * MESSAGE_BYTES
            bench.wait("the last bytes counted", lambda: peer.bytes_in >= expected)
            if peer.bytes_in != expected:
                raise BenchError(f"received {peer.bytes_in:,} bytes of {expected:,}")
            assert isinstance(eof, ev.HalfClosed)
            return {"messages": done["messages"] / (eof.ts - done["started"])}

    def socat() -> Figures:
        port = free_port()
        with running(socat_sink()(port)) as sink:
            wait_listening(port, proc=sink)
            with running(sender(port), stdout=-1) as peer_proc:
                finish(sink, wait)
                ended = time.time()
                done = peer_report(peer_proc, wait)
        return {"messages": done["messages"] / (ended - done["started"])}

    return Case(
        "small messages",
        f"a peer writing {MESSAGE_BYTES}-byte messages, one send() each, for {seconds:g} s",
        [MESSAGES],
        [Goal("messages", 300_000), Goal("messages", None, "socat")],
        [Variant(SOCKBENCH, ours), Variant("socat", socat, missing("socat"))],
    )
