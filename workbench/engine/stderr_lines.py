"""A program's stderr as Log lines, bounded: a program that spews stderr (or writes one
endless line) cannot flood the Log; what is cut or left out is said.

The lines are shown through the Log's sanitizer like any text from outside."""

from __future__ import annotations

# Longer lines are cut (the Log says so); further lines in the same second are counted.
MAX_LINE_BYTES = 400
LINES_PER_SECOND = 20


class StderrLines:
    """Turns chunks of stderr into the lines to show, each prefixed with `prefix`."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.partial = bytearray()
        self.cut = 0  # bytes of the current line left out (it was longer than the bound)
        self.window_start = float("-inf")
        self.shown = 0  # lines shown in the current second
        self.hidden = 0  # lines left out in the current second

    def feed(self, data: bytes, now: float) -> list[str]:
        out: list[str] = []
        *complete, rest = data.split(b"\n")
        for piece in complete:
            self._add(piece)
            self._line(now, out)
        self._add(rest)
        return out

    def finish(self, now: float) -> list[str]:
        """The program's stderr ended: its last line (if unterminated) and what was left out."""
        out: list[str] = []
        if self.partial or self.cut:
            self._line(now, out)
        if self.hidden:
            out.append(self._hidden_text())
            self.hidden = 0
        return out

    def _add(self, piece: bytes) -> None:
        room = MAX_LINE_BYTES - len(self.partial)
        self.partial += piece[:room]
        self.cut += max(0, len(piece) - room)

    def _line(self, now: float, out: list[str]) -> None:
        line, cut = bytes(self.partial).removesuffix(b"\r"), self.cut
        self.partial.clear()
        self.cut = 0
        if now - self.window_start >= 1.0:
            if self.hidden:
                out.append(self._hidden_text())
            self.window_start, self.shown, self.hidden = now, 0, 0
        if self.shown >= LINES_PER_SECOND:
            self.hidden += 1
            return
        self.shown += 1
        text = line.decode("utf-8", "replace")
        if cut:
            text += f"… (line cut: {cut:,} more bytes)"
        out.append(f"{self.prefix}{text}")

    def _hidden_text(self) -> str:
        lines = "line" if self.hidden == 1 else "lines"
        return (
            f"{self.prefix}{self.hidden:,} more {lines} not shown (at most "
            f"{LINES_PER_SECOND} a second are)"
        )
