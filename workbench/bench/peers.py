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
    storm = sub.add_parser("connect-storm")
    storm.add_argument("port", type=int)
    storm.add_argument("count", type=int)
    storm.add_argument("hold", type=float)
    args = parser.parse_args()
    if args.peer == "small-messages":
        done = small_messages(args.port, args.seconds, args.limit)
    elif args.peer == "datagrams":
        done = datagrams(args.port, args.rate, args.seconds, args.limit, args.size)
    else:
        done = connect_storm(args.port, args.count, args.hold)
    print(json.dumps(done), flush=True)


if __name__ == "__main__":
    main()
