"""Rules: each peer is answered by the rules of a TOML file (`rules=FILE`), reloaded when the
file changes. Each reply is marked `rule N` (its place in the file). A connection gets at most
`RATE` replies a second (a bucket of `RATE` that refills at `RATE` a second): past that its
rules stop for good and the Log says so once, so a rule matching its own output, or two
servers answering each other, cannot loop forever.

Message rules (`on = "message"`) match each complete message of a framing (the file's
`framing`, else the endpoint's `framing=`; `workbench.framing`) once, on its payload (what
`payload_of` gives: the bytes after a length prefix, a RESP command's words...), a message
at a time whatever the reads were; a datagram is framed alone (what it leaves incomplete is
malformed). A reply is sent as one message of the framing (`workbench.rules.framed`), or as
it is with `reply_raw`. A malformed message (the framer's `error`: a length past the max, a
bad netstring, a RESP line that is no value) is not matched: the first one on a connection
is said in the Log, and the connection goes on being served (where the framing resyncs, the
messages after it are answered; where it cannot, the rest of the stream is unframed and
nothing more is answered). A reload that changes the framing starts a new framer on each
connection: what the old one held of an unfinished message is dropped."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Sequence

from workbench.behaviour_options import checked_rules, rules_framing
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
from workbench.framing.messages import (
    Framer,
    FramingError,
    FramingSpec,
    Message,
    make_framer,
    payload_of,
)
from workbench.protocol.enums import Origin, origin_of
from workbench.protocol.options import SocketOptions
from workbench.rules import Rule, RulesError, RuleSet, file_signature, load_rules
from workbench.rules.framed import framed_reply
from workbench.rules.template import Facts, codec_name

RATE = 100  # replies a second per connection, in bursts of as many
POLL_SECONDS = 0.5


def rules_note(path: str, framing: str | None = None) -> str:
    """What the "listening on" line says of the rules (`framing`: the endpoint's)."""
    where = os.path.abspath(path)
    try:
        rules = load_rules(path)
        spec = rules.framing_for(framing)
    except (RulesError, FramingError):
        return f"rules: from {where}"
    messages = f" (messages: {spec})" if spec is not None else ""
    return f"rules: {len(rules.rules)} from {where}{messages}"


class RulesFile:
    """A listener's rules file: its rules now, made into each connection's `Rules`; polled
    by the engine, it reloads the file when it changes (a bad one keeps the rules there
    were)."""

    poll_seconds = POLL_SECONDS

    def __init__(self, path: str, framing: str | None = None) -> None:
        self.path = os.path.abspath(path)
        self.signature = file_signature(self.path)
        self.framing_option = framing  # the endpoint's framing=, if it has one
        self.rules = checked_rules(self.path)
        # EndpointError (the listener does not open) for message rules without a framing.
        self.framing = rules_framing(self.rules, framing)
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
            framing = self._framing_of(rules)
        except RulesError as exc:
            # The facts first: a Log row is cut at the pane's edge.
            where = f" {exc.where}" if exc.where else ""
            why = f"rules file{where}: {exc.what}; not reloaded, the old rules stay ({self.path})"
            return (Report(why, True),)
        self.rules, self.framing = rules, framing
        count = len(rules.rules)
        return (Report(f"rules reloaded from {self.path}: {count} rule{'s' * (count != 1)}"),)

    def _framing_of(self, rules: RuleSet) -> FramingSpec | None:
        """`rules`' framing, or RulesError (as a bad file's) if message rules have none."""
        try:
            framing = rules.framing_for(self.framing_option)
        except FramingError as exc:  # the option was checked when the listener opened
            raise RulesError(self.path, f"framing={self.framing_option}: {exc}") from None
        if framing is None and rules.message_rule is not None:
            raise rules.missing_framing()
        return framing

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
        self.framing = source.framing  # the message rules' (None: there are none)
        self.messages: Framer | None = None  # frames a stream's messages, made when needed
        self.said_malformed = False
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
        for on, pieces in (
            ("read", (data,)),
            ("line", self._lines(ctx, data) if self.ruleset.on_lines else ()),
        ):
            for piece in pieces:
                actions += self._answer(ctx, piece, on)
                if self.stopped:
                    return actions
        if self.framing is not None:
            actions += self._answer_messages(ctx, self._messages(ctx, data))
        return actions

    def on_eof(self, ctx: Context) -> Sequence[Action]:
        if self.stopped:
            return NOTHING
        actions: list[Action] = []
        # The last line of a stream may have no line ending.
        last = self.framer.flush() if self.framer is not None else None
        if last is not None:
            actions += self._answer(ctx, last.data, "line")
        # A message may end with the stream (an HTTP response without a length); an
        # unfinished one is malformed.
        if self.messages is not None and not self.stopped:
            actions += self._answer_messages(ctx, self.messages.end())
        return actions

    def on_close(self, ctx: Context) -> None:
        return None

    def _follow_reloads(self) -> None:
        """New rules apply from the next data on: their counters start again."""
        if self.source.rules is not self.ruleset:
            self.ruleset = self.source.rules
            self.counters.clear()
            if self.framer is not None and self.framer.encoding != self.ruleset.encoding:
                self.framer.encoding = self.ruleset.encoding
            if self.source.framing != self.framing:
                self.framing, self.messages = self.source.framing, None

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

    def _messages(self, ctx: Context, data: bytes) -> list[Message]:
        """The messages `data` completes. A datagram is framed alone: what it leaves
        unfinished comes out malformed."""
        assert self.framing is not None
        if ctx.transport.is_datagram:
            framer = make_framer(self.framing)
            return framer.feed(data) + framer.end()
        if self.messages is None:
            self.messages = make_framer(self.framing)
        return self.messages.feed(data)

    def _answer_messages(self, ctx: Context, messages: Iterable[Message]) -> list[Action]:
        assert self.framing is not None
        actions: list[Action] = []
        for message in messages:
            if message.error:
                if not self.said_malformed:
                    self.said_malformed = True
                    actions.append(Report(self._malformed_message(ctx, message)))
                continue
            actions += self._answer(ctx, payload_of(self.framing, message), "message")
            if self.stopped:
                break
        return actions

    def _malformed_message(self, ctx: Context, message: Message) -> str:
        return (
            f"rules on {ctx.cid}: a malformed {self.framing} message is not answered: "
            f"{message.error} (later ones are not said)"
        )

    def _answer(self, ctx: Context, data: bytes, on: str) -> list[Action]:
        actions: list[Action] = []
        for rule in self.ruleset.rules:
            if rule.on != on:
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
            actions += self._reply(ctx, rule, facts)
            if not self.ruleset.answer_all:
                break
        return actions

    def _reply(self, ctx: Context, rule: Rule, facts: Facts) -> Sequence[Action]:
        now: list[Action] = []
        if rule.reply is not None:
            now.append(self._send(ctx, rule, rule.reply.render(facts)))
        if rule.close:
            now.append(Close(f"closed by rule {rule.number} (close = true)"))
        return (Later(rule.delay, now),) if rule.delay else now

    def _send(self, ctx: Context, rule: Rule, reply: bytes) -> Send | Report:
        """The reply as it goes: a message rule's made one message of the framing."""
        origin = origin_of(Origin.RULE, str(rule.number))
        if rule.on != "message" or rule.reply_raw or self.framing is None:
            return Send(reply, origin)
        try:
            return Send(framed_reply(self.framing, reply, server=not ctx.outgoing), origin)
        except FramingError as exc:
            return Report(
                f"rule {rule.number}'s reply cannot be one {self.framing} message: {exc}; not "
                "sent (reply_raw = true sends a reply as it is)",
                True,
            )

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
    return rules_note(options.rules or "", options.framing)


def factory_of(options: SocketOptions) -> BehaviourFactory:
    return RulesFile(options.rules or "", options.framing)
