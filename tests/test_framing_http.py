"""The HTTP/1.1 framing (workbench/framing/http1.py): requests and responses, bodies by
Content-Length, chunked and until close, bodiless responses, pipelining, bounds, errors that
resync, and the composer's encoding."""

from __future__ import annotations

import pytest
from framing_helpers import feed_pieces, held_bound, shape, split_at, total_size
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.framing.http1 import MAX_HEAD, HttpFramer, pair
from workbench.framing.messages import (
    MAX_MESSAGE_BYTES,
    FramingError,
    encode,
    make_framer,
    parse_framing,
)

HTTP = parse_framing("http")


def frame(data: bytes, spec: str = "http") -> list[tuple[str, str]]:
    """(summary, error) of each message `data` makes, the stream ended after it."""
    framer = make_framer(parse_framing(spec))
    messages = framer.feed(data) + framer.end()
    assert total_size(messages) == len(data)
    assert b"".join(m.data for m in messages) == data
    return [(m.summary, m.error) for m in messages]


CHUNKED_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Expires\r\n\r\n"
    b"4;name=value\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n"
    b"Expires: never\r\n\r\n"
)


@pytest.mark.parametrize(
    ("wire", "summary"),
    [
        (b"GET /index.html HTTP/1.1\r\nHost: example\r\n\r\n", "GET /index.html HTTP/1.1"),
        (b"POST /form HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", "POST /form HTTP/1.1 (5 bytes)"),
        (
            b"PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            "PUT /x HTTP/1.1 (3 bytes, chunked)",
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n" + b"x" * 1234,
            "HTTP/1.1 200 OK (1,234 bytes)",
        ),
        (CHUNKED_RESPONSE, "HTTP/1.1 200 OK (23 bytes, chunked)"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 200 OK (0 bytes)"),
        (b"HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n", "HTTP/1.1 204 No Content"),
        (b"HTTP/1.1 304 Not Modified\r\n\r\n", "HTTP/1.1 304 Not Modified"),
        (b"HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 100 Continue"),
        (
            b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nuntil the end",
            "HTTP/1.0 200 OK (13 bytes, until close)",
        ),
        (
            b"HTTP/1.1 404\r\nContent-Length: 1\r\n\r\nx",
            "HTTP/1.1 404 (1 byte)",
        ),
        (b"GET / HTTP/1.1\nHost: bare-lf\n\n", "GET / HTTP/1.1"),
        (b"\r\n\r\nGET / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1"),  # blank lines before: ignored
    ],
)
def test_a_message_is_one_record_with_its_start_line_and_body_size(
    wire: bytes, summary: str
) -> None:
    assert frame(wire) == [(summary, "")]


def test_control_characters_of_a_start_line_are_escaped_in_the_summary() -> None:
    """A target holding ESC and BEL is no request line: the error says so, escaped."""
    assert frame(b"GET /\x1b]2;x\x07 HTTP/1.1\r\n\r\n") == [
        ("GET /\\x1b]2;x\\x07 HTTP/1.1", "bad request line 'GET /\\\\x1b]2;x\\\\x07 HTTP/1.1'")
    ]


def test_the_fields_are_the_headers_then_the_trailers() -> None:
    (message,) = make_framer(HTTP).feed(CHUNKED_RESPONSE)
    assert message.fields == (
        ("Transfer-Encoding", "chunked"),
        ("Trailer", "Expires"),
        ("Expires (trailer)", "never"),
    )
    folded = b"GET / HTTP/1.1\r\nX-Long: one\r\n  two\r\nHost: h\r\n\r\n"
    (message,) = make_framer(HTTP).feed(folded)
    assert message.fields == (("X-Long", "one two"), ("Host", "h"))


def test_pipelined_messages_in_one_read_are_several_messages() -> None:
    requests = (
        b"".join(b"GET /%d HTTP/1.1\r\nHost: h\r\n\r\n" % i for i in range(3))
        + b"POST /p HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"
    )
    framer = make_framer(HTTP)
    messages = framer.feed(requests)
    assert [m.summary for m in messages] == [
        "GET /0 HTTP/1.1",
        "GET /1 HTTP/1.1",
        "GET /2 HTTP/1.1",
        "POST /p HTTP/1.1 (2 bytes)",
    ]
    assert framer.held == 0


def test_a_response_to_head_has_no_body_when_the_framer_is_told() -> None:
    """One direction cannot know a response answers HEAD: by default the framer waits for
    the body its Content-Length announces; told of the request (or with `nobody`), none."""
    head_answer = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
    next_answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    assumed = make_framer(HTTP)
    assert assumed.feed(head_answer + next_answer) == []
    assert [m.error for m in assumed.end()] == ["stream ended inside the body (40 of 100 bytes)"]

    told = make_framer(HTTP)
    assert isinstance(told, HttpFramer)
    told.expect_response_to("HEAD")
    told.expect_response_to("GET")
    summaries = [m.summary for m in told.feed(head_answer + next_answer)]
    assert summaries == ["HTTP/1.1 200 OK", "HTTP/1.1 200 OK (2 bytes)"]
    assert frame(head_answer * 2, "http:nobody") == [("HTTP/1.1 200 OK", "")] * 2


def test_paired_framers_know_which_response_answers_head() -> None:
    client, server = make_framer(HTTP), make_framer(HTTP)
    assert isinstance(client, HttpFramer) and isinstance(server, HttpFramer)
    pair(client, server)
    sent = client.feed(b"HEAD /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n")
    assert [m.summary for m in sent] == ["HEAD /a HTTP/1.1", "GET /b HTTP/1.1"]
    answers = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"
    answers += b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    assert [m.summary for m in server.feed(answers)] == [
        "HTTP/1.1 200 OK",
        "HTTP/1.1 200 OK (2 bytes)",
    ]


def test_an_interim_response_does_not_use_up_the_request_it_answers() -> None:
    framer = make_framer(HTTP)
    assert isinstance(framer, HttpFramer)
    framer.expect_response_to("HEAD")
    wire = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
    assert [m.summary for m in framer.feed(wire)] == ["HTTP/1.1 100 Continue", "HTTP/1.1 200 OK"]


def test_after_switching_protocols_the_stream_is_raw() -> None:
    framer = make_framer(HTTP)
    switch = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
    messages = framer.feed(switch + b"\x81\x05hello") + framer.feed(b"GET / HTTP/1.1\r\n\r\n")
    assert [(m.data, m.summary) for m in messages] == [
        (switch, "HTTP/1.1 101 Switching Protocols"),
        (b"\x81\x05hello", "7 bytes after HTTP/1.1 101 Switching Protocols (not HTTP)"),
        (b"GET / HTTP/1.1\r\n\r\n", "18 bytes after HTTP/1.1 101 Switching Protocols (not HTTP)"),
    ]
    assert framer.end() == []


def test_a_tunnel_after_connect_is_raw_when_the_framer_is_told() -> None:
    framer = make_framer(HTTP)
    assert isinstance(framer, HttpFramer)
    framer.expect_response_to("connect")
    messages = framer.feed(b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01")
    assert [m.summary for m in messages] == [
        "HTTP/1.1 200 Connection established",
        "3 bytes after HTTP/1.1 200 Connection established (not HTTP)",
    ]


@pytest.mark.parametrize(
    ("wire", "error"),
    [
        (b"HELLO\r\n\r\n", "bad request line 'HELLO'"),
        (b"GET / HTTP/1.1 extra\r\n\r\n", "bad request line 'GET / HTTP/1.1 extra'"),
        (b"HTTP/1.1 2000 OK\r\n\r\n", "bad status line 'HTTP/1.1 2000 OK'"),
        (b"HTTP/x 200 OK\r\n\r\n", "bad status line 'HTTP/x 200 OK'"),
        (b"GET / HTTP/1.1\r\nno colon\r\n\r\n", "bad header line 'no colon'"),
        (b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", "bad header line 'Bad Name: x'"),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "bad Content-Length '-1'"),
        (b"POST / HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n", "bad Content-Length '1, 2'"),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "bad Content-Length '1, 2'",
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            "a request's Transfer-Encoding does not end in chunked",
        ),
        (b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size 'zz'"),
        (b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", "bad chunk size ''"),
        (
            b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1234567890abcdef0\r\n",
            "bad chunk size '1234567890abcdef0'",
        ),
        (
            b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
            "chunk not followed by CRLF",
        ),
    ],
)
def test_malformed_input_is_an_error_in_words_and_the_framer_reads_on(
    wire: bytes, error: str
) -> None:
    after = b"GET /after HTTP/1.1\r\n\r\n"
    framed = frame(wire + after)
    assert [e for _, e in framed[:1]] == [error]
    assert framed[-1] == ("GET /after HTTP/1.1", "")


def test_a_content_length_list_of_equal_values_is_one_length() -> None:
    wire = b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok"
    assert frame(wire) == [("HTTP/1.1 200 OK (2 bytes)", "")]


def test_an_oversized_head_comes_out_in_bounded_error_pieces() -> None:
    framer = make_framer(parse_framing("http:head=1024"))
    wire = b"GET / HTTP/1.1\r\n" + b"X-Big: " + b"a" * 5000 + b"\r\n\r\n"
    messages = feed_pieces(framer, split_at(wire, range(0, len(wire), 100)), bound=1024)
    assert [(m.whole_size, m.error) for m in messages[:4]] == [
        (1024, "head longer than 1,024 bytes")
    ] * 4
    assert total_size(messages) == len(wire)


def test_the_default_head_bound_is_64_kib() -> None:
    framer = make_framer(HTTP)
    messages = framer.feed(b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * MAX_HEAD)
    assert [m.error for m in messages] == ["head longer than 65,536 bytes"]
    assert framer.held < MAX_HEAD


def test_a_chunk_size_line_is_bounded() -> None:
    framer = make_framer(HTTP)
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    messages = framer.feed(head + b"5;" + b"e" * 5000)
    assert [m.error for m in messages][:1] == ["chunk size line longer than 1,024 bytes"]
    assert framer.held <= MAX_HEAD


def test_a_big_chunked_body_streams_through_and_comes_out_cut() -> None:
    """5 MiB in 64 KiB chunks: framed whole, only MAX_MESSAGE_BYTES held, `size` the whole."""
    chunk = bytes(range(256)) * 256
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(80)) + b"0\r\n\r\n"
    wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body
    framer = make_framer(HTTP)
    pieces = split_at(wire + b"HTTP/1.1 204 No Content\r\n\r\n", range(0, len(wire), 60_000))
    big, after = feed_pieces(framer, pieces, held_bound(MAX_HEAD))
    assert big.size == len(wire) and big.data == wire[:MAX_MESSAGE_BYTES]
    assert big.summary == f"HTTP/1.1 200 OK ({80 * len(chunk):,} bytes, chunked)"
    assert ("held", f"{MAX_MESSAGE_BYTES:,} of {len(wire):,} bytes") in big.fields
    assert after.summary == "HTTP/1.1 204 No Content"


@pytest.mark.parametrize(
    ("wire", "error"),
    [
        (b"GET / HTTP/1.1\r\nHost:", "stream ended inside a head"),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc",
            "stream ended inside the body (3 of 9 bytes)",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            "stream ended inside a chunk",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5",
            "stream ended inside a chunk size line",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n",
            "stream ended inside the trailers",
        ),
    ],
)
def test_what_is_held_at_the_end_comes_out_as_an_error(wire: bytes, error: str) -> None:
    framer = make_framer(HTTP)
    assert framer.feed(wire) == []
    (message,) = framer.end()
    assert (message.data, message.error) == (wire, error)
    assert framer.held == 0 and framer.end() == []


def test_blank_lines_at_the_end_are_no_error() -> None:
    assert frame(b"GET / HTTP/1.1\r\n\r\n\r\n") == [("GET / HTTP/1.1", ""), ("blank lines", "")]


# --- any stream of messages, split anywhere ---

TOKEN = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=8
)
VALUE = st.text("abc xyz/;=,0123456789", max_size=12).map(str.strip)
HEADERS = st.lists(
    st.tuples(
        TOKEN.filter(lambda n: n.lower() not in ("content-length", "transfer-encoding")), VALUE
    ),
    max_size=3,
)
BODY = st.binary(max_size=40)


@st.composite
def bodies(draw: st.DrawFn, response: bool) -> tuple[list[tuple[str, str]], bytes]:
    """Headers that frame a body, and the body's bytes on the wire."""
    how = draw(st.sampled_from(["none", "length", "chunked"]))
    body = draw(BODY)
    if how == "none" and not response:
        return [], b""
    if how == "length" or how == "none":
        return [("Content-Length", str(len(body)))], body
    cuts = draw(st.lists(st.integers(0, len(body))))
    chunks = split_at(body, cuts) if body else []
    ext = draw(st.sampled_from(["", ";a=b", " ;x"]))
    wire = b"".join(b"%x%s\r\n%s\r\n" % (len(c), ext.encode(), c) for c in chunks)
    trailers = draw(HEADERS)
    wire += b"0\r\n" + b"".join(f"{n}: {v}\r\n".encode() for n, v in trailers) + b"\r\n"
    return [("Transfer-Encoding", "chunked")], wire


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    headers = draw(HEADERS)
    if draw(st.booleans()):
        status = draw(st.sampled_from([100, 103, 200, 201, 204, 304, 404, 500]))
        start = f"HTTP/1.1 {status} {draw(VALUE)}".rstrip()
        framing, body = (
            draw(bodies(True)) if status >= 200 and status not in (204, 304) else ([], b"")
        )
    else:
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "OPTIONS"]))
        start = f"{method} /{draw(TOKEN)} HTTP/1.{draw(st.sampled_from([0, 1]))}"
        framing, body = draw(bodies(False))
    head = start + "\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers + framing) + "\r\n"
    return head.encode() + body


