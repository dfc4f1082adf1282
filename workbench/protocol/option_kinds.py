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


Kind = (
    Flag
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
