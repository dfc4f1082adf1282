"""One line about the target connection: its current rates and a minute of throughput."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Sparkline, Static

from workbench.codec import format_size, sanitize_text
from workbench.session.model import ConnectionInfo
from workbench.session.rates import RATE_WINDOW_SECONDS
from workbench.ui.first_screen import NO_TARGET_STATS, throughput_line


class StatsBar(Horizontal):
    """Styled in app.tcss (#stats), which the first screen's stand-in shares."""

    def compose(self) -> ComposeResult:
        # Said from the start, so the first screen does not change a second later.
        yield Static(Content(NO_TARGET_STATS), id="stats-text")
        yield throughput_line()

    def show(self, conn: ConnectionInfo | None, now: float) -> None:
        text = self.query_one("#stats-text", Static)
        spark = self.query_one("#stats-spark", Sparkline)
        if conn is None:
            self._say(text, Content(NO_TARGET_STATS))
            spark.data = [0] * RATE_WINDOW_SECONDS
            return
        rate_in = conn.history.rate(now, outgoing=False)
        rate_out = conn.history.rate(now, outgoing=True)
        summary = (
            f"{conn.cid}  in {format_size(rate_in)}/s  out {format_size(rate_out)}/s  "
            f"·  {conn.chunks_in:,} {unit(conn)} in, {conn.chunks_out:,} out  ·  last minute:"
        )
        self._say(text, Content(sanitize_text(summary)))
        spark.data = conn.history.series(now)

    @staticmethod
    def _say(label: Static, content: Content) -> None:
        """A layout of the whole screen only when the text's width changes (the sparkline
        moves): under a flood this line changes four times a second."""
        shown = label.visual
        if isinstance(shown, Content) and shown.plain == content.plain:
            return
        width_changed = not isinstance(shown, Content) or shown.cell_length != content.cell_length
        label.update(content, layout=width_changed)


def unit(conn: ConnectionInfo) -> str:
    return "datagrams" if conn.is_datagram else "reads"
