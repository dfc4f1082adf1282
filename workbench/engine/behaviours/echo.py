"""Echo: every byte a peer sends goes back to it (a datagram to its sender), and the end of
its stream ends ours, like `socat ... PIPE`."""

from __future__ import annotations

from collections.abc import Sequence

from workbench.engine.behaviours.base import (
    ECHO_NOTE,
    NOTHING,
    Action,
    BehaviourFactory,
    Context,
    HalfClose,
    Send,
)
from workbench.protocol.enums import Origin
from workbench.protocol.options import SocketOptions


class Echo:
    origin = Origin.ECHO

    def on_open(self, ctx: Context) -> Sequence[Action]:
        return NOTHING

    def on_data(self, ctx: Context, data: bytes) -> Sequence[Action]:
        return (Send(data),)

    def on_eof(self, ctx: Context) -> Sequence[Action]:
        return (HalfClose(),)

    def on_close(self, ctx: Context) -> None:
        return None


def note_of(options: SocketOptions) -> str:
    return ECHO_NOTE


def factory_of(options: SocketOptions) -> BehaviourFactory:
    return Echo
