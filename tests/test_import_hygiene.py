"""The engine, endpoints and codec are usable without the TUI: importing them loads no Textual
(or Rich). Checked in a fresh interpreter, since this test process may already have them."""

from __future__ import annotations

import subprocess
import sys

# workbench.engine loads its core on first use: name the core itself.
CORE_MODULES = ("workbench.engine.core", "workbench.protocol.endpoints", "workbench.codec")
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


LIGHT_PROBE = """
import sys
import workbench.engine, workbench.protocol.commands, workbench.protocol.events
import workbench.session.core
heavy = ("asyncio", "workbench.engine.core", "workbench.transcript.writer")
print(" ".join(name for name in heavy if name in sys.modules))
"""


def test_the_protocol_and_the_session_core_load_no_engine_and_no_event_loop() -> None:
    """What the first screen needs (the protocol, the session core) leaves the engine and
    asyncio to be loaded when an engine is made: start-up pays for them only then."""
    result = subprocess.run(
        [sys.executable, "-c", LIGHT_PROBE], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [], f"loaded at once: {result.stdout.strip()}"


# What the first screen does without: loaded once it is drawn (see workbench/ui/app.py and
# workbench/ui/first_screen.py): the main screen, the session core, the Log and the panes.
AFTER_FIRST_SCREEN = (
    "workbench.ui.main_screen",
    "workbench.session.core",
    "workbench.log.model",
    "workbench.ui.log_view",
    "workbench.ui.panes",
    "textual.widgets._data_table",
    "workbench.engine.core",
    "workbench.ui.block_composer",
    "textual.widgets._text_area",
    "workbench.ui.cleanup",
    "workbench.ui.detail",
    "workbench.ui.dialogs",
    "workbench.ui.file_jobs",
    "workbench.ui.log_dialogs",
    "workbench.transcript.export",
    "workbench.ui.session_save",
    "workbench.session.model",
    "workbench.session_file.model",
    "workbench.protocol.sequences",
    "secrets",
    "tomllib",  # read only from a config file that is there
    # The bridge and the events (about 3 ms): the app makes the bridge after the first
    # screen, unless a transcript has the engine made before it.
    "workbench.engine.bridge",
    "workbench.protocol.events",
)


def test_the_app_loads_what_the_first_screen_does_without_after_it() -> None:
    probe = f"""
import pathlib, sys
import workbench.cli, workbench.ui.app
# What the command line loads and does before the first screen (workbench/cli.py's main).
import workbench.memory, workbench.session.startup
from workbench.config import load_config
load_config(pathlib.Path("/nonexistent/sockbench/config.toml"))
print(" ".join(name for name in {AFTER_FIRST_SCREEN!r} if name in sys.modules))
"""
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [], f"loaded before the first screen: {result.stdout.strip()}"
