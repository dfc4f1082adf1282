"""Endpoint URLs (`tcp://HOST:PORT`, `udp://...`, `unix:///path`) and address formatting.

Pure functions, no I/O."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace

TRANSPORTS = ("tcp", "udp", "unix", "unix-dgram")
UNIX_TRANSPORTS = ("unix", "unix-dgram")
DATAGRAM_TRANSPORTS = ("udp", "unix-dgram")
# sun_path holds 108 bytes on Linux, one of them the terminating NUL.
UNIX_PATH_MAX = 107
DEFAULT_HOST = "127.0.0.1"

# A host name per RFC 1123 labels; IP literals are checked separately.
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?$"
)


_PORT = re.compile(r"^-?[0-9]+$")
_ALL_NUMERIC = re.compile(r"^[0-9.]+$")


class EndpointError(ValueError):
    """A URL or address the user gave that sockbench cannot use; the message says why."""


@dataclass(frozen=True, slots=True)
class SocketOptions:
    """Options from a URL's query string (`udp://0.0.0.0:5000?broadcast=1&rcvbuf=4194304`)."""

    broadcast: bool = False  # SO_BROADCAST: may send to broadcast addresses
    join: bool = False  # a UDP listener on a multicast group joins it
    interface: str | None = None  # the local IPv4 address (or IPv6 index) for multicast
    ttl: int | None = None  # multicast TTL / hop limit for what is sent
    loop: bool | None = None  # multicast loopback: receive what this host sends
    rcvbuf: int | None = None  # SO_RCVBUF in bytes, against drops under load
    # Stream options (tcp://, and unix:// through the command line):
    max_connections: int | None = None  # a listener's connections at most (default 100)
    idle: float | None = None  # close a connection after this many seconds without traffic
    # A peer's EOF ends the connection after a grace (socat's -t), unless it is kept half-open.
    half_open: bool = False
    eof_grace: float | None = None  # seconds; None: DEFAULT_EOF_GRACE
    # Behaviours (any transport): echo what a peer sends back to it.
    echo: bool = False

    def query(self) -> str:
        parts = []
        for name in _OPTION_ORDER:
            value = getattr(self, name)
            if value is None or value is False:
                continue
            if value is True:
                text = "1"
            elif isinstance(value, float):
                text = f"{value:g}"
            else:
                text = str(value)
            parts.append(f"{_URL_NAMES.get(name, name)}={text}")
        return "&".join(parts)


_OPTION_ORDER = (
    "broadcast",
    "join",
    "interface",
    "ttl",
    "loop",
    "rcvbuf",
    "max_connections",
    "idle",
    "half_open",
    "eof_grace",
    "echo",
)
# Names in URLs that differ from the field's.
_URL_NAMES = {
    "interface": "iface",
    "max_connections": "max",
    "half_open": "halfopen",
    "eof_grace": "grace",
}
UDP_OPTIONS = ("broadcast", "join", "iface", "ttl", "loop", "rcvbuf", "echo")
TCP_OPTIONS = ("max", "idle", "halfopen", "grace", "echo")
MAX_IDLE_SECONDS = 7 * 24 * 3600
# How long a connection stays open after its peer's EOF (socat's -t is 0.5 s too): a reply
# sent in that time still reaches a peer that only shut down its sending side.
DEFAULT_EOF_GRACE = 0.5
MAX_EOF_GRACE = 3600.0
MAX_CONNECTIONS_LIMIT = 1_000_000


NO_OPTIONS = SocketOptions()


@dataclass(frozen=True, slots=True)
class Endpoint:
    transport: str
    host: str = ""
    port: int = 0
    # Unix sockets: a filesystem path, or "\0name" in Linux's abstract namespace.
    path: str = ""
    options: SocketOptions = NO_OPTIONS

    @property
    def is_unix(self) -> bool:
        return self.transport in UNIX_TRANSPORTS

    @property
    def is_datagram(self) -> bool:
        return self.transport in DATAGRAM_TRANSPORTS

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
    def url(self) -> str:
        if self.is_unix:
            return f"{self.transport}://{self.address}"
        query = self.options.query()
        return f"{self.transport}://{self.address}{'?' + query if query else ''}"

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


def check_host(host: str) -> str:
    """Return `host` without IPv6 brackets, or raise EndpointError if it cannot be a host."""
    if host == "[]":
        raise EndpointError("the host is empty")
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
    if _ALL_NUMERIC.match(host) and not _is_ipv4(host):
        # "1.2.3" would reach the resolver, which reads it as 1.2.0.3: almost surely a typo.
        raise EndpointError(f"'{host}' is not a valid IPv4 address")
    return host


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


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
    """Parse `tcp://HOST:PORT`, `udp://HOST:PORT?opts`, `unix:///path`, `unix://@name` or
    `unix-dgram:///path` into an Endpoint; IPv6 hosts go in brackets: `tcp://[::1]:PORT`."""
    scheme, sep, rest = text.strip().partition("://")
    if not sep:
        raise EndpointError(f"'{text}' is not a URL; expected tcp://HOST:PORT")
    transport = scheme.lower()
    if transport not in TRANSPORTS:
        known = ", ".join(f"{t}://" for t in TRANSPORTS)
        raise EndpointError(f"unknown transport '{scheme}://' in '{text}'; known: {known}")
    if transport in UNIX_TRANSPORTS:
        return Endpoint(transport, path=check_unix_path(rest, text))
    rest, _, query = rest.partition("?")
    host, port = split_host_port(rest, text)
    host = check_host(host)
    options = parse_options(query, text, transport, for_listen)
    if options.join and not is_multicast(host):
        raise EndpointError(f"'{text}': join=1 needs a multicast group address as the host")
    return Endpoint(transport, host, check_port(port, allow_zero=for_listen), options=options)


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


