"""Where characters and lines end in bytes of a known encoding: the line feed each encoding
writes, and the start of a character cut off at the end of some bytes."""

from __future__ import annotations

# A line feed as each encoding writes it where it is not the byte 0x0a: lines end there,
# not at any 0x0a byte.
LINE_FEEDS = {"utf-16le": b"\n\x00", "utf-16be": b"\x00\n"}

# UTF-8 leads whose second byte has a narrower range than 0x80-0xbf (RFC 3629): no overlong
# forms, no surrogates, nothing over U+10FFFF.
_UTF8_SECOND = {0xE0: (0xA0, 0xBF), 0xED: (0x80, 0x9F), 0xF0: (0x90, 0xBF), 0xF4: (0x80, 0x8F)}


def line_feed(encoding: str) -> bytes:
    """The bytes that end a line in `encoding`."""
    return LINE_FEEDS.get(encoding, b"\n")


def incomplete_tail(data: bytes, encoding: str) -> int:
    """How many bytes at the end of `data` are the start of a character cut off there: a
    valid beginning of a UTF-8 sequence without its end; in UTF-16 an odd last byte, or a
    high surrogate without its pair (and the odd byte after it). Where `data` was cut from
    more bytes, leaving these out of what is shown keeps valid text from showing as
    `\\xNN` (kept for bytes that are not valid). 0 for bytes invalid whatever follows."""
    if encoding == "utf-8":
        for back in range(1, min(3, len(data)) + 1):
            byte = data[-back]
            if 0x80 <= byte <= 0xBF:
                continue  # a continuation byte: its lead is further back
            if not 0xC2 <= byte <= 0xF4:
                return 0  # ASCII (a whole character) or never valid
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            if back >= need:
                return 0  # the sequence is complete (or too long: invalid anyway)
            if back > 1:  # the second byte's range depends on the lead (RFC 3629)
                low, high = _UTF8_SECOND.get(byte, (0x80, 0xBF))
                if not low <= data[1 - back] <= high:
                    return 0
            return back
        return 0
    if encoding in LINE_FEEDS:  # UTF-16
        odd = len(data) % 2
        unit = data[len(data) - odd - 2 : len(data) - odd]
        if len(unit) == 2:
            high = unit[1] if encoding == "utf-16le" else unit[0]
            if 0xD8 <= high <= 0xDB:
                return odd + 2
        return odd
    return 0  # one byte, one character


def whole_characters(data: bytes, encoding: str) -> bytes:
    """`data` without the character cut off at its end (see `incomplete_tail`)."""
    back = incomplete_tail(data, encoding)
    return data[: len(data) - back] if back else data
