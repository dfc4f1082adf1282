"""Modal dialogs: Listen, Connect, Send to, and a yes/no confirmation. Each returns a typed
result."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from workbench.codec import sanitize_text
from workbench.engine import DEFAULT_CONNECT_TIMEOUT
from workbench.protocol.endpoints import (
    DEFAULT_HOST,
    UNIX_TRANSPORTS,
    Endpoint,
    EndpointError,
    parse_url,
    with_stream_options,
)

TRANSPORT_CHOICES = [
    ("TCP", "tcp"),
    ("UDP", "udp"),
    ("Unix stream", "unix"),
    ("Unix datagram", "unix-dgram"),
]


@dataclass(frozen=True)
class ConnectRequest:
    endpoint: Endpoint
    timeout: float


@dataclass(frozen=True)
class SendToRequest:
    lid: str
    endpoint: Endpoint


def build_url(transport: str, host: str, port: str, path: str, options: str) -> str:
    """What the fields say, as a URL, so that the dialogs validate exactly as --listen does."""
    if transport in UNIX_TRANSPORTS:
        return f"{transport}://{path.strip()}"
    host = host.strip()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    query = options.strip().lstrip("?")
    return f"{transport}://{host}:{port.strip()}" + (f"?{query}" if query else "")


class EndpointDialog(ModalScreen[object]):
    """Transport, then host and port (or a Unix path), with inline validation; subclasses
    say what the result is."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    TITLE = ""
    ACTION = ""
    HELP = ""
    DEFAULT_PORT = ""
    for_listen = False
    show_options = True
    STREAM_TRANSPORTS = ("tcp", "unix")
    # What the Options field suggests, per transport (see the URL options in the README).
    OPTION_PLACEHOLDERS = {"udp": "broadcast=1&rcvbuf=4194304&ttl=2", "tcp": "idle=30"}

    def __init__(self, transport: str = "tcp") -> None:
        super().__init__()
        self.initial_transport = transport

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as dialog:
            dialog.border_title = self.TITLE
            with Grid(id="fields"):
                yield from self.leading_fields()
                yield Label("Transport", classes="field-label")
                yield Select(
                    TRANSPORT_CHOICES,
                    value=self.initial_transport,
                    allow_blank=False,
                    id="transport",
                )
                yield Label("Host", classes="field-label inet")
                yield Input(DEFAULT_HOST, id="host", classes="inet")
                yield Label("Port", classes="field-label inet")
                yield Input(
                    self.DEFAULT_PORT,
                    id="port",
                    placeholder="1-65535",
                    type="integer",
                    classes="inet",
                )
                yield Label("Path", classes="field-label unix")
                yield Input(
                    id="path", placeholder="/tmp/app.sock, or @name (abstract)", classes="unix"
                )
                yield Label("Options", classes="field-label options")
                yield Input(id="options", classes="options")
                yield Label("Peer's EOF", classes="field-label stream")
                yield Checkbox(
                    "keep open (half-open)",
                    id="halfopen",
                    classes="stream",
                    tooltip="Off: a connection closes 0.5 s after its peer's EOF, as nc does",
                )
                yield from self.extra_fields()
            yield Static(Content(self.HELP), id="help")
            yield Static("", id="error")
            with Horizontal(id="buttons"):
                yield Button(self.ACTION, variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def leading_fields(self) -> ComposeResult:
        yield from ()

    def extra_fields(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.show_fields(self.initial_transport)
        self.query_one("#port" if not self.for_listen else "#host", Input).focus()

    @on(Select.Changed, "#transport")
    def transport_changed(self, event: Select.Changed) -> None:
        self.show_fields(str(event.value))

    def show_fields(self, transport: str) -> None:
        unix = transport in UNIX_TRANSPORTS
        for widget in self.query(".inet"):
            widget.display = not unix
        for widget in self.query(".unix"):
            widget.display = unix
        for widget in self.query(".options"):
            widget.display = self.show_options and transport in self.OPTION_PLACEHOLDERS
        for widget in self.query(".stream"):
            widget.display = self.show_options and transport in self.STREAM_TRANSPORTS
        self.query_one("#options", Input).placeholder = self.OPTION_PLACEHOLDERS.get(transport, "")

    @property
    def transport(self) -> str:
        return str(self.query_one("#transport", Select).value)

    def endpoint(self) -> Endpoint:
        url = build_url(
            self.transport,
            self.query_one("#host", Input).value,
            self.query_one("#port", Input).value,
            self.query_one("#path", Input).value,
            self.query_one("#options", Input).value,
        )
        endpoint = parse_url(url, for_listen=self.for_listen)
        if self.query_one("#halfopen", Checkbox).value:
            endpoint = with_stream_options(endpoint, half_open=True)
        return endpoint

    def result(self) -> object:
        return self.endpoint()

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def submit(self) -> None:
        try:
            result = self.result()
        except EndpointError as exc:
            # The message quotes what was typed or pasted: show it with visible escapes.
            self.query_one("#error", Static).update(Content(sanitize_text(str(exc))))
            return
        self.dismiss(result)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ListenDialog(EndpointDialog):
    TITLE = "Listen"
    ACTION = "Listen"
    HELP = (
        "Port 0 picks a free port. 0.0.0.0 or :: listens on every interface: other machines "
        "can connect. TCP options: max=N connections (default 100), idle=S seconds, "
        "grace=S after a peer's EOF."
    )
    DEFAULT_PORT = "0"
    for_listen = True
    OPTION_PLACEHOLDERS = {"udp": "broadcast=1&rcvbuf=4194304", "tcp": "max=100&idle=30"}


class ConnectDialog(EndpointDialog):
    TITLE = "Connect"
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


class SendToDialog(EndpointDialog):
    """Pick a datagram listener and an address: the address becomes a peer to type to."""

    TITLE = "Send to"
    ACTION = "Send to"
    HELP = "Sends from the chosen socket; the address becomes a peer you can type to."
    show_options = False  # the options belong to the socket, set when it was opened

    def __init__(self, listeners: list[tuple[str, str, str]], selected: str | None) -> None:
        """`listeners`: (lid, transport, label) of each open datagram listener."""
        self.listeners = listeners
        self.selected = selected if any(lid == selected for lid, _, _ in listeners) else None
        first = self.selected or listeners[0][0]
        transport = next(t for lid, t, _ in listeners if lid == first)
        super().__init__("udp" if transport == "udp" else "unix-dgram")

    def leading_fields(self) -> ComposeResult:
        yield Label("From", classes="field-label")
        yield Select(
            [(Content(label), lid) for lid, _, label in self.listeners],
            value=self.selected or self.listeners[0][0],
            allow_blank=False,
            id="source",
        )

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#transport", Select).disabled = True
        focus = "#path" if self.initial_transport == "unix-dgram" else "#port"
        self.query_one(focus, Input).focus()

    @on(Select.Changed, "#source")
    def source_changed(self, event: Select.Changed) -> None:
        transport = next(t for lid, t, _ in self.listeners if lid == event.value)
        self.query_one("#transport", Select).value = transport
        self.show_fields(transport)

    def result(self) -> SendToRequest:
        return SendToRequest(str(self.query_one("#source", Select).value), self.endpoint())


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
