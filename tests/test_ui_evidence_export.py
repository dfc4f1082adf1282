"""The palette's "Export capture (pcapng)..." in the real app (issue 18): traffic with a
Python client through an app recording its transcript (`--transcript FILE`), exported from
the form without quitting (the transcript is flushed first), and the file read back: its
pcapng blocks parsed here and, with tshark installed, followed by tshark. A file that exists
is replaced only once the user says so; an app that records nothing says what to do."""

from __future__ import annotations

import shutil
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from peers import connect_client, recv_exactly
from test_app_palette import run_command
from test_pcapng import follow
from textual.pilot import Pilot
from textual.widgets import Input, Static
from ui_helpers import (
    blocking,
    focus,
    make_app,
    run_app,
    the_app,
    type_line,
    wait_listener_port,
    wait_log,
    wait_notified,
    wait_ui,
)

from workbench.ui.dialogs import ConfirmDialog
from workbench.ui.evidence_dialogs import ExportCaptureDialog
from workbench.ui.evidence_forms import NO_TRANSCRIPT

SECTION_HEADER, INTERFACE, ENHANCED_PACKET = 0x0A0D0D0A, 1, 6
FROM_CLIENT = b"GET /status\r\n" + bytes(range(256))
FROM_APP = r"200 fine \x00 from the app"  # as typed: the composer sends \x00 as one byte
FROM_APP_BYTES = b"200 fine \x00 from the app\n"


@dataclass
class Capture:
    """A pcapng file's blocks, as read here."""

    interfaces: list[int] = field(default_factory=list)  # link types
    packets: list[bytes] = field(default_factory=list)
    kinds: list[int] = field(default_factory=list)

    def tcp_payloads(self) -> dict[tuple[int, int], bytes]:
        """The TCP bytes of each direction (source port, destination port), in order."""
        flows: dict[tuple[int, int], bytearray] = {}
        for packet in self.packets:
            ports, payload = tcp_payload(packet)
            flows.setdefault(ports, bytearray()).extend(payload)
        return {ports: bytes(data) for ports, data in flows.items()}


def tcp_payload(packet: bytes) -> tuple[tuple[int, int], bytes]:
    """An IPv4 TCP packet's ports (source, destination) and payload."""
    assert packet[0] >> 4 == 4, "an IPv4 packet"
    header = (packet[0] & 0x0F) * 4
    assert struct.unpack("!H", packet[2:4])[0] == len(packet), "the IP length is the packet's"
    assert packet[9] == socket.IPPROTO_TCP
    segment = packet[header:]
    ports = struct.unpack("!HH", segment[:4])
    return ports, segment[(segment[12] >> 4) * 4 :]


def blocks(path: Path) -> Iterator[tuple[int, bytes]]:
    """Each block of a little-endian pcapng file (its type and body), read one at a time,
    its lengths checked at both ends."""
    with path.open("rb") as file:
        while head := file.read(8):
            kind, length = struct.unpack("<II", head)
            assert length % 4 == 0 and length >= 12, f"a block of length {length}"
            rest = file.read(length - 8)
            assert len(rest) == length - 8, "a block cut short"
            assert struct.unpack_from("<I", rest, length - 12)[0] == length, "trailing length"
            yield kind, rest[:-4]


def read_capture(path: Path) -> Capture:
    """Every block of a pcapng file: its interfaces and packets."""
    found = Capture()
    for kind, body in blocks(path):
        found.kinds.append(kind)
        if kind == SECTION_HEADER:
            assert struct.unpack_from("<I", body)[0] == 0x1A2B3C4D, "little-endian"
        elif kind == INTERFACE:
            found.interfaces.append(struct.unpack_from("<H", body)[0])
        elif kind == ENHANCED_PACKET:
            interface, _, _, captured, size = struct.unpack_from("<IIIII", body)
            assert interface < len(found.interfaces) and captured == size
            found.packets.append(body[20 : 20 + captured])
    assert found.kinds and found.kinds[0] == SECTION_HEADER, "a section header first"
    return found


