"""Small pieces the text protocol framings (RESP, HTTP/1.1) share: a message's bytes held up
to a cap while its whole size is counted, `key=number` parameters read in words, and peer text
made readable for a summary.

A summary holds peer text: it is escaped here so it reads on one line, and the view still
passes it through the project's one sanitizer before showing it.
"""

from __future__ import annotations

from workbench.framing.messages import MAX_MESSAGE_BYTES, FramingError, FramingSpec

# The longest summary a framer makes (longer ones end in "...").
MAX_SUMMARY = 200


class CappedBytes:
    """The bytes of one message: the first `cap` held, all of them counted in `size`."""

    __slots__ = ("cap", "data", "size")

    def __init__(self, cap: int = MAX_MESSAGE_BYTES) -> None:
        self.cap = cap
        self.data = bytearray()
        self.size = 0

    def add(self, chunk: bytes | bytearray | memoryview) -> None:
        self.size += len(chunk)
        room = self.cap - len(self.data)
        if room > 0:
            self.data += chunk[:room]

    def take(self) -> tuple[bytes, int]:
        """The held bytes and the whole size; empty again."""
        data, size = bytes(self.data), self.size
        self.data = bytearray()
        self.size = 0
        return data, size

    def __len__(self) -> int:
        return len(self.data)


def int_options(spec: FramingSpec, limits: dict[str, tuple[int, int, int]]) -> dict[str, int]:
    """`spec`'s `key=number` parameters, each key in `limits` as (lowest, highest, default);
    FramingError, in words, for anything else."""
    values: dict[str, int] = {}
    for param in spec.params:
        key, sep, text = param.partition("=")
        if not sep or key not in limits:
            known = ", ".join(f"{name}=N" for name in limits)
            raise FramingError(f"{spec.name}: unknown parameter {param!r} (known: {known})")
        if key in values:
            raise FramingError(f"{spec.name}: {key}= given twice")
        low, high, _ = limits[key]
        number = int(text) if text.isascii() and text.isdigit() else -1
        if not low <= number <= high:
            raise FramingError(
                f"{spec.name}: {key}= takes a whole number {low:,}-{high:,}, not {text!r}"
            )
        values[key] = number
    return {key: values.get(key, default) for key, (_, _, default) in limits.items()}


_ESCAPES = {0x22: '\\"', 0x5C: "\\\\", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}


def quoted(data: bytes, limit: int = 64) -> str:
    """`data` as one word a person reads: as it is when it is plain printable text without
    spaces or quotes, else in double quotes with escapes (\\" \\n \\xNN); cut to `limit`
    characters with "..."."""
    if data.isalnum() and data.isascii() and len(data) <= limit:  # the common case
        return data.decode("ascii")
    cut = len(data) > limit
    data = data[:limit]
    text = data.decode("utf-8", "surrogateescape")
    plain = text and all(char.isprintable() and char not in ' "\\' for char in text)
    if plain:
        return text + ("..." if cut else "")
    escaped = "".join(
        _ESCAPES.get(ord(char), char) if char.isprintable() else _escape(char) for char in text
    )
    return f'"{escaped}"' + ("..." if cut else "")


def _escape(char: str) -> str:
    code = ord(char)
    if code in _ESCAPES:
        return _ESCAPES[code]
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def line_text(data: bytes, limit: int = MAX_SUMMARY) -> str:
    """A line of peer text (a status line, a simple string) for a summary: control
    characters escaped, cut to `limit` characters with "..."."""
    text = data[: limit * 4].decode("utf-8", "surrogateescape")
    text = "".join(char if char.isprintable() else _escape(char) for char in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def shorten(text: str, limit: int = MAX_SUMMARY) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
