"""Reading paused for several reasons restarts only once every reason is gone (one resume
cannot undo another's pause), on a real connection with real bytes."""

from __future__ import annotations

import threading
from collections.abc import Callable

from fault_helpers import accept, listen

from workbench.engine import Engine
from workbench.engine.flow import Pause
from workbench.engine.stream import StreamConnection

WAIT = 10.0


def on_loop(engine: Engine, func: Callable[[], None]) -> None:
    """Run `func` on the engine's thread and wait for it (and what it queued before)."""
    done = threading.Event()
    assert engine._loop is not None
    engine._loop.call_soon_threadsafe(lambda: (func(), done.set()))
    assert done.wait(WAIT)


def test_reading_resumes_only_when_every_reason_is_gone(make_engine) -> None:
    engine, events = make_engine()
    lid, port = listen(engine, events)
    client, cid = accept(events, lid, port)
    conn = engine.connections[cid]
    assert isinstance(conn, StreamConnection) and conn.transport is not None
    with client:
        on_loop(engine, lambda: engine._pause(cid, conn.flow, Pause.BRIDGE))
        on_loop(engine, lambda: engine._pause(cid, conn.flow, Pause.TRANSCRIPT))
        client.sendall(b"waits in the kernel")
        on_loop(engine, lambda: engine._resume(Pause.BRIDGE))
        assert conn.flow.reasons == {Pause.TRANSCRIPT}
        assert not conn.transport.is_reading()
        on_loop(engine, lambda: None)  # a turn of the loop: nothing was read
        assert conn.bytes_in == 0
        on_loop(engine, lambda: engine._resume(Pause.TRANSCRIPT))
        assert not conn.flow.paused and conn.transport.is_reading()
        assert events.wait_received(cid, 19) == b"waits in the kernel"
        assert cid not in engine._read_paused
