"""Exec: each connection runs a program (`exec=COMMAND`, `sh=COMMAND`) with the peer's bytes
on its stdin and its stdout going back to the peer, like `ncat -e` or socat's `EXEC:`, but
with every byte in the Log and the transcript."""

from __future__ import annotations

from collections.abc import Sequence

from workbench.engine.behaviours.base import Action, BehaviourFactory, Context
from workbench.engine.behaviours.program_actions import EndInput, Feed, Run
from workbench.exec_command import Program, program_for
from workbench.protocol.enums import Origin
from workbench.protocol.options import SocketOptions


class Exec:
    origin = Origin.EXEC

    def __init__(self, program: Program) -> None:
        self.program = program

    def on_open(self, ctx: Context) -> Sequence[Action]:
        return (Run(self.program),)

    def on_data(self, ctx: Context, data: bytes) -> Sequence[Action]:
        return (Feed(data),)

    def on_eof(self, ctx: Context) -> Sequence[Action]:
        return (EndInput(),)

    def on_close(self, ctx: Context) -> None:
        return None  # the engine ends the program with the connection


def executor(program: Program) -> BehaviourFactory:
    return lambda: Exec(program)


def exec_note(program: Program) -> str:
    """What the "listening on" line says: which command runs, and how."""
    how = "per connection" if program.kind == "exec" else "per connection, through /bin/sh -c"
    return f"{program.kind}: runs '{program.command}' {how}"


def note_of(options: SocketOptions) -> str:
    return exec_note(wanted_program(options))


def factory_of(options: SocketOptions) -> BehaviourFactory:
    return executor(wanted_program(options))


def wanted_program(options: SocketOptions) -> Program:
    program = program_for(options)
    assert program is not None, "exec= or sh= is set: see WANTED"
    return program
