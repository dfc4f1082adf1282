"""Modal dialogs: Listen, Connect, and a yes/no confirmation. Each returns a typed result."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from workbench.endpoints import DEFAULT_HOST, Endpoint, EndpointError, check_host, check_port
from workbench.engine import DEFAULT_CONNECT_TIMEOUT


@dataclass(frozen=True)
class ConnectRequest:
    endpoint: Endpoint
    timeout: float


class EndpointDialog(ModalScreen[object]):
    """Host and port fields with inline validation; subclasses say what the result is."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    TITLE = ""
    ACTION = ""
    HELP = ""
    DEFAULT_PORT = ""
    for_listen = False

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as dialog:
            dialog.border_title = self.TITLE
            with Grid(id="fields"):
                yield Label("Host", classes="field-label")
                yield Input(DEFAULT_HOST, id="host")
                yield Label("Port", classes="field-label")
                yield Input(self.DEFAULT_PORT, id="port", placeholder="1-65535", type="integer")
                yield from self.extra_fields()
            yield Static(Content(self.HELP), id="help")
            yield Static("", id="error")
            with Horizontal(id="buttons"):
                yield Button(self.ACTION, variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def extra_fields(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.query_one("#port" if not self.for_listen else "#host", Input).focus()

    def endpoint(self) -> Endpoint:
        host = check_host(self.query_one("#host", Input).value.strip())
        port = check_port(self.query_one("#port", Input).value.strip(), allow_zero=self.for_listen)
        return Endpoint("tcp", host, port)

    def result(self) -> object:
        return self.endpoint()

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def submit(self) -> None:
        try:
            result = self.result()
        except EndpointError as exc:
            self.query_one("#error", Static).update(Content(str(exc)))
            return
        self.dismiss(result)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ListenDialog(EndpointDialog):
    TITLE = "Listen on TCP"
    ACTION = "Listen"
    HELP = "Port 0 picks a free port. 0.0.0.0 or :: listens on every interface."
    DEFAULT_PORT = "0"
    for_listen = True


class ConnectDialog(EndpointDialog):
    TITLE = "Connect over TCP"
    ACTION = "Connect"
    HELP = "IPv6 addresses go without brackets here, e.g. ::1."

    def extra_fields(self) -> ComposeResult:
        yield Label("Timeout (s)", classes="field-label")
        yield Input(f"{DEFAULT_CONNECT_TIMEOUT:g}", id="timeout", type="number")

    def result(self) -> ConnectRequest:
        endpoint = self.endpoint()
        text = self.query_one("#timeout", Input).value.strip()
        try:
            timeout = float(text)
        except ValueError:
            raise EndpointError(f"timeout '{text}' is not a number of seconds") from None
        if not 0 < timeout <= 3600:
            raise EndpointError("the timeout must be more than 0 and at most 3600 seconds")
        return ConnectRequest(endpoint, timeout)


class ConfirmDialog(ModalScreen[bool]):
    BINDINGS = [
        Binding("escape,n", "answer(False)", "No"),
        Binding("y", "answer(True)", "Yes"),
    ]

    def __init__(self, question: str, yes: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as dialog:
            dialog.border_title = "Confirm"
            yield Static(Content(self.question), id="question")
            with Horizontal(id="buttons"):
                yield Button(self.yes, variant="error", id="yes")
                yield Button("No", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
