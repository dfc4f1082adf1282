"""The Macros dialog (f12, or "Macros..." in the palette): the app's macros with their key,
what they send and their repeat; add, edit, delete, send now, start or stop a repeat. And the
small dialogs of repeats and of saving the session (an interval and a count; a file name).

The dialogs only ask: what a button does is the `MacroActions` given (workbench/ui/
macro_control.py), which answers with an error in words or "" when it went.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from workbench.codec import sanitize_text
from workbench.session_file.model import Macro
from workbench.ui.macro_book import MacroBook, MacroError, make_macro, preview, repeat_text
from workbench.ui.macro_sending import RepeatRequest

T = TypeVar("T")

# The app's stylesheet (app.tcss) wins over a widget's default CSS, whatever the selectors:
# these dialogs' boxes, grids and labels have ids and classes of their own.
DIALOG_CSS = """
MacrosDialog, MacroEditor, RepeatDialog, SaveSessionDialog {
    align: center middle;
}
.macro-box {
    width: 72;
    max-width: 100%;
    height: auto;
    max-height: 100%;
    overflow-y: auto;
    border: thick $primary;
    border-title-color: $text;
    border-title-style: bold;
    background: $surface;
    padding: 0 2;
}
MacrosDialog .macro-box {
    width: 100;
}
MacrosDialog #macros {
    height: auto;
    max-height: 12;
    min-height: 3;
    margin: 1 0;
}
MacrosDialog #buttons Button {
    margin-left: 1;
    min-width: 8;
}
.macro-fields {
    layout: grid;
    grid-size: 2;
    grid-columns: 18 1fr;
    grid-rows: 1;
    grid-gutter: 1 0;
    height: auto;
    margin-top: 1;
}
.macro-label {
    padding: 0;
}
.macro-box Input, .macro-box SelectCurrent {
    background: $boost;
}
.macro-box Input:focus, .macro-box Select:focus > SelectCurrent {
    background: $primary 40%;
}
.macro-box #help {
    margin-top: 1;
}
.macro-box #question {
    margin: 1 0 0 0;
}
#status {
    height: auto;
    color: $text-muted;
}
"""

EDITOR_HELP = (
    "Text takes the composer's escapes (\\r\\n, \\x00) and the rules' fields: {counter} "
    "(this macro's sends from 1), {conn}, {peer}, {time}, {unixtime}, {random:N}, {hex:0d 0a}; "
    "{{ is a brace. Hex: de ad be ef. A file is read as it is saved. The key sends it on the "
    "main screen; a repeat sends it every N ms, Count times (blank: until stopped)."
)


class MacroActions(Protocol):
    """What the Macros dialog's buttons do; each returns what to say ("" : nothing)."""

    book: MacroBook

    def send_macro(self, name: str) -> str: ...

    def toggle_repeat(self, name: str) -> str: ...

    def running_repeat(self, name: str) -> str | None: ...

    def keep(self, macro: Macro, replacing: str | None) -> str: ...

    def delete(self, name: str) -> str: ...

    def default_encoding(self) -> str: ...


def compact_input(value: str, id: str, placeholder: str = "") -> Input:
    return Input(value, placeholder=placeholder, id=id, compact=True)


def show_error(screen: Screen[Any], text: str, widget_id: str = "#error") -> None:
    error = screen.query_one(widget_id, Static)
    error.update(Content(sanitize_text(text)))
    error.display = bool(text)


BUTTONS = (
    ("Send s", "send"),
    ("Repeat r", "repeat"),
    ("Add a", "add"),
    ("Edit e", "edit"),
    ("Delete d", "delete"),
    ("Close esc", "close"),
)


