"""A connection's steps in a session file, to and from the engine's Sequence:

steps = [
    { expect = '^220 ', timeout = 2 },   # RE2 over the bytes received; 5 s by default
    { send = "EHLO me\\r\\n" },           # text with the composer's escapes
    { send_hex = "00 01 ff" },
    { delay_ms = 250 },
    { close = "eof" },                    # true closes; "eof" only sends EOF
]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.codec import EscapeError, HexError, format_hex, parse_escapes, parse_hex, sanitize
from workbench.peer_regex import PatternError, compile_bytes_regex
from workbench.protocol.sequences import (
    DEFAULT_EXPECT_SECONDS,
    CloseStep,
    DelayStep,
    ExpectStep,
    SendStep,
    Sequence,
    Step,
)
from workbench.session_file.errors import Refused
from workbench.session_file.positions import Path
from workbench.session_file.values import kind_of, only_keys, text, whole

MAX_STEPS = 1000
MAX_DELAY_MS = 3_600_000  # an hour
MAX_TIMEOUT_SECONDS = 3600.0
ACTIONS = ("send", "send_hex", "expect", "delay_ms", "close")
STEP_KEYS = (*ACTIONS, "timeout")


def sequence_of(value: object, where: Path, name: str) -> Sequence | None:
    """The Sequence a connection's `steps` (at `where`) make; None for no steps."""
    if not isinstance(value, list):
        raise Refused(
            where, f"takes [[connect.steps]] tables or an array of tables, not {kind_of(value)}"
        )
    if len(value) > MAX_STEPS:
        raise Refused(where, f"{len(value):,} steps; a connection has at most {MAX_STEPS:,}")
    steps = tuple(step_of(table, (*where, index)) for index, table in enumerate(value))
    return Sequence(name, steps) if steps else None


def step_of(table: object, where: Path) -> Step:
    if not isinstance(table, dict):
        raise Refused(
            where, f'a step is a table such as {{ send = "hi\\n" }}, not {kind_of(table)}'
        )
    only_keys(table, where, STEP_KEYS)
    chosen = [key for key in ACTIONS if key in table]
    if len(chosen) != 1:
        what = f"two actions in one step ({' and '.join(chosen)})" if chosen else "no action"
        raise Refused(where + tuple(chosen[1:2]), f"{what}; give one of {', '.join(ACTIONS)}")
    action = chosen[0]
    if "timeout" in table and action != "expect":
        raise Refused((*where, "timeout"), "a timeout goes with expect")
    if action == "send":
        return SendStep(_bytes(parse_escapes, text(table, action, where), (*where, action)))
    if action == "send_hex":
        return SendStep(_bytes(parse_hex, text(table, action, where), (*where, action)))
    if action == "expect":
        return _expect(table, where)
    if action == "delay_ms":
        return DelayStep(whole(table, action, where, 0, MAX_DELAY_MS) / 1000)
    return _close(table["close"], (*where, "close"))


def _bytes(parse: Any, value: str, where: Path) -> bytes:
    try:
        data: bytes = parse(value)
    except (EscapeError, HexError) as exc:
        raise Refused(where, str(exc)) from None
    if not data:
        raise Refused(where, "empty: nothing to send")
    return data


def _expect(table: Mapping[str, Any], where: Path) -> ExpectStep:
    pattern = text(table, "expect", where)
    if not pattern:
        raise Refused((*where, "expect"), "empty: it would match at once")
    try:
        compile_bytes_regex(pattern)
    except PatternError as exc:
        raise Refused((*where, "expect"), str(exc)) from None
    timeout = table.get("timeout", DEFAULT_EXPECT_SECONDS)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool):
        raise Refused((*where, "timeout"), f"takes a number of seconds, not {kind_of(timeout)}")
    if not 0 < timeout <= MAX_TIMEOUT_SECONDS:
        raise Refused(
            (*where, "timeout"), f"must be more than 0 and at most {MAX_TIMEOUT_SECONDS:g} s"
        )
    return ExpectStep(pattern, float(timeout))


def _close(value: object, where: Path) -> CloseStep:
    if value is True:
        return CloseStep()
    if value == "eof":
        return CloseStep(half=True)
    raise Refused(where, 'takes true (close), or "eof" (only send EOF and go on reading)')


def step_table(step: Step) -> dict[str, Any]:
    """A step as the file writes it."""
    if isinstance(step, SendStep):
        shown = printable_text(step.data)
        return {"send": shown} if shown is not None else {"send_hex": format_hex(step.data)}
    if isinstance(step, ExpectStep):
        table: dict[str, Any] = {"expect": step.pattern}
        if step.timeout != DEFAULT_EXPECT_SECONDS:
            table["timeout"] = step.timeout
        return table
    if isinstance(step, DelayStep):
        return {"delay_ms": round(step.seconds * 1000)}
    return {"close": "eof" if step.half else True}


def printable_text(data: bytes) -> str | None:
    """`data` as text with the composer's escapes (`\\r\\n`) when it is printable UTF-8 text,
    else None (it is written as hex)."""
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not all(char.isprintable() or char in "\r\n\t" for char in decoded):
        return None
    shown = sanitize(data)
    return shown if parse_escapes(shown) == data else None
