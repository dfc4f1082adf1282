"""What a session file holds, once read and checked: Endpoints and Sequences the engine takes
as they are, and macros. The loader makes these (errors naming the file, line and key); the
writer turns them back into TOML that loads to the same."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from workbench.protocol.endpoints import Endpoint
from workbench.protocol.sequences import SendPayload, Sequence

# How a macro's payload was given: text with the composer's escapes and the rules' `{fields}`,
# hex, or a file's bytes (read when the session is opened).
MacroSource = Literal["text", "hex", "file"]


@dataclass(frozen=True)
class ListenSpec:
    endpoint: Endpoint  # behaviour options included
    name: str = ""  # letters, digits and . _ - ; "" : none


@dataclass(frozen=True)
class ConnectSpec:
    endpoint: Endpoint
    name: str = ""
    sequence: Sequence | None = None  # run once it opens (named after the connection)


@dataclass(frozen=True)
class Macro:
    """A saved message: sent by name from the Macros dialog or the palette, by its `key`, or
    every `repeat_ms` milliseconds `count` times (0: until stopped)."""

    name: str  # letters, digits and . _ - (its origin: `macro NAME`)
    payload: SendPayload
    source: MacroSource = "text"
    given: str = ""  # as the file gave it: the text, the hex digits or the file's path
    key: str = ""  # a Textual key name: "f9", "ctrl+1"; "" : none
    repeat_ms: int = 0  # 0: one send
    count: int = 0  # with repeat_ms: how many sends (0: until stopped)


@dataclass(frozen=True)
class SessionSpec:
    listeners: tuple[ListenSpec, ...] = ()
    connections: tuple[ConnectSpec, ...] = ()
    macros: tuple[Macro, ...] = ()
