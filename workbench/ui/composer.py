"""The composer: one input line with history, sending to the current target."""

from __future__ import annotations

from textual.binding import Binding
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import Input

MAX_HISTORY = 500


class Composer(Input):
    """Up/down recall earlier lines, as in a shell."""

    # Input's virtual size (the width of what was typed) changes with every key, and as a
    # layout reactive it laid out the whole screen again each time; the composer's own size
    # never depends on it (fixed height, width 1fr), so a repaint is enough.
    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    BINDINGS = [
        Binding("up", "history(-1)", "Previous line", show=False),
        Binding("down", "history(1)", "Next line", show=False),
        # In a terminal ctrl+d means end of input: here it half-closes the target.
        Binding("ctrl+d", "app.half_close", "Send EOF", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            placeholder=r"type to the target · Enter sends it + LF · \r \n \t \0 \e \\ \xNN \u{…}",
            id=id,
        )
        self.history: list[str] = []
        self._cursor = 0  # == len(history) while editing a new line
        self._draft = ""

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
        self.value = self._draft if editing_new_line else self.history[self._cursor]
        self.cursor_position = len(self.value)
