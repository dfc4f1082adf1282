"""The Log in the real app, driven with Pilot against real peers on loopback: display modes,
line framing, relative time, filters, search, a record's details, saving and exporting."""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

from peers import connect_client, recv_exactly, udp_socket
from test_transcript_reader import session as reader_session
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Select, Static
from ui_helpers import (
    blocking,
    focus,
    log_text,
    make_app,
    notified,
    run_app,
    type_line,
    wait_listener_port,
    wait_log,
    wait_notified,
    wait_open_connection,
    wait_ui,
)

from workbench.codec import format_hex, hexdump
from workbench.payloads import SendSettings
from workbench.session.model import ConnectionInfo
from workbench.transcript.schema import SCHEMA_VERSION
from workbench.ui.app import SockbenchApp
from workbench.ui.detail import RecordDetail
from workbench.ui.log_dialogs import FilterDialog, PathDialog
from workbench.ui.log_subtitle import filter_active

TCP_LISTENER = "tcp://127.0.0.1:0"
UDP_LISTENER = "udp://127.0.0.1:0"
CLOCK_TIME = re.compile(r"\d\d:\d\d:\d\d\.\d{3} ")


def the_app(pilot: Pilot[None]) -> SockbenchApp:
    assert isinstance(pilot.app, SockbenchApp)
    return pilot.app


def data_rows(app: SockbenchApp) -> list[str]:
    """The text of every data row the Log shows now (not its info and error rows)."""
    log = app.log_view
    texts = log.row_texts()
    return [text for index, text in enumerate(texts) if log.row_at(index).record.is_data]


def cursor_text(app: SockbenchApp) -> str:
    log = app.log_view
    assert log.cursor is not None, "no cursor in the Log"
    return log.row_texts()[log.cursor]


def subtitle(app: SockbenchApp) -> str:
    return str(app.log_view.border_subtitle)


async def wait_screen(pilot: Pilot[None], kind: type) -> object:
    app = the_app(pilot)
    return await wait_ui(pilot, lambda: isinstance(app.screen, kind) and app.screen, kind.__name__)


# --- display modes, framing, time ---


def test_m_cycles_the_log_through_text_hex_and_hexdump() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        log = app.log_view
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        client.sendall(b"Hello\x00\xff\n")
        await wait_log(pilot, "← Hello\\x00\\xff\\n")
        await focus(pilot, log)

        await pilot.press("m")
        assert log.model.settings.display == "hex"
        assert data_rows(app)[0].endswith("C1    ← 0000  48 65 6c 6c 6f 00 ff 0a")
        assert "hex" in subtitle(app)

        await pilot.press("m")
        assert log.model.settings.display == "both"
        (row,) = data_rows(app)
        assert "← 00000000  48 65 6c 6c 6f 00 ff 0a " in row
        assert row.endswith("|Hello...|")
        assert "both" in subtitle(app)

        await pilot.press("m")
        assert log.model.settings.display == "text"
        assert data_rows(app) == [row for row in log_text(app) if "Hello" in row]
        assert data_rows(app)[0].endswith("← Hello\\x00\\xff\\n")
        client.close()

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


def send_byte_by_byte(sock: socket.socket, data: bytes, gap: float = 0.01) -> None:
    for index in range(len(data)):
        sock.sendall(data[index : index + 1])
        time.sleep(gap)


def test_l_reassembles_lines_sent_one_byte_at_a_time() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        log = app.log_view
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = await wait_open_connection(pilot)
        await blocking(send_byte_by_byte, client, b"alpha beta\n")
        client.sendall(b"gamma\r\n")
        await wait_ui(pilot, lambda: conn.bytes_in == 18, "all 18 bytes")

        # Raw: a record per read, so the first line is in many pieces.
        assert len([r for r in log.model.store if r.kind == "in"]) > 2
        assert not any("alpha beta" in row for row in log_text(app))
        raw = log_text(app)

        await focus(pilot, log)
        await pilot.press("l")
        assert log.model.settings.framing == "lines"
        rows = data_rows(app)
        assert len(rows) == 2
        assert rows[0].endswith("C1    ← alpha beta\\n")
        assert rows[1].endswith("C1    ← gamma\\r\\n")
        assert "lines" in subtitle(app)

        await pilot.press("l")
        assert log.model.settings.framing == "raw"
        assert log_text(app) == raw
        assert "lines" not in subtitle(app)
        client.close()

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


