"""Sequences and repeated sends as data: what a session file's `steps`, a macro's repeat and
the composer's repeat tell the engine to do on a connection.

A sequence runs on one connection, one step after another: send bytes, expect a regex among
the bytes received (RE2, over bytes, with a timeout), wait, close or send EOF. The engine
runs it and reports each step (SequenceProgress) and how it ended (SequenceEnded).
"""

from __future__ import annotations

from typing import NamedTuple

# How long an expect waits when its step gives no timeout.
DEFAULT_EXPECT_SECONDS = 5.0


class SendPayload(NamedTuple):
    """Bytes to send as they are, or a template rendered for each send (`{counter}`, `{time}`,
    `{conn}`... as the rules' replies take them: workbench/rules/template.py) in `encoding`."""

    data: bytes = b""
    template: str = ""  # "": send `data`
    encoding: str = "utf-8"


class SendStep(NamedTuple):
    data: bytes


class ExpectStep(NamedTuple):
    """Wait until `pattern` (RE2 over bytes) matches what arrived since the sequence started
    or the last expect matched (from the end of that match); fail after `timeout` seconds."""

    pattern: str
    timeout: float = DEFAULT_EXPECT_SECONDS


class DelayStep(NamedTuple):
    seconds: float


class CloseStep(NamedTuple):
    """Close the connection, or only send EOF (`half`) and go on reading."""

    half: bool = False


Step = SendStep | ExpectStep | DelayStep | CloseStep


class Sequence(NamedTuple):
    """`name`: letters, digits and . _ - (it names the origin of what it sends: `sequence
    login`)."""

    name: str
    steps: tuple[Step, ...]


def describe_step(step: Step) -> str:
    """What a step does, in words, for the Log and the progress line ("waiting for '^250 '":
    quoted, as a pattern may end in a space)."""
    if isinstance(step, SendStep):
        return f"sending {len(step.data):,} byte{'s' if len(step.data) != 1 else ''}"
    if isinstance(step, ExpectStep):
        return f"waiting for '{step.pattern}' (up to {step.timeout:g} s)"
    if isinstance(step, DelayStep):
        return f"waiting {step.seconds * 1000:g} ms"
    return "sending EOF" if step.half else "closing"
