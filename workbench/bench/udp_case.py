"""UDP: 100-byte datagrams paced at a fixed rate into a sockbench UDP listener, against a
socat UDP sink. Loss is what sockbench counted against what the peer sent; the kernel's
per-socket drop counter says how much of it the kernel dropped."""

from __future__ import annotations

import time
from collections.abc import Callable

from workbench.bench.harness import EngineHarness
from workbench.bench.rounds import SOCKBENCH, Case, Figures, Goal, Metric, Variant
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
from workbench.session.model import ConnectionInfo

LOST = Metric("lost", "% lost", higher_is_better=False, digits=3)
KERNEL_DROPS = Metric("kernel_drops", "dropped by the kernel", higher_is_better=False)
SETTLE_SECONDS = 0.3  # no datagram counted for this long: the rest is lost


def kernel_drops(port: int) -> int:
    """The drop counter of the UDP socket bound to `port` on 127.0.0.1 (/proc/net/udp)."""
    local = f"0100007F:{port:04X}"
    with open("/proc/net/udp") as table:
        for line in table:
            fields = line.split()
            if fields[1] == local:
                return int(fields[-1])
    raise BenchError(f"no UDP socket on {LOCALHOST}:{port} in /proc/net/udp")


def figures(sent: int, received: int, drops: int) -> Figures:
    if sent <= 0:
        raise BenchError("the peer sent nothing")
    return {"lost": 100 * (sent - received) / sent, "kernel_drops": drops}


def datagram_case(rate: int, seconds: float) -> Case:
    count = int(rate * seconds)
    wait = seconds + 10

    def sender(port: int) -> list[str]:
        return python_peer("datagrams", str(port), str(rate), str(seconds), str(count))

    def ours() -> Figures:
        with EngineHarness() as bench:
            lid, port = bench.listen(f"udp://{LOCALHOST}:0")
            before = kernel_drops(port)
            with running(sender(port), stdout=-1) as peer_proc:
                sent = int(peer_report(peer_proc, wait)["datagrams"])
            received = settled(lambda: sum(c.chunks_in for c in peers(bench, lid)))
            return figures(sent, received, kernel_drops(port) - before)

    def socat() -> Figures:
        port = free_port()
        with running(
            ["socat", "-u", f"UDP-RECV:{port},bind={LOCALHOST}", "OPEN:/dev/null"]
        ) as sink:
            wait_listening(port, udp=True, proc=sink)
            before = kernel_drops(port)
            with running(sender(port), stdout=-1) as peer_proc:
                sent = int(peer_report(peer_proc, wait)["datagrams"])
            time.sleep(SETTLE_SECONDS)
            drops = kernel_drops(port) - before
        # socat counts nothing: what the kernel did not drop, it read.
        return figures(sent, sent - drops, drops)

    return Case(
        "UDP",
        f"100-byte datagrams paced at {rate:,}/s for {seconds:g} s into a UDP listener",
        [LOST, KERNEL_DROPS],
        [Goal("lost", 1.0), Goal("lost", None, "socat"), Goal("kernel_drops", None)],
        [Variant(SOCKBENCH, ours), Variant("socat", socat, missing("socat"))],
    )


def peers(bench: EngineHarness, lid: str) -> list[ConnectionInfo]:
    return [c for c in list(bench.session.connections.values()) if c.listener == lid]


def settled(count: Callable[[], int], timeout: float = 10.0) -> int:
    """`count()` once it has not changed for SETTLE_SECONDS."""
    deadline = time.monotonic() + timeout
    last, since = count(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = count()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= SETTLE_SECONDS:
            break
    return int(last)
