"""The one regular-expression engine for peer data: RE2 (the `google-re2` package).

Peer data is hostile, and Python's `re` backtracks: `(a+)+$` against one line of 40 `a` and
a `b` held the GIL for hours, so the whole process (keys, frames, the engine) froze. RE2 runs
in time linear in the text for every pattern it accepts; what it cannot promise that for
(backreferences, lookahead and lookbehind, possessive repeats) it refuses at compile time.
There is no fallback to `re`: a pattern RE2 refuses is refused here, with the reason in plain
words. The Log's filter and search use this module, and so must anything else that runs a
user's pattern over peer data (auto-responder rules).

Textual-free and pure: usable from the session, the engine or a headless runner.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["PatternError", "PeerRegex", "compile_bytes_regex", "compile_peer_regex"]

# RE2's default memory budget for one compiled pattern; over it RE2 refuses the pattern.
MAX_PATTERN_MEMORY = 8 << 20

# What RE2 says (its message starts with one of these) -> why, in the user's words.
_REASONS = (
    ("invalid perl operator: (?=", "lookahead (?=...) is not supported"),
    ("invalid perl operator: (?!", "negative lookahead (?!...) is not supported"),
    ("invalid perl operator: (?<=", "lookbehind (?<=...) is not supported"),
    ("invalid perl operator: (?<!", "negative lookbehind (?<!...) is not supported"),
    ("invalid perl operator: (?>", "atomic groups (?>...) are not supported"),
    ("invalid perl operator: (?x", "verbose mode (?x) is not supported"),
    ("bad repetition operator: ++", "possessive repeats (++, *+, ?+) are not supported"),
    ("bad repetition operator: *+", "possessive repeats (++, *+, ?+) are not supported"),
    ("bad repetition operator: ?+", "possessive repeats (++, *+, ?+) are not supported"),
    ("invalid repetition size", "repeats over 1000 (nested ones multiplied) are not supported"),
    ("pattern too large", "the pattern is too large"),
)


class PatternError(ValueError):
    """A pattern the engine does not take; `str()` says why, in plain words (it may quote
    the pattern: show it sanitized)."""


class PeerRegex:
    """A compiled pattern: `search(text)` says whether it occurs in `text`, in linear time."""

    __slots__ = ("_search", "pattern")

    def __init__(self, pattern: str, compiled: Any) -> None:
        self.pattern = pattern
        self._search = compiled.search

    def search(self, text: str) -> bool:
        try:
            return self._search(text) is not None
        except UnicodeEncodeError:
            # RE2 matches UTF-8: a lone surrogate (never in sanitized text) is matched as
            # its escape rather than raise.
            return self._search(text.encode("utf-8", "backslashreplace").decode()) is not None

    __call__ = search

    def __repr__(self) -> str:
        return f"PeerRegex({self.pattern!r})"


def _engine() -> ModuleType:
    """RE2, imported when a first pattern is compiled: the app's first screen does not wait
    for it (4 ms of start-up). Import errors (out of file descriptors, say) refuse the pattern
    rather than end the app."""
    try:
        return importlib.import_module("re2")
    except (ImportError, OSError) as exc:
        raise PatternError(f"the regular-expression engine could not be loaded: {exc}") from None


def _options(re2: ModuleType, ignore_case: bool) -> Any:
    options = re2.Options()
    # Without this RE2 writes each refused pattern to stderr: the TUI's terminal.
    options.log_errors = False
    options.case_sensitive = not ignore_case
    options.max_mem = MAX_PATTERN_MEMORY
    return options


_LINEAR = " (sockbench's regular expressions are RE2's, which run in linear time)"


def _reason(message: str) -> str:
    if message.startswith("invalid escape sequence: \\") and message[-1:].isdigit():
        return f"backreferences ({message.rsplit(': ', 1)[1]}) are not supported{_LINEAR}"
    for start, reason in _REASONS:
        if message.startswith(start):
            return reason + _LINEAR
    return message


def compile_peer_regex(pattern: str, ignore_case: bool = True) -> PeerRegex:
    """Compile `pattern` (RE2 syntax, close to Python's for what people type into a
    filter) for use on peer data. Raises PatternError, saying why, for a pattern RE2 does
    not take; never falls back to a backtracking engine."""
    re2 = _engine()
    return PeerRegex(pattern, _compiled(re2, pattern, _options(re2, ignore_case)))


def compile_bytes_regex(pattern: str, latin1: bool = False) -> Any:
    """`pattern` compiled to search bytes (an RE2 pattern object: `search`, `groups`,
    `groupindex`), case-sensitive: in UTF-8, or with `latin1` each byte one character.
    Raises PatternError as `compile_peer_regex` does."""
    re2 = _engine()
    options = _options(re2, ignore_case=False)
    if latin1:
        options.encoding = re2.Options.Encoding.LATIN1
    try:
        raw = pattern.encode("latin-1" if latin1 else "utf-8")
    except UnicodeEncodeError:
        raise PatternError(
            "invalid regular expression: only characters U+0000-U+00FF in latin-1 (write "
            "others as \\xNN bytes)"
        ) from None
    return _compiled(re2, raw, options)


def _compiled(re2: ModuleType, pattern: str | bytes, options: Any) -> Any:
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        raw = exc.args[0] if exc.args else "invalid pattern"
        message = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        raise PatternError(f"invalid regular expression: {_reason(message)}") from None
    except (TypeError, UnicodeEncodeError):
        raise PatternError("invalid regular expression: not valid text") from None
