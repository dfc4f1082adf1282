"""RESP2 and RESP3, Redis's protocol: one message per top-level value.

    resp                      the defaults below
    resp:bulk=N:count=N:depth=N:line=N

A message is one whole top-level value as it was on the wire: a simple string, error,
integer, null, double, boolean, big number, a bulk (blob) string, blob error or verbatim
string, or an aggregate (array, map, set, push) with everything nested in it. An attribute
(`|`) is not a value of its own: it comes out with the value it describes. RESP3's streamed
strings (`$?` then `;N` parts up to `;0`) and streamed aggregates (`*?`, `%?`, `~?` up to `.`)
are read too. The summary is what a person wants: `*3 SET k "a b"` for a command, `+OK`,
`-ERR unknown command`, `:42`, `$5 hello`, `%2 {a: 1, b: 2}` (an aggregate shows its first
16 elements, a nested one as `[3]` or `{2}`); fields: its type, whether attributes came
with it, how much of it is held when it is cut.

Bounds, so that a peer cannot make it hold without end:
- `bulk=` (default 512 MiB, Redis's proto-max-bulk-len) the longest bulk string or part;
- `count=` (default 2**31 - 1) the most elements an aggregate says it has;
- `depth=` (default 128) how deeply aggregates nest;
- `line=` (default 64 KiB, Redis's inline limit) the longest line (a simple string, a
  length or count line).
Within them a value of any size is framed, but only its first MAX_MESSAGE_BYTES are held: the
message comes out with those bytes as `data` and its whole size as `size` (a bulk string is
counted as it streams through, never buffered whole).

Malformed input (a byte that is no RESP type, a length that is no number or is past its
bound, nesting too deep, a bulk string not followed by CRLF, a line too long) comes out as a
message with `error`, holding the value read so far and the bad line, and the framer resyncs
at the next line end (LF): what follows is read as a new top-level value. Every byte fed is
in exactly one message.

A top-level line that starts with a letter is an inline command, as Redis reads one (`PING`
or `SET k "a b"` typed in nc or telnet, ended by LF or CRLF): one message, `inline PING`, its
words split as redis-cli splits them.

`encode(spec, payload)`: the composer's line `SET k "a b"` (words split at spaces; double
quotes with escapes \\" \\\\ \\n \\r \\t \\xHH, or single quotes) becomes an array of bulk strings;
each line of a payload is one command. A payload that already starts with a RESP type byte
and ends with CRLF is sent as it is (it is RESP already).

`payload(spec, message)`, what a rule matches: a command (an array of bulk strings, as a
client sends it, or an inline command) is its words joined by single spaces (`SET k v`,
each word's bytes as they are); a bulk string is its bytes; a simple string, error, integer,
double, big number or boolean its text after the type byte (`OK`, `ERR no`, `42`, `t`); a
verbatim string its text after its format (`txt:`); a null nothing; any aggregate its
elements' payloads joined by spaces (a map's keys and values in turn). Attributes are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.framing.messages import FramingError, FramingSpec, Message
from workbench.framing.text_protocols import (
    MAX_SUMMARY,
    CappedBytes,
    int_options,
    line_text,
    quoted,
    shorten,
)

MAX_BULK = 512 * 1024 * 1024
MAX_COUNT = 2**31 - 1
MAX_DEPTH = 128
MAX_LINE = 64 * 1024

LIMITS = {
    "bulk": (0, 2**63 - 1, MAX_BULK),
    "count": (0, 2**63 - 1, MAX_COUNT),
    "depth": (1, 10_000, MAX_DEPTH),
    "line": (16, 1 << 30, MAX_LINE),
}

TYPE_NAMES = {
    "+": "simple string",
    "-": "simple error",
    ":": "integer",
    "$": "bulk string",
    "*": "array",
    "_": "null",
    ",": "double",
    "#": "boolean",
    "!": "blob error",
    "=": "verbatim string",
    "(": "big number",
    "%": "map",
    "~": "set",
    "|": "attribute",
    ">": "push",
}
TYPE_BYTES = frozenset("".join(TYPE_NAMES).encode())
BULK_TYPES = "$!="
AGGREGATE_TYPES = "*%~|>"
OPENINGS = {"*": "[", "%": "{", "~": "~{", "|": "|{", ">": ">["}
CLOSINGS = {"*": "]", "%": "}", "~": "}", "|": "}", ">": "]"}

# How many of a top-level aggregate's elements the summary shows, and bytes of each.
SUMMARY_ITEMS = 16
ITEM_BYTES = 64


def check(spec: FramingSpec) -> None:
    int_options(spec, LIMITS)


def framer(spec: FramingSpec) -> RespFramer:
    options = int_options(spec, LIMITS)
    return RespFramer(options["bulk"], options["count"], options["depth"], options["line"])


@dataclass(slots=True)
class _Aggregate:
    kind: str  # its type byte: * % ~ | >
    left: int  # elements still to come (-1: streamed, until ".")
    count: int  # as announced (-1: streamed)
    items: list[str] = field(default_factory=list)  # rendered, for the summary (depth 1)
    seen: int = 0  # elements read


class RespFramer:
    """Frames one direction of a RESP conversation (see the module's docstring)."""

    def __init__(
        self,
        max_bulk: int = MAX_BULK,
        max_count: int = MAX_COUNT,
        max_depth: int = MAX_DEPTH,
        max_line: int = MAX_LINE,
    ) -> None:
        self.max_bulk = max_bulk
        self.max_count = max_count
        self.max_depth = max_depth
        self.max_line = max_line
        self._message = CappedBytes()  # the top-level value's bytes of earlier reads
        self._data = b""  # the read being framed
        self._seg = 0  # where the message's bytes begin in it (see feed)
        self._pos = 0  # where the message ends in it, when it is emitted
        self._line = bytearray()  # the line being read (up to its LF)
        self._stack: list[_Aggregate] = []
        self._body_left = 0  # bytes of a bulk string still to come
        self._crlf_left = 0  # bytes of the CRLF after a bulk string still to come
        self._bulk_kind = ""  # the type byte of the bulk string being read
        self._bulk_length = 0
        self._preview = bytearray()  # the start of that bulk string, for the summary
        self._streamed_string = False  # inside `$?` ... `;0`
        self._skipping = ""  # an error, while skipping to the next line end
        self._prefix: list[str] = []  # top-level attributes, for the summary
        self._top = ""  # the top-level type byte

    @property
    def held(self) -> int:
        return len(self._message) + len(self._line) + len(self._preview)

    def feed(self, data: bytes) -> list[Message]:
        out: list[Message] = []
        # The message's bytes are data[_seg:_pos] (after what earlier reads left in
        # _message): sliced once when it ends, not gathered piece by piece.
        self._data, self._seg = data, 0
        pos, end = 0, len(data)
        while pos < end:
            if self._body_left:
                take = min(self._body_left, end - pos)
                if len(self._preview) < ITEM_BYTES:
                    self._preview += data[pos : pos + min(take, ITEM_BYTES - len(self._preview))]
                self._body_left -= take
                pos += take
                if not self._body_left:
                    self._crlf_left = 2
            elif self._crlf_left:
                if self._crlf_left == 2 and data.startswith(b"\r\n", pos):
                    pos += 2
                    self._crlf_left = 0
                elif data[pos] == (13 if self._crlf_left == 2 else 10):
                    pos += 1
                    self._crlf_left -= 1
                else:
                    name = TYPE_NAMES[self._bulk_kind]
                    self._fail(f"{name} of {self._bulk_length:,} bytes not followed by CRLF")
                    continue
                if not self._crlf_left and not self._streamed_string:
                    self._pos = pos
                    self._bulk_done(out)
            elif self._skipping:
                lf = data.find(b"\n", pos)
                pos = end if lf < 0 else lf + 1
                if lf >= 0:
                    self._pos = pos
                    self._emit_error(self._skipping, out)
            else:
                room = self.max_line + 2 - len(self._line)
                lf = data.find(b"\n", pos, pos + room)
                if lf < 0:
                    if end - pos < room:
                        self._line += data[pos:end]
                        pos = end
                    else:
                        pos += room
                        self._line.clear()
                        self._skipping = f"line longer than {self.max_line:,} bytes"
                    continue
                if self._line:
                    self._line += data[pos : lf + 1]
                    line = bytes(self._line)
                    self._line.clear()
                else:
                    line = data[pos : lf + 1]
                pos = self._pos = lf + 1
                self._read_line(line, out)
        if self._seg < end:
            self._message.add(data[self._seg :] if self._seg else data)
        self._data, self._seg, self._pos = b"", 0, 0
        return out

    def end(self) -> list[Message]:
        out: list[Message] = []
        self._line.clear()  # its bytes are in _message already
        if self._message.size:
            if self._skipping:
                self._emit_error(self._skipping, out)
            else:
                self._emit_error(f"stream ended inside {self._unfinished()}", out)
        return out

    def _take(self) -> tuple[bytes, int]:
        """The message's bytes (at most MAX_MESSAGE_BYTES of them) and its whole size."""
        piece = self._data[self._seg : self._pos]
        self._seg = self._pos
        if not self._message.size and len(piece) <= self._message.cap:
            return piece, len(piece)
        self._message.add(piece)
        return self._message.take()

    # --- lines ---

    def _read_line(self, line: bytes, out: list[Message]) -> None:
        top = not self._stack and not self._streamed_string and not self._prefix
        if top and line[:1].isalpha():  # no type byte: a command typed in a terminal
            self._read_inline(line, out)
            return
        if not line.endswith(b"\r\n"):
            self._emit_error("line ends in LF without CR", out)
            return
        if len(line) == 2:
            self._emit_error("empty line where a RESP value should start", out)
            return
        kind, rest = chr(line[0]), line[1:-2]
        if self._streamed_string:
            self._read_part(kind, rest, out)
        elif kind in "+-:_,#(":
            error = _scalar_error(kind, rest)
            if error:
                self._emit_error(error, out)
            else:
                self._start(kind)
                shown = _render_scalar(kind, rest) if self._shown() else ("", "")
                self._value_done(*shown, out)
        elif kind in BULK_TYPES:
            self._read_bulk_header(kind, rest, out)
        elif kind in AGGREGATE_TYPES:
            self._read_aggregate_header(kind, rest, out)
        elif kind == "." and rest == b"" and self._stack and self._stack[-1].left < 0:
            done = self._stack.pop()
            self._aggregate_done(done, out)
        elif kind in ".;":
            where = "a streamed aggregate" if kind == "." else "a streamed string"
            self._emit_error(f"{line_text(line[:-2], 40)!r} outside {where}", out)
        else:
            self._emit_error(_not_a_type(line, at_top=not self._stack), out)

    def _read_inline(self, line: bytes, out: list[Message]) -> None:
        """An inline command (`PING`, `SET k "a b"`, as nc or telnet send them): Redis
        splits it into words as redis-cli does, and so does this; LF alone ends it too."""
        try:
            words = split_words(line.rstrip(b"\r\n"))
        except FramingError as exc:
            self._emit_error(f"inline command: {exc}", out)
            return
        shown = " ".join(quoted(word, ITEM_BYTES) for word in words[:SUMMARY_ITEMS])
        more = " ..." if len(words) > SUMMARY_ITEMS else ""
        data, size = self._take()
        summary = shorten(f"inline {shown}{more}", MAX_SUMMARY)
        fields = (("type", "inline command"), ("words", str(len(words))))
        out.append(Message(data, size if size > len(data) else -1, summary, "", fields))
        self._reset()

    def _read_bulk_header(self, kind: str, rest: bytes, out: list[Message]) -> None:
        if kind == "$" and rest == b"?":
            self._start(kind)
            self._streamed_string = True
            self._bulk_kind, self._bulk_length = kind, 0
            return
        if kind == "$" and rest == b"-1":  # RESP2's null bulk string
            self._start(kind)
            self._value_done("(nil)", "$-1 (nil)", out)
            return
        length = _number(rest)
        if length is None:
            self._emit_error(f"{TYPE_NAMES[kind]} length {line_text(rest, 40)!r} is no number", out)
            return
        if length > self.max_bulk:
            self._emit_error(f"{TYPE_NAMES[kind]} length {length:,} > max {self.max_bulk:,}", out)
            return
        self._start(kind)
        self._bulk_kind, self._bulk_length = kind, length
        self._preview.clear()
        self._body_left = length
        if not length:
            self._crlf_left = 2

    def _read_part(self, kind: str, rest: bytes, out: list[Message]) -> None:
        length = _number(rest) if kind == ";" else None
        if length is None:
            self._emit_error("streamed string part is not ;<length>", out)
            return
        if length > self.max_bulk:
            self._emit_error(f"streamed string part {length:,} > max {self.max_bulk:,}", out)
            return
        if not length:
            self._bulk_done(out)
            return
        self._bulk_length += length
        self._body_left = length

    def _read_aggregate_header(self, kind: str, rest: bytes, out: list[Message]) -> None:
        if kind == "*" and rest == b"-1":  # RESP2's null array
            self._start(kind)
            self._value_done("(nil)", "*-1 (nil)", out)
            return
        if len(self._stack) >= self.max_depth:
            self._emit_error(f"aggregates nested deeper than {self.max_depth}", out)
            return
        if rest == b"?" and kind in "*%~":
            count = -1
        else:
            number = _number(rest)
            if number is None:
                self._emit_error(
                    f"{TYPE_NAMES[kind]} count {line_text(rest, 40)!r} is no number", out
                )
                return
            if number > self.max_count:
                self._emit_error(
                    f"{TYPE_NAMES[kind]} count {number:,} > max {self.max_count:,}", out
                )
                return
            count = number
        self._start(kind)
        elements = count * 2 if kind in "%|" and count > 0 else count
        aggregate = _Aggregate(kind, elements, count)
        if elements == 0:
            self._aggregate_done(aggregate, out)
        else:
            self._stack.append(aggregate)

    # --- values done ---

    def _start(self, kind: str) -> None:
        if not self._stack and not self._top:
            self._top = kind

    def _bulk_done(self, out: list[Message]) -> None:
        kind, length = self._bulk_kind, self._bulk_length
        streamed = self._streamed_string
        self._streamed_string = False
        if not self._shown():
            self._preview.clear()
            self._value_done("", "", out)
            return
        word = quoted(bytes(self._preview), ITEM_BYTES)
        if length > ITEM_BYTES and not word.endswith("..."):
            word += "..."
        self._preview.clear()
        size = "?" if streamed else f"{length}"
        item = f"(error {word})" if kind == "!" else word
        self._value_done(item, f"{kind}{size} {word}", out)

    def _shown(self) -> bool:
        """Whether the value being completed shows in the summary."""
        stack = self._stack
        return not stack or (len(stack) == 1 and len(stack[0].items) < SUMMARY_ITEMS)

    def _value_done(self, item: str, top: str, out: list[Message]) -> None:
        """A value is complete (`item`: how it shows as an element, `top`: on its own): it
        counts in the aggregate it is in, which may complete."""
        if not self._stack:
            self._emit(top, out)
            return
        parent = self._stack[-1]
        parent.seen += 1
        if len(self._stack) == 1 and len(parent.items) < SUMMARY_ITEMS:
            parent.items.append(item)
        if parent.left < 0:  # streamed: ends at "."
            return
        parent.left -= 1
        if not parent.left:
            self._stack.pop()
            self._aggregate_done(parent, out)

    def _aggregate_done(self, aggregate: _Aggregate, out: list[Message]) -> None:
        kind = aggregate.kind
        count = "?" if aggregate.count < 0 else str(aggregate.count)
        if kind == "|":
            # An attribute describes what follows: it is no value of its own.
            if not self._stack:
                shown = _render_items(kind, aggregate.items, aggregate.seen)
                self._prefix.append(f"|{count} {shown}")
                self._top = ""  # the message's type is that of the value that follows
            return
        if self._stack:
            nested = f"{OPENINGS[kind]}{count}{CLOSINGS[kind]}"
            self._value_done(nested, nested, out)
            return
        shown = _render_items(kind, aggregate.items, aggregate.seen)
        self._emit(f"{kind}{count} {shown}".rstrip(), out)

    # --- messages out ---

    def _emit(self, summary: str, out: list[Message]) -> None:
        kind = self._top or summary[:1]
        prefix = " ".join(self._prefix)
        summary = shorten(f"{prefix} {summary}" if prefix else summary, MAX_SUMMARY)
        fields = [("type", TYPE_NAMES.get(kind, "value"))]
        if self._prefix:
            fields.append(("attributes", str(len(self._prefix))))
        data, size = self._take()
        if size > len(data):
            fields.append(("held", f"{len(data):,} of {size:,} bytes"))
        out.append(Message(data, size if size > len(data) else -1, summary, "", tuple(fields)))
        self._reset()

    def _emit_error(self, error: str, out: list[Message]) -> None:
        """What was read of this value, up to the bad line, as one malformed message."""
        data, size = self._take()
        summary = line_text(data[:MAX_SUMMARY], MAX_SUMMARY) if data else ""
        out.append(Message(data, size if size > len(data) else -1, summary, error))
        self._reset()

    def _fail(self, error: str) -> None:
        """Malformed in the middle of a line: skip to the next line end, then resync."""
        self._body_left = self._crlf_left = 0
        self._skipping = error

    def _reset(self) -> None:
        self._stack.clear()
        self._prefix.clear()
        self._preview.clear()
        self._top = ""
        self._skipping = ""
        self._streamed_string = False
        self._body_left = self._crlf_left = 0

    def _unfinished(self) -> str:
        if self._body_left or self._crlf_left:
            done = self._bulk_length - self._body_left
            name = TYPE_NAMES[self._bulk_kind]
            return f"a {name} ({done:,} of {self._bulk_length:,} bytes)"
        if self._streamed_string:
            return "a streamed string"
        if self._prefix and not self._stack:
            return "the value an attribute describes"
        if self._stack:
            outer = self._stack[0]
            name = TYPE_NAMES[outer.kind]
            return f"a streamed {name}" if outer.count < 0 else f"{_a(name)} of {outer.count:,}"
        return "a line"


# --- what a value looks like ---


def _a(name: str) -> str:
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def _number(text: bytes) -> int | None:
    """A non-negative decimal length or count, or None."""
    if not text or len(text) > 20 or not text.isdigit():
        return None
    return int(text)


def _scalar_error(kind: str, rest: bytes) -> str:
    if kind in "+-":
        return "" if b"\r" not in rest else f"{TYPE_NAMES[kind]} holds a CR"
    if kind in ":(":
        digits = rest[1:] if rest[:1] in (b"-", b"+") else rest
        if not digits.isdigit() or (kind == ":" and len(digits) > 19):
            return f"{TYPE_NAMES[kind]} {line_text(rest, 40)!r} is no whole number"
        return ""
    if kind == "_":
        return "" if not rest else "null with something after `_`"
    if kind == "#":
        return "" if rest in (b"t", b"f") else f"boolean {line_text(rest, 40)!r} is not t or f"
    # A double: digits with an optional point and exponent, or inf, -inf, nan.
    if rest.lower() in (b"inf", b"-inf", b"+inf", b"nan", b"-nan"):
        return ""
    if rest and set(rest) <= _DOUBLE_BYTES and any(48 <= byte <= 57 for byte in rest):
        try:
            float(rest)
            return ""
        except ValueError:
            pass
    return f"double {line_text(rest, 40)!r} is no number"


_DOUBLE_BYTES = frozenset(b"0123456789+-.eE")


def _render_scalar(kind: str, rest: bytes) -> tuple[str, str]:
    """How a scalar shows as an element, and on its own."""
    if kind == "+":
        return quoted(rest, ITEM_BYTES), f"+{line_text(rest)}"
    if kind == "-":
        return f"(error {line_text(rest, ITEM_BYTES)})", f"-{line_text(rest)}"
    if kind == "_":
        return "(nil)", "_ (null)"
    if kind == "#":
        return ("true", "#t") if rest == b"t" else ("false", "#f")
    text = rest.decode("ascii")  # checked: digits and signs only
    return text, f"{kind}{text}"


def _render_items(kind: str, items: list[str], seen: int) -> str:
    rendered = items
    more = len(items) < seen
    if kind in "%|":
        pairs = [f"{k}: {v}" for k, v in zip(rendered[::2], rendered[1::2], strict=False)]
        return "{" + ", ".join(pairs) + (", ..." if more else "") + "}"
    return " ".join(rendered) + (" ..." if more else "")


def _not_a_type(line: bytes, at_top: bool) -> str:
    byte = line[0]
    shown = chr(byte) if 0x21 <= byte < 0x7F else f"\\x{byte:02x}"
    hint = " (an inline command?)" if at_top and chr(byte).isalpha() else ""
    return f"{shown!r} is no RESP type byte{hint}"


# --- the composer's send ---


def encode(spec: FramingSpec, payload: bytes) -> bytes:
    """`payload` as RESP: sent as it is when it starts with a type byte and ends with CRLF,
    else each line's words as an array of bulk strings (FramingError for unclosed quotes)."""
    if payload[:1] and payload[0] in TYPE_BYTES and payload.endswith(b"\r\n"):
        return payload
    out = bytearray()
    for line in payload.replace(b"\r\n", b"\n").split(b"\n"):
        words = split_words(line)
        if words:
            out += command(words)
    return bytes(out)


def command(words: list[bytes]) -> bytes:
    """`words` as a RESP array of bulk strings (how a client sends a command)."""
    parts = [b"*%d\r\n" % len(words)]
    for word in words:
        parts.append(b"$%d\r\n%s\r\n" % (len(word), word))
    return b"".join(parts)


_QUOTE_ESCAPES = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("b"): b"\b"}
_HEX = frozenset(b"0123456789abcdefABCDEF")


