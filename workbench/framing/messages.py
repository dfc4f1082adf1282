"""Messages framed the way protocols frame them: the seam every framing module fills.

A framing is named by a spec (a URL's `?framing=`, a session file's `framing`, the Log's
choice): `name` or `name:param:param...`, for example `delim:\\r\\n`, `len:2:be`,
`len:4:le:incl:max=1048576`, `netstring`, `resp`, `http`. `parse_framing` reads the spec's
shape; the framing's own module reads its parameters (`make_framer`, `encoder`), so a bad
one is refused in words (FramingError) before anything is framed.

Each framing module (workbench/framing/<module>.py, FRAMINGS below) is pure, bytes in and
messages out, and provides:

    def framer(spec: FramingSpec) -> Framer      # one per stream direction
    def encode(spec: FramingSpec, payload: bytes) -> bytes   # the composer's send
    def check(spec: FramingSpec) -> None          # raise FramingError for bad parameters
    def payload(spec: FramingSpec, message: Message) -> bytes   # what a rule matches
    (and, on a framer, optionally pair_with(other): see pair_directions)

A framer never raises on what a peer sends: malformed input becomes a Message with `error`,
and what it holds for an incomplete message is bounded (a length past the maximum is an
error; where the framing cannot find the next message, the rest of the stream comes out in
raw pieces marked unframed: each module's docstring says when).

A message's payload (`payload_of`) is what a person writes a rule against, without the
framing's own bytes: a length-prefixed message's bytes after the prefix, a netstring's
payload, a delimited message's bytes before the delimiter, a RESP command's words joined by
spaces, an HTTP message whole. For a well-formed message, `payload_of(spec, m)` of the one
message `encode(spec, p)` makes is `p` (RESP: for words without spaces or quotes). A message
longer than its record holds (MAX_MESSAGE_BYTES) gives the payload its held bytes hold.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

# The most bytes a message's record holds for the view (the transcript keeps every byte).
MAX_MESSAGE_BYTES = 1024 * 1024


class FramingError(ValueError):
    """A framing spec that cannot be used; `str()` says why, in words."""


@dataclass(frozen=True, slots=True)
class Message:
    """One message as it was on the wire (header included), or a malformed piece."""

    data: bytes  # its bytes (at most MAX_MESSAGE_BYTES of them; `size` is the whole)
    size: int = -1  # its whole size on the wire (-1: len(data))
    summary: str = ""  # what a person wants first: "len 100", "GET /index.html", "+OK"
    error: str = ""  # malformed or cut short: what is wrong ("length 70,000 > max 65,536")
    fields: tuple[tuple[str, str], ...] = ()  # more to show in the detail view

    @property
    def whole_size(self) -> int:
        return len(self.data) if self.size < 0 else self.size


class Framer(Protocol):
    def feed(self, data: bytes) -> list[Message]:
        """The messages `data` completes, oldest first."""
        ...

    def end(self) -> list[Message]:
        """The stream ended: what is held comes out (an incomplete message, with `error`)."""
        ...

    @property
    def held(self) -> int:
        """Bytes held for an incomplete message (bounded)."""
        ...


@dataclass(frozen=True, slots=True)
class FramingSpec:
    name: str
    params: tuple[str, ...] = ()
    text: str = field(default="", compare=False)  # as it was given

    def __str__(self) -> str:
        return self.text or ":".join((self.name, *self.params))


# Framing name -> the module that implements it.
FRAMINGS: dict[str, str] = {
    "delim": "workbench.framing.delimited",
    "len": "workbench.framing.length_prefixed",
    "netstring": "workbench.framing.netstrings",
    "resp": "workbench.framing.resp",
    "http": "workbench.framing.http1",
}


def parse_framing(text: str) -> FramingSpec:
    """`text`'s shape as a FramingSpec, checked by its module; FramingError if it is not one.
    A delimiter may hold `:` escaped as `\\:`."""
    if not text:
        raise FramingError("empty framing (one of: " + ", ".join(FRAMINGS) + ")")
    parts = split_params(text)
    name, params = parts[0], tuple(parts[1:])
    if name not in FRAMINGS:
        raise FramingError(f"unknown framing {name!r} (one of: {', '.join(FRAMINGS)})")
    spec = FramingSpec(name, params, text)
    module_of(spec).check(spec)
    return spec


def split_params(text: str) -> list[str]:
    parts, current, i = [], [], 0
    while i < len(text):
        char = text[i]
        if char == "\\" and text[i + 1 : i + 2] == ":":
            current.append(":")
            i += 2
            continue
        if char == ":":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    return parts


class FramingModule(Protocol):
    def framer(self, spec: FramingSpec) -> Framer: ...
    def encode(self, spec: FramingSpec, payload: bytes) -> bytes: ...
    def check(self, spec: FramingSpec) -> None: ...
    def payload(self, spec: FramingSpec, message: Message) -> bytes: ...


def module_of(spec: FramingSpec) -> FramingModule:
    module: FramingModule = importlib.import_module(FRAMINGS[spec.name])
    return module


def pair_directions(one: Framer, other: Framer) -> None:
    """Tell the framers of a connection's two directions about each other, where their
    framing needs it (HTTP: a response to HEAD has no body, one to CONNECT opens a tunnel)."""
    link = getattr(one, "pair_with", None)
    if callable(link):
        link(other)


def make_framer(spec: FramingSpec) -> Framer:
    return module_of(spec).framer(spec)


def encode(spec: FramingSpec, payload: bytes) -> bytes:
    return module_of(spec).encode(spec, payload)


def payload_of(spec: FramingSpec, message: Message) -> bytes:
    """What a rule matches in `message` (see the module's docstring)."""
    return _payload_function(spec)(message)


@functools.lru_cache(maxsize=64)
def _payload_function(spec: FramingSpec) -> Callable[[Message], bytes]:
    # Found once per spec: rules ask for each message's payload.
    return functools.partial(module_of(spec).payload, spec)
