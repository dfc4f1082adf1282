"""The one regular-expression engine for peer data (RE2): linear time, no fallback to a
backtracking engine, a refused pattern says why in plain words (issue 12, point 2)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.log import LogModel, Record, ViewSettings, compile_filter
from workbench.peer_regex import PatternError, compile_peer_regex


def test_the_redos_pattern_runs_in_linear_time() -> None:
    pattern = compile_peer_regex("(a+)+$")
    started = time.perf_counter()
    assert not pattern.search("a" * 40 + "b")
    assert not pattern.search("a" * 1_000_000 + "b")  # Python's re: forever
    assert pattern.search("xaaa")
    assert time.perf_counter() - started < 5  # a bound for a loaded machine: ~10 ms here


def test_case_is_ignored_unless_asked() -> None:
    assert compile_peer_regex("^http/1\\.[01] [45]").search("HTTP/1.1 404 Not Found")
    assert compile_peer_regex("héllo").search("SAY HÉLLO")
    assert not compile_peer_regex("abc", ignore_case=False).search("ABC")


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"(a)\1", r"backreferences (\1) are not supported"),
        (r"(?=a)b", "lookahead (?=...) is not supported"),
        (r"(?!a)b", "negative lookahead (?!...) is not supported"),
        (r"(?<=a)b", "lookbehind (?<=...) is not supported"),
        (r"(?<!a)b", "negative lookbehind (?<!...) is not supported"),
        (r"(?>a)", "atomic groups (?>...) are not supported"),
        (r"a++", "possessive repeats"),
        (r"((a{100}){100})", "repeats over 1000"),
        (r"(abc", "missing ): (abc"),
        (r"[z-a]", "invalid character class range: z-a"),
    ],
)
def test_a_pattern_re2_cannot_take_is_refused_with_the_reason(
    pattern: str, why: str, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(PatternError) as raised:
        compile_peer_regex(pattern)
    assert str(raised.value).startswith("invalid regular expression: ")
    assert why in str(raised.value)
    assert isinstance(raised.value, ValueError)  # what callers already catch
    # RE2 logs refused patterns to stderr by default: in the TUI, that is the terminal.
    assert capfd.readouterr().err == ""


def test_no_fallback_to_a_backtracking_engine() -> None:
    # A backreference is fine for Python's re: here it is refused, never run by re.
    with pytest.raises(PatternError):
        compile_filter(ViewSettings(text=r"(a+)\1$", regex=True))
    model = LogModel()
    model.append([Record(1, 0.0, "C1", "in", b"abc", 3)])
    with pytest.raises(PatternError):
        model.find(r"(?=a)", 0, regex=True)


def test_the_filter_uses_it() -> None:
    accept = compile_filter(ViewSettings(text="(a+)+$", regex=True))
    peer = Record(1, 0.0, "C1", "in", b"a" * 40 + b"b", 41)
    started = time.perf_counter()
    assert not accept(peer)
    assert time.perf_counter() - started < 5


@given(st.text(max_size=60), st.sampled_from(["a", "é", "\\x1b", "[0-9]+", "^.", "x|y"]))
def test_search_agrees_with_pythons_re_where_both_apply(text: str, pattern: str) -> None:
    import re

    expected = re.search(pattern, text, re.IGNORECASE) is not None
    assert compile_peer_regex(pattern).search(text) == expected
