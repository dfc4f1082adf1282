"""The first screen: the main screen's layout drawn from Textual's own widgets alone, shown
while the app's modules load.

Launched from the command line, the app draws this at once, then loads the session core, the
Log and the panes (a third of what start-up cost) and shows the main screen over it. Both
screens share their ids, so app.tcss styles them alike and the change shows nothing but the
Connections columns' header. What is typed meanwhile moves to the main composer.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer, Input, Sparkline, Static

from workbench.session.rates import RATE_WINDOW_SECONDS

# What the first screen shows, and the main screen shows before any event.
NO_TARGET = "no target"
NO_TARGET_STATS = "no target: its throughput shows here"
TEXT_MODE_HINT = r"type to the target · Enter sends it + line ending · \r \n \t \0 \e \\ \xNN \u{…}"
PANE_TITLES = {"listeners": "Listeners", "connections": "Connections", "log": "Log"}
COMPACT_FOOTER_BELOW = 120  # columns
# The Listeners pane takes a fifth of the screen, within these cells, and widens for its
# labels up to WIDEST_SHARE of it (ListenersTree.fit_width).
NARROWEST_LISTENERS, WIDEST_LISTENERS_FLOOR = 24, 48


def listeners_floor(screen_width: int) -> int:
    """The Listeners pane's width when it has nothing to show."""
    return max(NARROWEST_LISTENERS, min(WIDEST_LISTENERS_FLOOR, screen_width // 5))


def fit_footer(screen: Screen[None], screen_width: int) -> None:
    """Narrow screens: the keys closer together, and no palette hint (the help screen, f1,
    points to the palette): at 80 columns every key the footer lists then shows whole."""
    narrow = screen_width < COMPACT_FOOTER_BELOW
    for footer in screen.query(Footer):
        footer.compact = narrow
        footer.show_command_palette = not narrow


def throughput_line() -> Sparkline:
    """The target's last minute, in the stats line under the panes."""
    return Sparkline([0] * RATE_WINDOW_SECONDS, summary_function=max, id="stats-spark")


def pane(name: str) -> Static:
    box = Static("", id=name)
    box.border_title = PANE_TITLES[name]
    return box


class FirstScreen(Screen[None]):
    AUTO_FOCUS = "#composer"

    def __init__(self, mode_line: str) -> None:
        """`mode_line`: how the composer sends (mode, line ending, encoding)."""
        super().__init__()
        self.mode_line = mode_line

    def compose(self) -> ComposeResult:
        with Horizontal(id="panes"):
            yield pane("listeners")
            yield pane("connections")
        with Horizontal(id="stats"):
            yield Static(Content(NO_TARGET_STATS), id="stats-text")
            yield throughput_line()
        with Vertical(id="log-pane"):
            yield pane("log")
        with Horizontal(id="composer-row"):
            yield Static(Content(NO_TARGET), id="target", classes="none")
            yield Static(Content(self.mode_line), id="mode")
            yield Input(placeholder=TEXT_MODE_HINT, id="composer")
        yield Footer()

    def on_resize(self, event: Resize) -> None:
        self.query_one("#listeners").styles.width = listeners_floor(event.size.width)
        fit_footer(self, event.size.width)

    def typed(self) -> tuple[str, int]:
        """What was typed in the composer so far, and where its cursor is."""
        composer = self.query_one("#composer", Input)
        return composer.value, composer.cursor_position
