"""Typed values of a session file's tables, refused in plain words naming their key."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from workbench.session_file.errors import Refused
from workbench.session_file.positions import Path

# A listener's, a connection's or a macro's name: it goes into origins (`macro NAME`).
NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def text(table: Mapping[str, Any], key: str, where: Path, default: str | None = None) -> str:
    value = table.get(key, default)
    if value is None:
        raise Refused((*where, key), "missing: it is required")
    if not isinstance(value, str):
        raise Refused((*where, key), f"takes text, not {kind_of(value)}")
    return value


def whole(table: Mapping[str, Any], key: str, where: Path, low: int, high: int) -> int:
    value = table[key]
    if not isinstance(value, int) or isinstance(value, bool):  # bool is an int in Python
        raise Refused((*where, key), f"takes a whole number, not {kind_of(value)}")
    if not low <= value <= high:
        raise Refused((*where, key), f"must be {low:,}-{high:,}, not {value:,}")
    return value


def name(table: Mapping[str, Any], where: Path, taken: dict[str, str], what: str) -> str:
    """The table's `name` ("" if none), unique among `taken` (name -> where it was first)."""
    if "name" not in table and what != "macro":
        return ""
    value = text(table, "name", where)
    if not NAME.match(value):
        raise Refused(
            (*where, "name"),
            f"'{value}' is not a name: 1-64 letters, digits and . _ - (no spaces)",
        )
    if value in taken:
        raise Refused((*where, "name"), f"'{value}' is already the name of {taken[value]}")
    taken[value] = f"{what} {where_words(where)}"
    return value


def where_words(where: Path) -> str:
    """`("connect", 1)` as `connect[2]`."""
    table, index = where[0], where[1]
    return f"{table}[{int(index) + 1}]"


def only_keys(table: Mapping[str, Any], where: Path, known: tuple[str, ...]) -> None:
    for key in table:
        if key not in known:
            raise Refused((*where, key), f"unknown key; known: {', '.join(known)}")


def kind_of(value: object) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date or time"
