"""Behaviours: what a listener's connections (or a connection of the user's) do on
sockbench's behalf: echo, greet, rules, broker and chat, exec.

Sans-IO, in h11's style: a behaviour is told what happened on its connection (opened, data,
EOF, closed, what the user sent) through a narrow `Context` and answers with actions (send,
half-close, close, later, report, relay to another peer, run or feed a program) that the
engine carries out. It never sees the engine or a socket, so it is tested with plain calls
and cannot block the loop.
"""

from workbench.engine.behaviours.base import (
    ECHO_NOTE,
    Action,
    Behaviour,
    Close,
    Context,
    HalfClose,
    Later,
    Report,
    Send,
    attached,
    behaviour_for,
    behaviour_notes,
)

__all__ = [
    "ECHO_NOTE",
    "Action",
    "Behaviour",
    "Close",
    "Context",
    "HalfClose",
    "Later",
    "Report",
    "Send",
    "attached",
    "behaviour_for",
    "behaviour_notes",
]
