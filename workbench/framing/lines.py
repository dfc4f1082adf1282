"""Lines in a stream of bytes: what a chunk completes, and what is pending until more comes.

Pure and small: bytes in, lines out. The Log frames each connection's reads with it, and so
can anything that reacts to a peer line by line.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.framing.characters import LINE_FEEDS, incomplete_tail, line_feed

# The longest line held whole by default: a longer one comes out in pieces of this size.
MAX_LINE = 64 * 1024


@dataclass(slots=True)  # not frozen: one is made for every line, and that makes it 4x slower
class Line:
    """A line (ending in its line feed), a piece of an over-long one, or what was pending."""

    data: bytes
    chunks: int  # how many fed chunks it holds bytes of
    # A piece of an over-long line: more of the line follows.
    continues: bool = False
    # It holds bytes of earlier chunks only (a piece that ends before a character the
    # limit would cut, where that character began before the chunk just fed).
    earlier: bool = False


class LineFramer:
    """Reassembles one stream's bytes into lines ending in the line feed of `encoding`.

    A CRLF line is one line (the CR is just part of it). In UTF-16 a line ends at the two
    bytes of its line feed, at whole code units of the line (never at a 0x0a byte inside
    another character), also when a chunk ends between the two bytes. A line longer than
    `max_line` bytes comes out in pieces of up to `max_line` bytes marked `continues`, each
    ending before a character the limit would cut, so what is held stays bounded.
    `encoding` may change between chunks: it applies to the bytes fed from then on.
    """

    __slots__ = ("_chunks", "_parts", "_size", "encoding", "max_line")

    def __init__(self, encoding: str = "utf-8", max_line: int = MAX_LINE) -> None:
        if max_line < 1:
            raise ValueError(f"max_line must be at least 1, not {max_line}")
        self.encoding = encoding
        self.max_line = max_line
        # The unfinished line: its parts, their size, and the chunks they came in.
        self._parts: list[bytes] = []
        self._size = 0
        self._chunks = 0

    def feed(self, data: bytes) -> list[Line]:
        """The lines (and pieces of over-long lines) `data` completes, oldest first."""
        feed = LINE_FEEDS.get(self.encoding, b"\n")  # line_feed(), inline: once per chunk
        # Pieces of an over-long UTF-16 line are whole code units, so the next stays aligned.
        limit = self.max_line if len(feed) == 1 or self.max_line < 2 else self.max_line & ~1
        out: list[Line] = []
        pos, n = 0, len(data)
        while pos < n:
            room = limit - self._size
            if len(feed) == 1:  # the common case, without a call
                nl = data.find(feed, pos, pos + room)
            else:
                nl = self._line_end(data, pos, pos + room, feed)
            if nl >= 0:
                piece = data[pos : nl + 1]
                out.append(self._complete(piece) if self._size else Line(piece, 1))
                pos = nl + 1
            elif n - pos <= room:
                self._parts.append(data[pos:])
                self._size += n - pos
                self._chunks += 1
                pos = n
            else:
                # No line end within the room left: a full piece; the line goes on, from the
                # character the limit would cut (see _character_cut).
                back = self._character_cut(data, pos, room)
                if back <= room:
                    out.append(self._complete(data[pos : pos + room - back], continues=True))
                    pos += room - back
                else:  # that character began in an earlier chunk: it starts the next piece
                    held, keep = b"".join(self._parts), back - room
                    out.append(Line(held[:-keep], self._chunks, continues=True, earlier=True))
                    self._parts, self._size, self._chunks = [held[-keep:]], keep, 1
        return out

    @property
    def pending_size(self) -> int:
        """The size of the unfinished line (0: none)."""
        return self._size

    def pending(self) -> Line | None:
        """The unfinished line, without forgetting it (None when there is none)."""
        if not self._size:
            return None
        if len(self._parts) > 1:
            # Joined once, so repeated looks at a growing line stay linear.
            self._parts = [b"".join(self._parts)]
        return Line(self._parts[0], self._chunks)

    def flush(self) -> Line | None:
        """The unfinished line, forgotten: the next bytes start a new line."""
        line = self.pending()
        self.clear()
        return line

    def clear(self) -> None:
        self._parts = []
        self._size = 0
        self._chunks = 0

    def _complete(self, piece: bytes, continues: bool = False) -> Line:
        """The unfinished line ended by `piece` (the rest of it), forgotten."""
        if not self._size:
            return Line(piece, 1, continues)
        self._parts.append(piece)
        line = Line(b"".join(self._parts), self._chunks + 1, continues)
        self.clear()
        return line

    def _line_end(self, data: bytes, start: int, end: int, feed: bytes) -> int:
        """Where in data[start:end] the first line feed ends (the index of its last byte),
        or -1, for a two-byte feed: it counts only at the code units of the line, which began
        in the unfinished line if there is one (and may end with the first byte of the feed)."""
        if self._size % 2:
            if start < end and self._parts[-1][-1:] + data[start : start + 1] == feed:
                return start
            start += 1  # data[start] ends the code unit the unfinished line began
        at = data.find(feed, start, end)
        while at >= 0 and (at - start) % 2:
            at = data.find(feed, at + 1, end)
        return at + 1 if at >= 0 else -1

    def _character_cut(self, data: bytes, pos: int, room: int) -> int:
        """How many bytes before `pos + room` the piece of an over-long line should end, so
        that no character is cut in two (0 when none would be, or when the line limit is
        smaller than the character)."""
        end = pos + room
        window = data[max(pos, end - 4) : end]
        if len(window) < 4 and self._size:
            window = (b"".join(self._parts) + window)[-4:]
        back = incomplete_tail(window, self.encoding)
        return back if back < self._size + room else 0


def split_lines(data: bytes, encoding: str, limit: int | None = None) -> list[bytes]:
    """`data` cut after each line feed of `encoding` (UTF-16 only at whole code units); with
    `limit`, only the first `limit` pieces (the rest is not split, nor returned)."""
    feed = line_feed(encoding)
    if len(feed) == 1:
        lines = data.split(feed) if limit is None else data.split(feed, limit)
        more = limit is not None and len(lines) > limit
        pieces = [line + feed for line in lines[:-1]]
        if (lines[-1] or not pieces) and not more:
            pieces.append(lines[-1])
        return pieces
    pieces, start = [], 0
    for unit in range(0, len(data) - 1, 2):
        if limit is not None and len(pieces) == limit:
            return pieces
        if data[unit : unit + 2] == feed:
            pieces.append(data[start : unit + 2])
            start = unit + 2
    if (start < len(data) or not pieces) and (limit is None or len(pieces) < limit):
        pieces.append(data[start:])
    return pieces
