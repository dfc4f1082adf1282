"""The lossless transcript: one JSON object per line for every event, with the exact bytes.

Runs in the engine thread, called for each event before the bridge may merge anything, so it
sees every chunk. Data records are formatted by hand: this is the hot path under a flood.

The file only ever gets whole records: they are gathered in a buffer of our own and handed to
the file in one write (a big record together with what was buffered, in one `writev`, so its
bytes are not copied). A process killed at any moment leaves complete lines only, unless the
kernel itself wrote part of a write (a full disk, a kill during a big write); the next run
then starts on a line of its own and its `session` record says `"previous_cut": true`.
"""

from __future__ import annotations

import binascii
import contextlib
import errno
import json
import os
import stat
import time
from collections.abc import Callable

from workbench import __version__

BUFFER_BYTES = 1024 * 1024  # records gathered before one write
# A data record's base64 at least this long is written from where it is, not copied into
# the buffer: with 256 KiB reads under a flood, most bytes skip a copy.
BIG_PART = 64 * 1024
HEAD = b'{"ts":%.6f,"event":"data","conn":"%s","dir":"%s","size":%d,"data":"'
TAIL = b'"}\n'
RECORD = HEAD + b"%s" + TAIL
OPEN_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC

try:  # SIMD base64: measured 50x faster than binascii, which made the transcript the bottleneck
    from pybase64 import b64encode as _base64
except ImportError:  # pragma: no cover - pybase64 is a dependency; this keeps a broken wheel usable

    def _base64(data: bytes | memoryview) -> bytes:
        return binascii.b2a_base64(data, newline=False)


class TranscriptWriter:
    def __init__(self, path: str, on_error: Callable[[str], None] | None = None) -> None:
        """Open `path` for appending (earlier sessions are kept); raises OSError if it can't."""
        self.path = path
        self._on_error = on_error
        self._fd: int | None = os.open(path, OPEN_FLAGS, 0o666)
        self._buffer = bytearray(BUFFER_BYTES)
        self._view = memoryview(self._buffer)
        self._used = 0  # bytes of whole records in the buffer
        self.dirty = False  # records added since the last flush
        try:
            cut = ends_mid_line(self._fd, path)
        except OSError:
            os.close(self._fd)
            raise
        if cut:
            self._add(b"\n")
        self.record("session", "", version=__version__, **({"previous_cut": True} if cut else {}))

    @property
    def active(self) -> bool:
        return self._fd is not None

    def record(self, event: str, conn: str, ts: float | None = None, **fields: object) -> None:
        if self._fd is None:
            return
        line = {"ts": round(time.time() if ts is None else ts, 6), "event": event, "conn": conn}
        line.update(fields)
        # ASCII JSON: a peer's address may hold lone surrogates (bytes that are not UTF-8,
        # which UTF-8 cannot encode) or bidi and C1 characters; as \u escapes they are
        # recorded exactly and nothing acts on them when the file is printed.
        self._add(json.dumps(line, separators=(",", ":")).encode("ascii") + b"\n")

    def data(self, ts: float, conn: str, outgoing: bool, chunk: bytes | memoryview) -> None:
        if self._fd is None:
            return
        body = _base64(chunk)
        if len(body) < BIG_PART:
            record = RECORD % (ts, conn.encode(), b"out" if outgoing else b"in", len(chunk), body)
            # _add, inlined: once per read or datagram under a flood.
            self.dirty = True
            start = self._used
            end = start + len(record)
            if end <= BUFFER_BYTES:
                self._buffer[start:end] = record
                self._used = end
            else:
                self._write_out(record)
        else:
            # Written from where it is, with what was buffered, in one writev: not copied.
            head = HEAD % (ts, conn.encode(), b"out" if outgoing else b"in", len(chunk))
            self.dirty = True
            self._write_out(head, body, TAIL)

    def flush(self) -> None:
        if self._fd is None or not self.dirty:
            return
        self._write_out()
        self.dirty = False
        if self._fd is None:
            return
        try:
            # On Linux writes to a deleted file (its directory removed, say) still succeed,
            # into an inode nobody can open: say so rather than record nothing.
            if os.fstat(self._fd).st_nlink == 0:
                raise FileNotFoundError(errno.ENOENT, "the file was deleted")
        except OSError as exc:
            self._fail(exc)

    def close(self) -> None:
        if self._fd is None:
            return
        self.flush()
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError as exc:
                self._fail(exc)

    def _add(self, record: bytes) -> None:
        """One whole record (or the newline that ends a cut one) into the buffer."""
        self.dirty = True
        start = self._used
        end = start + len(record)
        if end <= BUFFER_BYTES:
            self._buffer[start:end] = record
            self._used = end
        else:
            self._write_out(record)

    def _write_out(self, *record: bytes) -> None:
        """The buffered records, then `record` (its parts), in one write."""
        parts: tuple[bytes | memoryview, ...] = record
        if self._used:
            parts = (self._view[: self._used], *record)
            self._used = 0
        if parts and self._fd is not None:
            self._write_all(self._fd, parts)

    def _write_all(self, fd: int, parts: tuple[bytes | memoryview, ...]) -> None:
        try:
            written = os.writev(fd, parts)
            total = sum(map(len, parts))
            if written < total:
                # The kernel took part of it (a full disk, a signal during a big write): the
                # rest follows, so the record is whole if the file takes it at all.
                rest = memoryview(b"".join(parts))[written:]
                while rest:
                    count = os.write(fd, rest)
                    if count == 0:
                        raise OSError(errno.EIO, "the file took no bytes")
                    rest = rest[count:]
        except OSError as exc:
            self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        """Stop recording and say so once; the sockets keep working."""
        fd, self._fd = self._fd, None
        self._used = 0
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
        if self._on_error is not None:
            self._on_error(
                f"transcript {self.path} can no longer be written ({exc.strerror or exc}); "
                "recording stopped, the connections go on"
            )


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
