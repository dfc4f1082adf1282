"""The pure line framer (workbench.framing): bytes in, lines and what is pending out."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.framing import Line, LineFramer, line_feed, split_lines

# A request with CRLF and LF line ends, characters of every UTF-8 length, and no end.
PAYLOAD = "GET / HTTP/1.1\r\nHost: é\r\n\r\nx€y😀\nlast".encode()
TEXT = st.text(alphabet=st.sampled_from("ab \r\n\té€\u0a0a\uff0a😀\U0010fffd"), max_size=60)
ENCODINGS = st.sampled_from(["utf-8", "utf-16le", "utf-16be"])


def feed_all(framer: LineFramer, chunks: list[bytes]) -> list[Line]:
    return [line for chunk in chunks for line in framer.feed(chunk)]


def cut(payload: bytes, sizes: list[int]) -> list[bytes]:
    """`payload` in chunks whose sizes cycle through `sizes`."""
    chunks, pos = [], 0
    while pos < len(payload):
        size = sizes[len(chunks) % len(sizes)]
        chunks.append(payload[pos : pos + size])
        pos += size
    return chunks


def test_lines_end_at_lf_and_a_crlf_line_is_one_line() -> None:
    framer = LineFramer()
    lines = framer.feed(PAYLOAD)
    assert [line.data for line in lines] == [
        b"GET / HTTP/1.1\r\n",
        "Host: é\r\n".encode(),
        b"\r\n",
        "x€y😀\n".encode(),
    ]
    assert all(line.chunks == 1 and not line.continues for line in lines)
    assert framer.pending() == Line(b"last", 1)


def test_a_cr_and_its_lf_in_two_chunks_are_one_line() -> None:
    framer = LineFramer()
    assert framer.feed(b"HTTP/1.1 200 OK\r") == []
    assert framer.feed(b"\nServer: x\n") == [
        Line(b"HTTP/1.1 200 OK\r\n", 2),
        Line(b"Server: x\n", 1),
    ]


def test_the_payload_split_at_every_pair_of_positions_makes_the_same_lines() -> None:
    whole = LineFramer()
    expected = whole.feed(PAYLOAD)
    expected_pending = whole.pending()
    assert expected_pending is not None
    for first in range(len(PAYLOAD) + 1):
        for second in range(first, len(PAYLOAD) + 1):
            chunks = [PAYLOAD[:first], PAYLOAD[first:second], PAYLOAD[second:]]
            framer = LineFramer()
            lines = feed_all(framer, chunks)
            assert [line.data for line in lines] == [line.data for line in expected]
            pending = framer.pending()
            assert pending is not None and pending.data == expected_pending.data


def test_pending_is_kept_until_flushed() -> None:
    framer = LineFramer()
    assert framer.pending() is None and framer.flush() is None
    framer.feed(b"pro")
    framer.feed(b"mpt> ")
    assert framer.pending() == Line(b"prompt> ", 2)
    assert framer.pending_size == 8
    assert framer.flush() == Line(b"prompt> ", 2)
    assert framer.pending() is None and framer.pending_size == 0
    assert framer.feed(b"next\n") == [Line(b"next\n", 1)]  # a new line, not the old one's end


def test_a_line_over_the_limit_comes_out_in_pieces() -> None:
    framer = LineFramer(max_line=4)
    lines = feed_all(framer, [b"abcdefghij\n"])
    assert lines == [
        Line(b"abcd", 1, continues=True),
        Line(b"efgh", 1, continues=True),
        Line(b"ij\n", 1),
    ]
    # Across chunks too: what is held never grows past the limit.
    framer = LineFramer(max_line=4)
    for byte in b"abcdefghij":
        framer.feed(bytes([byte]))
        assert framer.pending_size <= 4
    assert framer.pending() == Line(b"ij", 2)


def test_a_piece_ends_before_a_character_the_limit_would_cut() -> None:
    framer = LineFramer(max_line=4)
    assert framer.feed("abcé\n".encode()) == [
        Line(b"abc", 1, continues=True),
        Line("é\n".encode(), 1),
    ]


def test_a_multibyte_character_cut_across_chunks_stays_whole() -> None:
    framer = LineFramer()
    euro = "€".encode()
    assert framer.feed(b"x" + euro[:1]) == []
    assert framer.feed(euro[1:2]) == []
    assert framer.feed(euro[2:] + b"\n") == [Line(b"x" + euro + b"\n", 3)]
    # At the limit, a character begun in an earlier chunk starts the next piece.
    framer = LineFramer(max_line=4)
    assert framer.feed(b"abc\xc3") == []
    assert framer.feed(b"\xa9\n") == [
        Line(b"abc", 1, continues=True, earlier=True),
        Line("é\n".encode(), 2),
    ]


def test_utf16_lines_end_only_at_whole_line_feeds() -> None:
    for encoding in ("utf-16le", "utf-16be"):
        framer = LineFramer(encoding)
        payload = "\u0a0a\n\uff0ab".encode(encoding)  # 0x0a bytes inside other characters
        assert framer.feed(payload[:3]) == []  # the line feed cut between its two bytes
        assert framer.feed(payload[3:]) == [Line("\u0a0a\n".encode(encoding), 2)]
        assert framer.flush() == Line("\uff0ab".encode(encoding), 1)


def test_the_encoding_applies_to_the_bytes_fed_after_it_changes() -> None:
    framer = LineFramer()
    # Read as UTF-8, the line ends at the 0x0a byte, inside the UTF-16 line feed.
    assert framer.feed("a\n".encode("utf-16le")) == [Line(b"a\x00\n", 1)]
    framer.flush()
    framer.encoding = "utf-16le"
    assert framer.feed("a\nb".encode("utf-16le")) == [Line("a\n".encode("utf-16le"), 1)]


def test_max_line_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_line"):
        LineFramer(max_line=0)


@given(TEXT, ENCODINGS, st.lists(st.integers(1, 9), min_size=1, max_size=8), st.integers(4, 12))
def test_every_byte_comes_out_once_in_bounded_whole_lines(
    text: str, encoding: str, sizes: list[int], max_line: int
) -> None:
    payload = text.encode(encoding)
    framer = LineFramer(encoding, max_line)
    lines = feed_all(framer, cut(payload, sizes))
    pending = framer.flush()
    out = lines + ([pending] if pending is not None else [])
    assert b"".join(line.data for line in out) == payload
    feed = line_feed(encoding)
    for line in lines:
        assert len(line.data) <= max_line
        assert len(split_lines(line.data, encoding)) == 1, line
        assert line.continues != line.data.endswith(feed), line
        line.data.decode(encoding)  # whole characters: a piece never cuts one in two
    if pending is not None:
        assert not pending.continues and not pending.data.endswith(feed)


@given(TEXT, ENCODINGS, st.lists(st.integers(1, 9), min_size=1, max_size=8))
def test_chunks_make_the_lines_the_whole_payload_makes(
    text: str, encoding: str, sizes: list[int]
) -> None:
    payload = text.encode(encoding)
    framer = LineFramer(encoding)
    lines = [line.data for line in feed_all(framer, cut(payload, sizes))]
    pending = framer.pending()
    whole = split_lines(payload, encoding) if payload else []
    feed = line_feed(encoding)
    assert lines == [line for line in whole if line.endswith(feed)]
    assert (pending.data if pending is not None else b"") == b"".join(
        line for line in whole if not line.endswith(feed)
    )


def test_framing_imports_nothing_else_of_the_project() -> None:
    # Behaviours in the engine frame with it: it must stay a leaf.
    code = (
        "import json, sys, workbench.framing; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('workbench'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == [
        "workbench",
        "workbench.framing",
        "workbench.framing.characters",
        "workbench.framing.lines",
    ]
