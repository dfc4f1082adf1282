"""F1 (and ? outside a text field): the help of the focused pane, over the screen.

Its keys are read from the bindings in force where the focus is (the focused widget's, its
pane's, the screen's and the app's), with their descriptions, so that they cannot drift from
what the keys do; what the columns and marks mean comes from workbench/ui/help_texts.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical, VerticalScroll
from textual.content import Content
from textual.dom import DOMNode
from textual.keys import format_key
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Input, Static, TextArea

from workbench.ui import help_texts
from workbench.ui.block_composer import BlockComposer
from workbench.ui.composer import Composer
from workbench.ui.log_pane import LogPane
from workbench.ui.panes import ConnectionsTable, ListenersTree

TITLES = {
    "listeners": "Listeners",
    "connections": "Connections",
    "log": "Log",
    "composer": "Composer",
    "": "sockbench",
}
# Textual's own keys of the widgets the panes are made of, in the project's words: the
# others of these widgets are not listed (the Tree's sibling jumps, say).
MOVE = help_texts.MOVE
INHERITED: dict[type[DOMNode], dict[str, str]] = {
    ConnectionsTable: {
        "select_cursor": "Make the connection the target, back to the composer",
        "cursor_up": MOVE,
        "cursor_down": MOVE,
        "page_up": MOVE,
        "page_down": MOVE,
        "scroll_home": MOVE,
        "scroll_end": MOVE,
    },
    ListenersTree: {
        "select_cursor": "A peer: make it the target; a listener: fold or unfold its peers",
        "toggle_node": "Fold or unfold a listener's peers",
        "cursor_up": MOVE,
        "cursor_down": MOVE,
    },
    Composer: {"submit": "Send to the target, or to every marked connection"},
    Screen: {"app.focus_next": "Next pane", "app.focus_previous": "Previous pane"},
    App: {"command_palette": "The command palette: every action, found by name"},
}
# Scrolling sideways: listed only while the pane can (it shows a horizontal scrollbar).
SIDEWAYS = {"scroll_left", "scroll_right", "cursor_left", "cursor_right"}
EDITING_WIDGETS = (Input, TextArea)


@dataclass
class KeyLine:
    keys: list[str]
    text: str


@dataclass
class HelpKeys:
    """The keys in force where the focus is: the pane's own, the editing keys of a text
    field, and those of the screen and the app (everywhere)."""

    pane: list[KeyLine] = field(default_factory=list)
    editing: list[KeyLine] = field(default_factory=list)
    everywhere: list[KeyLine] = field(default_factory=list)

    def add(self, group: list[KeyLine], key: str, text: str) -> None:
        for line in group:
            if line.text == text:
                if key not in line.keys:
                    line.keys.append(key)
                return
        group.append(KeyLine([key], text))


def key_name(key: str) -> str:
    names = {
        "enter": "enter",
        "escape": "escape",
        "backspace": "backspace",
        "delete": "delete",
    }
    return "+".join(names.get(part, format_key(part)) for part in key.split("+"))


def declared_in(node: DOMNode, binding: Binding, project: bool) -> bool:
    """Whether one of the project's classes of `node` binds this action (`project`), or
    else one of Textual's text fields (not the scrolling keys they inherit)."""
    for cls in type(node).__mro__:
        ours = cls.__module__.startswith("workbench.")
        if project != ours or (not ours and cls not in EDITING_WIDGETS):
            continue
        for declared in cls.__dict__.get("BINDINGS", ()):
            if isinstance(declared, Binding) and declared.action == binding.action:
                return True
    return False


def inherited_text(node: DOMNode, action: str) -> str | None:
    for kind, texts in INHERITED.items():
        if isinstance(node, kind) and action in texts:
            return texts[action]
    return None


