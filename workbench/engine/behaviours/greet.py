"""Greet: each peer gets a greeting as it connects (a datagram peer: on its first datagram,
after it), and with `hangup` is closed once the greeting is sent: the classic "greeting then
close" server (`?greet=Hello,%20client!\n&hangup=1`)."""

from __future__ import annotations

from collections.abc import Sequence

from workbench.behaviour_options import greeting_bytes
from workbench.engine.behaviours.base import (
    NOTHING,
    Action,
    BehaviourFactory,
    Close,
    Context,
    Send,
)
from workbench.protocol.enums import Origin
from workbench.protocol.options import SocketOptions

HUNG_UP = "hung up after the greeting (hangup=1)"


class Greet:
    origin = Origin.GREET

    def __init__(self, greeting: bytes, hangup: bool) -> None:
        self.greeting = greeting
        self.hangup = hangup
        self.greeted = False

    def _greet(self) -> Sequence[Action]:
        self.greeted = True
        if self.hangup:
            return (Send(self.greeting), Close(HUNG_UP))
        return (Send(self.greeting),)

    def on_open(self, ctx: Context) -> Sequence[Action]:
        # A listener's datagram peer is made by its first datagram: it is greeted once that
        # is in. The user's own connections greet as they open.
        waits = ctx.transport.is_datagram and not ctx.outgoing
        return NOTHING if waits else self._greet()

    def on_attach(self, ctx: Context) -> Sequence[Action]:
        self.greeted = True  # already connected: greetings are for peers as they come
        return NOTHING

    def on_data(self, ctx: Context, data: bytes) -> Sequence[Action]:
        return NOTHING if self.greeted else self._greet()

    def on_eof(self, ctx: Context) -> Sequence[Action]:
        return NOTHING

    def on_close(self, ctx: Context) -> None:
        return None


def greeter(text: str, hangup: bool) -> BehaviourFactory:
    """Makes each connection's Greet: `text` with the composer's escapes, in UTF-8."""
    greeting = greeting_bytes(text)
    return lambda: Greet(greeting, hangup)


def greet_note(text: str, hangup: bool) -> str:
    """What the "listening on" line says of the greeting (the Log shows its control
    characters escaped, as it shows everything)."""
    then = ", then hangs up" if hangup else ""
    return f"greet: each peer gets '{greeting_bytes(text).decode('utf-8', 'replace')}'{then}"


def note_of(options: SocketOptions) -> str:
    return greet_note(options.greet or "", options.hangup)


def factory_of(options: SocketOptions) -> BehaviourFactory:
    return greeter(options.greet or "", options.hangup)
