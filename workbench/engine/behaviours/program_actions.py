"""What the exec behaviour asks of the engine: the program it runs is IO (a process, its
pipes), so the engine runs it (`workbench.engine.programs`) and the behaviour only says
when to start it and what to hand it."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.exec_command import Program


@dataclass(frozen=True, slots=True)
class Run:
    """Start `program` for this connection: its stdout goes to the peer, its stderr to the
    Log, and its exit ends the connection."""

    program: Program


@dataclass(frozen=True, slots=True)
class Feed:
    """Hand `data` (from the peer) to the program's stdin."""

    data: bytes


@dataclass(frozen=True, slots=True)
class EndInput:
    """The peer sent EOF: close the program's stdin (once what it was handed is in)."""


ProgramAction = Run | Feed | EndInput
