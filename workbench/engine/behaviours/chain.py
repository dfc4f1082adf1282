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
    HearsUserSends,
    Later,
    Report,
    Send,
    attached,
    polled,
    release,
)
from workbench.protocol.enums import Origin


def _marked(behaviour: Behaviour, actions: Sequence[Action]) -> list[Action]:
    return [_mark(behaviour, action) for action in actions]


def _mark(behaviour: Behaviour, action: Action) -> Action:
    """`action` with `behaviour`'s origin where it names none (a Relay always names one)."""
    if isinstance(action, Send | HalfClose) and action.origin is None:
        return dataclasses.replace(action, origin=behaviour.origin)
    if isinstance(action, Later):
        return Later(action.seconds, _marked(behaviour, action.actions))
    return action


class Chain:
    def __init__(self, behaviours: Sequence[Behaviour]) -> None:
        self.behaviours = tuple(behaviours)

    @property
    def origin(self) -> Origin:
        return self.behaviours[0].origin

    def on_open(self, ctx: Context) -> Sequence[Action]:
        return [a for b in self.behaviours for a in _marked(b, b.on_open(ctx))]

    def on_attach(self, ctx: Context) -> Sequence[Action]:
        return [a for b in self.behaviours for a in _marked(b, attached(b, ctx))]

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
    """Makes each connection's Chain of the behaviours `makers` make; releases and polls
    what they hold for the listener (see `BehaviourFactory`)."""

    def __init__(self, makers: Sequence[BehaviourFactory]) -> None:
        self.makers = tuple(makers)
        self._polled = [p for m in self.makers if (p := polled(m)) is not None]
        if self._polled:  # only then is it Polled itself
            self.poll_seconds = min(maker.poll_seconds for maker in self._polled)

    def __call__(self) -> Chain:
        return Chain([make() for make in self.makers])

    def poll(self) -> list[Report]:
        return [report for maker in self._polled for report in maker.poll()]

    def close(self) -> None:
        for maker in self.makers:
            release(maker)


def chain_of(makers: Sequence[BehaviourFactory]) -> BehaviourFactory:
    """Makes each connection's Chain of the behaviours `makers` make."""
    return ChainFactory(makers)
