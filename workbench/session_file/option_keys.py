"""Endpoint options as a session file's keys: `echo = true`, `greet = "hi\\r\\n"`,
`max = 50`, named as in URLs and parsed by each option's own parser, so that a bad value is
refused in the same words as in a URL. Unix endpoints take their options only this way."""

from __future__ import annotations

import os
from dataclasses import replace
from decimal import Decimal
from typing import Any

from workbench.protocol.addresses import EndpointError
from workbench.protocol.endpoints import TLS_SCHEME, Endpoint
from workbench.protocol.enums import Transport
from workbench.protocol.option_kinds import Choice, Flag, Integer, Interface, OnOff, Seconds
from workbench.protocol.options import (
    OPTIONS,
    Option,
    OptionValue,
    SocketOptions,
    fitting,
    percent_decoded,
)
from workbench.session_file.values import kind_of

# Options that name a file: a relative path is the session file's directory's.
FILE_FIELDS = ("rules", "tls_cert", "tls_key", "tls_ca", "tls_keylog", "replay")


def option_names(transport: str, for_listen: bool) -> list[str]:
    """The option keys an endpoint of `transport` in its role takes, for the errors."""
    names = [option.url_name for option in OPTIONS if option.takes(transport, for_listen)]
    return list(dict.fromkeys(names))


def is_option_key(key: str) -> bool:
    return any(key == option.url_name or key in option.aliases for option in OPTIONS)


def option_value(key: str, value: object, transport: str, for_listen: bool) -> tuple[str, Any]:
    """The SocketOptions field and value that `key = value` sets; EndpointError in words."""
    candidates = [o for o in OPTIONS if key == o.url_name or key in o.aliases]
    typed = [(o, text) for o in candidates if (text := _as_text(o, value)) is not None]
    if not typed:
        raise EndpointError(f"{key} takes {_wanted(candidates[0])}, not {kind_of(value)}")
    option, text = typed[0]
    for other, other_text in typed:  # the one whose kind takes the value (max=50, max="1.3")
        try:
            other.parse(other_text)
        except EndpointError:
            continue
        option, text = other, other_text
        break
    if transport not in option.transports:
        takers = ", ".join(f"{t}://" for t in Transport if t in option.transports)
        raise EndpointError(f"{key} is for {takers} endpoints, not {transport}://")
    if not option.takes_role(for_listen):
        raise EndpointError(
            f"{key} is for "
            + (
                f"connections ({option.connections_only})"
                if for_listen
                else f"listeners ({option.listeners_only})"
            )
        )
    return option.field, option.parse(text)


def url_fields(url: str, endpoint: Endpoint) -> set[str]:
    """The fields `url` sets itself (in its query, or tls by its tls:// scheme)."""
    fields = {"tls"} if url.strip().lower().startswith(f"{TLS_SCHEME}://") else set()
    if endpoint.is_unix:
        return fields
    query = url.partition("?")[2]
    for item in filter(None, query.split("&")):
        name, _, text = item.partition("=")
        candidates = [
            o
            for o in OPTIONS
            if (name == o.url_name or name in o.aliases) and endpoint.transport in o.transports
        ]
        chosen = fitting(candidates, percent_decoded(text))
        if chosen is not None:
            fields.add(chosen.field)
    return fields


def key_values(options: SocketOptions, transport: str) -> dict[str, OptionValue]:
    """The options set (not at their defaults), as a session file's keys with TOML values."""
    values: dict[str, OptionValue] = {}
    for option in OPTIONS:
        value = getattr(options, option.field)
        if transport in option.transports and value != option.default:
            values[option.url_name] = value
    return values


def with_files_from(options: SocketOptions, directory: str) -> SocketOptions:
    """`options` with relative file paths made `directory`'s (absolute)."""
    changes: dict[str, Any] = {
        name: os.path.normpath(os.path.join(directory, value))
        for name in FILE_FIELDS
        if isinstance(value := getattr(options, name), str) and not os.path.isabs(value)
    }
    return replace(options, **changes) if changes else options


def _as_text(option: Option, value: object) -> str | None:
    """`value` as the text a URL would give the option, or None if its TOML type does not
    fit the option (a flag takes true or false, a number of connections a whole number)."""
    kind = option.kind
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(kind, Flag | OnOff):
        return ("1" if value else "0") if isinstance(value, bool) else None
    if isinstance(kind, Integer):
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(kind, Seconds):
        return _number_text(value) if is_number else None
    if isinstance(kind, Interface | Choice) and is_number:
        return _number_text(value)
    return value if isinstance(value, str) else None


def _number_text(value: Any) -> str:
    """A number as written out (`0.00001`, never `1e-05`)."""
    if isinstance(value, int):
        return str(value)
    try:
        return format(Decimal(repr(value)), "f")
    except ArithmeticError:  # inf, nan
        return repr(value)


def _wanted(option: Option) -> str:
    kind = option.kind
    if isinstance(kind, Flag | OnOff):
        return "true or false"
    if isinstance(kind, Integer):
        return "a whole number"
    if isinstance(kind, Seconds):
        return "a number of seconds"
    if isinstance(kind, Choice):
        return " or ".join(f'"{value}"' for value in kind.values)
    return "text"
