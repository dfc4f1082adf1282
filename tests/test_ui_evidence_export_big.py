"""Export capture (pcapng)... runs off the UI thread: a peer floods the app (transcript on)
with 256 MiB, then the form exports it while the test types into the form and measures how
long each key takes to show; a second export is cancelled with escape and leaves nothing
behind. (The 1 GiB figures are `sockbench bench --case pcapng`'s and tests/
test_export_big.py's; this is the UI's part.)"""

from __future__ import annotations

import os
import statistics
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from peers import connect_client
from test_export_big import send_key
from test_ui_evidence_export import ENHANCED_PACKET, blocks, open_export, tcp_payload
from textual.css.query import NoMatches
from textual.widgets import Input, Static
from ui_helpers import (
    make_app,
    notified,
    run_app,
    the_app,
    wait_listener_port,
    wait_notified,
    wait_open_connection,
    wait_ui,
)

from workbench.ui.evidence_dialogs import ExportCaptureDialog

TOTAL = 256 * 1024 * 1024
BLOCK = 1024 * 1024
FLOOD_TIMEOUT = 120.0
EXPORT_TIMEOUT = 120.0
KEY_BOUND = 1.0  # seconds from a key to its effect while the export runs, at most
MEDIAN_BOUND = 0.2

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's loopback")


def free_space(path: Path) -> int:
    info = os.statvfs(path)
    return info.f_bavail * info.f_frsize


def flood(sock: Any) -> None:
    chunk = b"\x5a" * BLOCK
    for _ in range(TOTAL // BLOCK):
        sock.sendall(chunk)


def working(dialog: ExportCaptureDialog) -> bool:
    """Whether the form says it is exporting (False once it closed: the export is done)."""
    try:
        return bool(dialog.query_one("#status", Static).display)
    except NoMatches:
        return False


def test_the_export_runs_while_the_form_answers_keys_and_escape_cancels_it(
    tmp_path: Path,
) -> None:
    if free_space(tmp_path) < 3 * TOTAL:
        pytest.skip("needs 768 MiB of free disk space (the transcript and the capture)")
    transcript = tmp_path / "big.jsonl"
    capture = tmp_path / "big.pcapng"
    cancelled = tmp_path / "cancelled.pcapng"
    latencies: list[float] = []
    took: list[float] = []

    async def scenario(pilot: Any) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        peer = connect_client(port, timeout=FLOOD_TIMEOUT)
        conn = await wait_open_connection(pilot)
        sender = threading.Thread(target=flood, args=(peer,), daemon=True)
        sender.start()
        await wait_ui(pilot, lambda: conn.bytes_in == TOTAL, "256 MiB received", FLOOD_TIMEOUT)
        sender.join(10)

        dialog = await open_export(pilot)
        typed = dialog.query_one("#conns", Input)
        started = time.monotonic()
        send_key(app, "enter")
        await wait_ui(pilot, lambda: working(dialog) or notified(app, "wrote "), "the export")
        typed.focus()
        deadline = started + EXPORT_TIMEOUT
        while app.screen is dialog and working(dialog) and time.monotonic() < deadline:
            before = typed.value
            pressed = time.perf_counter()
            send_key(app, "x")
            # (The export may end and the form close while the key is on its way.)
            await wait_ui(
                pilot,
                lambda b=before: typed.value != b or app.screen is not dialog,
                "the key typed",
            )
            if working(dialog):  # answered while the export ran
                latencies.append(time.perf_counter() - pressed)
            await pilot.pause(0.05)
        await wait_notified(pilot, "wrote ", timeout=max(0.1, deadline - time.monotonic()))
        took.append(time.monotonic() - started)

        # Again to another file, and escape while it runs: cancelled, nothing left.
        dialog = await open_export(pilot)
        dialog.query_one("#output", Input).value = str(cancelled)
        send_key(app, "enter")
        await wait_ui(pilot, lambda: working(dialog), "the second export")
        send_key(app, "escape")
        await wait_ui(pilot, lambda: app.screen is app.main_screen, "the form closed")
        peer.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"], transcript=str(transcript)), scenario)
    print(
        f"\nexport of {TOTAL >> 20} MiB from the form: {took[0]:.2f} s; {len(latencies)} keys "
        f"answered meanwhile, max {max(latencies, default=0) * 1000:.0f} ms, median "
        f"{statistics.median(latencies or [0]) * 1000:.0f} ms"
    )
    assert len(latencies) >= 2, f"the form answered {len(latencies)} key(s) during the export"
    assert max(latencies) < KEY_BOUND, latencies
    assert statistics.median(latencies) < MEDIAN_BOUND, latencies
    sizes: dict[tuple[int, int], int] = {}
    for kind, body in blocks(capture):  # streamed: the capture is bigger than 256 MiB
        if kind == ENHANCED_PACKET:
            captured = struct.unpack_from("<I", body, 12)[0]
            ports, payload = tcp_payload(body[20 : 20 + captured])
            assert payload.count(0x5A) == len(payload), "the peer's bytes"
            sizes[ports] = sizes.get(ports, 0) + len(payload)
    assert sorted(sizes.values()) == [0, TOTAL]  # the app sent nothing back
    # The cancelled export's worker stops at its next record and removes its new file.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and sorted(tmp_path.iterdir()) != sorted(
        [capture, transcript]
    ):
        time.sleep(0.05)
    assert sorted(tmp_path.iterdir()) == sorted([capture, transcript])
    for path in (transcript, capture):
        path.unlink()
