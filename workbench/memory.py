"""What sockbench remembers from one launch to the next: the composer's history (overall and
per target), the theme the user chose, and the Listen and Connect dialogs' last values.

One JSON file, `memory.json`, in the user's data directory (platformdirs; the
SOCKBENCH_DATA_DIR variable names another, as for the local CA). It holds only what the user
typed or chose, never anything a peer sent. It is written whole to a new private file (0600)
beside it and renamed over it (workbench/files.py: never through a planted link), and read
defensively: a file that cannot be read, is not JSON or has the wrong shape is ignored with a
notice, never a crash, and is replaced at the next save. Deleting it forgets everything.

Textual-free: the app's glue is workbench/ui/remembering.py."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from workbench.data_dir import data_dir
from workbench.files import open_for_reading, replacing
from workbench.protocol.enums import Transport

MEMORY_FILE = "memory.json"
FORMAT_VERSION = 1
HISTORY_OVERALL = 1000
HISTORY_PER_TARGET = 200
MAX_TARGETS = 100  # the targets least recently typed to are forgotten first
# A hex or file payload over this is not kept across launches (nor is a longer entry).
MAX_KEPT_BYTES = 4096
# What the history may take in the file: the newest lines are saved until it is spent (the
# bounds above allow 21,000 lines of 4 KiB, which is more than a file read at start should be).
HISTORY_BUDGET = 2 * 1024 * 1024
# A bigger file is not ours (what we write stays below the budget and a few dialogs' fields).
MAX_FILE_BYTES = 8 * 1024 * 1024
# The dialogs whose fields are remembered, and how long a remembered field may be.
DIALOGS = ("ListenDialog", "ConnectDialog")
MAX_FIELD_CHARS = 4096
MAX_FIELDS = 64

FieldValues = dict[str, str | bool]
TRANSPORTS = frozenset(str(transport) for transport in Transport)


def memory_path() -> Path:
    return data_dir() / MEMORY_FILE


@dataclass
class History:
    """Lines sent from the composer, oldest first: all of them, and each target's. Lines in
    `session_only` are recalled in this launch but not saved (payloads over 4 KiB)."""

    overall: list[str] = field(default_factory=list)
    targets: dict[str, list[str]] = field(default_factory=dict)  # least recently used first
    session_only: set[str] = field(default_factory=set)
    changes: int = 0  # lines added so far, to tell whether it needs saving

    def add(self, line: str, target: str | None, keep: bool = True) -> None:
        if not line:
            return
        self.changes += 1
        if keep:
            self.session_only.discard(line)
        else:
            self.session_only.add(line)
        append_bounded(self.overall, line, HISTORY_OVERALL)
        if target is None:
            return
        lines = self.targets.pop(target, [])
        append_bounded(lines, line, HISTORY_PER_TARGET)
        self.targets[target] = lines
        while len(self.targets) > MAX_TARGETS:
            del self.targets[next(iter(self.targets))]

    def recall(self, target: str | None) -> list[str]:
        """What up recalls, oldest first (up walks it from its end): the target's own lines
        last, so that they come first, then the other lines sent to anyone."""
        own = self.targets.get(target, []) if target is not None else []
        if not own:
            return list(self.overall)
        mine = set(own)
        return [line for line in self.overall if line not in mine] + own

    def saved(self) -> dict[str, object]:
        """What the file keeps: the newest lines first, overall then by target (the most
        recently used first), while HISTORY_BUDGET lasts; never the session-only ones."""
        budget = HISTORY_BUDGET

        def kept(lines: list[str]) -> list[str]:
            nonlocal budget
            newest: list[str] = []
            for line in reversed(lines):
                if line in self.session_only:
                    continue
                budget -= len(json.dumps(line))
                if budget < 0:
                    break
                newest.append(line)
            return newest[::-1]

        overall = kept(self.overall)
        targets = {target: kept(lines) for target, lines in reversed(self.targets.items())}
        return {
            "overall": overall,
            "targets": {t: lines for t, lines in reversed(targets.items()) if lines},
        }


def append_bounded(lines: list[str], line: str, bound: int) -> None:
    if line in lines:
        lines.remove(line)
    lines.append(line)
    del lines[:-bound]


def worth_keeping(line: str, payload_size: int | None) -> bool:
    """Whether a line is saved for the next launch: not when it, or the hex or file payload it
    stands for (`payload_size`), is over MAX_KEPT_BYTES."""
    if len(line.encode("utf-8", "surrogatepass")) > MAX_KEPT_BYTES:
        return False
    return payload_size is None or payload_size <= MAX_KEPT_BYTES


@dataclass
class Memory:
    history: History = field(default_factory=History)
    theme: str | None = None  # the theme the user last chose
    dialogs: dict[str, FieldValues] = field(default_factory=dict)  # by dialog class

    def remember_dialogs(self, dialogs: Mapping[str, Mapping[str, str | bool]]) -> bool:
        """Take the dialogs' values; whether they changed."""
        before = dict(self.dialogs)
        for name in DIALOGS:
            if name in dialogs:
                self.dialogs[name] = fields_kept(dialogs[name])
        return self.dialogs != before

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": FORMAT_VERSION,
                "theme": self.theme,
                "history": self.history.saved(),
                "dialogs": self.dialogs,
            },
            indent=1,
        )


