"""Behaviours together: each event goes to each behaviour in order, their actions one after
the other, each marked with the origin of the behaviour that answered it (greet, then echo)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from workbench.engine.behaviours.base import (
    Action,
    Behaviour,
    BehaviourFactory,
    Close,
    Context,
    HearsUserSends,
    Relay,
    release,
)
from workbench.protocol.enums import Origin


def _marked(behaviour: Behaviour, actions: Sequence[Action]) -> list[Action]:
    return [
        action
        if isinstance(action, (Close, Relay)) or action.origin is not None
        else dataclasses.replace(action, origin=behaviour.origin)
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

    def on_user_send(self, ctx: Context, data: bytes) -> Sequence[Action]:
        return [
            a
            for b in self.behaviours
            if isinstance(b, HearsUserSends)
            for a in _marked(b, b.on_user_send(ctx, data))
        ]

    def on_close(self, ctx: Context) -> Sequence[Action] | None:
        return [a for b in self.behaviours for a in _marked(b, b.on_close(ctx) or ())]


class ChainFactory:
    """Makes each connection's Chain of the behaviours `makers` make; its `close()` frees
    what each of them holds for the listener."""

    def __init__(self, makers: Sequence[BehaviourFactory]) -> None:
        self.makers = tuple(makers)

    def __call__(self) -> Behaviour:
        return Chain([make() for make in self.makers])

    def close(self) -> None:
        for make in self.makers:
            release(make)


def chain_of(makers: Sequence[BehaviourFactory]) -> BehaviourFactory:
    return ChainFactory(makers)
