"""The lossless transcript: one JSON object per line for every event, with the exact bytes.

Records are formatted in the engine thread, called for each event before the bridge may merge
anything, so it sees every chunk: the engine's events become records (see records.py), and
data records are formatted by hand: this is the hot path under a flood. The file is written
by a thread of its own, so a slow disk or a pipe nobody
reads never stops the engine's loop (and every socket with it).

The file only ever gets whole records: they are gathered in a buffer of our own (1 MiB),
which is handed to the writer thread whole (swapped for a free one, not copied), a big record
with it (its bytes not copied either); the thread writes what it is handed in order, in one
`writev` where it can. A process killed at any moment leaves complete lines only, unless the
kernel itself wrote part of a write (a full disk, a kill during a big write); the next run
then starts on a line of its own and its `session` record says `"previous_cut": true`.

What the thread has not written yet is bounded: past HIGH_WATER bytes the transcript is
`behind` and the engine pauses reading until the thread is down to LOW_WATER (see the
engine's transcript upkeep). A file that takes nothing for STALL_SECONDS while behind stops
recording instead, loudly, so the connections go on.
"""

from __future__ import annotations

import binascii
import collections
import errno
import functools
import json
import os
import secrets
import select
import stat
import threading
import time
from collections.abc import Callable

from workbench import __version__, files
from workbench.protocol import events as ev
from workbench.protocol.enums import Origin, OriginName, RecordKind
from workbench.transcript.event_records import records_of
from workbench.transcript.schema import SCHEMA_VERSION

BUFFER_BYTES = 1024 * 1024  # records gathered before they are handed to the writer thread
# A data record's base64 at least this long is handed on from where it is, not copied into
# the buffer: with 256 KiB reads under a flood, most bytes skip a copy.
BIG_PART = 64 * 1024
# Buffered records up to this size are handed on as a copy (cheaper than a fresh buffer).
SMALL_COPY = 64 * 1024
# Gathered before the writer thread is handed them: each hand-over wakes it, and it then
# takes the GIL from the engine thread (measured: 1 MiB at a time cost a fifth of the speed).
HAND_BYTES = 8 * 1024 * 1024
HIGH_WATER = 64 * 1024 * 1024  # bytes handed to the thread and not yet written: behind
LOW_WATER = 16 * 1024 * 1024  # ... down to this: caught up
STALL_SECONDS = 10.0  # behind, and not a byte taken for this long: recording stops
CLOSE_SECONDS = 2.0  # closing gives up on a file that took nothing for this long
# ... and on any file after this long: a slow one (a FIFO read a little at a time) could take
# minutes for what it is behind, while the engine's stop waits 5 s (the exit watchdog 3 s
# from a signal) before the process exits, cutting the writer off mid-record without a word.
CLOSE_LIMIT_SECONDS = 2.0
CHECK_SECONDS = 0.2  # how often, at most, the writer thread looks whether the file was deleted
POLL_SECONDS = 0.1  # how often a thread waiting for a pipe to take bytes looks up
MAX_PARTS = 512  # parts the thread takes at a time
IOV_MAX = 1024  # parts in one writev at most (Linux)
FREE_BUFFERS = 4  # buffers kept for use again once written (fresh memory costs page faults)
HEAD = b'{"ts":%.6f,"event":"data","conn":"%s","dir":"%s","size":%d,"data":"'
# Data a behaviour sent: its origin right after "dir" (absent: you sent it).
OUT_FROM: dict[OriginName, bytes] = {
    origin: b'out","origin":"' + origin.encode() for origin in Origin
}


def out_from(origin: OriginName) -> bytes:
    """The `dir` and `origin` fields' bytes for data `origin` sent (its name is checked by
    `origin_of`: nothing in it needs escaping in JSON)."""
    way = OUT_FROM.get(origin)
    if way is None:
        way = OUT_FROM[origin] = b'out","origin":"' + origin.encode("ascii")
    return way


TAIL = b'"}\n'
RECORD = HEAD + b"%s" + TAIL
# O_NONBLOCK: a FIFO with no reader fails at once (ENXIO) instead of blocking start-up, and the
# writer thread waits for a pipe that takes nothing with poll(), so it can be told to give up.
OPEN_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK

_base64: Callable[[bytes | memoryview], bytes]
try:  # SIMD base64: measured 50x faster than binascii, which made the transcript the bottleneck
    from pybase64 import b64encode as _base64
