"""The Behaviour dialog: change what a listener does on its own while it runs (`b` on a
listener, or the palette). Its open connections answer the new way at once."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from workbench.behaviour_options import (
    check_behaviours,
    checked_rules,
    refuse_untaken,
    rules_framing,
)
from workbench.codec import sanitize_text
from workbench.protocol.addresses import EndpointError
from workbench.protocol.options import SocketOptions, parse_options
from workbench.session.model import ListenerInfo
from workbench.ui.behaviour_fields import BehaviourFields, values_of

if TYPE_CHECKING:
    from workbench.ui.main_screen import MainScreen

HELP = (
    "Its open connections answer the new way at once; a greeting goes to peers that "
    "connect from now on."
)


class BehaviourRequest(NamedTuple):
    lid: str
    behaviour: SocketOptions


def current_behaviour(listener: ListenerInfo) -> SocketOptions:
    """A listener's behaviour options, from the query its events gave."""
    query = listener.behaviour
    return parse_options(query, query, listener.transport, for_listen=True)


class BehaviourDialog(ModalScreen[BehaviourRequest | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        listeners: list[ListenerInfo],
        selected: str,
        framings: dict[str, str | None] | None = None,
    ) -> None:
        """`framings`: each listener's framing= (rules on messages need one)."""
        super().__init__()
        self.listeners = {listener.lid: listener for listener in listeners}
        self.framings = framings or {}
        self.selected = selected

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog") as dialog:
            dialog.border_title = "Behaviour"
            with Grid(id="fields"):
                yield Label("Listener", classes="field-label")
                yield Select(
                    [
                        (Content(f"{lid} {info.transport} {', '.join(info.local)}"), lid)
                        for lid, info in self.listeners.items()
                    ],
                    value=self.selected,
                    allow_blank=False,
                    id="listener",
                    compact=True,
                )
            yield self.fields_for(self.selected)
            yield Static(Content(HELP), id="help")
            error = Static("", id="error")
            error.display = False
            yield error
            with Horizontal(id="buttons"):
                yield Button("Apply", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def fields_for(self, lid: str) -> BehaviourFields:
        return BehaviourFields(
            values_of(current_behaviour(self.listeners[lid])), id="behaviour-fields"
        )

    def on_mount(self) -> None:
        self.query_one("#behaviour", Select).focus()

    @on(Select.Changed, "#listener")
    async def listener_changed(self, event: Select.Changed) -> None:
        lid = str(event.value)
        if lid == self.selected:
            return
        self.selected = lid
        old = self.query_one(BehaviourFields)
        await old.remove()
        await self.query_one("#dialog").mount(self.fields_for(lid), after="#fields")

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def submit(self) -> None:
        listener = self.listeners[self.selected]
        try:
            behaviour = self.query_one(BehaviourFields).behaviour()
            refuse_untaken(behaviour, listener.transport)
            check_behaviours(behaviour)
            if behaviour.rules is not None:
                framing = self.framings.get(self.selected)
                rules_framing(checked_rules(behaviour.rules), framing)
        except EndpointError as exc:
            error = self.query_one("#error", Static)
            error.update(Content(sanitize_text(str(exc))))
            error.display = True
            return
        self.dismiss(BehaviourRequest(self.selected, behaviour))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


def change_behaviour(main: MainScreen, lid: str | None) -> None:
    """Open the dialog on listener `lid` (else the first open one); apply what it returns."""
    listeners = [info for info in main.session.listeners.values() if info.is_open]
    if not listeners:
        main.notify("no listener to change: open one with f2", severity="warning", markup=False)
        return
    open_ids = [info.lid for info in listeners]
    selected = lid if lid is not None and lid in open_ids else open_ids[0]

    def chosen(request: BehaviourRequest | None) -> None:
        if request is not None:
            main.engine.set_behaviour(request.lid, request.behaviour)
        main.composer.focus()

    framings = {info.lid: main.opened.framing_of_listener(info.lid) for info in listeners}
    main.app.push_screen(BehaviourDialog(listeners, selected, framings), chosen)
