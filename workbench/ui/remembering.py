"""The app's memory across launches (workbench/memory.py), wired in: the composer's history
per target, the theme the user chooses, the Listen and Connect dialogs' last values.

Nothing is written on a key press or a send: a timer saves every few seconds when something
changed, the file written in a thread (a slow disk never holds the screen), and once more,
in full, when the app quits."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Collection
from typing import TYPE_CHECKING

from textual.theme import Theme

from workbench.codec import parse_hex
from workbench.memory import Loaded, Memory, save_memory, worth_keeping

if TYPE_CHECKING:
    from workbench.ui.app import SockbenchApp

SAVE_SECONDS = 3.0


def start_theme(configured: str | None, remembered: str | None, known: Collection[str]) -> str:
    """The theme to start with: the config file's, else the one the user last chose (if it
    still exists), else Textual's default."""
    if configured is not None:
        return configured
    if remembered is not None and remembered in known:
        return remembered
    from workbench.config import DEFAULT_THEME

    return DEFAULT_THEME


class ComposerHistory:
    """The composer's history (workbench/ui/composer.py's keeper): what it recalls depends on
    the target, and what it is told is kept under the target too."""

    def __init__(self, app: SockbenchApp, memory: Memory) -> None:
        self.app = app
        self.memory = memory

    def target_key(self) -> str | None:
        """The target as the history knows it: the address a connection of the user's went
        to, or the local address of the listener that accepted it (the peer's own port
        changes every time, and is the peer's)."""
        session = self.app.core.session
        conn = session.connections.get(self.app.core.target or "")
        if conn is None:
            return None
        if conn.outgoing:
            return conn.remote
        listener = session.listeners.get(conn.listener or "")
        if listener is None:
            return None
        return f"listen {listener.local[0] if listener.local else listener.url}"

    def payload_size(self, line: str) -> int | None:
        """The size of the hex or file payload `line` stands for (None in text mode)."""
        mode = self.app.core.sending.mode
        try:
            if mode == "hex":
                return sum(len(parse_hex(part)) for part in line.split("\n"))
            if mode == "file":
                return os.stat(line).st_size
        except (ValueError, OSError):
            return None
        return None

    def add(self, line: str) -> None:
        keep = worth_keeping(line, self.payload_size(line))
        self.memory.history.add(line, self.target_key(), keep)

    def lines(self) -> list[str]:
        return self.memory.history.recall(self.target_key())


class Remembering:
    """Loads what was remembered into the app, and saves it again."""

    def __init__(self, app: SockbenchApp, loaded: Loaded) -> None:
        self.app = app
        self.memory = loaded.memory
        self.path = loaded.path
        self.notices = list(loaded.notices)
        self._lock = threading.Lock()  # one write at a time, the newest last
        self._saved = ""  # what the file holds (as far as this launch knows)
        self._written = 0  # the generation of what was last written
        self._generation = 0
        self._failed = False
        self.attached = False
        self._state: tuple[int, str | None] = (0, self.memory.theme)  # see changed

    def attach(self) -> None:
        """Once the main screen is up: its dialogs and composer take what was remembered."""
        app = self.app
        main = app.main_screen
        for name, values in self.memory.dialogs.items():
            main.dialog_memory.setdefault(name, dict(values))
        main.composer.keeper = ComposerHistory(app, self.memory)
        self.attached = True
        app.theme_changed_signal.subscribe(app, self.theme_changed)
        app.set_interval(SAVE_SECONDS, self.save_soon)
        if self.notices:
            text = "\n".join(self.notices)
            app.notify(text, title="memory", severity="warning", timeout=20, markup=False)

    def theme_changed(self, theme: Theme) -> None:
        self.memory.theme = theme.name

    def changed(self) -> bool:
        """Whether anything changed since the last snapshot (cheap: it runs on a timer)."""
        memory = self.memory
        state = (memory.history.changes, memory.theme)
        dialogs = memory.remember_dialogs(self.app.main_screen.dialog_memory)
        if state == self._state and not dialogs:
            return False
        self._state = state
        return True

    def snapshot(self) -> tuple[int, str]:
        self._generation += 1
        return self._generation, self.memory.to_json()

    def write(self, generation: int, text: str) -> None:
        """Write `text` unless something newer was written already. Raises OSError."""
        with self._lock:
            if generation <= self._written:
                return
            save_memory(text, self.path)
            self._written, self._saved = generation, text

    async def save_soon(self) -> None:
        """The timer's save: only when something changed, in a thread."""
        if self._failed or not self.changed():
            return
        generation, text = self.snapshot()
        if text == self._saved:
            return
        try:
            await asyncio.to_thread(self.write, generation, text)
        except OSError as exc:
            self._failed = True  # said once; the save at quit tries again
            self.app.notify(
                f"cannot save what sockbench remembers in {self.path}: {exc.strerror or exc}",
                title="memory",
                severity="warning",
                markup=False,
            )

    def save_now(self) -> None:
        """The save at quit (a write may fail; nobody is there to be told)."""
        if not self.attached:
            return  # quit before the main screen: nothing changed
        if not self.changed() and not self._failed:
            return  # the timer saved it all
        generation, text = self.snapshot()
        if text == self._saved:
            return
        with contextlib.suppress(OSError):
            self.write(generation, text)
