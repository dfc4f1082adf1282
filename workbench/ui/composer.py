"""The composer: one input line with history, sending to the current target; a paste of
several lines turns it into a block editor (workbench/ui/block_composer.py) that sends them
all at once. The block editor is made and mounted the first time it is needed: TextArea is
not worth loading before the first screen."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Self

from rich.cells import cell_len
from textual import events
from textual.app import RenderResult
from textual.binding import Binding
from textual.content import Content
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widget import Widget
from textual.widgets import Input, Static

from workbench.codec import escape_invisible
from workbench.ui.fit import fit_text, join

if TYPE_CHECKING:
    from workbench.ui.block_composer import BlockComposer

MAX_HISTORY = 500
# Keys that open a new line in the block editor (and start one from the input line).
# Terminals send ctrl+j as a line feed, so it works everywhere; shift+enter and alt+enter
# only where the terminal reports them (the kitty keyboard protocol, which Textual asks
# for): elsewhere alt+enter arrives as enter, and shift+enter is enter.
NEW_LINE_KEYS = "ctrl+j,shift+enter,alt+enter"


class HistoryKeeper(Protocol):
    """Where the history lives when it outlives the launch (workbench/ui/remembering.py)."""

    def add(self, line: str) -> None: ...

    def lines(self) -> list[str]:
        """What up recalls now, oldest first (it may depend on the target)."""
        ...


class TargetLabel(Static):
    """Left of the composer, where a typed line goes ("to C2 127.0.0.1:48230 (new, open)"):
    as wide as it needs up to its share of the row (CSS), and past that fitted to it, its
    host cut in the middle and its last words left out, never an id or a port cut."""

    @property
    def text(self) -> str:
        content = self.content
        return content.plain if isinstance(content, Content) else str(content)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return cell_len(self.text)  # what it needs, not what it showed at its last width

    def render(self) -> RenderResult:
        text, width = self.text, self.content_region.width
        if width <= 0 or cell_len(text) <= width:
            return super().render()
        return Content(join(text, fit_text(text, width)))


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
        Binding("ctrl+d", "screen.half_close", "Send EOF", show=False, id="half_close"),
        Binding(NEW_LINE_KEYS, "new_line", "New line", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            placeholder=r"type to the target · Enter sends it + LF · \r \n \t \0 \e \\ \xNN \u{…}",
            id=id,
        )
        self.history: list[str] = []
        self._cursor = 0  # == len(history) while editing a new line
        self.mode = "text"  # the send mode (the main screen sets it): text, hex or file
        self._draft = ""
        self.block: BlockComposer | None = None  # made the first time it opens
        self.keeper: HistoryKeeper | None = None  # None: the history lasts as long as the app

    def remember(self, line: str) -> None:
        if self.keeper is not None:
            self.keeper.add(line)
            self.history = self.keeper.lines()
        elif line and (not self.history or self.history[-1] != line):
            self.history.append(line)
            del self.history[:-MAX_HISTORY]
        self._cursor = len(self.history)
        self._draft = ""

    async def action_history(self, step: int) -> None:
        if self._cursor == len(self.history) and self.keeper is not None:
            # Recalling begins: the lines of the target as it is now.
            self.history = self.keeper.lines()
            self._cursor = len(self.history)
        if not self.history:
            return
        if self._cursor == len(self.history):
            self._draft = self.value
        self._cursor = max(0, min(len(self.history), self._cursor + step))
        editing_new_line = self._cursor == len(self.history)
        entry = self._draft if editing_new_line else self.history[self._cursor]
        if "\n" in entry:
            self.value = ""
            await self.open_block(entry.split("\n"))
            return
        self.value = entry
        self.cursor_position = len(self.value)

    # --- the block editor ---

    async def open_block(self, rows: list[str], cursor: tuple[int, int] | None = None) -> None:
        """Open the block editor with `rows` (see BlockComposer.open); made and mounted the
        first time, last in the composer's row."""
        if self.block is None:
            from workbench.ui.block_composer import BlockComposer

            row = self.parent
            assert isinstance(row, Widget)
            self.block = BlockComposer(self, id="block-composer")
            await row.mount(self.block)
        self.block.open(rows, cursor)

    @property
    def block_open(self) -> bool:
        return self.block is not None and self.block.is_open

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
        return escape_invisible(text) if self.mode == "text" else text

    # Async (Textual awaits a handler that is), unlike Input's: it may mount the block editor.
    async def _on_paste(self, event: events.Paste) -> None:  # type: ignore[override]
        """A paste of several lines opens the block editor with all of them (Input's own
        paste, which runs otherwise, keeps the first line only)."""
        if not event.text:
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
        await self.open_block(rows, end_of(before))

    async def action_new_line(self) -> None:
        """Split the line at the cursor into a block of two lines."""
        cursor = self.cursor_position
        rows = [self.value[:cursor], self.value[cursor:]]
        self.value = ""
        await self.open_block(rows, (1, 0))


def end_of(text: str) -> tuple[int, int]:
    """The (row, column) just after `text` once split into lines as TextArea splits them."""
    rows = text.splitlines()
    if not rows:
        return (0, 0)
    if text.splitlines(keepends=True)[-1] != rows[-1]:  # it ends with a line break
        return (len(rows), 0)
    return (len(rows) - 1, len(rows[-1]))
