"""HTTP/1.1 messages: a request or a response (its head and its body) per message.

    http                      the defaults below
    http:head=N               the longest head (start line and headers), default 64 KiB
    http:nobody               responses have no body (the answers to HEAD requests)

A framer sees one direction of a connection, so it tells requests from responses by each
message's start line: `HTTP/x.y NNN reason` is a response, `METHOD target HTTP/x.y` a
request (a stream may even hold both). The body is framed as RFC 9112 says (section 6.3):
- a response 1xx, 204 or 304 has none; after `101 Switching Protocols` the stream is no longer
  HTTP and what follows comes out as raw pieces, one per read;
- Transfer-Encoding ending in `chunked`: chunks (with extensions) up to the zero chunk and its
  trailers (shown as fields, after the headers);
- else Content-Length (one value, or equal ones in a list);
- else a request has none and a response runs until the connection closes (it comes out at
  the stream's end).
A response to HEAD, or a 2xx to CONNECT, has a body's headers but no body, and one direction
cannot know which request it answers: the framer assumes a body, unless it is told:
`pair(a, b)` links the framers of a connection's two directions (each request one frames,
the other expects), `expect_response_to(method)` tells one framer of a request seen the
other way, and `http:nobody` says no response has a body. Pipelining: several messages in
one read are several messages, and a message split across reads is one.

The summary is the start line, with the body's size when there is one: `GET /index.html
HTTP/1.1`, `HTTP/1.1 200 OK (1,234 bytes, chunked)`, `(... bytes, until close)`; the fields
are the headers, in order. The body counts the bytes of the content (chunked: the chunks'
data), the message's `size` every byte on the wire.

Bounds: a head longer than `head=` is an error (it comes out in pieces of that size, each an
error, so nothing grows); a chunk size line longer than 1 KiB or that is no hexadecimal
number is an error; a body of any size streams through, its first MAX_MESSAGE_BYTES held
(with the head) and `size` the whole. After an error (a bad start line, a bad header line,
a bad Content-Length or chunk size, a chunk not followed by CRLF: the rest of its line is
skipped), what was read of the message comes out with `error`, and the framer reads what
follows as a new message.

`encode(spec, payload)`: a payload is sent as it is, except a head without a body (a start
line and headers, nothing after a blank line, no Transfer-Encoding and no Content-Length but
0): its line ends become CRLF (a bare LF is made CRLF) and it ends with the blank line, so
typing `GET / HTTP/1.1` and `Host: x` on two lines sends a whole request.
"""

from __future__ import annotations

from collections import deque

from workbench.framing.messages import FramingError, FramingSpec, Message
from workbench.framing.text_protocols import CappedBytes, int_options, line_text

MAX_HEAD = 64 * 1024
MAX_CHUNK_LINE = 1024
# How many requests `expect_response_to` remembers (the oldest are forgotten).
MAX_EXPECTED = 1024

_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SPACES = b" \t"
_HEX = frozenset(b"0123456789abcdefABCDEF")

# What the framer is reading.
HEAD, LENGTH, CHUNK_SIZE, CHUNK_DATA, CHUNK_END, TRAILERS, UNTIL_CLOSE, RAW, SKIP = range(9)


def _options(spec: FramingSpec) -> tuple[int, bool]:
    nobody = "nobody" in spec.params
    rest = FramingSpec(spec.name, tuple(p for p in spec.params if p != "nobody"), spec.text)
    try:
        options = int_options(rest, {"head": (256, 1 << 30, MAX_HEAD)})
    except FramingError as error:
        raise FramingError(f"{error} (or nobody)") from None
    return options["head"], nobody


def check(spec: FramingSpec) -> None:
    _options(spec)


def framer(spec: FramingSpec) -> HttpFramer:
    max_head, nobody = _options(spec)
    return HttpFramer(max_head, nobody)


