"""The behaviour fields, in the Listen dialog and the Behaviour dialog: what a listener does on
its own (nothing, echo, rules, broker, chat, a program), its greeting, and hanging up once
greeted. They read and write the behaviour options (`BEHAVIOUR_FIELDS`)."""

from __future__ import annotations

from typing import NamedTuple

from textual.app import ComposeResult
from textual.containers import Grid
from textual.widgets import Checkbox, Input, Label, Select

from workbench.protocol.addresses import EndpointError
from workbench.protocol.options import SocketOptions, options_from


class Choice(NamedTuple):
    label: str
    field: str  # the option it sets ("" for none)
    argument: str = ""  # what its text field asks for, if it takes one
    example: str = ""


CHOICES = {
    "none": Choice("none: you answer", ""),
    "echo": Choice("echo what peers send", "echo"),
    "rules": Choice("answer by rules (TOML file)", "rules", "Rules file", "~/rules.toml"),
    "broker": Choice("broker: relay among peers", "broker"),
    "chat": Choice("chat: relay with <C3> names", "chat"),
    "exec": Choice("run a program per peer", "exec_command", "Command", "tr a-z A-Z"),
    "sh": Choice("run sh -c per peer", "sh_command", "Command", "cat | tee -a peers.log"),
}
NO_BEHAVIOUR = "none"
GREETING_HINT = "sent as each peer connects (\\r \\n \\xNN)"


FieldValues = dict[str, str | bool]


def values_of(options: SocketOptions) -> FieldValues:
    """What the fields show for a listener's behaviour `options`."""
    chosen, text = NO_BEHAVIOUR, ""
    for name, choice in CHOICES.items():
        value = getattr(options, choice.field) if choice.field else None
        if value:
            chosen, text = name, value if isinstance(value, str) else ""
            break
    return {
        "behaviour": chosen,
        "behaviour-argument": text,
        "greet": options.greet or "",
        "hangup": options.hangup,
    }


class BehaviourFields(Grid):
    """The fields, laid out as the dialog's: a label column and a field column."""

    DEFAULT_CSS = """
    BehaviourFields {
        grid-size: 2;
        grid-columns: 13 1fr;
        grid-rows: auto;
        height: auto;
    }
    """

    def __init__(self, values: FieldValues, *, id: str | None = None) -> None:
        """`values`: what the fields show at first (`values_of`, or a dialog's memory)."""
        super().__init__(id=id)
        self.values = values

    def compose(self) -> ComposeResult:
        chosen = str(self.values.get("behaviour", NO_BEHAVIOUR))
        chosen = chosen if chosen in CHOICES else NO_BEHAVIOUR
        yield Label("Behaviour", classes="field-label")
        yield Select(
            [(choice.label, name) for name, choice in CHOICES.items()],
            value=chosen,
            allow_blank=False,
            id="behaviour",
            compact=True,
        )
        yield Label(CHOICES[chosen].argument, id="argument-label", classes="field-label")
        yield Input(
            str(self.values.get("behaviour-argument", "")), id="behaviour-argument", compact=True
        )
        yield Label("Greeting", classes="field-label")
        yield Input(
            str(self.values.get("greet", "")),
            id="greet",
            placeholder=GREETING_HINT,
            tooltip=GREETING_HINT,
            compact=True,
        )
        yield Label("", classes="field-label")
        yield Checkbox(
            "hang up once greeted",
            value=bool(self.values.get("hangup", False)),
            id="hangup",
            compact=True,
            tooltip="The classic greeting-then-close server: each peer gets the greeting, "
            "then the connection closes",
        )

    def on_mount(self) -> None:
        self.show_argument(self.chosen)

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "behaviour":
            event.stop()
            self.show_argument(self.chosen)

    @property
    def chosen(self) -> str:
        return str(self.query_one("#behaviour", Select).value)

    def show_argument(self, name: str) -> None:
        choice = CHOICES[name]
        label = self.query_one("#argument-label", Label)
        label.update(choice.argument)
        argument = self.query_one("#behaviour-argument", Input)
        argument.placeholder = choice.example
        for widget in (label, argument):
            widget.display = bool(choice.argument)

    def behaviour(self) -> SocketOptions:
        """The behaviour options the fields set; EndpointError in words if one lacks its
        text."""
        values: dict[str, object] = {}
        choice = CHOICES[self.chosen]
        if choice.argument:
            text = self.query_one("#behaviour-argument", Input).value.strip()
            if not text:
                raise EndpointError(f"{choice.label} needs its {choice.argument.lower()}")
            values[choice.field] = text
        elif choice.field:
            values[choice.field] = True
        greeting = self.query_one("#greet", Input).value
        if greeting:
            values["greet"] = greeting
        values["hangup"] = self.query_one("#hangup", Checkbox).value
        return options_from(values)

    def field_values(self) -> FieldValues:
        return {
            "behaviour": self.chosen,
            "behaviour-argument": self.query_one("#behaviour-argument", Input).value,
            "greet": self.query_one("#greet", Input).value,
            "hangup": self.query_one("#hangup", Checkbox).value,
        }
