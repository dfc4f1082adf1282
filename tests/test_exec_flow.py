"""Flow control between an exec'd program and its peer, both ways: a program that floods its
stdout against a peer that reads slowly is not read faster than the peer takes it (the
engine's memory stays flat over 200 MB), and a peer that floods a program that does not read
its stdin is not read either (what sockbench holds stays bounded)."""

from __future__ import annotations

import hashlib
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from fault_helpers import accept, listen
from peers import wait_until
from test_exec import gone, program_pid, url
from test_peer_memory import rss_mb

from workbench.engine import Engine
from workbench.engine.bridge import EventBridge
from workbench.protocol import events as ev

WAIT = 60.0
FLOOD_BYTES = 200_000_000
# What a stalled program's output may reach: the kernel's socket buffers both ends (a few
# MB on loopback), asyncio's buffer up to its high-water mark, one read of the pipe.
STALLED_BOUND = 24 * 1024 * 1024
# Growth of the test process (the engine runs in it) while 200 MB go through. Unbounded
# buffering would hold most of them.
RSS_GROWTH_BOUND_MB = 40.0
# What the engine may have read from a peer whose program does not read: the pipe (64 KiB),
# the pipe's buffer up to the high-water mark (256 KiB), one read (256 KiB), and reads that
# were under way.
HELD_FOR_PROGRAM_BOUND = 4 * 1024 * 1024
# Reads its stdin 64 KiB at a time, resting between reads, and prints the MD5 of it all.
SLOW_MD5 = """
import hashlib, sys, time
md5 = hashlib.md5()
while data := sys.stdin.buffer.read1(65536):
    md5.update(data)
    time.sleep(0.002)
print(md5.hexdigest(), end="")
"""


class Drain(threading.Thread):
    """Drains the bridge as the UI would, keeping only the sizes of data and the other
    events: a Collector would keep every byte of the flood."""

    def __init__(self, bridge: EventBridge) -> None:
        super().__init__(daemon=True)
        self.bridge = bridge
        self.sizes: Counter[tuple[str, bool]] = Counter()
        self.others: list[ev.Event] = []
        self.running = True
        self.start()

    def run(self) -> None:
        while self.running:
            for event in self.bridge.drain(0.05):
                if isinstance(event, ev.Data):
                    self.sizes[event.cid, event.outgoing] += event.size
                else:
                    self.others.append(event)

    def wait_for(self, predicate: Callable[[ev.Event], bool]) -> Any:
        return wait_until(
            lambda: next((e for e in list(self.others) if predicate(e)), None), WAIT, "an event"
        )

    def stop(self) -> None:
        self.running = False
        self.join(5)


def wait_stalled(read: Callable[[], int], quiet: float = 0.5) -> int:
    """`read()` once it has stopped growing for `quiet` seconds."""
    deadline = time.monotonic() + WAIT
    last, since = read(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = read()
        if now != last:
            last, since = now, time.monotonic()
        elif last and time.monotonic() - since >= quiet:
            return last
    raise AssertionError(f"still growing after {WAIT:g} s: {last:,}")


def connection(engine: Engine, cid: str) -> Any:
    return engine.connections[cid]


def test_a_program_flooding_its_stdout_waits_for_a_slow_peer(make_engine) -> None:
    bridge = EventBridge()
    engine, events = make_engine(bridge)
    lid, port = listen(engine, events, url("exec", f"head -c {FLOOD_BYTES} /dev/zero"))
    client, cid = accept(events, lid, port)
    program_pid(events, cid)
    drain = Drain(bridge)
    conn = connection(engine, cid)
    try:
        with client:
            # The peer does not read: the program's output stops at what the sockets hold.
            stalled = wait_stalled(lambda: conn.bytes_out)
            assert stalled < STALLED_BOUND, f"{stalled:,} bytes sent to a peer that reads nothing"
            assert conn.buffered() <= 1024 * 1024
            before = peak = rss_mb()
            # Then it reads, slowly (about 60 MB/s at most): everything comes, memory flat.
            received, reads = 0, 0
            client.settimeout(WAIT)
            while chunk := client.recv(64 * 1024):
                received += len(chunk)
                reads += 1
                if reads % 64 == 0:
                    peak = max(peak, rss_mb())
                time.sleep(0.001)
            assert received == FLOOD_BYTES
        closed = drain.wait_for(lambda e: isinstance(e, ev.ConnectionClosed) and e.cid == cid)
        assert closed.reason == "exec: head exited with status 0"
        # Every byte is in the events (the first ones came before the drain started).
        assert events.size(cid, outgoing=True) + drain.sizes[cid, True] == FLOOD_BYTES
        assert peak - before < RSS_GROWTH_BOUND_MB, f"RSS grew {peak - before:.1f} MB"
    finally:
        drain.stop()


def test_a_peer_flooding_a_program_that_does_not_read_is_not_read_either(make_engine) -> None:
    bridge = EventBridge()
    engine, events = make_engine(bridge)
    lid, port = listen(engine, events, url("exec", "sleep 300"))
    client, cid = accept(events, lid, port)
    pid = program_pid(events, cid)
    drain = Drain(bridge)
    conn = connection(engine, cid)
    sent = 0
    try:
        with client:
            client.settimeout(1.0)
            block = b"x" * 65536
            try:
                while sent < FLOOD_BYTES:  # until the kernel's buffers are full
                    sent += client.send(block)
            except TimeoutError:
                pass
            held = wait_stalled(lambda: conn.bytes_in)
            assert sent < FLOOD_BYTES, "the peer was never held back"
            assert held < HELD_FOR_PROGRAM_BOUND, f"{held:,} bytes read for a program not reading"
            engine.close(cid)
            drain.wait_for(lambda e: isinstance(e, ev.ConnectionClosed) and e.cid == cid)
        wait_until(lambda: gone(pid), WAIT, "sleep to end with its connection")
    finally:
        drain.stop()


def test_a_program_that_reads_slowly_gets_every_byte_in_order(make_engine) -> None:
    """The peer is paused and resumed as the program's stdin fills and drains: nothing lost,
    nothing reordered (the MD5 of 20 MB, read by a program that sleeps between reads)."""
    bridge = EventBridge()
    engine, events = make_engine(bridge)
    lid, port = listen(engine, events, url("exec", f"{sys.executable} -c '{SLOW_MD5}'"))
    client, _ = accept(events, lid, port)
    drain = Drain(bridge)
    payload = bytes(range(256)) * (20 * 1024 * 1024 // 256)
    try:
        with client:
            client.settimeout(WAIT)
            client.sendall(payload)
            client.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := client.recv(4096):
                answer += chunk
        assert answer.decode() == hashlib.md5(payload).hexdigest()
    finally:
        drain.stop()
