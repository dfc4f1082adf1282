"""Opening the files sockbench writes, so that nobody else can point them elsewhere.

`/tmp` is shared, and where `fs.protected_symlinks` is 0 (many containers, this project's
machines) a plain `open()` follows a symbolic link another user planted at the name: the
export meant for `/tmp/sockbench-C1.in.bin` would overwrite whatever file the link names,
with sockbench's rights. So:

- Nothing is opened through a symbolic link at its last component (`O_NOFOLLOW`), and no
  descriptor leaks into a child (`O_CLOEXEC`).
- The directories on the way are walked one at a time (`O_NOFOLLOW` at each step), and a
  symbolic link among them is followed only if it belongs to the user running sockbench or
  to root: `/tmp/x` planted by another user as a link to a directory of yours cannot make
  `--transcript /tmp/x/t.jsonl` append to, or an export replace, a file of yours there.
  The file is then opened, created and renamed relative to the directory reached, so the
  path cannot be swapped between the check and the use.
- Exports and saves are written to a new file (`O_CREAT | O_EXCL`, mode 0600) in the same
  directory, then renamed over the name asked for: whatever was there (a file, a planted
  link) is replaced, never written through, and a reader never sees a half-written file.
- The transcript is appended to, so it is opened in place: created 0600; an existing one
  must be a regular file (or a pipe) of the user running sockbench with no other hard link,
  or a character device (`/dev/null`: only root creates those); and it is locked
  (`flock`, exclusive, a FIFO's too) for the whole run, so a second sockbench on it is
  refused.

Errors are `OSError`s whose `strerror` says what was refused in plain words.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

NO_FOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC
# A directory (or link) held only to find names in it: never read, never written.
PATH_ONLY = getattr(os, "O_PATH", os.O_RDONLY) | os.O_CLOEXEC
MAX_LINKS = 40  # links followed in one path at most (Linux's own limit)
TRANSCRIPT_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | NO_FOLLOW
NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | NO_FOLLOW
PRIVATE_MODE = 0o600
PROC_LOCKS = "/proc/locks"


class TranscriptInUse(OSError):
    """Another process (another sockbench) holds the transcript's lock."""


def same_file(a: str, b: str) -> bool:
    """Whether two paths name one file (by name, or by another path to it)."""
    if os.path.abspath(a) == os.path.abspath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def refused(code: int, why: str, path: str) -> OSError:
    return OSError(code, why, path)


# --- the transcript: appended to, in place ---


def open_transcript(path: str, flags: int = TRANSCRIPT_FLAGS) -> int:
    """A descriptor open for appending to `path` (with `flags`, never through a link),
    created 0600 if missing, checked (see the module's notes) and locked for as long as it
    stays open. Raises OSError."""
    with directory_of(path) as (directory, name):
        try:
            before = os.stat(name, dir_fd=directory, follow_symlinks=False)
        except FileNotFoundError:
            before = None
        if before is not None:
            check_transcript(before, path)  # before a pipe's open could block
        try:
            fd = os.open(name, flags | os.O_CREAT | NO_FOLLOW, PRIVATE_MODE, dir_fd=directory)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise symlink_refused(path) from None
            raise
    try:
        info = os.fstat(fd)
        check_transcript(info, path)
        if stat.S_ISREG(info.st_mode) or stat.S_ISFIFO(info.st_mode):
            lock(fd, info, path)  # two writers on one FIFO would interleave mid-record
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


# --- the directories on the way ---


@contextlib.contextmanager
def directory_of(path: str) -> Iterator[tuple[int, str]]:
    """A descriptor of the directory `path`'s last component is in (reached as `walk` does)
    and that component's name, for the `*at` calls; closed at the end."""
    directory, name = os.path.split(path)
    if not name or name in (".", ".."):
        raise refused(errno.EISDIR, "the name is a directory", path)
    fd = walk(directory, path)
    try:
        yield fd, name
    finally:
        os.close(fd)


