"""Byte <-> text conversions for sockbench.

`sanitize` is the single gate between bytes from a network peer and the
terminal: whatever a peer sends, its output holds no character a terminal
could interpret (C0/C1 controls, DEL) and none that can silently reorder or
hide text (bidi overrides, zero-width and other format characters, line and
paragraph separators). `parse_escapes` is its inverse for the composer, so
anything shown in the log can be copied back and sent byte-for-byte.
`decode_for_display`/`encode_text` are the same pair for other encodings, and
`parse_hex`/`format_hex`/`hexdump` serve the hex views and hex composer.

Pure functions, standard library only.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable

__all__ = [
    "ENCODINGS",
    "EscapeError",
    "HexError",
    "decode_for_display",
    "encode_text",
    "escape_invisible",
    "format_hex",
    "format_size",
    "hexdump",
    "parse_escapes",
    "parse_hex",
    "sanitize",
    "sanitize_text",
]

# Categories that are never safe to hand to a terminal verbatim:
# Cc controls (C0, DEL, C1), Cf format characters (bidi, zero-width, tags...),
# Zl/Zp line and paragraph separators, and Cs surrogates (only possible in str).
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})

# Unassigned code points that Unicode reserves as Default_Ignorable: a newer
# terminal may already treat them as invisible, so hide-by-escaping them too.
_IGNORABLE_UNASSIGNED = (range(0x2065, 0x2066), range(0xFFF0, 0xFFF9), range(0xE0000, 0xE1000))


def _escape_code_point(cp: int) -> str:
    if cp <= 0x7F:
        return f"\\x{cp:02x}"
    if cp <= 0xFFFF:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


# Bounds the cache of code points already looked up: a peer sending every code point must
# not grow it without end (the unsafe ones are always kept; there are few).
_MAX_CACHED_SAFE = 100_000


class _EscapeTable(dict[int, str]):
    """Code point -> how it is shown, for `str.translate`. Filled as code points are first
    seen, from Python's Unicode database (so new format characters are covered when it is
    updated): scanning the whole code space up front cost about half a second of start-up."""

    def __missing__(self, cp: int) -> str:
        shown = _shown_as(cp)
        if shown != chr(cp) or len(self) < _MAX_CACHED_SAFE:
            self[cp] = shown
        return shown


def _shown_as(cp: int) -> str:
    # The escape character itself is escaped, so "\x1b" typed by a peer stays
    # distinguishable from a real ESC byte. LF and CR get their familiar short forms; TAB
    # stays literal because it is harmless and common in text protocols.
    special = _SPECIAL.get(cp)
    if special is not None:
        return special
    character = chr(cp)
    category = unicodedata.category(character)
    if category in _UNSAFE_CATEGORIES or (
        category == "Cn" and any(cp in block for block in _IGNORABLE_UNASSIGNED)
    ):
        return _escape_code_point(cp)
    return character


_SPECIAL = {0x5C: "\\\\", 0x0A: "\\n", 0x0D: "\\r", 0x09: "\t"}


@functools.cache
def _text_table() -> dict[int, str]:
    """For str from outside: lone surrogates are shown as \\udXXX."""
    return _EscapeTable()


@functools.cache
def _bytes_table() -> dict[int, str]:
    """For bytes: decoding with surrogateescape turns each invalid byte 0xNN into U+DCNN,
    which must be shown as the raw byte \\xNN so parse_escapes restores it."""
    return _EscapeTable({0xDC00 + b: f"\\x{b:02x}" for b in range(0x80, 0x100)})


# Anything outside printable ASCII (minus backslash) plus TAB needs the slow path.
_NEEDS_WORK_BYTES = re.compile(rb"[^\x20-\x5b\x5d-\x7e\t]")
_NEEDS_WORK_TEXT = re.compile(r"[^\x20-\x5b\x5d-\x7e\t]")


def sanitize(data: bytes) -> str:
    """Turn untrusted bytes into text that is safe to write to a terminal.

    Valid UTF-8 is decoded; invalid bytes become ``\\xNN``; backslash becomes
    ``\\\\``; LF/CR become ``\\n``/``\\r``; other C0 controls and DEL become
    ``\\xNN``; C1 controls, format characters and line/paragraph separators
    become ``\\uXXXX`` (or ``\\UXXXXXXXX``). TAB and printable text pass.
    ``parse_escapes(sanitize(data)) == data`` always holds.
    """
    if _NEEDS_WORK_BYTES.search(data) is None:
        return data.decode("ascii")
    return data.decode("utf-8", "surrogateescape").translate(_bytes_table())


def sanitize_text(text: str) -> str:
    """Like `sanitize` for str that came from outside (DNS names, errors).

    Lone surrogates are shown as ``\\udXXX``; everything else follows the
    same rules as `sanitize`.
    """
    if _NEEDS_WORK_TEXT.search(text) is None:
        return text
    return text.translate(_text_table())


# What stays as it is in `escape_invisible`: line breaks (they make the lines), tabs, and the
# backslash (it starts the composer's escapes, typed or pasted).
_KEPT_AS_TYPED = {0x0A: "\n", 0x0D: "\r", 0x09: "\t", 0x5C: "\\"}


def _as_code_point_escape(cp: int) -> str:
    return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"


@functools.cache
def _invisible_table() -> dict[int, str]:
    """For `escape_invisible`: what `sanitize_text` escapes, as code point escapes."""

    class Table(dict[int, str]):
        def __missing__(self, cp: int) -> str:
            shown = _KEPT_AS_TYPED.get(cp)
            if shown is None:
                shown = chr(cp) if _shown_as(cp) == chr(cp) else _as_code_point_escape(cp)
            if shown != chr(cp) or len(self) < _MAX_CACHED_SAFE:
                self[cp] = shown
            return shown

    return Table()


def escape_invisible(text: str) -> str:
    """Text pasted into the composer in text mode, with every character a terminal must not
    be handed (controls, bidi overrides, zero-width and other format characters, line and
    paragraph separators, lone surrogates) written as the composer's escape for it
    (``\\u202e``, ``\\u001b``), so that it can be seen before it is sent. LF and CR (the
    lines), tabs and backslashes stay as they are. ``encode_text`` of the result gives the
    bytes the text itself would, in every encoding."""
    if _NEEDS_WORK_TEXT.search(text) is None:
        return text
    return text.translate(_invisible_table())


class EscapeError(ValueError):
    """A composer escape sequence that cannot be turned into bytes.

    `position` is the 0-based index in the input of the offending backslash
    (or character); the message uses 1-based columns for people.
    """

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


# The code point each short escape names (encoded like any other character).
_SIMPLE_ESCAPES: dict[str, str] = {
    "r": "\r",
    "n": "\n",
    "t": "\t",
    "0": "\x00",
    "\\": "\\",
    "e": "\x1b",
}

# Explicit ASCII classes: int(..., 16) alone would also accept "_", spaces,
# signs and non-ASCII digits.
_HEX2 = re.compile(r"[0-9A-Fa-f]{2}")
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")
_HEX8 = re.compile(r"[0-9A-Fa-f]{8}")
_BRACED = re.compile(r"\{([0-9A-Fa-f]{1,6})\}")


def _encode_code_point(cp: int, escape: str, pos: int) -> bytes:
    col = pos + 1
    if cp > 0x10FFFF:
        raise EscapeError(
            f"{escape} is beyond U+10FFFF, the largest code point, at column {col}", pos
        )
    if 0xD800 <= cp <= 0xDFFF:
        raise EscapeError(
            f"{escape} is a surrogate, which UTF-8 cannot encode; "
            f"use \\xNN for raw bytes, at column {col}",
            pos,
        )
    return chr(cp).encode("utf-8")


def _encode_literal(chunk: str, start: int) -> bytes:
    try:
        return chunk.encode("utf-8")
    except UnicodeEncodeError as exc:
        # A lone surrogate (e.g. from a broken paste) has no UTF-8 form.
        pos = start + exc.start
        raise EscapeError(
            f"character U+{ord(chunk[exc.start]):04X} at column {pos + 1} "
            "cannot be encoded as UTF-8",
            pos,
        ) from None


def parse_escapes(text: str) -> bytes:
    """Convert composer text to bytes.

    The text is UTF-8 encoded, with these escapes: ``\\r \\n \\t \\0 \\e \\\\``,
    ``\\xNN`` (one raw byte), ``\\u{H..HHHHHH}``, ``\\uHHHH`` and
    ``\\UHHHHHHHH`` (a code point, UTF-8 encoded). Anything else after a
    backslash raises `EscapeError`.
    """
    return _parse_composer(text, _encode_literal, _encode_code_point)


def _parse_composer(
    text: str,
    encode_literal: Callable[[str, int], bytes],
    encode_code_point: Callable[[int, str, int], bytes],
) -> bytes:
    # Shared by parse_escapes and encode_text so both accept exactly the same
    # escape syntax; only how characters become bytes differs.
    out = bytearray()
    i = 0
    n = len(text)
    while True:
        j = text.find("\\", i)
        if j < 0:
            out += encode_literal(text[i:], i)
            return bytes(out)
        out += encode_literal(text[i:j], i)
        col = j + 1
        if j + 1 >= n:
            raise EscapeError(
                f"lone backslash at the end (column {col}); use \\\\ for a backslash", j
            )
        kind = text[j + 1]
        simple = _SIMPLE_ESCAPES.get(kind)
        if simple is not None:
            # Always ASCII, so encodable in every supported encoding.
            out += encode_literal(simple, j)
            i = j + 2
        elif kind == "x":
            m = _HEX2.match(text, j + 2)
            if m is None:
                raise EscapeError(f"\\x needs two hex digits (like \\x1b) at column {col}", j)
            out.append(int(m.group(), 16))
            i = m.end()
        elif kind == "u":
            if (m := _BRACED.match(text, j + 2)) is not None:
                cp = int(m.group(1), 16)
                out += encode_code_point(cp, f"\\u{{{m.group(1)}}}", j)
            elif (m := _HEX4.match(text, j + 2)) is not None:
                cp = int(m.group(), 16)
                out += encode_code_point(cp, f"\\u{m.group()}", j)
            else:
                raise EscapeError(
                    "\\u needs four hex digits (like \\u00e9) or one to six in braces "
                    f"(like \\u{{1F600}}) at column {col}",
                    j,
                )
            i = m.end()
        elif kind == "U":
            m = _HEX8.match(text, j + 2)
            if m is None:
                raise EscapeError(
                    f"\\U needs eight hex digits (like \\U0001f600) at column {col}", j
                )
            cp = int(m.group(), 16)
            out += encode_code_point(cp, f"\\U{m.group()}", j)
            i = m.end()
        else:
            shown = sanitize_text(kind)
            raise EscapeError(
                f"unknown escape \\{shown} at column {col}; use \\\\ for a backslash", j
            )


_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def format_size(n: int) -> str:
    """Human-readable byte count: ``0 B``, ``999 B``, ``1.0 KiB``, ``12.3 MiB``."""
    if n < 0:
        return "-" + format_size(-n)
    if n < 1024:
        return f"{n} B"
    value = float(n)
    unit = 0
    # Move up while the one-decimal rendering would reach 1024 (so 1048575
    # shows as "1.0 MiB", not "1024.0 KiB").
    while value >= 1023.95 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    return f"{value:.1f} {_UNITS[unit]}"


# ---------------------------------------------------------------- hex mode


class HexError(ValueError):
    """Hex-mode composer input that is not a sequence of bytes.

    `position` is the 0-based index in the input of the offending character;
    the message uses 1-based columns for people.
    """

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


_HEX_SEPARATORS = re.compile(r"[ \t:,\-]*")
# One group: an optional 0x prefix, then hex digits up to the next separator.
_HEX_GROUP = re.compile(r"(0[xX])?([0-9A-Fa-f]*)")


def _after_separators(text: str, at: int) -> int:
    """Where the run of separators from `at` ends (`at` itself when there is none)."""
    match = _HEX_SEPARATORS.match(text, at)
    assert match is not None  # the pattern can match empty
    return match.end()


def parse_hex(text: str) -> bytes:
    """Convert hex-mode composer text to bytes.

    Accepts ``de ad be ef``, ``deadbeef``, ``de:ad:be:ef``, ``de-ad``,
    ``de,ad``, ``DE AD``, ``0xde 0xad`` and ``0xdeadbeef``: groups of an even
    number of hex digits, each optionally prefixed by ``0x``, separated by runs
    of space, tab, colon, dash or comma. Raises `HexError` otherwise.
    """
    out = bytearray()
    n = len(text)
    i = _after_separators(text, 0)
    while i < n:
        m = _HEX_GROUP.match(text, i)
        assert m is not None  # the pattern can match empty
        digits_start, end = m.start(2), m.end()
        if end < n and _after_separators(text, end) == end:
            # Neither a digit nor a separator: name it (made safe to display).
            raise HexError(
                f"'{sanitize_text(text[end])}' is not a hex digit at column {end + 1}", end
            )
        count = end - digits_start
        if count == 0:
            raise HexError(f"0x must be followed by hex digits (column {i + 1})", i)
        if count % 2:
            # Which digit lacks a partner is ambiguous inside a group, so
            # point at the group's last digit.
            last = end - 1
            if count == 1:
                raise HexError(f"a byte needs two hex digits (column {last + 1})", last)
            raise HexError(
                f"odd number of hex digits: the last byte needs two (column {last + 1})", last
            )
        out += bytes.fromhex(text[digits_start:end])
        i = _after_separators(text, end)
    return bytes(out)


def format_hex(data: bytes) -> str:
    """``de ad be ef``: lowercase, single spaces; `parse_hex` reads it back."""
    return data.hex(" ")


# Printable ASCII stays, everything else (controls, DEL, high bytes) is '.'.
_DUMP_ASCII = bytes(b if 0x20 <= b <= 0x7E else 0x2E for b in range(256))


def hexdump(data: bytes, start_offset: int = 0, width: int = 16) -> list[str]:
    """Lines in the style of ``hexdump -C -v``, without its final offset line.

    ``00000000  48 65 6c 6c 6f 0a 00 ff  41 42 43 44 45 46 47 48  |Hello...ABCDEFGH|``
    An extra space follows every eighth byte; a short last line is padded so
    the ``|`` column lines up. `start_offset` labels the first byte.
    """
    if width < 1:
        raise ValueError(f"width must be at least 1, not {width}")
    if start_offset < 0:
        raise ValueError(f"start_offset must not be negative, not {start_offset}")
    lines = []
    for row in range(0, len(data), width):
        chunk = bytes(data[row : row + width])
        if width == 16:
            # The common case in C: two halves of 8 bytes, ~4x faster than per byte.
            left, right = chunk[:8].hex(" "), chunk[8:].hex(" ")
            cells = f"{left:<23}  {right:<23} "
        else:
            parts = [f"{b:02x} " for b in chunk] + ["   "] * (width - len(chunk))
            for k in range(8, width, 8):
                parts[k - 1] += " "
            cells = "".join(parts)
        text = chunk.translate(_DUMP_ASCII).decode("ascii")
        lines.append(f"{start_offset + row:08x}  {cells} |{text}|")
    return lines


# ---------------------------------------------------------------- encodings

# The names the UI offers, mapped to Python codec names.
_CODECS = {
    "utf-8": "utf-8",
    "latin-1": "latin-1",
    "ascii": "ascii",
    "utf-16le": "utf-16-le",
    "utf-16be": "utf-16-be",
}
ENCODINGS: tuple[str, ...] = tuple(_CODECS)


def _check_encoding(encoding: str) -> str:
    try:
        return _CODECS[encoding]
    except KeyError:
        raise ValueError(
            f"unknown encoding {encoding!r}; choose one of {', '.join(ENCODINGS)}"
        ) from None


@functools.cache
def _utf16_table(big_endian: bool) -> dict[int, str]:
    table = _EscapeTable()
    # In UTF-16 "\x01" typed back would send one raw byte, not the character
    # U+0001 (two bytes), so controls shown as \xNN elsewhere use \u00NN here.
    for cp in (*range(0x20), 0x7F):
        if cp not in (0x09, 0x0A, 0x0D):
            table[cp] = f"\\u{cp:04x}"
    # An unpaired surrogate is not a character: show its two raw bytes.
    for cp in range(0xD800, 0xE000):
        pair = cp.to_bytes(2, "big" if big_endian else "little")
        table[cp] = f"\\x{pair[0]:02x}\\x{pair[1]:02x}"
    return table


def decode_for_display(data: bytes, encoding: str) -> str:
    """Like `sanitize`, but decoding `data` with `encoding` (one of `ENCODINGS`).

    Bytes that are invalid in the encoding are shown as ``\\xNN`` (for UTF-16
    a trailing odd byte, and each unpaired surrogate as the ``\\xNN\\xNN`` of
    its two bytes). In UTF-16 the C0 controls and DEL are shown as ``\\u00NN``
    so that ``encode_text(decode_for_display(b, e), e) == b`` for every
    encoding. Never raises for any data.
    """
    codec = _check_encoding(encoding)
    if encoding == "utf-8":
        return sanitize(data)
    if encoding in ("latin-1", "ascii"):
        if _NEEDS_WORK_BYTES.search(data) is None:
            return bytes(data).decode("ascii")
        if encoding == "latin-1":
            # Every byte is a character (0x80-0x9f are the C1 controls).
            return bytes(data).decode("latin-1").translate(_text_table())
        # surrogateescape maps each byte >= 0x80 to U+DC80..U+DCFF, which the
        # bytes table shows as \xNN, exactly as for invalid UTF-8.
        return bytes(data).decode("ascii", "surrogateescape").translate(_bytes_table())
    even = len(data) - len(data) % 2
    # surrogatepass keeps unpaired surrogates as lone code points (valid
    # pairs still combine) so the table can show them as raw bytes.
    text = bytes(data[:even]).decode(codec, "surrogatepass")
    shown = text.translate(_utf16_table(encoding == "utf-16be"))
    if even < len(data):
        shown += f"\\x{data[-1]:02x}"
    return shown


def encode_text(text: str, encoding: str) -> bytes:
    """Convert composer text to bytes in `encoding` (one of `ENCODINGS`).

    Same escapes as `parse_escapes`: ``\\xNN`` is one raw byte; the code
    points named by the other escapes, and all other characters, are encoded
    with `encoding`. A character the encoding cannot represent raises
    `EscapeError`. For ``"utf-8"`` this is exactly `parse_escapes`.
    """
    codec = _check_encoding(encoding)
    if encoding == "utf-8":
        return parse_escapes(text)

    def encode_literal(chunk: str, start: int) -> bytes:
        try:
            return chunk.encode(codec)
        except UnicodeEncodeError as exc:
            pos = start + exc.start
            shown = sanitize_text(chunk[exc.start])  # may be a lone surrogate
            raise EscapeError(
                f"'{shown}' cannot be sent as {encoding} (column {pos + 1})", pos
            ) from None

    def encode_code_point(cp: int, escape: str, pos: int) -> bytes:
        col = pos + 1
        if cp > 0x10FFFF:
            raise EscapeError(
                f"{escape} is beyond U+10FFFF, the largest code point, at column {col}", pos
            )
        if 0xD800 <= cp <= 0xDFFF:
            raise EscapeError(
                f"{escape} is a surrogate, which cannot be sent as {encoding}; "
                f"use \\xNN for raw bytes (column {col})",
                pos,
            )
        try:
            return chr(cp).encode(codec)
        except UnicodeEncodeError:
            message = f"{escape} cannot be sent as {encoding} (column {col})"
            raise EscapeError(message, pos) from None

    return _parse_composer(text, encode_literal, encode_code_point)