class HttpFramer:
    """Frames one direction of an HTTP/1.x connection (see the module's docstring)."""

    def __init__(self, max_head: int = MAX_HEAD, nobody: bool = False) -> None:
        self.max_head = max_head
        self.nobody = nobody
        self._expected: deque[str] = deque(maxlen=MAX_EXPECTED)
        self._answerer: HttpFramer | None = None  # frames the other direction (pair())
        self._method = ""  # the method of the request being read
        self._state = HEAD
        self._head = bytearray()  # the head being read (or a chunk size line, or trailers)
        self._message = CappedBytes()
        self._left = 0  # bytes of a body (LENGTH) or a chunk (CHUNK_DATA) still to come
        self._body = 0  # the body's bytes so far
        self._start_line = ""
        self._fields: list[tuple[str, str]] = []
        self._how = ""  # "", "chunked" or "until close"
        self._after_switch = ""  # why the stream is raw (RAW)
        self._skip_error = ""  # what is wrong, while skipping to the next line end (SKIP)

    @property
    def held(self) -> int:
        return len(self._head) + len(self._message)

    def expect_response_to(self, method: str) -> None:
        """A request `method` was seen the other way: the response it gets is framed knowing
        it (no body for HEAD, a tunnel after a 2xx to CONNECT)."""
        self._expected.append(method.upper())

    def pair_with(self, other: object) -> None:
        """The other direction of this connection (see `pair`)."""
        pair(self, other)

    def feed(self, data: bytes) -> list[Message]:
        out: list[Message] = []
        view = memoryview(data)
        pos, end = 0, len(data)
        while pos < end:
            state = self._state
            if state == HEAD:
                pos = self._read_head(data, pos, out)
            elif state in (LENGTH, CHUNK_DATA):
                take = min(self._left, end - pos)
                self._message.add(view[pos : pos + take])
                self._body += take
                self._left -= take
                pos += take
                if not self._left:
                    if state == LENGTH:
                        self._emit(out)
                    else:
                        self._state = CHUNK_END
            elif state == CHUNK_END:
                pos = self._read_chunk_end(data, pos, out)
            elif state in (CHUNK_SIZE, TRAILERS):
                pos = self._read_line(data, pos, out)
            elif state == SKIP:
                lf = data.find(b"\n", pos)
                stop = end if lf < 0 else lf + 1
                self._message.add(view[pos:stop])
                pos = stop
                if lf >= 0:
                    self._emit_error(self._skip_error, out)
            elif state == UNTIL_CLOSE:
                self._message.add(view[pos:end])
                self._body += end - pos
                pos = end
            else:  # RAW
                summary = f"{end - pos:,} bytes after {self._after_switch} (not HTTP)"
                out.append(Message(data[pos:end], -1, summary))
                pos = end
        return out

    def end(self) -> list[Message]:
        out: list[Message] = []
        state = self._state
        if state == UNTIL_CLOSE:
            self._emit(out)
        elif state == HEAD and self._head:
            if not self._head.strip(b"\r\n"):
                self._message.add(self._head)
                self._head.clear()
                data, _ = self._message.take()
                out.append(Message(data, -1, "blank lines"))
            else:
                self._message.add(self._head)
                self._head.clear()
                self._emit_error("stream ended inside a head", out)
        elif state == SKIP:
            self._emit_error(self._skip_error, out)
        elif state not in (HEAD, RAW):
            self._message.add(self._head)
            self._head.clear()
            where = {
                LENGTH: f"the body ({self._body:,} of {self._body + self._left:,} bytes)",
                CHUNK_SIZE: "a chunk size line",
                CHUNK_DATA: "a chunk",
                CHUNK_END: "a chunk",
                TRAILERS: "the trailers",
            }[state]
            self._emit_error(f"stream ended inside {where}", out)
        return out

    # --- the head ---

    def _read_head(self, data: bytes, pos: int, out: list[Message]) -> int:
        stop = min(len(data), pos + self.max_head - len(self._head))
        if not self._head:  # the common case: the head is in this read, found without a copy
            lead = _blank_lead(data, pos, stop)
            found = _head_end(data, lead, stop)
            if found >= 0:
                whole = data[pos:found]
                self._message.add(whole)
                self._read_message_head(whole[lead - pos :], out)
                return found
        old = len(self._head)
        self._head += data[pos:stop]
        head = self._head
        lead = _blank_lead(head, 0, len(head))
        found = _head_end(head, max(lead, old - 3), len(head))
        if found < 0:
            if len(head) >= self.max_head:
                self._message.add(head)
                head.clear()
                self._emit_error(f"head longer than {self.max_head:,} bytes", out)
            return stop
        given_back = len(head) - found
        whole = bytes(head[:found])
        head.clear()
        self._message.add(whole)
        self._read_message_head(whole[lead:], out)
        return stop - given_back

    def _read_message_head(self, head: bytes, out: list[Message]) -> None:
        lines = [line.removesuffix(b"\r") for line in head.split(b"\n")]
        while lines and not lines[-1]:
            lines.pop()
        start = lines[0]
        self._start_line = line_text(start)
        response = start.startswith(b"HTTP/")
        self._method = "" if response else start.split(b" ", 1)[0].decode("latin-1")
        error = _status_line_error(start) if response else _request_line_error(start)
        fields, field_error = _header_fields(lines[1:])
        self._fields = fields
        if error or field_error:
            self._emit_error(error or field_error, out)
            return
        headers: dict[str, str] = {}
        for name, value in fields:  # repeated ones as one list, so differing lengths show
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        if response:
            self._response_body(int(start[9:12]), headers, out)
        else:
            self._request_body(headers, out)

    def _response_body(self, status: int, headers: dict[str, str], out: list[Message]) -> None:
        final = status >= 200
        method = self._expected.popleft() if final and self._expected else ""
        if status == 101 or (method == "CONNECT" and 200 <= status < 300):
            self._after_switch = self._start_line
            self._emit(out)
            self._state = RAW
            return
        if status < 200 or status in (204, 304) or method == "HEAD" or self.nobody:
            self._emit(out)
            return
        if "transfer-encoding" in headers:
            if _chunked(headers["transfer-encoding"]):
                self._chunked()
            else:
                self._until_close()
            return
        if "content-length" in headers:
            self._content_length(headers["content-length"], out)
            return
        self._until_close()

    def _request_body(self, headers: dict[str, str], out: list[Message]) -> None:
        if "transfer-encoding" in headers:
            if _chunked(headers["transfer-encoding"]):
                self._chunked()
            else:
                self._emit_error("a request's Transfer-Encoding does not end in chunked", out)
            return
        if "content-length" in headers:
            self._content_length(headers["content-length"], out)
            return
        self._emit(out)

    def _content_length(self, value: str, out: list[Message]) -> None:
        values = {part.strip() for part in value.split(",")}
        length = values.pop() if len(values) == 1 else ""
        if not (length.isascii() and length.isdigit()) or len(length) > 18:
            self._emit_error(f"bad Content-Length {value!r}", out)
            return
        self._how = ""
        self._left = int(length)
        self._state = LENGTH
        self._body = 0
        if not self._left:
            self._emit(out)

    def _chunked(self) -> None:
        self._how = "chunked"
        self._state = CHUNK_SIZE
        self._body = 0

    def _until_close(self) -> None:
        self._how = "until close"
        self._state = UNTIL_CLOSE
        self._body = 0

    # --- chunks ---

    def _read_line(self, data: bytes, pos: int, out: list[Message]) -> int:
        """A chunk size line, or a trailer line; both bounded."""
        limit = MAX_CHUNK_LINE if self._state == CHUNK_SIZE else self.max_head
        room = limit - len(self._head)
        lf = data.find(b"\n", pos, pos + room)
        if lf < 0:
            take = data[pos : pos + room]
            self._head += take
            if len(self._head) >= limit:
                self._message.add(self._head)
                self._head.clear()
                what = "chunk size line" if self._state == CHUNK_SIZE else "trailers"
                self._emit_error(f"{what} longer than {limit:,} bytes", out)
            return pos + len(take)
        self._head += data[pos : lf + 1]
        line = bytes(self._head)
        if self._state == CHUNK_SIZE:
            self._head.clear()
            self._message.add(line)
            self._chunk_size(line, out)
        else:
            self._trailer_line(line, out)
        return lf + 1

    def _chunk_size(self, line: bytes, out: list[Message]) -> None:
        size = line.rstrip(b"\r\n").split(b";", 1)[0].strip(b" \t")
        if not size or len(size) > 15 or not set(size) <= _HEX:
            self._emit_error(f"bad chunk size {line_text(line.rstrip(), 40)!r}", out)
            return
        self._left = int(size, 16)
        self._state = CHUNK_DATA if self._left else TRAILERS

    def _read_chunk_end(self, data: bytes, pos: int, out: list[Message]) -> int:
        """The CRLF after a chunk's data (a bare LF is taken too)."""
        byte = data[pos]
        if byte == 0x0D and not self._head:
            self._head.append(byte)
            return pos + 1
        if byte == 0x0A:
            self._head.append(byte)
            self._message.add(self._head)
            self._head.clear()
            self._state = CHUNK_SIZE
            return pos + 1
        # Not the CRLF: the rest of the line is part of this bad chunk; read on after it.
        self._message.add(self._head)
        self._head.clear()
        self._state = SKIP
        self._skip_error = "chunk not followed by CRLF"
        return pos

    def _trailer_line(self, line: bytes, out: list[Message]) -> None:
        blank = line in (b"\r\n", b"\n") or line.endswith((b"\n\r\n", b"\n\n"))
        if not blank:
            return  # more trailers: they stay in _head until the blank line
        trailers = bytes(self._head)
        self._head.clear()
        self._message.add(trailers)
        lines = [t.removesuffix(b"\r") for t in trailers.split(b"\n")]
        fields, error = _header_fields([t for t in lines if t])
        self._fields += [(f"{name} (trailer)", value) for name, value in fields]
        if error:
            self._emit_error(error, out)
        else:
            self._emit(out)

    # --- messages out ---

    def _emit(self, out: list[Message]) -> None:
        if self._method and self._answerer is not None:
            self._answerer.expect_response_to(self._method)
        summary = self._start_line
        if self._state != HEAD:
            how = f", {self._how}" if self._how else ""
            unit = "byte" if self._body == 1 else "bytes"
            summary += f" ({self._body:,} {unit}{how})"
        data, size = self._message.take()
        fields = list(self._fields)
        if size > len(data):
            fields.append(("held", f"{len(data):,} of {size:,} bytes"))
        out.append(Message(data, size if size > len(data) else -1, summary, "", tuple(fields)))
        self._reset()

    def _emit_error(self, error: str, out: list[Message]) -> None:
        data, size = self._message.take()
        summary = self._start_line or line_text(data.split(b"\n", 1)[0].rstrip())
        fields = tuple(self._fields)
        out.append(Message(data, size if size > len(data) else -1, summary, error, fields))
        self._reset()

    def _reset(self) -> None:
        self._state = HEAD
        self._left = self._body = 0
        self._start_line = self._how = self._method = ""
        self._fields = []


