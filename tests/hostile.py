"""What a hostile peer sends to reach the user's terminal, how sockbench must show it, and a
check that a piece of rendered text holds nothing a terminal could act on."""

from __future__ import annotations

import unicodedata

# (what a peer sends, how the Log must show it). One line each, so each is one Log row; the
# first word labels the row.
HOSTILE_LINES: list[tuple[bytes, str]] = [
    (b"osc0 \x1b]0;pwned-osc0\x07", r"osc0 \x1b]0;pwned-osc0\x07"),
    (b"osc2 \x1b]2;pwned-osc2\x1b\\", r"osc2 \x1b]2;pwned-osc2\x1b\\"),
    (b"name \x1bkpwned-name\x1b\\", r"name \x1bkpwned-name\x1b\\"),
    (b"clear \x1b[2J\x1b[H", r"clear \x1b[2J\x1b[H"),
    (b"ris \x1bc", r"ris \x1bc"),
    (b"moves \x1b[10;10H\x1b[5A\x1b[2K\x1b7\x1b8", r"moves \x1b[10;10H\x1b[5A\x1b[2K\x1b7\x1b8"),
    (b"clip \x1b]52;c;cHduZWQ=\x07", r"clip \x1b]52;c;cHduZWQ=\x07"),
    (
        b"link \x1b]8;;https://example.com\x07x\x1b]8;;\x07",
        r"link \x1b]8;;https://example.com\x07x\x1b]8;;\x07",
    ),
    ("csi8 \u009b2J".encode(), r"csi8 \u009b2J"),
    (b"csi8raw \x9b2J", r"csi8raw \x9b2J"),
    (b"cr good\rEVIL", r"cr good\rEVIL"),
    (
        "bidi \u202eabc \u2066d\u2067e\u2068f\u2069".encode(),
        r"bidi \u202eabc \u2066d\u2067e\u2068f\u2069",
    ),
    ("zw a\u200bb\u200dc\ufeffd".encode(), r"zw a\u200bb\u200dc\ufeffd"),
    (b"markup1 [/]", "markup1 [/]"),
    (b"markup2 [@click=app.quit]x[/]", "markup2 [@click=app.quit]x[/]"),
    (b"markup3 [link=https://example.com]x[/link]", "markup3 [link=https://example.com]x[/link]"),
    (b"markup4 [bold red]boom", "markup4 [bold red]boom"),
]

# Markup that Textual would act on (a click action) or choke on (a stray closing tag), and
# escapes, in the names a peer gives its Unix socket.
HOSTILE_NAME = b"evil\x1b]2;pwned\x07[@click=app.quit]q[/]\xe2\x80\xae\x9b"
HOSTILE_NAME_SHOWN = r"evil\x1b]2;pwned\x07[@click=app.quit]q[/]\u202e"

# Unicode categories a terminal may act on or that hide or reorder text: controls (C0, DEL,
# C1), format characters (bidi, zero-width), line/paragraph separators, surrogates.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def unsafe_characters(text: str, allowed: str = "") -> list[str]:
    """The code points in `text` that must never reach a terminal, as U+XXXX."""
    found = {
        ch for ch in text if ch not in allowed and unicodedata.category(ch) in UNSAFE_CATEGORIES
    }
    return sorted(f"U+{ord(ch):04X}" for ch in found)
