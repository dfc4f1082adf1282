"""The kinds of value an endpoint option takes (`workbench.protocol.options` declares the
options): each parses text and refuses it in words that do not quote the URL."""

from __future__ import annotations

import re
from typing import NamedTuple

from workbench.protocol.addresses import EndpointError, check_host
from workbench.protocol.peer_filter import normalized

_FLAG_VALUES = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
_SECONDS = re.compile(r"^[0-9]+(\.[0-9]+)?$")

# --- what an option's value is: each kind parses text and refuses it in words ---
# (The declarations are named tuples: this module is loaded before the first screen, and a
# frozen dataclass costs about four times as much to define.)


class Flag(NamedTuple):
    metavar: str = "1"

    def parse(self, name: str, text: str) -> bool:
        if text.lower() not in _FLAG_VALUES:
            raise EndpointError(f"{name} takes 1 or 0, not '{text}'")
        return _FLAG_VALUES[text.lower()]


class Integer(NamedTuple):
    bounds: tuple[int, int] | None = None  # the lowest and the highest, where there are
    metavar: str = "N"

    def parse(self, name: str, text: str) -> int:
        # int() would also take "+5", "5_0" and non-ASCII digits.
        if not text.isascii() or not text.isdigit():
            raise EndpointError(f"{name} takes a number, not '{text}'")
        number = int(text)
        if self.bounds is not None and not self.bounds[0] <= number <= self.bounds[1]:
            low, high = self.bounds
            raise EndpointError(f"{name} must be {low}-{high:,}")
        return number


class Seconds(NamedTuple):
    high: float
    above_zero: bool = False  # 0 is refused (an idle timeout of 0 would close at once)
    metavar: str = "SECONDS"

    def parse(self, name: str, text: str) -> float:
        if not _SECONDS.match(text):
            raise EndpointError(f"{name} takes a number of seconds, not '{text}'")
        seconds = float(text)
        if self.above_zero and not 0 < seconds <= self.high:
            raise EndpointError(f"{name} must be more than 0 and at most {self.high:,g} s")
        if seconds > self.high:
            raise EndpointError(f"{name} must be at most {self.high:,g} s")
        return seconds


class Interface(NamedTuple):
    """A local IPv4 address, or for IPv6 an interface name or index (lo, 1)."""

    metavar: str = "ADDR"

    def parse(self, name: str, text: str) -> str | None:
        if text.isdigit():
            return text
        return check_host(text) if text else None


class Text(NamedTuple):
    """Text as the composer takes it (its escapes are checked where the composer's parser is:
    `workbench.behaviour_options`); empty is none."""

    metavar: str = "TEXT"

    def parse(self, name: str, text: str) -> str | None:
        return text or None


class PeerList(NamedTuple):
    """Addresses, networks (CIDR) and `uid:N`, comma-separated: who a listener takes."""

    metavar: str = "LIST"

    def parse(self, name: str, text: str) -> str | None:
        return normalized(name, text)


class OnOff(NamedTuple):
    """1 or 0 where the default is on: the flag takes the value too (`--verify 0`)."""

    metavar: str = "1|0"

    def parse(self, name: str, text: str) -> bool:
        return Flag().parse(name, text)


class Choice(NamedTuple):
    """One of a few words (`client-cert=optional|require`, `min=1.2`)."""

    values: tuple[str, ...]
    metavar: str

    def parse(self, name: str, text: str) -> str:
        if text not in self.values:
            raise EndpointError(f"{name} takes {' or '.join(self.values)}, not '{text}'")
        return text


class Fingerprint(NamedTuple):
    """A certificate's SHA-256 fingerprint, hex, colons optional; kept as OpenSSL shows it."""

    metavar: str = "SHA256"

    def parse(self, name: str, text: str) -> str | None:
        digits = text.replace(":", "").upper()
        if not text:
            return None
        if len(digits) != 64 or not all(c in "0123456789ABCDEF" for c in digits):
            raise EndpointError(f"{name} takes a SHA-256 fingerprint (64 hex digits), not '{text}'")
        return ":".join(digits[i : i + 2] for i in range(0, 64, 2))


class ServerName(NamedTuple):
    """The name a TLS client sends (SNI); empty sends none."""

    metavar: str = "NAME"

    def parse(self, name: str, text: str) -> str:
        if text and (not text.isascii() or any(c in text for c in " /\\:")):
            raise EndpointError(f"{name} takes a host name, not '{text}'")
        return text


class ProtocolList(NamedTuple):
    """ALPN protocol names, comma-separated, in order of preference."""

    metavar: str = "LIST"

    def parse(self, name: str, text: str) -> str | None:
        names = [item.strip() for item in text.split(",") if item.strip()]
        for item in names:
            if not item.isascii() or len(item) > 255:
                raise EndpointError(f"{name}: '{item}' is not a protocol name (ASCII, 1-255)")
        return ",".join(names) or None


# The framings' names (workbench.framing.messages.FRAMINGS: a test keeps them the same) and
# the shape of their parameters. The protocol is a leaf and cannot ask the framings
# themselves; where a framing is used, workbench.framing checks the values in full.
FRAMING_NAMES = ("delim", "len", "netstring", "resp", "http")
FRAMING_EXAMPLES = "delim:\\r\\n, len:2:be[:incl][:max=N], netstring, resp, http"
_MAX_PARAM = re.compile(r"^max=[0-9]+$")


class FramingText(NamedTuple):
    """How a stream's messages are framed (`len:2:be`, `delim:\\0`, `netstring`): its shape
    checked here, kept as text."""

    metavar: str = "SPEC"

    def parse(self, name: str, text: str) -> str | None:
        if not text:
            return None
        framing, *params = _framing_parts(text)
        if framing not in FRAMING_NAMES:
            raise EndpointError(f"{name}: unknown framing '{framing}' (one of: {FRAMING_EXAMPLES})")
        problem = _framing_problem(framing, params)
        if problem:
            raise EndpointError(f"{name}: {problem}")
        return text


def _framing_parts(text: str) -> list[str]:
    """`text` split at its colons, `\\:` being a colon of a delimiter (as
    workbench.framing.messages.split_params splits it)."""
    parts, current, at = [], "", 0
    while at < len(text):
        if text[at : at + 2] == "\\:":
            current += ":"
            at += 2
            continue
        if text[at] == ":":
            parts.append(current)
            current = ""
        else:
            current += text[at]
        at += 1
    return [*parts, current]


def _framing_problem(framing: str, params: list[str]) -> str:
    """What is wrong with the shape of `framing`'s parameters ("" if nothing)."""
    if framing == "delim":
        if not params or not params[0]:
            return "say the delimiter (delim:\\r\\n, delim:\\0)"
        extra = params[1:]
    elif framing == "len":
        if not params or params[0] not in ("1", "2", "4", "8"):
            return "len: the prefix's width is 1, 2, 4 or 8 (len:2:be)"
        extra = [param for param in params[1:] if param not in ("be", "le", "incl")]
    elif framing == "netstring":
        extra = params
    else:
        return ""  # their parameters are checked where they are used
    for param in extra:
        if not _MAX_PARAM.match(param):
            return f"{framing}: unknown parameter '{param}'"
    return ""


Kind = (
    FramingText
    | Flag
    | Integer
    | Seconds
    | Interface
    | Text
    | PeerList
    | OnOff
    | Choice
    | Fingerprint
    | ServerName
    | ProtocolList
)