class MacrosDialog(ModalScreen[None]):
    DEFAULT_CSS = DIALOG_CSS
    SCOPED_CSS = False  # DIALOG_CSS names each dialog
    BINDINGS = [
        Binding("escape", "dismiss_dialog", "Close"),
        Binding("a", "add", "Add"),
        Binding("e", "edit", "Edit"),
        Binding("delete,d", "delete", "Delete"),
        Binding("s", "send", "Send"),
        Binding("r", "repeat", "Repeat"),
    ]

    def __init__(self, actions: MacroActions) -> None:
        super().__init__()
        self.actions = actions

    def compose(self) -> ComposeResult:
        with Vertical(classes="macro-box") as dialog:
            dialog.border_title = "Macros"
            table: DataTable[Content] = DataTable(id="macros", cursor_type="row")
            yield table
            yield Static("", id="status")
            error = Static("", id="error")
            error.display = False
            yield error
            with Horizontal(id="buttons"):
                for label, button_id in BUTTONS:
                    button = Button(label, id=button_id, compact=True)
                    button.variant = "primary" if button_id == "send" else "default"
                    yield button

    def on_mount(self) -> None:
        table = self.query_one("#macros", DataTable)
        for label, width in (("Name", 12), ("Key", 8), ("Sends", 38), ("Repeat", 28)):
            table.add_column(label, width=width, key=label.lower())
        self.fill()
        table.focus()

    def fill(self, selected: str | None = None) -> None:
        table: DataTable[Content] = self.query_one("#macros", DataTable)
        current = selected or self.selected()
        table.clear()
        for macro in self.actions.book:
            running = self.actions.running_repeat(macro.name)
            repeat = f"{running} running" if running else repeat_text(macro)
            cells = (sanitize_text(macro.name), sanitize_text(macro.key or "-"), preview(macro))
            table.add_row(*(Content(cell) for cell in (*cells, repeat)), key=macro.name)
        names = [macro.name for macro in self.actions.book]
        if current in names:
            table.move_cursor(row=names.index(current))
        status = (
            "Enter or s sends the macro to the marked connections, else the target; r starts "
            "or stops its repeat."
            if names
            else "No macro yet: a (or Add) makes one."
        )
        self.query_one("#status", Static).update(Content(status))

    def selected(self) -> str | None:
        table: DataTable[Content] = self.query_one("#macros", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return key if isinstance(key, str) else None

    def say(self, text: str) -> None:
        show_error(self, text)

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        actions: dict[str | None, Callable[[], None]] = {
            "send": self.action_send,
            "repeat": self.action_repeat,
            "add": self.action_add,
            "edit": self.action_edit,
            "delete": self.action_delete,
            "close": self.action_dismiss_dialog,
        }
        actions[event.button.id]()

    @on(DataTable.RowSelected)
    def row_chosen(self) -> None:
        self.action_send()  # Enter on a row sends it, as the button next to the list

    def action_dismiss_dialog(self) -> None:
        self.dismiss(None)

    def with_selected(self, act: Callable[[str], str]) -> None:
        name = self.selected()
        if name is None:
            self.say("no macro: a (or Add) makes one")
            return
        self.say(act(name))
        self.fill(name)

    def action_send(self) -> None:
        self.with_selected(self.actions.send_macro)

    def action_repeat(self) -> None:
        self.with_selected(self.actions.toggle_repeat)

    def action_delete(self) -> None:
        self.with_selected(self.actions.delete)

    def action_add(self) -> None:
        self.edit(None)

    def action_edit(self) -> None:
        name = self.selected()
        if name is None:
            self.edit(None)
        else:
            self.edit(self.actions.book.get(name))

    def edit(self, macro: Macro | None) -> None:
        def kept(result: Macro | None) -> None:
            if result is not None:
                self.fill(result.name)
                self.say("")
            self.query_one("#macros", DataTable).focus()

        editor = MacroEditor(macro, self.actions.keep, self.actions.default_encoding())
        self.app.push_screen(editor, kept)


class MacroEditor(ModalScreen[Macro | None]):
    """Add a macro (`macro` None) or edit one: its fields checked as it is saved, what is
    wrong said here in words."""

    DEFAULT_CSS = DIALOG_CSS
    SCOPED_CSS = False  # DIALOG_CSS names each dialog
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        macro: Macro | None,
        keep: Callable[[Macro, str | None], str],
        encoding: str = "utf-8",
    ) -> None:
        super().__init__()
        self.macro = macro
        self.keep = keep
        self.encoding = macro.payload.encoding if macro is not None else encoding

    def compose(self) -> ComposeResult:
        macro = self.macro
        source = macro.source if macro is not None else "text"
        with Vertical(classes="macro-box") as dialog:
            dialog.border_title = "Edit macro" if macro is not None else "New macro"
            with Grid(classes="macro-fields"):
                yield Label("Name", classes="macro-label")
                yield compact_input(macro.name if macro else "", "name", "greet")
                yield Label("Payload", classes="macro-label")
                yield Select(
                    [
                        ("text (escapes, {fields})", "text"),
                        ("hex bytes", "hex"),
                        ("a file's bytes (read now)", "file"),
                    ],
                    value=source,
                    allow_blank=False,
                    id="source",
                    compact=True,
                )
                yield Label("Sends", classes="macro-label")
                given = macro.given if macro is not None else ""
                yield compact_input(given, "given", "HELLO {counter}\\r\\n")
                yield Label("Key", classes="macro-label")
                yield compact_input(macro.key if macro else "", "key", "f9, ctrl+1, alt+x")
                yield Label("Repeat every (ms)", classes="macro-label")
                repeat = str(macro.repeat_ms) if macro and macro.repeat_ms else ""
                yield compact_input(repeat, "repeat-ms", "blank: no repeat")
                yield Label("Count", classes="macro-label")
                count = str(macro.count) if macro and macro.count else ""
                yield compact_input(count, "count", "blank: until stopped")
            yield Static(Content(EDITOR_HELP), id="help")
            error = Static("", id="error")
            error.display = False
            yield error
            with Horizontal(id="buttons"):
                yield Button("Save", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    def value(self, field_id: str) -> str:
        return self.query_one(f"#{field_id}", Input).value

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def submit(self) -> None:
        try:
            macro = make_macro(
                self.value("name"),
                str(self.query_one("#source", Select).value),
                self.value("given"),
                self.value("key"),
                self.value("repeat-ms"),
                self.value("count"),
                self.encoding,
            )
        except MacroError as exc:
            show_error(self, str(exc))
            return
        refused = self.keep(macro, self.macro.name if self.macro is not None else None)
        if refused:
            show_error(self, refused)
            return
        self.dismiss(macro)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


def parse_repeat(interval: str, count: str) -> RepeatRequest:
    """The Repeat dialog's fields; MacroError saying which is wrong."""
    text = interval.strip().replace(",", "").replace("_", "")
    if not text.isdigit() or not 1 <= int(text) <= 3_600_000:
        raise MacroError("Every (ms): a whole number of milliseconds, 1 to 3,600,000")
    counted = count.strip().replace(",", "").replace("_", "")
    if counted and (not counted.isdigit() or int(counted) < 1):
        raise MacroError("Count: how many sends (1 or more), or blank to send until stopped")
    return RepeatRequest(int(text), int(counted) if counted else 0)


def small_form(
    title: str,
    question: str,
    fields: Iterable[tuple[str, Widget]],
    ok_label: str,
    *,
    status: bool = False,
) -> ComposeResult:
    """The small forms' layout: a sentence, each field with its label, a hidden status line
    (`status`: work under way) and error line, OK and Cancel."""
    with Vertical(classes="macro-box") as dialog:
        dialog.border_title = title
        yield Static(Content(sanitize_text(question)), id="question")
        with Grid(classes="macro-fields"):
            for label, widget in fields:
                yield Label(label, classes="macro-label")
                yield widget
        lines = [Static("", id="status")] if status else []
        for line in [*lines, Static("", id="error")]:
            line.display = False
            yield line
        with Horizontal(id="buttons"):
            yield Button(ok_label, variant="primary", id="ok")
            yield Button("Cancel", id="cancel")


class FieldsDialog(ModalScreen[T]):
    """A small form: a sentence, labelled fields, OK and Cancel; `result()` reads the fields
    (MacroError says what is wrong, in the dialog) and the dialog closes with it."""

    DEFAULT_CSS = DIALOG_CSS
    SCOPED_CSS = False  # DIALOG_CSS names each dialog
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    TITLE_TEXT = ""
    OK_LABEL = "OK"

    def question(self) -> str:
        raise NotImplementedError

    def fields(self) -> list[tuple[str, str, str, str]]:
        """Each field's label, id, first value and placeholder; the first has the focus."""
        raise NotImplementedError

    def result(self) -> T:
        raise NotImplementedError

    def compose(self) -> ComposeResult:
        fields = [
            (label, compact_input(value, field_id, placeholder))
            for label, field_id, value, placeholder in self.fields()
        ]
        yield from small_form(self.TITLE_TEXT, self.question(), fields, self.OK_LABEL)

    def on_mount(self) -> None:
        self.query(Input).first().focus()

    def field(self, field_id: str) -> str:
        return self.query_one(f"#{field_id}", Input).value

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def submit(self) -> None:
        try:
            found = self.result()
        except MacroError as exc:
            show_error(self, str(exc))
            return
        self.dismiss(found)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class RepeatDialog(FieldsDialog[RepeatRequest]):
    """How often and how many times to send the composer's message."""

    TITLE_TEXT = "Repeat"
    OK_LABEL = "Start"

    def __init__(self, what: str, interval: str = "1000", count: str = "") -> None:
        super().__init__()
        self.what = what
        self.initial = (interval, count)

    def question(self) -> str:
        return self.what

    def fields(self) -> list[tuple[str, str, str, str]]:
        return [
            ("Every (ms)", "interval", self.initial[0], ""),
            ("Count", "count", self.initial[1], "blank: until stopped"),
        ]

    def result(self) -> RepeatRequest:
        return parse_repeat(self.field("interval"), self.field("count"))


class SaveSessionDialog(FieldsDialog[str]):
    """The file to save the session to."""

    TITLE_TEXT = "Save session"
    OK_LABEL = "Save"

    def __init__(self, path: str, summary: str) -> None:
        super().__init__()
        self.path = path
        self.summary = summary

    def question(self) -> str:
        return self.summary

    def fields(self) -> list[tuple[str, str, str, str]]:
        return [("File", "path", self.path, "")]

    def result(self) -> str:
        path = self.field("path").strip()
        if not path:
            raise MacroError("File: type a file name (sockbench-session.toml)")
        return path
