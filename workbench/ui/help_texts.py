"""The help screen's words for each pane: what its columns and marks mean, the composer's
escapes and modes. Built from the constants the panes draw with where there are some (the
Connections table's columns, the Log's symbols, the composer's escapes and cycles), so that a
change there shows here, or fails a test (tests/test_app_help.py)."""

from __future__ import annotations

from collections.abc import Iterator

from workbench.codec import parse_escapes
from workbench.log.plain_rows import CONTINUATION_MARK, KIND_SYMBOL, ORIGIN_SYMBOL
from workbench.payloads import (
    DEFAULT_LINE_ENDING,
    ENCODING_NAMES,
    LINE_ENDING_LABELS,
    LINE_ENDING_NAMES,
    MODES,
)
from workbench.ui.evidence_actions import EXPORT_CAPTURE, REPLAY_RECORDING
from workbench.ui.log_rows import CUT_MARK
from workbench.ui.main_screen import MODE_PLACEHOLDERS
from workbench.ui.panes import ConnectionsTable

Pair = tuple[str, str]  # (what is shown, what it means)

LISTENERS: list[Pair] = [
    ("L1 tcp 127.0.0.1:9000", "a listener: its id, transport and the addresses it is bound to"),
    ("(2 open)", "the open peers of a stream listener"),
    (
        "(3 peers, 12 forgotten)",
        "a datagram listener: its peers now, and those it forgot as its peer table was full",
    ),
    ("  C3 …", "a peer it accepted, nested under it: id, address, state or why it ended"),
    ("  5↓ 2↑ · 3s ago", "a datagram peer: datagrams received and sent, the last one's age"),
]

CONNECTION_COLUMNS: dict[str, str] = {
    "id": "C1, C2, …: ▶ marks the target (where typing goes), ● a marked connection "
    "(typing goes to every marked one)",
    "proto": "tcp, udp, unix, or udgm (Unix datagram)",
    "state": "connecting, open, peer sent EOF, you sent EOF, EOF both ways, closing (after the "
    "peer's EOF, or a behaviour hung up); 3.9M queued while "
    "the peer does not take what was sent; once ended, why (closed by peer, reset by peer, …)",
    "remote": "the peer's address",
    "in": "bytes received",
    "out": "bytes sent",
    "msgs": "received/sent: reads of a stream or datagrams in, sends out",
    "rate": "bytes a second both ways over the last whole second (- when nothing moved)",
    "age": "how long it has been open (or was, once ended)",
    "local": "the local address",
}

KIND_MEANINGS: dict[str, str] = {
    "in": "data received",
    "out": "data sent",
    "info": "information: listening, accepted, connected, EOF, closed (and why), a file sent",
    "error": "an error",
}

LOG_MARKS: list[Pair] = [
    ("15:04:05.123", "when it happened (r: relative to the first record, +12.345s)"),
    ("C1, L1", "the connection or listener, one colour per connection"),
    # As a row shows them: a bare ← would read as the key that scrolls left.
    *((f"C1 {KIND_SYMBOL[kind]}", meaning) for kind, meaning in KIND_MEANINGS.items()),
    (f"{ORIGIN_SYMBOL} echo", "sent by a behaviour (echo), not typed"),
    (f"C1 {CONTINUATION_MARK}", "the same record continued: a read over several rows"),
    (f"{CUT_MARK} (reversed)", "the row goes on past the edge: w wraps, ← → scroll sideways"),
    ("12 new rows ↓", "bottom border: rows that arrived below while you read (end follows)"),
    ("rows · view", "bottom border: the rows held, the view, filtered, the search"),
]

ESCAPES: list[Pair] = [
    (r"\r \n \t", "carriage return, line feed, tab"),
    (r"\0", "a zero byte (NUL)"),
    (r"\e", "ESC"),
    (r"\\", "one backslash"),
    (r"\xff", r"\xNN: one raw byte, whatever the encoding"),
    (r"\u{e9}", r"\u{H…}: a code point, 1 to 6 hex digits, in the connection's encoding"),
    (r"\u00e9 \U0001F600", "the same with exactly 4 or 8 hex digits"),
]


# The palette's commands for evidence (workbench/ui/evidence_actions.py): no key of theirs.
# In the composer's help (the one f1 opens first) and the Listeners' (a replay serves there).
EVIDENCE: list[Pair] = [
    (
        EXPORT_CAPTURE,
        "What a transcript recorded, as a pcapng capture Wireshark and tshark open: this "
        "app's (sockbench --transcript FILE; flushed first) or another, a session, some "
        "connections",
    ),
    (
        REPLAY_RECORDING,
        "A transcript's connections played back (FILE, FILE@2, FILE#C3): a listener serving "
        "the recorded server to each client (a mock), or connections playing the recorded "
        "client against a live server; what it sends is marked "
        f"{ORIGIN_SYMBOL} replay in the Log, which says where a peer's bytes differ",
    ),
]
EVIDENCE_HEADING = "Evidence, in the palette (ctrl+p)"