async def open_export(pilot: Pilot[None]) -> ExportCaptureDialog:
    app = the_app(pilot)
    await run_command(pilot, "export cap", "Export capture (pcapng)...")
    return await wait_ui(
        pilot,
        lambda: (
            isinstance(app.screen, ExportCaptureDialog)
            and app.screen.query("#conns")
            and app.screen
        ),
        "the export form",
    )


def error_of(dialog: ExportCaptureDialog) -> str:
    error = dialog.query_one("#error", Static)
    return str(error.render()) if error.display else ""


async def traffic(pilot: Pilot[None]) -> socket.socket:
    """A Python client sends to the app's listener and the app answers: C1 both ways."""
    port = await wait_listener_port(pilot)
    client = await blocking(connect_client, port)
    await wait_log(pilot, "accepted")
    client.sendall(FROM_CLIENT)
    await wait_log(pilot, "GET /status")
    await type_line(pilot, FROM_APP)
    assert await blocking(recv_exactly, client, len(FROM_APP_BYTES)) == FROM_APP_BYTES
    return client


def test_the_running_apps_transcript_exports_to_a_capture_of_its_traffic(tmp_path: Path) -> None:
    transcript = tmp_path / "run.jsonl"
    capture = tmp_path / "run.pcapng"
    told: list[str] = []

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        client = await traffic(pilot)
        with client:
            dialog = await open_export(pilot)
            # This app's transcript, the capture beside it, every connection of this session.
            assert dialog.query_one("#transcript", Input).value == str(transcript)
            assert dialog.query_one("#output", Input).value == str(capture)
            assert dialog.query_one("#conns", Input).value == ""
            assert str(transcript) in str(dialog.query_one("#question", Static).render())
            await pilot.press("enter")
            await wait_notified(pilot, "wrote ")
            told.extend(str(n.message) for n in app._notifications)
            # The app goes on: the connection is still there to type to.
            assert app.session.connections["C1"].is_open

    run_app(make_app(listen=["tcp://127.0.0.1:0"], transcript=str(transcript)), scenario)
    found = read_capture(capture)
    # Exported while the app ran: the handshake and both directions, not yet the close.
    payloads = found.tcp_payloads()
    assert sorted(payloads.values(), key=len) == sorted([FROM_APP_BYTES, FROM_CLIENT], key=len)
    assert found.interfaces == [228]  # IPv4, no link layer
    notice = next(text for text in told if "wrote " in text)
    assert f"wrote {len(found.packets)} packets of 1 connection" in notice
    assert str(capture) in notice
    if shutil.which("tshark") is None:
        pytest.skip("the capture's blocks are right; tshark is not installed to follow it")
    (followed,) = follow(capture, "tcp")
    assert {followed.from_first, followed.from_second} == {FROM_CLIENT, FROM_APP_BYTES}


def test_a_capture_that_exists_is_replaced_only_once_the_user_says_so(tmp_path: Path) -> None:
    transcript = tmp_path / "run.jsonl"
    capture = tmp_path / "run.pcapng"
    capture.write_bytes(b"the user's old capture")

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        client = await traffic(pilot)
        with client:
            dialog = await open_export(pilot)
            await pilot.press("enter")
            confirm = await wait_ui(
                pilot, lambda: isinstance(app.screen, ConfirmDialog) and app.screen, "the question"
            )
            assert f"{capture} exists. Replace it" in confirm.question
            await pilot.press("n")
            await wait_ui(pilot, lambda: app.screen is dialog, "the form again")
            assert capture.read_bytes() == b"the user's old capture"
            await pilot.press("enter")
            await wait_ui(pilot, lambda: isinstance(app.screen, ConfirmDialog), "asked again")
            await pilot.press("y")
            await wait_notified(pilot, "wrote ")

    run_app(make_app(listen=["tcp://127.0.0.1:0"], transcript=str(transcript)), scenario)
    assert FROM_CLIENT in read_capture(capture).tcp_payloads().values()


