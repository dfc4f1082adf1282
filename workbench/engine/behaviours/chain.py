"""Behaviours together: each event goes to each behaviour in order, their actions one after
the other, each marked with the origin of the behaviour that answered it (greet, then echo)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from workbench.engine.behaviours.base import (
    Action,
    Behaviour,
    BehaviourFactory,
    Context,
    HalfClose,
    Send,
)
from workbench.protocol.enums import Origin


def _marked(behaviour: Behaviour, actions: Sequence[Action]) -> list[Action]:
    # What a behaviour sends is marked as its own; other actions carry no origin.
    return [
        dataclasses.replace(action, origin=behaviour.origin)
        if isinstance(action, Send | HalfClose) and action.origin is None
        else action
        for action in actions
    ]


class Chain:
    def __init__(self, behaviours: Sequence[Behaviour]) -> None:
        self.behaviours = tuple(behaviours)

    @property
    def origin(self) -> Origin:
        return self.behaviours[0].origin

    def on_open(self, ctx: Context) -> Sequence[Action]:
        return [a for b in self.behaviours for a in _marked(b, b.on_open(ctx))]

    def on_data(self, ctx: Context, data: bytes) -> Sequence[Action]:
        return [a for b in self.behaviours for a in _marked(b, b.on_data(ctx, data))]

    def on_eof(self, ctx: Context) -> Sequence[Action]:
        return [a for b in self.behaviours for a in _marked(b, b.on_eof(ctx))]

    def on_close(self, ctx: Context) -> None:
        for behaviour in self.behaviours:
            behaviour.on_close(ctx)


def chain_of(makers: Sequence[BehaviourFactory]) -> BehaviourFactory:
    """Makes each connection's Chain of the behaviours `makers` make."""
    return lambda: Chain([make() for make in makers])
