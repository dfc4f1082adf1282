"""Hosts as users write them, and the error for what sockbench cannot use.

Shared by the endpoint URLs and their options (a multicast interface is a host too)."""

from __future__ import annotations

import ipaddress
import re

# A host name per RFC 1123 labels; IP literals are checked separately.
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?$"
)
_ALL_NUMERIC = re.compile(r"^[0-9.]+$")


class EndpointError(ValueError):
    """A URL or address the user gave that sockbench cannot use; the message says why."""


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


# A connection accepted with the PROXY protocol (?proxy=1) shows the client its header names,
# via the socket's own peer: "203.0.113.7:51234 via 127.0.0.1:40000"; a LOCAL or UNKNOWN
# header the socket's peer and what it said: "127.0.0.1:40000 (PROXY LOCAL)".
PROXIED_VIA = " via "
PROXY_SAID = " (PROXY "


def socket_peer(remote: str) -> str:
    """The socket's own peer in a remote as events and records show it."""
    if PROXIED_VIA in remote:
        return remote.rsplit(PROXIED_VIA, 1)[1]
    return remote.split(PROXY_SAID, 1)[0]
