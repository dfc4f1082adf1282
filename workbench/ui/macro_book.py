"""The macros the app holds: saved messages the user sends by name, by key or every N ms.

Textual-free: the Macros dialog, the keys and the session file's save work on this book.
A text macro is a template (the rules' `{fields}`: workbench/rules/template.py), rendered for
each send, so `{counter}` counts that macro's sends and `{conn}`/`{peer}` name the recipient.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from workbench.codec import HexError, escape_invisible, parse_hex, sanitize, sanitize_text
from workbench.protocol.enums import Origin, OriginName, origin_of
from workbench.protocol.sequences import SendPayload
from workbench.rules.template import Facts, TemplateError, parse_template
from workbench.session_file.macros import read_payload_file
from workbench.session_file.model import Macro

MACRO_NAME = re.compile(r"^[A-Za-z0-9._-]{1,40}$")
MODIFIERS = ("ctrl", "alt", "shift", "super", "meta")
# Keys a macro may not take: the app needs them everywhere (help, quit, the palette).
RESERVED_KEYS = {"f1": "Help", "ctrl+q": "Quit", "ctrl+p": "the palette", "escape": "Composer"}
# Keys a macro may take alone: the panes and the composer use the others (arrows, Enter,
# Home...). With a modifier, any of Textual's named keys; printable characters need ctrl or
# alt, as the composer types them otherwise.
LONE_KEYS = frozenset([f"f{n}" for n in range(1, 25)] + ["insert"])
NAMED_KEYS = (
    LONE_KEYS
    | frozenset(
        ("delete", "home", "end", "pageup", "pagedown", "up", "down", "left", "right", "tab")
    )
    | frozenset(("enter", "backspace", "space"))
)
PREVIEW_CHARS = 38
MAX_REPEAT_SENDS = 10_000_000


class MacroError(ValueError):
    """A macro that cannot be kept: what is wrong, in words, naming the field."""


def check_name(name: str) -> str:
    name = name.strip()
    if not MACRO_NAME.match(name):
        raise MacroError(
            "Name: letters, digits and . _ - only, 1 to 40 of them (it names the sends: macro NAME)"
        )
    return name


def check_key(key: str) -> str:
    """A Textual key name for a macro (`f9`, `ctrl+1`, `alt+x`), lower case; "" for none."""
    key = key.strip().lower().replace(" ", "")
    if not key:
        return ""
    if key in RESERVED_KEYS:
        raise MacroError(f"Key: {key} is {RESERVED_KEYS[key]} everywhere; choose another key")
    *modifiers, last = key.split("+")
    unknown = [m for m in modifiers if m not in MODIFIERS]
    if unknown or len(set(modifiers)) != len(modifiers):
        raise MacroError(
            f"Key: {key!r} is not a key name: modifiers are {', '.join(MODIFIERS)} "
            "(ctrl+1, alt+x, f9)"
        )
    if last in LONE_KEYS or (last in NAMED_KEYS and modifiers and modifiers != ["shift"]):
        return key
    if last in NAMED_KEYS:
        raise MacroError(
            f"Key: {key} moves or edits in the panes and the composer; take an f-key, or "
            "add ctrl+ or alt+"
        )
    if len(last) == 1 and last.isprintable():
        if not modifiers or modifiers == ["shift"]:
            raise MacroError(
                f"Key: {key} types a character into the composer; add ctrl+ or alt+, or "
                "take an f-key"
            )
        return key
    raise MacroError(f"Key: {key!r} is not a key name (f9, ctrl+1, alt+x, ctrl+f5)")


def payload_of(source: str, given: str, encoding: str) -> SendPayload:
    """A macro's payload from what the user typed: text (a template with the composer's
    escapes and `{fields}`), hex, or a file's bytes (read now, as a session file's are when
    it opens). Raises MacroError saying what is wrong, and where."""
    if source == "hex":
        try:
            data = parse_hex(given)
        except HexError as exc:
            raise MacroError(f"Hex: {exc}") from None
        if not data:
            raise MacroError("Hex: type the bytes to send (de ad be ef)")
        return SendPayload(data=data, encoding=encoding)
    if source == "file":
        path = os.path.expanduser(given.strip())
        if not path:
            raise MacroError("File: type the path of the file whose bytes it sends")
        try:
            return SendPayload(data=read_payload_file(path, ("macro",)), encoding=encoding)
        except ValueError as exc:
            raise MacroError(f"File: {exc}") from None
    if source != "text":
        raise MacroError(f"Payload: text, hex or file, not {source}")
    if not given:
        raise MacroError("Text: type the message to send (\\r\\n for a line ending)")
    try:
        parse_template(given, encoding)
    except (TemplateError, LookupError) as exc:
        # A macro has no match to quote: the rules' {0}, {1}.. and {data} send nothing here.
        said = str(exc).replace("{0}, {1}.., {data}, ", "")
        raise MacroError(f"Text: {said} (a literal brace is {{{{ or }}}})") from None
    return SendPayload(template=given, encoding=encoding)


def whole_number(label: str, text: str, most: int) -> int:
    text = text.strip().replace(",", "").replace("_", "")
    if not text:
        return 0
    if not text.isdigit() or int(text) > most:
        raise MacroError(f"{label}: a whole number from 0 to {most:,}, or blank")
    return int(text)


def make_macro(
    name: str,
    source: str,
    given: str,
    key: str = "",
    repeat_ms: str = "",
    count: str = "",
    encoding: str = "utf-8",
) -> Macro:
    """A checked Macro from the dialog's fields (text as typed); MacroError otherwise."""
    return Macro(
        name=check_name(name),
        payload=payload_of(source, given, encoding),
        source="hex" if source == "hex" else "file" if source == "file" else "text",
        given=given,
        key=check_key(key),
        repeat_ms=whole_number("Repeat every (ms)", repeat_ms, 3_600_000),
        count=whole_number("Count", count, MAX_REPEAT_SENDS),
    )


