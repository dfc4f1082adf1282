"""What a user sees of TLS, compared with reviewed SVG snapshots (update with
--snapshot-update): the Connections pane's mark, and the TLS details view of a certificate
whose fields attack the terminal (ESC, OSC, bidi, markup: all shown as escapes). Fed the
events the engine reports, so the scenes need no certificates and never vary."""

from __future__ import annotations

from scenes import frozen_app
from textual.pilot import Pilot
from tls_samples import CA, HOSTILE, mounted, outgoing_tls, tls_info
from ui_helpers import TERMINAL_SIZE, shows, wait_ui

from workbench.protocol import events as ev
from workbench.ui.tls_detail import TlsDetail


async def tls_connections(pilot: Pilot[None]) -> None:
    """A plain connection, a verified TLS 1.3 one, and a TLS 1.2 one whose verification
    failed (connected with verify=0)."""
    app = await mounted(pilot)
    app.handle_events(outgoing_tls("C1", 9810, tls_info())[:2])
    app.handle_events(outgoing_tls("C2", 9811, tls_info()))
    failed = tls_info(verified=False, verify_error="self-signed certificate", version="TLSv1.2")
    app.handle_events(outgoing_tls("C3", 9812, failed))
    app.handle_events([ev.Data(0.0, "C2", False, b"HTTP/1.1 200 OK\r\n", 17)])
    await wait_ui(pilot, lambda: shows(app.connections_table, "tls1.2"), "C3 marked")
    await pilot.pause(0.1)


async def hostile_certificate_details(pilot: Pilot[None]) -> None:
    app = await mounted(pilot)
    app.handle_events(outgoing_tls("C1", 9813, tls_info(chain=(HOSTILE, CA))))
    await wait_ui(pilot, lambda: "C1" in app.session.connections, "C1")
    app.push_screen(TlsDetail(app.session.connections["C1"]))
    await wait_ui(pilot, lambda: isinstance(app.screen, TlsDetail), "the TLS details")
    await pilot.pause(0.1)


def test_connections_pane_with_tls_connections(snap_compare) -> None:
    assert snap_compare(frozen_app(), terminal_size=TERMINAL_SIZE, run_before=tls_connections)


def test_tls_details_of_a_hostile_certificate(snap_compare) -> None:
    assert snap_compare(
        frozen_app(), terminal_size=TERMINAL_SIZE, run_before=hostile_certificate_details
    )
