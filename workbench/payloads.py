"""What the composer sends: a line in text mode (with escapes, an encoding and a line
ending), hex, or a file. Pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workbench.codec import ENCODINGS, encode_text, parse_hex

MODES = ("text", "hex", "file")
LINE_ENDINGS = {"none": b"", "lf": b"\n", "crlf": b"\r\n"}
LINE_ENDING_LABELS = {"none": "no EOL", "lf": "LF", "crlf": "CRLF"}
DEFAULT_LINE_ENDING = "lf"
DEFAULT_ENCODING = "utf-8"


@dataclass
class SendSettings:
    """Per connection: how typed text becomes bytes (the Log's own `LogDisplay` says how
    received bytes are shown)."""

    line_ending: str = DEFAULT_LINE_ENDING
    encoding: str = DEFAULT_ENCODING

    def describe(self) -> str:
        return f"{LINE_ENDING_LABELS[self.line_ending]} · {self.encoding}"


def mode_line(mode: str, settings: SendSettings) -> str:
    """What the composer's mode label says: the mode, and for text how it becomes bytes."""
    return f"{mode} · {settings.describe()}" if mode == "text" else mode


@dataclass(frozen=True)
class FilePayload:
    path: str


def build_payload(mode: str, text: str, settings: SendSettings) -> bytes | FilePayload:
    """Raise EscapeError/HexError (ValueError) with a position for input that is not valid.

    Text mode appends the connection's line ending; hex and file send exactly their bytes."""
    if mode == "text":
        # The line ending is text too: in UTF-16 a LF is two bytes.
        ending = LINE_ENDINGS[settings.line_ending].decode("ascii")
        return encode_text(text, settings.encoding) + encode_text(
            ending.replace("\r", "\\r").replace("\n", "\\n"), settings.encoding
        )
    if mode == "hex":
        return parse_hex(text)
    if mode == "file":
        path = text.strip()
        if not path:
            raise ValueError("type the path of the file to send")
        return FilePayload(path)
    raise ValueError(f"unknown mode {mode}")


# A block (several lines sent as one) larger than this asks before it is sent.
BLOCK_CONFIRM_BYTES = 64 * 1024


class BlockError(ValueError):
    """A block that cannot be sent: `line` is 1-based (0: the block as a whole), `position`
    0-based in that line, as in EscapeError and HexError."""

    def __init__(self, message: str, line: int = 0, position: int = 0) -> None:
        super().__init__(message)
        self.line = line
        self.position = position


def build_block_payload(mode: str, lines: Sequence[str], settings: SendSettings) -> bytes:
    """Several lines as one payload. Text mode: each line as `build_payload` makes it (its
    escapes, the encoding, the line ending after it). Hex mode: the lines are one hex input
    (what separates them is ignored). File mode sends one path: a block is refused.

    Raise BlockError naming the line (and, from the line's own error, the column)."""
    if mode == "file":
        raise BlockError(
            f"not sent: file mode sends one file, and this block has {len(lines)} lines; "
            "drop it (ctrl+u) and give one path, or change the mode (ctrl+t)"
        )
    parts: list[bytes] = []
    for number, line in enumerate(lines, 1):
        try:
            payload = build_payload(mode, line, settings)
        except ValueError as exc:
            position = getattr(exc, "position", 0)
            raise BlockError(f"line {number}: {exc}", number, position) from exc
        assert isinstance(payload, bytes)
        parts.append(payload)
    return b"".join(parts)


def next_in(choices: tuple[str, ...] | list[str], current: str) -> str:
    """The choice after `current`, wrapping around: what a key that cycles settings does."""
    return choices[(choices.index(current) + 1) % len(choices)]


LINE_ENDING_NAMES = tuple(LINE_ENDINGS)
ENCODING_NAMES = ENCODINGS
