"""A session file that cannot be used, named by file, line and key."""

from __future__ import annotations

from workbench.session_file.positions import Path


class SessionFileError(ValueError):
    """`str()` is `FILE:LINE: KEY: what is wrong` (the line or the key left out where there
    is none: a file that cannot be read has neither). It may quote the file: show it
    sanitized."""

    def __init__(self, path: str, line: int, key: str, what: str) -> None:
        self.path, self.line, self.key, self.what = path, line, key, what
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {key}: {what}" if key else f"{where}: {what}")


class Refused(ValueError):
    """What is wrong with the value at `where` (a path in the document: `("connect", 1,
    "url")`); the loader adds the file and the line."""

    def __init__(self, where: Path, what: str) -> None:
        super().__init__(what)
        self.where = where
        self.what = what


def shown_key(where: Path) -> str:
    """`("connect", 1, "steps", 2, "expect")` as `connect[2].steps[3].expect`."""
    shown = ""
    for part in where:
        shown += f"[{part + 1}]" if isinstance(part, int) else f".{part}" if shown else part
    return shown
