"""Behaviours: what a listener's connections do on sockbench's behalf (echo, later more).

Sans-IO, in h11's style: a behaviour is told what happened on its connection (opened, data,
EOF, closed) through a narrow `Context` and answers with actions (send, half-close, close)
that the engine carries out. It never sees the engine or a socket, so it is tested with
plain calls and cannot block the loop.
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
