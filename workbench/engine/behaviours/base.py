"""The behaviour seam: the interface, its context and its actions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import import_module
from types import ModuleType
from typing import Protocol, runtime_checkable

from workbench.engine.behaviours.program_actions import ProgramAction
from workbench.protocol.enums import Origin, OriginName, Transport
from workbench.protocol.options import SocketOptions


@dataclass(frozen=True, slots=True)
class Context:
    """What a behaviour may know of its connection: never the engine, never the socket."""

    cid: str
    transport: Transport
    remote: str
    outgoing: bool = False  # the user's own connection, not a listener's peer


@dataclass(frozen=True, slots=True)
class Send:
    """Send `data` to the connection's peer (a datagram peer: one datagram). `origin`: who
    sent it, if not the behaviour that answered it (one of a `Chain`'s)."""

    data: bytes
    origin: OriginName | None = None


@dataclass(frozen=True, slots=True)
class HalfClose:
    """Send EOF: the stream ends this way, after what was sent before it."""

    origin: OriginName | None = None


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection after what was sent before it."""

    reason: str


@dataclass(frozen=True, slots=True)
class Later:
    """Carry out `actions` `seconds` from now, unless the connection has closed by then."""

    seconds: float
    actions: Sequence[Action]


@dataclass(frozen=True, slots=True)
class Report:
    """A line in the Log about the connection (or, from a factory's `poll`, its listener):
    something the behaviour did on its own that the user should know (`error`: went wrong)."""

    message: str
    error: bool = False


@dataclass(frozen=True, slots=True)
class Relay:
    """Send `data` to `to`, another peer of the same listener (a broker relaying). A peer
    holding more than `limit` bytes that it has not read is cut off instead, for `reason`,
    before it holds the others back; a peer that is gone meanwhile is passed over."""

    to: str
    data: bytes
    origin: OriginName
    limit: int
    reason: str


Action = Send | HalfClose | Close | Later | Report | Relay | ProgramAction
NOTHING: Sequence[Action] = ()


class Behaviour(Protocol):
    """One connection's behaviour. `origin` marks the data it sends, in the Log and the
    transcript (unless an action names its own). Every method returns the actions to take,
    in order."""

    @property
    def origin(self) -> Origin: ...
    def on_open(self, ctx: Context) -> Sequence[Action]: ...
    def on_data(self, ctx: Context, data: bytes) -> Sequence[Action]: ...
    def on_eof(self, ctx: Context) -> Sequence[Action]:
        """The peer ended its stream (streams only)."""

    def on_close(self, ctx: Context) -> Sequence[Action] | None:
        """The connection is gone: nothing can be done on it any more (a broker may still
        tell the others: Relay actions)."""


@runtime_checkable
class HearsUserSends(Protocol):
    """A behaviour told what the user sends its connection (a broker relays it)."""

    def on_user_send(self, ctx: Context, data: bytes) -> Sequence[Action]: ...


# Makes each connection's behaviour. A factory that holds something for all of a listener's
# connections (a file it watches, the peers it relays among) also has a `close()`: `release`
# calls it when the listener closes or its behaviours are replaced. One that watches something
# has `poll_seconds` and `poll() -> Sequence[Report]`: the engine calls it that often while
# its listener is open (`workbench.engine.behaviour_polling`).
BehaviourFactory = Callable[[], Behaviour]


def attached(behaviour: Behaviour, ctx: Context) -> Sequence[Action]:
    """`behaviour` given to a connection already open (its listener's behaviour changed): its
    `on_attach(ctx)` if it has one (a greeting is for peers as they come, not for these),
    else its `on_open`."""
    attach: Callable[[Context], Sequence[Action]] | None = getattr(behaviour, "on_attach", None)
    return attach(ctx) if attach is not None else behaviour.on_open(ctx)


@runtime_checkable
class Polled(Protocol):
    """A factory that watches something for its listener (a rules file)."""

    poll_seconds: float

    def poll(self) -> Sequence[Report]:
        """What changed since the last call, for the Log (the listener's)."""


def polled(factory: object) -> Polled | None:
    """`factory`, if it watches something."""
    return factory if isinstance(factory, Polled) else None


def release(factory: BehaviourFactory | None) -> None:
    """Frees what a listener's behaviours hold for all its connections, if anything."""
    close = getattr(factory, "close", None)
    if close is not None:
        close()


ECHO_NOTE = "echo: what peers send goes back to them"


# The behaviours, in the order they hear each event (the greeting first), by the module that
# makes them: each has `note_of(options)` and `factory_of(options)`, and is loaded only when
# some options ask for it.
WANTED: tuple[tuple[str, Callable[[SocketOptions], bool]], ...] = (
    ("greet", lambda options: options.greet is not None),
    ("echo", lambda options: options.echo),
    ("rules", lambda options: options.rules is not None),
    ("broker", lambda options: options.broker or options.chat),
    ("exec", lambda options: options.exec_command is not None or options.sh_command is not None),
    ("replay", lambda options: options.replay is not None),
)


def _makers(options: SocketOptions) -> list[ModuleType]:
    return [import_module(f"{__package__}.{name}") for name, wanted in WANTED if wanted(options)]


def behaviour_notes(options: SocketOptions) -> tuple[str, ...]:
    """What a listener's behaviours do, for the note on its "listening on" line: nothing
    else on the screen says that sockbench answers its peers by itself."""
    notes: list[str] = [module.note_of(options) for module in _makers(options)]
    return tuple(notes)


def behaviour_for(options: SocketOptions) -> BehaviourFactory | None:
    """What a listener's connections do, from its options (None: nothing, the user talks):
    its behaviours in order (greet, then the one that answers), each told every event. The
    options are checked (`workbench.behaviour_options`) before they get here."""
    makers: list[BehaviourFactory] = [module.factory_of(options) for module in _makers(options)]
    if len(makers) > 1:
        from workbench.engine.behaviours.chain import chain_of

        return chain_of(makers)
    return makers[0] if makers else None
