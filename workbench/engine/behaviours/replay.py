"""Replay: one side of a recorded connection played back (`?replay=FILE@2#C3`). A
listener plays the server's side to each new peer (the first peer gets the first recorded
connection, the next the next, starting again after the last); a connection of the user's
plays the client's side.

It sends its side's bytes as recorded, and before each of the other side's turns waits for
as many bytes as were recorded, then compares them: a difference is reported (a line in the
Log, `error`) and the replay goes on, as a mock should. With the endpoint's `framing=SPEC`
it waits for as many messages as the recorded turn held instead, whatever their lengths,
and compares them one by one (`workbench.replay.matching`); `replay-match=count` only
counts. It ends its stream (EOF, or a close when nothing else was recorded after) where the
recording did. `replay-pace=recorded` sends each of its turns after the pause the recording
had before it (at most MAX_PAUSE), with `Later` actions chained so that they stay in order.

The scripts come from a loader the command line (or the app) installs with `use_loader`:
a behaviour reads no file, and this one never imports the transcript's reader.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from itertools import cycle

from workbench.engine.behaviours.base import (
    Action,
    BehaviourFactory,
    Close,
    Context,
    HalfClose,
    Later,
    Report,
    Send,
)
from workbench.framing.messages import FramingError, FramingSpec, Message, parse_framing
from workbench.protocol.addresses import EndpointError
from workbench.protocol.enums import Origin
from workbench.protocol.options import MAX_REPLAY_PAUSE, SocketOptions
from workbench.replay.matching import (
    EXACT,
    BytesInbox,
    Inbox,
    MessagesInbox,
    recorded_messages,
)
from workbench.replay.script import Ended, Script, Sent, Side

# `FILE@2#C3` -> its stream connections' scripts, in order; ValueError in words.
ScriptLoader = Callable[[str], tuple[Script, ...]]
ENDED_AS_RECORDED = "replay: closed as recorded"
DIFFERS = "replay: differs from the recording"
NO_PACE, RECORDED_PACE = "none", "recorded"
# The longest recorded pause a paced replay keeps: a stale recording (a client that went
# for coffee) does not stall its replay.
MAX_PAUSE = MAX_REPLAY_PAUSE
# Between a paced send and one scheduled after it by a later event: their timers fire in
# that order even where the loop's clock counts milliseconds (uvloop).
PACE_GAP = 0.02

_loader: ScriptLoader | None = None
Clock = Callable[[], float]


def use_loader(loader: ScriptLoader) -> None:
    """Where replay= listeners and connections get their scripts from."""
    global _loader
    _loader = loader


class Replay:
    origin = Origin.REPLAY

    def __init__(
        self,
        script: Script,
        framing: FramingSpec | None = None,
        cut: tuple[tuple[Message, ...], ...] = (),
        match: str = EXACT,
        pace: str = NO_PACE,
        clock: Clock = time.monotonic,
    ) -> None:
        self.script = script
        self.framing = framing
        self.cut = cut
        self.match = match
        self.paced = pace == RECORDED_PACE
        self.clock = clock
        self.mine = Side.SERVER
        self.inbox: Inbox = BytesInbox(script, Side.CLIENT, match)
        self.next = 0  # the turn to play or wait for
        self.their_end = False
        self.differed = False
        self.extra_said = False
        self.ready_at = 0.0  # paced: when the last send scheduled goes out (the clock's)

    @property
    def done(self) -> bool:
        return self.next >= len(self.script.turns)

    @property
    def held(self) -> int:
        """The bytes of the peer's it holds (bounded, whatever the peer sends)."""
        return self.inbox.held

    def on_open(self, ctx: Context) -> Sequence[Action]:
        self.mine = Side.CLIENT if ctx.outgoing else Side.SERVER
        other = self.mine.other
        if self.framing is not None:
            self.inbox = MessagesInbox(self.script, other, self.framing, self.cut, self.match)
        else:
            self.inbox = BytesInbox(self.script, other, self.match)
        self.ready_at = self.clock()
        said = f"replay: plays the {self.mine} of {self.script.name}"
        return [Report(said), *self._advance()]

    def on_data(self, ctx: Context, data: bytes) -> Sequence[Action]:
        self.inbox.feed(data)
        return self._advance()

    def on_eof(self, ctx: Context) -> Sequence[Action]:
        self.their_end = True
        self.inbox.end()
        return self._advance()

    def on_close(self, ctx: Context) -> None:
        return None

    def _advance(self) -> list[Action]:
        # Each action with the recorded pause before it (None: at once, a report).
        steps: list[tuple[float | None, Action]] = []
        turns = self.script.turns
        was_done = self.done
        while not self.done:
            turn = turns[self.next]
            if turn.side is self.mine:
                self.next += 1
                if isinstance(turn, Sent):
                    self.inbox.sent(turn.data)
                    steps.append((turn.pause, Send(turn.data)))
                elif self.done:
                    steps.append((turn.pause, Close(self._verdict())))
                else:
                    steps.append((turn.pause, HalfClose()))
                continue
            whole, said = self.inbox.take(self.next, self.their_end)
            steps += [(None, self._differs(words)) for words in said]
            if not whole:
                if isinstance(turn, Ended):
                    self.inbox.trim()  # what comes before their end is counted, not kept
                break
            if isinstance(turn, Ended) and self.inbox.holds:
                steps.append((None, self._more("before its end of stream")))
            self.next += 1
        if self.done and not was_done and turns and turns[-1].side is not self.mine:
            if self.inbox.holds:
                steps.append((None, self._more("")))
            steps.append((0.0, Close(self._verdict())))  # its last turn was the other side's
        elif self.done and self.inbox.holds:
            if not self.extra_said:  # once: a peer may go on sending for ever
                self.extra_said = True
                steps.append((None, self._more("after the recording's end")))
            self.inbox.leftover()
        return self._in_order(steps)

    def _in_order(self, steps: list[tuple[float | None, Action]]) -> list[Action]:
        """The actions to take: at once, or (paced) the reports at once and the sends each
        after its pause, nested so that each waits for the one before it."""
        if not self.paced:
            return [action for _, action in steps]
        now_actions = [action for pause, action in steps if pause is None]
        mine = [(min(pause, MAX_PAUSE), action) for pause, action in steps if pause is not None]
        if not mine:
            return now_actions
        now = self.clock()
        behind = self.ready_at - now  # sends scheduled before still to go out first
        start = behind + PACE_GAP if behind > 0 else 0.0
        self.ready_at = now + start + sum(pause for pause, _ in mine)
        chained: list[Action] = []
        for at, (pause, action) in reversed(list(enumerate(mine))):
            wait = pause + start if at == 0 else pause
            chained = [Later(wait, [action, *chained])] if wait > 0 else [action, *chained]
        return now_actions + chained

    def _verdict(self) -> str:
        """Why it closes, with what the other side's bytes came to: a replay that says
        nothing on the way leaves no doubt at its end."""
        other = self.mine.other
        if self.differed:
            return f"{ENDED_AS_RECORDED}; the {other} differed from the recording (said above)"
        if self.match != EXACT:
            return f"{ENDED_AS_RECORDED}; the {other} sent as much as recorded (not compared)"
        return f"{ENDED_AS_RECORDED}; the {other} sent what was recorded"

    def _differs(self, words: str) -> Report:
        self.differed = True
        return Report(f"{DIFFERS}: {words}", error=True)

    def _more(self, when: str) -> Report:
        """What the other side sent past its recorded turns (then forgotten)."""
        self.differed = True
        count, first = self.inbox.leftover()
        when = f" {when}" if when else ""
        return Report(
            f"{DIFFERS}: the {self.mine.other} sent {count} more than recorded{when}: {first}",
            error=True,
        )


