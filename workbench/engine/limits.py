"""Process limits a socket workbench needs raised."""

from __future__ import annotations

import os

# Descriptors the kernel's table for this process holds from the start (at most the soft
# limit): about 130 KB of kernel memory.
DESCRIPTOR_ROOM = 16_384


def raise_open_files_limit() -> tuple[int, int] | None:
    """Raise the soft RLIMIT_NOFILE to the hard limit: each connection holds a descriptor and
    the default 1024 ends an accept storm early. Returns (soft, hard) after, or None."""
    try:
        import resource
    except ImportError:  # not on this platform
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1_048_576)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft, hard


def open_files_limit() -> int | None:
    """The soft RLIMIT_NOFILE: how many descriptors this process may open (None: unknown)."""
    try:
        import resource
    except ImportError:
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else soft


def reserve_descriptor_room(room: int = DESCRIPTOR_ROOM) -> None:
    """Grow the kernel's table of this process's descriptors to hold `room` of them now. It
    grows by doubling as descriptors are opened, and in a process with threads each growth
    waits for the kernel to be sure no thread still reads the old table (milliseconds here):
    the first 1,024 accepts of a storm took 56 ms instead of 8, the listen queue overflowed,
    and the connections it dropped came again a second later."""
    try:
        import fcntl
    except ImportError:  # not on this platform
        return
    limit = open_files_limit()
    highest = (room if limit is None else min(room, limit)) - 1
    try:
        fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        # The lowest free descriptor from `highest` up (dup2 would close one in use there).
        duplicate = getattr(fcntl, "F_DUPFD_CLOEXEC", fcntl.F_DUPFD)
        os.close(fcntl.fcntl(fd, duplicate, highest))
    except OSError:  # none free up there: the table is that large already
        pass
    finally:
        os.close(fd)
