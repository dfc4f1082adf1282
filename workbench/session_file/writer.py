"""Writing a SessionSpec as a session file that loads back to the same spec."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path as FilePath
from typing import Any

import tomli_w

from workbench import __version__
from workbench.files import replacing
from workbench.protocol.endpoints import Endpoint
from workbench.protocol.sequences import Sequence
from workbench.session_file.macros import macro_table
from workbench.session_file.model import SessionSpec
from workbench.session_file.option_keys import FILE_FIELDS, key_values
from workbench.session_file.steps import step_table

HEADER = (
    f"# A sockbench session, saved by sockbench {__version__}.\n"
    "# Open it with `sockbench --session FILE`; run it without the UI with `sockbench run FILE`.\n"
)


def session_toml(spec: SessionSpec) -> str:
    """`spec` as a session file's text: one `[[listen]]`, `[[connect]]` or `[[macro]]` table
    each, steps as an array of inline tables."""
    tables = [
        *(("listen", _endpoint_table(item.endpoint, item.name)) for item in spec.listeners),
        *(
            ("connect", _endpoint_table(item.endpoint, item.name, item.sequence))
            for item in spec.connections
        ),
        *(("macro", macro_table(macro)) for macro in spec.macros),
    ]
    return HEADER + "".join(_table_text(kind, table) for kind, table in tables)


def _table_text(kind: str, table: dict[str, Any]) -> str:
    lines = [f"\n[[{kind}]]"]
    for key, value in table.items():
        if key == "steps":
            lines.append("steps = [")
            lines.extend(f"    {_inline(step)}," for step in value)
            lines.append("]")
        else:
            lines.append(f"{key} = {_value(value)}")
    return "\n".join(lines) + "\n"


def _inline(table: dict[str, Any]) -> str:
    return "{ " + ", ".join(f"{key} = {_value(value)}" for key, value in table.items()) + " }"


def _value(value: Any) -> str:
    """A scalar in TOML (the keys are all bare: letters, digits, - and _)."""
    return tomli_w.dumps({"v": value}).removeprefix("v = ").rstrip("\n")


def save_session(spec: SessionSpec, path: str | FilePath) -> None:
    """Write `spec` to `path` atomically: a new private file beside it, renamed over it (a
    link planted at the name is replaced, never written through). Raises OSError."""
    with replacing(str(path)) as file:
        file.write(session_toml(spec).encode("utf-8"))


def _endpoint_table(
    endpoint: Endpoint, name: str, sequence: Sequence | None = None
) -> dict[str, Any]:
    # Relative file names were the working directory's: the saved file names the same files.
    changes: dict[str, Any] = {
        field: os.path.abspath(value)
        for field in FILE_FIELDS
        if isinstance(value := getattr(endpoint.options, field), str) and not os.path.isabs(value)
    }
    endpoint = replace(endpoint, options=replace(endpoint.options, **changes))
    table: dict[str, Any] = {"name": name} if name else {}
    table["url"] = endpoint.url
    if endpoint.is_unix:  # their URLs have no query: the options are keys
        table.update(key_values(endpoint.options, endpoint.transport))
    if sequence is not None and sequence.steps:
        table["steps"] = [step_table(step) for step in sequence.steps]
    return table
