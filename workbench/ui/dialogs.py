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
from textual.suggester import SuggestFromList
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from workbench.behaviour_options import checked, refuse_untaken
from workbench.codec import sanitize_text
from workbench.engine import DEFAULT_CONNECT_TIMEOUT
from workbench.framing.messages import FramingError, parse_framing
from workbench.protocol.addresses import EndpointError
from workbench.protocol.endpoints import DEFAULT_HOST, Endpoint, check_join, with_defaults
from workbench.protocol.enums import Transport
from workbench.protocol.loose_address import parse_address
from workbench.protocol.options import (
    OPTIONS,
    STREAMS,
    DialogCheckbox,
    Option,
    SocketOptions,
    options_from,
    parse_options,
    url_options,
    with_behaviour,
)
from workbench.ui.behaviour_fields import BehaviourFields

TRANSPORT_CHOICES = [(transport.label, transport) for transport in Transport]


@dataclass(frozen=True)
class ConnectRequest:
    endpoint: Endpoint
    timeout: float


@dataclass(frozen=True)
class SendToRequest:
    lid: str
    endpoint: Endpoint


# The TLS option's box sits beside the transport (a row of its own would push the Connect
# dialog past a 24-row terminal); this is its text where the option's declaration gives none.
TLS_OPTION = "tls"

# What the Framing field offers as the user types (any spec the framings take is accepted).
FRAMING_SUGGESTIONS = (
    "delim:\\r\\n",
    "delim:\\0",
    "http",
    "len:2:be",
    "len:4:be",
    "netstring",
    "resp",
)
FRAMING_TOOLTIP = (
    "How the stream's messages are framed, for the Log's messages view (l) and the composer "
    "(one message per Enter): delim:\\r\\n, len:2:be[:incl][:max=N] (1, 2, 4 or 8 bytes, be "
    "or le), netstring, resp, http. Empty: none (raw bytes). framing= in the URL does the same."
)

FieldValues = dict[str, str | bool]
# What each kind of dialog was last submitted with (by class name), kept by the main screen for
# the session: the next one opens with it, selected so that typing replaces it.
DialogMemory = dict[str, FieldValues]


