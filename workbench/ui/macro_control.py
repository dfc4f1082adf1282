"""Macros, repeats and saving the session, on the main screen: what the Macros dialog's
buttons, the macros' keys, the palette's commands and the stop key (ctrl+r) do.

The book (workbench/ui/macro_book.py) and the sends (workbench/ui/macro_sending.py) know no
Textual; this module binds them to the screen: keys added at run time to the main screen's
bindings (which come before the app's, so a macro's key is the macro's while it is bound),
the dialogs, the notices.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from textual.app import SystemCommand

from workbench.codec import sanitize_text
from workbench.protocol.enums import Origin
from workbench.protocol.sequences import SendPayload
from workbench.session.core import NotSendable
from workbench.session_file.model import Macro
from workbench.ui.macro_book import MacroBook, MacroError
from workbench.ui.macro_sending import MacroSender, composer_payload
from workbench.ui.running_line import STOP_KEY, RunningLine
from workbench.ui.safe_markup import literal_markup
from workbench.ui.session_save import DEFAULT_SESSION_FILE

if TYPE_CHECKING:
    from workbench.engine import Engine
    from workbench.ui.macro_sending import RepeatRequest
    from workbench.ui.main_screen import MainScreen

MACRO_ACTION = "app.send_macro"
MACROS_KEY = "f12"


class MacroControl:
    def __init__(
        self, main: MainScreen, get_engine: Callable[[], Engine], macros: Iterable[Macro] = ()
    ) -> None:
        self.main = main
        self.book = MacroBook(list(macros))
        self.sender = MacroSender(main.core, get_engine, self.book)
        self.macro_repeats: dict[str, str] = {}  # macro name -> its running repeat's id
        self._told: set[tuple[str, str]] = set()  # (key, macro) whose hidden keys were told
        self.last_repeat = ("1000", "")  # the Repeat dialog's last interval and count
        self.last_save = DEFAULT_SESSION_FILE

    # --- keys ---

    def bind_keys(self) -> None:
        """Bind each macro's key on the main screen (before the app's own keys), and say
        once what a key hid."""
        key_map = self.main._bindings.key_to_bindings  # Textual's own map of the screen
        for key in list(key_map):
            kept = [b for b in key_map[key] if not b.action.startswith(MACRO_ACTION)]
            if kept:
                key_map[key] = kept
            else:
                del key_map[key]
        for macro in self.book:
            if not macro.key:
                continue
            action = f"{MACRO_ACTION}({macro.name!r})"
            self.main._bindings.bind(macro.key, action, f"macro {macro.name}", show=False)
            self.tell_hidden(macro)
        self.main.refresh_bindings()

    def tell_hidden(self, macro: Macro) -> None:
        """Once per key and macro: the app's key it hides (which stays in the palette), or
        the composer's, which keeps it while the composer has the focus."""
        if (macro.key, macro.name) in self._told:
            return
        hidden = [
            binding.description or binding.action
            for binding in self.main.app._bindings.key_to_bindings.get(macro.key, [])
            if not binding.priority
        ]
        composers = [
            binding.description or binding.action
            for binding in self.main.composer._bindings.key_to_bindings.get(macro.key, [])
        ]
        if hidden:
            text = (
                f"{macro.key} now sends macro {macro.name}; {', '.join(hidden)} stays in the "
                "palette (ctrl+p)"
            )
        elif composers:
            text = (
                f"{macro.key} is the composer's ({', '.join(composers)}): macro {macro.name} "
                "takes it only while the composer does not have the focus"
            )
        else:
            return
        self._told.add((macro.key, macro.name))
        self.main.notify(text, title="macro key", markup=False)

    # --- what the dialog's buttons and the keys do ---

    def send_macro(self, name: str) -> str:
        macro = self.book.get(name)
        if macro is None:
            return f"no macro {name}"
        error = self.sender.send(macro)
        self.main.show_target()
        return error

    def send_by_key(self, name: str) -> None:
        error = self.send_macro(name)
        if error:
            self.main.notify(sanitize_text(error), severity="warning", markup=False)

    def running_repeat(self, name: str) -> str | None:
        rid = self.macro_repeats.get(name)
        return rid if rid is not None and rid in self.sender.running() else None

    def toggle_repeat(self, name: str) -> str:
        """Stop the macro's running repeat, or start it (its interval and count)."""
        macro = self.book.get(name)
        if macro is None:
            return f"no macro {name}"
        running = self.running_repeat(name)
        if running is not None:
            self.sender.stop(running)
            return f"repeat {running} of macro {name} stopped"
        try:
            rid = self.sender.start_macro_repeat(macro)
        except (NotSendable, ValueError) as exc:
            return f"macro {name} not repeated: {exc}"
        self.macro_repeats[name] = rid
        self.running_line.intervals[rid] = macro.repeat_ms
        return f"repeat {rid} started: macro {name} every {macro.repeat_ms:,} ms"

    def keep(self, macro: Macro, replacing: str | None) -> str:
        try:
            self.book.put(macro, replacing)
        except MacroError as exc:
            return str(exc)
        self.bind_keys()
        return ""

    def delete(self, name: str) -> str:
        running = self.running_repeat(name)
        if running is not None:
            self.sender.stop(running)
        self.book.delete(name)
        self.bind_keys()
        return f"macro {name} deleted"

    def default_encoding(self) -> str:
        return self.main.core.sending.default.encoding

    def open_dialog(self) -> None:
        from workbench.ui.macro_dialog import MacrosDialog

        def closed(_: None) -> None:
            self.main.composer.focus()

        self.main.app.push_screen(MacrosDialog(self), closed)

    # --- repeats ---

    @property
    def running_line(self) -> RunningLine:
        return self.main.widget("running", RunningLine)

    def repeat_composer(self) -> None:
        """Ask how often and how many times, then repeat the composer's message to its
        recipients."""
        from workbench.ui.macro_dialog import RepeatDialog

        main = self.main
        try:
            self.composer_repeat_payload()
        except (NotSendable, ValueError) as exc:
            main.show_composer_error(f"not repeated: {exc}")
            return
        text = main.composer.value

        def chosen(request: RepeatRequest | None) -> None:
            if request is not None:
                self.last_repeat = (str(request.interval_ms), str(request.times or ""))
                self.start_composer_repeat(text, request)
            main.composer.focus()

        what = "Sends the composer's message (its {counter} counts from 1) to " + (
            main.core.target_line().target.removeprefix("to ")
        )
        main.app.push_screen(RepeatDialog(what, *self.last_repeat), chosen)

    def composer_repeat_payload(self, text: str | None = None) -> tuple[str, SendPayload]:
        main = self.main
        recipients = self.sender.recipients()  # raises NotSendable: no target...
        settings = main.core.sending.settings_for(recipients[0][0])
        value = main.composer.value if text is None else text
        if not value:
            raise ValueError("type the message to repeat in the composer first")
        return value, composer_payload(main.core.sending.mode, value, settings)

    def start_composer_repeat(self, text: str, request: RepeatRequest) -> str | None:
        main = self.main
        try:
            _, payload = self.composer_repeat_payload(text)
            rid = self.sender.start_repeat(
                payload, request.interval_ms, request.times, Origin.REPEAT
            )
        except (NotSendable, ValueError) as exc:
            main.show_composer_error(f"not repeated: {exc}")
            return None
        self.running_line.intervals[rid] = request.interval_ms
        main.show_composer_error("")
        main.show_target()
        return rid

    def stop_repeats(self) -> None:
        stopped = self.sender.stop_all()
        if not stopped:
            self.main.notify("no repeat is running", severity="warning", markup=False)
            return
        self.main.notify(f"stopped {', '.join(stopped)}", markup=False)

    # --- saving the session ---

    def save_session(self) -> None:
        from workbench.ui.macro_dialog import SaveSessionDialog

        main = self.main
        spec = main.opened.spec(main.session, list(self.book))

        def chosen(path: str | None) -> None:
            if path is None:
                main.composer.focus()
                return
            full = os.path.expanduser(path)
            if os.path.exists(full):
                self.confirm_overwrite(full, path)
            else:
                self.write_session(full, path)

        dialog = SaveSessionDialog(self.last_save, main.opened.describe(spec))
        main.app.push_screen(dialog, chosen)

    def confirm_overwrite(self, full: str, given: str) -> None:
        from workbench.ui.dialogs import ConfirmDialog

        def answered(yes: bool | None) -> None:
            if yes:
                self.write_session(full, given)
            self.main.composer.focus()

        question = sanitize_text(f"{given} exists. Replace it with this session?")
        self.main.app.push_screen(ConfirmDialog(question, yes="Replace"), answered)

    def write_session(self, full: str, given: str) -> None:
        from workbench.session_file.writer import save_session

        main = self.main
        spec = main.opened.spec(main.session, list(self.book))
        try:
            save_session(spec, full)
        except (OSError, ValueError) as exc:
            main.notify(sanitize_text(f"not saved: {given}: {exc}"), severity="error", markup=False)
            return
        self.last_save = given
        where = os.path.abspath(full)
        main.notify(sanitize_text(f"session saved to {where}"), title="saved", markup=False)
        main.composer.focus()

    # --- the palette ---

    def system_commands(self) -> Iterator[SystemCommand]:
        yield SystemCommand(
            "Macros...",
            f"Saved messages: add, edit, send, bind to a key, repeat ({MACROS_KEY})",
            self.open_dialog,
        )
        for macro in self.book:
            name = literal_markup(macro.name)
            key = f" ({literal_markup(macro.key)})" if macro.key else ""
            yield SystemCommand(
                f"Send macro {name}",
                f"To the marked connections, else the target{key}",
                lambda n=macro.name: self.send_by_key(n),
            )
        yield SystemCommand(
            "Repeat the composer's message...",
            "Send it every N ms, N times or until stopped; {counter} numbers the sends",
            self.repeat_composer,
        )
        for rid in self.sender.running():
            yield SystemCommand(
                f"Stop repeat {rid}",
                f"{literal_markup(self.sender.started.get(rid, ''))} ({STOP_KEY} stops all)",
                lambda r=rid: self.sender.stop(r),
            )
        yield SystemCommand(
            "Save session...",
            "Listeners (with their behaviour), your connections and the macros, to a TOML "
            "file that sockbench --session opens",
            self.save_session,
        )
