"""The bench's own peers, run as separate processes (`python -m workbench.bench.peers ...`) so
they never share a GIL with what they measure. Each sends only to 127.0.0.1, is bounded in
count and time, and prints what it did as one JSON line."""

from __future__ import annotations

import argparse
import json
import resource
import select
import socket
import sys
import time

LOCALHOST = "127.0.0.1"
MESSAGE_BYTES = 100
STALL_SECONDS = 10.0
FRAMED_BATCH = 100  # framed messages per send: a flood, not a message per system call


def message(size: int) -> bytes:
    return b"m" * (size - 1) + b"\n"


def small_messages(port: int, seconds: float, limit: int) -> dict[str, float]:
    """One send() per 100-byte message, as fast as the kernel takes them."""
    msg = message(MESSAGE_BYTES)
    sent = 0
    started = time.time()
    with socket.create_connection((LOCALHOST, port), timeout=10) as sock:
        send = sock.send
        deadline = time.monotonic() + seconds
        while sent < limit and time.monotonic() < deadline:
            for _ in range(min(1000, limit - sent)):
                if send(msg) != len(msg):  # a blocking socket sends all or raises
                    raise RuntimeError("short send")
            sent += min(1000, limit - sent)
    return {"messages": sent, "started": started}


def datagrams(port: int, rate: float, seconds: float, limit: int, size: int) -> dict[str, float]:
    """`size`-byte datagrams, paced at `rate` per second (0: as fast as possible)."""
    payload = message(size)
    sent = refused = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((LOCALHOST, port))
        send = sock.send
        started = time.monotonic()
        deadline = started + seconds
        while sent < limit:
            now = time.monotonic()
            if now >= deadline:
                break
            due = limit if rate <= 0 else min(limit, int((now - started) * rate) + 1)
            burst = min(due - sent, 100)
            if burst <= 0:
                time.sleep(0.0002)
                continue
            for _ in range(burst):
                try:
                    send(payload)
                except ConnectionRefusedError:  # the listener is not there (yet)
                    refused += 1
            sent += burst
        elapsed = time.monotonic() - started
    return {"datagrams": sent, "refused": refused, "seconds": elapsed}


def framed_messages(port: int, seconds: float, limit: int, size: int) -> dict[str, float]:
    """`limit` messages of `size` bytes on the wire, each a 2-byte big-endian length
    (`len:2:be`) and its payload, as fast as the kernel takes them (FRAMED_BATCH messages a
    send); stops after `seconds`, or STALL_SECONDS without progress."""
    framed = framed_message(size)
    batch = framed * FRAMED_BATCH
    sent = 0
    started = time.time()
    with socket.create_connection((LOCALHOST, port), timeout=STALL_SECONDS) as sock:
        sendall = sock.sendall
        deadline = time.monotonic() + seconds
        try:
            while sent < limit and time.monotonic() < deadline:
                count = min(FRAMED_BATCH, limit - sent)
                sendall(batch if count == FRAMED_BATCH else framed * count)
                sent += count
        except OSError:  # the app went away or stalled: the bench judges what it framed
            pass
    return {"messages": sent, "started": started}


def framed_message(size: int) -> bytes:
    """One `len:2:be` message of `size` bytes in all (its 2-byte prefix included)."""
    if not 2 < size <= 0xFFFF + 2:
        raise ValueError(f"a len:2:be message is 3 to {0xFFFF + 2:,} bytes, not {size:,}")
    return (size - 2).to_bytes(2, "big") + message(size - 2)


def connect_storm(port: int, count: int, hold: float) -> dict[str, float]:
    """Open `count` connections at once (non-blocking), keep them until stdin closes or
    `hold` seconds pass."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, count + 100)), hard))
    started = time.time()
    socks = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.connect_ex((LOCALHOST, port))
        socks.append(sock)
    issued = time.time()
    print(json.dumps({"started": started, "issued": issued}), flush=True)
    select.select([sys.stdin], [], [], hold)
    for sock in socks:
        sock.close()
    return {"connections": count}


def echo_pings(port: int, count: int, size: int, limit: float) -> dict[str, float]:
    """`count` round trips of `size` bytes, one at a time (send, then read it all back), with
    Nagle off as an interactive client has it: the median and 99th percentile in
    microseconds. Stops after `limit` seconds, or STALL_SECONDS without a byte."""
    ping = message(size)
    times: list[float] = []
    deadline = time.monotonic() + limit
    with socket.create_connection((LOCALHOST, port), timeout=STALL_SECONDS) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffer = bytearray(size)
        view = memoryview(buffer)
        try:
            while len(times) < count and time.monotonic() < deadline:
                sent = time.perf_counter()
                sock.sendall(ping)
                got = 0
                while got < size:
                    read = sock.recv_into(view[got:])
                    if read == 0:
                        raise ConnectionError("the echo ended its stream")
                    got += read
                times.append(time.perf_counter() - sent)
                if buffer != ping:
                    raise ValueError("the echo sent back other bytes")
        except (OSError, ValueError):  # the bench judges how many came back
            pass
    times.sort()
    done = len(times)
    return {
        "round_trips": done,
        "median_us": times[done // 2] * 1e6 if done else 0.0,
        "p99_us": times[min(done - 1, int(done * 0.99))] * 1e6 if done else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m workbench.bench.peers")
    sub = parser.add_subparsers(dest="peer", required=True)
    small = sub.add_parser("small-messages")
    small.add_argument("port", type=int)
    small.add_argument("seconds", type=float)
    small.add_argument("limit", type=int)
    udp = sub.add_parser("datagrams")
    udp.add_argument("port", type=int)
    udp.add_argument("rate", type=float)
    udp.add_argument("seconds", type=float)
    udp.add_argument("limit", type=int)
    udp.add_argument("--size", type=int, default=MESSAGE_BYTES)
    framed = sub.add_parser("framed-messages")
    framed.add_argument("port", type=int)
    framed.add_argument("seconds", type=float)
    framed.add_argument("limit", type=int)
    framed.add_argument("--size", type=int, default=MESSAGE_BYTES)
    storm = sub.add_parser("connect-storm")
    storm.add_argument("port", type=int)
    storm.add_argument("count", type=int)
    storm.add_argument("hold", type=float)
    pings = sub.add_parser("echo-pings")
    pings.add_argument("port", type=int)
    pings.add_argument("count", type=int)
    pings.add_argument("size", type=int)
    pings.add_argument("limit", type=float)
    args = parser.parse_args()
    if args.peer == "small-messages":
        done = small_messages(args.port, args.seconds, args.limit)
    elif args.peer == "datagrams":
        done = datagrams(args.port, args.rate, args.seconds, args.limit, args.size)
    elif args.peer == "framed-messages":
        done = framed_messages(args.port, args.seconds, args.limit, args.size)
    elif args.peer == "echo-pings":
        done = echo_pings(args.port, args.count, args.size, args.limit)
    else:
        done = connect_storm(args.port, args.count, args.hold)
    print(json.dumps(done), flush=True)


if __name__ == "__main__":
    main()