except ImportError:  # pragma: no cover - pybase64 is a dependency; this keeps a broken wheel usable
    _base64 = functools.partial(binascii.b2a_base64, newline=False)


Part = bytes | memoryview


class _GiveUp(Exception):
    """The writer thread was told to stop while a pipe took nothing."""


def open_transcript(path: str) -> int:
    try:
        # Not through a link, 0600, the user's own file, locked for the run: workbench/files.py
        return files.open_transcript(path, OPEN_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # O_NONBLOCK on a FIFO that no process reads
            raise OSError(
                errno.ENXIO, "it is a FIFO with no reader (start its reader first)", path
            ) from None
        raise


class TranscriptWriter:
    def __init__(
        self,
        path: str,
        on_error: Callable[[str], None] | None = None,
        on_caught_up: Callable[[], None] | None = None,
    ) -> None:
        """Open `path` for appending (earlier sessions are kept); raises OSError if it can't.

        `on_error` (told once, when recording stops) and `on_caught_up` (the transcript is no
        longer `behind`) may be called on the writer thread."""
        self.path = path
        self._on_error = on_error
        self._on_caught_up = on_caught_up
        fd = open_transcript(path)
        try:
            cut = ends_mid_line(fd, path)
        except OSError:
            os.close(fd)
            raise
        self._fd = fd  # closed by the writer thread only, when it ends
        # This run's session: its id (in its `session` record) and where that record starts
        # (the file is locked: nobody else appends), so an export reads this session only.
        self.session_id = secrets.token_hex(8)
        self.session_offset = os.fstat(fd).st_size + cut
        self._active = True  # False once recording stopped (failed) or closed
        self._closing = False
        self._buffer = bytearray(BUFFER_BYTES)
        self._view = memoryview(self._buffer)
        self._used = 0  # bytes of whole records in the buffer
        self.dirty = False  # records added since the last flush
        # Shared with the writer thread, under _lock: what it was handed and has not written.
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # the thread waits here for work...
        self._idle = False  # ... and says so: woken only then, not for every record
        self._changed = threading.Condition(self._lock)  # written, or recording stopped
        self._items: collections.deque[tuple[list[Part], int, list[bytearray]]] = (
            collections.deque()
        )
        # Gathered by _hand in the engine thread, not yet handed over (see _push).
        self._pending: list[Part] = []
        self._pending_size = 0
        self._swapped: list[bytearray] = []  # buffers among them, to use again once written
        self.queued = 0  # bytes handed and not yet written
        self._handed = 0  # items handed so far
        self._written = 0  # items written so far
        self.behind = False  # past HIGH_WATER, until LOW_WATER
        self._behind_since = 0.0
        self._progress = time.monotonic()  # when the thread last wrote a byte
        self.stall_seconds = STALL_SECONDS  # what the engine allows a file that takes nothing
        self._free: list[bytearray] = []  # buffers the thread is done with
        if cut:
            self._add(b"\n")
        self.record(
            RecordKind.SESSION,
            "",
            version=__version__,
            schema=SCHEMA_VERSION,
            session_id=self.session_id,
            **({"previous_cut": True} if cut else {}),
        )
        self._thread = threading.Thread(target=self._run, name="sockbench-transcript", daemon=True)
        self._thread.start()

    @property
    def active(self) -> bool:
        return self._active

    @property
    def handed(self) -> int:
        """The mark of everything handed to the writer thread so far (see wait_written)."""
        return self._handed

    # --- the engine thread ---

    def event(self, event: ev.Event) -> None:
        """Record `event` as the records it is kept as (most events have none)."""
        for kind, conn, fields in records_of(event):
            self.record(kind, conn, event.ts, **fields)

    def record(
        self, event: RecordKind, conn: str, ts: float | None = None, **fields: object
    ) -> None:
        if not self._active:
            return
        line = {"ts": round(time.time() if ts is None else ts, 6), "event": event, "conn": conn}
        line.update(fields)
        # ASCII JSON: a peer's address may hold lone surrogates (bytes that are not UTF-8,
        # which UTF-8 cannot encode) or bidi and C1 characters; as \u escapes they are
        # recorded exactly and nothing acts on them when the file is printed.
        self._add(json.dumps(line, separators=(",", ":")).encode("ascii") + b"\n")

    def data(
        self,
        ts: float,
        conn: str,
        outgoing: bool,
        chunk: bytes | memoryview,
        origin: OriginName = Origin.YOU,
    ) -> None:
        if not self._active:
            return
        body = _base64(chunk)
        way = (b"out" if outgoing else b"in") if origin == Origin.YOU else out_from(origin)
        if len(body) < BIG_PART:
            record = RECORD % (ts, conn.encode(), way, len(chunk), body)
            # _add, inlined: once per read or datagram under a flood.
            self.dirty = True
            start = self._used
            end = start + len(record)
            if end <= BUFFER_BYTES:
                self._buffer[start:end] = record
                self._used = end
            else:
                self._hand(record)
        else:
            # Handed on from where it is, after what was buffered: not copied (measured: a
            # copy into the buffer cost more CPU than the fresh memory it saves).
            head = HEAD % (ts, conn.encode(), way, len(chunk))
            self.dirty = True
            self._hand(head, body, TAIL)

    def flush(self) -> int:
        """Hand what is buffered to the writer thread; the mark `wait_written` waits for."""
        if self._active and self.dirty:
            self._hand()
            self._push()
            self.dirty = False
        return self._handed

    def wait_written(self, mark: int, timeout: float) -> bool:
        """Wait (any thread) until everything handed up to `mark` is in the file; False if
        that did not happen within `timeout` or recording stopped."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._active and self._written < mark:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            return self._active

    def stalled_for(self) -> float:
        """While behind: the seconds the file has taken nothing; else 0."""
        if not self.behind:
            return 0.0
        return time.monotonic() - max(self._progress, self._behind_since)

    def give_up(self, why: str) -> None:
        """Stop recording now (the file takes nothing): said once through `on_error`."""
        self._fail(f"transcript {self.path} can no longer be written ({why}); " + _GOING_ON)

    def close(self, timeout: float = CLOSE_SECONDS, limit: float = CLOSE_LIMIT_SECONDS) -> None:
        """Hand what is buffered and wait for it to be written, as long as the file takes
        bytes, `limit` seconds at most; what a file that took nothing for `timeout` seconds
        (or did not take in time) still holds back then is lost, and said to be."""
        if self._closing:
            return
        self.flush()
        started = time.monotonic()
        with self._lock:
            self._closing = True
            self._work.notify()
        why = f"within {timeout:g} s of quitting (is its reader reading?)"
        while self._thread.is_alive():
            self._thread.join(POLL_SECONDS)
            now = time.monotonic()
            if now - max(started, self._progress) >= timeout:
                break
            if now - started >= limit:
                why = f"in the {limit:g} s quitting waits for it (the file takes them too slowly)"
                break
        if self._thread.is_alive():
            left = self.queued
            self._fail(
                f"transcript {self.path}: {left:,} bytes could not be written {why}; they are lost"
            )
            self._thread.join(POLL_SECONDS * 5)
        self._active = False

    def _add(self, record: bytes) -> None:
        """One whole record (or the newline that ends a cut one) into the buffer."""
        self.dirty = True
        start = self._used
        end = start + len(record)
        if end <= BUFFER_BYTES:
            self._buffer[start:end] = record
            self._used = end
        else:
            self._hand(record)

    def _hand(self, *record: bytes) -> None:
        """The buffered records, then `record` (its parts), on their way to the writer thread:
        handed over HAND_BYTES at a time (waking the thread for each read cost more than its
        writes), or at a flush."""
        parts = self._pending
        parts += record
        used = self._used
        if used:
            self._used = 0
            if used <= SMALL_COPY:
                parts.insert(len(parts) - len(record), self._view[:used].tobytes())
            else:
                self._swapped.append(self._buffer)
                parts.insert(len(parts) - len(record), self._view[:used])
                self._buffer = self._free.pop() if self._free else bytearray(BUFFER_BYTES)
                self._view = memoryview(self._buffer)
            self._pending_size += used
        self._pending_size += sum(map(len, record))
        if self._pending_size >= HAND_BYTES:
            self._push()

    def _push(self) -> None:
        """What `_hand` gathered, to the writer thread."""
        parts, size, swapped = self._pending, self._pending_size, self._swapped
        if not parts:
            return
        self._pending, self._pending_size, self._swapped = [], 0, []
        with self._lock:
            if not self._active:
                return
            self._items.append((parts, size, swapped))
            self._handed += 1
            self.queued += size
            if self.queued > HIGH_WATER and not self.behind:
                self.behind = True
                self._behind_since = time.monotonic()
            if self._idle:
                self._work.notify()

    # --- the writer thread ---

    def _run(self) -> None:
        checked = 0.0  # when the file was last looked at (deleted?)
        try:
            while True:
                with self._lock:
                    while self._active and not self._items and not self._closing:
                        self._idle = True
                        self._work.wait()
                        self._idle = False
                    if not self._active or not self._items:
                        return  # stopped, or closing with everything written
                    parts: list[Part] = []
                    size = count = 0
                    buffers = []
                    while self._items and len(parts) < MAX_PARTS:
                        item_parts, item_size, swapped = self._items.popleft()
                        parts += item_parts
                        size += item_size
                        count += 1
                        buffers += swapped
                try:
                    self._write_all(parts)
                    # On Linux writes to a deleted file (its directory removed, say) still
                    # succeed, into an inode nobody can open: say so rather than record nothing.
                    if time.monotonic() >= checked + CHECK_SECONDS:
                        checked = time.monotonic()
                        if os.fstat(self._fd).st_nlink == 0:
                            raise FileNotFoundError(errno.ENOENT, "the file was deleted")
                except _GiveUp:
                    return
                except OSError as exc:
                    self._fail(
                        f"transcript {self.path} can no longer be written "
                        f"({exc.strerror or exc}); " + _GOING_ON
                    )
                    return
                if not self._active:
                    return  # given up while a write blocked: what it holds is dropped
                del parts
                for buffer in buffers:
                    if len(self._free) < FREE_BUFFERS:
                        self._free.append(buffer)
                with self._lock:
                    self.queued -= size
                    self._written += count
                    caught_up = self.behind and self.queued <= LOW_WATER
                    if caught_up:
                        self.behind = False
                    self._changed.notify_all()
                if caught_up and self._on_caught_up is not None:
                    self._on_caught_up()
        finally:
            try:
                os.close(self._fd)
            except OSError as exc:
                self._fail(
                    f"transcript {self.path} can no longer be written ({exc.strerror or exc}); "
                    + _GOING_ON
                )

    def _write_all(self, parts: list[Part]) -> None:
        """Every byte of `parts`, in order; a pipe that takes nothing is waited for with poll."""
        fd = self._fd
        while parts:
            try:
                written = os.writev(fd, parts[:IOV_MAX])
            except (BlockingIOError, InterruptedError):
                self._wait_writable(fd)
                continue
            if written == 0:
                raise OSError(errno.EIO, "the file took no bytes")
            self._progress = time.monotonic()
            # Drop what went out; the rest (a partial write) follows, so records stay whole.
            index = 0
            while index < len(parts) and written >= len(parts[index]):
                written -= len(parts[index])
                index += 1
            parts = parts[index:]
            if written:
                parts[0] = memoryview(parts[0])[written:]

    def _wait_writable(self, fd: int) -> None:
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        while not poller.poll(POLL_SECONDS * 1000):
            if not self._active:
                raise _GiveUp

    def _fail(self, message: str) -> None:
        """Stop recording and say so once (any thread); the sockets keep working."""
        with self._lock:
            if not self._active:
                return
            self._active = False
            self._used = 0
            self._items.clear()
            self.queued = 0
            self.behind = False
            self._work.notify()
            self._changed.notify_all()
        if self._on_error is not None:
            self._on_error(message)


_GOING_ON = "recording stopped, the connections go on"


def ends_mid_line(fd: int, path: str) -> bool:
    """Whether the regular file open at `fd` ends with something other than a newline: a run
    killed while its last record was being written. Pipes and devices are never read."""
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size == 0:
        return False
    # Opened again for reading through /proc (the very file, even if `path` was replaced
    # since), else by its path, checked to be the same file.
    for name in (f"/proc/self/fd/{fd}", path):
        try:
            reader = os.open(name, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            again = os.fstat(reader)
            if (again.st_dev, again.st_ino) == (info.st_dev, info.st_ino):
                return os.pread(reader, 1, info.st_size - 1) != b"\n"
        except OSError:
            pass
        finally:
            os.close(reader)
    return False  # not readable (a write-only file): nothing to go on