@settings(max_examples=300, deadline=None)
@given(stream=st.lists(messages(), min_size=1, max_size=5), cuts=st.lists(st.integers(0, 3000)))
def test_any_stream_of_messages_split_anywhere_makes_the_same_messages(
    stream: list[bytes], cuts: list[int]
) -> None:
    wire = b"".join(stream)
    whole = feed_pieces(make_framer(HTTP), [wire])
    assert [m.data for m in whole] == stream
    assert [m.error for m in whole] == [""] * len(stream)
    pieces = split_at(wire, [cut % (len(wire) + 1) for cut in cuts])
    assert shape(feed_pieces(make_framer(HTTP), pieces)) == shape(whole)
    one_byte_at_a_time = [wire[i : i + 1] for i in range(len(wire))]
    assert shape(feed_pieces(make_framer(HTTP), one_byte_at_a_time)) == shape(whole)


NOISE_TOKENS = st.sampled_from(
    [b"GET / HTTP/1.1", b"HTTP/1.1 200 OK", b"HTTP/1.1 101 x", b"\r\n", b"\n", b"\r",
     b"Content-Length: 5", b"Content-Length: x", b"Transfer-Encoding: chunked", b"ffff",
     b"0", b";", b":", b" ", b"\x00", b"zz", b"99999999999999999999"]
)  # fmt: skip
NOISE = st.one_of(st.binary(max_size=300), st.lists(NOISE_TOKENS, max_size=60).map(b"".join))


