"""The behaviour fields, in the Listen dialog and the Behaviour dialog: what a listener does on
its own (nothing, echo, rules, broker, chat, a program, a replay), its greeting, and hanging up once
greeted. They read and write the behaviour options (`BEHAVIOUR_FIELDS`)."""

from __future__ import annotations

from typing import NamedTuple

from textual.app import ComposeResult
from textual.containers import Grid
from textual.widgets import Checkbox, Input, Label, Select

from workbench.protocol.addresses import EndpointError
from workbench.protocol.options import OPTIONS, SocketOptions, options_from


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
    "replay": Choice("replay a recording (a mock)", "replay", "Recording", "rec.jsonl@2#C3"),
}
# How a replay matches and paces (URL options): kept as they were, the fields do not show them.
REPLAY_SETTINGS = {"replay-match": "replay_match", "replay-pace": "replay_pace"}
NO_BEHAVIOUR = "none"
GREETING_HINTS = {
    True: "sent as each peer connects (\\r \\n \\xNN)",
    False: "sent as the connection opens (\\r \\n \\xNN)",
}
HANG_UP_LABELS = {True: "hang up once greeted", False: "close once it is sent"}


def choices_for(for_listen: bool) -> list[str]:
    """The behaviours a listener (`for_listen`) or a connection of yours can have."""
    takers = {option.field for option in OPTIONS if option.takes_role(for_listen)}
    return [name for name, choice in CHOICES.items() if not choice.field or choice.field in takers]


FieldValues = dict[str, str | bool]


def values_of(options: SocketOptions) -> FieldValues:
    """What the fields show for a listener's behaviour `options`."""
    chosen, text = NO_BEHAVIOUR, ""
    for name, choice in CHOICES.items():
        value = getattr(options, choice.field) if choice.field else None
        if value:
            chosen, text = name, value if isinstance(value, str) else ""
            break
    values: FieldValues = {
        "behaviour": chosen,
        "behaviour-argument": text,
        "greet": options.greet or "",
        "hangup": options.hangup,
    }
    for key, field in REPLAY_SETTINGS.items():
        values[key] = str(getattr(options, field) or "")
    return values


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

    def __init__(
        self, values: FieldValues, *, for_listen: bool = True, id: str | None = None
    ) -> None:
        """`values`: what the fields show at first (`values_of`, or a dialog's memory);
        `for_listen`: a listener's, else a connection's."""
        super().__init__(id=id)
        self.values = values
        self.for_listen = for_listen

    def compose(self) -> ComposeResult:
        names = choices_for(self.for_listen)
        chosen = str(self.values.get("behaviour", NO_BEHAVIOUR))
        chosen = chosen if chosen in names else NO_BEHAVIOUR
        yield Label("Behaviour", classes="field-label")
        yield Select(
            [(CHOICES[name].label, name) for name in names],
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
            placeholder=GREETING_HINTS[self.for_listen],
            tooltip=GREETING_HINTS[self.for_listen],
            compact=True,
        )
        yield Label("", classes="field-label")
        yield Checkbox(
            HANG_UP_LABELS[self.for_listen],
            value=bool(self.values.get("hangup", False)),
            id="hangup",
            compact=True,
            tooltip="Close the connection once the greeting is sent (the classic "
            "greeting-then-close server; echo 'HELO' | nc -q0 as a client)",
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
        if choice.field == "replay":
            for key, field in REPLAY_SETTINGS.items():
                if setting := self.values.get(key):
                    values[field] = setting
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