def pair(one: HttpFramer, other: object) -> None:
    """`one` and `other` frame the two directions of one connection: each request either
    frames is expected by the other, so a response to HEAD has no body and one to CONNECT
    opens a tunnel (the request must be fed before its response, as it happens)."""
    if isinstance(other, HttpFramer):
        one._answerer = other
        other._answerer = one


# --- reading a head ---


def _blank_lead(buffer: bytes | bytearray, start: int, stop: int) -> int:
    """Where the start line begins after blank lines (RFC 9112 2.2: ignored) from `start`."""
    pos = start
    while pos < stop:
        if buffer[pos] == 0x0A:
            pos += 1
        elif buffer[pos] == 0x0D and pos + 1 < stop and buffer[pos + 1] == 0x0A:
            pos += 2
        else:
            break
    return pos


def _head_end(buffer: bytes | bytearray, start: int, stop: int) -> int:
    """Where the head that begins before `start` ends (after its blank line, within
    `stop`), or -1. Looks at each line end once."""
    lf = buffer.find(b"\n", start, stop)
    while lf >= 0:
        if lf + 2 <= stop and buffer[lf + 1] == 0x0A:
            return lf + 2
        if lf + 3 <= stop and buffer[lf + 1] == 0x0D and buffer[lf + 2] == 0x0A:
            return lf + 3
        lf = buffer.find(b"\n", lf + 1, stop)
    return -1