def split_words(line: bytes) -> list[bytes]:
    """`line`'s words the way redis-cli splits them: at spaces; "double quotes" with
    escapes (\\" \\\\ \\n \\r \\t \\b \\xHH), 'single quotes' with \\' only. A closing quote
    must end the word. FramingError, in words, for an unclosed quote."""
    words: list[bytes] = []
    pos, end = 0, len(line)
    while True:
        while pos < end and line[pos] in b" \t":
            pos += 1
        if pos >= end:
            return words
        word = bytearray()
        quote = 0
        while True:
            if pos >= end:
                if quote:
                    raise FramingError(f"unclosed {chr(quote)} quote in {quoted(line, 80)}")
                break
            byte = line[pos]
            if quote == 0x22 and byte == 0x5C and pos + 1 < end:
                nxt = line[pos + 1]
                if nxt == ord("x") and pos + 3 < end and set(line[pos + 2 : pos + 4]) <= _HEX:
                    word.append(int(line[pos + 2 : pos + 4], 16))
                    pos += 4
                    continue
                word += _QUOTE_ESCAPES.get(nxt, bytes([nxt]))
                pos += 2
                continue
            if quote == 0x27 and byte == 0x5C and line[pos + 1 : pos + 2] == b"'":
                word.append(0x27)
                pos += 2
                continue
            if quote and byte == quote:
                pos += 1
                if pos < end and line[pos] not in b" \t":
                    raise FramingError(
                        f"a closing quote must end the word (at byte {pos}) in {quoted(line, 80)}"
                    )
                break
            if not quote and byte in b" \t":
                break
            if not quote and not word and byte in (0x22, 0x27):
                quote = byte
                pos += 1
                continue
            word.append(byte)
            pos += 1
        words.append(bytes(word))


