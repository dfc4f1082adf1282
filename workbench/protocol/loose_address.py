"""Addresses as people type or paste them: `9000`, `:9000`, `host:9000`, `[::1]:9000`,
`host 9000`, a path for the Unix transports, or a whole URL.

The command line's nc forms and the Listen, Connect and Send to dialogs read addresses with
these functions, so they take the same words and refuse them with the same errors, which quote
what the user typed (never a URL built behind their back). Pure functions, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass

from workbench.protocol.addresses import EndpointError
from workbench.protocol.endpoints import (
    DEFAULT_HOST,
    Endpoint,
    check_unix_path,
    inet_endpoint,
    parse_url,
    split_host_port,
)
from workbench.protocol.enums import Transport

INET_FORMS = "PORT, HOST:PORT, HOST PORT or a URL"
UNIX_FORMS = "/path, @name or a URL"
_PORT_ONLY = re.compile(r"^[0-9]+$")


@dataclass(frozen=True, slots=True)
class LooseAddress:
    """A TCP or UDP address as typed, split but not yet checked."""

    host: str | None  # None: only a port was given
    port: str
    query: str = ""

    def endpoint(
        self, transport: Transport, *, typed: str, for_listen: bool, default_host: str
    ) -> Endpoint:
        host = default_host if self.host is None else self.host
        return inet_endpoint(
            transport, host, self.port, self.query, typed=typed, for_listen=for_listen
        )


def split_address(text: str) -> LooseAddress:
    """`PORT`, `:PORT`, `HOST:PORT`, `[IPV6]:PORT` or `HOST PORT`, with options after `?`
    (`9000?idle=30`), split into its parts."""
    typed = text.strip()
    rest, _, query = typed.partition("?")
    words = rest.split()
    if len(words) == 2 and _PORT_ONLY.match(words[1]):
        return LooseAddress(words[0], words[1], query)
    if len(words) != 1:
        raise EndpointError(f"'{typed}' is not an address; expected {INET_FORMS}")
    (word,) = words
    if word.startswith("["):
        host, port = split_host_port(word, typed)
        return LooseAddress(host, port, query)
    if _PORT_ONLY.match(word):
        return LooseAddress(None, word, query)
    host, sep, port = word.rpartition(":")
    if ":" in host:
        raise EndpointError(f"'{typed}': put an IPv6 address in brackets, like [::1]:9000")
    if not sep or not port:
        raise EndpointError(f"'{typed}' has no port; expected {INET_FORMS}")
    return LooseAddress(host or None, port, query)


def parse_address(
    text: str, transport: Transport, *, for_listen: bool, default_host: str = DEFAULT_HOST
) -> Endpoint:
    """The endpoint `text` names: a whole URL decides its own transport; anything else is an
    address of `transport` (a path for the Unix ones), on `default_host` when it has only a
    port."""
    typed = text.strip()
    if not typed:
        forms = UNIX_FORMS if transport.is_unix else INET_FORMS
        raise EndpointError(f"the address is empty; expected {forms}")
    if "://" in typed:
        return parse_url(typed, for_listen=for_listen)
    if transport.is_unix:
        return Endpoint(transport, path=check_unix_path(typed, typed))
    return split_address(typed).endpoint(
        transport, typed=typed, for_listen=for_listen, default_host=default_host
    )