def fields_kept(values: Mapping[str, object]) -> FieldValues:
    """A dialog's fields, the ones that are a string or a yes/no, of a sane length; the
    transport only if it is one (the dialog opens with it)."""
    kept: FieldValues = {}
    for key, value in list(values.items())[:MAX_FIELDS]:
        if not isinstance(key, str):
            continue
        if isinstance(value, bool) or (isinstance(value, str) and len(value) <= MAX_FIELD_CHARS):
            kept[key] = value
    if kept.get("transport", Transport.TCP) not in TRANSPORTS:
        del kept["transport"]
    return kept


class BadMemory(ValueError):
    """Why the memory file's content is refused, in words."""


def lines_of(value: object, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(line, str) for line in value):
        raise BadMemory(f"{what} is not a list of lines")
    return list(value)


def parse_memory(text: str) -> Memory:
    """The memory a file's text holds; BadMemory if it is not what `Memory.to_json` writes."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadMemory(f"not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        raise BadMemory(f"not sockbench's memory, version {FORMAT_VERSION}")
    theme = data.get("theme")
    if theme is not None and not isinstance(theme, str):
        raise BadMemory("the theme is not a name")
    history = History()
    saved = data.get("history", {})
    if not isinstance(saved, dict):
        raise BadMemory("the history is not a table")
    for line in lines_of(saved.get("overall", []), "the history")[-HISTORY_OVERALL:]:
        history.add(line, None)
    targets = saved.get("targets", {})
    if not isinstance(targets, dict):
        raise BadMemory("the targets' history is not a table")
    for target, lines in list(targets.items())[-MAX_TARGETS:]:
        history.targets[target] = lines_of(lines, f"the history of {target!r}")[
            -HISTORY_PER_TARGET:
        ]
    dialogs = data.get("dialogs", {})
    if not isinstance(dialogs, dict):
        raise BadMemory("the dialogs' values are not a table")
    memory = Memory(history, theme)
    memory.remember_dialogs(
        {name: values for name, values in dialogs.items() if isinstance(values, dict)}
    )
    return memory


@dataclass(frozen=True)
class Loaded:
    memory: Memory
    notices: list[str]  # what was ignored, in words
    path: Path  # where it is saved again


def load_memory(path: Path | None = None) -> Loaded:
    """The memory kept at `path` (the user's by default); none yet is no problem, and a bad
    file is ignored with a notice."""
    path = memory_path() if path is None else path
    try:
        with open_for_reading(str(path)) as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return Loaded(Memory(), [], path)
    except OSError as exc:
        return ignored(path, f"cannot be read: {exc.strerror or exc}")
    if len(data) > MAX_FILE_BYTES:
        return ignored(path, f"it is over {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    try:
        return Loaded(parse_memory(data.decode("utf-8")), [], path)
    except UnicodeDecodeError:
        return ignored(path, "it is not UTF-8 text")
    except BadMemory as exc:
        return ignored(path, str(exc))


def ignored(path: Path, reason: str) -> Loaded:
    return Loaded(Memory(), [f"{path}: {reason}; what sockbench remembered is ignored"], path)


def save_memory(text: str, path: Path | None = None) -> None:
    """Write `text` (Memory.to_json) at `path`, atomically and privately (see the module's
    notes); the directory is made (0700) if missing. Raises OSError."""
    path = memory_path() if path is None else path
    if not path.parent.is_dir():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with replacing(os.fspath(path)) as file:
        file.write(text.encode("utf-8"))
