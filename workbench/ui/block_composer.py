"""The block editor: several lines sent at once, in place of the single-line composer
(workbench/ui/composer.py), which makes and mounts it the first time it is needed."""

from __future__ import annotations

from dataclasses import replace

from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.widgets import TextArea

from workbench.ui.composer import NEW_LINE_KEYS, Composer

BLOCK_HINT = "Enter sends all · ctrl+j new line · ctrl+u drops"


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
