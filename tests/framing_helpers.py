"""Helpers for the framing tests: feeding a framer in pieces, comparing what it made, and
reading a real peer's bytes into a framer until enough messages came (with a timeout)."""

from __future__ import annotations

import itertools
import socket
import time
from collections.abc import Iterable

from peers import DEFAULT_TIMEOUT

from workbench.framing.messages import MAX_MESSAGE_BYTES, Framer, Message


def feed_pieces(framer: Framer, pieces: Iterable[bytes], bound: int | None = None) -> list[Message]:
    """Everything the framer makes from `pieces`, then from the stream's end; if `bound` is
    given, `held` never goes past it."""
    out: list[Message] = []
    for piece in pieces:
        out += framer.feed(piece)
        if bound is not None:
            assert framer.held <= bound, f"held {framer.held:,} > {bound:,}"
    return out + framer.end()


def split_at(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    """`data` cut at the given offsets (any order, repeats and out-of-range ones ignored)."""
    points = sorted({cut for cut in cuts if 0 < cut < len(data)})
    bounds = [0, *points, len(data)]
    return [data[start:stop] for start, stop in itertools.pairwise(bounds)]


def shape(
    messages: list[Message],
) -> list[tuple[bytes, int, str, str, tuple[tuple[str, str], ...]]]:
    """What a message is, for comparing two framings of one stream."""
    return [(m.data, m.whole_size, m.summary, m.error, m.fields) for m in messages]


def total_size(messages: list[Message]) -> int:
    return sum(m.whole_size for m in messages)


def held_bound(extra: int) -> int:
    """The most a framer may hold: a message's record plus `extra` (a line, a head)."""
    return MAX_MESSAGE_BYTES + extra


def read_messages(
    sock: socket.socket, framer: Framer, count: int, timeout: float = DEFAULT_TIMEOUT
) -> tuple[list[Message], bytes]:
    """Receive from `sock` into `framer` until it made `count` messages; the messages and
    the bytes received. AssertionError on timeout or if the peer closes first."""
    messages: list[Message] = []
    received = bytearray()
    deadline = time.monotonic() + timeout
    while len(messages) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(
                f"{len(messages)} of {count} messages within {timeout:g} s; "
                f"received {bytes(received[:300])!r}"
            )
        sock.settimeout(remaining)
        chunk = sock.recv(65536)
        if not chunk:
            messages += framer.end()
            if len(messages) < count:
                raise AssertionError(
                    f"peer closed after {len(messages)} of {count} messages: "
                    f"{bytes(received[:300])!r}"
                )
            break
        received += chunk
        messages += framer.feed(chunk)
    return messages, bytes(received)


def recv_all(sock: socket.socket, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """Everything until the peer closes (AssertionError after `timeout`)."""
    received = bytearray()
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no EOF within {timeout:g} s; got {bytes(received[:300])!r}")
        sock.settimeout(remaining)
        chunk = sock.recv(65536)
        if not chunk:
            return bytes(received)
        received += chunk
