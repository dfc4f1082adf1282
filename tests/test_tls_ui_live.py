"""End to end with a real TLS peer (`openssl s_server`) whose certificate attacks the terminal
(ESC, OSC, bidi, markup in its subject and SAN): the Connections pane marks the connection,
and the TLS details show every field as visible escapes, in the app and in tmux.

These need the TLS core (tls:// connections): enabled at merge."""

from __future__ import annotations

import contextlib
import datetime
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from peers import free_port
from test_app_palette import run_command
from test_hostile_terminal import TMUX_CONFIG, assert_terminal_untouched
from textual.pilot import Pilot
from textual.widgets import Static
from tls_samples import mounted
from tmux_helpers import Tmux
from ui_helpers import make_app, run_app, shown_lines, shows, wait_log, wait_ui

from workbench.bench.tools import end, spawn, wait_listening
from workbench.ui.connection_picker import ConnectionPicker
from workbench.ui.tls_detail import TlsDetail

SUBJECT = "\x1b]2;pwned\x07evil\x1b[31m\u202efdp.exe[bold]x[/bold]"
# RFC 4514 escapes the ';' (`\;`), and the Log shows that backslash doubled, as every one.
SUBJECT_SHOWN = r"CN=\x1b]2\\;pwned\x07evil\x1b[31m\u202efdp.exe[bold]x[/bold]"
SAN = "[@click=app.quit]x[/]\x1b[2J.example"
SAN_SHOWN = r"DNS:[@click=app.quit]x[/]\x1b[2J.example"

requires_openssl = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="openssl is not installed"
)


def hostile_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed ECDSA certificate with the hostile subject and SAN, and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SUBJECT)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(SAN)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "hostile.pem", folder / "hostile.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@contextlib.contextmanager
def hostile_server(folder: Path) -> Iterator[int]:
    """`openssl s_server` with the hostile certificate; its port."""
    cert, key = hostile_certificate(folder)
    port = free_port()
    argv = ["openssl", "s_server", "-quiet", "-accept", f"127.0.0.1:{port}",
            "-cert", str(cert), "-key", str(key)]  # fmt: skip
    server = spawn(argv)
    try:
        wait_listening(port, proc=server)
        yield port
    finally:
        end(server)


@requires_openssl
def test_a_real_hostile_certificate_is_marked_and_shown_escaped(tmp_path: Path) -> None:

    async def scenario(pilot: Pilot[None]) -> None:
        app = await mounted(pilot)
        await wait_ui(pilot, lambda: shows(app.connections_table, r"C1 +tls1\.3 "), "marked")
        await wait_log(pilot, f"connecting to tls://127.0.0.1:{port}")  # its URL's scheme
        await run_command(pilot, "TLS details", "TLS details...")
        await wait_ui(pilot, lambda: isinstance(app.screen, ConnectionPicker), "the picker")
        await pilot.press("enter")
        screen = await wait_ui(
            pilot, lambda: isinstance(app.screen, TlsDetail) and app.screen, "the details"
        )
        await pilot.pause()
        text = "\n".join("\n".join(shown_lines(s)) for s in screen.query(Static))
        assert SUBJECT_SHOWN in text and SAN_SHOWN in text
        assert "\x1b" not in text and "\u202e" not in text

    with hostile_server(tmp_path) as port:
        run_app(make_app(connect=[f"tls://127.0.0.1:{port}?verify=0"]), scenario)


@requires_openssl
def test_a_real_hostile_certificate_never_reaches_the_terminal(tmux: Tmux, tmp_path: Path) -> None:
    with hostile_server(tmp_path) as port:
        tmux.start_sockbench(
            tmp_path, "--connect", f"tls://127.0.0.1:{port}?verify=0", config=TMUX_CONFIG
        )
        tmux.wait_screen("tls1.3", "the TLS connection in the Connections pane")
        title, window = tmux.show("#{pane_title}"), tmux.show("#{window_name}")
        tmux.keys("C-p")
        tmux.wait_screen("🔎", "the command palette")
        tmux.keys("TLS details", literal=True)
        tmux.wait_screen("TLS details...", "the palette's TLS details command")
        tmux.keys("Enter")
        tmux.wait_screen("TLS details of: which connection?", "the connection picker")
        tmux.keys("Enter")
        tmux.wait_screen(SUBJECT_SHOWN, "the subject as visible escapes")
        tmux.wait_screen(SAN_SHOWN, "the SAN as visible escapes")
        assert_terminal_untouched(tmux, title, window)
        tmux.keys("Escape")
        tmux.wait(lambda: SAN_SHOWN not in tmux.screen(), "the details to close")
        tmux.quit_sockbench()
