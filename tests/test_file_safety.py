"""The files sockbench writes cannot be pointed elsewhere by another user, and a transcript
has one writer (issue 12, points 8 and 9).

- A symbolic link planted by `nobody` (setpriv, as the permission tests do) in a shared
  sticky directory like /tmp, at the transcript's name, an export's or a save's: the file it
  names is untouched. The transcript is refused in words (exit 2, before the UI); an export
  or a save replaces the link with a fresh file of its own.
- A transcript sockbench creates is mode 0600; one that belongs to another user is refused.
- A second sockbench on the same transcript is refused (exit 2) and names the first's pid.

Where `fs.protected_symlinks` is 1 the kernel itself refuses root a link of another user in a
sticky directory; the checks hold either way.
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
from peers import connect_client
from tmux_helpers import RUN_TIMEOUT, Tmux, sockbench_command, wait_until
from ui_helpers import (
    focus,
    make_app,
    run_app,
    wait_listener_port,
    wait_log,
    wait_notified,
    wait_open_connection,
    wait_ui,
)
from unprivileged import require_nobody, run_as_nobody

from workbench.ui.log_dialogs import PathDialog

SECRET = b"root's own file: must stay as it is\n"
PLANT = "import os, sys; os.symlink(sys.argv[1], sys.argv[2])"
CREATE = "import sys; open(sys.argv[1], 'w').write('nobody was here first\\n')"


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret"
    path.write_bytes(SECRET)
    path.chmod(0o600)
    return path


def plant(link: Path, target: Path) -> None:
    """`nobody` makes `link` point to `target`."""
    require_nobody()
    done = run_as_nobody("-c", PLANT, str(target), str(link))
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and link.lstat().st_uid != os.geteuid()


def run_sockbench(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command without a terminal: it must answer before starting the UI."""
    try:
        return subprocess.run(
            sockbench_command(*args),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"sockbench {' '.join(args)} did not answer: it started") from exc


# --- the transcript ---


def test_a_transcript_link_planted_by_another_user_is_refused_and_its_target_untouched(
    shared: Path, secret: Path
) -> None:
    link = shared / "sockbench.jsonl"
    plant(link, secret)
    result = run_sockbench("--transcript", str(link), "--listen", "tcp://127.0.0.1:0")
    assert secret.read_bytes() == SECRET, "sockbench wrote through the planted link"
    assert result.returncode == 2, result
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"sockbench: error: cannot write transcript {link}: it is a symbolic link" in (
        result.stderr
    )


def test_a_transcript_of_another_user_is_refused(shared: Path) -> None:
    require_nobody()
    path = shared / "theirs.jsonl"
    done = run_as_nobody("-c", CREATE, str(path))
    assert done.returncode == 0, done.stderr
    before = path.read_bytes()
    result = run_sockbench("--transcript", str(path), "--listen", "tcp://127.0.0.1:0")
    assert result.returncode == 2, result
    assert "it belongs to another user" in result.stderr
    assert path.read_bytes() == before


def test_a_hard_link_to_another_file_is_refused_as_a_transcript(tmp_path: Path) -> None:
    original = tmp_path / "original"
    original.write_bytes(SECRET)
    link = tmp_path / "second-name.jsonl"
    os.link(original, link)
    result = run_sockbench("--transcript", str(link), "--listen", "tcp://127.0.0.1:0")
    assert result.returncode == 2, result
    assert "other hard link" in result.stderr
    assert original.read_bytes() == SECRET


def test_a_new_transcript_is_private(tmp_path: Path) -> None:
    """Mode 0600 (all the traffic is in it), whatever the umask lets through."""
    from workbench.engine import Engine, EventBridge

    path = tmp_path / "new.jsonl"
    old = os.umask(0o022)
    try:
        Engine(EventBridge(), transcript_path=str(path)).stop()
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_second_sockbench_on_the_same_transcript_is_refused(tmux: Tmux, tmp_path: Path) -> None:
    path = tmp_path / "shared.jsonl"
    tmux.start_sockbench(tmp_path, "--transcript", str(path), "--listen", "tcp://127.0.0.1:0")
    tmux.wait_screen("listening on tcp 127.0.0.1:", "the first sockbench")
    first_pid = int(tmux.show("#{pane_pid}"))
    wait_until(lambda: b'"event":"listen"' in path.read_bytes(), "the first one's listen record")
    result = run_sockbench("--transcript", str(path), "--listen", "tcp://127.0.0.1:0")
    assert result.returncode == 2, result
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"sockbench: error: cannot write transcript {path}: it is in use by ")
    pid = int(line.rsplit("(pid ", 1)[1].rstrip(")"))
    # The pane runs a shell that runs sockbench: the holder is that shell's child.
    assert pid == first_pid or first_pid in parents(pid), (pid, first_pid)
    sessions = [line for line in path.read_bytes().splitlines() if b'"event":"session"' in line]
    assert len(sessions) == 1, "the second one wrote to the file"
    tmux.quit_sockbench()
    # Once the first quit, the file is free again.
    from workbench.engine import Engine, EventBridge

    Engine(EventBridge(), transcript_path=str(path)).stop()


