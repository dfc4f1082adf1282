"""The detail view of one Log record: all it holds, as text and as a hex dump, with copy."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from workbench.codec import decode_for_display, format_hex, format_size, hexdump, sanitize_text
from workbench.framing import split_lines
from workbench.log import Record
from workbench.log.message_framing import MessageRecord
from workbench.session.model import ConnectionInfo

DIRECTION = {"in": "received", "out": "sent", "info": "information", "error": "error"}


def format_date_time(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) + f".{int(ts * 1000) % 1000:03d}"


def describe_record(
    record: Record, conn: ConnectionInfo | None, format_time: Callable[[float], str]
) -> list[str]:
    direction = DIRECTION[record.kind]
    if record.is_data and record.text:  # sent by a behaviour, not typed
        direction += f" by {record.text}"
    lines = [f"{record.source}  {direction}  at {format_time(record.ts)}"]
    if conn is not None:
        tls = f"  ·  {conn.tls.version} (i: TLS details)" if conn.tls is not None else ""
        lines.append(f"{conn.transport}  local {conn.local or '-'}  remote {conn.remote}{tls}")
    if record.is_data:
        merged = f" in {record.chunks:,} {record.unit}" if record.chunks > 1 else ""
        held = (
            f"; the Log holds the first {format_size(len(record.data))} (the transcript has all)"
            if record.missing
            else ""
        )
        lines.append(f"{record.size:,} bytes{merged}{held}  ·  shown as {record.encoding}")
    if isinstance(record, MessageRecord):  # the messages framing's: what it read of it
        fields = [f"{name} {value}" for name, value in record.fields]
        lines.append("  ·  ".join(["message", *filter(None, [record.summary, *fields])]))
        if record.error:
            lines.append(f"malformed: {record.error}")
    return lines


class RecordDetail(ModalScreen[None]):
    """Everything one record holds. `r` copies its text as the peer sent it, `t` as shown
    (escaped), `c` its bytes as hex."""

    BINDINGS = [
        Binding("escape,q", "dismiss", "Close"),
        Binding("r", "copy_raw", "Copy raw text"),
        Binding("t", "copy_text", "Copy escaped text"),
        Binding("c", "copy_hex", "Copy hex"),
        Binding("i", "tls", "TLS details"),  # a TLS connection's record only
    ]

    def __init__(
        self,
        record: Record,
        conn: ConnectionInfo | None,
        format_time: Callable[[float], str] | None = None,
    ) -> None:
        super().__init__()
        self.record = record
        self.conn = conn
        self.format_time = format_time or format_date_time

    def compose(self) -> ComposeResult:
        record = self.record
        with Vertical(id="detail") as box:
            box.border_title = f"Record {record.source} #{record.seq}"
            lines = describe_record(record, self.conn, self.format_time)
            yield Static(Content("\n".join(sanitize_text(line) for line in lines)))
            with VerticalScroll(id="detail-body"):
                if record.is_data:
                    yield Static(Content("text"), classes="detail-heading")
                    yield Static(Content(self.display_text()), id="detail-text")
                    yield Static(Content("hex dump"), classes="detail-heading")
                    dump = "\n".join(hexdump(record.data)) or "(no bytes)"
                    yield Static(Content(dump), id="detail-hex")
                else:
                    yield Static(Content(sanitize_text(record.text)), id="detail-text")
        yield Footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return action != "tls" or (self.conn is not None and self.conn.tls is not None)

    def action_tls(self) -> None:
        from workbench.ui.tls_detail import TlsDetail

        if self.conn is not None:
            self.app.push_screen(TlsDetail(self.conn))

    def display_text(self) -> str:
        # One line per received line, as the Log shows them, with \n kept visible.
        # shown_data: a record held in part does not end in half a character (not \xNN).
        lines = split_lines(self.record.shown_data(), self.record.encoding)
        shown = [decode_for_display(line, self.record.encoding) for line in lines if line]
        return "\n".join(shown).expandtabs(4) or "(empty)"

    def action_copy_hex(self) -> None:
        self.app.copy_to_clipboard(format_hex(self.record.data))
        self.notify(f"copied {len(self.record.data):,} bytes as hex", markup=False)

    def action_copy_text(self) -> None:
        text = self.record.display_text()
        self.app.copy_to_clipboard(text)
        self.notify("copied the text as shown (escapes included)", markup=False)

    def action_copy_raw(self) -> None:
        """The text as the peer sent it, control characters and all, decoded with the Log's
        encoding (a byte that is not valid in it becomes U+FFFD). Safe for the terminal:
        copy_to_clipboard sends it base64-encoded in an OSC 52 sequence, so none of it is
        ever written to the terminal as text; and it is never drawn."""
        record = self.record
        if not record.is_data:
            self.app.copy_to_clipboard(record.text)
        else:
            self.app.copy_to_clipboard(record.shown_data().decode(record.encoding, "replace"))
        self.notify("copied the text as received (no escapes)", markup=False)
