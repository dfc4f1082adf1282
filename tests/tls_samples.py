"""TLS handshakes as the engine reports them (`TlsEstablished`), for the views' tests: a
plain one and one whose certificate fields attack the terminal."""

from __future__ import annotations

from textual.pilot import Pilot
from ui_helpers import the_app, wait_ui

from workbench.protocol import events as ev
from workbench.protocol.tls_info import Certificate, TlsInfo
from workbench.ui.app import SockbenchApp

# ESC (a CSI colour), an OSC that retitles the terminal, a bidi override, markup.
HOSTILE_SUBJECT = "CN=\x1b]2;pwned\x07evil\x1b[31m.example\u202efdp.exe[bold]x[/bold]"
HOSTILE_NAME = "DNS:[@click=app.quit]x[/]\x1b[2J\u2066.example"
HOSTILE_ISSUER = "CN=[/bold]Root\x9b31m CA"

SERVER = Certificate(
    subject="CN=server.example",
    issuer="CN=sockbench local CA",
    names=("DNS:server.example", "DNS:localhost", "IP:127.0.0.1"),
    not_before="2020-01-01T00:00:00",
    not_after="2099-01-01T00:00:00",
    key="EC P-256",
    sha256=":".join(["AB"] * 32),
)
CA = SERVER._replace(
    subject="CN=sockbench local CA", names=(), key="EC P-256", sha256=":".join(["CD"] * 32)
)
HOSTILE = SERVER._replace(subject=HOSTILE_SUBJECT, issuer=HOSTILE_ISSUER, names=(HOSTILE_NAME,))


def tls_info(
    chain: tuple[Certificate, ...] = (SERVER, CA),
    verified: bool = True,
    verify_error: str = "",
    version: str = "TLSv1.3",
) -> TlsInfo:
    return TlsInfo(
        version=version,
        cipher="TLS_AES_256_GCM_SHA384",
        alpn="h2",
        sni="server.example",
        verified=verified,
        verify_error=verify_error,
        chain=chain,
        local_certificate=None,
    )


def outgoing_tls(cid: str, port: int, info: TlsInfo) -> list[ev.Event]:
    """An outgoing connection's events up to its handshake."""
    remote = f"127.0.0.1:{port}"
    return [
        ev.Connecting(0.0, cid, remote),
        ev.ConnectionOpened(0.0, cid, None, "127.0.0.1:40000", remote),
        ev.TlsEstablished(0.0, cid, info),
    ]


async def mounted(pilot: Pilot[None]) -> SockbenchApp:
    """The app once its panes take events (as its drain timer waits for them)."""
    app = the_app(pilot)
    await wait_ui(pilot, lambda: app.main_screen.panes_mounted(), "the panes")
    await wait_ui(pilot, lambda: app.connections_table.columns, "the table's columns")
    return app
