"""Running a check as an unprivileged user: as root, permission errors cannot happen, so a
check that needs one runs in a child process as `nobody` (setpriv drops root's user, groups
and capabilities). As any other user it runs as that user."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CHILD_TIMEOUT = 30.0
REPO = Path(__file__).resolve().parents[1]


def run_as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
    """`python *args` as nobody (only from root), from /, with the project importable."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(REPO),
        "HOME": "/nonexistent",
    }
    return subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all",
         sys.executable, *args],
        capture_output=True, text=True, timeout=CHILD_TIMEOUT, env=env, cwd="/",
    )  # fmt: skip


def require_nobody() -> None:
    """Skip, saying why, unless this process can run checks as nobody."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run the check as the unprivileged user nobody")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    try:
        uid = pwd.getpwnam("nobody").pw_uid
    except KeyError:
        pytest.skip("there is no user nobody to run as")
    check = run_as_nobody("-c", "import os; print(os.geteuid())")
    if check.returncode != 0:
        pytest.skip(f"cannot run Python as nobody: {check.stderr.strip()}")
    assert check.stdout.strip() == str(uid)
    # The check imports this checkout as nobody: a clone in root's home or in a `mktemp -d`
    # folder (mode 0700) is closed to other users, and then nobody imports nothing, or
    # another checkout (an editable install elsewhere).
    found = run_as_nobody("-c", IMPORTED_FROM)
    where = found.stdout.strip()
    if found.returncode != 0 or Path(where) != REPO:
        seen = f"it imports the project from {where}" if where else "it cannot import the project"
        pytest.skip(
            f"the user nobody cannot enter this checkout ({REPO}): {seen}; run this test "
            "from a checkout in a directory other users may enter (not root's home nor a "
            "mode 0700 folder)"
        )


IMPORTED_FROM = """\
import os, workbench
print(os.path.dirname(os.path.dirname(os.path.realpath(workbench.__file__))))
"""
