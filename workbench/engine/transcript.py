"""The lossless transcript: one JSON object per line for every event, with the exact bytes.

Runs in the engine thread, called for each event before the bridge may merge anything, so it
sees every chunk. Data records are formatted by hand: this is the hot path under a flood.
"""

from __future__ import annotations

import binascii
import contextlib
import errno
import json
import os
import time
from collections.abc import Callable
from typing import BinaryIO

from workbench import __version__

FLUSH_BUFFER = 1024 * 1024

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
        self._file: BinaryIO | None = open(path, "ab", buffering=FLUSH_BUFFER)  # noqa: SIM115
        self.dirty = False
        self.record("session", "", version=__version__)

    @property
    def active(self) -> bool:
        return self._file is not None

    def record(self, event: str, conn: str, ts: float | None = None, **fields: object) -> None:
        line = {"ts": round(time.time() if ts is None else ts, 6), "event": event, "conn": conn}
        line.update(fields)
        # ASCII JSON: a peer's address may hold lone surrogates (bytes that are not UTF-8,
        # which UTF-8 cannot encode) or bidi and C1 characters; as \u escapes they are
        # recorded exactly and nothing acts on them when the file is printed.
        self._write(json.dumps(line, separators=(",", ":")).encode("ascii") + b"\n")

    def data(self, ts: float, conn: str, outgoing: bool, chunk: bytes | memoryview) -> None:
        head = b'{"ts":%.6f,"event":"data","conn":"%s","dir":"%s","size":%d,"data":"' % (
            ts,
            conn.encode(),
            b"out" if outgoing else b"in",
            len(chunk),
        )
        # Three writes into the buffer rather than one formatted copy of the whole chunk.
        self._write(head, _base64(chunk), b'"}\n')

    def flush(self) -> None:
        if self._file is not None and self.dirty:
            try:
                self._file.flush()
                self.dirty = False
                # On Linux writes to a deleted file (its directory removed, say) still
                # succeed, into an inode nobody can open: say so rather than record nothing.
                if os.fstat(self._file.fileno()).st_nlink == 0:
                    raise FileNotFoundError(errno.ENOENT, "the file was deleted")
            except OSError as exc:
                self._fail(exc)

    def close(self) -> None:
        if self._file is None:
            return
        self.flush()
        try:
            if self._file is not None:
                self._file.close()
        except OSError as exc:
            self._fail(exc)
        self._file = None

    def _write(self, *parts: bytes) -> None:
        if self._file is None:
            return
        try:
            for part in parts:
                self._file.write(part)
            self.dirty = True
        except OSError as exc:
            self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        """Stop recording and say so once; the sockets keep working."""
        file, self._file = self._file, None
        if file is not None:
            with contextlib.suppress(OSError):
                file.close()
        if self._on_error is not None:
            self._on_error(
                f"transcript {self.path} can no longer be written ({exc.strerror or exc}); "
                "recording stopped, the connections go on"
            )
