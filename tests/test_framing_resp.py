"""The RESP framing (workbench/framing/resp.py): one message per top-level RESP2/RESP3 value,
summaries, bounds, errors that resync, and the composer's encoding."""

from __future__ import annotations

import pytest
from framing_helpers import feed_pieces, held_bound, shape, split_at, total_size
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.framing.messages import (
    MAX_MESSAGE_BYTES,
    FramingError,
    encode,
    make_framer,
    parse_framing,
    payload_of,
)
from workbench.framing.resp import RespFramer, split_words

RESP = parse_framing("resp")


def frame(data: bytes, spec: str = "resp") -> list[tuple[str, str]]:
    """(summary, error) of each message `data` makes, the stream ended after it."""
    framer = make_framer(parse_framing(spec))
    messages = framer.feed(data) + framer.end()
    assert total_size(messages) == len(data)
    return [(m.summary, m.error) for m in messages]


@pytest.mark.parametrize(
    ("wire", "summary"),
    [
        (b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\na b\r\n", '*3 SET k "a b"'),
        (b"+OK\r\n", "+OK"),
        (b"-ERR unknown command\r\n", "-ERR unknown command"),
        (b":42\r\n", ":42"),
        (b":-7\r\n", ":-7"),
        (b"$5\r\nhello\r\n", "$5 hello"),
        (b"$0\r\n\r\n", '$0 ""'),
        (b"$-1\r\n", "$-1 (nil)"),
        (b"*-1\r\n", "*-1 (nil)"),
        (b"*0\r\n", "*0"),
        (b"_\r\n", "_ (null)"),
        (b"#t\r\n", "#t"),
        (b",3.14\r\n", ",3.14"),
        (b",-inf\r\n", ",-inf"),
        (b",1.5e-05\r\n", ",1.5e-05"),
        (
            b"(3492890328409238509324850943850943825024385\r\n",
            "(3492890328409238509324850943850943825024385",
        ),
        (b"!21\r\nSYNTAX invalid syntax\r\n", '!21 "SYNTAX invalid syntax"'),
        (b"=15\r\ntxt:Some string\r\n", '=15 "txt:Some string"'),
        (b"%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n", "%2 {first: 1, second: 2}"),
        (b"~2\r\n+orange\r\n#t\r\n", "~2 orange true"),
        (b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n", ">3 message ch hi"),
        (b"*2\r\n*3\r\n:1\r\n$5\r\nhello\r\n:2\r\n#f\r\n", "*2 [3] false"),
        (b"*3\r\n_\r\n-ERR x\r\n%1\r\n+a\r\n+b\r\n", "*3 (nil) (error ERR x) {1}"),
        (b"$?\r\n;4\r\nHell\r\n;6\r\no worl\r\n;1\r\nd\r\n;0\r\n", '$? "Hello world"'),
        (b"*?\r\n:1\r\n:2\r\n.\r\n", "*? 1 2"),
        (b"%?\r\n+a\r\n:1\r\n.\r\n", "%? {a: 1}"),
        (b"$70\r\n" + b"x" * 70 + b"\r\n", "$70 " + "x" * 64 + "..."),
        (b"$2\r\n\x1b]\r\n", '$2 "\\x1b]"'),
    ],
)
def test_a_value_is_one_message_with_the_summary_a_person_wants(wire: bytes, summary: str) -> None:
    assert frame(wire) == [(summary, "")]


def test_an_attribute_comes_out_with_the_value_it_describes() -> None:
    """RESP3: an attribute is no value of its own, at the top or nested (it does not count as
    an element of the aggregate it is in)."""
    top = b"|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n"
    top += b"*2\r\n:2039123\r\n:9543892\r\n"
    nested = b"*3\r\n:1\r\n:2\r\n|1\r\n+ttl\r\n:3600\r\n:3\r\n"
    framer = make_framer(RESP)
    messages = framer.feed(top + nested)
    assert [m.summary for m in messages] == [
        "|1 {key-popularity: {2}} *2 2039123 9543892",
        "*3 1 2 3",
    ]
    assert messages[0].data == top and messages[1].data == nested
    assert dict(messages[0].fields) == {"type": "array", "attributes": "1"}
    assert framer.held == 0


def test_peer_text_in_a_summary_is_escaped() -> None:
    """Control characters, bidi overrides and bytes that are not UTF-8 show as escapes (the
    view still passes summaries through the sanitizer)."""
    assert frame(b"+\x1b]2;title\x07\r\n-ERR \xe2\x80\xae\xff\r\n") == [
        ("+\\x1b]2;title\\x07", ""),
        ("-ERR \\u202e\\xff", ""),
    ]
    assert frame(b"*2\r\n$2\r\n\x1b[\r\n+\xe2\x80\x8b\r\n") == [('*2 "\\x1b[" "\\u200b"', "")]


def test_a_long_aggregate_shows_its_first_elements() -> None:
    wire = b"*40\r\n" + b":7\r\n" * 40
    ((summary, error),) = frame(wire)
    assert summary == "*40 " + " ".join(["7"] * 16) + " ..." and not error


@pytest.mark.parametrize(
    ("wire", "error"),
    [
        (b"?PING\r\n", "'?' is no RESP type byte"),
        (b'GET "k\r\n', 'inline command: unclosed " quote in "GET \\"k"'),
        (b"\x00x\r\n", "'\\\\x00' is no RESP type byte"),
        (b"$abc\r\n", "bulk string length 'abc' is no number"),
        (b"$-2\r\n", "bulk string length '-2' is no number"),
        (b"*x\r\n", "array count 'x' is no number"),
        (b":12a\r\n", "integer '12a' is no whole number"),
        (b"#x\r\n", "boolean 'x' is not t or f"),
        (b",1.2.3\r\n", "double '1.2.3' is no number"),
        (b"_x\r\n", "null with something after `_`"),
        (b"+OK\n", "line ends in LF without CR"),
        (b"\r\n", "empty line where a RESP value should start"),
        (b".\r\n", "'.' outside a streamed aggregate"),
        (b";4\r\n", "';4' outside a streamed string"),
        (b"$3\r\nabcd\r\n", "bulk string of 3 bytes not followed by CRLF"),
    ],
)
def test_malformed_input_is_an_error_in_words_and_the_framer_resyncs(
    wire: bytes, error: str
) -> None:
    assert frame(wire + b"+after\r\n") == [(frame_summary(wire), error), ("+after", "")]


def test_a_line_that_starts_with_a_letter_is_an_inline_command_as_redis_reads_it() -> None:
    """What nc or telnet send to a Redis server: a line, CRLF or LF, its words split as
    redis-cli splits them; framed among RESP values, and matched by its words."""
    spec = parse_framing("resp")
    framer = make_framer(spec)
    wire = b'PING\r\nSET k "a b"\n*1\r\n$4\r\nPING\r\n'
    messages = framer.feed(wire)
    assert [(m.summary, m.error) for m in messages] == [
        ("inline PING", ""),
        ('inline SET k "a b"', ""),
        ("*1 PING", ""),
    ]
    assert [payload_of(spec, m) for m in messages] == [b"PING", b"SET k a b", b"PING"]
    assert dict(messages[1].fields) == {"type": "inline command", "words": "3"}


def frame_summary(wire: bytes) -> str:
    from workbench.framing.text_protocols import line_text

    return line_text(wire)


def test_a_bad_line_inside_an_aggregate_makes_the_aggregate_so_far_one_error() -> None:
    framer = make_framer(RESP)
    wire = b"*3\r\n:1\r\n?oops\r\n"
    messages = framer.feed(wire + b":2\r\n")
    assert [(m.data, m.error) for m in messages] == [
        (wire, "'?' is no RESP type byte"),
        (b":2\r\n", ""),
    ]
    assert framer.held == 0


def test_a_bulk_length_past_the_maximum_is_an_error_and_nothing_is_held_for_it() -> None:
    framer = make_framer(parse_framing("resp:bulk=100"))
    messages = framer.feed(b"$101\r\n")
    assert [m.error for m in messages] == ["bulk string length 101 > max 100"]
    assert framer.held == 0
    assert frame(b"$536870913\r\n") == [
        ("$536870913\\r\\n", "bulk string length 536,870,913 > max 536,870,912")
    ]


def test_an_aggregate_count_past_the_maximum_is_an_error() -> None:
    assert frame(b"*11\r\n", "resp:count=10") == [("*11\\r\\n", "array count 11 > max 10")]
    assert frame(b"%10\r\n" + b":1\r\n" * 20, "resp:count=10")[0] == (
        "%10 {1: 1, 1: 1, 1: 1, 1: 1, 1: 1, 1: 1, 1: 1, 1: 1, ...}",
        "",
    )


def test_nesting_is_bounded() -> None:
    wire = b"*1\r\n" * 5
    assert frame(wire + b":1\r\n", "resp:depth=5") == [("*1 [1]", "")]
    messages = make_framer(parse_framing("resp:depth=4")).feed(wire + b":1\r\n")
    assert [(m.data, m.error) for m in messages] == [
        (wire, "aggregates nested deeper than 4"),
        (b":1\r\n", ""),
    ]


def test_a_line_past_the_maximum_is_skipped_to_its_end_holding_a_bounded_part() -> None:
    framer = make_framer(parse_framing("resp:line=16"))
    long_line = b"+" + b"a" * 3_000_000 + b"\r\n"
    pieces = split_at(long_line + b":1\r\n", range(0, 4_000_000, 9999))
    messages = feed_pieces(framer, pieces, held_bound(0))
    assert [(m.whole_size, m.error) for m in messages] == [
        (len(long_line), "line longer than 16 bytes"),
        (4, ""),
    ]
    assert messages[0].data == long_line[:MAX_MESSAGE_BYTES]


def test_a_bulk_string_bigger_than_a_record_streams_through_and_comes_out_cut() -> None:
    """A 5 MiB value is framed whole but only MAX_MESSAGE_BYTES of it are held: the message
    holds those and says the whole size."""
    body = bytes(range(256)) * (5 * 4096)
    wire = b"$%d\r\n%s\r\n" % (len(body), body)
    framer = make_framer(RESP)
    pieces = split_at(wire + b"+OK\r\n", range(0, len(wire), 65536))
    messages = feed_pieces(framer, pieces, held_bound(64 * 1024 + 100))
    big, ok = messages
    assert big.size == len(wire) and len(big.data) == MAX_MESSAGE_BYTES
    assert big.data == wire[:MAX_MESSAGE_BYTES]
    assert big.summary.startswith(f"${len(body)} ") and not big.error
    assert ("held", f"{MAX_MESSAGE_BYTES:,} of {len(wire):,} bytes") in big.fields
    assert ok.summary == "+OK"


@pytest.mark.parametrize(
    ("wire", "error"),
    [
        (b"$10\r\nabc", "stream ended inside a bulk string (3 of 10 bytes)"),
        (b"*2\r\n:1\r\n", "stream ended inside an array of 2"),
        (b"*?\r\n:1\r\n", "stream ended inside a streamed array"),
        (b"$?\r\n;3\r\nabc\r\n", "stream ended inside a streamed string"),
        (b"+OK", "stream ended inside a line"),
        (b"|1\r\n+ttl\r\n:1\r\n", "stream ended inside the value an attribute describes"),
    ],
)
def test_what_is_held_at_the_end_comes_out_as_an_error(wire: bytes, error: str) -> None:
    framer = make_framer(RESP)
    assert framer.feed(wire) == []
    (message,) = framer.end()
    assert (message.data, message.error) == (wire, error)
    assert framer.held == 0 and framer.end() == []


# --- any stream of values, split anywhere ---

LINE_TEXT = st.text(
    st.characters(blacklist_characters="\r\n", blacklist_categories=["Cs"]), max_size=12
)


def bulk(kind: bytes, body: bytes) -> bytes:
    return kind + b"%d\r\n%s\r\n" % (len(body), body)


def streamed(parts: list[bytes]) -> bytes:
    return b"$?\r\n" + b"".join(b";%d\r\n%s\r\n" % (len(p), p) for p in parts) + b";0\r\n"


SCALARS = st.one_of(
    st.binary(max_size=12).map(lambda b: bulk(b"$", b)),
    st.binary(max_size=8).map(lambda b: bulk(b"!", b)),
    st.binary(max_size=8).map(lambda b: bulk(b"=", b"txt:" + b)),
    LINE_TEXT.map(lambda t: b"+" + t.encode() + b"\r\n"),
    LINE_TEXT.map(lambda t: b"-ERR " + t.encode() + b"\r\n"),
    st.integers(-(2**63), 2**63 - 1).map(lambda n: b":%d\r\n" % n),
    st.integers(-(10**40), 10**40).map(lambda n: b"(%d\r\n" % n),
    st.floats(allow_nan=False).map(lambda x: b",%s\r\n" % repr(x).encode()),
    st.sampled_from([b"_\r\n", b"#t\r\n", b"#f\r\n", b"$-1\r\n", b"*-1\r\n", b",nan\r\n"]),
    st.lists(st.binary(min_size=1, max_size=6), max_size=3).map(streamed),
)


def aggregates(children: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    items = st.lists(children, max_size=4)
    pairs = st.lists(st.tuples(children, children), max_size=3)
    return st.one_of(
        st.tuples(st.sampled_from([b"*", b"~", b">"]), items).map(
            lambda t: t[0] + b"%d\r\n" % len(t[1]) + b"".join(t[1])
        ),
        pairs.map(lambda ps: b"%%%d\r\n" % len(ps) + b"".join(k + v for k, v in ps)),
        st.tuples(st.sampled_from([b"*", b"~"]), items).map(
            lambda t: t[0] + b"?\r\n" + b"".join(t[1]) + b".\r\n"
        ),
        pairs.map(lambda ps: b"%?\r\n" + b"".join(k + v for k, v in ps) + b".\r\n"),
        st.tuples(pairs, children).map(
            lambda t: b"|%d\r\n" % len(t[0]) + b"".join(k + v for k, v in t[0]) + t[1]
        ),
    )


VALUES = st.recursive(SCALARS, aggregates, max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(VALUES, min_size=1, max_size=6), cuts=st.lists(st.integers(0, 2000)))
def test_any_stream_of_values_split_anywhere_makes_the_same_messages(
    values: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(values)
    whole = feed_pieces(make_framer(RESP), [stream])
    assert [m.data for m in whole] == values
    assert [m.error for m in whole] == [""] * len(values)
    pieces = split_at(stream, [cut % (len(stream) + 1) for cut in cuts])
    assert shape(feed_pieces(make_framer(RESP), pieces)) == shape(whole)
    one_byte_at_a_time = [stream[i : i + 1] for i in range(len(stream))]
    assert shape(feed_pieces(make_framer(RESP), one_byte_at_a_time)) == shape(whole)


TOKENS = st.sampled_from(
    [
        b"*",
        b"$",
        b"%",
        b"~",
        b"|",
        b">",
        b"?",
        b".",
        b";",
        b"-1",
        b"2",
        b"99",
        b"\r\n",
        b"\n",
        b"\r",
        b"+OK",
        b":",
        b"#t",
        b"x",
        b"\x00",
        b"9999999999999999999999",
    ]
)
NOISE = st.one_of(st.binary(max_size=300), st.lists(TOKENS, max_size=80).map(b"".join))


@settings(max_examples=400, deadline=None)
@given(
    noise=st.lists(st.one_of(NOISE, VALUES), max_size=6).map(b"".join),
    cuts=st.lists(st.integers(0, 3000)),
)
def test_arbitrary_bytes_never_raise_and_what_is_held_stays_bounded(
    noise: bytes, cuts: list[int]
) -> None:
    """Every byte fed comes out in exactly one message, and nothing is held after the end."""
    framer = RespFramer(max_bulk=64, max_count=8, max_depth=3, max_line=32)
    messages = feed_pieces(framer, split_at(noise, cuts), bound=32 + 2 + 64 + MAX_MESSAGE_BYTES)
    assert total_size(messages) == len(noise)
    assert b"".join(m.data for m in messages) == noise
    assert framer.held == 0


# --- parameters ---


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("resp:bulk=x", "resp: bulk= takes a whole number 0-9,223,372,036,854,775,807, not 'x'"),
        ("resp:depth=0", "resp: depth= takes a whole number 1-10,000, not '0'"),
        (
            "resp:size=1",
            "resp: unknown parameter 'size=1' (known: bulk=N, count=N, depth=N, line=N)",
        ),
        ("resp:bulk=1:bulk=2", "resp: bulk= given twice"),
        ("resp:1", "resp: unknown parameter '1' (known: bulk=N, count=N, depth=N, line=N)"),
    ],
)
def test_bad_parameters_are_refused_in_words(text: str, error: str) -> None:
    with pytest.raises(FramingError) as caught:
        parse_framing(text)
    assert str(caught.value) == error


# --- the composer's send ---


@pytest.mark.parametrize(
    ("typed", "wire"),
    [
        (b'SET k "a b"', b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\na b\r\n"),
        (b"PING", b"*1\r\n$4\r\nPING\r\n"),
        (b"  GET   k  ", b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"),
        (b'SET k "\\x00\\"\\n\\\\"', b'*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\n\x00"\n\\\r\n'),
        (b"SET k 'it\\'s \"x\"'", b'*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$8\r\nit\'s "x"\r\n'),
        (b'SET k ""', b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"),
        (b"PING\nPING\r\n", b"*1\r\n$4\r\nPING\r\n" * 2),
        (b"", b""),
        (b"+OK\r\n", b"+OK\r\n"),
        (b"*1\r\n$4\r\nPING\r\n", b"*1\r\n$4\r\nPING\r\n"),
        (b"+OK", b"*1\r\n$3\r\n+OK\r\n"),  # no CRLF at its end: words
    ],
)
def test_the_composer_line_becomes_a_resp_array_of_bulk_strings(typed: bytes, wire: bytes) -> None:
    assert encode(RESP, typed) == wire


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        (b'SET k "a b', 'unclosed " quote in'),
        (b"SET k 'a", "unclosed ' quote in"),
        (b'SET k "a"b', "a closing quote must end the word (at byte 9) in"),
    ],
)
def test_unbalanced_quotes_are_refused_in_words(typed: bytes, error: str) -> None:
    with pytest.raises(FramingError) as caught:
        encode(RESP, typed)
    assert str(caught.value).startswith(error)


@given(words=st.lists(st.binary(max_size=10), min_size=1, max_size=5))
def test_any_words_quoted_with_escapes_split_back_to_themselves(words: list[bytes]) -> None:
    typed = b" ".join(b'"' + b"".join(b"\\x%02x" % byte for byte in word) + b'"' for word in words)
    assert split_words(typed) == words
    ((summary, error),) = frame(encode(RESP, typed))
    assert summary.startswith(f"*{len(words)} ") and not error
