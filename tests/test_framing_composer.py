"""The composer to a connection with a framing: each input one message of it (the line ending
not added), each line of a block one message, and an input the framing cannot encode said in
words. The peer is a plain socket server that records what arrives."""

from __future__ import annotations

from peers import RecordingServer
from test_app_blocks import composer_error, paste
from textual.pilot import Pilot
from ui_helpers import make_app, run_app, the_app, type_line, wait_ui

from workbench.ui.app import SockbenchApp


def connection_open(app: SockbenchApp) -> bool:
    conn = app.session.connections.get(app.target or "")
    return conn is not None and conn.is_open


def sent_over(
    framing: str, size: int, *inputs: str, block: str = ""
) -> tuple[bytes, list[str], list[str]]:
    """The `size` bytes a recording server received from a connection with `framing` after
    each input (and a pasted block), the composer's errors after each input, and its hint."""
    errors: list[str] = []
    hints: list[str] = []  # what the empty composer said once the connection was open
    with RecordingServer() as server:

        async def scenario(pilot: Pilot[None]) -> None:
            app = the_app(pilot)
            await wait_ui(pilot, lambda: connection_open(app), "the connection open")
            hints.append(app.composer.placeholder)
            for text in inputs:
                await type_line(pilot, text)
                await pilot.pause()
                errors.append(composer_error(app))
            if block:
                await paste(pilot, block)
                await pilot.press("enter")
            await pilot.pause()

        run_app(make_app(connect=[f"{server.url}?framing={framing}"]), scenario)
        got = server.wait_for_bytes(size)
    return got, errors, hints


def test_each_input_is_one_length_prefixed_message() -> None:
    expected = b"\x00\x05hello\x00\x02hi\x00\x03one\x00\x03two"
    got, errors, hints = sent_over("len:2:be", len(expected), "hello", "hi", block="one\ntwo")
    assert errors == ["", ""]
    assert got == expected
    assert hints == [
        r"type to the target · Enter sends it as one len:2:be message · \r \n \t \0 \e \\ \xNN"
    ]


def test_a_resp_command_is_an_array_of_bulk_strings() -> None:
    expected = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\na b\r\n"
    got, errors, _ = sent_over("resp", len(expected), 'SET k "a b"', 'GET "k')
    assert got == expected
    assert errors[0] == ""
    assert errors[1].startswith("not sent: C1 frames its messages as resp:")
