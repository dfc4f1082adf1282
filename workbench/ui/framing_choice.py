"""Choosing a connection's framing while it runs (the palette's "Framing of a connection..."):
the Log's messages view frames its records with it (the whole history again) and the composer
sends one message of it per Enter; the engine hands the Log its reads whole from then on
(never merged under a flood: a gap would lose the framing's place). A listener's behaviours
(rules on messages, replay) keep the framing their listener opened with: that is the
listener's `framing=`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.codec import sanitize_text
from workbench.framing.messages import FramingError, parse_framing
from workbench.session.model import ConnectionInfo
from workbench.ui.macro_book import MacroError
from workbench.ui.macro_dialog import FieldsDialog

if TYPE_CHECKING:
    from workbench.ui.main_screen import MainScreen

FRAMING_EXAMPLES = "len:2:be, netstring, resp, http, delim:\\r\\n"


class FramingDialog(FieldsDialog[str]):
    """The framing spec for one connection; empty: none."""

    TITLE_TEXT = "Framing"
    OK_LABEL = "Set"

    def __init__(self, cid: str, now: str | None) -> None:
        super().__init__()
        self.cid = cid
        self.now = now or ""

    def question(self) -> str:
        now = f"now {self.now}" if self.now else "now none"
        return (
            f"How {self.cid}'s messages are framed ({now}): the Log's messages view (l) shows "
            "them, the composer sends one per Enter. Empty: none (raw bytes)."
        )

    def fields(self) -> list[tuple[str, str, str, str]]:
        return [("Framing", "spec", self.now, FRAMING_EXAMPLES)]

    def result(self) -> str:
        text = self.field("spec").strip()
        if text:
            try:
                parse_framing(text)
            except FramingError as exc:
                raise MacroError(f"Framing: {exc}") from None
        return text


def frames(conn: ConnectionInfo) -> bool:
    """Streams have messages to frame (a datagram is one message as it is)."""
    return not conn.is_datagram


def ask_framing(main: MainScreen, cid: str) -> None:
    def chosen(spec: str | None) -> None:
        if spec is not None and cid in main.session.connections:
            set_framing(main, cid, spec or None)

    now = main.opened.framing_of(cid, main.session)
    main.app.push_screen(FramingDialog(cid, now), chosen)


def set_framing(main: MainScreen, cid: str, spec: str | None) -> None:
    """`cid` framed as `spec` (None: none) from now on, its history laid out again."""
    main.opened.choose_framing(cid, spec)
    main.engine.frame_whole(cid, spec is not None)  # every byte reaches the Log to frame
    view = main.log_view
    view.model.set_framing(cid, spec)
    view.apply(view.settings, relayout=True)
    main.composer.placeholder = main.placeholder()
    said = f"{cid} is framed as {spec}" if spec else f"{cid} has no framing: raw bytes"
    hint = "; l shows the messages" if spec and view.settings.framing != "messages" else ""
    main.notify(sanitize_text(said + hint), title="framing", markup=False)