def test_an_app_recording_no_transcript_says_what_to_do(tmp_path: Path) -> None:
    missing = tmp_path / "never recorded.jsonl"

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        dialog = await open_export(pilot)
        assert "--transcript FILE" in str(dialog.query_one("#question", Static).render())
        assert dialog.query_one("#transcript", Input).value == ""
        await pilot.press("enter")
        await wait_ui(pilot, lambda: error_of(dialog) == NO_TRANSCRIPT, "the error")
        assert app.screen is dialog  # the form stays, to be given a transcript
        dialog.query_one("#transcript", Input).value = str(missing)
        # The capture's name follows the transcript's.
        output = dialog.query_one("#output", Input)
        beside = str(tmp_path / "never recorded.pcapng")
        await wait_ui(pilot, lambda: output.value == beside, "the capture's name")
        await pilot.press("enter")
        await wait_ui(pilot, lambda: "cannot read" in error_of(dialog), "the file's error")
        assert "No such file or directory" in error_of(dialog)
        dialog.query_one("#session", Input).value = "first"
        await pilot.press("enter")
        await wait_ui(pilot, lambda: "is not a session number" in error_of(dialog), "Session")
        await pilot.press("escape")
        await wait_ui(pilot, lambda: app.screen is app.main_screen, "the form closed")

    run_app(make_app(), scenario)
    assert not (tmp_path / "never recorded.pcapng").exists()


def test_another_transcript_exports_one_connection_of_a_session(tmp_path: Path) -> None:
    """A transcript given in the form (an earlier run's), its session 1 and connection C1:
    what `sockbench export --session 1 --conn C1` writes."""
    earlier = tmp_path / "earlier.jsonl"
    capture = tmp_path / "earlier C1.pcapng"

    async def record(pilot: Pilot[None]) -> None:
        (await traffic(pilot)).close()
        await wait_log(pilot, "closed")

    run_app(make_app(listen=["tcp://127.0.0.1:0"], transcript=str(earlier)), record)

    async def scenario(pilot: Pilot[None]) -> None:
        dialog = await open_export(pilot)
        dialog.query_one("#transcript", Input).value = str(earlier)
        dialog.query_one("#output", Input).value = str(capture)
        dialog.query_one("#session", Input).value = "1"
        dialog.query_one("#conns", Input).value = "C1"
        await pilot.press("enter")
        await wait_notified(pilot, "(session 1 of 1)")

    run_app(make_app(), scenario)
    payloads = read_capture(capture).tcp_payloads()
    assert sorted(payloads.values(), key=len) == sorted([FROM_APP_BYTES, FROM_CLIENT], key=len)


def test_the_log_cursors_connection_is_offered(tmp_path: Path) -> None:
    transcript = tmp_path / "run.jsonl"
    second = b"from the second client\n"

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        client = await traffic(pilot)  # C1
        port = await wait_listener_port(pilot)
        other = await blocking(connect_client, port)  # C2, the last rows
        with client, other:
            other.sendall(second)
            await wait_log(pilot, "from the second client")
            dialog = await open_export(pilot)  # the cursor on no row: every connection
            assert dialog.query_one("#conns", Input).value == ""
            await pilot.press("escape")
            await focus(pilot, app.log_view)
            await pilot.press("up")
            await wait_ui(pilot, lambda: app.log_view.cursor is not None, "the Log's cursor")
            dialog = await open_export(pilot)
            assert dialog.query_one("#conns", Input).value == "C2"
            await pilot.press("enter")
            await wait_notified(pilot, "packets of 1 connection")

    run_app(make_app(listen=["tcp://127.0.0.1:0"], transcript=str(transcript)), scenario)
    payloads = read_capture(tmp_path / "run.pcapng").tcp_payloads()
    assert sorted(payloads.values()) == [b"", second]  # C2's only: the app sent it nothing


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="/dev/full is Linux's")
def test_a_transcript_that_stopped_recording_is_said_so() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        with await blocking(connect_client, port) as client:
            client.sendall(b"x" * 100_000)
            await wait_log(pilot, "/dev/full")  # the Log says recording stopped
            dialog = await open_export(pilot)
            question = str(dialog.query_one("#question", Static).render())
            assert "stopped recording its transcript, /dev/full (" in question
            assert dialog.query_one("#transcript", Input).value == "/dev/full"
            await pilot.press("escape")
        assert app.engine.transcript_path is None

    run_app(make_app(listen=["tcp://127.0.0.1:0"], transcript="/dev/full"), scenario)
