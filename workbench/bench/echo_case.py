"""TCP echo: a peer sends N bytes to an echo listener while reading them back, and a peer
making round trips of 64 bytes one at a time (the latency), each against
`socat -b 4096 ... PIPE`. sockbench runs as the app runs it (EngineHarness); the peer is the same
process for both and does the timing.

`ncat -l --exec /bin/cat` is no reference: ncat relays to its child through pipes with writes
that block, so when both pipes fill (ncat writing to cat, cat writing back) the two wait on
each other and the echo stalls for good (2 of 3 runs of 256 MB, with 57 KB back)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
# every chunk passes the bridge and the app's bookkeeping twice. Measured here: 2.1 GB/s against
# socat's 0.8 GB/s (2.7x; its small blocks cost it), so the bar leaves room for a busy machine.
TARGET_RATIO = 1.0
# socat's PIPE is one pipe that socat writes and reads itself, with blocking writes of up to
# its block size once the pipe is writable, which promises only one free page: with 8 KiB
# blocks socat blocks on its own pipe for good (3 of 6 runs of 1 GiB here). 4 KiB blocks fit.
SOCAT = "socat -b 4096 PIPE"


def echo_client(size: int) -> Callable[[int], list[str]]:
    return lambda port: python_peer("echo-client", str(port), str(size), str(bound(size)))


def echoed(size: int, report: dict[str, float]) -> Figures:
    """The peer's report as figures, or a BenchError that says what went wrong."""
    received, extra = int(report["received"]), int(report["extra"])
    if received < size:
        how = "the echo ended its stream" if report["eof"] else "the peer gave up"
        raise BenchError(
            f"{how} after {report['seconds']:.2f} s with {received:,} of {size:,} bytes back "
            f"(limit {bound(size):.0f} s, or {STALL_SECONDS:g} s without a byte)"
        )
    if extra:
        raise BenchError(f"{extra:,} bytes came back beyond the {size:,} sent")
    if not report["eof"]:
        raise BenchError("the echo did not end its stream after the peer ended its own")
    return throughput(size, report["seconds"])


def peer_seconds(size: int) -> float:
    return bound(size) + 10  # the peer bounds itself; this is for a peer that hangs anyway


def echo_case(size: int) -> Case:
    client = echo_client(size)

    def ours() -> Figures:
        with EngineHarness() as bench:
            lid, port = bench.listen(f"tcp://{LOCALHOST}:0?echo=1")
            with running(client(port), stdout=-1) as peer_proc:
                figures = echoed(size, peer_report(peer_proc, peer_seconds(size)))
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
        with socat_echo_port() as port, running(client(port), stdout=-1) as peer_proc:
            return echoed(size, peer_report(peer_proc, peer_seconds(size)))

    return Case(
        "TCP echo",
        f"a peer sends {size / MB:,.0f} MB to an echo listener (?echo=1) while reading it back, "
        f"timed to the last byte back (MB/s each way), then ends its stream; vs {SOCAT}",
        [THROUGHPUT],
        [Goal("throughput", TARGET_RATIO, SOCAT)],
        [Variant(SOCKBENCH, ours), Variant(SOCAT, socat, missing("socat"))],
    )


def socat_echo(port: int) -> list[str]:
    return ["socat", "-b", "4096", f"TCP-LISTEN:{port},reuseaddr,bind={LOCALHOST}", "PIPE"]


@contextmanager
def socat_echo_port() -> Iterator[int]:
    """socat's echo, listening: its port."""
    port = free_port()
    with running(socat_echo(port)) as echo:
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
