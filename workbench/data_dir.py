"""The user's data directory, where sockbench keeps its local CA and what it remembers across
launches (platformdirs' user data directory; SOCKBENCH_DATA_DIR names another, as the test
suite does). Light to import: it is asked before the first screen."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_VARIABLE = "SOCKBENCH_DATA_DIR"


def data_dir() -> Path:
    override = os.environ.get(DATA_DIR_VARIABLE)
    if override:
        return Path(override)
    import platformdirs  # 7 ms: only when the variable does not say

    return Path(platformdirs.user_data_dir("sockbench"))
