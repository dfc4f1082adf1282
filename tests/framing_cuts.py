"""Helpers for the framings' property tests: a stream cut at chosen fractions of its length,
fed to a framer with its bounds checked."""

from __future__ import annotations

import itertools

from hypothesis import strategies as st

from workbench.framing.messages import Framer, Message

# Where to cut a stream: fractions of its length, so any stream can be cut anywhere.
CUTS = st.lists(st.floats(min_value=0.0, max_value=1.0), max_size=8)


def cut(data: bytes, fractions: list[float]) -> list[bytes]:
    """`data` in pieces, cut at the given fractions of its length (empty pieces included)."""
    points = sorted(int(fraction * len(data)) for fraction in fractions)
    edges = [0, *points, len(data)]
    return [data[start:end] for start, end in itertools.pairwise(edges)]


def feed_all(
    framer: Framer, chunks: list[bytes], held_bound: int, counted_unheld: bool = False
) -> list[Message]:
    """Every message of `chunks` fed in turn and then ended, checking that what the framer
    holds stays within `held_bound` after each chunk and that every byte fed is accounted for
    (in a message or held; with `counted_unheld`, a message too long to keep whole may also
    count bytes it does not hold, so that check waits for the end)."""
    out: list[Message] = []
    fed = 0
    for chunk in chunks:
        out.extend(framer.feed(chunk))
        fed += len(chunk)
        assert framer.held <= held_bound
        if not counted_unheld:
            assert sum(message.whole_size for message in out) + framer.held == fed
    out.extend(framer.end())
    assert framer.held == 0
    assert sum(message.whole_size for message in out) == fed
    return out
