"""Tests for workbench.codec: terminal-safe display of untrusted bytes."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from workbench.codec import EscapeError, format_size, parse_escapes, sanitize, sanitize_text

# Surrogates and controls are a tiny slice of the code space, so a plain
# st.characters() almost never draws them; mix them in explicitly.
_unsafe_chars = st.characters(categories=["Cc", "Cf", "Zl", "Zp"])
# (st.lists + join, not st.text: st.text merges a union of character
# strategies into one code-point range and the rare ones vanish again.)
any_text = st.lists(
    st.one_of(
        st.characters(exclude_categories=()),
        st.characters(categories=["Cs"]),
        _unsafe_chars,
        st.sampled_from("\\\t\n\r"),
    )
).map("".join)
# Random bytes rarely form valid multi-byte UTF-8, so also splice in encoded
# C1/format/separator characters next to arbitrary bytes.
any_bytes = st.one_of(
    st.binary(),
    st.lists(st.one_of(st.binary(max_size=3), st.text(alphabet=_unsafe_chars).map(str.encode))).map(
        b"".join
    ),
)


def assert_terminal_safe(out: str) -> None:
    for ch in out:
        if ch == "\t":
            continue  # TAB is the one control deliberately kept
        cp = ord(ch)
        assert cp >= 0x20, f"C0 control {cp:#x} leaked"
        assert cp != 0x7F, "DEL leaked"
        assert not 0x80 <= cp <= 0x9F, f"C1 control {cp:#x} leaked"
        cat = unicodedata.category(ch)
        assert cat not in {"Cc", "Cf", "Zl", "Zp", "Cs"}, f"{cat} {cp:#x} leaked"


# ---------------------------------------------------------------- properties


@given(any_bytes)
@example(b"\x1b]2;pwned\x07\xc2\x9b\xe2\x80\xae\xed\xa0\x80\xf4\x90\x80\x80")
def test_sanitize_is_terminal_safe(data: bytes) -> None:
    assert_terminal_safe(sanitize(data))


@given(any_text)
@example("\ud800\udcff\u202e\x1b\u2028\U000e0041\x85")
def test_sanitize_text_is_terminal_safe(text: str) -> None:
    assert_terminal_safe(sanitize_text(text))


@given(any_bytes)
@example(b"\\x1b")
@example(b"\\\x1b")
@example(b"\xc2\x9b12")
@example(b"\xf3\xa0\x81\x81")  # U+E0041 TAG LATIN CAPITAL LETTER A
@example(b"\xed\xb3\xbf")  # encoded surrogate: invalid UTF-8
@example(b"\xc3")
def test_parse_escapes_inverts_sanitize(data: bytes) -> None:
    assert parse_escapes(sanitize(data)) == data


@given(st.text().map(lambda t: t.replace("\\", "")))
def test_text_without_backslash_is_plain_utf8(text: str) -> None:
    # st.text() excludes surrogates by default, so encode() cannot fail.
    assert parse_escapes(text) == text.encode()


@given(
    st.text(alphabet=st.characters(codec="ascii", exclude_characters="\\\x7f", min_codepoint=0x20))
)
def test_printable_ascii_unchanged(text: str) -> None:
    assert sanitize(text.encode()) == text
    assert sanitize_text(text) == text


@given(any_text)
def test_sanitize_text_matches_sanitize_on_valid_text(text: str) -> None:
    # Without surrogates, str and bytes paths must agree.
    clean = "".join(ch for ch in text if not 0xD800 <= ord(ch) <= 0xDFFF)
    assert sanitize_text(clean) == sanitize(clean.encode())


# ---------------------------------------------------------------- sanitize


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\x1b]2;pwned\x07", "\\x1b]2;pwned\\x07"),
        (b"\x1b[31mred", "\\x1b[31mred"),
        ("\u202eabc".encode(), "\\u202eabc"),
        (b"\xc2\x9b", "\\u009b"),
        (b"\x9b", "\\x9b"),
        (b"a\\b", "a\\\\b"),
        (b"\\x1b", "\\\\x1b"),
        (b"line\r\n", "line\\r\\n"),
        (b"a\tb", "a\tb"),
        (b"\x00\x7f", "\\x00\\x7f"),
        (b"\xff\xfe", "\\xff\\xfe"),
        (b"ok\xe2\x82", "ok\\xe2\\x82"),  # truncated sequence
        (b"\xed\xa0\x80", "\\xed\\xa0\\x80"),  # UTF-8-encoded surrogate is invalid
        ("a\u200bb\ufeff".encode(), "a\\u200bb\\ufeff"),
        ("\u2066x\u2069\u061c\u200e".encode(), "\\u2066x\\u2069\\u061c\\u200e"),
        ("soft\u00adhyphen".encode(), "soft\\u00adhyphen"),
        ("\u2028\u2029".encode(), "\\u2028\\u2029"),
        ("\U000e0041".encode(), "\\U000e0041"),
        ("\U000e0000".encode(), "\\U000e0000"),  # unassigned, default-ignorable
        ("\x85".encode(), "\\u0085"),  # NEL
        (b"", ""),
    ],
)
def test_sanitize_cases(data: bytes, expected: str) -> None:
    assert sanitize(data) == expected


@pytest.mark.parametrize(
    "text",
    [
        "héllo 日本 🎉",
        "e\u0301",  # combining mark
        "\U0001f44d\U0001f3fd",  # emoji with skin tone modifier
        "\u2764\ufe0f",  # variation selector is Mn, kept
        "[/bold]",
        "[@click=app.quit]x[/]",
        "\u00a0nbsp\u3000ideographic space",
        "private \ue000 use",
    ],
)
def test_sanitize_passes_printable_text(text: str) -> None:
    assert sanitize(text.encode()) == text
    assert sanitize_text(text) == text


def test_zero_width_joiner_is_escaped_even_in_emoji() -> None:
    # Deliberate trade-off: ZWJ can hide or join text, so family emoji show
    # their joiners rather than render as one glyph.
    family = "\U0001f469\u200d\U0001f467"
    assert sanitize(family.encode()) == "\U0001f469\\u200d\U0001f467"


def test_sanitize_accepts_bytearray() -> None:
    assert sanitize(bytearray(b"a\x1b")) == "a\\x1b"


def test_sanitize_text_cases() -> None:
    assert sanitize_text("evil\x1b[2J.example") == "evil\\x1b[2J.example"
    assert sanitize_text("\udcff") == "\\udcff"
    assert sanitize_text("\ud800x") == "\\ud800x"
    assert sanitize_text("a\\b\nc") == "a\\\\b\\nc"
    assert sanitize_text("\u202e") == "\\u202e"
    assert sanitize_text("plain") == "plain"


# ---------------------------------------------------------------- parse_escapes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("\\x00\\xff", b"\x00\xff"),
        ("\\xFF\\xaB", b"\xff\xab"),
        ("\\u{1F600}", "\U0001f600".encode()),
        ("\\u{41}\\u{0}", b"A\x00"),
        ("\\u{10FFFF}", "\U0010ffff".encode()),
        ("\\u00e9", "é".encode()),
        ("\\u009b", b"\xc2\x9b"),
        ("\\U0001f600", "\U0001f600".encode()),
        ("\\t\\0\\e\\\\", b"\t\x00\x1b\\"),
        ("\\012", b"\x0012"),
        ("\\x4142", b"A42"),
        ("héllo", "héllo".encode()),
        ("", b""),
    ],
)
def test_parse_escapes_cases(text: str, expected: bytes) -> None:
    assert parse_escapes(text) == expected


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("abcd\\q", 4),
        ("\\x4", 0),
        ("ab\\x", 2),
        ("\\xg0", 0),
        ("\\x\u0661\u0662", 0),  # non-ASCII digits are not hex
        ("\\x_1", 0),
        ("\\u{}", 0),
        ("x\\u{110000}", 1),
        ("\\u{1234567}", 0),
        ("\\u{D800}", 0),
        ("\\udc80", 0),
        ("\\ud83d\\ude00", 0),  # surrogate pairs are not combined
        ("\\u12", 0),
        ("\\U0000004", 0),
        ("\\U00110000", 0),
        ("\\U0000dcff", 0),
        ("ok\\", 2),
        ("\\\\\\", 2),
        ("\\\x1b", 0),
        ("ab\ud800", 2),  # lone surrogate in the text itself
    ],
)
def test_parse_escapes_errors(text: str, position: int) -> None:
    with pytest.raises(EscapeError) as info:
        parse_escapes(text)
    assert info.value.position == position
    assert isinstance(info.value, ValueError)
    assert f"column {position + 1}" in str(info.value)
    # The message itself must be safe to show in the UI.
    assert_terminal_safe(str(info.value))


def test_escape_error_messages() -> None:
    with pytest.raises(EscapeError) as info:
        parse_escapes("abcd\\q")
    assert str(info.value) == "unknown escape \\q at column 5; use \\\\ for a backslash"
    with pytest.raises(EscapeError) as info:
        parse_escapes("ab\\x4")
    assert str(info.value) == "\\x needs two hex digits (like \\x1b) at column 3"


@given(any_text)
def test_parse_escapes_only_raises_escape_error(text: str) -> None:
    try:
        parse_escapes(text)
    except EscapeError as exc:
        assert 0 <= exc.position < len(text)


# ---------------------------------------------------------------- format_size


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "0 B"),
        (1, "1 B"),
        (999, "999 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (1024 * 1024 - 1, "1.0 MiB"),
        (int(12.3 * 1024 * 1024), "12.3 MiB"),
        (int(1.5 * 1024**3), "1.5 GiB"),
        (1024**4, "1.0 TiB"),
        (1024**9, "1024.0 YiB"),
        (-2048, "-2.0 KiB"),
    ],
)
def test_format_size(n: int, expected: str) -> None:
    assert format_size(n) == expected
