"""Socket errors in plain words. Messages name the address the user asked for."""

from __future__ import annotations

import errno
import socket

from workbench.engine.unix import UnixPathError, describe_unix_error
from workbench.protocol.endpoints import Endpoint
from workbench.protocol.enums import Transport

_BY_ERRNO = {
    errno.EADDRINUSE: "{addr} is already in use (another socket is bound to it)",
    errno.EACCES: (
        "permission denied for {addr} (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
    ),
    errno.EPERM: "operation not permitted for {addr}",
    errno.EADDRNOTAVAIL: "{addr} is not an address of this machine",
    errno.ECONNREFUSED: "connection refused by {addr} (nothing is listening there)",
    errno.ECONNRESET: "connection reset by {addr}",
    errno.ENETUNREACH: "network unreachable for {addr}",
    errno.EHOSTUNREACH: "no route to host {addr}",
    errno.ETIMEDOUT: "{addr} did not answer (timed out)",
    errno.EMFILE: "too many open files: cannot open another socket for {addr}",
    errno.ENFILE: "the system is out of file descriptors: cannot open a socket for {addr}",
}


def describe(exc: BaseException, addr: str) -> str:
    """One sentence a user can act on, for an error while listening on or connecting to `addr`."""
    if isinstance(exc, socket.gaierror):
        host = addr.rsplit(":", 1)[0].strip("[]")
        return f"host not found: '{host}' ({exc.strerror or exc})"
    if isinstance(exc, TimeoutError) and exc.errno is None:
        return f"{addr} did not answer in time"
    if isinstance(exc, OSError):
        template = _BY_ERRNO.get(exc.errno or -1)
        if template:
            return template.format(addr=addr)
        text = str(exc)
        if exc.errno is None and text.startswith("Multiple exceptions"):
            # asyncio tried every address of a name; the details list each failure.
            return f"could not connect to any address of {addr}: {text.partition(': ')[2]}"
        return f"{addr}: {exc.strerror or text}"
    return f"{addr}: {exc}"


def describe_failure(exc: OSError, endpoint: Endpoint, listening: bool = False) -> str:
    """Plain words for a failed listen or connect on any transport."""
    if isinstance(exc, UnixPathError):
        return str(exc)
    # A UDP connect is refused to a broadcast address without SO_BROADCAST; a listen is
    # refused a low port, as on TCP.
    if endpoint.transport == Transport.UDP and exc.errno == errno.EACCES and not listening:
        return f"permission denied for {endpoint.address} (broadcast addresses need ?broadcast=1)"
    if endpoint.is_unix:
        return describe_unix_error(exc, endpoint.path)
    return describe(exc, endpoint.address)
