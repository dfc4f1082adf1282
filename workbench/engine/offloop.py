"""Blocking file-system work, kept off the engine's loop: a file (a FIFO nobody writes, a
stalled network mount) may take any time to open or read, and the loop serves every socket.

Daemon threads of their own, not the loop's default executor: a read that never returns
must not hold up the process when it exits (the executor's threads are joined at exit).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import TypeVar

from workbench.files import open_to_send

T = TypeVar("T")

READ_AHEAD = 2  # chunks a file reader may hold that were not yet asked for


async def run_blocking(func: Callable[..., T], *args: object) -> T:
    """`func(*args)` in a daemon thread; its result or exception, here."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: Exception | None) -> None:
        if future.done():  # cancelled meanwhile
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def work() -> None:
        try:
            result, error = func(*args), None
        except Exception as exc:
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=work, name="sockbench-blocking", daemon=True).start()
    return await future


class FileChunks:
    """A file read in order, in chunks of at most `size` bytes, by a daemon thread that stays
    at most READ_AHEAD chunks ahead of `next` (memory stays bounded). `stop` when done."""

    def __init__(self, path: str, size: int) -> None:
        self._loop = asyncio.get_running_loop()
        self._chunks: asyncio.Queue[bytes | OSError] = asyncio.Queue()
        self._room = threading.Semaphore(READ_AHEAD)
        self._stopped = False
        threading.Thread(
            target=self._read, args=(path, size), name="sockbench-file", daemon=True
        ).start()

    async def next(self) -> bytes:
        """The next chunk; b"" at the end of the file. Raises OSError if it cannot be read."""
        item = await self._chunks.get()
        self._room.release()
        if isinstance(item, OSError):
            raise item
        return item

    def stop(self) -> None:
        """No more chunks wanted: the thread ends after the read it may be blocked in."""
        self._stopped = True
        self._room.release()

    def _read(self, path: str, size: int) -> None:
        try:
            with open_to_send(path) as file:  # not through another user's link
                while True:
                    self._room.acquire()
                    if self._stopped:
                        return
                    # One read: a pipe's bytes go out as they come, not once 1 MiB is there.
                    chunk = file.read(size) or b""
                    if self._stopped or not self._hand(chunk) or not chunk:
                        return
        except OSError as exc:
            self._hand(exc)

    def _hand(self, item: bytes | OSError) -> bool:
        try:
            self._loop.call_soon_threadsafe(self._chunks.put_nowait, item)
        except RuntimeError:  # the loop is closed
            return False
        return True
