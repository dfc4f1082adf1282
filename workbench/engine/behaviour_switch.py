"""Changing what a listener does on its own while it runs (the Behaviour dialog): new
connections get the new behaviour, and so do the open ones (greetings are not sent to them:
they are for peers as they come)."""

from __future__ import annotations

import asyncio
import dataclasses
import time

from workbench.behaviour_options import checked, refuse_untaken
from workbench.engine.behaviour_polling import keep_polling
from workbench.engine.behaviours import attached, behaviour_for, behaviour_notes
from workbench.engine.behaviours.base import release
from workbench.engine.lifecycle import Lifecycle
from workbench.protocol import events as ev
from workbench.protocol.addresses import EndpointError
from workbench.protocol.options import BEHAVIOUR_FIELDS, SocketOptions, with_behaviour

NO_BEHAVIOUR_NOTE = "no behaviour: you answer its peers"


class BehaviourSwitch(Lifecycle):
    def _set_behaviour(self, lid: str, behaviour: SocketOptions) -> None:
        listener = self.listeners.get(lid)
        if listener is None or listener.opened is None:
            self._error(lid, f"cannot change the behaviour of {lid}: it is not open")
            return
        old = listener.endpoint
        endpoint = dataclasses.replace(old, options=with_behaviour(old.options, behaviour))
        try:
            refuse_untaken(endpoint.options, endpoint.transport)
            make = behaviour_for(checked(endpoint).options)
        except EndpointError as exc:
            self._error(lid, f"cannot change the behaviour of {lid}: {exc}")
            return
        release(listener.behaviour)
        listener.behaviour, listener.endpoint = make, endpoint
        keep_polling(asyncio.get_running_loop(), lid, lambda: listener.behaviour, self._report)
        for conn in [c for c in self.connections.values() if c.listener == lid and c.is_open]:
            context = self._context(conn)
            if conn.behaviour is not None:
                self._act(conn, conn.behaviour.on_close(context) or ())
            conn.behaviour = make() if make is not None else None
            if conn.behaviour is not None:
                self._act(conn, attached(conn.behaviour, context))
        if make is not None and listener.opened.datagram is not None:
            listener.opened.datagram.paced = True  # replies wait for room: see peer_opened
        query = endpoint.options.query(BEHAVIOUR_FIELDS)
        notes = behaviour_notes(endpoint.options) or (NO_BEHAVIOUR_NOTE,)
        self._emit(ev.BehaviourChanged(time.time(), lid, endpoint.url, query, notes))
