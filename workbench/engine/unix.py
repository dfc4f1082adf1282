"""Unix socket paths: stale socket files, ownership on close, datagram clients, plain-words errors.

They run once per bind or connect, before the asyncio transport exists; the engine runs the
ones that look at the file system (stat, probe, unlink) in a thread (see offloop.run_blocking):
a path on a hung file system must not stop its loop.
Paths are filesystem paths or "\\0name" in Linux's abstract namespace (see endpoints.py).
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat

from workbench.protocol.endpoints import UNIX_PATH_MAX, format_unix_path

# A datagram connect() never waits on a peer, but keep any surprise short.
PROBE_TIMEOUT = 1.0

KINDS = ("stream", "dgram")

# Outcomes of the probe connect() that prove a socket is bound at the path.
_BOUND_ERRNOS = (
    errno.EPROTOTYPE,  # a stream or seqpacket socket is bound there
    errno.EPERM,  # a datagram socket connected to another peer refuses us
    errno.EAGAIN,  # a listener whose backlog is full
)


class UnixPathError(OSError):
    """A Unix socket path sockbench cannot use; str(exc) says why in plain words."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        # Keep the errno for callers that branch on it; the message stays the text users see.
        self.errno = code
        self.strerror = message

    def __str__(self) -> str:
        return str(self.args[0])


def is_abstract(path: str) -> bool:
    return path.startswith("\0")


def _path_too_long(path: str) -> str | None:
    size = len(os.fsencode(path))
    if size > UNIX_PATH_MAX:
        return (
            f"the socket path is too long: {size} bytes, the limit is {UNIX_PATH_MAX}: "
            f"{format_unix_path(path)}"
        )
    return None


def describe_unix_error(exc: BaseException, path: str, *, kind: str = "stream") -> str:
    """One sentence a user can act on, for `exc` raised while using the Unix socket `path`."""
    shown = format_unix_path(path)
    if isinstance(exc, UnixPathError):
        return str(exc)
    if isinstance(exc, TimeoutError) and exc.errno is None:
        return f"{shown} did not answer in time"
    if not isinstance(exc, OSError):
        return f"{shown}: {exc}"
    code = exc.errno
    if code == errno.ENAMETOOLONG or (code is None and "too long" in str(exc)):
        # Python raises a bare OSError("AF_UNIX path too long") before the kernel sees it.
        return _path_too_long(path) or f"the socket path is too long: {shown}"
    if code == errno.ECONNREFUSED:
        if kind == "dgram":
            return f"nothing is bound at {shown} (connection refused)"
        return f"nothing is listening at {shown}"
    messages = {
        errno.ENOENT: f"no such socket: {shown}",
        errno.EACCES: f"permission denied for {shown}",
        errno.EPERM: (
            f"operation not permitted for {shown} "
            "(a datagram socket connected to another peer accepts only that peer)"
        ),
        errno.EADDRINUSE: f"{shown} is in use (a socket or file is already there)",
        errno.ENOTSOCK: f"{shown} is not a socket",
        errno.ENOTDIR: f"a part of {shown} is not a directory",
        errno.EPROTOTYPE: f"{shown} is a socket of another type (stream vs datagram)",
        errno.EAGAIN: f"{shown} is busy: its listener has too many connections waiting",
        errno.ELOOP: f"too many symbolic links in {shown}",
        errno.EROFS: f"{shown} is on a read-only file system",
        errno.EISDIR: f"{shown} is a directory",
    }
    if code in messages:
        return messages[code]
    return f"{shown}: {exc.strerror or exc}"


def _directory_problem(path: str) -> tuple[str, int] | None:
    """Why no socket file can be created at `path`, judged from its directory: (reason, errno)."""
    parent = os.path.dirname(path) or "."
    # Walk up to the nearest ancestor that exists, to tell "missing" from "not a directory".
    missing = False
    probe = parent
    while True:
        try:
            st = os.stat(probe)
            break
        except (FileNotFoundError, NotADirectoryError) as exc:
            missing = missing or isinstance(exc, FileNotFoundError)
            up = os.path.dirname(probe) or "."
            if up == probe:
                return None
            probe = up
        except PermissionError:
            return f"permission denied for the directory {probe}", errno.EACCES
        except OSError as exc:
            return describe_unix_error(exc, probe), exc.errno or errno.EINVAL
    if not stat.S_ISDIR(st.st_mode):
        return f"{probe} is not a directory", errno.ENOTDIR
    if missing:
        return f"the directory {parent} does not exist", errno.ENOENT
    # bind() creates a file in `parent`: that needs write and search permission there.
    effective = os.access in os.supports_effective_ids
    if not os.access(parent, os.W_OK | os.X_OK, effective_ids=effective):
        return f"permission denied: cannot create files in the directory {parent}", errno.EACCES
    return None


