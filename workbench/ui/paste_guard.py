"""Keys never come out of a paste.

Textual's XTermParser (8.2) reads an ESC inside a bracketed paste as the start of a key
sequence: the characters after it (up to 32) are left out of the paste and reissued as key
presses, a CR among them as Enter. A paste holding an ESC (tmux's `paste-buffer -p`, terminals
that do not filter what is pasted, text copied from a hostile page) then typed into the
composer and sent it. Here an ESC inside a paste reaches the parser as a stand-in character
and comes back as ESC in the Paste event, so the whole paste is text, shown with visible
escapes by the composer (`workbench/ui/composer.py`).
"""

from __future__ import annotations

import os
import selectors
from codecs import getincrementaldecoder
from collections.abc import Iterable

from textual import events
from textual._loop import loop_last
from textual._parser import ParseError
from textual._xterm_parser import XTermParser
from textual.driver import Driver
from textual.drivers.linux_driver import LinuxDriver
from textual.message import Message

ESC = "\x1b"
PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"
# Stands for an ESC inside a paste on its way through the parser: a Unicode noncharacter,
# never part of text that is exchanged.
STAND_IN = "\ufdd0"


def _partial_suffix(text: str, marker: str) -> int:
    """The length of the longest end of `text` that begins `marker` (but is not all of it)."""
    for size in range(min(len(marker) - 1, len(text)), 0, -1):
        if marker.startswith(text[-size:]):
            return size
    return 0


class PasteGuard:
    """Rewrites terminal input so that no ESC inside a bracketed paste reaches the parser.

    Outside a paste input passes at once (a lone ESC is the Escape key: holding it back would
    delay the key); a paste's start marker cut between two reads is recognised from the
    part already passed on. Inside a paste an end marker cut between reads is held back
    until the next read completes it."""

    def __init__(self) -> None:
        self.in_paste = False
        self._start_seen = ""  # the beginning of a start marker at the end of the last read
        self._held = ""  # inside a paste: the beginning of an end marker, not passed on yet

    def filter(self, data: str) -> str:
        out: list[str] = []
        text = data
        if not self.in_paste and self._start_seen:
            rest = PASTE_START[len(self._start_seen) :]
            if text.startswith(rest):
                out.append(rest)
                text = text[len(rest) :]
                self.in_paste = True
            elif rest.startswith(text):
                self._start_seen += text
                return text
        self._start_seen = ""
        text = self._held + text
        self._held = ""
        while text:
            if not self.in_paste:
                start = text.find(PASTE_START)
                if start < 0:
                    self._start_seen = text[len(text) - _partial_suffix(text, PASTE_START) :]
                    out.append(text)
                    break
                start += len(PASTE_START)
                out.append(text[:start])
                text = text[start:]
                self.in_paste = True
            else:
                end = text.find(PASTE_END)
                if end < 0:
                    keep = _partial_suffix(text, PASTE_END)
                    self._held = text[len(text) - keep :]
                    out.append(text[: len(text) - keep].replace(ESC, STAND_IN))
                    break
                out.append(text[:end].replace(ESC, STAND_IN))
                out.append(PASTE_END)
                text = text[end + len(PASTE_END) :]
                self.in_paste = False
        return "".join(out)

    def flush(self) -> str:
        """What is held back, at the end of input."""
        held, self._held = self._held, ""
        return held.replace(ESC, STAND_IN)


def restored(token: Message) -> Message:
    """A Paste event with its ESCs back."""
    if isinstance(token, events.Paste) and STAND_IN in token.text:
        return events.Paste(token.text.replace(STAND_IN, ESC))
    return token


class PasteSafeParser(XTermParser):
    def __init__(self, debug: bool = False) -> None:
        super().__init__(debug)
        self.guard = PasteGuard()

    def feed(self, data: str) -> Iterable[Message]:
        if not data:
            held = self.guard.flush()
            if held:
                yield from map(restored, super().feed(held))
            yield from map(restored, super().feed(""))
            return
        filtered = self.guard.filter(data)
        if filtered:  # all of it may be held back; "" would tell the parser input ended
            yield from map(restored, super().feed(filtered))

    def tick(self) -> Iterable[Message]:
        yield from map(restored, super().tick())


class PasteSafeLinuxDriver(LinuxDriver):
    """Textual's LinuxDriver, reading input through PasteSafeParser. `run_input_thread` is
    Textual 8.2's with only the parser changed (pyproject pins textual <8.3)."""

    def run_input_thread(self) -> None:
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        fileno = self.fileno
        EVENT_READ = selectors.EVENT_READ
        parser = PasteSafeParser(self._debug)
        feed = parser.feed
        tick = parser.tick
        decode = getincrementaldecoder("utf-8")().decode
        read = os.read

        def process_selector_events(
            selector_events: list[tuple[selectors.SelectorKey, int]], final: bool = False
        ) -> None:
            for last, (_selector_key, mask) in loop_last(selector_events):
                if mask & EVENT_READ:
                    unicode_data = decode(read(fileno, 1024 * 4), final=final and last)
                    if not unicode_data:
                        break  # stdin is piped, say
                    for event in feed(unicode_data):
                        self.process_message(event)
            for event in tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                process_selector_events(selector.select(0.1))
            selector.unregister(self.fileno)
            process_selector_events(selector.select(0.1), final=True)
        finally:
            selector.close()
            try:
                for _event in feed(""):
                    pass
            except (EOFError, ParseError):
                pass


def paste_safe(driver_class: type[Driver]) -> type[Driver]:
    """The driver to use instead of `driver_class` (only Textual's own Linux driver has a
    paste-safe version)."""
    return PasteSafeLinuxDriver if driver_class is LinuxDriver else driver_class
