"""What the user sees of TLS, fed `TlsEstablished` events as the engine reports them: the
session keeps each connection's handshake, the Connections pane marks it with its version,
and the TLS details view (palette, or `i` in a record's detail view) shows the negotiated
parameters and the whole chain, every certificate field through the one sanitizer."""

from __future__ import annotations

import re

from test_app_palette import run_command
from textual.pilot import Pilot
from textual.widgets import Static
from tls_samples import CA, HOSTILE, SERVER, mounted, outgoing_tls, tls_info
from ui_helpers import make_app, run_app, shown_lines, shows, wait_ui

from workbench.log import Record
from workbench.protocol import events as ev
from workbench.protocol.enums import Transport
from workbench.session.core import SessionCore
from workbench.ui.behaviour_dialog import current_behaviour
from workbench.ui.connection_picker import ConnectionPicker
from workbench.ui.detail import RecordDetail
from workbench.ui.panes import ListenersTree
from workbench.ui.tls_detail import TlsDetail, tls_sections, validity
from workbench.ui.tls_mark import proto_mark

# What must never reach the terminal from a certificate: ESC, C1 CSI, BEL, bidi controls.
RAW_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


# --- the session ---


def test_the_session_keeps_each_connection_s_handshake() -> None:
    core = SessionCore()
    info = tls_info()
    update = core.apply(outgoing_tls("C1", 9801, info))
    assert core.session.connections["C1"].tls == info
    assert "C1" in update.changes.connections
    core.apply([ev.ConnectionClosed(1.0, "C1", "closed by peer")])
    assert core.session.connections["C1"].tls == info  # still there to look at once closed


def test_a_handshake_reported_before_its_accepted_connection_is_kept_for_it() -> None:
    core = SessionCore()
    info = tls_info(chain=(), verified=False)
    core.apply([ev.ListenerOpened(0.0, "L1", "tls://127.0.0.1:9802", ("127.0.0.1:9802",))])
    core.apply([ev.TlsEstablished(0.0, "C1", info)])
    core.apply([ev.ConnectionOpened(0.0, "C1", "L1", "127.0.0.1:9802", "127.0.0.1:40001")])
    assert core.session.connections["C1"].tls == info
    plain = [ev.ConnectionOpened(0.0, "C2", "L1", "127.0.0.1:9802", "127.0.0.1:40002")]
    core.apply(plain)
    assert core.session.connections["C2"].tls is None


def test_a_tls_listener_is_tcp_to_the_behaviour_dialog_and_tls_in_the_tree() -> None:
    core = SessionCore()
    url = "tls://127.0.0.1:9815?echo=1"
    opened = ev.ListenerOpened(0.0, "L1", url, ("127.0.0.1:9815",), behaviour="echo=1")
    core.apply([opened])
    listener = core.session.listeners["L1"]
    assert listener.transport == Transport.TCP and not listener.is_datagram
    assert current_behaviour(listener).echo
    label = ListenersTree.listener_label(listener, core.session)
    assert label.plain.startswith("L1 tls 127.0.0.1:9815")


def test_a_handshake_on_a_connection_that_failed_is_not_kept() -> None:
    core = SessionCore()
    core.apply([ev.TlsEstablished(0.0, "C9", tls_info())])
    core.apply([ev.ConnectionClosed(0.0, "C9", "handshake failed", error=True)])
    core.apply([ev.ConnectionOpened(0.0, "C9", None, "127.0.0.1:1", "127.0.0.1:2")])
    assert core.session.connections["C9"].tls is None


# --- the Connections pane's mark ---


def test_the_proto_mark_says_the_version_and_whether_the_peer_was_verified() -> None:
    assert proto_mark("tcp", Transport.TCP, None) == ("tcp", "cyan")
    assert proto_mark("tcp", Transport.TCP, tls_info()) == ("tls1.3", "green")
    assert proto_mark("tcp", Transport.TCP, tls_info(version="TLSv1.2")) == ("tls1.2", "green")
    failed = tls_info(verified=False, verify_error="self-signed certificate")
    assert proto_mark("tcp", Transport.TCP, failed) == ("tls1.3", "yellow")
    not_asked = tls_info(verified=False)
    assert proto_mark("unix", Transport.UNIX, not_asked) == ("utls1.3", "cyan")


def test_the_connections_pane_marks_a_tls_connection_with_its_version() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = await mounted(pilot)
        app.handle_events([ev.Connecting(0.0, "C1", "127.0.0.1:9803")])
        app.handle_events(outgoing_tls("C2", 9804, tls_info())[:2])
        table = app.connections_table
        await wait_ui(pilot, lambda: shows(table, r"C2 +tcp "), "C2 plain before its handshake")
        app.handle_events(outgoing_tls("C2", 9804, tls_info())[2:])
        await wait_ui(pilot, lambda: shows(table, r"C2 +tls1\.3 +open"), "C2 marked tls1.3")
        assert shows(table, r"C1 +tcp ")

    run_app(make_app(), scenario, size=(80, 24))


# --- the TLS details view ---


def shown_text(screen: TlsDetail) -> str:
    return "\n".join("\n".join(shown_lines(static)) for static in screen.query(Static))


