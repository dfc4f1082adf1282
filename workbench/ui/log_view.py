"""The live Log: a virtual view that draws only the visible rows of the Log's model.

Every row's text comes from peer bytes through the codec's sanitizing decoders, and is drawn
as plain Segments (never markup, never ANSI parsing), so nothing a peer sends reaches the
terminal. The model (workbench.log) holds, frames, filters and lays out the records.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import Worker

from workbench.log import LogModel, RawRecord, Record, Row, ViewSettings, compile_filter
from workbench.log.plain_rows import plain_row
from workbench.log.screen import Line, moved, screen, top_showing
from workbench.session.drain import others_first
from workbench.ui.log_rows import (
    body,
    continuation_head,
    cut_line,
    head,
    hidden_columns,
    wrapped_lines,
)
from workbench.ui.log_subtitle import subtitle

DEFAULT_MAX_ROWS = 100_000
# A Log of more records than this is laid out again (new settings) in slices of about
# RELAYOUT_SLICE_SECONDS, between frames and keys: 100,000 records in hex took ~1 s at once.
RELAYOUT_SLICE = 5_000
RELAYOUT_SLICE_SECONDS = 0.02
# Columns one press of left or right (or a turn of shift+wheel) scrolls the rows sideways.
SIDEWAYS_STEP = 8
# Rendered rows kept: one strip each cut, a list of strips each wrapped.
CACHED_ROWS = 1024
CURSOR_STYLE = Style(bgcolor="grey23")


class LogView(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    LogView { background: $surface; overflow-x: hidden; }
    """

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "cursor_page(-1)", "Page up", show=False),
        Binding("pagedown", "cursor_page(1)", "Page down", show=False),
        Binding("home", "cursor_home", "First", show=False),
        Binding("end", "cursor_end", "Last", show=False),
        Binding("left", "sideways(-1)", "Scroll left", show=False),
        Binding("right", "sideways(1)", "Scroll right", show=False),
        Binding("shift+left", "sideways(-1, True)", "Page left", show=False),
        Binding("shift+right", "sideways(1, True)", "Page right", show=False),
        Binding("enter", "details", "Details"),
        Binding("n", "search(False)", "Next", show=False),
        Binding("N", "search(True)", "Previous", show=False),
        # The Log's other keys are its pane's (workbench/ui/log_pane.py).
    ]

    class DetailsRequested(Message):
        def __init__(self, record: Record) -> None:
            super().__init__()
            self.record = record

    def __init__(
        self,
        max_rows: int = DEFAULT_MAX_ROWS,
        time_format: Callable[[float], str] | None = None,
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.model = LogModel(max_records=max_rows)
        self._format_time = time_format
        self._cache: LRUCache[tuple[int, int, int], Strip] = LRUCache(CACHED_ROWS)
        self._wrapped: LRUCache[tuple[int, int, int], list[Strip]] = LRUCache(CACHED_ROWS)
        self._generation = 0  # bumped when every row changes (new settings, search, shift)
        # Not wrapping: the columns the rows' text is scrolled sideways (their heads stay).
        self.shift = 0
        # Wrapping: the line at the top while not following (see workbench.log.screen), and
        # the lines of the frame being drawn.
        self._top: Line | None = None
        self._frame_lines: list[Line] | None = None
        self._moving_top = False  # scroll_y is being set to match _top (see _show_top)
        # Follow new rows until the user scrolls up; reaching the end again resumes it.
        self._following = True
        # Rows laid out since the model's last reset when following stopped (see new_rows).
        self._rows_when_left: int | None = None
        self._new_rows_shown = 0  # what the bottom border says now
        self.cursor: int | None = None  # a row the user moved to, for details
        self.search_pattern = ""
        # Lines view: lines without their LF yet (a prompt), shown after the finished rows.
        self.tail: list[Row] = []
        # Records added but not drawn yet (see add_records), and how far rows shifted.
        self._unshown = False
        self._unshown_shift = 0
        self._frame_style: tuple[Style, int] | None = None  # see render_lines
        # Settings asked for and being laid out (see apply), and how many times asked.
        self._wanted: ViewSettings | None = None
        self._asked = 0
        self._relayout_worker: Worker[None] | None = None

    # --- content ---

    def add_records(self, records: list[Record | RawRecord], show: bool = True) -> None:
        """Hold `records`; with `show` False the view is updated by a later `show_added()`
        (a batch added in slices is drawn once, not once per slice)."""
        if records:
            dropped_before = self.model.rows_dropped
            self.model.append(records)
            self._unshown_shift += self.model.rows_dropped - dropped_before
            self._unshown = True
        if show:
            self.show_added()

    def show_added(self) -> None:
        if self._unshown:
            shifted, self._unshown_shift, self._unshown = self._unshown_shift, 0, False
            self._rows_changed(shifted)

    @property
    def settings(self) -> ViewSettings:
        """The settings asked for last: shown, or being laid out (see `apply`)."""
        return self._wanted if self._wanted is not None else self.model.settings

    @property
    def laying_out(self) -> bool:
        """Whether settings asked for are still being laid out (the rows show earlier ones)."""
        return self._wanted is not None

    def apply(self, settings: ViewSettings, relayout: bool = False) -> None:
        """Show the whole history again under new settings (mode, framing, filter);
        `relayout`: even when the settings are the same (the records changed encoding).

        A small Log is laid out at once. A large one is laid out in slices between frames
        and keys, by a worker on the app's loop, while the rows shown stay as they were (and
        go on growing); settings asked for meanwhile replace these, and only the last ones
        are laid out to the end. Raises ValueError (changing nothing) for a bad regex.
        """
        compile_filter(settings)  # a bad regex raises here, before anything changes
        self.cursor = None
        self.following = True
        self._asked += 1
        model = self.model
        if self._wanted is None and not relayout and model.same_rows(settings):
            model.retime(settings)  # only the time changed: drawn, not laid out
            self._show_layout()
            return
        if self._wanted is None and len(model.store) <= RELAYOUT_SLICE:
            model.apply(settings)
            self._show_layout()
            return
        self._wanted = settings
        self._update_subtitle()
        if self._relayout_worker is None:
            self._relayout_worker = self.run_worker(
                self._relayout(), name="log relayout", group="log-relayout"
            )

    async def _relayout(self) -> None:
        try:
            while self._wanted is not None:
                asked, job = self._asked, self.model.relayout(self._wanted)
                count = RELAYOUT_SLICE
                while self._asked == asked:
                    started = time.perf_counter()
                    if job.step(count):
                        # No turn between the last step and this: nothing was added since.
                        self.model.finish(job)
                        self._wanted = None
                        self._show_layout()
                        break
                    took = time.perf_counter() - started
                    # Slices of about RELAYOUT_SLICE_SECONDS, whatever a record costs here.
                    fitting = int(count * RELAYOUT_SLICE_SECONDS / max(took, 1e-4))
                    count = max(100, min(8 * count, fitting))
                    await others_first()
        finally:
            self._relayout_worker = None

    def _show_layout(self) -> None:
        self.shift = 0
        self._redraw()
        self.cursor = None
        self.following = True
        self._rows_changed(0)

    def clear(self) -> None:
        """Forget every record and row (the transcript is untouched). The records go as
        dropped ones: the bottom border says so, and an export from the Log is incomplete."""
        store = self.model.store
        store.dropped += len(store)
        store.dropped_bytes += store.bytes
        self.model.clear()
        self._unshown, self._unshown_shift = False, 0
        self._redraw()
        self.cursor = None
        self.following = True
        self._rows_changed(0)

    # --- following, and the rows that arrived below ---

    @property
    def following(self) -> bool:
        return self._following

    @following.setter
    def following(self, value: bool) -> None:
        if value == self._following:
            return  # set on every scroll: only a change costs anything
        self._following = value
        model = self.model
        self._rows_when_left = None if value else model.rows_dropped + len(model.rows)
        self._update_subtitle()

    def new_rows(self) -> int:
        """Rows that arrived since the Log stopped following and are below the rows shown
        (0 while following). Counts, no look at any row: the model's rows are the filtered
        ones, and `rows_dropped + len(rows)` only grows until the model is reset."""
        if self._rows_when_left is None:
            return 0
        model = self.model
        held = len(model.rows)
        arrived = model.rows_dropped + held - self._rows_when_left
        below = held - 1 - self.visible_rows()[1]
        return max(0, min(arrived, below))

    def follow(self) -> None:
        """Follow new rows again: no cursor, the last row in view."""
        self.cursor = None
        self.following = True
        self._scroll_to_end()
        self.refresh()

    def row_count(self) -> int:
        return len(self.model.rows) + len(self.tail)

    def row_at(self, index: int) -> Row:
        rows = self.model.rows
        return rows[index] if index < len(rows) else self.tail[index - len(rows)]

    def _rows_changed(self, shifted: int) -> None:
        self.tail = self.model.pending_tail_rows()
        self._generation += bool(self.tail)  # tail rows change in place: redraw them
        self.virtual_size = Size(self.scrollable_content_region.width, self.row_count())
        if self.cursor is not None:
            self.cursor -= shifted
            if self.cursor < 0:
                self.cursor = None
        if self.following:
            self._scroll_to_end()
            # Once more after the layout that makes room for the new rows.
            self.call_after_refresh(self._scroll_to_end)
        elif shifted and self.wrapping and self._top is not None:
            # Rows fell off the front: keep the same lines in view while the user reads.
            row, line = self._top
            self._show_top((row - shifted, line) if row >= shifted else (0, 0), False)
        elif shifted:
            self.scroll_to(y=max(0, self.scroll_y - shifted), animate=False, immediate=True)
        self.refresh()
        self._update_subtitle()

    def _scroll_to_end(self) -> None:
        if self.following:  # the user may have scrolled up in between
            self.scroll_end(animate=False, immediate=True, force=True, x_axis=False)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._moving_top:
            return  # wrapping: the scroll bar follows the lines shown (_show_top)
        if self.wrapping and new_value < self.max_scroll_y:
            self._top = (int(new_value), 0)  # the scroll bar dragged, or a scroll in rows
        # Only a move up (the user reading history) stops following; rows arriving between
        # a scroll and the next refresh must not, nor a move up to the end of fewer rows
        # (a filter, a cleared Log).
        if new_value >= self.max_scroll_y:
            self.following = True
        elif new_value < old_value:
            self.following = False
        if not self._following and self.new_rows() != self._new_rows_shown:
            self._update_subtitle()  # scrolled down over some of the new rows

    def _update_subtitle(self) -> None:
        new = self._new_rows_shown = self.new_rows()
        laying_out = self._wanted is not None
        self.border_subtitle = subtitle(
            self.model, self.settings, laying_out, self.shift, self.search_pattern, new
        )

    def row_texts(self) -> list[str]:
        """The plain text of every row held, as drawn (for tests and saving)."""
        return [self._row_plain(self.row_at(i)) for i in range(self.row_count())]

    # --- cursor, details, search ---

    def action_cursor(self, step: int) -> None:
        rows = len(self.model.rows)
        if not rows:
            return
        if self.cursor is not None:
            if self._cursor_row_goes_on(step):
                # Wrapping, a row taller than the screen: its lines first, then the next row.
                self.scroll_lines(step, follow_at_end=False)
                return
            self.move_cursor(self.cursor + step)
            return
        # No cursor yet: up starts at the newest row on screen, down at the oldest.
        top, bottom = self.visible_rows()
        self.move_cursor(min(rows - 1, bottom) if step < 0 else top)

    def _cursor_row_goes_on(self, step: int) -> bool:
        """Wrapping: whether the cursor's row has lines off screen in `step`'s direction."""
        if not self.wrapping or self.cursor is None:
            return False
        lines = self._screen_lines()
        if not lines:
            return False
        if step < 0:
            return lines[0][0] == self.cursor and lines[0][1] > 0
        return lines[-1][0] == self.cursor and lines[-1][1] < self._lines_of(self.cursor) - 1

    def action_cursor_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.size.height - 1))

    def action_cursor_home(self) -> None:
        self.move_cursor(0)

    def action_cursor_end(self) -> None:
        self.follow()

    def first_visible_row(self) -> int:
        return self.visible_rows()[0]

    def move_cursor(self, row: int) -> None:
        rows = len(self.model.rows)
        if not rows:
            return
        self.cursor = max(0, min(rows - 1, row))
        if self.wrapping:
            lines = self._screen_lines()
            shown = lines[0] if lines else (0, 0)
            count = self.row_count()
            self._show_top(
                top_showing(self.cursor, shown, self.size.height, count, self._lines_of), False
            )
            return
        top = self.first_visible_row()
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + self.size.height:
            self.scroll_to(y=self.cursor - self.size.height + 1, animate=False, immediate=True)
        self.following = False
        self.refresh()

    def on_click(self, event: events.Click) -> None:
        """A click on a row puts the cursor on it (the click also gave the Log the focus, so
        the footer lists its keys)."""
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if self.wrapping:
            lines = self._screen_lines()
            row = lines[offset.y][0] if offset.y < len(lines) else None
        else:
            row = int(self.scroll_offset.y) + offset.y
        if row is not None and row < len(self.model.rows):
            self.move_cursor(row)

    def action_details(self) -> None:
        row = self.cursor if self.cursor is not None else len(self.model.rows) - 1
        if 0 <= row < len(self.model.rows):
            self.post_message(self.DetailsRequested(self.model.rows[row].record))

    def search(self, pattern: str, backwards: bool = False) -> bool:
        """Move the cursor to the next (or previous) row containing `pattern`."""
        self.search_pattern = pattern
        self._redraw()
        self._update_subtitle()
        if not pattern:
            self.refresh()
            return False
        start = self.cursor if self.cursor is not None else len(self.model.rows) - 1
        found = self.model.find(pattern, start, backwards=backwards)
        if found is None:
            self.refresh()
            return False
        self.move_cursor(found)
        return True

    def action_search(self, backwards: bool) -> None:
        if self.search_pattern and not self.search(self.search_pattern, backwards):
            self.notify(f"not found: {self.search_pattern}", markup=False)

    # --- rendering ---

    def on_resize(self) -> None:
        self.virtual_size = Size(self.scrollable_content_region.width, self.row_count())
        self._redraw()

    def notify_style_update(self) -> None:
        # A theme change: rows drawn before hold the old theme's colours (as Textual's Log).
        super().notify_style_update()
        self._redraw()

    def _redraw(self) -> None:
        """Draw every row again (the rows drawn before are forgotten)."""
        self._generation += 1
        self._cache.clear()
        self._wrapped.clear()

    def render_lines(self, crop: Region) -> list[Strip]:
        # Looked up once per frame, not once per line: under a flood every frame draws
        # every line, and the style is computed from the CSS each time it is asked for.
        self._frame_style = (self.rich_style, self.scrollable_content_region.width)
        self._frame_lines = self._screen_lines() if self.wrapping else None
        try:
            return super().render_lines(crop)
        finally:
            self._frame_style = self._frame_lines = None

    def render_line(self, y: int) -> Strip:
        base, width = self._frame_style or (self.rich_style, self.scrollable_content_region.width)
        if self.wrapping:
            lines = self._frame_lines if self._frame_lines is not None else self._screen_lines()
            if y >= len(lines):
                return Strip.blank(width, base)
            index, line = lines[y]
            strip = self._wrapped_lines(index)[line]
        else:
            index = self.scroll_offset.y + y
            if index >= self.row_count():
                return Strip.blank(width, base)
            key = (self.model.rows_dropped + index, width, self._generation)
            cached = self._cache.get(key)
            if cached is None:
                start, text = self._row_strips(self.row_at(index))
                cut = cut_line(start, text, width, self.shift).crop_extend(0, width, base)
                cached = self._cache[key] = cut.apply_style(base)
            strip = cached
        if index == self.cursor:
            return strip.apply_style(CURSOR_STYLE)
        return strip

    def _time(self, record: Record) -> str:
        if self._format_time is not None and not self.model.settings.relative_time:
            return self._format_time(record.ts)
        return self.model.time_text(record)

    def _row_strips(self, row: Row) -> tuple[Strip, Strip]:
        """A row's head and its text (with its note), apart."""
        return Strip(head(row, self._time(row.record))), Strip(body(row, self.search_pattern))

    def _row_plain(self, row: Row) -> str:
        return plain_row(row, self._time(row.record))

    # --- long rows: cut and scrolled sideways, or wrapped ---

    @property
    def wrapping(self) -> bool:
        return self.model.settings.wrap

    def _wrapped_lines(self, index: int) -> list[Strip]:
        """Row `index` wrapped to the Log's width, each line drawn whole."""
        base, width = self._frame_style or (self.rich_style, self.scrollable_content_region.width)
        key = (self.model.rows_dropped + index, width, self._generation)
        lines = self._wrapped.get(key)
        if lines is None:
            row = self.row_at(index)
            start, text = self._row_strips(row)
            then = Strip(continuation_head(row.record.source, self._time(row.record)))
            lines = [
                line.crop_extend(0, width, base).apply_style(base)
                for line in wrapped_lines(start, then, text, width)
            ]
            self._wrapped[key] = lines
        return lines

    def _lines_of(self, index: int) -> int:
        return len(self._wrapped_lines(index))

    def _screen_lines(self) -> list[Line]:
        """Wrapping: the (row, line) on each line of the screen, from the top."""
        top = None if self.following else self._top
        return screen(top, self.size.height, self.row_count(), self._lines_of)

    def _show_top(self, top: Line, follow_at_end: bool = True) -> None:
        """Wrapping: show the lines from `top` down; with `follow_at_end`, reaching the
        last line follows new rows again. The scroll bar is moved to match, in rows."""
        count = self.row_count()
        if not count:
            return
        self._top = top
        lines = screen(top, self.size.height, count, self._lines_of)
        at_end = (count - 1, self._lines_of(count - 1) - 1) in lines
        self.following = at_end and follow_at_end
        self._moving_top = True
        try:
            y = self.max_scroll_y if self.following else min(top[0], self.max_scroll_y)
            self.scroll_to(y=y, animate=False, immediate=True)
        finally:
            self._moving_top = False
        self.refresh()
        self._update_subtitle()

    def visible_rows(self) -> tuple[int, int]:
        """The first and the last row on screen (partly, when wrapped)."""
        if self.wrapping:
            lines = self._screen_lines()
            return (lines[0][0], lines[-1][0]) if lines else (0, -1)
        top = int(self.scroll_offset.y)
        return top, min(self.row_count(), top + self.size.height) - 1

    def scroll_lines(self, by: int, follow_at_end: bool = True) -> None:
        """Wrapping: move the lines shown `by` lines (up when negative)."""
        lines = self._screen_lines()
        if lines:
            top = moved(lines[0], by, self.row_count(), self._lines_of)
            self._show_top(top, follow_at_end)

    def action_sideways(self, direction: int, page: bool = False) -> None:
        """Not wrapping: scroll the rows' text sideways (SIDEWAYS_STEP columns, or most of
        the width with `page`), as far as the rows on screen go."""
        if self.wrapping:
            return
        width = self.scrollable_content_region.width
        step = max(SIDEWAYS_STEP, width // 2) if page else SIDEWAYS_STEP
        first, last = self.visible_rows()
        strips = (self._row_strips(self.row_at(i)) for i in range(first, last + 1))
        widest = max((hidden_columns(start, text, width) for start, text in strips), default=0)
        # One more column than hidden: the cut mark takes the last cell.
        shift = max(0, min(self.shift + direction * step, widest + 1 if widest else 0))
        if shift != self.shift:
            self.shift = shift
            self._redraw()
            self.refresh()
            self._update_subtitle()

    def _on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._wheel(event, 1)

    def _on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._wheel(event, -1)

    def _on_mouse_scroll_right(self, event: events.MouseScrollRight) -> None:
        self.action_sideways(1)
        event.stop()

    def _on_mouse_scroll_left(self, event: events.MouseScrollLeft) -> None:
        self.action_sideways(-1)
        event.stop()

    def _wheel(self, event: events.MouseScrollDown | events.MouseScrollUp, direction: int) -> None:
        """shift+wheel (or ctrl+wheel) scrolls sideways; the wheel, wrapping, by lines."""
        if event.shift or event.ctrl:
            self.action_sideways(direction)
        elif self.wrapping:
            self.scroll_lines(direction * max(1, int(self.app.scroll_sensitivity_y)))
        elif direction > 0:
            super()._on_mouse_scroll_down(event)  # type: ignore[arg-type]
            return
        else:
            super()._on_mouse_scroll_up(event)  # type: ignore[arg-type]
            return
        event.stop()
