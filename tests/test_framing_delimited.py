"""Delimited messages (workbench.framing.delimited): any stream of messages split at any byte
reassembles; a message past the max comes out in pieces with an error and framing goes on."""

from __future__ import annotations

import pytest
from framing_cuts import CUTS, cut, feed_all
from hypothesis import given
from hypothesis import strategies as st

from workbench.framing.delimited import unescape
from workbench.framing.messages import FramingError, encode, make_framer, parse_framing

DELIMITERS = {
    "delim:\\0": b"\0",
    "delim:\\r\\n": b"\r\n",
    "delim:END": b"END",
    "delim:\\xff\\:": b"\xff:",
}


@given(st.sampled_from(sorted(DELIMITERS)), st.lists(st.binary(max_size=100), max_size=12), CUTS)
def test_any_messages_split_anywhere_reassemble(
    text: str, payloads: list[bytes], cuts: list[float]
) -> None:
    delimiter = DELIMITERS[text]
    spec = parse_framing(text)
    # A payload that holds the delimiter (or ends with the start of it) is not one message.
    payloads = [p for p in payloads if delimiter not in p + delimiter[:-1]]
    wire = [encode(spec, payload) for payload in payloads]
    messages = feed_all(make_framer(spec), cut(b"".join(wire), cuts), held_bound=1 << 20)
    assert [message.data for message in messages] == wire
    assert [message.summary for message in messages] == [
        "1 byte" if len(p) == 1 else f"{len(p)} bytes" for p in payloads
    ]
    assert not any(message.error for message in messages)


@given(st.sampled_from(sorted(DELIMITERS)), st.binary(max_size=400), CUTS)
def test_any_bytes_frame_the_same_however_split_and_held_stays_under_the_max(
    text: str, data: bytes, cuts: list[float]
) -> None:
    spec = parse_framing(text + ":max=20")
    whole = feed_all(make_framer(spec), [data], held_bound=19)
    split = feed_all(make_framer(spec), cut(data, cuts), held_bound=19)
    assert [(m.data, m.error) for m in split] == [(m.data, m.error) for m in whole]
    assert all(len(m.data) <= 20 for m in whole)


def test_a_message_past_the_max_comes_out_in_pieces_and_framing_goes_on() -> None:
    framer = make_framer(parse_framing("delim:\\n:max=4"))
    messages = framer.feed(b"abcdefghij\nok\n")
    assert [(m.data, bool(m.error)) for m in messages] == [
        (b"abcd", True),
        (b"efgh", True),
        (b"ij\n", False),
        (b"ok\n", False),
    ]
    assert messages[0].error == "no delimiter within max 4 bytes: cut here"
    assert framer.held == 0


def test_the_stream_ending_before_the_delimiter_says_so() -> None:
    framer = make_framer(parse_framing("delim:\\r\\n"))
    assert framer.feed(b"half\r") == [] and framer.held == 5
    (message,) = framer.end()
    assert message.data == b"half\r" and message.error == "the stream ended before the delimiter"
    assert framer.end() == []


def test_escapes_are_the_composers() -> None:
    assert unescape("\\0\\r\\n\\t\\\\\\x41") == b"\0\r\n\t\\A"
    assert unescape("é") == "é".encode()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("delim", "say the delimiter"),
        ("delim:", "say the delimiter"),
        ("delim:\\q", "unknown escape '\\\\q' \\(known"),
        ("delim:\\x4", "unknown escape"),
        ("delim:\\n:max=2000000", "1-1,048,576"),
        ("delim:END:max=2", "at least the delimiter's 3 bytes"),
        ("delim:\\n:size=4", "unknown parameter 'size=4'"),
    ],
)
def test_bad_specs_are_refused_in_words(text: str, words: str) -> None:
    with pytest.raises(FramingError, match=words):
        parse_framing(text)


def test_encode_refuses_a_payload_holding_the_delimiter() -> None:
    assert encode(parse_framing("delim:\\0"), b"hi") == b"hi\0"
    with pytest.raises(FramingError, match="holds the delimiter"):
        encode(parse_framing("delim:\\0"), b"a\0b")
