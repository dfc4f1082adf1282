"""The program a listener runs per connection (`exec=COMMAND`, `sh=COMMAND`), checked before
the listener opens: a command that cannot be split, or whose program is not there, is
refused in words then, not at each connection.

The command only ever comes from the user (the command line, a dialog), never from a peer."""

from __future__ import annotations

import os
import shlex
import shutil
from dataclasses import dataclass

from workbench.protocol.addresses import EndpointError
from workbench.protocol.options import SocketOptions

SHELL = "/bin/sh"


@dataclass(frozen=True, slots=True)
class Program:
    """What to run: `argv` (no shell unless it is `/bin/sh -c ...`), `kind` as URLs write it
    (exec or sh), and `command` as the user typed it."""

    argv: tuple[str, ...]
    kind: str
    command: str

    @property
    def name(self) -> str:
        """How the Log names it: the program's file name (`tr`), or `sh` for sh=."""
        return os.path.basename(self.argv[0])


def program_for(options: SocketOptions) -> Program | None:
    """The program `options` ask to run per connection (None: none); EndpointError, in
    words, if it cannot run."""
    if options.exec_command is not None and options.sh_command is not None:
        raise EndpointError(
            "exec= and sh= do not go together: each runs a program per connection; choose "
            "one (sh= runs COMMAND through /bin/sh -c)"
        )
    for command in (options.exec_command, options.sh_command):
        if command is not None and "\0" in command:
            raise EndpointError("a command cannot hold a NUL byte (%00)")
    if options.exec_command is not None:
        return _exec_program(options.exec_command)
    if options.sh_command is not None:
        return _sh_program(options.sh_command)
    return None


def _exec_program(command: str) -> Program:
    try:
        argv = shlex.split(command)
    except ValueError as exc:  # "No closing quotation", "No escaped character"
        raise EndpointError(
            f"exec '{command}' cannot be split into words: {str(exc).lower()}"
        ) from None
    if not argv:
        raise EndpointError("exec= needs a command: exec=PROGRAM ARGS... (say exec=cat)")
    if shutil.which(argv[0]) is None:
        where = "is not an executable file" if os.sep in argv[0] else "is not found on PATH"
        raise EndpointError(f"exec '{command}': the program '{argv[0]}' {where}")
    return Program(tuple(argv), "exec", command)


def _sh_program(command: str) -> Program:
    if not command.strip():
        raise EndpointError("sh= needs a command: sh=COMMAND (say sh='cat; echo bye')")
    if shutil.which(SHELL) is None:
        raise EndpointError(f"sh '{command}': {SHELL} is not there to run it")
    return Program((SHELL, "-c", command), "sh", command)
