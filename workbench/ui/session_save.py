"""What the app opened, as a session file says it: each listener's and connection's Endpoint
as the user gave it, so that "Save session..." writes what reopens to the same state.

Textual-free. A listener's behaviour may change while it runs (the Behaviour dialog): the
saved endpoint takes its behaviour options as the session has them now. A listener opened on
port 0 is saved on the port it got, so that the saved connections to it still reach it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from workbench.protocol.endpoints import Endpoint
from workbench.protocol.options import parse_options, with_behaviour
from workbench.protocol.sequences import Sequence
from workbench.session.model import ListenerInfo, Session
from workbench.session_file.model import ConnectSpec, ListenSpec, Macro, SessionSpec

if TYPE_CHECKING:
    from workbench.engine import Engine

DEFAULT_SESSION_FILE = "./sockbench-session.toml"


class OpenedEndpoints:
    def __init__(self) -> None:
        self.listeners: dict[str, ListenSpec] = {}  # by listener id
        self.connections: dict[str, ConnectSpec] = {}  # by connection id
        # Framings chosen while running (None: none), over the endpoints' framing=.
        self.framings_chosen: dict[str, str | None] = {}

    def listened(self, lid: str, endpoint: Endpoint, name: str = "") -> str:
        self.listeners[lid] = ListenSpec(endpoint, name)
        return lid

    def connected(
        self, cid: str, endpoint: Endpoint, name: str = "", sequence: Sequence | None = None
    ) -> str:
        self.connections[cid] = ConnectSpec(endpoint, name, sequence)
        return cid

    def framing_of(self, cid: str, session: Session) -> str | None:
        """The framing= of the endpoint `cid` was opened with: its own (a connection), else
        its listener's (one it accepted); None when it has none. One chosen while running
        comes first."""
        if cid in self.framings_chosen:
            return self.framings_chosen[cid]
        spec: ListenSpec | ConnectSpec | None = self.connections.get(cid)
        if spec is None:
            conn = session.connections.get(cid)
            if conn is not None and conn.listener is not None:
                spec = self.listeners.get(conn.listener)
        return spec.endpoint.options.framing if spec is not None else None

    def framing_of_listener(self, lid: str) -> str | None:
        spec = self.listeners.get(lid)
        return spec.endpoint.options.framing if spec is not None else None

    def choose_framing(self, cid: str, framing: str | None) -> None:
        """`cid` framed as `framing` from now on; a connection of the user's is saved so."""
        self.framings_chosen[cid] = framing
        spec = self.connections.get(cid)
        if spec is not None:
            options = replace(spec.endpoint.options, framing=framing)
            self.connections[cid] = replace(spec, endpoint=replace(spec.endpoint, options=options))

    def sequence_run(self, cid: str, sequence: Sequence) -> None:
        spec = self.connections.get(cid)
        if spec is not None:
            self.connections[cid] = replace(spec, sequence=sequence)

    def spec(self, session: Session, macros: list[Macro]) -> SessionSpec:
        """The open listeners and the user's open (or connecting) connections, as opened,
        with the listeners' behaviour now; and the macros."""
        listeners = tuple(
            replace(spec, endpoint=endpoint_now(spec.endpoint, session.listeners[lid]))
            for lid, spec in self.listeners.items()
            if lid in session.listeners and session.listeners[lid].is_open
        )
        connections = tuple(
            spec
            for cid, spec in self.connections.items()
            if (conn := session.connections.get(cid)) is not None and conn.closed_at is None
        )
        return SessionSpec(listeners, connections, tuple(macros))

    def describe(self, spec: SessionSpec) -> str:
        def count(n: int, what: str) -> str:
            return f"{n} {what}{'s' if n != 1 else ''}"

        return (
            f"Saves {count(len(spec.listeners), 'listener')}, "
            f"{count(len(spec.connections), 'connection')} and "
            f"{count(len(spec.macros), 'macro')}."
        )


def endpoint_now(endpoint: Endpoint, listener: ListenerInfo) -> Endpoint:
    """`endpoint` with the listener's behaviour as it is now and, for port 0, its port."""
    query = listener.behaviour
    behaviour = parse_options(query, query, listener.transport, for_listen=True)
    endpoint = replace(endpoint, options=with_behaviour(endpoint.options, behaviour))
    if endpoint.port == 0 and not endpoint.is_unix and listener.local:
        port = listener.local[0].rsplit(":", 1)[-1]
        if port.isdigit():
            endpoint = replace(endpoint, port=int(port))
    return endpoint


class RecordingOpener:
    """The engine as the start-up plan opens with it (workbench/session/startup.py), each
    listener, connection and sequence remembered as it goes."""

    def __init__(
        self, get_engine: Callable[[], Engine], opened: OpenedEndpoints, session: Session
    ) -> None:
        self._get_engine = get_engine  # the engine is made when it starts
        self.opened = opened
        self.session = session  # where a session file's names are shown from

    def listen(self, endpoint: Endpoint, name: str = "") -> str:
        lid = self.opened.listened(self._get_engine().listen(endpoint), endpoint, name)
        self.session.name(lid, name)
        return lid

    def connect(self, endpoint: Endpoint, name: str = "") -> str:
        cid = self.opened.connected(self._get_engine().connect(endpoint), endpoint, name)
        self.session.name(cid, name)
        return cid

    def run_sequence(self, cid: str, sequence: Sequence) -> None:
        self.opened.sequence_run(cid, sequence)
        self._get_engine().run_sequence(cid, sequence)
