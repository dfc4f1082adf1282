"""Datagrams the system dropped at a UDP listener are counted and shown.

A listener with a tiny receive buffer (`?rcvbuf=`) and a burst sent far faster than any
reader takes it: the kernel drops most of the burst. The kernel counts them per socket and,
with SO_RXQ_OVFL on, hands the count so far to the reader with each later datagram; the app
shows it in the listener's label and says so once in the Log, and the transcript records it.
Before, nothing in the app said that anything was lost.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest
from peers import udp_drops, udp_socket
from textual.pilot import Pilot
from ui_helpers import (
    log_text,
    make_app,
    run_app,
    the_app,
    wait_listener_port,
    wait_ui,
)

from workbench.engine import many_datagrams
from workbench.engine.datagram_transport import OwnDatagramTransport

BURST = 20_000
# The smallest buffer the kernel allows (it doubles the asked value, with a floor): a few
# datagrams fit, a burst overflows it at once.
RCVBUF = 1024

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="SO_RXQ_OVFL and /proc/net/udp are Linux's"
)


def test_a_udp_burst_dropped_by_the_kernel_is_counted_shown_and_recorded(
    tmp_path: Path,
) -> None:
    transcript = tmp_path / "drops.jsonl"

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        target = ("127.0.0.1", port)
        with udp_socket() as sender:
            for index in range(BURST):
                sender.sendto(b"burst %d" % index, target)
            kernel = udp_drops(port)
            assert kernel, "the kernel dropped nothing: the burst did not overflow the buffer"
            # The count comes with the next datagram the kernel queues: one after the burst,
            # once the reader has made room.
            await wait_ui(pilot, lambda: app.session.connections, "the first peer")
            await pilot.pause(0.3)
            sender.sendto(b"after the burst", target)
            listener = app.session.listeners["L1"]
            await wait_ui(pilot, lambda: listener.dropped == udp_drops(port), "the drop count")
            kernel = udp_drops(port)
            assert kernel is not None and listener.dropped == kernel
            node = app.listeners_tree.root.children[0]
            await wait_ui(
                pilot,
                lambda: f"{kernel:,} dropped by the system" in str(node.label),
                f"'{kernel:,} dropped by the system' in the listener's label",
            )
            rows = [row for row in log_text(app) if "the system dropped datagrams" in row]
            assert len(rows) == 1, rows  # once per burst
            assert "receive buffer was full" in rows[0]
            print(f"\n{BURST:,} sent, {kernel:,} dropped by the kernel, shown: {node.label}")
        app.engine.flush_transcript()

    run_app(
        make_app(listen=[f"udp://127.0.0.1:0?rcvbuf={RCVBUF}"], transcript=str(transcript)),
        scenario,
    )
    records = [json.loads(line) for line in transcript.read_text().splitlines()]
    dropped = [r for r in records if r["event"] == "dropped"]
    assert dropped and dropped[-1]["conn"] == "L1"
    counts = [r["dropped"] for r in dropped]
    assert counts == sorted(counts) and counts[-1] > 0
    received = sum(1 for r in records if r["event"] == "data")
    # Every datagram was either received or dropped by the kernel (the last one too).
    assert received + counts[-1] == BURST + 1


def test_the_batch_receiver_reads_the_drop_count_of_the_last_datagram() -> None:
    """BatchReceiver on its own: no count before any drop, the kernel's count after."""
    receiver = many_datagrams.BatchReceiver.create(64, 2048)
    if receiver is None:
        pytest.skip("no recvmmsg here")
    with udp_socket() as listener, udp_socket() as sender:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        listener.setsockopt(socket.SOL_SOCKET, many_datagrams.SO_RXQ_OVFL, 1)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        sender.sendto(b"one", listener.getsockname())
        datagrams, _, _ = receiver.receive(listener.fileno())
        assert datagrams == [b"one"] and receiver.dropped == 0
        for _ in range(2_000):
            sender.sendto(b"x" * 100, listener.getsockname())
        while receiver.receive(listener.fileno())[0]:
            pass
        kernel = udp_drops(port)
        assert kernel
        sender.sendto(b"last", listener.getsockname())
        datagrams, _, _ = receiver.receive(listener.fileno())
        assert datagrams == [b"last"]
        assert receiver.dropped == kernel
        assert OwnDatagramTransport  # the engine's reader, which passes it on
