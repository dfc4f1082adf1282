"""The short sizes and counts the Connections table shows: they keep its columns narrow."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from workbench.ui.panes import short_count, short_size


def test_short_count_examples() -> None:
    examples = {0: "0", 9_999: "9999", 10_000: "10.0k", 12_345: "12.3k", 99_999: "99k"}
    examples |= {99_960: "99k"}  # 99.96k would round to "100.0k": shown whole instead
    examples |= {123_456: "123k", 1_234_567: "1.2M", 999_999_999: "999M", 1_500_000_000: "1.5G"}
    for n, expected in examples.items():
        assert short_count(n) == expected, n


@given(st.integers(0, 10**12 - 1))
def test_short_count_fits_five_characters(n: int) -> None:
    assert len(short_count(n)) <= 5


@given(st.integers(0, 1 << 40))
def test_short_size_fits_five_characters(n: int) -> None:
    assert len(short_size(n)) <= 5