def test_l_reassembles_utf16_lines_sent_one_byte_at_a_time() -> None:
    # U+0A0A is the bytes 0a 0a in UTF-16: not a line feed, whichever byte a read ends at.
    text = "h\u00e9llo \u0a0a\nw\u00f6rld\n"
    payload = text.encode("utf-16le")

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = await wait_open_connection(pilot)
        await blocking(send_byte_by_byte, client, payload)
        await wait_ui(pilot, lambda: conn.bytes_in == len(payload), "every byte")
        await focus(pilot, app.log_view)
        await pilot.press("l")
        rows = data_rows(app)
        assert len(rows) == 2, rows
        assert rows[0].endswith("C1    ← h\u00e9llo \u0a0a\\n")
        assert rows[1].endswith("C1    ← w\u00f6rld\\n")
        client.close()

    settings = SendSettings(encoding="utf-16le")
    run_app(make_app(listen=[TCP_LISTENER], default_settings=settings), scenario)


def test_l_shows_a_line_not_finished_yet_until_its_line_feed() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        conn = await wait_open_connection(pilot)
        await focus(pilot, app.log_view)
        await pilot.press("l")
        client.sendall(b"login: ")  # a prompt: no LF
        await wait_ui(pilot, lambda: conn.bytes_in == 7, "the prompt's 7 bytes")
        await wait_log(pilot, "C1    ← login: ")
        (row,) = data_rows(app)
        assert row.endswith("← login:  … (line not finished yet)")

        client.sendall(b"root\n")
        await wait_log(pilot, "← login: root\\n")
        (row,) = data_rows(app)
        assert row.endswith("C1    ← login: root\\n")
        assert not any("not finished" in row for row in log_text(app))
        client.close()

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


def test_r_shows_times_relative_to_the_first_record() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        client.sendall(b"tick\n")
        await wait_log(pilot, "← tick\\n")
        assert CLOCK_TIME.match(data_rows(app)[0])

        await focus(pilot, app.log_view)
        await pilot.press("r")
        first_data = data_rows(app)[0]
        assert first_data.startswith("+")
        assert re.match(r"\+\d+\.\d{3}s C1 +← tick\\n$", first_data)
        assert log_text(app)[0].startswith("+0.000s L1 ")  # the session's first record
        assert "relative time" in subtitle(app)

        await pilot.press("r")
        assert CLOCK_TIME.match(data_rows(app)[0])
        client.close()

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


# --- filters over thousands of records ---

LINES_PER_PEER = 2_000
BATCH = 100  # datagrams per peer between waits, well within the socket's receive buffer


def numbered(peer: str, index: int) -> bytes:
    return f"from {peer} {index}\n".encode()


async def fill_from_two_peers(
    pilot: Pilot[None], peer_a: socket.socket, peer_b: socket.socket
) -> tuple[tuple[str, int], ConnectionInfo, ConnectionInfo]:
    """Datagrams "from A 0\\n".."from A 1999\\n" from `peer_a` (C1) and the same from B (C2):
    one record each, 4,000 in all, sent in batches so that none is dropped."""
    address = ("127.0.0.1", await wait_listener_port(pilot))
    peer_a.sendto(numbered("A", 0), address)
    conn_a = await wait_open_connection(pilot)
    peer_b.sendto(numbered("B", 0), address)
    conn_b = await wait_open_connection(pilot, lambda c: c.cid != conn_a.cid)
    assert (conn_a.cid, conn_b.cid) == ("C1", "C2")
    expected = len(numbered("A", 0))
    for start in range(1, LINES_PER_PEER, BATCH):
        for index in range(start, min(start + BATCH, LINES_PER_PEER)):
            peer_a.sendto(numbered("A", index), address)
            peer_b.sendto(numbered("B", index), address)
            expected += len(numbered("A", index))
        await wait_ui(
            pilot,
            lambda total=expected: conn_a.bytes_in == total and conn_b.bytes_in == total,
            f"{expected} bytes from each peer",
        )
    return address, conn_a, conn_b


