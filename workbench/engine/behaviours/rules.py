"""Rules: each peer is answered by the rules of a TOML file (`rules=FILE`), reloaded when the
file changes. Each reply is marked `rule N` (its place in the file). A connection gets at most
`RATE` replies a second (a bucket of `RATE` that refills at `RATE` a second): past that its
rules stop for good and the Log says so once, so a rule matching its own output, or two
servers answering each other, cannot loop forever."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence

from workbench.behaviour_options import checked_rules
from workbench.engine.behaviours.base import (
    NOTHING,
    Action,
    BehaviourFactory,
    Close,
    Context,
    Later,
    Report,
    Send,
)
from workbench.framing.characters import line_feed
from workbench.framing.lines import LineFramer
from workbench.protocol.enums import Origin, origin_of
from workbench.protocol.options import SocketOptions
from workbench.rules import Rule, RulesError, file_signature, load_rules
from workbench.rules.template import Facts, codec_name

RATE = 100  # replies a second per connection, in bursts of as many
POLL_SECONDS = 0.5


def rules_note(path: str) -> str:
    """What the "listening on" line says of the rules."""
    where = os.path.abspath(path)
    try:
        count = len(load_rules(path).rules)
    except RulesError:
        return f"rules: from {where}"
    return f"rules: {count} from {where}"


class RulesFile:
    """A listener's rules file: its rules now, made into each connection's `Rules`; polled
    by the engine, it reloads the file when it changes (a bad one keeps the rules there
    were)."""

    poll_seconds = POLL_SECONDS

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self.signature = file_signature(self.path)
        self.rules = checked_rules(self.path)
        self.closed = False

    def __call__(self) -> Rules:
        return Rules(self)

    def poll(self) -> Sequence[Report]:
        if self.closed:
            return NOTHING_REPORTED
        signature = file_signature(self.path)
        if signature == self.signature:
            return NOTHING_REPORTED
        self.signature = signature
        if signature is None:
            return (Report(f"rules file {self.path} is gone: its rules stay in use", True),)
        try:
            rules = load_rules(self.path)
        except RulesError as exc:
            # The facts first: a Log row is cut at the pane's edge.
            where = f" {exc.where}" if exc.where else ""
            why = f"rules file{where}: {exc.what}; not reloaded, the old rules stay ({self.path})"
            return (Report(why, True),)
        self.rules = rules
        count = len(rules.rules)
        return (Report(f"rules reloaded from {self.path}: {count} rule{'s' * (count != 1)}"),)

    def close(self) -> None:
        self.closed = True


NOTHING_REPORTED: Sequence[Report] = ()


class Rules:
    """One connection's answers by its listener's rules."""

    origin = Origin.RULE

    def __init__(self, source: RulesFile) -> None:
        self.source = source
        self.ruleset = source.rules
        self.counters: dict[int, int] = {}  # rule number -> its matches here
        self.framer: LineFramer | None = None
        self.tokens = float(RATE)
        self.refilled = time.monotonic()
        self.stopped = False

    def on_open(self, ctx: Context) -> Sequence[Action]:
        return NOTHING

    def on_data(self, ctx: Context, data: bytes) -> Sequence[Action]:
        if self.stopped:
            return NOTHING
        self._follow_reloads()
        actions: list[Action] = []
        for on_lines, pieces in (
            (False, (data,)),
            (True, self._lines(ctx, data) if self.ruleset.on_lines else ()),
        ):
            for piece in pieces:
                actions += self._answer(ctx, piece, on_lines)
                if self.stopped:
                    return actions
        return actions

    def on_eof(self, ctx: Context) -> Sequence[Action]:
        # The last line of a stream may have no line ending.
        last = self.framer.flush() if self.framer is not None else None
        if last is None or self.stopped:
            return NOTHING
        return self._answer(ctx, last.data, True)

    def on_close(self, ctx: Context) -> None:
        return None

    def _follow_reloads(self) -> None:
        """New rules apply from the next data on: their counters start again."""
        if self.source.rules is not self.ruleset:
            self.ruleset = self.source.rules
            self.counters.clear()
            if self.framer is not None and self.framer.encoding != self.ruleset.encoding:
                self.framer.encoding = self.ruleset.encoding

    def _lines(self, ctx: Context, data: bytes) -> Iterator[bytes]:
        """The lines `data` completes, without their line endings. A datagram is lines of
        its own: its last, unended, too."""
        encoding = self.ruleset.encoding
        if ctx.transport.is_datagram:
            framer = LineFramer(encoding)
            lines = framer.feed(data)
            last = framer.flush()
            pieces = [line.data for line in lines] + ([last.data] if last else [])
        else:
            if self.framer is None:
                self.framer = LineFramer(encoding)
            pieces = [line.data for line in self.framer.feed(data)]
        feed = line_feed(encoding)
        cr = "\r".encode(codec_name(encoding))
        for piece in pieces:
            if piece.endswith(feed):
                piece = piece[: -len(feed)]
                if piece.endswith(cr):
                    piece = piece[: -len(cr)]
            yield piece

    def _answer(self, ctx: Context, data: bytes, on_lines: bool) -> list[Action]:
        actions: list[Action] = []
        for rule in self.ruleset.rules:
            if rule.on_lines != on_lines:
                continue
            if rule.once and self.counters.get(rule.number):
                continue
            matched = rule.matcher.match(data)
            if matched is None:
                continue
            if not self._take_token():
                self.stopped = True
                actions.append(Report(self._stopped_message(ctx), True))
                return actions
            count = self.counters[rule.number] = self.counters.get(rule.number, 0) + 1
            facts = Facts(
                matched.whole,
                matched.groups,
                matched.named or {},
                data,
                ctx.remote,
                ctx.cid,
                count,
            )
            actions += self._reply(rule, facts)
            if not self.ruleset.answer_all:
                break
        return actions

    @staticmethod
    def _reply(rule: Rule, facts: Facts) -> Sequence[Action]:
        origin = origin_of(Origin.RULE, str(rule.number))
        now: list[Action] = []
        if rule.reply is not None:
            now.append(Send(rule.reply.render(facts), origin))
        if rule.close:
            now.append(Close(f"closed by rule {rule.number} (close = true)"))
        return (Later(rule.delay, now),) if rule.delay else now

    def _take_token(self) -> bool:
        now = time.monotonic()
        self.tokens = min(float(RATE), self.tokens + (now - self.refilled) * RATE)
        self.refilled = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    @staticmethod
    def _stopped_message(ctx: Context) -> str:
        return (
            f"rules stopped on {ctx.cid}: more than {RATE} replies a second (a rule may be "
            f"answering its own output, or another server answering these); what {ctx.cid} "
            "sends is no longer answered"
        )


def note_of(options: SocketOptions) -> str:
    return rules_note(options.rules or "")


def factory_of(options: SocketOptions) -> BehaviourFactory:
    return RulesFile(options.rules or "")
