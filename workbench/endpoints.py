"""Endpoint URLs (`tcp://HOST:PORT`) and address formatting. Pure functions, no I/O."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

TRANSPORTS = ("tcp",)
DEFAULT_HOST = "127.0.0.1"

# A host name per RFC 1123 labels; IP literals are checked separately.
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?$"
)


_PORT = re.compile(r"^-?[0-9]+$")


class EndpointError(ValueError):
    """A URL or address the user gave that sockbench cannot use; the message says why."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    transport: str
    host: str
    port: int

    @property
    def address(self) -> str:
        return format_address(self.host, self.port)

    @property
    def url(self) -> str:
        return f"{self.transport}://{self.address}"

    def __str__(self) -> str:
        return self.url


def format_address(host: str, port: int) -> str:
    """`host:port`, with IPv6 literals in brackets as URLs and most tools show them."""
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def format_sockname(sockname: object) -> str:
    """Format what `socket.getsockname()`/`getpeername()` returned."""
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        return format_address(str(sockname[0]), int(sockname[1]))
    return str(sockname)


def check_host(host: str) -> str:
    """Return `host` without IPv6 brackets, or raise EndpointError if it cannot be a host."""
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise EndpointError(f"'{host}' is not an IPv6 address") from None
        return host
    if not host:
        raise EndpointError("the host is empty")
    if ":" in host:
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise EndpointError(f"'{host}' is not a host name or IP address") from None
        return host
    if not _HOSTNAME.match(host):
        raise EndpointError(f"'{host}' is not a host name or IP address")
    return host


def check_port(text: str | int, *, allow_zero: bool) -> int:
    """Parse a port number; 0 means 'let the system pick', which only listeners may ask for."""
    # int() would also take "+80", "8_0" and non-ASCII digits: typos must not become ports.
    if isinstance(text, str) and not _PORT.match(text):
        raise EndpointError(f"port '{text}' is not a number")
    port = int(text)
    if not 0 <= port <= 65535:
        raise EndpointError(f"port {port} is out of range (0-65535)")
    if port == 0 and not allow_zero:
        raise EndpointError("port 0 can only be used to listen (it picks a free port)")
    return port


def parse_url(text: str, *, for_listen: bool) -> Endpoint:
    """Parse `tcp://HOST:PORT` (IPv6 as `tcp://[::1]:PORT`) into an Endpoint."""
    scheme, sep, rest = text.strip().partition("://")
    if not sep:
        raise EndpointError(f"'{text}' is not a URL; expected tcp://HOST:PORT")
    transport = scheme.lower()
    if transport not in TRANSPORTS:
        known = ", ".join(f"{t}://" for t in TRANSPORTS)
        raise EndpointError(f"unknown transport '{scheme}://' in '{text}'; known: {known}")
    host, port = split_host_port(rest, text)
    return Endpoint(transport, check_host(host), check_port(port, allow_zero=for_listen))


def split_host_port(rest: str, original: str) -> tuple[str, str]:
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0 or not rest[end + 1 :].startswith(":"):
            raise EndpointError(f"'{original}' needs [IPV6]:PORT")
        return rest[: end + 1], rest[end + 2 :]
    host, sep, port = rest.rpartition(":")
    if not sep or not port:
        raise EndpointError(f"'{original}' has no port; expected HOST:PORT")
    if ":" in host:
        raise EndpointError(f"'{original}': put an IPv6 address in brackets, like [::1]:PORT")
    return host, port
