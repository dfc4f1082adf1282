"""A session file's `[[macro]]` tables, to and from the model's Macro:

[[macro]]
name = "ping"
text = "PING {counter}\\r\\n"   # or hex = "de ad", or file = "payload.bin" (beside the file)
encoding = "utf-8"             # of text: utf-8 (default), latin-1, ascii, utf-16le, utf-16be
key = "f9"                     # a key that sends it
repeat_ms = 1000               # send it every second...
count = 10                     # ...ten times (without count: until stopped)
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Mapping
from typing import Any

from workbench.codec import ENCODINGS, HexError, parse_hex
from workbench.files import open_to_send
from workbench.protocol.sequences import SendPayload
from workbench.rules.template import TemplateError, parse_template
from workbench.session_file.errors import Refused
from workbench.session_file.model import Macro, MacroSource
from workbench.session_file.positions import Path
from workbench.session_file.values import name, only_keys, text, whole

MACRO_KEYS = ("name", "text", "hex", "file", "encoding", "key", "repeat_ms", "count")
SOURCES: tuple[MacroSource, ...] = ("text", "hex", "file")
MAX_FILE_BYTES = 16 << 20
MAX_REPEAT_MS = 86_400_000  # a day
MAX_COUNT = 1_000_000_000

# Textual's key names (`f9`, `ctrl+1`, `ctrl+shift+x`), checked without importing Textual.
MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")
NAMED_KEYS = frozenset(
    [
        "up",
        "down",
        "left",
        "right",
        "home",
        "end",
        "pageup",
        "pagedown",
        "insert",
        "delete",
        "escape",
        "enter",
        "tab",
        "backspace",
        "space",
        "exclamation_mark",
        "quotation_mark",
        "number_sign",
        "dollar_sign",
        "percent_sign",
        "ampersand",
        "apostrophe",
        "left_parenthesis",
        "right_parenthesis",
        "asterisk",
        "plus",
        "comma",
        "minus",
        "full_stop",
        "slash",
        "colon",
        "semicolon",
        "less_than_sign",
        "equals_sign",
        "greater_than_sign",
        "question_mark",
        "at",
        "left_square_bracket",
        "backslash",
        "right_square_bracket",
        "circumflex_accent",
        "underscore",
        "grave_accent",
        "left_curly_bracket",
        "vertical_line",
        "right_curly_bracket",
        "tilde",
    ]
)
_FUNCTION_KEY = re.compile(r"^f([1-9]|1[0-9]|2[0-4])$")


def macro_of(
    table: Mapping[str, Any],
    where: Path,
    directory: str,
    names: dict[str, str],
    keys: dict[str, str],
) -> Macro:
    only_keys(table, where, MACRO_KEYS)
    macro_name = name(table, where, names, "macro")
    chosen = [source for source in SOURCES if source in table]
    if len(chosen) != 1:
        what = f"two payloads ({' and '.join(chosen)})" if chosen else "no payload"
        raise Refused(where + tuple(chosen[1:2]), f"{what}; give one of text, hex or file")
    source = chosen[0]
    given = text(table, source, where)
    if "encoding" in table and source != "text":
        raise Refused((*where, "encoding"), f"an encoding goes with text, not {source}")
    at = (*where, source)
    if not given:
        raise Refused(at, "empty: nothing to send")
    if source == "text":
        payload = _template(given, text(table, "encoding", where, "utf-8"), where)
    elif source == "hex":
        try:
            payload = SendPayload(data=parse_hex(given))
        except HexError as exc:
            raise Refused(at, str(exc)) from None
    else:
        payload = SendPayload(data=read_payload_file(os.path.join(directory, given), at))
    key = _key(table, where, keys, macro_name)
    repeat_ms = whole(table, "repeat_ms", where, 1, MAX_REPEAT_MS) if "repeat_ms" in table else 0
    if "count" in table and not repeat_ms:
        raise Refused((*where, "count"), "a count goes with repeat_ms (how often to send)")
    count = whole(table, "count", where, 1, MAX_COUNT) if "count" in table else 0
    return Macro(macro_name, payload, source, given, key, repeat_ms, count)


def _template(given: str, encoding: str, where: Path) -> SendPayload:
    if encoding not in ENCODINGS:
        raise Refused((*where, "encoding"), f"'{encoding}' is not one of {', '.join(ENCODINGS)}")
    try:
        parse_template(given, encoding)
    except TemplateError as exc:
        raise Refused((*where, "text"), str(exc)) from None
    return SendPayload(template=given, encoding=encoding)


def read_payload_file(path: str, where: Path) -> bytes:
    """A macro's file, read when the session opens: a regular file (a FIFO would block),
    at most MAX_FILE_BYTES; links owned by another user are not followed."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise OSError(errno.EINVAL, "it is not a regular file", path)
        with open_to_send(path) as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise OSError(errno.EINVAL, "it is not a regular file", path)
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise Refused(where, f"{path} cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise Refused(where, f"{path} is over {MAX_FILE_BYTES >> 20} MiB, the most a macro sends")
    return data


def _key(table: Mapping[str, Any], where: Path, keys: dict[str, str], macro_name: str) -> str:
    if "key" not in table:
        return ""
    key = text(table, "key", where)
    problem = key_problem(key)
    if problem:
        raise Refused((*where, "key"), problem)
    if key in keys:
        raise Refused((*where, "key"), f"{key} already sends macro {keys[key]}")
    keys[key] = macro_name
    return key


def key_problem(key: str) -> str:
    """What is wrong with `key` as a Textual key name ("" : nothing)."""
    *modifiers, last = key.split("+")
    for modifier in modifiers:
        if modifier not in MODIFIERS:
            return f"'{modifier}' in '{key}' is not a modifier: {', '.join(MODIFIERS)}"
    if len(set(modifiers)) != len(modifiers):
        return f"'{key}' gives a modifier twice"
    single = len(last) == 1 and last.isascii() and last.isalnum()
    if single or _FUNCTION_KEY.match(last) or last in NAMED_KEYS:
        return ""
    return (
        f"'{key}' is not a key name: a letter or digit, f1-f24, or a name such as escape, "
        "enter, space, pageup, with modifiers before it (ctrl+shift+x)"
    )


def macro_table(macro: Macro) -> dict[str, Any]:
    """A macro as the file writes it: its payload as given."""
    table: dict[str, Any] = {"name": macro.name}
    if macro.source == "text":
        table["text"] = macro.given or macro.payload.template
        if macro.payload.encoding != "utf-8":
            table["encoding"] = macro.payload.encoding
    elif macro.source == "hex":
        table["hex"] = macro.given or macro.payload.data.hex(" ")
    else:
        table["file"] = macro.given
    if macro.key:
        table["key"] = macro.key
    if macro.repeat_ms:
        table["repeat_ms"] = macro.repeat_ms
        if macro.count:
            table["count"] = macro.count
    return table