async def open_filter(
    pilot: Pilot[None],
    *,
    sources: str = "all",
    direction: str = "both",
    text: str = "",
    regex: bool = False,
    hex_bytes: str = "",
) -> FilterDialog:
    """Open the filter dialog (f in the Log) and fill in every field."""
    app = the_app(pilot)
    await focus(pilot, app.log_view)
    await pilot.press("f")
    dialog = await wait_screen(pilot, FilterDialog)
    assert isinstance(dialog, FilterDialog)
    dialog.query_one("#sources", Select).value = sources
    dialog.query_one("#direction", Select).value = direction
    dialog.query_one("#text", Input).value = text
    dialog.query_one("#regex", Checkbox).value = regex
    dialog.query_one("#hex", Input).value = hex_bytes
    return dialog


async def close_filter(pilot: Pilot[None], button: str) -> None:
    app = the_app(pilot)
    await pilot.click(button)
    await wait_ui(pilot, lambda: not isinstance(app.screen, FilterDialog), "the dialog closed")
    await pilot.pause()


async def apply_filter(pilot: Pilot[None], **fields: object) -> None:
    await open_filter(pilot, **fields)  # type: ignore[arg-type]
    await close_filter(pilot, "#ok")


def test_text_filter_over_thousands_of_records_applies_to_new_ones_and_clears() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        log = app.log_view
        with udp_socket() as peer_a, udp_socket() as peer_b:
            address, conn_a, conn_b = await fill_from_two_peers(pilot, peer_a, peer_b)
            assert len(log.model.store) == 2 * LINES_PER_PEER + 3  # listening, 2 new peers
            assert len(data_rows(app)) == 2 * LINES_PER_PEER
            everything = len(log.model.rows)

            await apply_filter(pilot, text="from B 19")
            shown = data_rows(app)
            # from B 19, 190-199 and 1900-1999; no info row contains the text.
            assert len(shown) == 1 + 10 + 100 == len(log.model.rows)
            assert all("← from B 19" in row for row in shown)
            assert shown[0].endswith("C2    ← from B 19\\n")
            assert shown[-1].endswith("C2    ← from B 1999\\n")
            assert "filtered" in subtitle(app)
            assert app.focused is log

            # What arrives after the filter is applied is filtered too.
            before_a, before_b = conn_a.bytes_in, conn_b.bytes_in
            late_a, late_b = b"from A 19 later\n", [b"from B 1 later\n", b"from B 19 later\n"]
            peer_a.sendto(late_a, address)
            for datagram in late_b:
                peer_b.sendto(datagram, address)
            await wait_ui(
                pilot,
                lambda: (
                    conn_a.bytes_in == before_a + len(late_a)
                    and conn_b.bytes_in == before_b + sum(map(len, late_b))
                ),
                "the late datagrams",
            )
            shown = data_rows(app)
            assert len(shown) == 112
            assert shown[-1].endswith("C2    ← from B 19 later\\n")
            assert [row for row in shown if "later" in row] == shown[-1:]

            await open_filter(pilot, text="from B 19")
            await close_filter(pilot, "#clear")
            assert not filter_active(log.model.settings)
            assert len(log.model.rows) == everything + 3
            assert len(data_rows(app)) == 2 * LINES_PER_PEER + 3
            assert "filtered" not in subtitle(app)

    run_app(make_app(listen=[UDP_LISTENER]), scenario)


