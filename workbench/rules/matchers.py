"""What a rule matches: exact bytes, bytes anywhere, a prefix, or an RE2 regular expression
(linear time, whatever a peer sends). Each says what it matched, and a regex its captures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.peer_regex import PatternError, compile_bytes_regex


@dataclass(frozen=True, slots=True)
class Matched:
    whole: bytes
    groups: tuple[bytes | None, ...] = ()
    named: dict[str, bytes | None] | None = None


@dataclass(frozen=True, slots=True)
class Exact:
    value: bytes

    def match(self, data: bytes) -> Matched | None:
        return Matched(data) if data == self.value else None


@dataclass(frozen=True, slots=True)
class Contains:
    value: bytes

    def match(self, data: bytes) -> Matched | None:
        return Matched(self.value) if self.value in data else None


@dataclass(frozen=True, slots=True)
class Prefix:
    value: bytes

    def match(self, data: bytes) -> Matched | None:
        return Matched(self.value) if data.startswith(self.value) else None


class Regex:
    """An RE2 pattern over the bytes: in UTF-8 (`.` is a character), or with `latin1` each
    byte one character (for binary protocols)."""

    __slots__ = ("_compiled", "_named", "groups", "pattern")

    def __init__(self, pattern: str, latin1: bool) -> None:
        self.pattern = pattern
        self._compiled: Any = compile_bytes_regex(pattern, latin1)
        self.groups: int = self._compiled.groups
        self._named = tuple(
            (name.decode("utf-8", "replace") if isinstance(name, bytes) else name, index)
            for name, index in self._compiled.groupindex.items()
        )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self._named)

    def match(self, data: bytes) -> Matched | None:
        found = self._compiled.search(data)
        if found is None:
            return None
        groups = tuple(found.group(i) for i in range(1, self.groups + 1))
        named = {name: groups[index - 1] for name, index in self._named}
        return Matched(found.group(0), groups, named)


Matcher = Exact | Contains | Prefix | Regex

__all__ = ["Contains", "Exact", "Matched", "Matcher", "PatternError", "Prefix", "Regex"]