# --- what a rule matches ---


def payload(spec: FramingSpec, message: Message) -> bytes:
    """What a rule matches in `message` (see the module's docstring)."""
    if message.data[:1].isalpha():  # an inline command: its words
        try:
            return b" ".join(split_words(message.data.rstrip(b"\r\n")))
        except FramingError:
            return message.data
    return b" ".join(_leaves(message.data))


@dataclass(slots=True)
class _Open:
    left: int  # elements still to come (-1: streamed, until ".")
    hidden: bool  # inside an attribute: not part of the payload
    attribute: bool  # this is an attribute: no element of what holds it


def _leaves(data: bytes) -> list[bytes]:
    """The strings and scalars of the value in `data`, in order, without attributes. Reads
    what a framer made; a value cut short gives the leaves it holds."""
    leaves: list[bytes] = []
    stack: list[_Open] = []
    pos, end = 0, len(data)
    streamed: bytearray | None = None  # the parts of a `$?` string so far
    while pos < end:
        crlf = data.find(b"\r\n", pos)
        if crlf < 0:
            break
        kind, rest = chr(data[pos]), data[pos + 1 : crlf]
        pos = crlf + 2
        hidden = bool(stack) and stack[-1].hidden
        done = True
        if streamed is not None:
            length = _number(rest) if kind == ";" else None
            if length is None:
                break
            if length:
                streamed += data[pos : pos + length]
                pos += length + 2
                continue
            value: bytes | None = bytes(streamed)
            streamed = None
        elif kind == "$" and rest == b"?":
            streamed = bytearray()
            continue
        elif kind in BULK_TYPES and rest != b"-1":
            length = _number(rest)
            if length is None:
                break
            value = data[pos : pos + length]
            pos += length + 2
            if kind == "=" and value[3:4] == b":":
                value = value[4:]
        elif kind in AGGREGATE_TYPES and rest != b"-1":
            count = -1 if rest == b"?" else _number(rest)
            if count is None:
                break
            value = None
            done = not count and kind != "|"  # an empty attribute is no element either
            if count:
                count = count * 2 if kind in "%|" and count > 0 else count
                stack.append(_Open(count, hidden or kind == "|", kind == "|"))
        elif kind == "." and stack and stack[-1].left < 0:
            value = None
            closed = stack.pop()
            done = not closed.attribute
        elif kind in "$*_":  # a null
            value = None
        else:
            value = rest
        if value is not None and not hidden:
            leaves.append(value)
        if done:
            _element_done(stack)
    return leaves


def _element_done(stack: list[_Open]) -> None:
    """An element is complete: the aggregates it completes are closed."""
    while stack:
        top = stack[-1]
        if top.left < 0:  # streamed: ends at "."
            return
        top.left -= 1
        if top.left:
            return
        stack.pop()
        if top.attribute:  # what it describes is still to come
            return