def _version_ok(version: bytes) -> bool:
    return (
        len(version) == 8
        and version.startswith(b"HTTP/")
        and version[5:6].isdigit()
        and version[6:7] == b"."
        and version[7:8].isdigit()
    )


def _status_line_error(line: bytes) -> str:
    # HTTP-version SP 3DIGIT SP [reason]
    if (
        _version_ok(line[:8])
        and line[8:9] == b" "
        and line[9:12].isdigit()
        and (len(line) == 12 or line[12:13] == b" ")
    ):
        return ""
    return f"bad status line {line_text(line, 80)!r}"


def _request_line_error(line: bytes) -> str:
    parts = line.split(b" ")
    if len(parts) == 3:
        method, target, version = parts
        if (
            method
            and set(method) <= _TOKEN
            and target
            and all(0x20 < byte != 0x7F for byte in target)
            and _version_ok(version)
        ):
            return ""
    return f"bad request line {line_text(line, 80)!r}"


def _header_fields(lines: list[bytes]) -> tuple[list[tuple[str, str]], str]:
    """The (name, value) of each header line; an error in words for a line that is none."""
    fields: list[tuple[str, str]] = []
    for line in lines:
        if line[:1] in (b" ", b"\t") and fields:  # obs-fold: part of the value before
            folded_name, folded_value = fields[-1]
            fields[-1] = (folded_name, f"{folded_value} {line_text(line.strip(_SPACES))}")
            continue
        name, colon, value = line.partition(b":")
        if not colon or not name or not set(name) <= _TOKEN:
            return fields, f"bad header line {line_text(line, 80)!r}"
        fields.append((line_text(name), line_text(value.strip(_SPACES))))
    return fields, ""