def origin_for(macro: Macro) -> OriginName:
    return origin_of(Origin.MACRO, macro.name)


def preview(macro: Macro) -> str:
    """What the macro sends, short and safe to show: text as typed (its escapes as they are,
    what a terminal must not get written as an escape), hex as given, a file by name."""
    if macro.payload.template:
        shown = escape_invisible(macro.given or macro.payload.template)
        shown = shown.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")
    elif macro.source == "file":
        name = os.path.basename(macro.given)
        shown = sanitize_text(f"file {name} ({len(macro.payload.data):,} bytes)")
    elif macro.source == "hex" and macro.given:
        shown = sanitize_text(macro.given.strip())
    else:
        shown = sanitize(macro.payload.data)
    return shown if len(shown) <= PREVIEW_CHARS else shown[: PREVIEW_CHARS - 1] + "…"


def repeat_text(macro: Macro) -> str:
    if not macro.repeat_ms:
        return ""
    times = f", {macro.count:,} times" if macro.count else " until stopped"
    return f"every {macro.repeat_ms:,} ms{times}"


def render(payload: SendPayload, cid: str, peer: str, counter: int) -> bytes:
    """The bytes of one send of `payload` to connection `cid` (whose peer is `peer`)."""
    if not payload.template:
        return payload.data
    template = parse_template(payload.template, payload.encoding)
    facts = Facts(b"", (), {}, b"", peer, cid, counter)
    return template.render(facts)


class MacroBook:
    """The macros by name, in the order they were added; each one's sends so far (its
    `{counter}` for sends one at a time)."""

    def __init__(self, macros: list[Macro] | tuple[Macro, ...] = ()) -> None:
        self._macros: dict[str, Macro] = {}
        self.sent: dict[str, int] = {}
        for macro in macros:
            self.put(macro)

    def __iter__(self) -> Iterator[Macro]:
        return iter(list(self._macros.values()))

    def __len__(self) -> int:
        return len(self._macros)

    def __contains__(self, name: object) -> bool:
        return name in self._macros

    def get(self, name: str) -> Macro | None:
        return self._macros.get(name)

    def put(self, macro: Macro, replacing: str | None = None) -> None:
        """Add `macro`, or replace the one named `replacing` (in its place). Raises
        MacroError when another macro has its name or key."""
        others = [m for m in self._macros.values() if replacing is None or m.name != replacing]
        if any(m.name == macro.name for m in others):
            raise MacroError(f"Name: there is a macro {macro.name} already")
        holder = next((m for m in others if macro.key and m.key == macro.key), None)
        if holder is not None:
            raise MacroError(f"Key: {macro.key} sends macro {holder.name} already")
        if replacing is not None and replacing in self._macros:
            items = [
                (macro.name, macro) if name == replacing else (name, old)
                for name, old in self._macros.items()
            ]
            self._macros = dict(items)
            if replacing != macro.name:
                self.sent.pop(replacing, None)
        else:
            self._macros[macro.name] = macro

    def delete(self, name: str) -> Macro | None:
        self.sent.pop(name, None)
        return self._macros.pop(name, None)

    def by_key(self, key: str) -> Macro | None:
        return next((m for m in self._macros.values() if m.key == key), None)

    def next_counter(self, name: str) -> int:
        """The `{counter}` of the macro's next send (from 1)."""
        self.sent[name] = self.sent.get(name, 0) + 1
        return self.sent[name]
