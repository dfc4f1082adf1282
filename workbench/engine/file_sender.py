"""Sending a file over a stream connection: in chunks, waiting for room when the peer reads
slowly, so memory stays bounded whatever the file's size. The file is opened and read in a
thread (a FIFO nobody writes must not stop the engine's loop), in order, a chunk or two ahead."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from workbench.engine.offloop import FileChunks
from workbench.engine.stream import StreamConnection

FILE_CHUNK_BYTES = 1024 * 1024  # 256 KiB chunks sent a file 15 % slower
PROGRESS_SECONDS = 0.25

Progress = Callable[[int, int, bool, str], None]  # sent, total, finished, error


async def send_file_over_stream(
    conn: StreamConnection,
    path: str,
    total: int,
    send: Callable[[bytes], None],
    progress: Progress,
    room: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """`send` writes one chunk (and records it); `progress` is told how far it got; `room`,
    awaited before each chunk, waits while the transcript is behind."""
    sent = 0
    last_report = time.monotonic()
    chunks = FileChunks(path, FILE_CHUNK_BYTES)
    try:
        while chunk := await chunks.next():
            await conn.writable.wait()
            if room is not None:
                await room()
            if not conn.is_open or conn.local_eof:
                # After the user's EOF the stream has ended: nothing more may be written.
                why = f"you sent EOF on {conn.cid}" if conn.is_open else "the connection closed"
                progress(sent, total, True, f"stopped after {sent:,} bytes: {why}")
                return
            send(chunk)
            sent += len(chunk)
            if time.monotonic() - last_report >= PROGRESS_SECONDS:
                last_report = time.monotonic()
                progress(sent, total, False, "")
            await asyncio.sleep(0)  # let reads and other connections run between chunks
    except OSError as exc:
        progress(sent, total, True, f"cannot read {path}: {exc.strerror or exc}")
        return
    finally:
        chunks.stop()
    progress(sent, total, True, "")