def _chunked(transfer_encoding: str) -> bool:
    codings = [coding.strip().lower() for coding in transfer_encoding.split(",")]
    return codings[-1] == "chunked"


# --- the composer's send ---


def encode(spec: FramingSpec, payload: bytes) -> bytes:
    """`payload` as it is, or, when it is a head without a body, that head with CRLF line
    ends and its closing blank line (see the module's docstring)."""
    first = payload.split(b"\n", 1)[0].removesuffix(b"\r")
    is_head = (
        not _status_line_error(first)
        if first.startswith(b"HTTP/")
        else not _request_line_error(first)
    )
    if not is_head:
        return payload
    lines = [line.removesuffix(b"\r") for line in payload.split(b"\n")]
    if _declares_body(lines):  # what follows its blank line is the body, even line ends
        return payload
    while lines and not lines[-1]:
        lines.pop()
    if b"" in lines:  # a blank line with something after it: a body, sent as it is
        return payload
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _declares_body(lines: list[bytes]) -> bool:
    """Whether a head's header lines (up to its blank line) say a body follows: a
    Transfer-Encoding, or a Content-Length that is not 0."""
    fields, _ = _header_fields(lines[1 : lines.index(b"")] if b"" in lines else lines[1:])
    return any(
        name.lower() == "transfer-encoding" or (name.lower() == "content-length" and value != "0")
        for name, value in fields
    )


def with_content_length(message: bytes) -> bytes:
    """A response or request written with a body but no Content-Length or Transfer-Encoding,
    with a Content-Length that counts its body (its head's line ends made CRLF); anything
    else as it is. A response that has no body (1xx, 204, 304) gets none."""
    first = message.split(b"\n", 1)[0].removesuffix(b"\r")
    response = first.startswith(b"HTTP/")
    if _status_line_error(first) if response else _request_line_error(first):
        return message
    ends = [at for at in (message.find(b"\r\n\r\n"), message.find(b"\n\n")) if at >= 0]
    if not ends:
        return message
    end = min(ends)
    body = message[end + (4 if message.startswith(b"\r\n\r\n", end) else 2) :]
    lines = [line.removesuffix(b"\r") for line in message[:end].split(b"\n")]
    names = {line.split(b":", 1)[0].strip().lower() for line in lines[1:]}
    if not body or names & {b"content-length", b"transfer-encoding"}:
        return message
    if response:
        status = int(first.split()[1])
        if status < 200 or status in (204, 304):
            return message
    head = b"\r\n".join([*lines, b"Content-Length: %d" % len(body)])
    return head + b"\r\n\r\n" + body


def payload(spec: FramingSpec, message: Message) -> bytes:
    """The whole message, head and body, as it was on the wire (a response written for it is
    written whole too)."""
    return message.data