def escapes() -> Iterator[Pair]:
    """Each escape with what it means and the bytes it sends in UTF-8 (computed, not
    written: these are the bytes the composer sends)."""
    for shown, meaning in ESCAPES:
        sent = " ".join(parse_escapes(escape).hex(" ") for escape in shown.split())
        yield shown, f"{meaning} ({sent})"


def modes() -> Iterator[Pair]:
    """The composer's modes (ctrl+t cycles them), each with what its input line says."""
    for mode in MODES:
        yield mode, MODE_PLACEHOLDERS[mode]


def cycle_text(names: tuple[str, ...], first: str, labels: dict[str, str] | None = None) -> str:
    start = names.index(first)
    order = names[start:] + names[:start]
    return " → ".join((labels or {}).get(name, name) for name in order)


def send_settings() -> list[Pair]:
    return [
        ("line ending", cycle_text(LINE_ENDING_NAMES, DEFAULT_LINE_ENDING, LINE_ENDING_LABELS)),
        ("encoding", cycle_text(ENCODING_NAMES, ENCODING_NAMES[0])),
        ("for", "the marked connections, else the target, else those that open later"),
    ]


def connection_columns() -> list[Pair]:
    return [(label, CONNECTION_COLUMNS[key]) for label, key in ConnectionsTable.COLUMNS]


def sections(topic: str) -> list[tuple[str, list[Pair]]]:
    """The 'what you see' sections of a pane's help, by topic."""
    if topic == "listeners":
        return [("What the tree shows", LISTENERS), (EVIDENCE_HEADING, EVIDENCE)]
    if topic == "connections":
        return [("Columns", connection_columns())]
    if topic == "log":
        return [("What a row shows", LOG_MARKS)]
    if topic == "composer":
        return [
            ("Modes (ctrl+t)", list(modes())),
            ("Escapes in text mode", list(escapes())),
            ("Line ending (f7) and encoding (f8)", send_settings()),
            (EVIDENCE_HEADING, EVIDENCE),  # the help f1 opens first: the composer has the focus
        ]
    return []


MOVE = "Move the cursor"
# The keys' descriptions are the footer's labels, a word or two; here they say more. Keyed by
# action: a key bound to another action shows its own description instead.
ACTION_TEXTS: dict[str, str] = {
    "help": "This help, for the focused pane",
    "screen.listen": "Listen: open a TCP, UDP or Unix listener",
    "screen.connect": "Connect to a TCP, UDP or Unix address",
    "screen.close": "Close the selected listener or connection (else the target)",
    "screen.send_to": "Send to: send from a datagram listener to an address",
    "screen.behaviour": "Behaviour: what the listener does on its own (echo, rules, …)",
    "screen.half_close": "Send EOF (half-close) on the selected stream connection",
    "screen.reset": "Reset the selected stream connection (drops what is queued)",
    "screen.start_tls": "STARTTLS: upgrade the selected plain stream connection to TLS in place",
    "screen.cycle_mode": f"Composer mode: {cycle_text(MODES, MODES[0])}",
    "screen.cycle_line_ending": "Line ending: "
    + cycle_text(LINE_ENDING_NAMES, DEFAULT_LINE_ENDING, LINE_ENDING_LABELS),
    "screen.cycle_encoding": f"Encoding: {cycle_text(ENCODING_NAMES, ENCODING_NAMES[0])}",
    "screen.clean_up": "Clean up: close the ended connections, everything, clear the Log…",
    "screen.clear_log": "Clear the Log (the transcript keeps everything)",
    "screen.focus_composer": "Back to the composer; the Log follows new rows again",
    "toggle_mark": "Mark or unmark: typing goes to every marked connection",
    "history(-1)": "Earlier / later lines sent (a history of the last 500)",
    "history(1)": "Earlier / later lines sent (a history of the last 500)",
    "new_line": "A new line: the composer becomes a block editor",
    "display": "View: text → hex → hex dump",
    "framing": "Framing: raw reads → lines → messages of the connection's framing=",
    "time": "Time: absolute ↔ relative to the first record",
    "wrap": "Wrap long rows ↔ cut them at the edge (← → then scroll sideways)",
    "filter": "Filter: which records the Log shows",
    "open_search": "Search the Log",
    "search(False)": "Next match",
    "search(True)": "Previous match",
    "save": "Save the rows shown to a text file",
    "export": "Export a connection's bytes, received and sent, to two files",
    "details": "Details of the row under the cursor (else the last row)",
    "cursor(-1)": MOVE,
    "cursor(1)": MOVE,
    "cursor_page(-1)": MOVE,
    "cursor_page(1)": MOVE,
    "cursor_home": MOVE,
    "cursor_end": "The last row: follow new rows again",
    # The diff screen's (the palette's Diff two connections... and Diff two recordings...).
    "close_diff": "Close the diff",
    "save_diff": "Save the diff to a text file, every line whole, escapes as shown",
    "change(1)": "Next change: a hunk, or a direction that is identical",
    "change(-1)": "Previous change",
    "jump(0)": "The first line",
    "jump(-1)": "The last line",
    "page(-1)": "Scroll a page",
    "page(1)": "Scroll a page",
}
