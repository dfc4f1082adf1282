"""What a replay holds of the live peer's side, and how it matches the recorded turns: byte
for byte (as many bytes as were recorded), or message by message in a framing (as many
messages as the recorded turn held, whatever their lengths). Either compares (`exact`) or
only counts (`count`: a mock that answers whatever it is asked).

Pure and sans-IO, as the replay behaviour that uses it: bytes in, words about differences
out (the peer's bytes in them escaped by the one sanitizer). What it holds is bounded: the
bytes or messages of the turn it waits for, and a few bytes of what came past it.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

from workbench.codec import sanitize, sanitize_text
from workbench.framing.messages import (
    FramingSpec,
    Message,
    make_framer,
    pair_directions,
)
from workbench.replay.script import Ended, Script, Sent, Side

# How much of the bytes around a difference a report shows, each side of it.
SHOWN_BYTES = 32
EXACT, COUNT = "exact", "count"
MATCHES = (EXACT, COUNT)


def difference(expected: bytes, got: bytes, offset: int) -> str:
    """Where `got` first differs from `expected` (which may be longer), in words, with the
    bytes around it escaped (they are the peer's)."""
    at = next((i for i, (a, b) in enumerate(zip(expected, got, strict=False)) if a != b), None)
    if at is None:
        at = min(len(expected), len(got))
    start = max(0, at - SHOWN_BYTES // 2)
    want = sanitize(expected[start : at + SHOWN_BYTES])
    have = sanitize(got[start : at + SHOWN_BYTES])
    return f"at byte {offset + at:,}: recorded '{want}', got '{have}'"


def shown(data: bytes) -> str:
    """The first bytes of `data`, escaped, `...` when there were more."""
    return f"'{sanitize(data[:SHOWN_BYTES])}'" + ("..." if len(data) > SHOWN_BYTES else "")


class Inbox(Protocol):
    """The live peer's side of a replayed connection, matched against its recorded turns."""

    def feed(self, data: bytes) -> None:
        """The peer sent `data`."""

    def end(self) -> None:
        """The peer ended its stream."""

    def sent(self, data: bytes) -> None:
        """Our side sent `data` (an HTTP framer pairs each response with its request)."""

    def take(self, index: int, their_end: bool) -> tuple[bool, list[str]]:
        """Takes what came of turn `index` of the other side: whether all of it is in (or
        their stream ended), and the differences found, in words."""

    @property
    def holds(self) -> bool:
        """Something came that no turn has taken."""

    @property
    def held(self) -> int:
        """The bytes it holds of the peer's (bounded)."""

    def trim(self) -> None:
        """Keep only a few bytes of what no turn takes: a peer may send for ever."""

    def leftover(self) -> tuple[str, str]:
        """What came past the recorded turns, ("N bytes" or "N messages", its first bytes
        escaped), and forget it."""


class BytesInbox:
    """As many bytes as each recorded turn held, compared byte for byte (`exact`)."""

    def __init__(self, script: Script, other: Side, match: str = EXACT) -> None:
        self.turns = script.turns
        self.other = other
        self.compare = match == EXACT
        self.waiting = bytearray()  # the other side's bytes no turn has taken yet
        self.offset = 0  # how many of theirs turns took so far
        self.extra = 0  # bytes past the recorded turns, counted but not kept

    def feed(self, data: bytes) -> None:
        self.waiting += data

    def end(self) -> None:
        return None

    def sent(self, data: bytes) -> None:
        return None

    @property
    def holds(self) -> bool:
        return bool(self.waiting)

    @property
    def held(self) -> int:
        return len(self.waiting)

    def take(self, index: int, their_end: bool) -> tuple[bool, list[str]]:
        turn = self.turns[index]
        if isinstance(turn, Ended):
            return their_end, []
        expected = turn.data
        if len(self.waiting) < len(expected) and not their_end:
            return False, []  # wait for as many bytes as were recorded
        got = bytes(self.waiting[: len(expected)])
        del self.waiting[: len(expected)]
        offset, self.offset = self.offset, self.offset + len(got)
        if len(got) < len(expected):
            said = f"the {self.other} ended after {len(got):,} of {len(expected):,} bytes"
            return True, [f"{said}, {difference(expected, got, offset)}" if self.compare else said]
        if not self.compare or got == expected:
            return True, []
        return True, [f"the {self.other} sent other bytes, {difference(expected, got, offset)}"]

    def trim(self) -> None:
        if len(self.waiting) > SHOWN_BYTES:
            self.extra += len(self.waiting) - SHOWN_BYTES
            del self.waiting[SHOWN_BYTES:]

    def leftover(self) -> tuple[str, str]:
        count = len(self.waiting) + self.extra
        first = sanitize(bytes(self.waiting[:SHOWN_BYTES]))
        self.waiting.clear()
        self.extra = 0
        return f"{count:,} bytes", f"'{first}'" + ("..." if count > SHOWN_BYTES else "")


def recorded_messages(script: Script, spec: FramingSpec) -> tuple[tuple[Message, ...], ...]:
    """For each of `script`'s turns, the messages of `spec` it completes: each side framed
    on its own (its two framers paired, as HTTP needs). A side's end of stream takes what its
    framer still held (a message it never finished); turns that finish none hold none."""
    framers = {Side.CLIENT: make_framer(spec), Side.SERVER: make_framer(spec)}
    pair_directions(framers[Side.CLIENT], framers[Side.SERVER])
    cut: list[tuple[Message, ...]] = []
    for turn in script.turns:
        framer = framers[turn.side]
        cut.append(tuple(framer.feed(turn.data) if isinstance(turn, Sent) else framer.end()))
    return tuple(cut)


class MessagesInbox:
    """As many messages of a framing as each recorded turn held (whatever their lengths),
    compared one by one (`exact`), or only counted (`count`). A malformed message is said
    as such in both."""

    def __init__(
        self,
        script: Script,
        other: Side,
        spec: FramingSpec,
        cut: tuple[tuple[Message, ...], ...],
        match: str = EXACT,
    ) -> None:
        self.turns = script.turns
        self.cut = cut
        self.other = other
        self.compare = match == EXACT
        self.framer = make_framer(spec)  # the peer's direction
        self.ours = make_framer(spec)  # ours: only to tell the peer's framer of it
        pair_directions(self.ours, self.framer)
        self.told = callable(getattr(self.framer, "pair_with", None))
        self.queue: deque[Message] = deque()  # the peer's messages no turn has taken yet
        self.matched = 0  # of the turn being taken, its messages taken so far
        self.extra = 0  # messages past the recorded turns, counted but not kept
        self.first_extra = b""  # the first bytes of the first of them
        # Each turn of the other side's sends numbered from 1, for the reports.
        self.numbers: list[int] = []
        count = 0
        for turn in self.turns:
            count += isinstance(turn, Sent) and turn.side is other
            self.numbers.append(count)

    def feed(self, data: bytes) -> None:
        self.queue.extend(self.framer.feed(data))

    def end(self) -> None:
        self.queue.extend(self.framer.end())

    def sent(self, data: bytes) -> None:
        if self.told:
            self.ours.feed(data)

    @property
    def holds(self) -> bool:
        return bool(self.queue) or self.extra > 0

    @property
    def held(self) -> int:
        return self.framer.held + sum(len(m.data) for m in self.queue) + len(self.first_extra)

    def take(self, index: int, their_end: bool) -> tuple[bool, list[str]]:
        expected = self.cut[index]
        if isinstance(self.turns[index], Ended) and not their_end:
            return False, []
        said: list[str] = []
        while self.matched < len(expected) and self.queue:  # each compared as it comes
            said += self._match(index, expected, self.queue.popleft())
            self.matched += 1
        if self.matched < len(expected):
            if not their_end:
                return False, said  # wait for as many messages as were recorded
            said.append(
                f"the {self.other} ended after {self.matched:,} of {len(expected):,} messages"
                f" of {self._turn(index)}"
            )
        self.matched = 0
        return True, said

    def _match(self, index: int, expected: tuple[Message, ...], got: Message) -> list[str]:
        want = expected[self.matched]
        where = f"{self._turn(index)}, message {self.matched + 1} of {len(expected)}"
        if got.error:
            problem = sanitize_text(got.error)
            return [
                f"the {self.other} sent a malformed message ({where}: {problem}): "
                + shown(got.data)
            ]
        if not self.compare or (got.data, got.whole_size) == (want.data, want.whole_size):
            return []
        return [
            f"the {self.other} sent another message ({where}), "
            + difference(want.data, got.data, 0)
        ]

    def _turn(self, index: int) -> str:
        if isinstance(self.turns[index], Ended):
            return "what it left unfinished at its end"
        return f"its turn {self.numbers[index]}"

    def trim(self) -> None:
        while self.queue:
            message = self.queue.popleft()
            if not self.extra:
                self.first_extra = message.data[: SHOWN_BYTES + 1]
            self.extra += 1

    def leftover(self) -> tuple[str, str]:
        self.trim()
        count, first = self.extra, self.first_extra
        self.extra, self.first_extra = 0, b""
        return f"{count:,} message{'' if count == 1 else 's'}", shown(first)
