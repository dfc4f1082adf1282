"""The line under the composer that says what runs on its own: each repeat's progress
("repeat R1: 120/1,000 every 1 ms") and each connection's sequence ("C2 sequence login:
step 3/5: waiting for ^250"). Hidden while nothing runs."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from workbench.codec import sanitize_text
from workbench.session.model import Session

STOP_KEY = "ctrl+r"


def repeat_line(rid: str, sent: int, times: int, interval_ms: float | None) -> str:
    of = f"/{times:,}" if times else " (until stopped)"
    every = f" every {interval_ms:,g} ms" if interval_ms is not None else ""
    return f"repeat {rid}: {sent:,}{of}{every}"


def running_text(session: Session, intervals: dict[str, float]) -> str:
    """What runs now, in words (already sanitized); "" when nothing does."""
    parts = [
        repeat_line(rid, progress.sent, progress.times, intervals.get(rid))
        for rid, progress in session.repeats.items()
        if not progress.finished
    ]
    if parts:
        parts[-1] += f" ({STOP_KEY} stops)"
    for cid, conn in session.connections.items():
        if conn.sequence:
            parts.append(f"{cid} {conn.sequence}")
    return sanitize_text("   ".join(parts))


class RunningLine(Static):
    DEFAULT_CSS = """
    RunningLine {
        height: auto;
        max-height: 2;
        padding: 0 1;
        color: $text-accent;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.display = False
        self._shown = ""
        self.intervals: dict[str, float] = {}  # repeat id -> its interval in ms

    def show(self, session: Session) -> None:
        """Called after every batch: the label changes (and the screen is laid out again)
        only when the text does."""
        text = running_text(session, self.intervals)
        if text == self._shown:
            return
        self._shown = text
        self.update(Content(text))
        self.display = bool(text)