@settings(max_examples=400, deadline=None)
@given(
    noise=st.lists(st.one_of(NOISE, messages()), max_size=6).map(b"".join),
    cuts=st.lists(st.integers(0, 3000)),
)
def test_arbitrary_bytes_never_raise_and_what_is_held_stays_bounded(
    noise: bytes, cuts: list[int]
) -> None:
    """Every byte fed comes out in exactly one message, and nothing is held after the end."""
    framer = HttpFramer(max_head=256)
    messages = feed_pieces(framer, split_at(noise, cuts), bound=held_bound(1024))
    assert total_size(messages) == len(noise)
    assert b"".join(m.data for m in messages) == noise
    assert framer.held == 0


# --- parameters ---


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "http:head=10",
            "http: head= takes a whole number 256-1,073,741,824, not '10' (or nobody)",
        ),
        ("http:body", "http: unknown parameter 'body' (known: head=N) (or nobody)"),
    ],
)
def test_bad_parameters_are_refused_in_words(text: str, error: str) -> None:
    with pytest.raises(FramingError) as caught:
        parse_framing(text)
    assert str(caught.value) == error


def test_good_parameters_are_taken() -> None:
    framer = make_framer(parse_framing("http:head=4096:nobody"))
    assert isinstance(framer, HttpFramer)
    assert (framer.max_head, framer.nobody) == (4096, True)