class EndpointDialog(ModalScreen[object]):
    """An address first (as people paste it: `9000`, `host:9000`, `[::1]:9000`, a URL; a path
    for the Unix transports), then the transport and the options, with inline validation;
    subclasses say what the result is."""

    DEFAULT_CSS = """
    EndpointDialog #transport-row { height: 1; }
    EndpointDialog #transport-row Select { width: 1fr; }
    EndpointDialog #transport-row Checkbox { width: auto; margin-left: 2; }
    EndpointDialog #options-row { height: 1; }
    EndpointDialog #options-row #options { width: 1fr; }
    EndpointDialog #options-row Label.framing { width: auto; margin: 0 1 0 2; }
    EndpointDialog #options-row #framing { width: 1fr; max-width: 20; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    TITLE = ""
    ACTION = ""
    HELP = ""
    DEFAULT_ADDRESS = ""
    ADDRESS_HELP = (
        f"9000 means {DEFAULT_HOST}:9000; host:9000, [::1]:9000, host 9000 and URLs work too."
    )
    INET_PLACEHOLDER = "9000, host:9000, [::1]:9000 or a URL"
    UNIX_PLACEHOLDER = "/tmp/app.sock, @name (abstract) or a URL"
    for_listen = False
    show_options = True
    has_behaviour = True  # what it does on its own: echo, a greeting, rules...
    # What the Options field suggests, per transport (see the URL options in the README).
    OPTION_PLACEHOLDERS = {
        Transport.UDP: "broadcast=1&rcvbuf=4194304&ttl=2",
        Transport.TCP: "idle=30",
    }

    def __init__(
        self,
        memory: DialogMemory | None = None,
        transport: Transport = Transport.TCP,
        *,
        bind_host: str = DEFAULT_HOST,
    ) -> None:
        """`bind_host`: the host a listener given only a port binds (the config file's)."""
        super().__init__()
        self.memory = {} if memory is None else memory
        self.bind_host = bind_host
        self.initial_transport = transport  # until the remembered one, if any (see recall)
        self.remembered = self.recall()
        self.initial_transport = Transport(str(self.remembered.get("transport", transport)))

    def recall(self) -> FieldValues:
        """The values this dialog opens with, from the last one of its kind."""
        return dict(self.memory.get(type(self).__name__, {}))

    def initial(self, field_id: str, default: str = "") -> str:
        return str(self.remembered.get(field_id, default))

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as dialog:
            dialog.border_title = self.TITLE
            with Grid(id="fields"):
                yield from self.leading_fields()
                yield Label("Address", classes="field-label")
                yield Input(
                    self.initial("address", self.default_address()), id="address", compact=True
                )
                yield Label("Transport", classes="field-label")
                yield from self.transport_field()
                yield Label("Options", classes="field-label options-label")
                with Horizontal(id="options-row", classes="options-label"):
                    yield Input(
                        self.initial("options"),
                        id="options",
                        classes="options",
                        tooltip=self.options_tooltip(),
                        compact=True,
                    )
                    yield Label("Framing", classes="framing")
                    yield Input(
                        self.initial("framing"),
                        id="framing",
                        classes="framing",
                        placeholder="none",
                        tooltip=FRAMING_TOOLTIP,
                        suggester=SuggestFromList(FRAMING_SUGGESTIONS),
                        compact=True,
                    )
                yield from self.option_checkboxes()
                yield from self.extra_fields()
            yield from self.after_fields()
            yield Static(Content(self.help_text()), id="help")
            # Shown with an error only: the dialog fits a 24-row terminal without one.
            error = Static("", id="error")
            error.display = False
            yield error
            with Horizontal(id="buttons"):
                yield Button(self.ACTION, variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def leading_fields(self) -> ComposeResult:
        yield from ()

    def options_tooltip(self) -> str:
        """The options this dialog's role takes in the Options field, from their declarations."""
        return "\n".join(
            f"{transport}: "
            + ", ".join(
                f"{option.url_name}={option.kind.metavar}"
                for option in url_options(transport)
                if option.takes_role(self.for_listen)
            )
            for transport in self.OPTION_PLACEHOLDERS
        )

    @property
    def checkbox_options(self) -> list[tuple[Option, DialogCheckbox]]:
        """The declared options this dialog's role shows as checkboxes (id: the URL's name)."""
        return [
            (option, option.dialog)
            for option in OPTIONS
            if option.dialog and option.takes_role(self.for_listen)
        ]

    def option_checkbox(self, option: Option, checkbox: DialogCheckbox) -> Checkbox:
        return Checkbox(
            checkbox.text,
            value=bool(self.remembered.get(option.url_name, False)),
            id=option.url_name,
            classes=f"option-{option.url_name}",
            tooltip=checkbox.tooltip,
            compact=True,
        )

    def option_checkboxes(self) -> ComposeResult:
        for option, checkbox in self.checkbox_options:
            if option.url_name != TLS_OPTION:  # beside the transport (transport_field)
                yield Label(checkbox.label, classes=f"field-label option-{option.url_name}")
                yield self.option_checkbox(option, checkbox)

    def transport_field(self) -> ComposeResult:
        select = Select(
            TRANSPORT_CHOICES,
            value=self.initial_transport,
            allow_blank=False,
            id="transport",
            compact=True,
        )
        tls = [box for box in self.checkbox_options if box[0].url_name == TLS_OPTION]
        if not tls:
            yield select
            return
        with Horizontal(id="transport-row"):
            yield select
            yield self.option_checkbox(*tls[0])

    def extra_fields(self) -> ComposeResult:
        yield from ()

    def default_address(self) -> str:
        return self.DEFAULT_ADDRESS

    def help_text(self) -> str:
        return self.HELP

    def after_fields(self) -> ComposeResult:
        if self.has_behaviour:
            yield BehaviourFields(
                self.remembered, for_listen=self.for_listen, id="behaviour-fields"
            )

    def on_mount(self) -> None:
        self.show_fields(self.initial_transport)
        self.query_one("#address", Input).focus()  # which selects it: typing replaces it

    @on(Select.Changed, "#transport")
    def transport_changed(self, event: Select.Changed) -> None:
        self.show_fields(Transport(str(event.value)))

    @on(Input.Changed, "#address")
    def address_changed(self, event: Input.Changed) -> None:
        """A pasted URL says its transport: the selector follows, and with it the options."""
        scheme, sep, _ = event.value.strip().partition("://")
        select = self.query_one("#transport", Select)
        if sep and scheme.lower() == TLS_OPTION and self.query(f"#{TLS_OPTION}"):
            scheme = Transport.TCP  # tls:// is TCP with the TLS box ticked
            self.query_one(f"#{TLS_OPTION}", Checkbox).value = True
        if sep and scheme.lower() in set(Transport) and not select.disabled:
            select.value = Transport(scheme.lower())

    def show_fields(self, transport: Transport) -> None:
        for widget in self.query(".options"):
            widget.display = self.takes_options(transport)
        for widget in self.query(".framing"):
            widget.display = self.takes_framing(transport)
        for widget in self.query(".options-label"):
            widget.display = self.takes_options(transport) or self.takes_framing(transport)
        for option, _ in self.checkbox_options:
            shown = self.show_options and option.takes(transport, self.for_listen)
            for widget in self.query(f".option-{option.url_name}"):
                widget.display = shown
        self.query_one("#options", Input).placeholder = self.OPTION_PLACEHOLDERS.get(transport, "")
        placeholder = self.UNIX_PLACEHOLDER if transport.is_unix else self.INET_PLACEHOLDER
        self.query_one("#address", Input).placeholder = placeholder

    def takes_options(self, transport: Transport) -> bool:
        """Whether the Options field shows, and counts, for `transport`."""
        return self.show_options and transport in self.OPTION_PLACEHOLDERS

    def takes_framing(self, transport: Transport) -> bool:
        """Whether the Framing field shows, and counts: streams have messages to frame."""
        return self.show_options and transport in STREAMS

    @property
    def transport(self) -> Transport:
        return Transport(str(self.query_one("#transport", Select).value))

    def checked_options(self) -> SocketOptions:
        """The options the checkboxes and the behaviour fields set."""
        checked = options_from(
            {
                option.field: self.query_one(f"#{option.url_name}", Checkbox).value
                for option, _ in self.checkbox_options
            }
        )
        if not self.has_behaviour:
            return checked
        behaviour = self.query_one(BehaviourFields).behaviour()
        refuse_untaken(behaviour, self.transport)
        return with_behaviour(checked, behaviour)

    def endpoint(self) -> Endpoint:
        """The address's endpoint, with the Options field's options where it sets none
        itself, then the checkboxes'."""
        endpoint = parse_address(
            self.query_one("#address", Input).value,
            self.transport,
            for_listen=self.for_listen,
            default_host=self.bind_host if self.for_listen else DEFAULT_HOST,
        )
        typed = self.query_one("#options", Input).value.strip().lstrip("?")
        if typed and self.takes_options(endpoint.transport):
            options = parse_options(typed, typed, endpoint.transport, self.for_listen)
            endpoint = with_defaults(endpoint, options, for_listen=self.for_listen)
            check_join(endpoint.host, endpoint.options, typed)
        endpoint = self.with_framing(endpoint)
        return checked(with_defaults(endpoint, self.checked_options(), for_listen=self.for_listen))

    def with_framing(self, endpoint: Endpoint) -> Endpoint:
        """The Framing field's spec, checked, where the address's URL sets none itself."""
        text = self.query_one("#framing", Input).value.strip()
        if not text or not self.takes_framing(endpoint.transport):
            return endpoint
        try:
            spec = parse_framing(text)
        except FramingError as exc:
            raise EndpointError(f"framing: {exc}") from None
        framing = options_from({"framing": str(spec)})
        return with_defaults(endpoint, framing, for_listen=self.for_listen)

    def result(self) -> object:
        return self.endpoint()

    def field_values(self) -> FieldValues:
        """What the fields hold now, by id, for the next dialog of this kind."""
        values: FieldValues = {"transport": str(self.transport)}
        for field in self.query_one("#fields").query(Input):
            values[str(field.id)] = field.value
        for box in self.query_one("#fields").query(Checkbox):
            values[str(box.id)] = box.value
        if self.has_behaviour:
            values.update(self.query_one(BehaviourFields).field_values())
        return values

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def submit(self) -> None:
        try:
            result = self.result()
        except EndpointError as exc:
            # The message quotes what was typed or pasted: show it with visible escapes.
            error = self.query_one("#error", Static)
            error.update(Content(sanitize_text(str(exc))))
            error.display = True
            return
        self.memory[type(self).__name__] = self.field_values()
        self.dismiss(result)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class ListenDialog(EndpointDialog):
    TITLE = "Listen"
    ACTION = "Listen"
    HELP = (
        f"{EndpointDialog.ADDRESS_HELP} "
        "Port 0 picks a free port; 0.0.0.0 or :: listens on every interface."
    )
    DEFAULT_ADDRESS = f"{DEFAULT_HOST}:0"
    for_listen = True

    def default_address(self) -> str:
        return f"{bracketed(self.bind_host)}:0"

    def help_text(self) -> str:
        # The config file's bind_host is what a port alone means here.
        return self.HELP.replace(f"{DEFAULT_HOST}:9000", f"{bracketed(self.bind_host)}:9000", 1)

    OPTION_PLACEHOLDERS = {
        Transport.UDP: "broadcast=1&rcvbuf=4194304",
        Transport.TCP: "max=100&idle=30",
    }


class ConnectDialog(EndpointDialog):
    TITLE = "Connect"
    ACTION = "Connect"
    HELP = EndpointDialog.ADDRESS_HELP

    def extra_fields(self) -> ComposeResult:
        yield Label("Timeout (s)", classes="field-label")
        yield Input(
            self.initial("timeout", f"{DEFAULT_CONNECT_TIMEOUT:g}"),
            id="timeout",
            type="number",
            compact=True,
        )

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
    has_behaviour = False

    def __init__(
        self,
        listeners: list[tuple[str, str, str]],
        selected: str | None,
        memory: DialogMemory | None = None,
    ) -> None:
        """`listeners`: (lid, transport, label) of each open datagram listener."""
        self.listeners = listeners
        self.selected = selected if any(lid == selected for lid, _, _ in listeners) else None
        first = self.selected or listeners[0][0]
        transport = next(t for lid, t, _ in listeners if lid == first)
        super().__init__(
            memory, Transport.UDP if transport == Transport.UDP else Transport.UNIX_DGRAM
        )

    def recall(self) -> FieldValues:
        """The last address, if it was for this transport: the socket decides the transport."""
        values = super().recall()
        if values.pop("transport", None) != str(self.initial_transport):
            return {}
        return values

    def leading_fields(self) -> ComposeResult:
        yield Label("From", classes="field-label")
        yield Select(
            [(Content(label), lid) for lid, _, label in self.listeners],
            value=self.selected or self.listeners[0][0],
            allow_blank=False,
            id="source",
            compact=True,
        )

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#transport", Select).disabled = True

    @on(Select.Changed, "#source")
    def source_changed(self, event: Select.Changed) -> None:
        transport = next(t for lid, t, _ in self.listeners if lid == event.value)
        self.query_one("#transport", Select).value = transport
        self.show_fields(Transport(transport))

    def result(self) -> SendToRequest:
        endpoint = self.endpoint()
        if endpoint.transport != self.transport:
            source = self.query_one("#source", Select).value
            raise EndpointError(
                f"'{self.query_one('#address', Input).value.strip()}' is a {endpoint.transport} "
                f"address; {source} sends {self.transport} datagrams"
            )
        return SendToRequest(str(self.query_one("#source", Select).value), endpoint)


def bracketed(host: str) -> str:
    """`host` as it is written before `:PORT`."""
    return f"[{host}]" if ":" in host else host


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
