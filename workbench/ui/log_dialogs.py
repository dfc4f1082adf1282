"""Dialogs about the Log: what it shows (filter), and where to save or export it."""

from __future__ import annotations

from dataclasses import replace

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from workbench.codec import HexError, format_hex, parse_hex, sanitize_text
from workbench.log import ViewSettings
from workbench.peer_regex import PatternError, compile_peer_regex

SOURCE_CHOICES = [("every connection", "all"), ("the target only", "target")]
DIRECTION_CHOICES = [("both directions", "both"), ("received only", "in"), ("sent only", "out")]


class FilterDialog(ModalScreen[ViewSettings | None]):
    """Which records the Log shows: by connection, direction, text or regex, hex bytes."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, settings: ViewSettings, target: str | None) -> None:
        super().__init__()
        self.settings = settings
        self.target = target

    def compose(self) -> ComposeResult:
        settings = self.settings
        with Vertical(id="dialog") as dialog:
            dialog.border_title = "Filter the Log"
            with Grid(id="fields"):
                yield Label("Show", classes="field-label")
                yield Select(
                    SOURCE_CHOICES,
                    value="target" if settings.sources else "all",
                    allow_blank=False,
                    id="sources",
                )
                yield Label("Direction", classes="field-label")
                yield Select(
                    DIRECTION_CHOICES, value=settings.direction, allow_blank=False, id="direction"
                )
                yield Label("Text", classes="field-label")
                yield Input(settings.text, id="text", placeholder="as shown, e.g. HTTP or \\x1b")
                yield Label("", classes="field-label")
                yield Checkbox("regular expression", settings.regex, id="regex")
                yield Label("Hex bytes", classes="field-label")
                yield Input(format_hex(settings.hex_pattern), id="hex", placeholder="de ad be ef")
            yield Static(Content("Filters apply to the whole history the Log holds."), id="help")
            yield Static("", id="error")
            with Horizontal(id="buttons"):
                yield Button("Apply", variant="primary", id="ok")
                yield Button("Clear", id="clear")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#text", Input).focus()

    def result(self) -> ViewSettings:
        text = self.query_one("#text", Input).value
        regex = self.query_one("#regex", Checkbox).value
        if regex:
            try:
                compile_peer_regex(text)
            except PatternError as exc:  # says why, in plain words
                why = str(exc).removeprefix("invalid regular expression: ")
                raise ValueError(f"not a regular expression: {why}") from None
        hex_pattern = parse_hex(self.query_one("#hex", Input).value)
        only_target = self.query_one("#sources", Select).value == "target"
        if only_target and self.target is None:
            raise ValueError("there is no target to show only")
        return replace(
            self.settings,
            sources=frozenset({self.target}) if only_target and self.target else None,
            direction=str(self.query_one("#direction", Select).value),
            text=text,
            regex=regex,
            hex_pattern=hex_pattern,
        )

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def apply(self) -> None:
        try:
            settings = self.result()
        except (ValueError, HexError) as exc:
            # A regex error quotes the pattern: show it with visible escapes.
            self.query_one("#error", Static).update(Content(sanitize_text(str(exc))))
            return
        self.dismiss(settings)

    @on(Button.Pressed, "#clear")
    def clear(self) -> None:
        self.dismiss(
            replace(
                self.settings, sources=None, direction="both", text="", regex=False, hex_pattern=b""
            )
        )

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class PathDialog(ModalScreen[str | None]):
    """Ask for a file path (save the view, export bytes)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, default: str, help_text: str) -> None:
        super().__init__()
        self.title_text = title
        self.default = default
        self.help_text = help_text

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as dialog:
            dialog.border_title = self.title_text
            yield Input(self.default, id="path")
            yield Static(Content(self.help_text), id="help")
            with Horizontal(id="buttons"):
                yield Button("Save", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def save(self) -> None:
        path = self.query_one("#path", Input).value.strip()
        self.dismiss(path or None)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
