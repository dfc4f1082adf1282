"""The engine as the app runs it, without a screen: the same Engine and EventBridge, drained
about 30 times a second by a consumer thread that drives the app's session core (the
Session's counters and the Log model's records), so the engine competes for the GIL as in
the app; and the app's garbage collection (workbench.gc_tuning: tuned once started, the
young generation collected by the consumer between drains, as the UI does)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType

from workbench.bench.tools import BenchError
from workbench.engine import Engine, EventBridge
from workbench.engine.bridge import DRAIN_INTERVAL_SECONDS
from workbench.gc_tuning import collect_young, tune_for_long_run
from workbench.log import LogModel
from workbench.protocol import events as ev
from workbench.protocol.endpoints import parse_url
from workbench.session.core import SessionCore
from workbench.session.drain import Drainer
from workbench.session.model import ConnectionInfo

WAIT_SECONDS = 10.0


class EngineHarness:
    def __init__(self, transcript_path: str | None = None) -> None:
        self.bridge = EventBridge()
        self.engine = Engine(self.bridge, transcript_path=transcript_path)
        self.core = SessionCore()
        self.session = self.core.session
        self.log = LogModel()
        self.events: list[ev.Event] = []  # every event but Data, for timestamps
        self._drainer = Drainer(self.bridge, self._handle, collect_young)
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._consumer = threading.Thread(target=self._consume, name="bench-consumer", daemon=True)

    def __enter__(self) -> EngineHarness:
        self.engine.start()
        tune_for_long_run()  # what the app does once its first screen is drawn
        self._consumer.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.engine.stop()
        self._stop.set()
        self._consumer.join(WAIT_SECONDS)

    def _consume(self) -> None:
        rest = DRAIN_INTERVAL_SECONDS
        while not self._stop.is_set():
            time.sleep(rest)
            rest = self._drainer.drain_once()

    def _handle(self, events: list[ev.Event], last: bool) -> None:
        self.log.append(self.core.apply(events).records)
        with self._changed:
            # (The app keeps no such list: a type check, the cheapest, per event of a flood.)
            self.events.extend([e for e in events if type(e) is not ev.Data])
            self._changed.notify_all()

    def wait(self, what: str, found: Callable[[], object], timeout: float = WAIT_SECONDS) -> object:
        """Wait, drain by drain, until `found()` returns something true; return it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not (result := found()):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BenchError(f"timed out after {timeout:g} s waiting for {what}")
                self._changed.wait(left)
        return result

    def event(self, kind: type[ev.Event], cid: str) -> ev.Event | None:
        return next((e for e in self.events if isinstance(e, kind) and _source(e) == cid), None)

    def listen(self, url: str) -> tuple[str, int]:
        """Open a listener; returns its id and port."""
        lid = self.engine.listen(parse_url(url, for_listen=True))
        self.wait(f"listener {url}", lambda: lid in self.session.listeners or self._failed(lid))
        local = self.session.listeners[lid].local[0]
        return lid, int(local.rsplit(":", 1)[1])

    def connect(self, url: str) -> str:
        cid = self.engine.connect(parse_url(url, for_listen=False))
        self.wait(f"connection to {url}", lambda: self._open(cid) or self._failed(cid))
        return cid

    def peer_of(self, lid: str) -> ConnectionInfo:
        conn = self.wait(
            f"a peer of {lid}",
            lambda: next((c for c in self.session.connections.values() if c.listener == lid), None),
        )
        assert isinstance(conn, ConnectionInfo)
        return conn

    def _open(self, cid: str) -> bool:
        conn = self.session.connections.get(cid)
        return conn is not None and conn.is_open

    def _failed(self, source: str) -> bool:
        for event in self.events:
            if isinstance(event, ev.ErrorReported) and event.source == source:
                raise BenchError(event.message)
        return False


def _source(event: ev.Event) -> str:
    return str(getattr(event, "cid", getattr(event, "lid", getattr(event, "source", ""))))