def walk(directory: str, path: str) -> int:
    """A descriptor (O_PATH) of `directory`, reached one component at a time, never through
    a symbolic link of another user (see the module's notes). Raises OSError."""
    parts = directory.split("/")
    fd = os.open("/" if directory.startswith("/") else ".", PATH_ONLY | os.O_DIRECTORY)
    links = 0
    try:
        while parts:
            part = parts.pop(0)
            if part in ("", "."):
                continue
            try:
                step = os.open(part, PATH_ONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except NotADirectoryError:
                target = trusted_link(fd, part, path)  # raises unless a link we may follow
                links += 1
                if links > MAX_LINKS:
                    raise refused(errno.ELOOP, "it goes through too many links", path) from None
                parts[:0] = target.split("/")
                if target.startswith("/"):
                    step = os.open("/", PATH_ONLY | os.O_DIRECTORY)
                else:
                    continue  # relative to the directory the link is in: `fd`
            os.close(fd)
            fd = step
        return fd
    except BaseException:
        os.close(fd)
        raise


def trusted_link(directory: int, name: str, path: str) -> str:
    """What the link `name` in `directory` points to, if it belongs to this user or root.
    Read from the link itself (opened, not followed): the one checked is the one read."""
    link = os.open(name, PATH_ONLY | os.O_NOFOLLOW, dir_fd=directory)
    try:
        info = os.fstat(link)
        if not stat.S_ISLNK(info.st_mode):
            raise refused(errno.ENOTDIR, f"{name} is not a directory", path)
        if info.st_uid not in (os.geteuid(), 0):
            raise refused(
                errno.EPERM,
                f"{name} is a symbolic link of another user (uid {info.st_uid}); "
                "sockbench does not follow it (give the path it points to)",
                path,
            )
        return os.readlink("", dir_fd=link)
    finally:
        os.close(link)


# --- exports and saves: a new file, renamed over the name ---


@dataclass(frozen=True)
class NewFile:
    """A file written beside the name it is for: `name` and `temp` in `directory` (a
    descriptor, so the rename lands where the file was written)."""

    directory: int
    name: str
    temp: str


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
def new_file_beside(path: str) -> Iterator[tuple[NewFile, BinaryIO]]:
    """A new file (mode 0600, created exclusively, never through a link) in `path`'s
    directory, removed at the end unless renamed by then (see `commit`)."""
    with directory_of(path) as (directory, name):
        # (os.urandom, as secrets.token_hex does: the secrets module costs a millisecond of
        # start-up, before the first screen.)
        temp = NewFile(directory, name, f".{name}.{os.urandom(6).hex()}.tmp")
        fd = os.open(temp.temp, NEW_FILE_FLAGS, PRIVATE_MODE, dir_fd=directory)
        try:
            file = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            os.unlink(temp.temp, dir_fd=directory)
            raise
        try:
            with file:
                yield temp, file
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp.temp, dir_fd=directory)


# What `commit` will not rename over: replacing /dev/null with a file (as root, who may) would
# break every program that writes there.
NOT_FILES = (
    (stat.S_ISDIR, errno.EISDIR, "it is a directory"),
    (stat.S_ISCHR, errno.EINVAL, "it is a device, not a file"),
    (stat.S_ISBLK, errno.EINVAL, "it is a device, not a file"),
    (stat.S_ISFIFO, errno.EINVAL, "it is a FIFO, not a file"),
    (stat.S_ISSOCK, errno.EINVAL, "it is a socket, not a file"),
)


def commit(temp: NewFile, path: str) -> None:
    """Put the written file `temp` at its name (`path`, as the user gave it): over a file or
    a link (replaced, not followed), never over a directory, a device, a FIFO or a socket."""
    with contextlib.suppress(FileNotFoundError):
        mode = os.stat(temp.name, dir_fd=temp.directory, follow_symlinks=False).st_mode
        for kind, code, why in NOT_FILES:
            if kind(mode):
                raise refused(code, why, path)
    os.replace(temp.temp, temp.name, src_dir_fd=temp.directory, dst_dir_fd=temp.directory)


# --- reading back, and reading what is sent ---


def open_to_send(path: str) -> BinaryIO:
    """`path` opened for reading (unbuffered) to send what it holds: a file or a pipe. A link
    on the way, or at its name, is followed only if it belongs to this user or root: a link
    another user planted at `/tmp/payload.bin` must not send a file of yours to a peer."""
    for _ in range(MAX_LINKS):
        with directory_of(path) as (directory, name):
            try:
                fd = os.open(name, os.O_RDONLY | NO_FOLLOW, dir_fd=directory)
            except OSError as exc:
                if exc.errno != errno.ELOOP:
                    raise
                target = trusted_link(directory, name, path)
            else:
                return os.fdopen(fd, "rb", buffering=0)
        path = os.path.join(os.path.dirname(path), target)
    raise refused(errno.ELOOP, "it goes through too many links", path)


def open_for_reading(path: str) -> BinaryIO:
    """`path` opened for reading, not through a link; only a regular file (a pipe would
    block, /dev/full reads as endless zeros). Raises OSError."""
    with directory_of(path) as (directory, name):
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | NO_FOLLOW, dir_fd=directory)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise refused(errno.EINVAL, "it is not a regular file", path)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
