"""The composer's input to a connection with a framing (`framing=`): one message of that
framing (`len:2:be` prefixes it, `netstring` wraps it, `resp` makes `SET k "a b"` a command,
`delim:` ends it with its delimiter); each line of a block is a message. The line ending is
not added: the framing says where a message ends."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from workbench.framing.messages import FramingError, encode, parse_framing
from workbench.payloads import FilePayload, SendSettings

Payload = bytes | FilePayload


class NotFramed(Exception):
    """Why the input cannot be sent as a message of a recipient's framing, in words."""


def framed(
    payloads: list[tuple[str, Payload]],
    messages: Callable[[SendSettings], list[bytes]],
    framing_of: Callable[[str], str | None],
    settings_for: Callable[[str], SendSettings],
) -> list[tuple[str, Payload]]:
    """`payloads` with each framed recipient's made again as `messages` (the input, or each
    line of a block) without a line ending, each encoded in its framing (a file is sent as
    it is)."""
    out: list[tuple[str, Payload]] = []
    for cid, payload in payloads:
        text = framing_of(cid)
        if text and not isinstance(payload, FilePayload):
            bare = messages(replace(settings_for(cid), line_ending="none"))
            try:
                spec = parse_framing(text)
                payload = b"".join(encode(spec, message) for message in bare)
            except FramingError as exc:
                raise NotFramed(f"not sent: {cid} frames its messages as {text}: {exc}") from None
        out.append((cid, payload))
    return out


def as_messages(payload: Payload) -> list[bytes]:
    """What a built input is as messages: its bytes (a file is never framed)."""
    return [payload] if isinstance(payload, bytes) else []
