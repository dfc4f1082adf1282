"""Where each key of a TOML document is written: tomllib gives values, not lines, so the
loader's errors find their line here.

The scanner runs on text tomllib has already accepted, so it can be lenient: it follows
headers (`[a.b]`, `[[a.b]]`), keys (bare, quoted, dotted), strings of the four kinds, arrays
and inline tables, and records the line of every key and array element by its path:
`("connect", 1, "steps", 2, "expect")` (array indexes from 0).
"""

from __future__ import annotations

import bisect
import contextlib
import re

Path = tuple[str | int, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR_END = re.compile(r"[,\]}\n#]")
_BLANK = " \t\r"


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0
        self.newlines = [i for i, char in enumerate(text) if char == "\n"]
        self.lines: dict[Path, int] = {}
        self.tables: dict[Path, int] = {}  # arrays of tables: how many so far

    def line(self, at: int | None = None) -> int:
        return bisect.bisect_left(self.newlines, self.at if at is None else at) + 1

    def peek(self, ahead: int = 0) -> str:
        at = self.at + ahead
        return self.text[at] if at < len(self.text) else ""

    def skip_blank(self, newlines: bool) -> None:
        while self.at < len(self.text):
            char = self.text[self.at]
            if char in _BLANK or (newlines and char == "\n"):
                self.at += 1
            elif char == "#":
                end = self.text.find("\n", self.at)
                self.at = len(self.text) if end < 0 else end
            else:
                return

    def document(self) -> None:
        current: Path = ()
        while True:
            self.skip_blank(newlines=True)
            if self.at >= len(self.text):
                return
            if self.peek() == "[":
                current = self.header()
            else:
                self.key_value(current)

    def header(self) -> Path:
        line = self.line()
        array = self.text.startswith("[[", self.at)
        self.at += 2 if array else 1
        keys = self.key()
        self.skip_blank(newlines=False)
        self.at += 2 if array else 1
        path: Path = ()
        for key in keys[:-1]:
            path += (key,)
            if path in self.tables:
                path += (self.tables[path] - 1,)
        path += (keys[-1],)
        if array:
            index = self.tables.get(path, 0)
            self.tables[path] = index + 1
            self.lines.setdefault(path, line)
            path += (index,)
        self.lines[path] = line
        return path

    def key(self) -> list[str]:
        keys = []
        while True:
            self.skip_blank(newlines=False)
            char = self.peek()
            if char in "\"'":
                start = self.at
                self.string()
                keys.append(_unquoted(self.text[start : self.at]))
            else:
                found = _BARE_KEY.match(self.text, self.at)
                if found is None:
                    raise ValueError("no key")
                keys.append(found.group())
                self.at = found.end()
            self.skip_blank(newlines=False)
            if self.peek() != ".":
                return keys
            self.at += 1

    def key_value(self, current: Path) -> None:
        line = self.line()
        keys = tuple(self.key())
        for end in range(1, len(keys)):  # a dotted key's tables: `a` of `a.b = 1`
            self.lines.setdefault(current + keys[:end], line)
        path = current + keys
        self.lines[path] = line
        self.skip_blank(newlines=False)
        if self.peek() != "=":
            raise ValueError("no '='")
        self.at += 1
        self.value(path)

    def value(self, path: Path) -> None:
        self.skip_blank(newlines=False)
        char = self.peek()
        if char in "\"'":
            self.string()
        elif char == "[":
            self.array(path)
        elif char == "{":
            self.inline_table(path)
        else:
            found = _SCALAR_END.search(self.text, self.at)
            self.at = len(self.text) if found is None else found.start()

    def array(self, path: Path) -> None:
        self.at += 1
        index = 0
        while True:
            self.skip_blank(newlines=True)
            if self.peek() in ("]", ""):
                self.at += 1
                return
            self.lines[(*path, index)] = self.line()
            self.value((*path, index))
            index += 1
            self.skip_blank(newlines=True)
            if self.peek() == ",":
                self.at += 1

    def inline_table(self, path: Path) -> None:
        self.at += 1
        while True:
            self.skip_blank(newlines=True)
            if self.peek() in ("}", ""):
                self.at += 1
                return
            self.key_value(path)
            self.skip_blank(newlines=True)
            if self.peek() == ",":
                self.at += 1

    def string(self) -> None:
        quote = self.peek()
        triple = quote * 3
        if self.text.startswith(triple, self.at):
            end = self._closing(triple, self.at + 3, escapes=quote == '"')
            # Up to two more quotes right before the closing three belong to the string.
            while self.text.startswith(quote, end + 3):
                end += 1
            self.at = end + 3
        else:
            self.at = self._closing(quote, self.at + 1, escapes=quote == '"') + 1

    def _closing(self, quote: str, at: int, escapes: bool) -> int:
        while True:
            end = self.text.find(quote, at)
            if end < 0:
                raise ValueError("string not closed")
            if escapes:
                backslashes = len(self.text[at:end]) - len(self.text[at:end].rstrip("\\"))
                if backslashes % 2:
                    at = end + 1
                    continue
            return end


def _unquoted(quoted: str) -> str:
    inner = quoted[1:-1]
    if quoted.startswith('"'):
        try:
            return inner.encode("latin-1", "backslashreplace").decode("unicode_escape")
        except UnicodeDecodeError:
            return inner
    return inner


def key_lines(text: str) -> dict[Path, int]:
    """The line of each key, array of tables and array element `text` writes, by path. A
    part the scanner cannot follow leaves what it found before it."""
    scanner = _Scanner(text)
    with contextlib.suppress(ValueError, IndexError):
        scanner.document()
    return scanner.lines


def line_of(lines: dict[Path, int], path: Path) -> int:
    """The line of `path`, or of the nearest enclosing key that has one (1: none)."""
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return 1