def parents(pid: int) -> list[int]:
    found = []
    with contextlib.suppress(OSError, ValueError, IndexError):
        while pid > 1:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            pid = int(fields[1])
            found.append(pid)
    return found


# --- exports and saves, from the app ---


def test_an_export_replaces_a_planted_link_and_leaves_its_target_alone(
    shared: Path, secret: Path
) -> None:
    prefix = shared / "sockbench-C1"
    plant(Path(f"{prefix}.in.bin"), secret)
    plant(Path(f"{prefix}.out.bin"), secret)

    async def scenario(pilot: Any) -> None:
        app = pilot.app
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        await wait_open_connection(pilot)
        client.sendall(b"a line from a peer\n")
        await wait_log(pilot, "a line from a peer")
        await focus(pilot, app.log_view)
        await pilot.press("e")
        await wait_ui(pilot, lambda: isinstance(app.screen, PathDialog), "the export dialog")
        app.screen.query_one("#path").value = str(prefix)
        await pilot.press("enter")
        await wait_notified(pilot, "wrote ")
        client.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario)
    assert secret.read_bytes() == SECRET, "the export wrote through the planted link"
    for name, content in ((".in.bin", b"a line from a peer\n"), (".out.bin", b"")):
        path = Path(f"{prefix}{name}")
        assert not path.is_symlink()
        assert path.read_bytes() == content
        assert path.stat().st_uid == os.geteuid()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in shared.iterdir()) == [
        "sockbench-C1.in.bin",
        "sockbench-C1.out.bin",
    ]


def test_a_save_replaces_a_planted_link_and_leaves_its_target_alone(
    shared: Path, secret: Path
) -> None:
    saved = shared / "sockbench-log.txt"
    plant(saved, secret)

    async def scenario(pilot: Any) -> None:
        app = pilot.app
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        client.sendall(b"to be saved\n")
        await wait_log(pilot, "to be saved")
        await focus(pilot, app.log_view)
        await pilot.press("s")
        await wait_ui(pilot, lambda: isinstance(app.screen, PathDialog), "the save dialog")
        app.screen.query_one("#path").value = str(saved)
        await pilot.press("enter")
        await wait_notified(pilot, "saved ")
        client.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario)
    assert secret.read_bytes() == SECRET, "the save wrote through the planted link"
    assert not saved.is_symlink()
    assert "to be saved" in saved.read_text()
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600


def test_an_export_that_cannot_be_written_says_so_in_words(tmp_path: Path) -> None:
    async def scenario(pilot: Any) -> None:
        app = pilot.app
        port = await wait_listener_port(pilot)
        client = connect_client(port)
        await wait_open_connection(pilot)
        await focus(pilot, app.log_view)
        await pilot.press("e")
        await wait_ui(pilot, lambda: isinstance(app.screen, PathDialog), "the export dialog")
        app.screen.query_one("#path").value = str(tmp_path / "missing" / "c1")
        await pilot.press("enter")
        await wait_notified(pilot, "cannot export C1: No such file or directory", "error")
        assert app.is_running
        client.close()

    run_app(make_app(listen=["tcp://127.0.0.1:0"]), scenario)


@pytest.mark.parametrize("made", ["fifo", "socket"])
def test_a_save_never_replaces_what_is_not_a_file(tmp_path: Path, made: str) -> None:
    """Saving to a FIFO or a socket (as root, /dev/null too) is refused in words: renamed
    over, the device or the pipe every other program writes to would be gone."""
    from workbench.files import replacing

    target = tmp_path / made
    if made == "fifo":
        os.mkfifo(target)
    else:
        import socket

        bound = socket.socket(socket.AF_UNIX)
        bound.bind(str(target))
        bound.close()
    with pytest.raises(OSError, match="not a file"), replacing(str(target)) as file:
        file.write(b"log\n")
    assert stat.S_ISFIFO(target.stat().st_mode) if made == "fifo" else target.is_socket()
    assert sorted(p.name for p in tmp_path.iterdir()) == [made], "no temporary file left"
