"""The bounded, thread-safe buffer between the engine thread and whoever drains it (the UI).

The engine pushes every event; the consumer drains them in batches (the UI about 30 times a
second). Memory stays bounded under a flood: once the buffer holds `max_events` events or
`max_bytes` of payload, further chunks of a connection are merged into its pending Data event,
which keeps the exact byte count and chunk count but only a preview of the bytes. Sizes are
never lost; the lossless record of the bytes is the transcript's job, not the view's.

Merging bounds a flood from one connection; events that cannot merge (opens, closes, data of
many connections between them) could still pile up while the consumer is behind, and every
chunk costs the engine thread time the UI thread needs (they share one GIL). Past a backlog
bound, or `max_chunks` chunks since the last drain, the bridge is `saturated`: the engine then
pauses reading on the sockets that push more, and resumes them when `on_drained` says the
consumer caught up.

A stream with a framing is never merged (`push_whole`): its view frames every byte, and a gap
would lose the framing's place, so its reader pauses as soon as a batch is full instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace

from workbench.protocol.enums import Origin, OriginName
from workbench.protocol.events import Data, Event

# How often the UI drains the bridge: one batch per frame at ~30 frames a second; after a
# full batch (max_events) it drains again after a short rest instead of a whole interval.
DRAIN_INTERVAL_SECONDS = 1 / 30
FULL_BATCH_REST_SECONDS = 0.012
# Bounds per batch: what the UI must process in one drain stays small enough for ~30 Hz.
DEFAULT_MAX_EVENTS = 5_000
DEFAULT_MAX_BYTES = 1024 * 1024
PREVIEW_BYTES = 4096
# Chunks per drain past which the engine pauses reading until the next drain.
DEFAULT_MAX_CHUNKS = 7_500
# The most of one chunk worth carrying to a view (the Log shows less); the transcript has all.
MAX_CHUNK_BYTES = 64 * 1024
# The backlog past which the engine pauses reading, as a multiple of the per-batch bounds.
BACKLOG_FACTOR = 4


class _Merged:
    """What later chunks added to a pending Data event, applied once when it is drained."""

    __slots__ = ("chunks", "preview", "room", "size")

    def __init__(self) -> None:
        self.size = 0
        self.chunks = 0
        self.preview = bytearray()
        self.room = PREVIEW_BYTES  # of the preview, left to fill


class EventBridge:
    def __init__(
        self,
        max_events: int = DEFAULT_MAX_EVENTS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_chunks: int = DEFAULT_MAX_CHUNKS,
    ) -> None:
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.max_backlog_events = max_events * BACKLOG_FACTOR
        # Above what merging alone holds: max_bytes, one whole chunk, and previews.
        self.max_backlog_bytes = max_bytes * BACKLOG_FACTOR + MAX_CHUNK_BYTES
        # Called (on the draining thread) after a drain that emptied a saturated bridge.
        self.on_drained: Callable[[], None] | None = None
        self._was_saturated = False
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._events: list[Event] = []
        self._held_bytes = 0
        # Chunks pushed since the last drain, merged or not. Past a batch's worth the consumer
        # cannot show them one by one anyway, and every one costs the engine thread time the
        # UI thread needs (one GIL): a datagram flood then drew 7 frames a second.
        self._chunks = 0
        self.max_chunks = max_chunks
        # Where each (cid, outgoing) pending Data event sits in _events; only events after the
        # last non-Data event may be merged into, so data never jumps over an open or close.
        self._merge_index: dict[tuple[str, bool], int] = {}
        # Merges are counted here and applied at drain time: rebuilding a frozen event per
        # merged chunk cost more than receiving the chunk.
        self._merged: dict[int, _Merged] = {}

    def push(self, event: Event) -> None:
        with self._lock:
            self._events.append(event)
            self._merge_index.clear()
            if len(self._events) == 1:
                self._ready.notify_all()

    @property
    def saturated(self) -> bool:
        """The consumer is far behind: whoever pushes more should stop reading for now."""
        with self._lock:
            return self._saturated_locked()

    def _saturated_locked(self) -> bool:
        full = (
            len(self._events) >= self.max_backlog_events
            or self._held_bytes >= self.max_backlog_bytes
            or self._chunks >= self.max_chunks
        )
        self._was_saturated = self._was_saturated or full
        return full

    def push_data(
        self,
        ts: float,
        cid: str,
        outgoing: bool,
        chunk: bytes | memoryview,
        origin: OriginName = Origin.YOU,
    ) -> bool:
        """Record a chunk; copies at most what the view may keep, never the whole flood.
        Returns True if the backlog is saturated: the caller should pause reading."""
        return self.push_runs(ts, outgoing, [(cid, [chunk])], origin)

    def push_whole(
        self,
        ts: float,
        cid: str,
        outgoing: bool,
        chunk: bytes | memoryview,
        origin: OriginName = Origin.YOU,
    ) -> bool:
        """`push_data` for a stream whose view needs every byte (its Log frames it: a gap
        would lose the framing's place): never merged into a preview, in pieces of at most
        MAX_CHUNK_BYTES (what a view holds of one chunk). Returns True once the batch is full:
        the caller pauses reading (TCP then holds the peer back) until the consumer drained
        it. Bounded: a reader adds at most one chunk past the batch's bounds."""
        size = len(chunk)
        with self._lock:
            events = self._events
            was_empty = not events
            # Its later chunks never merge into one before these.
            self._merge_index.pop((cid, outgoing), None)
            for at in range(0, size, MAX_CHUNK_BYTES):
                piece = bytes(chunk[at : at + MAX_CHUNK_BYTES])
                events.append(Data(ts, cid, outgoing, piece, len(piece), 1, origin))
            self._held_bytes += size
            self._chunks += 1
            full = len(events) >= self.max_events or self._held_bytes >= self.max_bytes
            # A drain then says it emptied a full bridge (on_drained): reading resumes.
            self._was_saturated = self._was_saturated or full
            if was_empty and events:
                self._ready.notify_all()
            return full

    def push_echo(self, ts: float, cid: str, data: bytes, origin: OriginName) -> bool:
        """`push_data` of a read and then of its echo (the same bytes, sent back), under one
        lock: this runs between an echo's round trips. Returns True if the backlog is
        saturated (see `push_data`)."""
        size = len(data)
        with self._lock:
            events = self._events
            count = len(events)
            if (
                count + 2 <= self.max_events
                and self._held_bytes + 2 * size < self.max_bytes
                and size <= MAX_CHUNK_BYTES
            ):
                read = Data(ts, cid, False, data, size, 1, Origin.YOU)  # as every read is
                events += (read, Data(ts, cid, True, data, size, 1, origin))
                self._held_bytes += 2 * size
                self._chunks += 2
                index = self._merge_index
                index[(cid, False)], index[(cid, True)] = count, count + 1
                if not count:
                    self._ready.notify_all()
                return False
        # Near a bound: merged as any chunk would be.
        saturated = self.push_data(ts, cid, False, data)
        return self.push_data(ts, cid, True, data, origin) or saturated

    def push_runs(
        self,
        ts: float,
        outgoing: bool,
        runs: Sequence[tuple[str, Sequence[bytes | memoryview]]],
        origin: OriginName = Origin.YOU,
    ) -> bool:
        """`push_data` for a batch of chunks (a socket's datagrams of one wakeup), as runs of
        one connection's chunks, under one lock and with the bookkeeping in local variables:
        this loop runs for every datagram of a flood. Chunks merge only into data of the same
        origin. Returns True if the backlog is saturated (see `push_data`)."""
        with self._lock:
            events = self._events
            was_empty = not events
            index_of = self._merge_index
            merged_at = self._merged
            max_events, max_bytes = self.max_events, self.max_bytes
            held = self._held_bytes
            pressured = False
            pushed = 0
            for cid, run in runs:
                key = (cid, outgoing)
                pushed += len(run)
                for chunk in run:
                    size = len(chunk)
                    if len(events) >= max_events or held >= max_bytes:
                        pressured = True
                        index = index_of.get(key)
                        if index is not None and events[index].origin == origin:  # type: ignore[union-attr]
                            merged = merged_at.get(index)
                            if merged is None:
                                merged = merged_at[index] = _Merged()
                                merged.room = PREVIEW_BYTES - len(events[index].data)  # type: ignore[union-attr]
                            if merged.room > 0:
                                piece = chunk[: merged.room]
                                merged.preview += piece
                                merged.room -= len(piece)
                                held += len(piece)
                            merged.size += size
                            merged.chunks += 1
                            continue
                        kept = chunk[:PREVIEW_BYTES]
                    else:
                        kept = chunk if size <= MAX_CHUNK_BYTES else chunk[:MAX_CHUNK_BYTES]
                    held += len(kept)
                    index_of[key] = len(events)
                    # A stream's chunk is a view of the shared read buffer: copy what is kept.
                    events.append(Data(ts, cid, outgoing, bytes(kept), size, 1, origin))
            self._held_bytes = held
            self._chunks += pushed
            if was_empty and events:
                self._ready.notify_all()
            return pressured and self._saturated_locked()

    def drain(self, timeout: float = 0.0) -> list[Event]:
        """Take every pending event; wait up to `timeout` seconds for the first one."""
        with self._lock:
            if not self._events and timeout > 0:
                self._ready.wait(timeout)
            events, self._events = self._events, []
            self._chunks = 0
            merged, self._merged = self._merged, {}
            self._held_bytes = 0
            self._merge_index.clear()
            was_saturated, self._was_saturated = self._was_saturated, False
        for index, more in merged.items():
            pending = events[index]
            assert isinstance(pending, Data)
            events[index] = replace(
                pending,
                data=pending.data + bytes(more.preview),
                size=pending.size + more.size,
                chunks=pending.chunks + more.chunks,
            )
        if was_saturated and self.on_drained is not None:
            self.on_drained()
        return events
