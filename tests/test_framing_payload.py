"""A message's payload (`workbench.framing.messages.payload_of`), what a rules file's message
rules match: the framing's own bytes left out, per framing. Property: the payload of the one
message `encode(spec, p)` makes, fed in any pieces, is `p`."""

from __future__ import annotations

import pytest
from framing_cuts import CUTS, cut
from hypothesis import example, given
from hypothesis import strategies as st

from workbench.framing.messages import (
    MAX_MESSAGE_BYTES,
    Message,
    encode,
    make_framer,
    parse_framing,
    payload_of,
)


def payloads(spec_text: str, stream: bytes, pieces: list[bytes] | None = None) -> list[bytes]:
    """The payloads of the well-formed messages of `stream` (fed in `pieces` if given)."""
    spec = parse_framing(spec_text)
    framer = make_framer(spec)
    messages: list[Message] = []
    for piece in pieces if pieces is not None else [stream]:
        messages += framer.feed(piece)
    messages += framer.end()
    assert all(not m.error for m in messages), [m.error for m in messages]
    return [payload_of(spec, m) for m in messages]


@pytest.mark.parametrize(
    ("spec", "stream", "expected"),
    [
        ("len:2:be", b"\x00\x05hello\x00\x00", [b"hello", b""]),
        ("len:1:incl", b"\x03ab", [b"ab"]),
        ("len:4:le", b"\x02\x00\x00\x00\x00\x01", [b"\x00\x01"]),
        ("netstring", b"5:hello,0:,3:a,b,", [b"hello", b"", b"a,b"]),
        ("delim:\\r\\n", b"PING\r\n\r\nx\ny\r\n", [b"PING", b"", b"x\ny"]),
        ("delim:END", b"aENDbEND", [b"a", b"b"]),
        (
            "resp",
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\na b\r\n*1\r\n$4\r\nPING\r\n",
            [b"SET k a b", b"PING"],
        ),
        (
            "resp",
            b"+OK\r\n-ERR no such key\r\n:42\r\n#t\r\n,1.5\r\n",
            [b"OK", b"ERR no such key", b"42", b"t", b"1.5"],
        ),
        ("resp", b"$5\r\nhe\r\no\r\n$0\r\n\r\n$-1\r\n_\r\n", [b"he\r\no", b"", b"", b""]),
        ("resp", b"=15\r\ntxt:Some string\r\n", [b"Some string"]),
        ("resp", b"%2\r\n+a\r\n:1\r\n+b\r\n*2\r\n:2\r\n:3\r\n", [b"a 1 b 2 3"]),
        ("resp", b"|1\r\n+ttl\r\n:3600\r\n$2\r\nhi\r\n", [b"hi"]),  # attributes left out
        ("resp", b"*2\r\n|1\r\n+k\r\n+v\r\n:1\r\n|0\r\n:2\r\n", [b"1 2"]),
        ("resp", b"$?\r\n;2\r\nab\r\n;1\r\nc\r\n;0\r\n*?\r\n:1\r\n.\r\n", [b"abc", b"1"]),
        (
            "http",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\nPOST /p HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi",
            [
                b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                b"POST /p HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi",
            ],
        ),
    ],
)
def test_each_framing_gives_its_messages_payload(
    spec: str, stream: bytes, expected: list[bytes]
) -> None:
    assert payloads(spec, stream) == expected


def test_a_message_longer_than_its_record_gives_its_held_payload() -> None:
    spec = parse_framing("len:4")
    body = b"x" * (MAX_MESSAGE_BYTES + 10)
    (message,) = make_framer(spec).feed(encode(spec, body))
    assert message.whole_size == len(body) + 4
    assert payload_of(spec, message) == body[: MAX_MESSAGE_BYTES - 4]


# The framings whose encode makes one message of any bytes, and one that holds no delimiter.
ANY_BYTES = ("len:1", "len:2:be", "len:2:le:incl", "len:4", "len:8:le", "netstring")
WORD = st.binary(min_size=1, max_size=20).filter(
    lambda word: not any(byte in word for byte in b" \t\r\n\"'\\")
)


@given(st.sampled_from(ANY_BYTES), st.binary(max_size=255 - 2), CUTS)
def test_the_payload_of_an_encoded_message_is_what_was_encoded(
    spec: str, payload: bytes, fractions: list[float]
) -> None:
    stream = encode(parse_framing(spec), payload)
    assert payloads(spec, stream, cut(stream, fractions)) == [payload]


@given(st.binary(max_size=200).filter(lambda data: b"\r\n" not in data), CUTS)
def test_a_delimited_payload_is_what_was_encoded(payload: bytes, fractions: list[float]) -> None:
    stream = encode(parse_framing("delim:\\r\\n"), payload)
    assert payloads("delim:\\r\\n", stream, cut(stream, fractions)) == [payload]


@given(st.lists(WORD, min_size=1, max_size=6), CUTS)
def test_a_resp_command_s_payload_is_its_words(words: list[bytes], fractions: list[float]) -> None:
    text = b" ".join(words)
    stream = encode(parse_framing("resp"), text)
    assert payloads("resp", stream, cut(stream, fractions)) == [text]


@given(st.binary(max_size=200), CUTS)
@example(b"\n", [])  # a body of line ends only: it is no trailing blank line of a head
def test_an_http_message_s_payload_is_the_message(body: bytes, fractions: list[float]) -> None:
    message = b"POST /x HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    stream = encode(parse_framing("http"), message)
    assert payloads("http", stream, cut(stream, fractions)) == [message]
