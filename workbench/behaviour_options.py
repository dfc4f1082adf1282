"""The behaviour options' values as the engine uses them, checked before a listener opens.

The greeting takes the composer's escapes, parsed by the composer's own parser (the codec),
which the protocol may not import: so its options hold the text, and this checks it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.codec import EscapeError, parse_escapes
from workbench.exec_command import program_for
from workbench.protocol.addresses import EndpointError
from workbench.protocol.endpoints import Endpoint
from workbench.protocol.enums import Transport
from workbench.protocol.options import BEHAVIOUR_FIELDS, OPTIONS, SocketOptions

if TYPE_CHECKING:
    from workbench.framing.messages import FramingSpec
    from workbench.rules import RuleSet


def greeting_bytes(text: str) -> bytes:
    """The bytes `text` (the composer's escapes, UTF-8) stands for."""
    try:
        return parse_escapes(text)
    except EscapeError as exc:
        raise EndpointError(f"greet '{text}': {exc}") from None


def checked_rules(path: str) -> RuleSet:
    """The rules in the file at `path`, or EndpointError saying what is wrong (the file,
    the line)."""
    from workbench.rules import RulesError, load_rules  # tomllib and RE2: when asked for

    try:
        return load_rules(path)
    except RulesError as exc:
        raise EndpointError(f"rules: {exc}") from None


def rules_framing(rules: RuleSet, option: str | None) -> FramingSpec | None:
    """The framing of `rules`' message rules (`on = "message"`): the file's `framing`, else
    `option` (the endpoint's framing=); None if it has none. EndpointError if it has message
    rules and no framing, or the option is no framing."""
    from workbench.framing.messages import FramingError

    try:
        framing = rules.framing_for(option)
    except FramingError as exc:
        raise EndpointError(f"framing={option}: {exc}") from None
    if framing is None and rules.message_rule is not None:
        raise EndpointError(f"rules: {rules.missing_framing()}")
    return framing


# The behaviours that answer what peers send, each with what it does, for the errors that
# refuse two of them together: each would answer the same bytes.
ANSWERING = {
    "echo=1": "sends each peer back what it sends",
    "rules=": "answers each peer by its rules",
    "broker=1": "relays what each peer sends to the others",
    "chat=1": "relays what each peer sends to the others",
    "exec=": "hands each peer's bytes to a program",
    "sh=": "hands each peer's bytes to a program",
    "replay=": "plays a recorded connection to each peer",
}


def answering(options: SocketOptions) -> list[str]:
    """The answering behaviours `options` set, as URLs write them (chat=1 is broker=1 with
    names: the two together are chat)."""
    chosen = {
        "echo=1": options.echo,
        "rules=": options.rules is not None,
        "broker=1": options.broker and not options.chat,
        "chat=1": options.chat,
        "exec=": options.exec_command is not None,
        "sh=": options.sh_command is not None,
        "replay=": options.replay is not None,
    }
    return [name for name, on in chosen.items() if on]


def check_behaviours(options: SocketOptions) -> None:
    """EndpointError, in words, for behaviour options that cannot work (or not together)."""
    if options.greet is not None:
        greeting_bytes(options.greet)
    if options.hangup and options.greet is None:
        raise EndpointError("hangup=1 needs greet=TEXT: it hangs up once the greeting is sent")
    program_for(options)  # a command that cannot be split, or whose program is not there
    chosen = answering(options)
    if options.hangup and chosen:
        raise EndpointError(
            f"hangup=1 and {chosen[0]} do not go together: each connection closes once "
            f"greeted, before it has anything to answer"
        )
    if len(chosen) > 1:
        first, second = chosen[:2]
        raise EndpointError(
            f"{first} and {second} do not go together: {first} {ANSWERING[first]}, and "
            f"{second} {ANSWERING[second]}; choose one (greet= goes with any)"
        )
    if options.replay is None and (options.replay_match or options.replay_pace):
        said = "replay-match=" if options.replay_match else "replay-pace="
        raise EndpointError(f"{said} needs replay=FILE: it says how a recording is played")
    if options.rules is not None:  # last: the file is read
        checked_rules(options.rules)


def refuse_untaken(options: SocketOptions, transport: str) -> None:
    """EndpointError if a behaviour `options` set is not for `transport` (a dialog's fields
    would otherwise drop it without a word)."""
    for option in OPTIONS:
        value = getattr(options, option.field)
        if (
            option.field in BEHAVIOUR_FIELDS
            and value != option.default
            and transport not in option.transports
        ):
            takers = " and ".join(t.label for t in sorted(option.transports))
            raise EndpointError(
                f"{option.url_name}= is for {takers} listeners, not {Transport(transport).label}"
            )


def checked(endpoint: Endpoint) -> Endpoint:
    """`endpoint`, its behaviour options checked (EndpointError quoting its URL)."""
    options = endpoint.options
    try:
        check_behaviours(options)
        if options.rules is not None:  # its framing: an endpoint's option, not a behaviour's
            rules_framing(checked_rules(options.rules), options.framing)
    except EndpointError as exc:
        raise EndpointError(f"'{endpoint.url}': {exc}") from None
    return endpoint
