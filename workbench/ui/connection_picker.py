"""The palette's per-connection actions (Target…, Close…, Send EOF…, Reset…, Mark…) pick
their connection here: a list in numbered order, open ones first, filtered as the user types.

Addresses are peer text (a Unix peer names itself): every cell goes through the sanitizer
(workbench/ui/panes.py's `safe`), and the options are Rich Text, never markup.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from workbench.codec import sanitize_text
from workbench.session.model import ConnectionInfo, id_number
from workbench.ui.panes import connection_state_text, proto_text, safe

# Options drawn at once: past this a last line says how many more match (type to narrow).
MAX_SHOWN = 500
STATE_WIDTH = 24


def picking_order(conn: ConnectionInfo) -> tuple[bool, int]:
    """Open and connecting ones first, then the ended ones; each in numbered order (C2 before
    C10, which text order would not give)."""
    return conn.closed_at is not None, id_number(conn.cid)


class Choice:
    """One connection's row: its text drawn once, its plain text kept for filtering."""

    def __init__(
        self,
        conn: ConnectionInfo,
        id_width: int,
        state_width: int = STATE_WIDTH,
        proto_width: int = 4,
    ) -> None:
        self.cid = conn.cid
        state = connection_state_text(conn).copy()
        state.truncate(state_width, overflow="ellipsis", pad=True)
        proto = proto_text(conn).copy()
        proto.pad_right(proto_width - proto.cell_len)
        self.text = Text.assemble(
            (conn.cid.ljust(id_width), "bold"),
            " ",
            proto,
            " ",
            state,
            " ",
            safe(conn.remote),
            ("  local ", "dim"),
            safe(conn.local or "-"),
        )
        self.plain = self.text.plain.casefold()


class ConnectionPicker(ModalScreen[str | None]):
    """Returns the chosen connection's id, or None (escape)."""

    DEFAULT_CSS = """
    ConnectionPicker { align: center top; }
    ConnectionPicker > Vertical {
        width: 100; max-width: 100%; height: auto; max-height: 80%; margin-top: 2;
        border: round $accent; background: $surface; padding: 0 1;
    }
    ConnectionPicker OptionList { height: auto; max-height: 24; border: none; }
    ConnectionPicker #picker-empty { color: $text-muted; }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "move(1)", "Down", show=False),
        Binding("up", "move(-1)", "Up", show=False),
        Binding("pagedown", "move(10)", "Page down", show=False),
        Binding("pageup", "move(-10)", "Page up", show=False),
    ]

    def __init__(
        self,
        title: str,
        connections: Iterable[ConnectionInfo],
        current: str | None = None,
        none: str = "no connection",  # what the list says when it is empty
    ) -> None:
        super().__init__()
        self.title_text = title
        ordered = sorted(connections, key=picking_order)
        id_width = max((len(conn.cid) for conn in ordered), default=2)
        states = (connection_state_text(conn).cell_len for conn in ordered)
        state_width = min(STATE_WIDTH, max(states, default=4))
        proto_width = max([4, *(proto_text(conn).cell_len for conn in ordered)])
        self.choices = [Choice(conn, id_width, state_width, proto_width) for conn in ordered]
        self.current = current
        self.none = none

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            box.border_subtitle = "enter picks · escape cancels"
            yield Input(placeholder="type to filter: C12, an address, a state", id="picker-filter")
            yield OptionList(id="picker-options")
            yield Static("", id="picker-empty", markup=False)

    def on_mount(self) -> None:
        self.show_matching("")
        options = self.query_one(OptionList)
        ids = [choice.cid for choice in self.matching("")]
        if self.current in ids:
            options.highlighted = ids.index(self.current)

    def matching(self, typed: str) -> list[Choice]:
        """The choices whose row contains what was typed; one whose id is exactly that first
        (C15 before C150)."""
        needle = typed.strip().casefold()
        found = [choice for choice in self.choices if needle in choice.plain]
        exact = [choice for choice in found if choice.cid.casefold() == needle]
        return exact + [choice for choice in found if choice not in exact]

    def show_matching(self, typed: str) -> None:
        found = self.matching(typed)
        options = self.query_one(OptionList)
        shown = [Option(choice.text, id=choice.cid) for choice in found[:MAX_SHOWN]]
        options.set_options(shown)
        options.highlighted = 0 if shown else None
        more = len(found) - len(shown)
        if not self.choices:
            note = self.none
        elif not found:
            note = f"no connection matches {typed.strip()!r}"
        else:
            note = f"{more:,} more match: type to narrow" if more > 0 else ""
        empty = self.query_one("#picker-empty", Static)
        empty.update(Content(sanitize_text(note)))
        empty.display = bool(note)

    @on(Input.Changed, "#picker-filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.show_matching(event.value)

    @on(Input.Submitted, "#picker-filter")
    def pick_highlighted(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            self.dismiss(options.get_option_at_index(options.highlighted).id)

    @on(OptionList.OptionSelected)
    def pick_clicked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            now = options.highlighted if options.highlighted is not None else 0
            options.highlighted = max(0, min(options.option_count - 1, now + step))

    def action_cancel(self) -> None:
        self.dismiss(None)
