"""What opens at start-up (the command line's --listen and --connect, a session file's
tables): listeners first, then, once each has opened or failed, the connections, which may
be to them, with their sequences. Textual-free: the app drives it from its events."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # not loaded before the first screen
    from workbench.protocol import events as ev
    from workbench.protocol.endpoints import Endpoint
    from workbench.protocol.sequences import Sequence
    from workbench.session_file.model import SessionSpec

# The longest connections wait for the listeners before they go out anyway.
LISTEN_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class StartupAction:
    kind: str  # "listen" or "connect"
    endpoint: Endpoint
    sequence: Sequence | None = None  # a connection's steps, run once it opens
    name: str = ""  # a session file's name for it ("smtp"), shown beside its id


def actions_of(session: SessionSpec) -> list[StartupAction]:
    """A session file's listeners and connections (with their steps and names), in order."""
    listen = [StartupAction("listen", spec.endpoint, None, spec.name) for spec in session.listeners]
    connect = [
        StartupAction("connect", spec.endpoint, spec.sequence, spec.name)
        for spec in session.connections
    ]
    return listen + connect


class Opener(Protocol):
    def listen(self, endpoint: Endpoint, name: str = "") -> str: ...
    def connect(self, endpoint: Endpoint, name: str = "") -> str: ...
    def run_sequence(self, cid: str, sequence: Sequence) -> None: ...


class StartupPlan:
    def __init__(self, actions: Iterable[StartupAction]) -> None:
        self.actions = list(actions)
        self._waiting: set[str] = set()  # listeners not yet opened or failed
        self._connects: list[StartupAction] = []
        self._deadline = 0.0

    def begin(self, opener: Opener) -> list[str]:
        """Open the listeners; the connections too when there are none. The ids of the
        connections opened now."""
        for action in self.actions:
            if action.kind == "listen":
                self._waiting.add(opener.listen(action.endpoint, action.name))
            else:
                self._connects.append(action)
        self._deadline = time.monotonic() + LISTEN_WAIT_SECONDS
        return self._connect_if_ready(opener)

    def apply(self, events: Iterable[ev.Event], opener: Opener) -> list[str]:
        """Listeners opened or failed in `events`: the connections opened once none is left
        (or the wait is over). Their ids."""
        if not self._connects:
            return []
        from workbench.protocol import events as ev  # loaded by then: after the first screen

        for event in events:
            if isinstance(event, ev.ListenerOpened):
                self._waiting.discard(event.lid)
            elif isinstance(event, (ev.ErrorReported, ev.ListenerClosed)):
                self._waiting.discard(
                    event.source if isinstance(event, ev.ErrorReported) else event.lid
                )
        return self._connect_if_ready(opener)

    def _connect_if_ready(self, opener: Opener) -> list[str]:
        if not self._connects or (self._waiting and time.monotonic() < self._deadline):
            return []
        opened = []
        for action in self._connects:
            cid = opener.connect(action.endpoint, action.name)
            if action.sequence is not None:
                opener.run_sequence(cid, action.sequence)
            opened.append(cid)
        self._connects = []
        return opened
