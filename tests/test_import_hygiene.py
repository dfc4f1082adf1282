"""The engine, endpoints and codec are usable without the TUI: importing them loads no Textual
(or Rich). Checked in a fresh interpreter, since this test process may already have them."""

from __future__ import annotations

import subprocess
import sys

CORE_MODULES = ("workbench.engine", "workbench.protocol.endpoints", "workbench.codec")
TUI_MODULES = ("textual", "rich")

PROBE = f"""
import sys
import {", ".join(CORE_MODULES)}
loaded = sorted(
    name for name in sys.modules
    if name.split(".")[0] in {TUI_MODULES!r}
)
print(" ".join(loaded))
"""


def test_core_modules_do_not_import_the_tui() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [], f"imported by the core: {result.stdout.strip()}"
