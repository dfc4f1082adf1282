"""TCP echo: a socat client sends N bytes to an echo listener while reading them back (against
`socat TCP-LISTEN,fork PIPE`), and a peer makes round trips of 64 bytes one at a time (the
latency, against `socat ... PIPE`). sockbench runs as the app runs it (EngineHarness); the
peer is the same process for both.

`ncat -l --exec /bin/cat` is no reference: ncat relays to its child through pipes with writes
that block, so when both pipes fill (ncat writing to cat, cat writing back) the two wait on
each other and the echo stalls for good (2 of 3 runs of 256 MB, with 57 KB back)."""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

from workbench.bench.harness import EngineHarness
from workbench.bench.peers import STALL_SECONDS
from workbench.bench.rounds import SOCKBENCH, Case, Figures, Goal, Metric, Variant
from workbench.bench.stream_cases import MB, THROUGHPUT, bound, throughput
from workbench.bench.tools import (
    LOCALHOST,
    BenchError,
    free_port,
    missing,
    peer_report,
    python_peer,
    running,
    wait_listening,
)

# The echo is TCP bulk in and bulk out at once, each held to 1.0x socat: so is the echo, though
# every chunk passes the bridge and the app's bookkeeping twice.
TARGET_RATIO = 1.0
# socat's PIPE is one pipe that socat writes and reads itself, with blocking writes of up to
# its block size once the pipe is writable, which promises only one free page: with 8 KiB
# blocks socat blocks on its own pipe for good (3 of 6 runs of 1 GiB here). 4 KiB blocks fit.
SOCAT = "socat -b 4096 PIPE"
SOCAT_SERVER = "socat TCP-LISTEN,fork PIPE"
READ_BYTES = 1 << 20


def socat_client(port: int, size: int) -> list[str]:
    """The peer for both: socat sends `size` zero bytes, writes what comes back to its stdout,
    and after its EOF waits for the echo's (-t: its default 0.5 s may cut the echo short)."""
    source = f"OPEN:/dev/zero,rdonly,readbytes={size}!!STDOUT"
    linger = f"{bound(size):.0f}"
    return ["socat", "-b", "65536", "-t", linger, f"TCP:{LOCALHOST}:{port}", source]


def echoed(port: int, size: int) -> Figures:
    """Seconds from socat's start until all `size` bytes came back and the echo ended its
    stream, as throughput; a BenchError that says what went wrong otherwise."""
    limit = bound(size)
    received = 0
    started = last_byte = time.monotonic()
    with running(socat_client(port, size), stdout=subprocess.PIPE) as client:
        assert client.stdout is not None
        out = client.stdout.fileno()
        while piece := _next_piece(out, started + limit, received, size):
            received += len(piece)
            last_byte = time.monotonic()
        seconds = time.monotonic() - started
        status = client.wait(STALL_SECONDS)
    if received != size:
        raise BenchError(f"{received:,} bytes came back of the {size:,} sent")
    if status != 0:
        raise BenchError(f"the socat client failed (exit status {status})")
    if seconds - (last_byte - started) > limit / 2:  # socat gave up waiting for the echo's EOF
        raise BenchError("the echo did not end its stream after the peer ended its own")
    return throughput(size, seconds)


def _next_piece(out: int, deadline: float, received: int, size: int) -> bytes:
    """What socat wrote next (b"": it exited), within the case's bound and STALL_SECONDS."""
    wait = min(deadline - time.monotonic(), STALL_SECONDS)
    if wait <= 0 or not select.select([out], [], [], wait)[0]:
        raise BenchError(f"{received:,} of {size:,} bytes came back, then none for {wait:.0f} s")
    return os.read(out, READ_BYTES)


def echo_case(size: int) -> Case:
    def ours() -> Figures:
        with EngineHarness() as bench:
            lid, port = bench.listen(f"tcp://{LOCALHOST}:0?echo=1")
            figures = echoed(port, size)
            peer = bench.peer_of(lid)
            bench.wait(
                "the echoed bytes counted", lambda: min(peer.bytes_in, peer.bytes_out) >= size
            )
            if (peer.bytes_in, peer.bytes_out) != (size, size):
                raise BenchError(
                    f"counted {peer.bytes_in:,} bytes in and {peer.bytes_out:,} out of {size:,}"
                )
        return figures

    def socat() -> Figures:
        with socat_echo_port(fork=True) as port:
            return echoed(port, size)

    return Case(
        "TCP echo",
        f"a socat client sends {size / MB:,.0f} MB to an echo listener (?echo=1) and reads it "
        f"back, timed to the echo's end of stream (MB/s each way); vs {SOCAT_SERVER} "
        "(-b 4096), the same client",
        [THROUGHPUT],
        [Goal("throughput", TARGET_RATIO, SOCAT_SERVER)],
        [
            Variant(SOCKBENCH, ours, missing("socat")),
            Variant(SOCAT_SERVER, socat, missing("socat")),
        ],
    )


def socat_echo(port: int, fork: bool = False) -> list[str]:
    listen = f"TCP-LISTEN:{port},reuseaddr,bind={LOCALHOST}" + (",fork" if fork else "")
    return ["socat", "-b", "4096", listen, "PIPE"]


@contextmanager
def socat_echo_port(fork: bool = False) -> Iterator[int]:
    """socat's echo, listening (`fork`: a child per connection): its port."""
    port = free_port()
    with running(socat_echo(port, fork)) as echo:
        wait_listening(port, proc=echo)
        yield port


# --- latency ---

PING_BYTES = 64
PING_SECONDS = 60.0  # the peer's own bound; 20,000 round trips take about 1 s here


def echo_latency(count: int) -> Case:
    def client(port: int) -> list[str]:
        return python_peer("echo-pings", str(port), str(count), str(PING_BYTES), str(PING_SECONDS))

    def pinged(proc_argv: list[str]) -> Figures:
        with running(proc_argv, stdout=-1) as peer_proc:
            report = peer_report(peer_proc, PING_SECONDS + 10)
        if int(report["round_trips"]) < count:
            raise BenchError(
                f"{int(report['round_trips']):,} of {count:,} round trips came back whole"
            )
        return {"median_us": report["median_us"], "p99_us": report["p99_us"]}

    def ours() -> Figures:
        with EngineHarness() as bench:
            _, port = bench.listen(f"tcp://{LOCALHOST}:0?echo=1")
            return pinged(client(port))

    def socat() -> Figures:
        with socat_echo_port() as port:
            return pinged(client(port))

    return Case(
        "TCP echo latency",
        f"{count:,} round trips of {PING_BYTES} bytes, one at a time (Nagle off), through an "
        f"echo listener (?echo=1); vs {SOCAT}",
        [
            Metric("median_us", "µs median", higher_is_better=False),
            Metric("p99_us", "µs p99", higher_is_better=False),
        ],
        [Goal("median_us", TARGET_RATIO, SOCAT), Goal("p99_us", TARGET_RATIO, SOCAT)],
        [Variant(SOCKBENCH, ours), Variant(SOCAT, socat, missing("socat"))],
    )