def test_direction_source_regex_and_hex_filters_and_an_invalid_regex() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        log = app.log_view
        with udp_socket() as peer_a, udp_socket() as peer_b:
            _, conn_a, _ = await fill_from_two_peers(pilot, peer_a, peer_b)
            assert app.target == conn_a.cid
            await type_line(pilot, "reply to A")
            assert await blocking(recv_exactly, peer_a, 11) == b"reply to A\n"
            await wait_log(pilot, "→ reply to A\\n")
            everything = len(log.model.rows)

            await apply_filter(pilot, direction="out")
            (shown,) = data_rows(app)
            assert shown.endswith("C1    → reply to A\\n")
            assert len(log.model.rows) == 1 + 3  # info rows are not data: they still show
            assert "filtered" in subtitle(app)

            await apply_filter(pilot, direction="in")
            assert len(data_rows(app)) == 2 * LINES_PER_PEER
            assert all(row.record.kind == "in" for row in log.model.rows if row.record.is_data)

            await apply_filter(pilot, sources="target")
            assert len(data_rows(app)) == LINES_PER_PEER + 1
            assert {row.record.source for row in log.model.rows} == {"C1"}

            # Regular expressions match the text as shown, where a LF is the two characters
            # \n: the line's end is after them.
            await apply_filter(pilot, text=r"^from A 1\d{3}\\n$", regex=True)
            shown = data_rows(app)
            assert len(shown) == 1000
            assert all(re.search(r"C1    ← from A 1\d{3}\\n$", row) for row in shown)
            await apply_filter(pilot, text=r"^from A 1\d{3}$", regex=True)
            assert data_rows(app) == []

            await apply_filter(pilot, hex_bytes="41 20 37 37")  # "A 77"
            shown = data_rows(app)
            assert len(shown) == 11 == len(log.model.rows)  # 77, 770-779; info rows hold no bytes
            assert shown[0].endswith("← from A 77\\n")

            # An invalid regex is reported in the dialog, which stays open; nothing changes.
            settings = log.model.settings
            dialog = await open_filter(pilot, text="from (", regex=True)
            await pilot.click("#ok")
            await pilot.pause()
            assert app.screen is dialog
            assert "not a regular expression" in str(dialog.query_one("#error", Static).render())
            dialog.query_one("#regex", Checkbox).value = False
            dialog.query_one("#hex", Input).value = "4"
            await pilot.click("#ok")
            await pilot.pause()
            assert app.screen is dialog
            assert str(dialog.query_one("#error", Static).render())
            await close_filter(pilot, "#cancel")
            assert log.model.settings == settings
            assert len(data_rows(app)) == 11

            await open_filter(pilot)
            await close_filter(pilot, "#clear")
            assert len(log.model.rows) == everything

    run_app(make_app(listen=[UDP_LISTENER]), scenario)


# --- search ---


def test_search_moves_the_cursor_to_matches_wrapping_around() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        log = app.log_view
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        client.sendall(b"one needle\nhay\nNeedle two\nhay\nthird needle\n")
        await wait_log(pilot, "third needle")
        await focus(pilot, log)

        await pilot.press("slash")
        search = app.query_one("#search", Input)
        await wait_ui(pilot, lambda: search.display and search.has_focus, "the search bar")
        await pilot.press(*"needle", "enter")
        await wait_ui(pilot, lambda: log.cursor is not None, "the cursor on a match")
        assert not search.display
        assert app.focused is log
        assert cursor_text(app).endswith("one needle\\n")
        assert "search: needle" in subtitle(app)

        expected = ["Needle two\\n", "third needle\\n", "one needle\\n"]  # then wraps around
        for key, ending in [("n", text) for text in expected] + [
            ("N", "third needle\\n"),  # wraps back
            ("N", "Needle two\\n"),
        ]:
            await pilot.press(key)
            assert cursor_text(app).endswith(ending), (key, ending, cursor_text(app))

        # A pattern that is nowhere: a notice, and the cursor stays.
        await pilot.press("slash")
        await wait_ui(pilot, lambda: search.has_focus, "the search bar again")
        assert search.value == "needle"
        search.value = "absent"
        await pilot.press("enter")
        await wait_notified(pilot, "not found: absent")
        assert cursor_text(app).endswith("Needle two\\n")
        client.close()

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


def test_an_empty_search_clears_the_highlight() -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        log = app.log_view
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        client.sendall(b"a needle\n")
        await wait_log(pilot, "a needle")
        await focus(pilot, log)
        search = app.query_one("#search", Input)
        await pilot.press("slash", *"needle", "enter")
        await wait_ui(pilot, lambda: log.search_pattern == "needle", "the search")
        await pilot.press("slash")
        await wait_ui(pilot, lambda: search.has_focus, "the search bar")
        search.value = ""
        await pilot.press("enter")
        await wait_ui(pilot, lambda: not search.display, "the search bar closed")
        assert log.search_pattern == ""
        assert "search:" not in subtitle(app)
        assert not notified(app, "not found")
        client.close()

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


# --- details ---


