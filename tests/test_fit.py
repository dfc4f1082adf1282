"""Fitting labels into narrow cells: hosts and paths cut in the middle, never a number."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len

from workbench.codec import sanitize_text
from workbench.ui.fit import Piece, fit_address, fit_text, join

ESCAPE = re.compile(r"\\(?:x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}|.)", re.DOTALL)


def address(text: str, width: int) -> str:
    return join(text, fit_address(text, width))


def text(label: str, width: int) -> str:
    return join(label, fit_text(label, width))


def test_an_address_that_fits_is_left_alone() -> None:
    assert address("127.0.0.1:9100", 14) == "127.0.0.1:9100"
    assert text("L1 tcp 127.0.0.1:9100 (1 open)", 40) == "L1 tcp 127.0.0.1:9100 (1 open)"


def test_a_long_host_name_is_cut_in_its_middle_and_the_port_stays_whole() -> None:
    host = "very-long-host-name.example:9100"
    assert address(host, 20) == "very-lo…example:9100"
    assert address(host, 12) == "ver…ple:9100"
    assert address(host, 6) == "…:9100"
    assert address(host, 5) == "…"  # no room for the port: hidden, never cut
    assert address(host, 0) == ""


def test_an_ip_address_is_cut_between_its_numbers() -> None:
    assert address("127.0.0.1:9100", 13) == "127….0.1:9100"
    assert address("127.0.0.1:9100", 12) == "127…0.1:9100"
    assert address("127.0.0.1:9100", 9) == "…0.1:9100"


def test_ipv6_keeps_its_brackets_and_port() -> None:
    assert address("[::1]:9100", 10) == "[::1]:9100"
    assert address("[::1]:9100", 9) == "[…1]:9100"
    assert address("[2001:db8:85a3::8a2e:370:7334]:443", 20) == "[2001:…370:7334]:443"


def test_a_unix_path_is_cut_in_its_middle_and_its_escapes_stay_whole() -> None:
    path = sanitize_text("/tmp/peer\x1b]2;title\x07/sockbench.sock")
    assert path == "/tmp/peer\\x1b]2;title\\x07/sockbench.sock"
    assert address(path, 20) == "/tmp/peer…bench.sock"
    for width in range(1, len(path)):
        shown = address(path, width)
        assert cell_len(shown) <= width
        # Every escape shown is one the path holds, whole.
        assert all(escape in path for escape in ESCAPE.findall(shown))
    # A path holding ":N" is still a path: its end is not taken for a port.
    assert address("/run/app:8080/very/long/name.sock", 16) == "/run/ap…ame.sock"


def test_text_cuts_the_host_before_dropping_words() -> None:
    label = "L1 tcp 127.0.0.1:9100 (1 open, 2 refused)"
    assert text(label, 40) == "L1 tcp 127….0.1:9100 (1 open, 2 refused)"
    assert text(label, 25) == "L1 tcp 127.0.0.1:9100…"
    reason = "connection refused by very-long-host-name.example:9401 (nothing is listening)"
    assert text(reason, 40) == "connection refused by ver…ple:9401…"


def test_text_is_cut_before_a_whole_word_never_just_after_a_count() -> None:
    assert text("peer sent EOF", 12) == "peer sent…"
    assert text("(1 open, 2 refused at max 100)", 22) == "(1 open, 2 refused at…"
    assert text("(1 open, 2 refused at max 100)", 13) == "(1 open,…"  # not "…, 2…"
    assert text("1.5M queued", 6) == "1.5M…"
    assert text("unreachable", 6) == "unrea…"  # one long word: its start


def kept_ranges(pieces: list[Piece]) -> list[tuple[int, int]]:
    return [piece for piece in pieces if piece is not None]


def splits_no_number(label: str, pieces: list[Piece]) -> bool:
    escaped = {i for m in ESCAPE.finditer(label) for i in range(m.start(), m.end())}

    def inside_number(position: int) -> bool:
        before, after = position - 1, position
        return (
            0 < position < len(label)
            and label[before].isdigit()
            and label[after].isdigit()
            and before not in escaped  # "\x08" then "0": not one number
        )

    return not any(inside_number(a) or inside_number(b) for a, b in kept_ranges(pieces))


def splits_no_escape(label: str, pieces: list[Piece]) -> bool:
    inner = {i for m in ESCAPE.finditer(label) for i in range(m.start() + 1, m.end())}
    return not any(a in inner or b in inner for a, b in kept_ranges(pieces))


hosts = st.one_of(
    st.from_regex(r"[a-z][a-z0-9-]{0,40}(\.[a-z0-9]{1,12}){0,3}", fullmatch=True),
    st.from_regex(r"(25[0-5]|1?[0-9]{1,2})(\.(25[0-5]|1?[0-9]{1,2})){3}", fullmatch=True),
    st.from_regex(r"\[[0-9a-f:]{2,39}\]", fullmatch=True),
)
addresses = st.one_of(
    st.builds(lambda h, p: f"{h}:{p}", hosts, st.integers(0, 65535)),
    st.text(min_size=1, max_size=60).map(lambda s: sanitize_text("/" + s)),
)


@given(addresses, st.integers(0, 80))
def test_an_address_fits_and_splits_no_number_nor_escape(label: str, width: int) -> None:
    pieces = fit_address(label, width)
    assert cell_len(join(label, pieces)) <= width
    assert splits_no_number(label, pieces)
    assert splits_no_escape(label, pieces)
    port = re.fullmatch(r".*[^/:]*(:\d+)", label)
    if port and not label.startswith("/") and width >= len(port.group(1)) + 1:
        assert join(label, pieces).endswith(port.group(1))


words = st.one_of(
    addresses,
    st.integers(0, 10**6).map(str),
    st.sampled_from(["open", "refused", "(1", "open,", "at", "max", "peer", "sent", "EOF"]),
    st.text(min_size=1, max_size=12).map(sanitize_text),
)


@given(st.lists(words, min_size=1, max_size=8).map(" ".join), st.integers(0, 80))
def test_text_fits_and_splits_no_number_nor_escape(label: str, width: int) -> None:
    pieces = fit_text(label, width)
    assert cell_len(join(label, pieces)) <= width
    assert splits_no_number(label, pieces)
    assert splits_no_escape(label, pieces)
