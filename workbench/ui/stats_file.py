"""What the app reports to `sockbench bench` while it runs (`--stats-file`): a JSON line
every STATS_SECONDS with how many records reached the Log and how many connections the
Connections table lists, and more as keywords (the messages the Log's messages view framed,
the malformed among them and the gaps it framed across). Measuring from outside needs
these; nothing else reads them."""

from __future__ import annotations

import json
import time
from typing import TextIO

STATS_SECONDS = 0.05


class StatsFile:
    def __init__(self, path: str) -> None:
        self._file: TextIO | None = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115

    def write(self, records: int, listed: int, listening: list[str], **more: object) -> None:
        if self._file is None:
            return
        line = {"t": time.time(), "records": records, "listed": listed, "listening": listening}
        line.update(more)
        try:
            self._file.write(json.dumps(line) + "\n")
        except OSError:
            self.close()  # a benchmark aid: never worth disturbing the app for

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