class ReplayFactory:
    """Each new connection gets the next script (after the last, the first again), played
    with the endpoint's framing, match and pace."""

    def __init__(
        self,
        scripts: tuple[Script, ...],
        framing: FramingSpec | None = None,
        match: str = EXACT,
        pace: str = NO_PACE,
        clock: Clock = time.monotonic,
    ) -> None:
        self.scripts = scripts
        self.framing = framing
        self.match = match
        self.pace = pace
        self.clock = clock
        self._next = cycle(range(len(scripts)))
        self._cuts: dict[int, tuple[tuple[Message, ...], ...]] = {}  # each script's, once

    def __call__(self) -> Replay:
        index = next(self._next)
        script = self.scripts[index]
        cut: tuple[tuple[Message, ...], ...] = ()
        if self.framing is not None:
            if index not in self._cuts:
                self._cuts[index] = recorded_messages(script, self.framing)
            cut = self._cuts[index]
        return Replay(script, self.framing, cut, self.match, self.pace, self.clock)


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
    how = [
        f"message by message in {options.framing}" if options.framing else "",
        "counting, not comparing" if options.replay_match == "count" else "",
        "at the recorded pace" if options.replay_pace == RECORDED_PACE else "",
    ]
    said = ", ".join(h for h in how if h)
    return f"replay: plays {options.replay} back" + (f" ({said})" if said else "")


def framing_of(options: SocketOptions) -> FramingSpec | None:
    if not options.framing:
        return None
    try:
        return parse_framing(options.framing)
    except (FramingError, ImportError) as exc:  # ImportError: a framing not built in
        raise EndpointError(f"replay: framing {options.framing}: {exc}") from None


def factory_of(options: SocketOptions) -> BehaviourFactory:
    return ReplayFactory(
        scripts_for(options.replay or ""),
        framing_of(options),
        options.replay_match or EXACT,
        options.replay_pace or NO_PACE,
    )