_FLAG_VALUES = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def parse_options(
    query: str, original: str, transport: str = "udp", for_listen: bool = True
) -> SocketOptions:
    values: dict[str, object] = {}
    known_names = UDP_OPTIONS if transport == "udp" else TCP_OPTIONS
    for item in filter(None, query.split("&")):
        name, _, value = item.partition("=")
        if name not in known_names and not (transport == "udp" and name == "interface"):
            known = ", ".join(known_names)
            raise EndpointError(
                f"'{original}': unknown option '{name}' for {transport}://; known: {known}"
            )
        name = {
            "iface": "interface",
            "max": "max_connections",
            "halfopen": "half_open",
            "grace": "eof_grace",
        }.get(name, name)
        if name == "max_connections":
            if not for_listen:
                raise EndpointError(f"'{original}': max is for listeners (the most connections)")
            if not value.isascii() or not value.isdigit():
                raise EndpointError(f"'{original}': max takes a number, not '{value}'")
            number = int(value)
            if not 1 <= number <= MAX_CONNECTIONS_LIMIT:
                raise EndpointError(f"'{original}': max must be 1-{MAX_CONNECTIONS_LIMIT:,}")
            values[name] = number
            continue
        if name == "idle":
            values[name] = parse_idle(value, original)
            continue
        if name == "eof_grace":
            values[name] = parse_eof_grace(value, original)
            continue
        if name in ("broadcast", "join", "loop", "half_open", "echo"):
            if value.lower() not in _FLAG_VALUES:
                raise EndpointError(
                    f"'{original}': {_URL_NAMES.get(name, name)} takes 1 or 0, not '{value}'"
                )
            values[name] = _FLAG_VALUES[value.lower()]
        elif name in ("ttl", "rcvbuf"):
            if not value.isascii() or not value.isdigit():
                raise EndpointError(f"'{original}': {name} takes a number, not '{value}'")
            number = int(value)
            if name == "ttl" and not 0 <= number <= 255:
                raise EndpointError(f"'{original}': ttl must be 0-255")
            values[name] = number
        elif name == "interface":
            # An IPv4 address, or for IPv6 an interface name or index (lo, 1).
            values[name] = value if value.isdigit() else (check_host(value) if value else None)
    return SocketOptions(**values)  # type: ignore[arg-type]


def with_stream_options(
    endpoint: Endpoint,
    max_connections: int | None = None,
    idle: float | None = None,
    half_open: bool = False,
    eof_grace: float | None = None,
) -> Endpoint:
    """`endpoint` with a maximum of connections, an idle timeout, half-open and an EOF grace
    where its URL set none: for command-line flags and the dialogs, the only way to give them
    to unix:// endpoints. Datagram endpoints are returned unchanged (they have none)."""
    if endpoint.is_datagram:
        return endpoint
    options = endpoint.options
    return replace(
        endpoint,
        options=replace(
            options,
            max_connections=options.max_connections or max_connections,
            idle=options.idle if options.idle is not None else idle,
            half_open=options.half_open or half_open,
            eof_grace=options.eof_grace if options.eof_grace is not None else eof_grace,
        ),
    )


_SECONDS = re.compile(r"^[0-9]+(\.[0-9]+)?$")


def parse_idle(value: str, original: str = "") -> float:
    """Seconds without traffic after which a connection is closed (idle=30, idle=0.5)."""
    where = f"'{original}': " if original else ""
    if not _SECONDS.match(value):
        raise EndpointError(f"{where}idle takes a number of seconds, not '{value}'")
    seconds = float(value)
    if not 0 < seconds <= MAX_IDLE_SECONDS:
        raise EndpointError(f"{where}idle must be more than 0 and at most {MAX_IDLE_SECONDS:,} s")
    return seconds


def parse_eof_grace(value: str, original: str = "") -> float:
    """Seconds a connection stays open after its peer's EOF (grace=0.5; 0 closes at once)."""
    where = f"'{original}': " if original else ""
    if not _SECONDS.match(value):
        raise EndpointError(f"{where}grace takes a number of seconds, not '{value}'")
    seconds = float(value)
    if seconds > MAX_EOF_GRACE:
        raise EndpointError(f"{where}grace must be at most {MAX_EOF_GRACE:,.0f} s")
    return seconds


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