def test_the_details_show_the_negotiated_parameters_and_the_whole_chain() -> None:
    info = tls_info()
    core = SessionCore()
    core.apply(outgoing_tls("C1", 9805, info))
    conn = core.session.connections["C1"]
    sections = dict(tls_sections(conn, info, now=1.9e9))
    negotiated = {f.label: f.value for f in sections["negotiated"]}
    assert negotiated == {
        "version": "TLSv1.3",
        "cipher": "TLS_AES_256_GCM_SHA384",
        "ALPN": "h2",
        "SNI": "server.example",
        "verified": "yes",
    }
    leaf = {f.label: f.value for f in sections["the server's chain: 1 of 2 (leaf)"]}
    assert leaf == {
        "subject": SERVER.subject,
        "issuer": SERVER.issuer,
        "names": "DNS:server.example, DNS:localhost, IP:127.0.0.1",
        "valid": "2020-01-01T00:00:00 to 2099-01-01T00:00:00",
        "key": "EC P-256",
        "SHA-256": SERVER.sha256[:47] + ":\n" + SERVER.sha256[48:],  # 16 octets a line
    }
    issuer = {
        f.label: f.value for f in sections["the server's chain: 2 of 2 (issued the one above)"]
    }
    assert issuer["subject"] == CA.subject and issuer["names"] == "(none)"


def test_the_details_say_why_verification_failed_and_when_a_certificate_expired() -> None:
    info = tls_info(verified=False, verify_error="certificate has expired")
    core = SessionCore()
    core.apply(outgoing_tls("C1", 9806, info))
    negotiated = dict(tls_sections(core.session.connections["C1"], info, 0.0))["negotiated"]
    assert negotiated[-1].value == "no: certificate has expired"
    assert validity(SERVER, now=4.2e9).value.endswith("(expired)")
    assert validity(SERVER, now=0.0).value.endswith("(not yet valid)")
    assert validity(SERVER._replace(not_after="\x1b[2J"), 0.0).value.endswith("\\x1b[2J")


def test_a_hostile_certificate_is_shown_escaped_from_the_palette() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = await mounted(pilot)
        app.handle_events(outgoing_tls("C1", 9807, tls_info(chain=(HOSTILE, CA))))
        await wait_ui(pilot, lambda: shows(app.connections_table, "tls1.3"), "C1 marked")
        await run_command(pilot, "TLS details", "TLS details...")
        picker = await wait_ui(
            pilot, lambda: isinstance(app.screen, ConnectionPicker) and app.screen, "the picker"
        )
        assert "tls1.3" in picker.choices[0].plain
        await pilot.press("enter")
        screen = await wait_ui(
            pilot, lambda: isinstance(app.screen, TlsDetail) and app.screen, "the TLS details"
        )
        await pilot.pause()
        text = shown_text(screen)
        assert not RAW_CONTROLS.search(text)
        assert r"CN=\x1b]2;pwned\x07evil\x1b[31m.example\u202efdp.exe[bold]x[/bold]" in text
        assert r"DNS:[@click=app.quit]x[/]\x1b[2J\u2066.example" in text
        assert r"CN=[/bold]Root\u009b31m CA" in text
        assert app.is_running  # the markup did not end it
        await pilot.press("escape")
        await wait_ui(pilot, lambda: not isinstance(app.screen, TlsDetail), "closed")

    run_app(make_app(), scenario)


def test_with_no_tls_connection_the_picker_says_so() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = await mounted(pilot)
        app.handle_events(outgoing_tls("C1", 9814, tls_info())[:2])  # plain: no handshake
        await wait_ui(pilot, lambda: shows(app.connections_table, r"C1 +tcp "), "C1 listed")
        await run_command(pilot, "TLS details", "TLS details...")
        picker = await wait_ui(
            pilot, lambda: isinstance(app.screen, ConnectionPicker) and app.screen, "the picker"
        )
        await pilot.pause()
        assert shows(
            picker.query_one("#picker-empty"), "no TLS connection: open one with a tls:// URL"
        )

    run_app(make_app(), scenario)


def test_a_tls_connection_s_record_opens_its_tls_details_with_i() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = await mounted(pilot)
        app.handle_events(outgoing_tls("C1", 9808, tls_info()))
        app.handle_events([ev.Data(0.0, "C1", False, b"hello\n", 6)])
        await wait_ui(pilot, lambda: shows(app.connections_table, "tls1.3"), "C1 marked")
        app.main_screen.log_view.focus()
        await pilot.press("enter")
        detail = await wait_ui(
            pilot, lambda: isinstance(app.screen, RecordDetail) and app.screen, "the record"
        )
        assert detail.check_action("tls", ())
        await pilot.press("i")
        screen = await wait_ui(
            pilot, lambda: isinstance(app.screen, TlsDetail) and app.screen, "the TLS details"
        )
        await pilot.pause()
        assert "TLS_AES_256_GCM_SHA384" in shown_text(screen)

    run_app(make_app(), scenario)


def test_a_plain_connection_s_record_has_no_tls_key() -> None:
    core = SessionCore()
    core.apply(outgoing_tls("C1", 9809, tls_info())[:2])
    conn = core.session.connections["C1"]
    record = core.apply([ev.Data(0.0, "C1", False, b"x", 1)]).records[0]
    detail = RecordDetail(record if isinstance(record, Record) else Record(*record), conn)
    assert not detail.check_action("tls", ())
