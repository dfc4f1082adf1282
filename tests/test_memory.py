"""workbench/memory.py on its own: the history's bounds and order, what is not kept, the file
read defensively and written privately."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from workbench import memory as memory_module
from workbench.memory import (
    HISTORY_OVERALL,
    HISTORY_PER_TARGET,
    MAX_KEPT_BYTES,
    MAX_TARGETS,
    History,
    Memory,
    load_memory,
    parse_memory,
    save_memory,
    worth_keeping,
)


def test_recall_puts_the_targets_lines_last_so_that_up_finds_them_first() -> None:
    history = History()
    history.add("a1", "A")
    history.add("b1", "B")
    history.add("a2", "A")
    history.add("b2", "B")
    assert history.recall("A") == ["b1", "b2", "a1", "a2"]
    assert history.recall("B") == ["a1", "a2", "b1", "b2"]
    assert history.recall(None) == ["a1", "b1", "a2", "b2"]
    assert history.recall("new target") == ["a1", "b1", "a2", "b2"]


def test_a_line_sent_again_moves_to_the_end_once() -> None:
    history = History()
    for line in ("x", "y", "x"):
        history.add(line, "A")
    assert history.overall == ["y", "x"] and history.targets["A"] == ["y", "x"]


def test_the_history_is_bounded() -> None:
    history = History()
    for n in range(HISTORY_OVERALL + 50):
        history.add(f"line {n}", f"target {n % (MAX_TARGETS + 5)}")
    assert len(history.overall) == HISTORY_OVERALL
    assert history.overall[-1] == f"line {HISTORY_OVERALL + 49}"
    assert len(history.targets) == MAX_TARGETS
    one = History()
    for n in range(HISTORY_PER_TARGET + 3):
        one.add(str(n), "A")
    assert one.targets["A"] == [str(n) for n in range(3, HISTORY_PER_TARGET + 3)]


def test_the_4_kib_rule() -> None:
    assert worth_keeping("de ad", 2)
    assert worth_keeping("ab" * 2048, MAX_KEPT_BYTES)  # 4 KiB exactly
    assert not worth_keeping("ab" * 2049, MAX_KEPT_BYTES + 1)
    assert not worth_keeping("/tmp/big.bin", MAX_KEPT_BYTES + 1)
    assert not worth_keeping("x" * (MAX_KEPT_BYTES + 1), None)


def test_session_only_lines_are_recalled_but_not_saved() -> None:
    memory = Memory()
    memory.history.add("small", "A")
    memory.history.add("huge", "A", keep=False)
    assert memory.history.recall("A") == ["small", "huge"]
    again = parse_memory(memory.to_json())
    assert again.history.recall("A") == ["small"]


def test_the_saved_history_stays_in_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory_module, "HISTORY_BUDGET", 100)
    history = History()
    for n in range(20):
        history.add(f"line {n:02}", "A")
    saved = history.saved()
    overall = saved["overall"]
    assert isinstance(overall, list) and 0 < len(overall) < 20
    assert overall[-1] == "line 19"  # the newest kept


def test_what_is_saved_reads_back(tmp_path: Path) -> None:
    memory = Memory(theme="nord")
    memory.history.add("HELO", "127.0.0.1:25")
    memory.remember_dialogs(
        {"ConnectDialog": {"address": "x:1", "tls": True}, "SendToDialog": {"address": "y"}}
    )
    path = tmp_path / "sub" / "memory.json"
    save_memory(memory.to_json(), path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    loaded = load_memory(path)
    assert loaded.notices == [] and loaded.path == path
    assert loaded.memory.theme == "nord"
    assert loaded.memory.history.recall("127.0.0.1:25") == ["HELO"]
    assert loaded.memory.dialogs == {"ConnectDialog": {"address": "x:1", "tls": True}}


def test_no_file_yet_is_no_notice(tmp_path: Path) -> None:
    loaded = load_memory(tmp_path / "memory.json")
    assert loaded.notices == [] and loaded.memory.history.overall == []


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b'{"version": 99}', "not sockbench's memory"),
        (b"[1, 2]", "not sockbench's memory"),
        (b'{"version": 1, "theme": 3}', "the theme is not a name"),
        (b'{"version": 1, "history": {"targets": {"A": "x"}}}', "history of 'A'"),
        (b'{"version": 1, "dialogs": []}', "the dialogs' values"),
    ],
)
def test_a_bad_file_is_ignored_with_a_notice(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "memory.json"
    path.write_bytes(content)
    loaded = load_memory(path)
    [notice] = loaded.notices
    assert notice.startswith(f"{path}: ") and reason in notice
    assert "ignored" in notice and loaded.memory.theme is None


def test_a_directory_at_the_name_is_a_notice(tmp_path: Path) -> None:
    (tmp_path / "memory.json").mkdir()
    [notice] = load_memory(tmp_path / "memory.json").notices
    assert "cannot be read" in notice


def test_odd_dialog_values_are_dropped() -> None:
    memory = parse_memory(
        json.dumps(
            {
                "version": 1,
                "dialogs": {
                    "ListenDialog": {"address": "1", "n": 3, "big": "x" * 5000, "ok": False},
                    "ConnectDialog": {"transport": "carrier-pigeon", "address": "3"},
                    "Other": {"address": "2"},
                },
            }
        )
    )
    assert memory.dialogs == {
        "ListenDialog": {"address": "1", "ok": False},
        "ConnectDialog": {"address": "3"},
    }
    assert parse_memory(
        json.dumps({"version": 1, "dialogs": {"ConnectDialog": {"transport": "udp"}}})
    ).dialogs == {"ConnectDialog": {"transport": "udp"}}


def test_memory_config_and_keymap_do_not_load_textual() -> None:
    """They are read before the first screen, and by `sockbench config`."""
    modules = "workbench.memory, workbench.config, workbench.keymap, workbench.data_dir"
    code = f"import sys, {modules}; print('textual' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.strip() == "False"
