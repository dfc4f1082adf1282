"""Tests for workbench.codec's hex mode and text encodings."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from workbench.codec import (
    ENCODINGS,
    EscapeError,
    HexError,
    decode_for_display,
    encode_text,
    format_hex,
    hexdump,
    parse_escapes,
    parse_hex,
    sanitize,
)

HEXDUMP = Path("/usr/bin/hexdump")


def assert_terminal_safe(out: str) -> None:
    # Same property as tests/test_codec.py checks for sanitize.
    for ch in out:
        if ch == "\t":
            continue
        cp = ord(ch)
        assert cp >= 0x20, f"C0 control {cp:#x} leaked"
        assert cp != 0x7F, "DEL leaked"
        assert not 0x80 <= cp <= 0x9F, f"C1 control {cp:#x} leaked"
        cat = unicodedata.category(ch)
        assert cat not in {"Cc", "Cf", "Zl", "Zp", "Cs"}, f"{cat} {cp:#x} leaked"


# ---------------------------------------------------------------- strategies

_unsafe_chars = st.characters(categories=["Cc", "Cf", "Zl", "Zp"])
# UTF-16 code units with surrogates and awkward characters over-represented,
# since random bytes rarely form (un)paired surrogates.
_code_units = st.lists(
    st.one_of(
        st.integers(0, 0xFFFF),
        st.integers(0xD800, 0xDFFF),
        st.sampled_from([0x00, 0x0A, 0x0D, 0x1B, 0x5C, 0x7F, 0x85, 0xAD, 0x202E, 0xFEFF]),
    )
)


def _utf16(order: str) -> st.SearchStrategy[bytes]:
    units = _code_units.map(lambda us: b"".join(u.to_bytes(2, order) for u in us))
    return st.tuples(units, st.binary(max_size=1)).map(b"".join)  # maybe an odd byte


any_bytes = st.one_of(
    st.binary(),
    st.lists(st.one_of(st.binary(max_size=3), st.text(alphabet=_unsafe_chars).map(str.encode))).map(
        b"".join
    ),
    _utf16("little"),
    _utf16("big"),
)

# Composer text: escape fragments mixed with arbitrary characters so that
# valid, invalid and unencodable escapes all turn up.
composer_text = st.lists(
    st.one_of(
        st.sampled_from(
            ["\\", "\\x", "\\u", "\\U", "\\u{", "}", "0", "00", "d8", "e9", "ff", "1f600", "10"]
        ),
        st.sampled_from(["\\r", "\\n", "\\t", "\\0", "\\e", "\\\\", "\\q", "g"]),
        st.characters(exclude_categories=()),
        st.characters(categories=["Cs"]),
        st.characters(max_codepoint=0x2FF),
    )
).map("".join)


# ---------------------------------------------------------------- parse_hex


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("de ad be ef", b"\xde\xad\xbe\xef"),
        ("deadbeef", b"\xde\xad\xbe\xef"),
        ("de:ad:be:ef", b"\xde\xad\xbe\xef"),
        ("de-ad-be-ef", b"\xde\xad\xbe\xef"),
        ("de,ad,be,ef", b"\xde\xad\xbe\xef"),
        ("de, ad,\tbe  ef", b"\xde\xad\xbe\xef"),
        ("DE AD", b"\xde\xad"),
        ("De aD", b"\xde\xad"),
        ("0xde 0xad", b"\xde\xad"),
        ("0XDE,0Xad", b"\xde\xad"),
        ("0xdeadbeef", b"\xde\xad\xbe\xef"),
        ("0xdead beef", b"\xde\xad\xbe\xef"),
        ("00 0x00 0000", b"\x00" * 4),
        ("  de ad  ", b"\xde\xad"),
        (":de:", b"\xde"),
        ("", b""),
        (" \t:-, ", b""),
    ],
)
def test_parse_hex_cases(text: str, expected: bytes) -> None:
    assert parse_hex(text) == expected


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("de:g0", 3, "'g' is not a hex digit at column 4"),
        ("0xdeadbee", 8, "odd number of hex digits: the last byte needs two (column 9)"),
        ("de adb", 5, "odd number of hex digits: the last byte needs two (column 6)"),
        ("d e", 0, "a byte needs two hex digits (column 1)"),
        ("de ad b", 6, "a byte needs two hex digits (column 7)"),
        ("0", 0, "a byte needs two hex digits (column 1)"),
        ("0x", 0, "0x must be followed by hex digits (column 1)"),
        ("de 0x ad", 3, "0x must be followed by hex digits (column 4)"),
        ("0xg", 2, "'g' is not a hex digit at column 3"),
        ("0x0x12", 3, "'x' is not a hex digit at column 4"),  # a prefix starts a group only
        ("de0xad", 3, "'x' is not a hex digit at column 4"),
        ("de_ad", 2, "'_' is not a hex digit at column 3"),
        ("de.ad", 2, "'.' is not a hex digit at column 3"),
        ("\\xde", 0, "'\\\\' is not a hex digit at column 1"),
        ("de\nad", 2, "'\\n' is not a hex digit at column 3"),
        ("de\x1b[2J", 2, "'\\x1b' is not a hex digit at column 3"),
        ("de\u202e", 2, "'\\u202e' is not a hex digit at column 3"),
        ("\u0661\u0662", 0, "'\u0661' is not a hex digit at column 1"),  # Arabic-Indic digits
        ("\uff41\uff42", 0, "'\uff41' is not a hex digit at column 1"),  # fullwidth a
        ("de g", 3, "'g' is not a hex digit at column 4"),  # bad character beats odd count
    ],
)
def test_parse_hex_errors(text: str, position: int, message: str) -> None:
    with pytest.raises(HexError) as info:
        parse_hex(text)
    assert isinstance(info.value, ValueError)
    assert info.value.position == position
    assert str(info.value) == message
    assert_terminal_safe(str(info.value))


@given(st.binary())
def test_parse_hex_inverts_format_hex(data: bytes) -> None:
    assert parse_hex(format_hex(data)) == data


@given(
    st.binary(min_size=1),
    st.sampled_from([" ", ":", "-", ",", "\t", ", ", ""]),
    st.booleans(),
    st.booleans(),
)
def test_parse_hex_accepts_every_layout(data: bytes, sep: str, upper: bool, prefix: bool) -> None:
    pairs = [f"{b:02X}" if upper else f"{b:02x}" for b in data]
    if prefix:
        pairs = ["0x" + p for p in pairs] if sep else ["0x" + "".join(pairs)]
    assert parse_hex(sep.join(pairs)) == data


@given(st.text(alphabet=st.sampled_from("0123456789abcdefABxX :-,\t\ng\u0661")) | st.text())
def test_parse_hex_only_raises_hex_error(text: str) -> None:
    try:
        parse_hex(text)
    except HexError as exc:
        assert 0 <= exc.position < len(text)
        assert f"column {exc.position + 1}" in str(exc)
        assert_terminal_safe(str(exc))


# ---------------------------------------------------------------- format_hex


@pytest.mark.parametrize(
    ("data", "expected"),
    [(b"\xde\xad\xbe\xef", "de ad be ef"), (b"\x00", "00"), (b"", ""), (b"AZ\n", "41 5a 0a")],
)
def test_format_hex(data: bytes, expected: str) -> None:
    assert format_hex(data) == expected


# ---------------------------------------------------------------- hexdump


def test_hexdump_example_line() -> None:
    assert hexdump(b"Hello\n\x00\xffABCDEFGH") == [
        "00000000  48 65 6c 6c 6f 0a 00 ff  41 42 43 44 45 46 47 48  |Hello...ABCDEFGH|"
    ]


def test_hexdump_pads_short_last_line() -> None:
    lines = hexdump(b"0123456789abcdefxyz")
    assert lines == [
        "00000000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|",
        "00000010  78 79 7a                                          |xyz|",
    ]
    assert lines[0].index("|") == lines[1].index("|")


def test_hexdump_short_line_ending_on_group_boundary() -> None:
    assert hexdump(b"ABCDEFGH") == [
        "00000000  41 42 43 44 45 46 47 48                           |ABCDEFGH|"
    ]


def test_hexdump_start_offset_and_empty() -> None:
    assert hexdump(b"") == []
    assert hexdump(b"a" * 17, start_offset=0x1234) == [
        "00001234  61 61 61 61 61 61 61 61  61 61 61 61 61 61 61 61  |aaaaaaaaaaaaaaaa|",
        "00001244  61                                                |a|",
    ]
    # Like hexdump, offsets past 32 bits widen rather than wrap.
    assert hexdump(b"a", start_offset=0x1_0000_0000)[0].startswith("100000000  61 ")


def test_hexdump_other_widths() -> None:
    assert hexdump(b"ABCDEFGHIJ", width=8) == [
        "00000000  41 42 43 44 45 46 47 48  |ABCDEFGH|",
        "00000008  49 4a                    |IJ|",
    ]
    assert hexdump(b"\x00\x01\x02\x03\x04", width=4) == [
        "00000000  00 01 02 03  |....|",
        "00000004  04           |.|",
    ]
    assert hexdump(bytes(range(0x41, 0x41 + 20)), width=20) == [
        "00000000  41 42 43 44 45 46 47 48  49 4a 4b 4c 4d 4e 4f 50  51 52 53 54  "
        "|ABCDEFGHIJKLMNOPQRST|"
    ]


@pytest.mark.parametrize(("kwargs"), [{"width": 0}, {"width": -1}, {"start_offset": -1}])
def test_hexdump_rejects_bad_arguments(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        hexdump(b"x", **kwargs)


def test_hexdump_printable_range() -> None:
    (line,) = hexdump(bytes([0x1F, 0x20, 0x7E, 0x7F, 0x80, 0xA0, 0xE9, 0x5C]))
    assert line.endswith("|. ~....\\|")


@given(st.binary(max_size=100), st.integers(0, 2**40), st.integers(1, 40))
def test_hexdump_is_safe_and_lossless(data: bytes, start_offset: int, width: int) -> None:
    lines = hexdump(data, start_offset, width)
    assert len(lines) == -(-len(data) // width)
    recovered = b""
    for k, line in enumerate(lines):
        assert_terminal_safe(line)
        assert "\t" not in line
        offset, rest = line.split("  ", 1)
        assert int(offset, 16) == start_offset + k * width
        # Hex cells are padded to a fixed width, so the | column never moves.
        hex_width = 3 * width + (width - 1) // 8
        hex_part, ascii_part = rest[:hex_width], rest[hex_width:]
        assert ascii_part.startswith(" |")
        assert ascii_part.endswith("|")
        assert len(ascii_part) == len(data[k * width : (k + 1) * width]) + 3
        recovered += parse_hex(hex_part)
    assert recovered == data


def _real_hexdump(data: bytes, start_offset: int) -> list[str]:
    # A file rather than stdin: hexdump -s cannot seek a pipe. -v turns off
    # the "*" squeezing of repeated lines, which hexdump() does not do.
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "data")
        path.write_bytes(b"\x00" * start_offset + data)
        result = subprocess.run(
            [str(HEXDUMP), "-C", "-v", "-s", str(start_offset), str(path)],
            capture_output=True,
            check=True,
            env={**os.environ, "LC_ALL": "C"},
        )
    lines = result.stdout.decode("ascii").splitlines()
    # Drop the final bare offset line that hexdump -C adds.
    if lines and re.fullmatch(r"[0-9a-f]+", lines[-1]):
        lines.pop()
    return lines


needs_hexdump = pytest.mark.skipif(not HEXDUMP.exists(), reason="/usr/bin/hexdump is not installed")


@needs_hexdump
@pytest.mark.parametrize(
    ("data", "start_offset"),
    [
        (b"", 0),
        (b"Hello\n\x00\xffABCDEFGH", 0),
        (b"Hello\n\x00\xffABCDEFGHxyz", 0),
        (bytes(range(256)), 0),
        (b"ABCDEFGH", 0),
        (b"\x00" * 48, 0),  # repeated lines: hexdump would squeeze them without -v
        (b"abc", 5),
        (bytes(range(40)), 0x2A),
    ],
)
def test_hexdump_matches_real_hexdump(data: bytes, start_offset: int) -> None:
    assert hexdump(data, start_offset) == _real_hexdump(data, start_offset)


@needs_hexdump
@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=80), st.integers(0, 300))
def test_hexdump_matches_real_hexdump_property(data: bytes, start_offset: int) -> None:
    assert hexdump(data, start_offset) == _real_hexdump(data, start_offset)


# ---------------------------------------------------------------- decode_for_display


def test_encodings_tuple() -> None:
    assert ENCODINGS == ("utf-8", "latin-1", "ascii", "utf-16le", "utf-16be")
    assert ENCODINGS[0] == "utf-8"  # the default comes first


@pytest.mark.parametrize(
    ("data", "encoding", "expected"),
    [
        # latin-1: every byte is a character; C1 and soft hyphen escaped.
        (b"caf\xe9", "latin-1", "café"),
        (b"\xff\xa0", "latin-1", "ÿ\u00a0"),
        (b"\x85\x9b", "latin-1", "\\u0085\\u009b"),
        (b"soft\xadhyphen", "latin-1", "soft\\u00adhyphen"),
        (b"\x1b[2J\x7f", "latin-1", "\\x1b[2J\\x7f"),
        (b"a\\b\r\n\t", "latin-1", "a\\\\b\\r\\n\t"),
        # ascii: bytes >= 0x80 are invalid.
        (b"caf\xe9", "ascii", "caf\\xe9"),
        (b"\xc3\xa9", "ascii", "\\xc3\\xa9"),
        (b"\x1b]2;x\x07", "ascii", "\\x1b]2;x\\x07"),
        (b"plain text", "ascii", "plain text"),
        (b"a\\b\r\n", "ascii", "a\\\\b\\r\\n"),
        # utf-16
        ("hi é\r\n".encode("utf-16le"), "utf-16le", "hi é\\r\\n"),
        ("hi é\r\n".encode("utf-16be"), "utf-16be", "hi é\\r\\n"),
        ("a\\b\t".encode("utf-16le"), "utf-16le", "a\\\\b\t"),
        ("😀".encode("utf-16le"), "utf-16le", "😀"),
        ("😀".encode("utf-16be"), "utf-16be", "😀"),
        ("\u202eabc\u200b".encode("utf-16le"), "utf-16le", "\\u202eabc\\u200b"),
        ("\x85".encode("utf-16le"), "utf-16le", "\\u0085"),
        (b"\xff\xfeh\x00", "utf-16le", "\\ufeffh"),  # a BOM is shown, not eaten
        # Controls are \u00NN in UTF-16 so they can be typed back (see docstring).
        (b"\x1b\x00[\x00", "utf-16le", "\\u001b["),
        (b"\x00\x00\x00\x7f", "utf-16be", "\\u0000\\u007f"),
        # Odd trailing byte.
        (b"A\x00B", "utf-16le", "A\\x42"),
        (b"\x00", "utf-16be", "\\x00"),
        # Unpaired surrogates: their two bytes, in stream order.
        (b"\x00\xd8", "utf-16le", "\\x00\\xd8"),
        (b"\xd8\x00", "utf-16be", "\\xd8\\x00"),
        (b"\x00\xd8A\x00", "utf-16le", "\\x00\\xd8A"),
        (b"\x00\xdcA\x00", "utf-16le", "\\x00\\xdcA"),
        (b"\x00\xde\x3d\xd8", "utf-16le", "\\x00\\xde\\x3d\\xd8"),  # pair in wrong order
        (b"\x3d\xd8\x3d\xd8\x00\xde", "utf-16le", "\\x3d\\xd8😀"),
        (b"\x00\xd8\x01", "utf-16le", "\\x00\\xd8\\x01"),
        (b"", "utf-16le", ""),
        (b"", "latin-1", ""),
    ],
)
def test_decode_for_display_cases(data: bytes, encoding: str, expected: str) -> None:
    assert decode_for_display(data, encoding) == expected


@given(any_bytes)
@example(b"\x1b]2;pwned\x07\xc2\x9b\xe2\x80\xae\xed\xa0\x80\xf4\x90\x80\x80")
def test_decode_for_display_utf8_is_sanitize(data: bytes) -> None:
    assert decode_for_display(data, "utf-8") == sanitize(data)


@pytest.mark.parametrize("encoding", ENCODINGS)
@given(data=any_bytes)
def test_decode_for_display_is_terminal_safe(encoding: str, data: bytes) -> None:
    assert_terminal_safe(decode_for_display(data, encoding))


@pytest.mark.parametrize("encoding", ENCODINGS)
@given(data=any_bytes)
@example(data=b"\x85\xad\\\x00\xff")
@example(data=b"\x00\xd8\x00\xdc\x00\xdc\x00\xd8\x1b\x00\n")
def test_display_text_round_trips_when_typed_back(encoding: str, data: bytes) -> None:
    # Required for latin-1; holds for every encoding.
    assert encode_text(decode_for_display(data, encoding), encoding) == data


def test_decode_accepts_bytearray_and_memoryview() -> None:
    for encoding in ENCODINGS:
        assert decode_for_display(bytearray(b"a\x1bb"), encoding) == decode_for_display(
            b"a\x1bb", encoding
        )
    assert decode_for_display(memoryview(b"A\x00B"), "utf-16le") == "A\\x42"


@pytest.mark.parametrize("encoding", ["utf8", "UTF-8", "latin1", "utf-16", "cp1252", ""])
def test_unknown_encoding_is_a_value_error(encoding: str) -> None:
    with pytest.raises(ValueError, match="unknown encoding"):
        decode_for_display(b"x", encoding)
    with pytest.raises(ValueError, match="unknown encoding"):
        encode_text("x", encoding)


# ---------------------------------------------------------------- encode_text


@pytest.mark.parametrize(
    ("text", "encoding", "expected"),
    [
        ("café", "latin-1", b"caf\xe9"),
        ("caf\\u00e9", "latin-1", b"caf\xe9"),
        ("\\u{ff}\\U000000e9", "latin-1", b"\xff\xe9"),
        ("\\u0085", "latin-1", b"\x85"),
        ("\\xe9", "ascii", b"\xe9"),  # \xNN is a raw byte, whatever the encoding
        ("GET /\\r\\n", "ascii", b"GET /\r\n"),
        ("\\t\\0\\e\\\\", "ascii", b"\t\x00\x1b\\"),
        ("hi\\r\\n", "utf-16le", b"h\x00i\x00\r\x00\n\x00"),
        ("hi\\r\\n", "utf-16be", b"\x00h\x00i\x00\r\x00\n"),
        ("é\\u00e9", "utf-16le", b"\xe9\x00\xe9\x00"),
        ("\\u{1F600}", "utf-16le", "😀".encode("utf-16le")),
        ("\\U0001f600", "utf-16be", "😀".encode("utf-16be")),
        ("😀", "utf-16be", b"\xd8\x3d\xde\x00"),
        ("\\xff\\xfeA", "utf-16le", b"\xff\xfeA\x00"),  # raw bytes stay single bytes
        ("\\ufeffA", "utf-16le", b"\xff\xfeA\x00"),
        ("\\x00\\xd8", "utf-16le", b"\x00\xd8"),  # how to send a lone surrogate
        ("", "utf-16le", b""),
        ("", "ascii", b""),
    ],
)
def test_encode_text_cases(text: str, encoding: str, expected: bytes) -> None:
    assert encode_text(text, encoding) == expected


@pytest.mark.parametrize(
    ("text", "encoding", "position", "message"),
    [
        ("caé", "ascii", 2, "'é' cannot be sent as ascii (column 3)"),
        ("price: 5€", "latin-1", 8, "'€' cannot be sent as latin-1 (column 9)"),
        ("ok\\n日本", "latin-1", 4, "'日' cannot be sent as latin-1 (column 5)"),
        ("ab\ud800", "latin-1", 2, "'\\ud800' cannot be sent as latin-1 (column 3)"),
        ("ab\udcff", "utf-16le", 2, "'\\udcff' cannot be sent as utf-16le (column 3)"),
        ("x\\u00e9", "ascii", 1, "\\u00e9 cannot be sent as ascii (column 2)"),
        ("\\u0100", "latin-1", 0, "\\u0100 cannot be sent as latin-1 (column 1)"),
        ("\\u{80}", "ascii", 0, "\\u{80} cannot be sent as ascii (column 1)"),
        ("\\U0001f600", "latin-1", 0, "\\U0001f600 cannot be sent as latin-1 (column 1)"),
        (
            "\\ud800",
            "utf-16le",
            0,
            "\\ud800 is a surrogate, which cannot be sent as utf-16le; "
            "use \\xNN for raw bytes (column 1)",
        ),
        (
            "a\\u{DFFF}",
            "utf-16be",
            1,
            "\\u{DFFF} is a surrogate, which cannot be sent as utf-16be; "
            "use \\xNN for raw bytes (column 2)",
        ),
        (
            "\\u{110000}",
            "latin-1",
            0,
            "\\u{110000} is beyond U+10FFFF, the largest code point, at column 1",
        ),
    ],
)
def test_encode_text_errors(text: str, encoding: str, position: int, message: str) -> None:
    with pytest.raises(EscapeError) as info:
        encode_text(text, encoding)
    assert info.value.position == position
    assert str(info.value) == message
    assert_terminal_safe(str(info.value))


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(
    "text", ["abcd\\q", "\\x4", "ab\\x", "\\xg0", "\\u{}", "\\u12", "\\U0000004", "ok\\", "\\\x1b"]
)
def test_escape_syntax_errors_are_the_same_in_every_encoding(encoding: str, text: str) -> None:
    with pytest.raises(EscapeError) as expected:
        parse_escapes(text)
    with pytest.raises(EscapeError) as info:
        encode_text(text, encoding)
    assert (info.value.position, str(info.value)) == (expected.value.position, str(expected.value))


def _outcome(fn: object, *args: str) -> tuple[str, object]:
    try:
        return ("ok", fn(*args))  # type: ignore[operator]
    except EscapeError as exc:
        return ("error", (exc.position, str(exc)))


@given(composer_text)
@example("\\u{D800}")
@example("ab\ud800")
def test_encode_text_utf8_is_parse_escapes(text: str) -> None:
    # Including the exact error, when there is one.
    assert _outcome(encode_text, text, "utf-8") == _outcome(parse_escapes, text)


@pytest.mark.parametrize("encoding", ["utf-16le", "utf-16be"])
@given(text=composer_text)
def test_utf16_fails_exactly_where_utf8_does(encoding: str, text: str) -> None:
    # Both encode every code point except surrogates, so errors match in position.
    utf8 = _outcome(parse_escapes, text)
    utf16 = _outcome(encode_text, text, encoding)
    assert utf8[0] == utf16[0]
    if utf8[0] == "error":
        assert utf8[1][0] == utf16[1][0]  # type: ignore[index]


@pytest.mark.parametrize("encoding", ENCODINGS)
@given(text=composer_text)
def test_encode_text_only_raises_escape_error(encoding: str, text: str) -> None:
    try:
        encode_text(text, encoding)
    except EscapeError as exc:
        assert 0 <= exc.position < len(text)
        assert f"column {exc.position + 1}" in str(exc)
        assert_terminal_safe(str(exc))


@pytest.mark.parametrize("encoding", ENCODINGS)
@given(text=st.text().map(lambda t: t.replace("\\", "")))
def test_plain_text_is_just_encoded(encoding: str, text: str) -> None:
    try:
        expected = text.encode(encoding.replace("utf-16", "utf-16-"))
    except UnicodeEncodeError:
        with pytest.raises(EscapeError):
            encode_text(text, encoding)
    else:
        assert encode_text(text, encoding) == expected


@given(st.binary())
def test_latin1_display_round_trip(data: bytes) -> None:
    # The brief's headline property, kept separate for clarity.
    assert encode_text(decode_for_display(data, "latin-1"), "latin-1") == data
