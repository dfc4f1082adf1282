"""Netstrings (workbench.framing.netstrings): any stream of netstrings split at any byte
reassembles; malformed lengths and a missing comma are errors, after which the rest is raw."""

from __future__ import annotations

import pytest
from framing_cuts import CUTS, cut, feed_all
from hypothesis import given
from hypothesis import strategies as st

from workbench.framing.messages import FramingError, encode, make_framer, parse_framing
from workbench.framing.prefixed import UNFRAMED

SPEC = parse_framing("netstring")


@given(st.lists(st.binary(max_size=200), max_size=12), CUTS)
def test_any_netstrings_split_anywhere_reassemble(payloads: list[bytes], cuts: list[float]) -> None:
    wire = [encode(SPEC, payload) for payload in payloads]
    messages = feed_all(make_framer(SPEC), cut(b"".join(wire), cuts), held_bound=1 << 20)
    assert [message.data for message in messages] == wire
    assert not any(message.error for message in messages)
    assert [message.fields for message in messages] == [
        (("length", str(len(p))),) for p in payloads
    ]


@given(st.lists(st.binary(max_size=300), max_size=10))
def test_garbage_never_raises_and_what_is_held_stays_bounded(chunks: list[bytes]) -> None:
    # max=100: a header of at most 4 bytes, a message of at most 4 + 100 + 1.
    feed_all(make_framer(parse_framing("netstring:max=100")), chunks, held_bound=105)


@given(st.lists(st.sampled_from([b"1", b"0", b":", b",", b"9", b"a"]), max_size=40), CUTS)
def test_near_netstrings_frame_the_same_however_they_are_split(
    parts: list[bytes], cuts: list[float]
) -> None:
    data = b"".join(parts)
    whole = feed_all(make_framer(SPEC), [data], held_bound=1 << 20)
    split = feed_all(make_framer(SPEC), cut(data, cuts), held_bound=1 << 20)
    assert b"".join(m.data for m in split) == data
    # Errors land on the same bytes however the stream is split.
    assert [(m.error != "") for m in split if m.error != UNFRAMED] == [
        (m.error != "") for m in whole if m.error != UNFRAMED
    ]


def test_encode_makes_one() -> None:
    assert encode(SPEC, b"hello") == b"5:hello,"
    assert encode(SPEC, b"") == b"0:,"
    (message,) = make_framer(SPEC).feed(b"5:hello,")
    assert message.summary == "5 bytes" and not message.error


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"x:abc,", "has b'x' where a digit or ':' goes"),
        (b"-1:a,", "has b'-' where a digit or ':' goes"),
        (b":abc,", "length is missing before ':'"),
        (b"05:hello,", "leading zero"),
        (b"5:hello!", "a netstring ends with ',', not b'!'"),
        (b"101:", "length 101 > max 100"),
        (b"1000", "more digits than max 100"),
    ],
)
def test_malformed_netstrings_are_errors_and_the_rest_is_raw(data: bytes, words: str) -> None:
    for chunks in ([data + b"1:a,"], [bytes([byte]) for byte in data + b"1:a,"]):
        framer = make_framer(parse_framing("netstring:max=100"))
        messages = [message for chunk in chunks for message in framer.feed(chunk)]
        messages += framer.end()
        assert words in messages[0].error
        assert "the rest of the stream is unframed" in messages[0].error
        assert all(message.error == UNFRAMED for message in messages[1:])
        assert b"".join(message.data for message in messages) == data + b"1:a,"


def test_the_stream_ending_inside_a_netstring_says_so() -> None:
    framer = make_framer(SPEC)
    assert framer.feed(b"5:he") == []
    (message,) = framer.end()
    assert message.error == "the stream ended 4 bytes into a message of 8"


@pytest.mark.parametrize(
    ("text", "words"),
    [("netstring:max=0", "max= takes a whole number"), ("netstring:big", "unknown parameter")],
)
def test_bad_specs_are_refused_in_words(text: str, words: str) -> None:
    with pytest.raises(FramingError, match=words):
        parse_framing(text)


def test_encode_refuses_a_payload_past_the_max() -> None:
    with pytest.raises(FramingError, match="past netstring:max=3's max 3"):
        encode(parse_framing("netstring:max=3"), b"four")
