"""Byte <-> text conversions for sockbench.

`sanitize` is the single gate between bytes from a network peer and the
terminal: whatever a peer sends, its output holds no character a terminal
could interpret (C0/C1 controls, DEL) and none that can silently reorder or
hide text (bidi overrides, zero-width and other format characters, line and
paragraph separators). `parse_escapes` is its inverse for the composer, so
anything shown in the log can be copied back and sent byte-for-byte.

Pure functions, standard library only.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata

__all__ = [
    "EscapeError",
    "format_size",
    "parse_escapes",
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


def _build_text_table() -> dict[int, str]:
    # Derived from unicodedata over the whole code space rather than a hand
    # list, so new format characters are covered when Python's Unicode
    # database is updated.
    category = unicodedata.category
    table = {
        cp: _escape_code_point(cp)
        for cp in range(sys.maxunicode + 1)
        if category(chr(cp)) in _UNSAFE_CATEGORIES
    }
    for block in _IGNORABLE_UNASSIGNED:
        for cp in block:
            if category(chr(cp)) == "Cn":
                table[cp] = _escape_code_point(cp)
    # Escape the escape character itself so "\x1b" typed by a peer stays
    # distinguishable from a real ESC byte.
    table[0x5C] = "\\\\"
    # LF and CR get their familiar short forms; TAB stays literal because it
    # is harmless and common in text protocols.
    table[0x0A] = "\\n"
    table[0x0D] = "\\r"
    del table[0x09]
    return table


@functools.cache
def _text_table() -> dict[int, str]:
    """For str from outside: lone surrogates are shown as \\udXXX. Built on first use: the
    scan of the code space takes ~0.1 s, which start-up should not pay."""
    return _build_text_table()


@functools.cache
def _bytes_table() -> dict[int, str]:
    """For bytes: decoding with surrogateescape turns each invalid byte 0xNN into U+DCNN,
    which must be shown as the raw byte \\xNN so parse_escapes restores it."""
    return {**_text_table(), **{0xDC00 + b: f"\\x{b:02x}" for b in range(0x80, 0x100)}}


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


class EscapeError(ValueError):
    """A composer escape sequence that cannot be turned into bytes.

    `position` is the 0-based index in the input of the offending backslash
    (or character); the message uses 1-based columns for people.
    """

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


_SIMPLE_ESCAPES: dict[str, bytes] = {
    "r": b"\r",
    "n": b"\n",
    "t": b"\t",
    "0": b"\x00",
    "\\": b"\\",
    "e": b"\x1b",
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
    out = bytearray()
    i = 0
    n = len(text)
    while True:
        j = text.find("\\", i)
        if j < 0:
            out += _encode_literal(text[i:], i)
            return bytes(out)
        out += _encode_literal(text[i:j], i)
        col = j + 1
        if j + 1 >= n:
            raise EscapeError(
                f"lone backslash at the end (column {col}); use \\\\ for a backslash", j
            )
        kind = text[j + 1]
        simple = _SIMPLE_ESCAPES.get(kind)
        if simple is not None:
            out += simple
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
                out += _encode_code_point(cp, f"\\u{{{m.group(1)}}}", j)
            elif (m := _HEX4.match(text, j + 2)) is not None:
                cp = int(m.group(), 16)
                out += _encode_code_point(cp, f"\\u{m.group()}", j)
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
            out += _encode_code_point(cp, f"\\U{m.group()}", j)
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
