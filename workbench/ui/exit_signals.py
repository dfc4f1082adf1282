"""SIGHUP, SIGTERM and SIGINT end sockbench the way ctrl+q does.

Left to their defaults, closing the terminal (SIGHUP), `kill` (SIGTERM) and `kill -INT`
(SIGINT) end the process where it stands: the transcript loses what it had not flushed and
every `close` record, Unix listeners leave their socket files, and the terminal stays in the
alternate screen with mouse reporting on. Here they quit the app through Textual's normal
exit path (the app's unmount stops the engine: every socket closed with its record, the
transcript flushed and closed, our socket files removed; Textual restores the terminal), and
the exit status is 128 + the signal, as a shell reports it. ctrl+q still exits 0.

- While the app's loop runs, the loop takes the signals (`loop.add_signal_handler`, once the
  app starts its engine), so the quit runs between the app's tasks, never inside one.
- Before that, and after the loop ended (asyncio puts the default handlers back when its loop
  closes), a signal is only noted: the app quits as soon as its loop takes over, without
  starting the engine, and the engine is stopped in any case once the app ended.
- The first signal decides the exit status; more of them while quitting change nothing.
- A watchdog: if the process is still running EXIT_DEADLINE_SECONDS after the first signal
  (with the terminal gone, Textual's writes fail or block), it stops the engine itself, puts
  the terminal back as well as it can and exits with the same status. The signal wakes it
  even when the app's loop is stuck: the plain signal handler (which runs in the main thread
  whatever it waits on) writes to the watchdog's pipe; the loop's handler is told through
  the wakeup fd as usual.
- Losing the terminal counts as SIGHUP even when no SIGHUP comes (it is ignored, as under
  `nohup` or `trap '' HUP`, or it goes to a shell that ignores it): Textual's input thread
  then reads end-of-file forever and nothing would end the app. A thread of ours asks the
  terminal for its settings every TERMINAL_POLL_SECONDS; a terminal that hung up answers
  EIO, and the app quits as on SIGHUP (exit status 129).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import sys
import termios
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.ui.app import SockbenchApp

SIGNALS = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)
EXIT_DEADLINE_SECONDS = 3.0
TERMINAL_POLL_SECONDS = 0.5  # how often the terminal is checked for being gone
RESTORE_SECONDS = 0.5  # the watchdog's wait for the terminal to take its last bytes
# What Textual sets up, undone: keyboard protocol, bracketed paste, focus events, mouse
# reporting, line wrap, the alternate screen, the hidden cursor.
RESTORE_TERMINAL = (
    b"\x1b[<u\x1b[?2004l\x1b[?1004l\x1b[?1000l\x1b[?1003l\x1b[?1015l\x1b[?1006l"
    b"\x1b[?7h\x1b[?1049l\x1b[?25h"
)

_current: ExitSignals | None = None


class ExitSignals:
    """The signals for one run of `app` (see `run`)."""

    def __init__(self, app: SockbenchApp, deadline: float = EXIT_DEADLINE_SECONDS) -> None:
        global _current
        self.app = app
        self.deadline = deadline
        self.received: int | None = None  # the first signal
        self._finished = False
        # Wakes the watchdog: on a signal, and when the run is over. A pipe, not an Event:
        # a signal handler may run while the main thread holds any lock.
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_write, False)
        self._quitting = False
        self._quit_task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the app's, once it takes over
        self._run_over = threading.Event()  # stops the terminal watch
        self._previous = {number: signal.getsignal(number) for number in SIGNALS}
        self._terminal = terminal_attributes()
        _current = self

    def run(self, **options: Any) -> int:
        """Run the app (`options` go to `App.run`) and then stop its engine, with the signals
        handled throughout; the exit status."""
        global _current
        watchdog = threading.Thread(target=self._watch, name="sockbench-exit", daemon=True)
        watchdog.start()
        terminal_watch = threading.Thread(
            target=self._watch_terminal, name="sockbench-tty-watch", daemon=True
        )
        if self._terminal is not None:
            terminal_watch.start()
        self.hold()
        try:
            try:
                self.app.run(**options)
            finally:
                self.hold()  # the app's loop has closed and put the default handlers back
                self.app.engine.stop()
        finally:
            for number, handler in self._previous.items():
                signal.signal(number, handler)
            self._finished = True
            self._wake()
            self._run_over.set()
            watchdog.join()
            if terminal_watch.is_alive():
                terminal_watch.join()
            os.close(self._wake_read)
            os.close(self._wake_write)
            if _current is self:
                _current = None
        return self.exit_status(self.app.return_code)

    def exit_status(self, return_code: int | None) -> int:
        return 128 + self.received if self.received is not None else return_code or 0

    def hold(self) -> None:
        """Note the signals that come while the app's loop does not take them."""
        for number in SIGNALS:
            signal.signal(number, self._noted)

    def take(self) -> bool:
        """Hand the signals to the running loop (the app's); True when one came already and
        the app is quitting."""
        loop = self._loop = asyncio.get_running_loop()
        for number in SIGNALS:
            loop.add_signal_handler(number, self._handle, number)
            # The loop learns of the signal through its wakeup fd whatever the Python-level
            # handler is; this one (instead of asyncio's no-op) also wakes the watchdog when
            # the loop is stuck.
            signal.signal(number, self._noted)
        if self.received is None:
            return False
        self._quit()
        return True

    def _noted(self, number: int, _frame: object) -> None:
        # A plain signal handler runs between any two bytecodes of the main thread: it notes
        # the signal and wakes the watchdog (started beforehand), nothing else.
        self._first(number)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # full: it is awake already
            os.write(self._wake_write, b"!")

    def _handle(self, number: int) -> None:
        self._first(number)
        self._quit()

    def _first(self, number: int) -> None:
        if self.received is None:
            self.received = number
            self._wake()

    def _quit(self) -> None:
        """What ctrl+q does (the app's quit action), once."""
        if not self._quitting:
            self._quitting = True
            self._quit_task = asyncio.get_running_loop().create_task(self.app.action_quit())

    def _watch_terminal(self) -> None:
        """Until the run is over: a terminal gone (hung up) quits the app as SIGHUP does."""
        while not self._run_over.wait(TERMINAL_POLL_SECONDS):
            if terminal_attributes() is None:
                self.terminal_lost()
                return

    def terminal_lost(self) -> None:
        """The terminal is gone: quit as on SIGHUP, whether or not one came (any thread)."""
        self._first(signal.SIGHUP)  # a signal that came first keeps its exit status
        loop = self._loop  # read after noting it: `take` looks at `received` after setting it
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the app's loop has closed: it is over
                loop.call_soon_threadsafe(self._quit)

    def _watch(self) -> None:
        self._wait(None)  # a signal, or the end of the run
        deadline = time.monotonic() + self.deadline
        while not self._finished and (left := deadline - time.monotonic()) > 0:
            self._wait(left)
        if self._finished:
            return
        # Still running: the app is stuck (most likely writing to a terminal that is gone).
        with contextlib.suppress(Exception):
            self.app.engine.stop()
        restorer = threading.Thread(
            target=restore_terminal, args=(self._terminal,), name="sockbench-tty", daemon=True
        )
        restorer.start()
        restorer.join(RESTORE_SECONDS)  # a terminal that blocks is left behind
        os._exit(self.exit_status(None))

    def _wait(self, timeout: float | None) -> None:
        readable, _, _ = select.select([self._wake_read], [], [], timeout)
        if readable:
            os.read(self._wake_read, 64)


def install(app: SockbenchApp) -> bool:
    """Called by the app when it starts its engine: from now on its loop takes the signals
    (when it runs through `ExitSignals.run`). True when a signal came already and the app is
    quitting: the engine is not to be started."""
    current = _current
    return current is not None and current.app is app and current.take()


def terminal_attributes() -> list[Any] | None:
    """The terminal's settings before Textual changes them (None: no terminal)."""
    try:
        return termios.tcgetattr(sys.__stdin__.fileno())  # type: ignore[union-attr]
    except (termios.error, AttributeError, ValueError, OSError):
        return None


def restore_terminal(attributes: list[Any] | None) -> None:
    """Best effort, for the watchdog: the terminal may be gone (EIO) or not reading."""
    with contextlib.suppress(termios.error, AttributeError, ValueError, OSError):
        if attributes is not None:
            termios.tcsetattr(sys.__stdin__.fileno(), termios.TCSANOW, attributes)  # type: ignore[union-attr]
    with contextlib.suppress(AttributeError, ValueError, OSError):
        fd = sys.__stderr__.fileno()  # type: ignore[union-attr]
        if os.isatty(fd):
            os.write(fd, RESTORE_TERMINAL)
