"""The nc forms of the command line (`sockbench -l 9000`, `sockbench HOST PORT`, -u, -U, -6,
-k): what each opens, the one-line error for what is ambiguous or wrong, and the real command
listening and connecting in a real terminal."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from peers import recv_exactly
from test_cli import free_port, run_cli
from tmux_helpers import SCREEN_TIMEOUT, Tmux

from workbench.cli import parse_command_line, startup_endpoints

LOCALHOST = "127.0.0.1"


def opened(*argv: str) -> tuple[list[str], list[str]]:
    """The URLs of the listeners and connections `argv` opens at start-up."""
    listen, connect = startup_endpoints(parse_command_line(argv))
    return [e.url for e in listen], [e.url for e in connect]


@pytest.mark.parametrize(
    ("argv", "listen", "connect"),
    [
        (["-l", "9000"], ["tcp://127.0.0.1:9000"], []),
        (["-l", "0"], ["tcp://127.0.0.1:0"], []),
        (["-l", "0.0.0.0", "9000"], ["tcp://0.0.0.0:9000"], []),
        (["-l", "localhost", "9000"], ["tcp://localhost:9000"], []),
        (["127.0.0.1", "9000"], [], ["tcp://127.0.0.1:9000"]),
        (["example.com", "80"], [], ["tcp://example.com:80"]),
        (["-lu", "5000"], ["udp://127.0.0.1:5000"], []),
        (["-u", "127.0.0.1", "5000"], [], ["udp://127.0.0.1:5000"]),
        (["-lU", "/tmp/app.sock"], ["unix:///tmp/app.sock"], []),
        (["-U", "@app"], [], ["unix://@app"]),
        (["-lUu", "/tmp/app.sock"], ["unix-dgram:///tmp/app.sock"], []),
        (["-U", "-u", "run/app.sock"], [], ["unix-dgram://run/app.sock"]),
        (["-l6", "9000"], ["tcp://[::1]:9000"], []),
        (["-6", "-l", "::", "9000"], ["tcp://[::]:9000"], []),
        (["-6", "[::1]", "9000"], [], ["tcp://[::1]:9000"]),
        (["-6", "fe80::1%lo", "9000"], [], ["tcp://[fe80::1%lo]:9000"]),
        (["-lu6", "5000"], ["udp://[::1]:5000"], []),
        (["-lk", "9000"], ["tcp://127.0.0.1:9000"], []),
        (["-k", "-l", "9000"], ["tcp://127.0.0.1:9000"], []),
        # The single-word forms the dialogs take, and whole URLs.
        (["-l", ":9000"], ["tcp://127.0.0.1:9000"], []),
        (["-l", "[::1]:9000"], ["tcp://[::1]:9000"], []),
        (["localhost:9000"], [], ["tcp://localhost:9000"]),
        (["-l", "tcp://127.0.0.1:9000?max=5"], ["tcp://127.0.0.1:9000?max=5"], []),
        (["udp://127.0.0.1:5000"], [], ["udp://127.0.0.1:5000"]),
        # nc's words mixed with sockbench's options, in any order.
        (["127.0.0.1", "--line-ending", "crlf", "9000"], [], ["tcp://127.0.0.1:9000"]),
    ],
)
def test_each_nc_form_opens_what_nc_would(
    argv: list[str], listen: list[str], connect: list[str]
) -> None:
    assert opened(*argv) == (listen, connect)


def test_the_nc_forms_take_the_option_flags_and_come_first() -> None:
    assert opened("-l", "9000", "--echo", "--half-open") == (
        ["tcp://127.0.0.1:9000?halfopen=1&echo=1"],
        [],
    )
    assert opened("--idle", "5", "127.0.0.1", "9000") == ([], ["tcp://127.0.0.1:9000?idle=5"])
    (unix,), _ = startup_endpoints(parse_command_line(["-lU", "@x", "--max-conns", "3"]))
    assert (unix.url, unix.options.max_connections) == ("unix://@x", 3)
    listen, connect = opened(
        "--listen", "udp://127.0.0.1:0", "-l", "9000", "--connect", "tcp://127.0.0.1:1"
    )
    assert listen == ["tcp://127.0.0.1:9000", "udp://127.0.0.1:0"]
    assert connect == ["tcp://127.0.0.1:1"]


def test_k_alone_is_harmless_and_opens_nothing() -> None:
    assert opened("-k") == ([], [])


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (
            ["9000"],
            "'9000' alone: to listen say -l 9000 (tcp://127.0.0.1:9000); to connect say HOST 9000",
        ),
        (
            ["-u", "5000"],
            "'-u 5000' alone: to listen say -lu 5000 (udp://127.0.0.1:5000); "
            "to connect say HOST 5000",
        ),
        (
            ["-6", ":9000"],
            "'-6 :9000' alone: to listen say -l6 9000 (tcp://[::1]:9000); to connect say HOST 9000",
        ),
        (
            ["-l", "9000", "9001"],
            "'-l 9000 9001': two ports; to listen on one say -l 9000 (tcp://127.0.0.1:9000)",
        ),
        (["9000", "9001"], "'9000 9001': two ports; to listen on one say -l 9000"),
        (["localhost"], "'localhost' has no port: say localhost PORT"),
        (["-l", "localhost"], "'-l localhost' has no port: say -l localhost PORT"),
        (["-l", "70000"], "'-l 70000': port 70000 is out of range (0-65535)"),
        (["127.0.0.1", "65536"], "'127.0.0.1 65536': port 65536 is out of range (0-65535)"),
        (["127.0.0.1", "0"], "port 0 can only be used to listen"),
        (["-l", "::1"], "'-l ::1': put an IPv6 address in brackets, like [::1]:9000"),
        (["-l", "127.0.0.1:"], "'-l 127.0.0.1:' has no port"),
        (["a", "b", "c"], "'a b c': too many words; expected PORT or HOST PORT or a URL"),
        (["host", "http"], "'host http': port 'http' is not a number"),
        (["-l"], "-l needs an address: -l PORT, -l HOST PORT or HOST PORT"),
        (["-u"], "-u needs an address"),
        (["-U"], "-U needs a PATH"),
        (["-lU", "/a", "/b"], "'-l -U /a /b': too many words; expected PATH or a URL"),
        (["-U", "-6", "/tmp/x"], "'-U -6 /tmp/x': -6 is for IP; a Unix socket has a path"),
        (
            ["-6", "127.0.0.1", "9000"],
            "'-6 127.0.0.1 9000': '127.0.0.1' is not an IPv6 address "
            "(without -6: tcp://127.0.0.1:9000)",
        ),
        (["-6", "localhost", "9000"], "'localhost' is not an IPv6 address"),
        (
            ["-u", "-l", "tcp://127.0.0.1:9000"],
            "'-l -u tcp://127.0.0.1:9000': a URL says its own transport; drop -u, -U and -6",
        ),
        (["-l", "sctp://x:1"], "unknown transport 'sctp://'"),
        (["bad host!", "80"], "'bad host!' is not a host name or IP address"),
    ],
)
def test_an_ambiguous_or_wrong_nc_form_is_one_line_and_status_2(
    argv: list[str], error: str
) -> None:
    result = run_cli(*argv)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sockbench: error: ")
    assert error in lines[0]


def test_help_shows_the_nc_forms_first() -> None:
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("usage: sockbench -l [-u] [-6] [-k] [HOST] PORT")
    quick = text.index("Quick forms")
    assert quick < text.index("--listen URL  ") < text.index("URL forms")
    for form in ("sockbench -l 9000 ", "sockbench 127.0.0.1 9000 ", "sockbench -lu 5000 "):
        assert form in text[quick:]
    for flag in ("-l ", "-u ", "-U ", "-6 ", "-k "):
        assert f"\n  {flag}" in text, flag


# --- the real command in a real terminal (tmux) ---


def test_l_port_really_listens_and_a_peer_is_heard(tmux: Tmux, tmp_path: Path) -> None:
    port = free_port()
    tmux.start_sockbench(tmp_path, "-l", str(port))
    tmux.wait_screen(f"listening on tcp {LOCALHOST}:{port}", "the listener on the screen")
    with socket.create_connection((LOCALHOST, port), timeout=SCREEN_TIMEOUT) as peer:
        peer.sendall(b"hello from a plain socket\n")
        tmux.wait_screen("hello from a plain socket", "the peer's line in the Log")
        tmux.keys("hi back", literal=True)
        tmux.keys("Enter")
        assert recv_exactly(peer, 8, timeout=SCREEN_TIMEOUT) == b"hi back\n"
        tmux.quit_sockbench()


def test_host_port_really_connects(tmux: Tmux, tmp_path: Path) -> None:
    with socket.create_server((LOCALHOST, 0)) as server:
        server.settimeout(SCREEN_TIMEOUT)
        port = server.getsockname()[1]
        tmux.start_sockbench(tmp_path, LOCALHOST, str(port))
        peer, _ = server.accept()
    with peer:
        tmux.wait_screen(f"to C1 {LOCALHOST}:{port}", "the connection as the target")
        tmux.keys("typed", literal=True)
        tmux.keys("Enter")
        assert recv_exactly(peer, 6, timeout=SCREEN_TIMEOUT) == b"typed\n"
        tmux.quit_sockbench()


def test_lu_port_really_takes_datagrams(tmux: Tmux, tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((LOCALHOST, 0))
        port = probe.getsockname()[1]
    tmux.start_sockbench(tmp_path, "-lu", str(port))
    tmux.wait_screen(f"listening on udp {LOCALHOST}:{port}", "the UDP listener")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
        peer.sendto(b"one datagram", (LOCALHOST, port))
        tmux.wait_screen("one datagram", "the datagram in the Log")
    tmux.quit_sockbench()
