"""The behaviour options' values as the engine uses them, checked before a listener opens.

The greeting takes the composer's escapes, parsed by the composer's own parser (the codec),
which the protocol may not import: so its options hold the text, and this checks it."""

from __future__ import annotations

from workbench.codec import EscapeError, parse_escapes
from workbench.protocol.addresses import EndpointError
from workbench.protocol.endpoints import Endpoint
from workbench.protocol.options import SocketOptions


def greeting_bytes(text: str) -> bytes:
    """The bytes `text` (the composer's escapes, UTF-8) stands for."""
    try:
        return parse_escapes(text)
    except EscapeError as exc:
        raise EndpointError(f"greet '{text}': {exc}") from None


def check_behaviours(options: SocketOptions) -> None:
    """EndpointError, in words, for behaviour options that cannot work (or not together)."""
    if options.greet is not None:
        greeting_bytes(options.greet)
    if options.hangup and options.greet is None:
        raise EndpointError("hangup=1 needs greet=TEXT: it hangs up once the greeting is sent")
    if options.hangup and options.echo:
        raise EndpointError(
            "hangup=1 and echo=1 do not go together: each connection closes once greeted, "
            "before it has anything to echo"
        )


def checked(endpoint: Endpoint) -> Endpoint:
    """`endpoint`, its behaviour options checked (EndpointError quoting its URL)."""
    try:
        check_behaviours(endpoint.options)
    except EndpointError as exc:
        raise EndpointError(f"'{endpoint.url}': {exc}") from None
    return endpoint
