"""What the composer sends: a line in text mode (with escapes, an encoding and a line
ending), hex, or a file. Pure functions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.codec import ENCODINGS, encode_text, parse_hex

MODES = ("text", "hex", "file")
LINE_ENDINGS = {"none": b"", "lf": b"\n", "crlf": b"\r\n"}
LINE_ENDING_LABELS = {"none": "no EOL", "lf": "LF", "crlf": "CRLF"}
DEFAULT_LINE_ENDING = "lf"
DEFAULT_ENCODING = "utf-8"


@dataclass
class SendSettings:
    """Per connection: how typed text becomes bytes (and how received bytes are shown)."""

    line_ending: str = DEFAULT_LINE_ENDING
    encoding: str = DEFAULT_ENCODING

    def describe(self) -> str:
        return f"{LINE_ENDING_LABELS[self.line_ending]} · {self.encoding}"


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


def next_in(choices: tuple[str, ...] | list[str], current: str) -> str:
    """The choice after `current`, wrapping around: what a key that cycles settings does."""
    return choices[(choices.index(current) + 1) % len(choices)]


LINE_ENDING_NAMES = tuple(LINE_ENDINGS)
ENCODING_NAMES = ENCODINGS
