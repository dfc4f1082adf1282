"""Reply templates: text with the composer's escapes and `{fields}`, parsed once when the
rules file is loaded (a bad template refuses the file) and rendered to bytes per reply.

Fields: `{0}` the matched bytes, `{1}`.. and `{name}` a regex's captures, `{data}` the whole
read or line, `{peer}`, `{conn}`, `{counter}` (this rule's matches on this connection, from
1), `{time}` (ISO-8601, local), `{unixtime}`, `{random:N}` (N random bytes), `{hex:41 42}`
(bytes); `{{` and `}}` are literal braces. Captures and data go in as the peer sent them;
the rest is text in the rules file's encoding.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

from workbench.codec import EscapeError, HexError, encode_text, parse_hex

# The most random bytes one `{random:N}` makes.
MAX_RANDOM_BYTES = 4096

# Fields that name what a reply is about rather than a capture: a regex group may not take
# one of these names.
FIELDS = ("data", "peer", "conn", "counter", "time", "unixtime")


class TemplateError(ValueError):
    """A template that cannot be rendered; `str()` says why."""


@dataclass(frozen=True, slots=True)
class Facts:
    """What a reply may say: the match and the connection."""

    whole: bytes  # {0}
    groups: Sequence[bytes | None]  # {1}, {2}...: None for a group that did not take part
    named: dict[str, bytes | None]
    data: bytes
    peer: str
    conn: str
    counter: int


# A template is a tuple of parts: bytes as they are, or a field to fill in.
@dataclass(frozen=True, slots=True)
class Field:
    name: str  # a FIELDS name, a capture's number or name, or "random"
    size: int = 0  # {random:N}'s N


Part = bytes | Field


@dataclass(frozen=True, slots=True)
class Template:
    parts: tuple[Part, ...]
    encoding: str

    def render(self, facts: Facts) -> bytes:
        return b"".join(
            part if isinstance(part, bytes) else self._field(part, facts) for part in self.parts
        )

    def _field(self, part: Field, facts: Facts) -> bytes:
        name = part.name
        if name == "random":
            return os.urandom(part.size)
        if name.isdigit():
            index = int(name)
            return facts.whole if index == 0 else facts.groups[index - 1] or b""
        if name in facts.named:
            return facts.named[name] or b""
        if name == "data":
            return facts.data
        return self._text(name, facts).encode(codec_name(self.encoding), "replace")

    @staticmethod
    def _text(name: str, facts: Facts) -> str:
        if name == "peer":
            return facts.peer
        if name == "conn":
            return facts.conn
        if name == "counter":
            return str(facts.counter)
        if name == "time":
            return datetime.datetime.now().astimezone().isoformat(timespec="milliseconds")
        return str(int(time.time()))  # unixtime


def codec_name(encoding: str) -> str:
    """Python's name for one of the codec's ENCODINGS."""
    return {"utf-16le": "utf-16-le", "utf-16be": "utf-16-be"}.get(encoding, encoding)


def parse_template(
    text: str, encoding: str, groups: int = 0, names: Sequence[str] = ()
) -> Template:
    """`text` as a Template; `groups` and `names`: the captures the rule's regex has.
    Raises TemplateError naming the column."""
    parts: list[Part] = []
    literal: list[str] = []
    start = 0  # where the current literal began, for its errors' columns

    def flush() -> None:
        if literal:
            try:
                parts.append(encode_text("".join(literal), encoding))
            except EscapeError as exc:
                raise TemplateError(_at_column(str(exc), start)) from None
            literal.clear()

    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "\\":
            end = _escape_end(text, i)
            if not literal:
                start = i
            literal.append(text[i:end])
            i = end
        elif text.startswith("{{", i) or text.startswith("}}", i):
            if not literal:
                start = i
            literal.append(char)
            i += 2
        elif char == "{":
            close = text.find("}", i)
            if close < 0:
                raise TemplateError(f"'{{' at column {i + 1} is not closed (a brace: {{{{)")
            flush()
            parts.append(_field_of(text[i + 1 : close], i, groups, names))
            i = close + 1
        elif char == "}":
            raise TemplateError(f"'}}' at column {i + 1} closes nothing (a brace: }}}})")
        else:
            if not literal:
                start = i
            literal.append(char)
            i += 1
    flush()
    merged: list[Part] = []
    for part in parts:
        if isinstance(part, bytes) and merged and isinstance(merged[-1], bytes):
            merged[-1] += part
        else:
            merged.append(part)
    return Template(tuple(merged), encoding)


def _escape_end(text: str, i: int) -> int:
    """Where the escape at `i` ends: `\\u{...}` holds braces that are not a field's."""
    if text.startswith("\\u{", i):
        close = text.find("}", i)
        return close + 1 if close >= 0 else len(text)
    return min(i + 2, len(text))


def _at_column(message: str, offset: int) -> str:
    """The codec's message, its column counted from the template's start."""
    head, sep, tail = message.rpartition("column ")
    digits = "".join(c for c in tail if c.isdigit())
    if not sep or not digits:
        return message
    return f"{head}column {int(digits) + offset}{tail[len(digits) :]}"


def _field_of(inside: str, at: int, groups: int, names: Sequence[str]) -> Part:
    column = f"at column {at + 1}"
    name, colon, argument = inside.partition(":")
    if name == "hex" and colon:
        try:
            return parse_hex(argument)
        except HexError as exc:
            raise TemplateError(f"{{hex:...}} {column}: {exc}") from None
    if name == "random" and colon:
        if not argument.isascii() or not argument.isdigit():
            raise TemplateError(f"{{random:N}} {column} takes a number of bytes")
        size = int(argument)
        if not 1 <= size <= MAX_RANDOM_BYTES:
            raise TemplateError(f"{{random:N}} {column}: N must be 1-{MAX_RANDOM_BYTES:,}")
        return Field("random", size)
    if inside.isascii() and inside.isdigit():
        if int(inside) > groups:
            has = f"has {groups} group{'s' if groups != 1 else ''}" if groups else "has none"
            raise TemplateError(f"{{{inside}}} {column}: no such capture (the regex {has})")
        return Field(str(int(inside)))
    if inside in FIELDS or inside in names:
        return Field(inside)
    known = ", ".join(f"{{{f}}}" for f in (*FIELDS, *names))
    shown = inside.encode("unicode_escape").decode("ascii")
    raise TemplateError(
        f"unknown field {{{shown}}} {column}; known: {{0}}, {{1}}.., {known}, {{random:N}}, "
        "{hex:..}"
    )