def _probe(path: str) -> int | None:
    """Connect a datagram socket to `path`: None if it connected, else the errno.

    A datagram probe is used whatever kind the listener is: the kernel looks up the bound
    socket before checking its type, so ECONNREFUSED means nobody holds the file at all
    (even a stream socket that is bound but not yet listening answers EPROTOTYPE), and
    unlike a stream connect() it leaves no connection in a live listener's accept queue.
    """
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        probe.settimeout(PROBE_TIMEOUT)
        probe.connect(path)
    except TimeoutError:
        return errno.EAGAIN
    except OSError as exc:
        return exc.errno if exc.errno is not None else errno.EINVAL
    finally:
        probe.close()
    return None


def prepare_listen_path(path: str, kind: str) -> None:
    """Make `path` ready for a Unix listener of `kind` ("stream" or "dgram") to bind.

    Removes a stale socket file left by a listener that is gone; refuses anything else that
    is there. Raises UnixPathError with plain words when the bind could not succeed.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    if is_abstract(path):
        # Abstract names vanish with their socket: nothing stale can be left behind.
        return
    too_long = _path_too_long(path)
    if too_long:
        raise UnixPathError(too_long, errno.ENAMETOOLONG)
    try:
        before = os.lstat(path)
    except FileNotFoundError:
        problem = _directory_problem(path)
        if problem:
            raise UnixPathError(f"cannot listen on {path}: {problem[0]}", problem[1]) from None
        return
    except OSError as exc:
        # ENOTDIR, EACCES, ELOOP...: name the directory at fault when it can be found.
        found = _directory_problem(path)
        why, code = found if found else (describe_unix_error(exc, path), exc.errno)
        raise UnixPathError(f"cannot listen on {path}: {why}", code) from None

    # lstat: a symlink is never followed, so we never replace what it points to.
    if not stat.S_ISSOCK(before.st_mode):
        raise UnixPathError(f"{path} exists and is not a socket; not replacing it", errno.EEXIST)

    outcome = _probe(path)
    if outcome == errno.ENOENT:
        return  # removed between lstat and probe: the path is free
    if outcome is None or outcome in _BOUND_ERRNOS:
        raise UnixPathError(
            f"{path} is in use: another program is listening there", errno.EADDRINUSE
        )
    if outcome == errno.EACCES:
        raise UnixPathError(
            f"cannot listen on {path}: permission denied for the socket file already there",
            errno.EACCES,
        )
    if outcome != errno.ECONNREFUSED:
        reason = describe_unix_error(OSError(outcome, os.strerror(outcome)), path)
        raise UnixPathError(f"cannot listen on {path}: {reason}", outcome)

    # Stale. Only unlink the file we probed: another program may have replaced it meanwhile.
    now = _identity_of(path)
    if now is None and not os.path.lexists(path):
        return  # its owner cleaned it up meanwhile
    if now != (before.st_dev, before.st_ino):
        raise UnixPathError(
            f"{path} is in use: another program is listening there", errno.EADDRINUSE
        )
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        reason = describe_unix_error(exc, path)
        raise UnixPathError(
            f"cannot remove the stale socket file {path}: {reason}", exc.errno
        ) from None


def _identity_of(path: str) -> tuple[int, int] | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISSOCK(st.st_mode):
        return None
    return (st.st_dev, st.st_ino)


def bound_identity(path: str) -> tuple[int, int] | None:
    """(st_dev, st_ino) of the socket file just bound at `path`, to recognise it at close.

    None for abstract names, or if the file is gone or is no longer a socket.
    """
    if is_abstract(path):
        return None
    return _identity_of(path)


def remove_own_socket(path: str, identity: tuple[int, int] | None) -> None:
    """Remove the socket file our listener bound, if it is still that very file.

    Another program may have removed ours and bound its own at the same path: that one
    has another inode, so it is left alone. Never raises.
    """
    if identity is None or is_abstract(path):
        return
    if _identity_of(path) != identity:
        return
    # Already gone, or not ours to remove after all: either way there is nothing to report.
    with contextlib.suppress(OSError):
        os.unlink(path)


def dgram_client_socket(path: str) -> socket.socket:
    """A non-blocking AF_UNIX datagram socket connected to `path`, able to receive replies.

    An unbound datagram socket has no address, so a server's sendto() could not reach it:
    Linux autobind (bind to "") gives it a unique abstract name instead of a file to clean up.
    Raises UnixPathError in plain words; the socket is closed on any failure.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.bind("")
        sock.connect(path)
    except OSError as exc:
        sock.close()
        raise UnixPathError(describe_unix_error(exc, path, kind="dgram"), exc.errno) from None
    except BaseException:
        sock.close()
        raise
    return sock
