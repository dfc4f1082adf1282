"""Rules files: TOML, ordered `[[rule]]` tables, read and checked whole (a bad file is refused
with its name, the line and what is wrong, and refuses nothing else).

    policy = "first"        # or "all": every rule that matches answers, in order
    encoding = "utf-8"      # of the text in this file: matches, replies (latin-1 for binary)
    framing = "len:2:be"    # optional: the messages of `on = "message"` rules (else the
                            # listener's or connection's framing=)

    [[rule]]
    regex = '^HELO (?P<name>\\w+)'   # or exact, contains, prefix (text with the composer's
    reply = "250 hi {name} #{counter}\\r\\n"   # escapes), or exact_hex... (hex bytes)
    on = "line"             # (default) each line without its line ending; "read": each read;
                            # "message": each message's payload (workbench.framing)
    reply_raw = false       # a message rule's reply as it is, not made one message
    delay_ms = 0            # optional: answer this much later
    close = false           # close the connection after the reply
    once = false            # answer once per connection
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from workbench.codec import ENCODINGS, EscapeError, HexError, encode_text, parse_hex
from workbench.framing.messages import FramingError, FramingSpec, parse_framing
from workbench.rules.matchers import Contains, Exact, Matcher, PatternError, Prefix, Regex
from workbench.rules.template import FIELDS, Template, TemplateError, parse_template

MAX_FILE_BYTES = 1 << 20
MAX_RULES = 1000
MAX_DELAY_MS = 60_000

POLICIES = ("first", "all")
ON = ("line", "read", "message")
MATCHERS: dict[str, type[Exact | Contains | Prefix]] = {
    "exact": Exact,
    "contains": Contains,
    "prefix": Prefix,
}
MATCH_KEYS = (*MATCHERS, *(f"{name}_hex" for name in MATCHERS), "regex")
RULE_KEYS = (*MATCH_KEYS, "reply", "on", "delay_ms", "close", "once", "reply_raw")
TOP_KEYS = ("policy", "encoding", "framing", "rule")


class RulesError(ValueError):
    """A rules file that cannot be used: `str()` names the file, the line where known, and
    what is wrong (it may quote the file: show it sanitized); `where` ("line 4", or "")
    and `what` are those two parts."""

    def __init__(self, path: str, what: str, where: str = "") -> None:
        self.path, self.what, self.where = path, what, where
        super().__init__(f"{path} {where}: {what}" if where else f"{path}: {what}")


@dataclass(frozen=True, slots=True)
class Rule:
    number: int  # its place in the file, from 1: `rule 3` in the Log
    line: int  # where its [[rule]] is (0: unknown)
    matcher: Matcher
    on: str  # what it matches: "line", "read" or "message" (ON)
    reply: Template | None
    delay: float  # seconds
    close: bool
    once: bool
    reply_raw: bool = False  # a message rule's reply as it is, not made one message


@dataclass(frozen=True, slots=True)
class RuleSet:
    path: str
    rules: tuple[Rule, ...]
    answer_all: bool  # policy "all"
    encoding: str
    framing: FramingSpec | None = None  # the file's own `framing`

    @property
    def on_lines(self) -> bool:
        return any(rule.on == "line" for rule in self.rules)

    @property
    def message_rule(self) -> Rule | None:
        """The first rule that matches messages, if any."""
        return next((rule for rule in self.rules if rule.on == "message"), None)

    def framing_for(self, option: str | None) -> FramingSpec | None:
        """The framing of the message rules: the file's own, else `option` (the listener's
        or connection's framing=); None if there are none or nothing says it. FramingError
        for an option that is no framing."""
        if self.message_rule is None:
            return None
        if self.framing is not None:
            return self.framing
        return parse_framing(option) if option else None

    def missing_framing(self) -> RulesError:
        """The error for message rules with no framing anywhere."""
        rule = self.message_rule
        number, line = (rule.number, rule.line) if rule is not None else (0, 0)
        return RulesError(
            self.path,
            f'rule {number} matches messages (on = "message") but no framing says what a '
            'message is: add framing = "len:2:be" (or netstring, resp, http, delim:\\n...) at '
            "the top of the file, or framing=SPEC to the URL (--framing SPEC)",
            f"line {line}" if line else "",
        )


def load_rules(path: str) -> RuleSet:
    """The rules in the file at `path`; RulesError saying what is wrong."""
    return parse_rules(read_rules_file(path), path)


def read_rules_file(path: str) -> bytes:
    """The file's bytes: a regular file (a FIFO would stall the engine) of a bounded size."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise RulesError(path, exc.strerror or str(exc)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise RulesError(path, "not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise RulesError(path, f"{info.st_size:,} bytes; a rules file holds at most 1 MiB")
        with os.fdopen(fd, "rb", closefd=False) as file:
            return file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise RulesError(path, exc.strerror or str(exc)) from None
    finally:
        os.close(fd)


