"""Opening the files sockbench writes, so that nobody else can point them elsewhere.

`/tmp` is shared, and where `fs.protected_symlinks` is 0 (many containers, this project's
machines) a plain `open()` follows a symbolic link another user planted at the name: the
export meant for `/tmp/sockbench-C1.in.bin` would overwrite whatever file the link names,
with sockbench's rights. So:

- Nothing is opened through a symbolic link at its last component (`O_NOFOLLOW`), and no
  descriptor leaks into a child (`O_CLOEXEC`).
- Exports and saves are written to a new file (`O_CREAT | O_EXCL`, mode 0600) in the same
  directory, then renamed over the name asked for: whatever was there (a file, a planted
  link) is replaced, never written through, and a reader never sees a half-written file.
- The transcript is appended to, so it is opened in place: created 0600; an existing one
  must be a regular file (or a pipe) of the user running sockbench with no other hard link,
  or a character device (`/dev/null`: only root creates those); and it is locked
  (`flock`, exclusive) for the whole run, so a second sockbench on it is refused.

Errors are `OSError`s whose `strerror` says what was refused in plain words.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import stat
from collections.abc import Iterator
from typing import BinaryIO

NO_FOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC
TRANSCRIPT_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | NO_FOLLOW
NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | NO_FOLLOW
PRIVATE_MODE = 0o600
PROC_LOCKS = "/proc/locks"


class TranscriptInUse(OSError):
    """Another process (another sockbench) holds the transcript's lock."""


def refused(code: int, why: str, path: str) -> OSError:
    return OSError(code, why, path)


# --- the transcript: appended to, in place ---


def open_transcript(path: str, flags: int = TRANSCRIPT_FLAGS) -> int:
    """A descriptor open for appending to `path` (with `flags`, never through a link),
    created 0600 if missing, checked (see the module's notes) and locked for as long as it
    stays open. Raises OSError."""
    try:
        before = os.lstat(path)
    except FileNotFoundError:
        before = None
    if before is not None:
        check_transcript(before, path)  # before a pipe's open could block
    try:
        fd = os.open(path, flags | os.O_CREAT | NO_FOLLOW, PRIVATE_MODE)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise symlink_refused(path) from None
        raise
    try:
        info = os.fstat(fd)
        check_transcript(info, path)
        if stat.S_ISREG(info.st_mode):
            lock(fd, info, path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def check_transcript(info: os.stat_result, path: str) -> None:
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        raise symlink_refused(path)
    if stat.S_ISCHR(mode):
        return  # /dev/null, /dev/full: only root can make a device node
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        raise refused(errno.EINVAL, "it is not a regular file, a pipe or a device", path)
    if info.st_uid != os.geteuid():
        raise refused(
            errno.EPERM,
            f"it belongs to another user (uid {info.st_uid}); sockbench only appends to its "
            "user's own files",
            path,
        )
    if stat.S_ISREG(mode) and info.st_nlink > 1:
        raise refused(
            errno.EPERM,
            f"it has {info.st_nlink - 1} other hard link(s); sockbench refuses a file that "
            "may be another one under a second name",
            path,
        )


def symlink_refused(path: str) -> OSError:
    return refused(
        errno.ELOOP,
        "it is a symbolic link; sockbench does not follow one (give the file it points to)",
        path,
    )


def lock(fd: int, info: os.stat_result, path: str) -> None:
    """An exclusive lock on the open file for as long as `fd` stays open (every sockbench
    takes it: a second one on the same file is refused, not interleaved)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = lock_holder(info)
        who = f" (pid {holder})" if holder else ""
        raise TranscriptInUse(
            errno.EWOULDBLOCK, f"it is in use by another sockbench{who}", path
        ) from None


def lock_holder(info: os.stat_result) -> int | None:
    """The pid /proc/locks names for a flock on the file, when it says (Linux)."""
    wanted = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    try:
        with open(PROC_LOCKS, encoding="ascii", errors="replace") as locks:
            for line in locks:
                fields = line.split()
                # "1: FLOCK  ADVISORY  WRITE 1234 fd:01:5678 0 EOF" ("->" marks a waiter)
                if "->" in fields or len(fields) < 6 or fields[1] != "FLOCK":
                    continue
                if fields[5] == wanted and fields[4].isdigit() and int(fields[4]) > 0:
                    return int(fields[4])
    except OSError:
        pass
    return None


# --- exports and saves: a new file, renamed over the name ---


@contextlib.contextmanager
def replacing(path: str) -> Iterator[BinaryIO]:
    """A new private file to write `path`'s content into; when the block ends without an
    error it replaces `path` (whatever was there, a planted link included, is replaced, not
    followed), otherwise it is removed and `path` is untouched."""
    with new_file_beside(path) as (temp, file):
        yield file
        file.flush()
        commit(temp, path)


@contextlib.contextmanager
def new_file_beside(path: str) -> Iterator[tuple[str, BinaryIO]]:
    """A new file (mode 0600, created exclusively, never through a link) in `path`'s
    directory, removed at the end unless renamed by then (see `commit`)."""
    directory, name = os.path.split(path)
    if not name:
        raise refused(errno.EISDIR, "the name is a directory", path)
    temp = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, NEW_FILE_FLAGS, PRIVATE_MODE)
    try:
        file = os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        os.unlink(temp)
        raise
    try:
        with file:
            yield temp, file
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def commit(temp: str, path: str) -> None:
    """Put the written file `temp` at `path`."""
    if os.path.isdir(path) and not os.path.islink(path):
        raise refused(errno.EISDIR, "it is a directory", path)
    os.replace(temp, path)


# --- reading back ---


def open_for_reading(path: str) -> BinaryIO:
    """`path` opened for reading, not through a link; only a regular file (a pipe would
    block, /dev/full reads as endless zeros). Raises OSError."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | NO_FOLLOW)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise refused(errno.EINVAL, "it is not a regular file", path)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
