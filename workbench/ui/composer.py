"""The composer: one input line with history, sending to the current target; a paste of
several lines turns it into a block editor (BlockComposer) that sends them all at once."""

from __future__ import annotations

from dataclasses import replace
from typing import Self

from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.geometry import Size
from textual.message import Message
from textual.reactive import Reactive
from textual.widgets import Input, TextArea

from workbench.codec import escape_invisible

MAX_HISTORY = 500
# Keys that open a new line in the block editor (and start one from the input line).
# Terminals send ctrl+j as a line feed, so it works everywhere; shift+enter and alt+enter
# only where the terminal reports them (the kitty keyboard protocol, which Textual asks
# for): elsewhere alt+enter arrives as enter, and shift+enter is enter.
NEW_LINE_KEYS = "ctrl+j,shift+enter,alt+enter"
BLOCK_HINT = "Enter sends all · ctrl+j new line · ctrl+u drops"


class Composer(Input):
    """Up/down recall earlier lines, as in a shell. A sent block is remembered as one entry
    (its lines joined by a line feed, which a line typed here cannot hold): recalling it
    opens the block editor again."""

    # Input's virtual size (the width of what was typed) changes with every key, and as a
    # layout reactive it laid out the whole screen again each time; the composer's own size
    # never depends on it (fixed height, width 1fr), so a repaint is enough.
    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    BINDINGS = [
        Binding("up", "history(-1)", "Previous line", show=False),
        Binding("down", "history(1)", "Next line", show=False),
        # In a terminal ctrl+d means end of input: here it half-closes the target.
        Binding("ctrl+d", "screen.half_close", "Send EOF", show=False),
        Binding(NEW_LINE_KEYS, "new_line", "New line", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            placeholder=r"type to the target · Enter sends it + LF · \r \n \t \0 \e \\ \xNN \u{…}",
            id=id,
        )
        self.history: list[str] = []
        self._cursor = 0  # == len(history) while editing a new line
        self._draft = ""
        self.block: BlockComposer | None = None  # set by the block editor that pairs with it

    def remember(self, line: str) -> None:
        if line and (not self.history or self.history[-1] != line):
            self.history.append(line)
            del self.history[:-MAX_HISTORY]
        self._cursor = len(self.history)
        self._draft = ""

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        if self._cursor == len(self.history):
            self._draft = self.value
        self._cursor = max(0, min(len(self.history), self._cursor + step))
        editing_new_line = self._cursor == len(self.history)
        entry = self._draft if editing_new_line else self.history[self._cursor]
        if "\n" in entry and self.block is not None:
            self.value = ""
            self.block.open(entry.split("\n"))
            return
        self.value = entry
        self.cursor_position = len(self.value)

    # --- the block editor ---

    def focus(self, scroll_visible: bool = True) -> Self:
        """While a block is open, the block editor is the composer: focus goes there."""
        if self.block is not None and self.block.is_open:
            self.block.focus(scroll_visible)
            return self
        return super().focus(scroll_visible)

    def pasted(self, text: str) -> str:
        """What a paste puts in the composer: in text mode, its controls and invisible
        characters as escapes (they show, and send the same bytes); the line breaks, LF, CR
        or CRLF, are the only ones that split it into lines (not a form feed, say)."""
        return escape_invisible(text) if getattr(self.app, "mode", "text") == "text" else text

    def _on_paste(self, event: events.Paste) -> None:
        """A paste of several lines opens the block editor with all of them (Input's own
        paste, which runs otherwise, keeps the first line only)."""
        if self.block is None or not event.text:
            return
        text = self.pasted(event.text)
        start, end = sorted(self.selection)
        before = self.value[:start] + text
        rows = (before + self.value[end:]).splitlines()
        if len(rows) < 2:
            # One line (perhaps with a line break after it): Input pastes it, unless it
            # showed escapes for some characters.
            if text != event.text:
                event.prevent_default()
                event.stop()
                self.replace(text.splitlines()[0] if text.splitlines() else "", start, end)
            return
        event.prevent_default()
        event.stop()
        self.value = ""
        self.block.open(rows, end_of(before))

    def action_new_line(self) -> None:
        """Split the line at the cursor into a block of two lines."""
        if self.block is None:
            return
        cursor = self.cursor_position
        rows = [self.value[:cursor], self.value[cursor:]]
        self.value = ""
        self.block.open(rows, (1, 0))


def end_of(text: str) -> tuple[int, int]:
    """The (row, column) just after `text` once split into lines as TextArea splits them."""
    rows = text.splitlines()
    if not rows:
        return (0, 0)
    if text.splitlines(keepends=True)[-1] != rows[-1]:  # it ends with a line break
        return (len(rows), 0)
    return (len(rows) - 1, len(rows[-1]))


def _without_keys(bindings: list[BindingType], keys: set[str]) -> list[BindingType]:
    """`bindings` less `keys` (a binding keeps its other keys)."""
    kept: list[BindingType] = []
    for binding in bindings:
        assert isinstance(binding, Binding)
        names = [k for k in binding.key.split(",") if k.strip() not in keys]
        if names:
            kept.append(replace(binding, key=",".join(names)))
    return kept


class BlockComposer(TextArea, inherit_bindings=False):
    """Several lines sent at once (each with the connection's line ending): opened by a
    paste of several lines into the composer, by ctrl+j there, or by recalling a sent block.
    Enter sends the block; ctrl+j (shift+enter, alt+enter) opens a new line; ctrl+u drops
    it. Either way the single-line composer comes back."""

    # TextArea's own keys, less those the app means otherwise on the main screen: f6 and f7
    # (reset, line ending; TextArea: select line, select all), ctrl+d (send EOF; TextArea:
    # delete right) and ctrl+u (here: drop the block; TextArea: delete to line start).
    # (Not inherited: the scrolling container's ctrl+pageup/down, for sideways paging, which
    # soft wrapping makes moot.)
    BINDINGS = [
        *_without_keys(TextArea.BINDINGS, {"f6", "f7", "ctrl+d", "ctrl+u"}),
        Binding("enter", "submit", "Send block", show=False),
        Binding(NEW_LINE_KEYS, "new_line", "New line"),
        Binding("ctrl+u", "drop", "Drop block"),
    ]

    class Submitted(Message):
        """Enter: send these lines."""

        def __init__(self, block: BlockComposer, lines: list[str]) -> None:
            super().__init__()
            self.block = block
            self.lines = lines

    def __init__(self, composer: Composer, *, id: str | None = None) -> None:
        super().__init__(id=id, show_line_numbers=True, soft_wrap=True)
        self.composer = composer
        composer.block = self
        self.display = False
        self.border_subtitle = Content(BLOCK_HINT)

    @property
    def is_open(self) -> bool:
        return bool(self.display)

    @property
    def lines(self) -> list[str]:
        """What Enter sends: one entry per row shown (each gets a line ending)."""
        return list(self.document.lines)

    def open(self, rows: list[str], cursor: tuple[int, int] | None = None) -> None:
        """Show `rows` in place of the single-line composer, the cursor at `cursor` (by
        default the end)."""
        self.load_text("\n".join(rows))
        self.show_line_count()
        if self.parent is not None:
            self.parent.add_class("block")
        self.composer.display = False
        self.display = True
        last = len(rows) - 1
        row, column = cursor if cursor is not None else (last, len(rows[last]))
        if row > last:  # after a final line break, which ends the last row: at its end
            row, column = last, len(rows[last])
        self.move_cursor((row, min(column, len(rows[row]))))
        self.focus()

    def close(self) -> None:
        """Back to the single-line composer (after sending, or dropping the block)."""
        self.display = False
        if self.parent is not None:
            self.parent.remove_class("block")
        self.composer.display = True
        self.load_text("")
        self.composer.focus()

    def show_line_count(self) -> None:
        count = self.document.line_count
        self.border_title = Content(f"{count:,} line{'' if count == 1 else 's'}")

    def _on_text_area_changed(self, event: TextArea.Changed) -> None:
        self.show_line_count()

    async def _on_key(self, event: events.Key) -> None:
        # Enter sends (its binding) rather than TextArea's line break.
        if event.key == "enter":
            event.prevent_default()

    async def _on_paste(self, event: events.Paste) -> None:
        # As in the input line: controls and invisible characters show as escapes.
        text = self.composer.pasted(event.text)
        if text != event.text:
            event.prevent_default()
            result = self.replace(text, *self.selection)
            self.move_cursor(result.end_location)

    def action_submit(self) -> None:
        self.post_message(self.Submitted(self, self.lines))

    def action_new_line(self) -> None:
        start, end = self.selection
        self.replace("\n", start, end)

    def action_drop(self) -> None:
        self.close()
