"""The actions a user may bind to other keys in the config file's `[keys]` table, by id, and
the check of the key names given to them. Textual-free: `sockbench config` and the config
file's reader use it before any screen; the app gives its bindings these ids
(workbench/ui/app.py) and hands the checked table to Textual's keymap."""

from __future__ import annotations

import unicodedata
from typing import NamedTuple


class Action(NamedTuple):
    keys: str  # the default keys, as Textual's Binding takes them
    meaning: str


# By id: what `[keys]` may rebind. A test keeps it equal to the app's bindings.
ACTIONS: dict[str, Action] = {
    "help": Action("f1,question_mark", "the help"),
    "listen": Action("f2", "open a listener (the Listen dialog)"),
    "connect": Action("f3", "open a connection (the Connect dialog)"),
    "close": Action("f4", "close the selected connection or listener"),
    "send_to": Action("f5", "send datagrams to a new peer (Send to)"),
    "half_close": Action("ctrl+d", "send EOF to the target"),
    "reset": Action("f6", "reset the target (RST)"),
    "start_tls": Action("ctrl+s", "STARTTLS on the target"),
    "cycle_mode": Action("ctrl+t", "the composer's mode: text, hex, file"),
    "cycle_line_ending": Action("f7", "the line ending"),
    "cycle_encoding": Action("f8", "the encoding"),
    "clean_up": Action("f9", "clean up ended connections, listeners, the Log"),
    "clear_log": Action("ctrl+l", "clear the Log"),
    "macros": Action("f12", "the Macros dialog: saved messages, their keys and repeats"),
    "stop_repeats": Action("ctrl+r", "stop every running repeat"),
    "focus_composer": Action("escape", "back to the composer"),
    "quit": Action("ctrl+q", "quit"),
}

MODIFIERS = frozenset({"ctrl", "shift", "alt", "meta", "super", "hyper"})
# Textual's names of the keys that type no character.
NAMED_KEYS = frozenset(
    {
        "escape", "enter", "tab", "backspace", "delete", "insert", "home", "end",
        "pageup", "pagedown", "up", "down", "left", "right", "space",
        *(f"f{n}" for n in range(1, 25)),
    }
)  # fmt: skip
# Textual's short names for some characters (textual.keys.KEY_NAME_REPLACEMENTS).
CHARACTER_NAMES = frozenset({"slash", "backslash", "at", "minus", "plus", "underscore"})
# How many keys one action may take: a table is not a place for a list of hundreds.
MAX_KEYS_PER_ACTION = 8


def key_problem(key: str) -> str | None:
    """Why `key` (one key, as `ctrl+o`, `f2`, `question_mark`, `x`) is no key, or None."""
    if not key:
        return "a key name is empty"
    *modifiers, name = key.split("+")
    for modifier in modifiers:
        if modifier not in MODIFIERS:
            known = ", ".join(sorted(MODIFIERS))
            return f"{modifier!r} in {key!r} is no modifier (they are {known})"
    if len(set(modifiers)) != len(modifiers):
        return f"{key!r} repeats a modifier"
    if is_key_name(name):
        return None
    return f"{name!r} is no key's name (such as f2, escape, pageup, a, question_mark)"


def types_character(key: str) -> bool:
    """Whether `key` types a character in a text field: such a key bound to an action would
    be taken from the composer (Textual applies the keymap after the fields took theirs)."""
    *modifiers, name = key.split("+")
    if any(modifier != "shift" for modifier in modifiers):
        return False
    return name == "space" or name not in NAMED_KEYS


def is_key_name(name: str) -> bool:
    if len(name) == 1:
        return name.isprintable() and not name.isspace() and name != ","
    if name in NAMED_KEYS or name in CHARACTER_NAMES:
        return True
    if name != name.lower() or not name.replace("_", "").isalnum():
        return False
    # A character by its Unicode name, as Textual names them: question_mark, full_stop.
    try:
        unicodedata.lookup(name.replace("_", " "))
    except KeyError:
        return False
    return True


class Keymap(NamedTuple):
    keys: dict[str, str]  # action id: keys, comma-separated
    problems: list[tuple[str, str]]  # (action id, why it is ignored)


def read_keys(table: dict[str, object]) -> Keymap:
    """The `[keys]` table checked: an unknown action id, a value that is not a string of
    keys, a key that is no key, types a character or is another action's, is left out with
    its reason."""
    wanted: dict[str, list[str]] = {}
    problems: list[tuple[str, str]] = []
    for action, raw in table.items():
        if action not in ACTIONS:
            problems.append((action, f"no such action (the actions: {', '.join(ACTIONS)})"))
            continue
        if not isinstance(raw, str):
            problems.append((action, 'it must be keys in quotes, such as "f2,ctrl+o"'))
            continue
        keys = [key.strip() for key in raw.split(",")]
        if len(keys) > MAX_KEYS_PER_ACTION:
            problems.append((action, f"at most {MAX_KEYS_PER_ACTION} keys"))
            continue
        problem = next(filter(None, map(key_problem, keys)), None)
        if problem is not None:
            problems.append((action, problem))
            continue
        wanted[action] = keys
    # Every other action keeps its default keys; of two in the table, the earlier one wins.
    taken = {a: spec.keys.split(",") for a, spec in ACTIONS.items() if a not in wanted}
    keymap: dict[str, str] = {}
    for action, keys in wanted.items():
        problem = clash(action, keys, taken)
        if problem is not None:
            problems.append((action, problem))
            continue
        taken[action] = keys
        keymap[action] = ",".join(keys)
    return Keymap(keymap, problems)


def clash(action: str, wanted: list[str], taken: dict[str, list[str]]) -> str | None:
    """Why `wanted` cannot be `action`'s keys: one types a character, or is another action's
    key (`taken`: each action's keys)."""
    defaults = ACTIONS[action].keys.split(",")
    for key in wanted:
        if types_character(key) and key not in defaults:
            return f"{key!r} types a character: the composer needs it (add ctrl+ or alt+)"
        for other, keys in taken.items():
            if other != action and key in keys:
                return f"{key!r} is {other}'s key (give {other} another key first)"
    return None
