"""Length-prefixed messages (workbench.framing.length_prefixed): any stream of messages split at
any byte reassembles; bad lengths are errors after which the stream is raw and bounded."""

from __future__ import annotations

import pytest
from framing_cuts import CUTS, cut, feed_all
from hypothesis import given
from hypothesis import strategies as st

from workbench.framing.length_prefixed import DEFAULT_MAX
from workbench.framing.messages import (
    MAX_MESSAGE_BYTES,
    FramingError,
    encode,
    make_framer,
    parse_framing,
)
from workbench.framing.prefixed import RAW_PIECE, UNFRAMED

SPECS = st.sampled_from(
    ["len:1:be", "len:2:be", "len:2:le", "len:4:be:incl", "len:8:le", "len:2", "len:4:le:incl"]
)
PAYLOADS = st.lists(st.binary(max_size=200), max_size=12)


@given(SPECS, PAYLOADS, CUTS)
def test_any_messages_split_anywhere_reassemble(
    text: str, payloads: list[bytes], cuts: list[float]
) -> None:
    spec = parse_framing(text)
    wire = [encode(spec, payload) for payload in payloads]
    messages = feed_all(make_framer(spec), cut(b"".join(wire), cuts), held_bound=MAX_MESSAGE_BYTES)
    assert [message.data for message in messages] == wire
    assert [message.summary for message in messages] == [f"len {len(p)}" for p in payloads]
    assert not any(message.error for message in messages)


@given(SPECS, st.lists(st.binary(max_size=300), max_size=10))
def test_garbage_never_raises_and_what_is_held_stays_bounded(
    text: str, chunks: list[bytes]
) -> None:
    # The bound: a header, or a body of at most MAX_MESSAGE_BYTES (feed_all checks every byte
    # is in a message or held).
    feed_all(make_framer(parse_framing(text + ":max=100")), chunks, held_bound=108)


def test_the_prefix_is_read_in_the_order_and_width_given() -> None:
    assert encode(parse_framing("len:2:be"), b"hello") == b"\x00\x05hello"
    assert encode(parse_framing("len:2:le"), b"hello") == b"\x05\x00hello"
    assert encode(parse_framing("len:4:be:incl"), b"hi") == b"\x00\x00\x00\x06hi"
    framer = make_framer(parse_framing("len:2:le"))
    (message,) = framer.feed(b"\x03\x00abc")
    assert message.summary == "len 3" and message.fields == (("length", "3"),)


def test_a_length_past_the_max_is_an_error_and_the_rest_is_raw_pieces() -> None:
    framer = make_framer(parse_framing("len:2:be:max=100"))
    first, *rest = framer.feed(b"\x00\x02ok" + b"\x01\x00" + b"x" * (RAW_PIECE + 10))
    assert first.data == b"\x00\x02ok" and not first.error
    bad, *raw = rest
    assert bad.data == b"\x01\x00"
    assert "length 256 > max 100" in bad.error and "the rest of the stream is unframed" in bad.error
    assert [len(piece.data) for piece in raw] == [RAW_PIECE, 10]
    assert all(piece.error == UNFRAMED for piece in raw)
    assert framer.held == 0
    # It stays raw: a well-formed message later is not trusted.
    (later,) = framer.feed(b"\x00\x01a")
    assert later.error == UNFRAMED and framer.end() == []


def test_incl_length_smaller_than_its_prefix_is_an_error() -> None:
    framer = make_framer(parse_framing("len:4:be:incl"))
    assert framer.feed(b"\x00\x00") == []
    (bad, raw) = framer.feed(b"\x00\x03rest")
    assert bad.data == b"\x00\x00\x00\x03" and "less than its own 4-byte prefix" in bad.error
    assert raw.data == b"rest" and raw.error == UNFRAMED


def test_the_stream_ending_inside_a_message_says_so() -> None:
    framer = make_framer(parse_framing("len:2:be"))
    assert framer.feed(b"\x00\x0ahal") == [] and framer.held == 5
    (cut_short,) = framer.end()
    assert cut_short.data == b"\x00\x0ahal" and cut_short.summary == "len 10"
    assert cut_short.error == "the stream ended 5 bytes into a message of 12"
    framer.feed(b"\x00")
    (in_prefix,) = framer.end()
    assert "inside a header" in in_prefix.error


def test_a_message_longer_than_a_record_is_counted_whole_and_its_head_kept() -> None:
    spec = parse_framing("len:4:be")
    payload = bytes(range(256)) * (2 * MAX_MESSAGE_BYTES // 256)
    wire = encode(spec, payload) + encode(spec, b"next")
    framer = make_framer(spec)
    chunks = [wire[at : at + 65536] for at in range(0, len(wire), 65536)]
    messages = feed_all(framer, chunks, MAX_MESSAGE_BYTES, counted_unheld=True)
    big, small = messages
    assert big.whole_size == len(payload) + 4 and big.data == wire[:MAX_MESSAGE_BYTES]
    assert big.summary == f"len {len(payload)}" and not big.error
    assert small.data == b"\x00\x00\x00\x04next"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("len", "the prefix's width is 1, 2, 4 or 8"),
        ("len:3:be", "the prefix's width is 1, 2, 4 or 8"),
        ("len:2:middle", "unknown parameter 'middle'"),
        ("len:2:be:max=0", "max= takes a whole number of bytes 1-65,535"),
        ("len:1:be:max=300", "1-255"),
        ("len:2:be:max=x", "not 'x'"),
        ("len:2:be:incl:incl", "incl given twice"),
        ("len:4:be:incl:max=3", "at least the prefix's 4"),
    ],
)
def test_bad_specs_are_refused_in_words(text: str, words: str) -> None:
    with pytest.raises(FramingError, match=words.replace("(", r"\(")):
        parse_framing(text)


def test_encode_refuses_what_does_not_fit() -> None:
    with pytest.raises(FramingError, match="past len:1:be's max 255"):
        encode(parse_framing("len:1:be"), b"x" * 256)
    with pytest.raises(FramingError, match="length of 256"):
        encode(parse_framing("len:1:be:incl"), b"x" * 255)
    assert encode(parse_framing("len:1:be:incl"), b"x" * 254)[:1] == b"\xff"


def test_the_default_max_is_16_mib() -> None:
    framer = make_framer(parse_framing("len:4:be"))
    over = (DEFAULT_MAX + 1).to_bytes(4, "big")
    (bad,) = framer.feed(over)
    assert "> max 16,777,216" in bad.error
