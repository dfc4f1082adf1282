"""Which records the view shows (the filter), and the text search shared with find."""

from __future__ import annotations

from collections.abc import Callable

from workbench.log.records import Record
from workbench.log.settings import ViewSettings
from workbench.peer_regex import compile_peer_regex


def accept_all(record: Record) -> bool:
    return True


def compile_search(pattern: str, regex: bool) -> Callable[[str], bool]:
    """A case-insensitive "does this text contain the pattern" test (for filters and find).

    Raises ValueError (a PatternError) with a plain message for a regular expression the
    engine does not take.
    """
    if regex:
        # RE2, linear in the text: the text is a peer's (workbench.peer_regex).
        return compile_peer_regex(pattern).search
    folded = pattern.casefold()
    return lambda text: folded in text.casefold()


def compile_filter(settings: ViewSettings) -> Callable[[Record], bool]:
    """The test a (framed) record must pass to be shown. Raises ValueError for a bad regex."""
    tests: list[Callable[[Record], bool]] = []
    sources = settings.sources
    if sources is not None:
        tests.append(lambda record: record.source in sources)
    if settings.direction != "both":
        direction = settings.direction
        tests.append(lambda record: record.kind == direction or not record.is_data)
    if settings.hex_pattern:
        pattern = settings.hex_pattern
        # Info and error records hold no bytes, so they cannot contain the pattern.
        tests.append(lambda record: record.is_data and pattern in record.data)
    if settings.text:
        # Last: decoding is the costly test, so cheaper ones reject first.
        contains = compile_search(settings.text, settings.regex)
        tests.append(lambda record: contains(record.display_text()))
    if not tests:
        return accept_all
    if len(tests) == 1:
        return tests[0]
    return lambda record: all(test(record) for test in tests)
