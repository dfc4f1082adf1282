"""Reading a session file (TOML) into a SessionSpec, checked whole: anything wrong refuses
the file with a SessionFileError naming the file, the line and the key.

    [[listen]]
    name = "mock"
    url = "tcp://127.0.0.1:2525"    # any URL sockbench takes, options included
    greet = "220 mock ready\\r\\n"   # and the URL's options as keys (unix:// only this way)

    [[connect]]
    url = "tcp://127.0.0.1:2525"
    steps = [{ expect = '^220 ' }, { send = "QUIT\\r\\n" }, { close = true }]

    [[macro]]
    name = "ping"
    text = "PING {counter}\\r\\n"

Steps: workbench/session_file/steps.py; macros: workbench/session_file/macros.py.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path as FilePath
from typing import Any

from workbench.behaviour_options import checked
from workbench.protocol.addresses import EndpointError
from workbench.protocol.endpoints import Endpoint, check_join, parse_url
from workbench.session_file.errors import Refused, SessionFileError, shown_key
from workbench.session_file.macros import macro_of
from workbench.session_file.model import ConnectSpec, ListenSpec, Macro, SessionSpec
from workbench.session_file.option_keys import (
    is_option_key,
    option_names,
    option_value,
    url_fields,
    with_files_from,
)
from workbench.session_file.positions import Path, key_lines, line_of
from workbench.session_file.steps import sequence_of
from workbench.session_file.values import name, text

__all__ = ["SessionFileError", "load_session", "parse_session"]

MAX_FILE_BYTES = 1 << 20
MAX_TABLES = 1000  # listeners, connections and macros, each
TOP_KEYS = ("listen", "connect", "macro")
_TOML_AT = re.compile(r"^(.*) \(at line (\d+), column (\d+)\)$", re.S)


def load_session(path: str | FilePath) -> SessionSpec:
    """The session in the file at `path`; SessionFileError saying what is wrong."""
    shown = str(path)
    raw = read_session_file(shown)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SessionFileError(shown, line, "", "not UTF-8 (a TOML file is)") from None
    return parse_session(text, shown)


def read_session_file(path: str) -> bytes:
    """The file's bytes: a regular file (a FIFO would block) of at most MAX_FILE_BYTES."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise SessionFileError(path, 0, "", f"cannot be read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SessionFileError(path, 0, "", "cannot be read: it is not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise SessionFileError(
                path, 0, "", f"{info.st_size:,} bytes; a session file holds at most 1 MiB"
            )
        with os.fdopen(fd, "rb", closefd=False) as file:
            return file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise SessionFileError(path, 0, "", f"cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def parse_session(text: str, path: str) -> SessionSpec:
    """The session `text` (the file at `path`: its name for errors, its directory for the
    files it names) holds; SessionFileError saying what is wrong."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_AT.match(str(exc))
        if found is None:
            raise SessionFileError(path, 0, "", f"not valid TOML: {exc}") from None
        what, row, column = found.groups()
        message = f"not valid TOML: {what[:1].lower()}{what[1:]} (column {column})"
        raise SessionFileError(path, int(row), "", message) from None
    try:
        return _Reader(os.path.dirname(path)).session(document)
    except Refused as exc:
        line = line_of(key_lines(text), exc.where)
        raise SessionFileError(path, line, shown_key(exc.where), exc.what) from None


class _Reader:
    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.names: dict[str, str] = {}  # listeners' and connections' names
        self.macro_names: dict[str, str] = {}
        self.keys: dict[str, str] = {}  # macros' keys

    def session(self, document: Mapping[str, Any]) -> SessionSpec:
        for key in document:
            if key not in TOP_KEYS:
                known = ", ".join(f"[[{name}]]" for name in TOP_KEYS)
                raise Refused((key,), f"unknown key; a session file has {known} tables")
        listeners = tuple(
            ListenSpec(*self.endpoint(table, ("listen", index), for_listen=True))
            for index, table in enumerate(_tables(document, "listen"))
        )
        connections = tuple(
            self.connection(table, ("connect", index))
            for index, table in enumerate(_tables(document, "connect"))
        )
        _refuse_shared_sequence_names(connections)
        macros = tuple(
            self.macro(table, ("macro", index))
            for index, table in enumerate(_tables(document, "macro"))
        )
        return SessionSpec(listeners, connections, macros)

    def connection(self, table: Mapping[str, Any], where: Path) -> ConnectSpec:
        endpoint, endpoint_name = self.endpoint(table, where, for_listen=False)
        sequence = None
        if "steps" in table:
            sequence_name = endpoint_name or f"connect-{int(where[1]) + 1}"
            sequence = sequence_of(table["steps"], (*where, "steps"), sequence_name)
        return ConnectSpec(endpoint, endpoint_name, sequence)

    def macro(self, table: Mapping[str, Any], where: Path) -> Macro:
        return macro_of(table, where, self.directory, self.macro_names, self.keys)

    def endpoint(
        self, table: Mapping[str, Any], where: Path, *, for_listen: bool
    ) -> tuple[Endpoint, str]:
        url = text(table, "url", where)
        try:
            endpoint = parse_url(url, for_listen=for_listen)
        except EndpointError as exc:
            raise Refused((*where, "url"), str(exc)) from None
        own = ("url", "name") if for_listen else ("url", "name", "steps")
        for key in table:
            if key not in own and not is_option_key(key):
                if key == "steps":
                    raise Refused((*where, key), "steps are for connections ([[connect]])")
                known = ", ".join((*own, *option_names(endpoint.transport, for_listen)))
                raise Refused((*where, key), f"unknown key; known: {known}")
        endpoint_name = name(table, where, self.names, "listener" if for_listen else "connection")
        in_url = url_fields(url, endpoint)
        values: dict[str, Any] = {}
        given_as: dict[str, str] = {}
        for key, value in table.items():
            if key in own:
                continue
            try:
                field, parsed = option_value(key, value, endpoint.transport, for_listen)
            except EndpointError as exc:
                raise Refused((*where, key), str(exc)) from None
            if field in in_url:
                raise Refused((*where, key), "the url sets it too: give it once")
            if field in given_as:
                raise Refused((*where, key), f"given twice (as {given_as[field]} too)")
            given_as[field] = key
            values[field] = parsed
        options = with_files_from(replace(endpoint.options, **values), self.directory)
        endpoint = replace(endpoint, options=options)
        try:
            if not endpoint.is_unix:
                check_join(endpoint.host, options, endpoint.url)
            checked(endpoint)
        except EndpointError as exc:
            raise Refused((*where, _blamed(table, str(exc))), str(exc)) from None
        return endpoint, endpoint_name


def _tables(document: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    tables = document.get(key, [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise Refused((key,), f"must be [[{key}]] tables")
    if len(tables) > MAX_TABLES:
        raise Refused((key,), f"{len(tables):,} tables; a session file has at most {MAX_TABLES:,}")
    return tables


def _refuse_shared_sequence_names(connections: tuple[ConnectSpec, ...]) -> None:
    """A connection named `connect-2` and the second one, unnamed, would both run a sequence
    named `connect-2`: the Log could not tell them apart."""
    implicit = {
        connection.sequence.name: index
        for index, connection in enumerate(connections)
        if connection.sequence is not None and not connection.name
    }
    for index, connection in enumerate(connections):
        if connection.name in implicit:
            other = implicit[connection.name]
            raise Refused(
                ("connect", index, "name"),
                f"'{connection.name}' is also what the steps of connect[{other + 1}] are called "
                "(it has no name): choose another name",
            )


def _blamed(table: Mapping[str, Any], message: str) -> str:
    """The option key an error about the endpoint's options speaks of, else `url`."""
    said = message.split("': ", 1)[-1]  # not the quoted URL, which names them all
    for key in table:
        if key not in ("url", "name", "steps") and re.search(rf"\b{re.escape(key)}\b", said):
            return key
    return "url"
