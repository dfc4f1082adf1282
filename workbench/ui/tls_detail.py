"""The TLS view of one connection: what its handshake negotiated and every certificate of the
chain (subject, issuer, names, validity, key, SHA-256 fingerprint), like `curl -v` says it.

Every certificate field came from the peer: each goes through the one sanitizer
(`sanitize_text`) and is drawn as `Content`, never markup. `f` copies the leaf's fingerprint
as `pin=` takes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import NamedTuple

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from workbench.codec import sanitize_text
from workbench.protocol.tls_info import Certificate, TlsInfo
from workbench.session.model import ConnectionInfo

# A certificate may carry thousands of names: past this many, a count of the others.
MAX_NAMES_SHOWN = 64
LABEL_WIDTH = 10


class Field(NamedTuple):
    """One row: a label and its value (sanitized), with a style for the value."""

    label: str
    value: str
    style: str = ""


Section = tuple[str, list[Field]]  # a heading and its rows


def verification(info: TlsInfo, outgoing: bool) -> Field:
    if info.verified:
        return Field("verified", "yes", "green")
    if info.verify_error:
        return Field("verified", f"no: {sanitize_text(info.verify_error)}", "bold red")
    asked = "verify=0" if outgoing else "no client certificate asked for"
    return Field("verified", f"not asked ({asked})", "yellow")


def validity(cert: Certificate, now: float) -> Field:
    """Its dates, and whether `now` is outside them (the dates are peer text too)."""
    shown = f"{sanitize_text(cert.not_before)} to {sanitize_text(cert.not_after)}"
    try:
        start = datetime.fromisoformat(cert.not_before).replace(tzinfo=UTC).timestamp()
        end = datetime.fromisoformat(cert.not_after).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return Field("valid", shown)
    if now > end:
        return Field("valid", f"{shown}  (expired)", "bold red")
    if now < start:
        return Field("valid", f"{shown}  (not yet valid)", "bold red")
    return Field("valid", shown)


def names_text(names: tuple[str, ...]) -> str:
    shown = ", ".join(sanitize_text(name) for name in names[:MAX_NAMES_SHOWN])
    more = len(names) - MAX_NAMES_SHOWN
    return f"{shown} and {more:,} more" if more > 0 else shown or "(none)"


def fingerprint_lines(fingerprint: str) -> str:
    """16 octets a line: a 32-byte fingerprint whole in two lines, never cut inside one."""
    octets = fingerprint.split(":")
    rows = [":".join(octets[start : start + 16]) for start in range(0, len(octets), 16)]
    return ":\n".join(rows)


def certificate_fields(cert: Certificate, now: float) -> list[Field]:
    return [
        Field("subject", sanitize_text(cert.subject), "bold"),
        Field("issuer", sanitize_text(cert.issuer)),
        Field("names", names_text(cert.names)),
        validity(cert, now),
        Field("key", sanitize_text(cert.key)),
        Field("SHA-256", fingerprint_lines(sanitize_text(cert.sha256))),
    ]


def tls_sections(conn: ConnectionInfo, info: TlsInfo, now: float) -> Iterator[Section]:
    """What the view shows, section by section."""
    yield (
        "negotiated",
        [
            Field("version", sanitize_text(info.version), "bold"),
            Field("cipher", sanitize_text(info.cipher)),
            Field("ALPN", sanitize_text(info.alpn) or "(none)"),
            Field("SNI", sanitize_text(info.sni) or "(none)"),
            verification(info, conn.outgoing),
        ],
    )
    whose = "server's" if conn.outgoing else "client's"
    if not info.chain:
        yield f"the {whose} certificate", [Field("", "(none sent)")]
    for number, cert in enumerate(info.chain, 1):
        role = "leaf" if number == 1 else "issued the one above"
        heading = f"the {whose} chain: {number} of {len(info.chain)} ({role})"
        yield heading, certificate_fields(cert, now)
    if info.local_certificate is not None:
        yield "our certificate", certificate_fields(info.local_certificate, now)


def field_row(row: Field) -> Horizontal:
    """A label and its value; a long value (a fingerprint, many names) wraps beside it."""
    value = Content.styled(row.value, row.style) if row.style else Content(row.value)
    return Horizontal(
        Static(Content(row.label), classes="tls-label"),
        Static(value, classes="tls-value"),
        classes="tls-field",
    )


class TlsDetail(ModalScreen[None]):
    """The TLS of one connection (the palette's "TLS details...", or `i` in a record's
    detail view)."""

    DEFAULT_CSS = f"""
    TlsDetail {{ align: center middle; }}
    TlsDetail .tls-field {{ height: auto; }}
    TlsDetail .tls-label {{ width: {LABEL_WIDTH}; color: $text-muted; }}
    TlsDetail .tls-value {{ width: 1fr; }}
    """

    BINDINGS = [
        Binding("escape,q", "dismiss", "Close"),
        Binding("f", "copy_fingerprint", "Copy the fingerprint"),
    ]

    def __init__(self, conn: ConnectionInfo, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.conn = conn
        self.clock = clock

    def compose(self) -> ComposeResult:
        conn, info = self.conn, self.conn.tls
        with Vertical(id="detail") as box:
            box.border_title = f"TLS of {conn.cid}"
            where = f"{conn.transport}  local {conn.local or '-'}  remote {conn.remote}"
            yield Static(Content(sanitize_text(where)))
            with VerticalScroll(id="detail-body"):
                if info is None:
                    yield Static(Content(f"{conn.cid} has no TLS (yet)"))
                else:
                    for heading, fields in tls_sections(conn, info, self.clock()):
                        yield Static(Content(heading), classes="detail-heading")
                        yield from (field_row(row) for row in fields)
        yield Footer()

    def action_copy_fingerprint(self) -> None:
        info = self.conn.tls
        if info is None or not info.chain:
            self.notify("no certificate from the peer", markup=False)
            return
        self.app.copy_to_clipboard(info.chain[0].sha256)
        self.notify("copied the leaf's SHA-256 fingerprint (pin= takes it)", markup=False)
