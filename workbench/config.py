"""The user's config file: defaults for the command line's flags, the theme and the keys.

A bad file or value never stops sockbench: each problem becomes a notice (the file, the
line, the key) and the default stays. Textual-free: it is read before the first screen."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from workbench.codec import ENCODINGS
from workbench.keymap import ACTIONS, read_keys
from workbench.log import MAX_LOG_RECORDS
from workbench.payloads import DEFAULT_ENCODING, DEFAULT_LINE_ENDING, LINE_ENDING_NAMES
from workbench.protocol.addresses import EndpointError, check_host
from workbench.protocol.endpoints import DEFAULT_HOST
from workbench.protocol.options import MAX_CONNECTIONS_LIMIT, MAX_IDLE_SECONDS

# Where the config file is instead of the user's config directory (the test suite sets it).
CONFIG_DIR_VARIABLE = "SOCKBENCH_CONFIG_DIR"
CONFIG_FILE = "config.toml"
# Textual's own default theme (this module does not import Textual to ask it).
DEFAULT_THEME = "textual-dark"
# The table that binds actions to keys, by the actions' ids (workbench/keymap.py).
KEYS_TABLE = "keys"

Value = str | int | float


class BadValue(ValueError):
    """Why a key's value is refused, in words."""


def one_of(choices: tuple[str, ...]) -> Callable[[object], Value]:
    def parse(value: object) -> Value:
        if not isinstance(value, str) or value not in choices:
            raise BadValue(f"it must be one of {', '.join(choices)}")
        return value

    return parse


def whole_number(high: int) -> Callable[[object], Value]:
    def parse(value: object) -> Value:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
            raise BadValue(f"it must be a whole number from 1 to {high:,}")
        return value

    return parse


def seconds(value: object) -> Value:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadValue("it must be a number of seconds")
    if not 0 < value <= MAX_IDLE_SECONDS:
        raise BadValue(f"it must be more than 0 and at most {MAX_IDLE_SECONDS:,g} seconds")
    return float(value)


def theme_name(value: object) -> Value:
    # Whether Textual knows the name is checked by with_known_theme.
    if not isinstance(value, str) or not value:
        raise BadValue("it must be the name of a theme, in quotes")
    return value


def host_name(value: object) -> Value:
    if not isinstance(value, str):
        raise BadValue("it must be a host name or IP address, in quotes")
    try:
        return check_host(value)
    except EndpointError as exc:
        raise BadValue(str(exc)) from None


@dataclass(frozen=True, slots=True)
class Key:
    parse: Callable[[object], Value]
    default: Value | None
    meaning: str  # what the key sets, and its default where it is not `default`
    flag_dest: str | None = None  # the command line's flag it is the default of


KEYS: dict[str, Key] = {
    "line_ending": Key(
        one_of(LINE_ENDING_NAMES),
        DEFAULT_LINE_ENDING,
        "what Enter adds to a typed line (--line-ending)",
        "line_ending",
    ),
    "encoding": Key(
        one_of(ENCODINGS), DEFAULT_ENCODING, "the composer's encoding (--encoding)", "encoding"
    ),
    "log_rows": Key(
        whole_number(MAX_LOG_RECORDS),
        100_000,
        "how many recent records the Log keeps (--log-records)",
        "log_records",
    ),
    "max_conns": Key(
        whole_number(MAX_CONNECTIONS_LIMIT),
        None,
        "connections a stream listener takes at once (--max-conns; unset: 100)",
        "max_connections",
    ),
    "idle": Key(
        seconds,
        None,
        "close stream connections idle that long (--idle; unset: never)",
        "idle",
    ),
    "theme": Key(
        theme_name,
        DEFAULT_THEME,
        "the screen's theme (ctrl+p: Change theme; unset: the one last chosen)",
    ),
    "bind_host": Key(
        host_name,
        DEFAULT_HOST,
        "the host a listener given only a port binds (-l 9000, the Listen dialog; --bind-host)",
        "bind_host",
    ),
}


@dataclass(frozen=True, slots=True)
class Config:
    path: Path
    exists: bool
    values: dict[str, Value] = field(default_factory=dict)  # the keys the file set well
    notices: list[str] = field(default_factory=list)  # what was ignored, in words
    places: dict[str, str] = field(default_factory=dict)  # key: "FILE, line N"
    keymap: dict[str, str] = field(default_factory=dict)  # [keys]: action id: keys

    def value(self, key: str) -> Value | None:
        return self.values.get(key, KEYS[key].default)

    def refused(self, key: str, reason: str) -> Config:
        """This config without `key`'s value, refused for `reason` by a later check."""
        values = {k: v for k, v in self.values.items() if k != key}
        notice = refusal(self.places.get(key, str(self.path)), key, self.values.get(key), reason)
        notices = [*self.notices, notice]
        return Config(self.path, self.exists, values, notices, self.places, self.keymap)

    def flag_defaults(self) -> dict[str, Value]:
        """The file's values as defaults of the command line's flags (a flag given wins)."""
        return {
            dest: value
            for key, value in self.values.items()
            if (dest := KEYS[key].flag_dest) is not None
        }