# --- the composer's send ---


@pytest.mark.parametrize(
    ("typed", "wire"),
    [
        (b"GET / HTTP/1.1\nHost: x", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        (b"GET / HTTP/1.1\r\nHost: x\n\n", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        (b"HTTP/1.1 204 No Content\n", b"HTTP/1.1 204 No Content\r\n\r\n"),
        # a body: as it is (its bytes are the user's), and anything that is no head
        (
            b"POST / HTTP/1.1\nContent-Length: 3\n\nhi\n",
            b"POST / HTTP/1.1\nContent-Length: 3\n\nhi\n",
        ),
        (b"hello\n", b"hello\n"),
        (b"", b""),
    ],
)
def test_a_head_without_a_body_is_sent_with_crlf_and_its_blank_line(
    typed: bytes, wire: bytes
) -> None:
    assert encode(HTTP, typed) == wire


@pytest.mark.parametrize(
    ("written", "sent"),
    [
        (b"HTTP/1.1 200 OK\n\nhi bob", b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhi bob"),
        (
            b"POST /x HTTP/1.1\nHost: a\n\nbody",
            b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody",
        ),
        # counted already, chunked, no body, a status without a body, no HTTP: as written
        (b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi", None),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", None),
        (b"HTTP/1.1 200 OK\r\n\r\n", None),
        (b"HTTP/1.1 304 Not Modified\r\n\r\nx", None),
        (b"hello\n\nworld", None),
    ],
)
def test_a_written_message_with_a_body_gets_the_length_of_it(
    written: bytes, sent: bytes | None
) -> None:
    from workbench.framing.http1 import with_content_length

    message = with_content_length(written)
    assert message == (written if sent is None else sent)
    if sent is not None:  # and it frames as one whole message
        (framed,) = make_framer(HTTP).feed(message)
        assert framed.data == message and not framed.error
