"""Endpoint URLs (`tcp://HOST:PORT`, `udp://...`, `unix:///path`) and address formatting.

Pure functions, no I/O."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace

from workbench.protocol.addresses import EndpointError, check_host
from workbench.protocol.enums import Transport
from workbench.protocol.options import (
    DEFAULT_EOF_GRACE,
    NO_OPTIONS,
    OPTIONS,
    SocketOptions,
    parse_options,
)

# sun_path holds 108 bytes on Linux, one of them the terminating NUL.
UNIX_PATH_MAX = 107
DEFAULT_HOST = "127.0.0.1"
_PORT = re.compile(r"^-?[0-9]+$")
# TLS over TCP: a tcp:// endpoint with tls=1.
TLS_SCHEME = "tls"
_NOT_TLS_FLAG = tuple(option.field for option in OPTIONS if option.field != "tls")


@dataclass(frozen=True, slots=True)
class Endpoint:
    transport: Transport
    host: str = ""
    port: int = 0
    # Unix sockets: a filesystem path, or "\0name" in Linux's abstract namespace.
    path: str = ""
    options: SocketOptions = NO_OPTIONS

    @property
    def is_unix(self) -> bool:
        return self.transport.is_unix

    @property
    def is_datagram(self) -> bool:
        return self.transport.is_datagram

    @property
    def address(self) -> str:
        if self.is_unix:
            return format_unix_path(self.path)
        return format_address(self.host, self.port)

    @property
    def eof_grace(self) -> float:
        grace = self.options.eof_grace
        return DEFAULT_EOF_GRACE if grace is None else grace

    @property
    def is_tls(self) -> bool:
        return self.options.tls and not self.is_datagram

    @property
    def scheme(self) -> str:
        """The URL's scheme: the transport's, or `tls` for TLS over TCP."""
        return TLS_SCHEME if self.is_tls and self.transport == Transport.TCP else self.transport

    @property
    def url(self) -> str:
        if self.is_unix:
            return f"{self.transport}://{self.address}"
        # tls:// says tls=1 already.
        query = self.options.query(None if self.scheme != TLS_SCHEME else _NOT_TLS_FLAG)
        return f"{self.scheme}://{self.address}{'?' + query if query else ''}"

    def __str__(self) -> str:
        return self.url


def format_address(host: str, port: int) -> str:
    """`host:port`, with IPv6 literals in brackets as URLs and most tools show them."""
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def format_unix_path(path: str | bytes) -> str:
    """A Unix socket address as users write it: the path, or @name for an abstract one.
    Bytes that are not UTF-8 show as \\xNN, whether the name came as bytes or as a str that
    keeps them as lone surrogates (surrogateescape, so a reply can go back to it)."""
    if isinstance(path, str):
        try:
            raw = path.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a lone surrogate that stands for no byte
            raw = path.encode("utf-8", "backslashreplace")
    else:
        raw = path
    shown = raw.decode("utf-8", "backslashreplace")
    if shown.startswith("\0"):
        return "@" + shown[1:]
    return shown or "(unnamed)"


def format_sockname(sockname: object) -> str:
    """Format what `socket.getsockname()`/`getpeername()` returned."""
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        return format_address(str(sockname[0]), int(sockname[1]))
    if isinstance(sockname, str | bytes):
        return format_unix_path(sockname)
    if sockname is None:  # an unbound Unix socket, as uvloop reports it
        return "(unnamed)"
    return str(sockname)


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
    """Parse `tcp://HOST:PORT`, `tls://HOST:PORT`, `udp://HOST:PORT?opts`, `unix:///path`,
    `unix://@name` or `unix-dgram:///path` into an Endpoint; IPv6 hosts go in brackets:
    `tcp://[::1]:PORT`."""
    scheme, sep, rest = text.strip().partition("://")
    if not sep:
        raise EndpointError(f"'{text}' is not a URL; expected tcp://HOST:PORT")
    if scheme.lower() == TLS_SCHEME:
        try:
            endpoint = parse_url(f"tcp://{rest}", for_listen=for_listen)
        except EndpointError as exc:  # in the words of what the user wrote
            raise EndpointError(str(exc).replace(f"tcp://{rest}", text.strip())) from None
        return replace(endpoint, options=replace(endpoint.options, tls=True))
    try:
        transport = Transport(scheme.lower())
    except ValueError:
        known = ", ".join(f"{t}://" for t in (*Transport, TLS_SCHEME))
        problem = f"unknown transport '{scheme}://' in '{text}'; known: {known}"
        raise EndpointError(problem) from None
    if transport.is_unix:
        return Endpoint(transport, path=check_unix_path(rest, text))
    rest, _, query = rest.partition("?")
    host, port = split_host_port(rest, text)
    return inet_endpoint(transport, host, port, query, typed=text, for_listen=for_listen)


def inet_endpoint(
    transport: Transport, host: str, port: str, query: str, *, typed: str, for_listen: bool
) -> Endpoint:
    """A TCP or UDP endpoint from its parts as the user wrote them (the host may be a
    bracketed IPv6 address); errors about the options quote `typed`, what the user wrote."""
    host = check_host(host)
    options = parse_options(query, typed, transport, for_listen)
    check_join(host, options, typed)
    return Endpoint(transport, host, check_port(port, allow_zero=for_listen), options=options)


def check_join(host: str, options: SocketOptions, typed: str) -> None:
    """A group can be joined only at a multicast address."""
    if options.join and not is_multicast(host):
        raise EndpointError(f"'{typed}': join=1 needs a multicast group address as the host")


def check_unix_path(rest: str, original: str) -> str:
    """`/abs/path` or `relative/path`, or `@name` for Linux's abstract namespace."""
    if not rest or rest == "@":
        raise EndpointError(f"'{original}' has no path; expected unix:///path or unix://@name")
    path = "\0" + rest[1:] if rest.startswith("@") else rest
    size = len(path.encode("utf-8", "surrogateescape"))
    if size > UNIX_PATH_MAX:
        raise EndpointError(
            f"unix socket path is too long: {size} bytes, the limit is {UNIX_PATH_MAX}"
        )
    if "\0" in path[1:]:
        raise EndpointError(f"'{original}': a path cannot contain a NUL byte")
    return path


def is_multicast(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_multicast
    except ValueError:
        return False


def with_defaults(endpoint: Endpoint, defaults: SocketOptions, *, for_listen: bool) -> Endpoint:
    """`endpoint` with the options of `defaults` that its URL left unset and that its transport
    and role take: the command-line flags and the dialogs' checkboxes, the only way to give
    options to unix:// endpoints."""
    options = endpoint.options.with_defaults(defaults, endpoint.transport, for_listen)
    return replace(endpoint, options=options)


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