def test_enter_shows_the_details_of_the_cursor_row() -> None:
    payload = b"\x00\x01binary\xff data\r\n"

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        log = app.log_view
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        client.sendall(payload)
        await wait_log(pilot, "binary")
        await focus(pilot, log)

        # Rows: listening, accepted, the data.
        await pilot.press("home")
        assert log.cursor == 0
        await pilot.press("down", "down")
        assert cursor_text(app).endswith("C1    ← \\x00\\x01binary\\xff data\\r\\n")
        await pilot.press("enter")
        detail = await wait_screen(pilot, RecordDetail)
        assert isinstance(detail, RecordDetail)
        assert detail.record.data == payload
        header = str(detail.query(Static).first().render())
        assert "C1  received  at " in header
        assert f"{len(payload)} bytes  ·  shown as utf-8" in header
        assert f"remote {client.getsockname()[0]}:{client.getsockname()[1]}" in header
        dump = str(detail.query_one("#detail-hex", Static).render())
        assert dump == "\n".join(hexdump(payload))
        assert dump.startswith("00000000  00 01 62 69 6e 61 72 79  ff 20 64 61 74 61 0d 0a")
        text = str(detail.query_one("#detail-text", Static).render())
        assert text == "\\x00\\x01binary\\xff data\\r\\n"

        await pilot.press("c")
        assert app.clipboard == format_hex(payload)
        await pilot.press("t")
        assert app.clipboard == "\\x00\\x01binary\\xff data\\r\\n"
        # Raw: as the peer sent it, control bytes and all (an invalid byte as U+FFFD).
        await pilot.press("r")
        assert app.clipboard == "\x00\x01binary\ufffd data\r\n"
        footer_keys = {
            key for key, binding in detail.active_bindings.items() if binding.binding.show
        }
        assert {"r", "t", "c"} <= footer_keys

        await pilot.press("escape")
        await wait_ui(pilot, lambda: not isinstance(app.screen, RecordDetail), "details closed")
        assert app.focused is log

        # Found by search: a line the app sent.
        await type_line(pilot, "sent by me")
        await wait_log(pilot, "→ sent by me\\n")
        await focus(pilot, log)
        await pilot.press("slash", *"sent by", "enter")
        await wait_ui(pilot, lambda: log.cursor is not None, "the cursor on the match")
        await pilot.press("enter")
        detail = await wait_screen(pilot, RecordDetail)
        assert isinstance(detail, RecordDetail)
        header = str(detail.query(Static).first().render())
        assert "C1  sent  at " in header
        assert "11 bytes  ·  shown as utf-8" in header
        await pilot.press("escape")
        await wait_ui(pilot, lambda: not isinstance(app.screen, RecordDetail), "details closed")
        client.close()

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


# --- save and export ---


async def answer_path_dialog(pilot: Pilot[None], path: Path, default: str) -> None:
    dialog = await wait_screen(pilot, PathDialog)
    assert isinstance(dialog, PathDialog)
    field = dialog.query_one("#path", Input)
    assert field.value == default
    field.value = str(path)
    await pilot.press("enter")


def test_s_saves_the_rows_as_shown(tmp_path: Path) -> None:
    saved = tmp_path / "log.txt"

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        log = app.log_view
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        client.sendall(b"first line\nsecond\x00line\n")
        await wait_log(pilot, "second\\x00line")
        await type_line(pilot, "a reply")
        await wait_log(pilot, "→ a reply\\n")
        await focus(pilot, log)
        await pilot.press("m")  # hex: the file holds what the view shows

        await pilot.press("s")
        await answer_path_dialog(pilot, saved, "sockbench-log.txt")
        rows = log.row_texts()
        await wait_notified(pilot, f"saved {len(rows)} rows to {saved}")
        assert saved.read_text(encoding="utf-8").splitlines() == rows
        assert any(
            row.endswith("C1    ← 0000  66 69 72 73 74 20 6c 69 6e 65 0a 73 65 63 6f 6e")
            for row in rows
        )
        assert any(row.endswith("C1    → 0000  61 20 72 65 70 6c 79 0a") for row in rows)
        client.close()

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


async def export_target(pilot: Pilot[None], prefix: Path) -> None:
    app = the_app(pilot)
    await focus(pilot, app.log_view)
    await pilot.press("e")
    await answer_path_dialog(pilot, prefix, f"sockbench-{app.target}")
    await wait_notified(pilot, "wrote ")


