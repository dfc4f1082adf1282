"""Broker fan-out: one sender, RECEIVERS receivers, 100-byte messages through a `?broker=1`
listener, against `ncat --broker` with the same peer (workbench/bench/fanout_peer.py), which
does the timing. The figure is the messages delivered per second, summed over the receivers."""

from __future__ import annotations

import sys

from workbench.bench.harness import EngineHarness
from workbench.bench.peers import MESSAGE_BYTES
from workbench.bench.rounds import SOCKBENCH, Case, Figures, Goal, Metric, Variant
from workbench.bench.tools import (
    LOCALHOST,
    BenchError,
    free_port,
    missing,
    peer_report,
    running,
    wait_listening,
)

RECEIVERS = 50
NCAT = "ncat --broker"
DELIVERED = Metric("delivered", "msg/s")


def fanout_peer(port: int, seconds: float, limit: int) -> list[str]:
    return [
        sys.executable, "-m", "workbench.bench.fanout_peer",
        str(port), str(RECEIVERS), str(seconds), str(limit),
    ]  # fmt: skip


def delivered(report: dict[str, float]) -> Figures:
    """The peer's report as figures, or a BenchError that says what went wrong."""
    if not report["ready"]:
        raise BenchError(f"not every one of the {RECEIVERS} receivers got the first message")
    expected = int(report["sent"]) * RECEIVERS
    if int(report["messages"]) < expected:
        raise BenchError(
            f"the receivers got {int(report['messages']):,} messages of {expected:,} "
            f"({int(report['sent']):,} sent to each)"
        )
    if report["seconds"] <= 0:
        raise BenchError(f"no time measured ({report['seconds']:.6f} s)")
    return {"delivered": report["messages"] / report["seconds"]}


def broker_fanout(seconds: float) -> Case:
    limit = int(seconds * 1_000_000)  # well above what one sender writes in that time
    wait = seconds + 30

    def measured(port: int) -> Figures:
        with running(fanout_peer(port, seconds, limit), stdout=-1) as peer_proc:
            return delivered(peer_report(peer_proc, wait))

    def ours() -> Figures:
        with EngineHarness() as bench:
            _, port = bench.listen(f"tcp://{LOCALHOST}:0?broker=1")
            return measured(port)

    def ncat() -> Figures:
        port = free_port()
        with running(["ncat", "-l", "--broker", LOCALHOST, str(port)]) as broker:
            wait_listening(port, proc=broker)
            return measured(port)

    return Case(
        "Broker fan-out",
        f"one sender, {RECEIVERS} receivers, {MESSAGE_BYTES}-byte messages (one send() each) "
        f"for {seconds:g} s through a broker listener (?broker=1): messages delivered per "
        f"second, summed over the receivers; vs {NCAT}",
        [DELIVERED],
        [Goal("delivered", None, NCAT)],
        [Variant(SOCKBENCH, ours), Variant(NCAT, ncat, missing("ncat"))],
    )
