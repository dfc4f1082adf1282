"""Help where the user is: F1 (and ? outside a text field) opens the focused pane's help, its
keys read from the bindings in force, what it shows, and the palette's Keys opens it too."""

from __future__ import annotations

from textual.command import CommandPalette
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import HelpPanel, Static
from ui_helpers import focus, make_app, run_app, the_app, wait_ui

from workbench.codec import parse_escapes
from workbench.ui.dialogs import ListenDialog
from workbench.ui.help_screen import HelpScreen
from workbench.ui.help_texts import CONNECTION_COLUMNS, ESCAPES
from workbench.ui.panes import ConnectionsTable

TCP_LISTENER = "tcp://127.0.0.1:0"


def help_lines(pilot: Pilot[None]) -> list[str]:
    """The help screen's text, one entry per cell (a key, its meaning, a heading)."""
    return [str(static.render()) for static in pilot.app.screen.query(Static)]


async def open_help_on(pilot: Pilot[None], widget: Widget, key: str = "f1") -> list[str]:
    app = the_app(pilot)
    await focus(pilot, widget)
    await pilot.press(key)
    await wait_ui(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
    return help_lines(pilot)


async def close_help(pilot: Pilot[None], key: str = "escape") -> None:
    app = the_app(pilot)
    await pilot.press(key)
    await wait_ui(pilot, lambda: not isinstance(app.screen, HelpScreen), "the help to close")


def meaning_of(lines: list[str], term: str) -> str:
    """What the help says next to `term` (a key or a mark)."""
    return lines[lines.index(term) + 1]


def test_the_log_help_lists_the_logs_keys_and_what_a_row_shows() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        lines = await open_help_on(pilot, app.log_view)
        assert app.screen.topic == "log"  # type: ignore[attr-defined]
        assert "Keys in the Log pane" in lines
        assert meaning_of(lines, "m") == "View: text → hex → hex dump"
        assert meaning_of(lines, "f") == "Filter: which records the Log shows"
        assert meaning_of(lines, "/") == "Search the Log"
        assert meaning_of(lines, "e").startswith("Export")
        assert meaning_of(lines, "enter").startswith("Details")
        assert meaning_of(lines, "C1 ←") == "data received"
        assert meaning_of(lines, "←").startswith("Scroll")
        assert meaning_of(lines, "w").startswith("Wrap long rows")
        assert meaning_of(lines, "C1 ┆").startswith("the same record continued")
        assert meaning_of(lines, "12 new rows ↓").startswith("bottom border")
        assert meaning_of(lines, "ctrl+p").startswith("The command palette")
        assert "Editing the line" not in lines  # the Log is no text field
        assert meaning_of(lines, "f1 / ?").startswith("This help")
        await close_help(pilot)
        assert app.focused is app.log_view

    run_app(make_app(), scenario)


def test_the_composer_help_lists_its_keys_escapes_and_modes_then_the_editing_keys() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        lines = await open_help_on(pilot, app.composer)
        assert meaning_of(lines, "enter").startswith("Send to the target")
        assert meaning_of(lines, "ctrl+j / shift+enter / alt+enter").startswith("A new line")
        assert meaning_of(lines, "ctrl+d").startswith("Send EOF")  # not Input's delete
        assert meaning_of(lines, r"\r \n \t").endswith("(0d 0a 09)")
        assert meaning_of(lines, r"\xff").endswith("(ff)")
        assert meaning_of(lines, r"\u{e9}").endswith("(c3 a9)")
        assert meaning_of(lines, "hex").startswith("hex bytes:")
        assert meaning_of(lines, "file").startswith("path of a file")
        assert meaning_of(lines, "f7") == "Line ending: LF → CRLF → no EOL"
        # The input line's own editing keys come last, after the app's.
        assert lines.index("Editing the line") > lines.index("Keys everywhere")
        assert meaning_of(lines, "ctrl+w") == "Delete left to start of word"
        # ? types itself here: the help says f1 only.
        assert meaning_of(lines, "f1").startswith("This help") and "f1 / ?" not in lines
        await close_help(pilot, "f1")  # F1 again closes it too

    run_app(make_app(), scenario)


def test_every_escape_the_help_lists_is_one_the_composer_takes() -> None:
    for shown, _ in ESCAPES:
        for escape in shown.split():
            assert parse_escapes(escape)


def test_the_connections_help_names_every_column_and_the_marks() -> None:
    assert set(CONNECTION_COLUMNS) == {key for _, key in ConnectionsTable.COLUMNS}

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await wait_ui(pilot, lambda: app.session.listeners.get("L1"), "the listener")
        lines = await open_help_on(pilot, app.connections_table, "question_mark")
        assert "Keys in the Connections pane" in lines
        assert meaning_of(lines, "space").startswith("Mark or unmark")
        assert meaning_of(lines, "enter").startswith("Make the connection the target")
        for label, key in ConnectionsTable.COLUMNS:
            assert meaning_of(lines, label) == CONNECTION_COLUMNS[key]
        assert "▶ marks the target" in meaning_of(lines, "id")
        await close_help(pilot, "question_mark")  # ? again closes it too

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


def test_the_listeners_help_says_what_the_tree_shows() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        lines = await open_help_on(pilot, app.listeners_tree, "question_mark")
        assert "Keys in the Listeners pane" in lines
        assert meaning_of(lines, "space") == "Fold or unfold a listener's peers"
        assert meaning_of(lines, "(2 open)") == "the open peers of a stream listener"
        await close_help(pilot, "q")

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


def test_question_mark_types_itself_in_text_fields() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await focus(pilot, app.composer)
        await pilot.press("a", "question_mark")
        await pilot.pause()
        assert app.composer.value == "a?"
        assert not isinstance(app.screen, HelpScreen)
        # A dialog's field too; F1 there shows the dialog's keys.
        await pilot.press("f2")
        await wait_ui(pilot, lambda: isinstance(app.screen, ListenDialog), "the Listen dialog")
        await pilot.press("question_mark")
        await pilot.pause()
        assert "?" in app.screen.focused.value  # type: ignore[union-attr]
        await pilot.press("f1")
        await wait_ui(pilot, lambda: isinstance(app.screen, HelpScreen), "the dialog's help")
        lines = help_lines(pilot)
        assert meaning_of(lines, "escape") == "Cancel"
        await close_help(pilot)
        assert isinstance(app.screen, ListenDialog)

    run_app(make_app(), scenario)


def test_the_block_editor_help_is_the_composers() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await focus(pilot, app.composer)
        await pilot.press("ctrl+j")
        await wait_ui(pilot, lambda: app.focused is app.block_composer, "the block editor")
        await pilot.press("question_mark")  # typed into the block
        await pilot.press("f1")
        await wait_ui(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        lines = help_lines(pilot)
        assert "Keys in the Composer pane" in lines
        assert meaning_of(lines, "enter") == "Send block"
        assert meaning_of(lines, "ctrl+u") == "Drop block"
        await close_help(pilot)
        assert app.block_composer is not None and "?" in app.block_composer.text

    run_app(make_app(), scenario)


def test_the_palettes_keys_command_opens_the_help_of_the_pane_in_focus() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        await wait_ui(pilot, lambda: app.session.listeners.get("L1"), "the listener")
        await focus(pilot, app.connections_table)
        await pilot.press("ctrl+p")
        await wait_ui(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*"Keys")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_ui(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        assert "Keys in the Connections pane" in help_lines(pilot)
        assert not app.main_screen.query(HelpPanel)  # not Textual's panel
        await close_help(pilot)
        assert app.focused is app.connections_table

    run_app(make_app(listen=[TCP_LISTENER]), scenario)
