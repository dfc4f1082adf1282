"""Which lines of which rows fill the Log's screen when long rows wrap.

A wrapped row takes one or more lines. The screen is worked out from an anchor (a top line,
or the end of the last row) by asking how many lines the rows near it take, never all of
them: a Log of 100,000 records costs what a screen of rows does.
"""

from __future__ import annotations

from collections.abc import Callable

# A line on screen: (row index, line within that row).
Line = tuple[int, int]
LinesOf = Callable[[int], int]  # how many lines row i takes (at least 1)


def lines_down(top: Line, height: int, count: int, lines_of: LinesOf) -> list[Line]:
    """Up to `height` lines from `top` down, over rows `0..count-1`."""
    out: list[Line] = []
    row, line = top
    while len(out) < height and row < count:
        taken = lines_of(row)
        end = min(taken, line + height - len(out))
        out += [(row, index) for index in range(line, end)]
        row, line = row + 1, 0
    return out


def lines_up(bottom: Line, height: int, lines_of: LinesOf) -> list[Line]:
    """Up to `height` lines that end with `bottom`, oldest first."""
    out: list[Line] = []
    row, line = bottom
    while len(out) < height and row >= 0:
        start = max(0, line + 1 - (height - len(out)))
        out += [(row, index) for index in range(line, start - 1, -1)]
        row -= 1
        if row >= 0:
            line = lines_of(row) - 1
    out.reverse()
    return out


def last_line(count: int, lines_of: LinesOf) -> Line:
    """The last line of the last row (count must be at least 1)."""
    return count - 1, lines_of(count - 1) - 1


def screen(top: Line | None, height: int, count: int, lines_of: LinesOf) -> list[Line]:
    """The lines shown: from `top` down, or the last ones when `top` is None (following) or
    when the rows from `top` end before the screen does (the end is at the bottom)."""
    if not count or height < 1:
        return []
    if top is not None:
        shown = lines_down(top, height, count, lines_of)
        if len(shown) == height:
            return shown
    shown = lines_up(last_line(count, lines_of), height, lines_of)
    if len(shown) < height:  # fewer lines than the screen holds: from the first row
        return lines_down((0, 0), height, count, lines_of)
    return shown


def moved(top: Line, by: int, count: int, lines_of: LinesOf) -> Line:
    """`top` moved `by` lines (up when negative), stopping at the first line."""
    row, line = top
    line += by
    while line < 0 and row > 0:
        row -= 1
        line += lines_of(row)
    if line < 0:
        return 0, 0
    while row < count - 1 and line >= lines_of(row):
        line -= lines_of(row)
        row += 1
    return row, min(line, lines_of(row) - 1)


def top_showing(row: int, top: Line, height: int, count: int, lines_of: LinesOf) -> Line:
    """The nearest top to `top` that shows every line of `row` (its first lines, when the
    row is taller than the screen)."""
    if (row, 0) < top:
        return row, 0
    taken = lines_of(row)
    if taken >= height:
        return row, 0
    shown = lines_down(top, height, count, lines_of)
    if (row, taken - 1) in shown:
        return top
    return lines_up((row, taken - 1), height, lines_of)[0]