def describe(node: DOMNode, binding: Binding) -> tuple[str, str] | None:
    """(group, text) of a binding in force, or None to leave it out."""
    if binding.system:
        return None
    editing = isinstance(node, EDITING_WIDGETS)
    if binding.action in SIDEWAYS and not editing:
        scrolls = isinstance(node, Widget) and node.allow_horizontal_scroll
        return ("pane", "Scroll sideways") if scrolls else None
    if declared_in(node, binding, project=True):
        own = binding.tooltip or binding.description or binding.action
        text = help_texts.ACTION_TEXTS.get(binding.action, own)
    elif (explained := inherited_text(node, binding.action)) is not None:
        text = explained
    elif editing and binding.description and declared_in(node, binding, project=False):
        return "editing", binding.description
    else:
        return None
    everywhere = isinstance(node, App) or (
        isinstance(node, Screen) and not isinstance(node, ModalScreen)
    )
    return ("everywhere" if everywhere else "pane"), text


def keys_in_force(screen: Screen[Any]) -> HelpKeys:
    found = HelpKeys()
    groups = {"pane": found.pane, "editing": found.editing, "everywhere": found.everywhere}
    for key, active in screen.active_bindings.items():
        if not active.enabled:
            continue
        described = describe(active.node, active.binding)
        if described is not None:
            group, text = described
            found.add(groups[group], key_name(key), text)
    return found


def topic_of(widget: Widget | None) -> str:
    """Which pane `widget` (the focused one) belongs to."""
    node: DOMNode | None = widget
    while node is not None:
        if isinstance(node, ListenersTree):
            return "listeners"
        if isinstance(node, ConnectionsTable):
            return "connections"
        if isinstance(node, LogPane):
            return "log"
        if isinstance(node, (Composer, BlockComposer)):
            return "composer"
        node = node.parent
    return ""


def grid(pairs: Iterable[tuple[str, str]], classes: str = "") -> Grid:
    cells: list[Widget] = []
    for term, meaning in pairs:
        cells += [Static(Content(term), classes="term"), Static(Content(meaning), classes="text")]
    return Grid(*cells, classes=f"pairs {classes}")


def key_pairs(lines: list[KeyLine]) -> list[tuple[str, str]]:
    return [(" / ".join(line.keys), line.text) for line in lines]


def section(heading: str, pairs: list[tuple[str, str]]) -> Iterator[Widget]:
    if pairs:
        yield Static(heading, classes="heading", markup=False)
        yield grid(pairs)


class HelpScreen(ModalScreen[None]):
    """The help of one pane: its keys, the keys everywhere, what it shows."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 96; max-width: 100%; height: 100%; max-height: 56;
        border: round $accent; background: $surface; padding: 0 1;
    }
    HelpScreen .heading { text-style: bold; color: $accent; margin-top: 1; }
    HelpScreen .pairs {
        grid-size: 2; grid-columns: auto 1fr; grid-gutter: 0 2; grid-rows: auto; height: auto;
    }
    HelpScreen .term { width: auto; text-style: bold; }
    HelpScreen .text { width: 1fr; }
    HelpScreen #palette-note { color: $text-muted; }
    """

    # f1 is the app's (a priority key): it closes this help (see open_help).
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close help")]

    def __init__(self, topic: str, keys: HelpKeys) -> None:
        super().__init__()
        self.topic = topic
        self.keys = keys

    def compose(self) -> ComposeResult:
        keys = self.keys
        with Vertical() as box:
            box.border_title = f"Help: {TITLES[self.topic]}"
            box.border_subtitle = "escape closes"
            with VerticalScroll(id="help-body"):
                yield Static(
                    "ctrl+p opens the command palette: every action, found by typing a few "
                    "letters of its name. Escape, f1 or q closes this help.",
                    id="palette-note",
                    markup=False,
                )
                here = f"Keys in the {TITLES[self.topic]} pane" if self.topic else "Keys here"
                yield from section(here, key_pairs(keys.pane))
                for heading, pairs in help_texts.sections(self.topic):
                    yield from section(heading, pairs)
                yield from section("Keys everywhere", key_pairs(keys.everywhere))
                yield from section("Editing the line", key_pairs(keys.editing))

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()


def open_help(app: App[Any]) -> None:
    """The help of the focused pane of the screen on top (a dialog's keys over a dialog);
    over the help itself, close it."""
    screen = app.screen
    if isinstance(screen, HelpScreen):
        screen.dismiss()
        return
    topic = topic_of(screen.focused) if not isinstance(screen, ModalScreen) else ""
    app.push_screen(HelpScreen(topic, keys_in_force(screen)))
