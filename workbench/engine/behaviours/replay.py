"""Replay: one side of a recorded connection played back (`?replay=FILE@2#C3`). A
listener plays the server's side to each new peer (the first peer gets the first recorded
connection, the next the next, starting again after the last); a connection of the user's
plays the client's side.

It sends its side's bytes as recorded, and before each of the other side's turns waits for
as many bytes as were recorded, then compares them: a difference is reported (a line in the
Log, `error`) and the replay goes on, as a mock should. It ends its stream (EOF, or a close
when nothing else was recorded after) where the recording did.

The scripts come from a loader the command line (or the app) installs with `use_loader`:
a behaviour reads no file, and this one never imports the transcript's reader.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import cycle

from workbench.codec import sanitize
from workbench.engine.behaviours.base import (
    Action,
    BehaviourFactory,
    Close,
    Context,
    HalfClose,
    Report,
    Send,
)
from workbench.protocol.addresses import EndpointError
from workbench.protocol.enums import Origin
from workbench.protocol.options import SocketOptions
from workbench.replay.script import Script, Sent, Side

# `FILE@2#C3` -> its stream connections' scripts, in order; ValueError in words.
ScriptLoader = Callable[[str], tuple[Script, ...]]
# How much of the bytes around a difference a report shows, each side of it.
SHOWN_BYTES = 32
ENDED_AS_RECORDED = "replay: closed as recorded"
DIFFERS = "replay: differs from the recording"

_loader: ScriptLoader | None = None


def use_loader(loader: ScriptLoader) -> None:
    """Where replay= listeners and connections get their scripts from."""
    global _loader
    _loader = loader


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


class Replay:
    origin = Origin.REPLAY

    def __init__(self, script: Script) -> None:
        self.script = script
        self.mine = Side.SERVER
        self.next = 0  # the turn to play or wait for
        self.waiting = bytearray()  # the other side's bytes not yet compared
        self.their_offset = 0  # how many of theirs were compared so far
        self.their_end = False
        self.differed = False
        self.extra_said = False
        self.extra = 0  # bytes past the recorded turns, counted but not kept

    @property
    def done(self) -> bool:
        return self.next >= len(self.script.turns)

    def on_open(self, ctx: Context) -> Sequence[Action]:
        self.mine = Side.CLIENT if ctx.outgoing else Side.SERVER
        said = f"replay: plays the {self.mine} of {self.script.name}"
        return [Report(said), *self._advance()]

    def on_data(self, ctx: Context, data: bytes) -> Sequence[Action]:
        self.waiting += data
        return self._advance()

    def on_eof(self, ctx: Context) -> Sequence[Action]:
        self.their_end = True
        return self._advance()

    def on_close(self, ctx: Context) -> None:
        return None

    def _advance(self) -> list[Action]:
        actions: list[Action] = []
        turns = self.script.turns
        was_done = self.done
        while not self.done:
            turn = turns[self.next]
            if turn.side is self.mine:
                self.next += 1
                if isinstance(turn, Sent):
                    actions.append(Send(turn.data))
                elif self.done:
                    actions.append(Close(ENDED_AS_RECORDED))
                else:
                    actions.append(HalfClose())
                continue
            if isinstance(turn, Sent):
                if len(self.waiting) < len(turn.data) and not self.their_end:
                    break  # wait for as many bytes as were recorded
                actions += self._compare(turn.data)
            elif not self.their_end:
                self._trim()
                break  # wait for their end of stream
            elif self.waiting:
                actions.append(self._more("before its end of stream"))
            self.next += 1
        if self.done and not was_done and turns and turns[-1].side is not self.mine:
            if self.waiting:
                actions.append(self._more(""))
            actions.append(Close(ENDED_AS_RECORDED))  # its last turn was the other side's
        elif self.done and self.waiting:
            if not self.extra_said:  # once: a peer may go on sending for ever
                self.extra_said = True
                actions.append(self._more("after the recording's end"))
            self.waiting.clear()
        return actions

    def _trim(self) -> None:
        """Bytes no recorded turn waits for are counted, not kept: a peer may send for ever."""
        if len(self.waiting) > SHOWN_BYTES:
            self.extra += len(self.waiting) - SHOWN_BYTES
            del self.waiting[SHOWN_BYTES:]

    def _compare(self, expected: bytes) -> list[Action]:
        got = bytes(self.waiting[: len(expected)])
        del self.waiting[: len(expected)]
        offset, self.their_offset = self.their_offset, self.their_offset + len(got)
        if got == expected:
            return []
        self.differed = True
        other = self.mine.other
        if len(got) < len(expected):
            head = f"{DIFFERS}: the {other} ended after {len(got):,} of {len(expected):,} bytes"
        else:
            head = f"{DIFFERS}: the {other} sent other bytes"
        return [Report(f"{head}, {difference(expected, got, offset)}", error=True)]

    def _more(self, when: str) -> Report:
        """The bytes the other side sent past its recorded turns (then forgotten)."""
        self.differed = True
        count = len(self.waiting) + self.extra
        shown = sanitize(bytes(self.waiting[:SHOWN_BYTES]))
        self.waiting.clear()
        self.extra = 0
        when = f" {when}" if when else ""
        return Report(
            f"{DIFFERS}: the {self.mine.other} sent {count:,} bytes more than recorded{when}: "
            f"'{shown}'" + ("..." if count > SHOWN_BYTES else ""),
            error=True,
        )


class ReplayFactory:
    """Each new connection gets the next script (after the last, the first again)."""

    def __init__(self, scripts: tuple[Script, ...]) -> None:
        self.scripts = scripts
        self._next = cycle(scripts)

    def __call__(self) -> Replay:
        return Replay(next(self._next))


def scripts_for(text: str) -> tuple[Script, ...]:
    if _loader is None:
        raise EndpointError("replay: recordings cannot be read here (no loader installed)")
    try:
        scripts = _loader(text)
    except ValueError as exc:
        raise EndpointError(f"replay: {exc}") from None
    if not scripts:
        raise EndpointError(f"replay: {text}: no connection to replay")
    return scripts


def note_of(options: SocketOptions) -> str:
    return f"replay: plays {options.replay} back"


def factory_of(options: SocketOptions) -> BehaviourFactory:
    return ReplayFactory(scripts_for(options.replay or ""))