def file_signature(path: str) -> tuple[int, int, int] | None:
    """What changes when the file does (modified time, size, inode); None: it is gone."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino


_TOML_AT = re.compile(r"^(.*) \(at line (\d+), column (\d+)\)$", re.S)


def parse_rules(raw: bytes, path: str) -> RuleSet:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RulesError(path, "not UTF-8 (a TOML file is)", f"line {line}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_AT.match(message)
        if found is None:
            raise RulesError(path, message) from None
        what, row, column = found.groups()
        where = f"line {row}, column {column}"
        raise RulesError(path, f"{what[:1].lower()}{what[1:]}", where) from None
    return _ruleset(document, text, path)


def _ruleset(document: Mapping[str, Any], text: str, path: str) -> RuleSet:
    def refuse(message: str, line: int = 0) -> RulesError:
        return RulesError(path, message, f"line {line}" if line else "")

    for key in document:
        if key not in TOP_KEYS:
            raise refuse(f"unknown key '{key}'; known: {', '.join(TOP_KEYS)}", _key_line(text, key))
    policy = document.get("policy", "first")
    if policy not in POLICIES:
        raise refuse('policy is "first" or "all"', _key_line(text, "policy"))
    encoding = document.get("encoding", "utf-8")
    if encoding not in ENCODINGS:
        known = ", ".join(ENCODINGS)
        raise refuse(f"encoding is one of {known}", _key_line(text, "encoding"))
    framing = None
    if "framing" in document:
        line = _key_line(text, "framing")
        value = document["framing"]
        if not isinstance(value, str):
            raise refuse('framing takes text: a framing such as "len:2:be"', line)
        try:
            framing = parse_framing(value)
        except FramingError as exc:
            raise refuse(f"framing: {exc}", line) from None
    tables = document.get("rule", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise refuse("'rule' must be [[rule]] tables", _key_line(text, "rule"))
    if not tables:
        raise refuse("no rules: add a [[rule]] table")
    if len(tables) > MAX_RULES:
        raise refuse(f"{len(tables):,} rules; at most {MAX_RULES:,}")
    starts = _rule_lines(text)
    rules = []
    for number, table in enumerate(tables, 1):
        start = starts[number - 1] if number <= len(starts) else 0
        end = starts[number] if number < len(starts) else 0
        try:
            rules.append(_rule(number, start, table, encoding))
        except _RuleError as exc:
            line = _key_line(text, exc.key, start, end) if exc.key else start
            raise refuse(f"rule {number}: {exc}", line or start) from None
    return RuleSet(path, tuple(rules), policy == "all", encoding, framing)


class _RuleError(ValueError):
    def __init__(self, message: str, key: str = "") -> None:
        super().__init__(message)
        self.key = key


def _rule(number: int, line: int, table: Mapping[str, Any], encoding: str) -> Rule:
    for key in table:
        if key not in RULE_KEYS:
            raise _RuleError(f"unknown key '{key}'; known: {', '.join(RULE_KEYS)}", key)
    chosen = [key for key in MATCH_KEYS if key in table]
    if len(chosen) != 1:
        what = "two ways to match: " + " and ".join(chosen) if chosen else "nothing to match"
        raise _RuleError(
            f"{what}; give one of {', '.join(MATCH_KEYS)}", chosen[-1] if chosen else ""
        )
    key = chosen[0]
    matcher = _matcher(key, _typed(table, key, str), encoding)
    on = _typed(table, "on", str, "line")
    if on not in ON:
        raise _RuleError('on is "line", "read" or "message"', "on")
    reply_raw = _typed(table, "reply_raw", bool, False)
    if reply_raw and on != "message":
        raise _RuleError(
            f'reply_raw is for on = "message" rules (an on = "{on}" rule\'s reply is sent as '
            "it is)",
            "reply_raw",
        )
    delay_ms = _typed(table, "delay_ms", int, 0)
    if not 0 <= delay_ms <= MAX_DELAY_MS:
        raise _RuleError(f"delay_ms must be 0-{MAX_DELAY_MS:,}", "delay_ms")
    close = _typed(table, "close", bool, False)
    reply = None
    if "reply" in table:
        groups, names = (matcher.groups, matcher.names) if isinstance(matcher, Regex) else (0, ())
        reserved = [name for name in names if name in FIELDS]
        if reserved:
            raise _RuleError(f"regex: a group may not be named {reserved[0]} (a field's name)", key)
        try:
            reply = parse_template(_typed(table, "reply", str), encoding, groups, names)
        except TemplateError as exc:
            raise _RuleError(f"reply: {exc}", "reply") from None
    elif not close:
        raise _RuleError("nothing to do: give a reply (or close = true)")
    return Rule(
        number,
        line,
        matcher,
        on,
        reply,
        delay_ms / 1000,
        close,
        _typed(table, "once", bool, False),
        reply_raw,
    )


def _typed(table: Mapping[str, Any], key: str, kind: type, default: Any = None) -> Any:
    value = table.get(key, default)
    # bool is an int in Python, not in TOML.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        names = {str: "text", int: "a whole number", bool: "true or false"}
        raise _RuleError(f"{key} takes {names[kind]}", key)
    return value


def _matcher(key: str, value: str, encoding: str) -> Matcher:
    try:
        if key == "regex":
            if encoding.startswith("utf-16"):
                raise _RuleError("regex works on utf-8, latin-1 or ascii text", key)
            return Regex(value, latin1=encoding == "latin-1")
        name, _, hex_form = key.partition("_")
        data = parse_hex(value) if hex_form else encode_text(value, encoding)
    except (PatternError, EscapeError, HexError) as exc:
        raise _RuleError(f"{key}: {exc}", key) from None
    if not data:
        raise _RuleError(f"{key} is empty: it would match everything", key)
    return MATCHERS[name](data)


_RULE_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*rule[ \t]*\]\]", re.M)


def _rule_lines(text: str) -> list[int]:
    """The line of each [[rule]] header, in order."""
    return [text.count("\n", 0, m.start()) + 1 for m in _RULE_HEADER.finditer(text)]


def _key_line(text: str, key: str, start: int = 0, end: int = 0) -> int:
    """The line where `key = ...` is set between lines `start` and `end` (0: the file's
    start or end), or `start` if it is not found there."""
    pattern = re.compile(rf"^[ \t]*\"?{re.escape(key)}\"?[ \t]*=", re.M)
    lines = text.split("\n")
    last = end - 1 if end else len(lines)
    for number in range(max(start, 1), last + 1):
        if pattern.match(lines[number - 1]):
            return number
    return start