def with_known_theme(config: Config, known: Collection[str]) -> Config:
    """`config`, its theme refused if it is none of the `known` ones (Textual's, which this
    module does not import)."""
    theme = config.values.get("theme")
    if theme is None or theme in known:
        return config
    return config.refused("theme", f"no such theme (the themes: {', '.join(sorted(known))})")


def config_path() -> Path:
    override = os.environ.get(CONFIG_DIR_VARIABLE)
    if override:
        return Path(override) / CONFIG_FILE
    import platformdirs  # 7 ms: only when the variable does not say

    return Path(platformdirs.user_config_dir("sockbench")) / CONFIG_FILE


def key_line(text: str, key: str) -> int | None:
    """The line a top-level key is set on (tomllib does not say)."""
    pattern = re.compile(rf"""^\s*(?:{re.escape(key)}|"{re.escape(key)}"|'{re.escape(key)}')\s*=""")
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("["):
            return None  # past the top-level keys
        if pattern.match(line):
            return number
    return None


def table_key_line(text: str, table: str, key: str) -> int | None:
    """The line `key` is set on inside the table `[table]`."""
    header = re.compile(rf"""^\s*\[\s*(?:{re.escape(table)}|"{re.escape(table)}")\s*\]""")
    pattern = re.compile(rf"""^\s*(?:{re.escape(key)}|"{re.escape(key)}"|'{re.escape(key)}')\s*=""")
    inside = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("["):
            inside = bool(header.match(line))
        elif inside and pattern.match(line):
            return number
    return None


def read_keys_table(
    path: Path, text: str, raw: object, where: str
) -> tuple[dict[str, str], list[str]]:
    """The `[keys]` table's bindings and, in words, what of it is ignored."""
    if not isinstance(raw, dict):
        return {}, [f"{where}: {KEYS_TABLE} is ignored: it must be a table, [{KEYS_TABLE}]"]
    keymap = read_keys(raw)
    notices = []
    for action, reason in keymap.problems:
        line = table_key_line(text, KEYS_TABLE, action)
        place = f"{path}, line {line}" if line else str(path)
        notices.append(f"{place}: [{KEYS_TABLE}] {action} = {raw[action]!r} is ignored: {reason}")
    return keymap.keys, notices


def refusal(where: str, key: str, raw: object, reason: str) -> str:
    default = KEYS[key].default
    stays = "unset" if default is None else repr(default)
    return f"{where}: {key} = {raw!r} is ignored: {reason} (it stays {stays})"


def load_config(path: Path | None = None) -> Config:
    """The config file at `path` (the user's by default); a missing file is no problem."""
    path = config_path() if path is None else path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config(path, exists=False)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return Config(path, True, notices=[f"{path}: cannot be read ({reason}); it is ignored"])
    import tomllib  # here: most starts have no config file, and it costs start-up 2 ms

    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return Config(path, True, notices=[f"{path}: not valid TOML: {exc}; it is ignored"])
    values: dict[str, Value] = {}
    notices: list[str] = []
    places: dict[str, str] = {}
    keymap: dict[str, str] = {}
    for key, raw in table.items():
        line = key_line(text, key)
        where = places[key] = f"{path}, line {line}" if line else str(path)
        if key == KEYS_TABLE:
            keymap, ignored = read_keys_table(path, text, raw, where)
            notices += ignored
            continue
        spec = KEYS.get(key)
        if spec is None:
            known = ", ".join([*KEYS, f"[{KEYS_TABLE}]"])
            notices.append(f"{where}: unknown key {key!r} is ignored (the keys: {known})")
            continue
        try:
            values[key] = spec.parse(raw)
        except BadValue as exc:
            notices.append(refusal(where, key, raw, str(exc)))
    return Config(path, True, values, notices, places, keymap)


def shown(value: Value | None) -> str:
    return "(unset)" if value is None else repr(value)


def describe(config: Config) -> list[str]:
    """What `sockbench config` prints: the file, each key's value and where it comes from."""
    state = "exists" if config.exists else "does not exist (every key has its default)"
    lines = [f"config file: {config.path} ({state})", ""]
    width = max(map(len, KEYS))
    for key, spec in KEYS.items():
        source = "config" if key in config.values else "default"
        lines.append(f"{key:<{width}}  {shown(config.value(key)):<16} {source:<8} {spec.meaning}")
    lines += ["", f"[{KEYS_TABLE}]: the actions' keys, by id"]
    width = max(map(len, ACTIONS))
    for action, (default_keys, meaning) in ACTIONS.items():
        keys = config.keymap.get(action, default_keys)
        source = "config" if action in config.keymap else "default"
        lines.append(f"{action:<{width}}  {keys:<18} {source:<8} {meaning}")
    lines.append("")
    lines.append("flags on the command line win over the file; the file over the defaults.")
    if config.notices:
        lines += ["", "ignored:"] + [f"  {notice}" for notice in config.notices]
    return lines