def test_e_exports_the_bytes_the_target_received_and_sent(tmp_path: Path) -> None:
    received = [b"\x00\xffbinary\r\n", b"second read, no newline"]

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        first = connect_client(port)
        await wait_open_connection(pilot)
        second = connect_client(port)
        conn = await wait_open_connection(pilot, lambda c: c.cid == "C2")
        first.sendall(b"not from the target\n")
        total = 0
        for chunk in received:  # two reads, two records
            second.sendall(chunk)
            total += len(chunk)
            await wait_ui(pilot, lambda n=total: conn.bytes_in == n, f"{total} bytes in")
        app.main_screen.choose_target("C2")
        await type_line(pilot, r"answer\x00\x01")
        assert await blocking(recv_exactly, second, 9) == b"answer\x00\x01\n"
        await wait_ui(pilot, lambda: conn.bytes_out == 9, "9 bytes sent")

        await export_target(pilot, tmp_path / "c2")
        assert (tmp_path / "c2.in.bin").read_bytes() == b"".join(received)
        assert (tmp_path / "c2.out.bin").read_bytes() == b"answer\x00\x01\n"
        await wait_notified(pilot, "from the log")
        first.close()
        second.close()

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


def test_e_exports_the_connection_of_the_cursor_row_before_the_target(tmp_path: Path) -> None:
    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        log = app.log_view
        port = await wait_listener_port(pilot)
        first = connect_client(port)
        conn = await wait_open_connection(pilot)
        second = connect_client(port)
        await wait_open_connection(pilot, lambda c: c.cid == "C2")
        first.sendall(b"from C1\n")
        await wait_ui(pilot, lambda: conn.bytes_in == 8, "C1's line")
        app.main_screen.choose_target("C2")
        await focus(pilot, log)
        row = next(i for i, text in enumerate(log_text(app)) if "from C1" in text)
        log.move_cursor(row)
        await pilot.press("e")
        await answer_path_dialog(pilot, tmp_path / "c1", "sockbench-C1")
        await wait_notified(pilot, "wrote ")
        assert (tmp_path / "c1.in.bin").read_bytes() == b"from C1\n"
        first.close()
        second.close()

    run_app(make_app(listen=[TCP_LISTENER]), scenario)


def test_e_exports_from_the_transcript_when_there_is_one(tmp_path: Path) -> None:
    big = bytes(range(256)) * 1024  # 256 KiB in many reads: the transcript has every byte

    async def scenario(pilot: Pilot[None]) -> None:
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        conn = await wait_open_connection(pilot)
        await blocking(client.sendall, big)
        await wait_ui(pilot, lambda: conn.bytes_in == len(big), "all the bytes")
        await type_line(pilot, "got it")
        assert await blocking(recv_exactly, client, 7) == b"got it\n"

        await export_target(pilot, tmp_path / "c1")
        assert (tmp_path / "c1.in.bin").read_bytes() == big
        assert (tmp_path / "c1.out.bin").read_bytes() == b"got it\n"
        await wait_notified(pilot, f"({len(big):,} bytes)")
        await wait_notified(pilot, "from the transcript")
        client.close()

    app = make_app(listen=[TCP_LISTENER], transcript=str(tmp_path / "session.jsonl"))
    run_app(app, scenario)


def test_an_export_from_a_transcript_of_a_newer_sockbench_says_so_in_words(
    tmp_path: Path,
) -> None:
    transcript = tmp_path / "session.jsonl"

    async def scenario(pilot: Pilot[None]) -> None:
        app = the_app(pilot)
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        conn = await wait_open_connection(pilot)
        client.sendall(b"hello\n")
        await wait_ui(pilot, lambda: conn.bytes_in == 6, "6 bytes in")
        # A newer sockbench wrote over the file, in place: this run's session is gone.
        newer = reader_session(1, session_id="other", schema=SCHEMA_VERSION + 1, version="9.0")
        await wait_ui(pilot, lambda: transcript.stat().st_size > len(newer), "the transcript")
        with transcript.open("r+b") as file:
            file.write(newer)

        await focus(pilot, app.log_view)
        await pilot.press("e")
        await answer_path_dialog(pilot, tmp_path / "c1", "sockbench-C1")
        refused = (
            "cannot export C1: session 1 of this transcript was written by a newer sockbench "
            f"(version 9.0, transcript schema {SCHEMA_VERSION + 1}); this one reads schema "
            f"{SCHEMA_VERSION} and older: read it with a newer sockbench"
        )
        await wait_notified(pilot, refused, "error")
        assert not (tmp_path / "c1.in.bin").exists()
        client.close()

    run_app(make_app(listen=[TCP_LISTENER], transcript=str(transcript)), scenario)
