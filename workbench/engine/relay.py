"""Relaying among a listener's peers (a broker): a peer that does not read is cut off."""

from __future__ import annotations

from workbench.engine.behaviours.base import Relay
from workbench.engine.connection import Connection
from workbench.engine.stream import StreamConnection
from workbench.protocol.enums import CloseCause


def may_relay_to(conn: Connection | None, relay: Relay) -> bool:
    """Whether `relay` may go to `conn`: not to a peer that is gone or ended its sending side
    (passed over, not an error), and not to one holding `relay.limit` bytes it has not read,
    which is cut off instead (reset: a graceful close would wait for it to read them). Only
    sockbench's own buffer is counted: what the kernel holds is bounded by the kernel."""
    if conn is None or not conn.is_open:
        return False
    if isinstance(conn, StreamConnection):
        if conn.local_eof:
            return False
        waiting = conn.buffered()
        if waiting and waiting + len(relay.data) > relay.limit:
            conn.reset(relay.reason, CloseCause.BEHAVIOUR)
            return False
    return True
