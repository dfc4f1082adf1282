"""The broker fan-out case's peer, a process of its own (`python -m workbench.bench.fanout_peer
PORT RECEIVERS SECONDS LIMIT`): RECEIVERS connections that only read, then one that sends
100-byte messages (one send() each) for SECONDS or LIMIT messages, whichever comes first, to
a broker on 127.0.0.1:PORT. It prints one JSON line: the messages the receivers got in all,
and the seconds from the first timed send to the last byte received.

The sender keeps at most WINDOW messages ahead of the slowest receiver: a broker that cuts
off a peer leaving megabytes unread (sockbench) and one that blocks on it (ncat) are both
measured at full speed, neither at its limit for slow peers."""

from __future__ import annotations

import argparse
import json
import selectors
import socket
import time

from workbench.bench.peers import LOCALHOST, MESSAGE_BYTES, STALL_SECONDS, message

BATCH = 1_000  # messages sent between looks at the receivers
WINDOW = 10_000  # messages (1 MB) the sender may be ahead of the slowest receiver
PROBE_SECONDS = 0.2  # how long the untimed first messages are waited for


class Receivers:
    def __init__(self, port: int, count: int) -> None:
        self.socks = [
            socket.create_connection((LOCALHOST, port), timeout=STALL_SECONDS) for _ in range(count)
        ]
        self.got = dict.fromkeys(self.socks, 0)
        self.selector = selectors.DefaultSelector()
        for sock in self.socks:
            sock.setblocking(False)
            self.selector.register(sock, selectors.EVENT_READ)
        self.buffer = bytearray(1 << 20)
        self.last = time.monotonic()

    def ready(self, sender: socket.socket, msg: bytes) -> dict[socket.socket, int] | None:
        """Send untimed messages until every receiver has one (a broker may take in the
        sender before some receivers), then read what is still on its way; what each has
        then is its base. None if some receiver never gets one."""
        deadline = time.monotonic() + STALL_SECONDS
        while min(self.got.values()) == 0:
            if time.monotonic() > deadline:
                return None
            sender.sendall(msg)
            self.read_until(len(msg), PROBE_SECONDS)
        settled = time.monotonic() + PROBE_SECONDS
        while time.monotonic() < settled and self._read_once(PROBE_SECONDS / 10):
            pass
        return dict(self.got)

    def read_until(
        self, at_least: int, limit: float, base: dict[socket.socket, int] | None = None
    ) -> bool:
        """Read until every receiver has `at_least` bytes beyond its `base`; False after
        `limit` seconds, or STALL_SECONDS without a byte, or a receiver's stream ending."""
        deadline = time.monotonic() + limit
        while min(got - (base[s] if base else 0) for s, got in self.got.items()) < at_least:
            now = time.monotonic()
            if now > deadline or now - self.last > STALL_SECONDS:
                return False
            if not self._read_once(0.1):
                return False
        return True

    def _read_once(self, timeout: float) -> bool:
        """One read from each receiver that has something; False if a stream ended."""
        for key, _ in self.selector.select(timeout):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                count = sock.recv_into(self.buffer)
            except OSError:
                return False
            if count == 0:
                return False
            self.got[sock] += count
            self.last = time.monotonic()
        return True

    def close(self) -> None:
        self.selector.close()
        for sock in self.socks:
            sock.close()


def fan_out(port: int, receivers: int, seconds: float, limit: int) -> dict[str, float]:
    readers = Receivers(port, receivers)
    msg = message(MESSAGE_BYTES)
    sent = 0
    try:
        with socket.create_connection((LOCALHOST, port), timeout=STALL_SECONDS) as sender:
            base = readers.ready(sender, msg)
            if base is None:
                return {"messages": 0, "sent": 0, "seconds": 0.0, "ready": 0}
            started = time.monotonic()
            deadline = started + seconds
            whole = True
            send = sender.send
            while sent < limit and time.monotonic() < deadline and whole:
                for _ in range(min(BATCH, limit - sent)):
                    if send(msg) != len(msg):  # a blocking socket sends all or raises
                        raise RuntimeError("short send")
                sent += min(BATCH, limit - sent)
                ahead = max(0, sent - WINDOW) * MESSAGE_BYTES
                whole = readers.read_until(ahead, STALL_SECONDS, base)
            readers.read_until(sent * MESSAGE_BYTES, STALL_SECONDS, base)
            seconds_taken = readers.last - started
    finally:
        readers.close()
    total = sent * MESSAGE_BYTES
    delivered = sum(min(readers.got[sock] - base[sock], total) for sock in readers.socks)
    return {
        "messages": delivered // MESSAGE_BYTES,
        "sent": sent,
        "seconds": seconds_taken,
        "ready": 1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m workbench.bench.fanout_peer")
    parser.add_argument("port", type=int)
    parser.add_argument("receivers", type=int)
    parser.add_argument("seconds", type=float)
    parser.add_argument("limit", type=int)
    args = parser.parse_args()
    print(json.dumps(fan_out(args.port, args.receivers, args.seconds, args.limit)), flush=True)


if __name__ == "__main__":
    main()
