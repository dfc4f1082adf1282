"""The Log's bottom border: how many rows, how they are shown, what was dropped, the search,
and first, while the Log does not follow, how many rows arrived below."""

from __future__ import annotations

from textual.content import Content

from workbench.codec import sanitize_text
from workbench.log import LogModel, ViewSettings

# The bottom border's "12 new rows ↓" while the Log does not follow (a Content style).
NEW_ROWS_STYLE = "bold $warning"


def subtitle(
    model: LogModel,
    settings: ViewSettings,
    laying_out: bool,
    shift: int,
    search_pattern: str,
    new_rows: int,
) -> Content:
    """`settings`: the ones asked for last, also while they are laid out (`laying_out`);
    `shift`: the columns the rows are scrolled sideways."""
    parts = [f"{len(model.rows):,} row{'' if len(model.rows) == 1 else 's'}"]
    view = [settings.display]
    if settings.framing != "raw":
        view.append(settings.framing)
    if settings.relative_time:
        view.append("relative time")
    if settings.wrap:
        view.append("wrap")
    elif shift:
        view.append(f"from column {shift + 1}")
    if filter_active(settings):
        view.append("filtered")
    if laying_out:
        view.append("laying out…")
    parts.append(" · ".join(view))
    if model.records_dropped:
        dropped = model.records_dropped
        parts.append(f"{dropped:,} earlier records dropped (the transcript keeps all)")
    if search_pattern:
        parts.append(f"search: {search_pattern}")
    # Content, not a str: a str title is markup, and the pattern is often a peer's text.
    text = Content(sanitize_text("  ·  ".join(parts)))
    if not new_rows:
        return text
    # First: a narrow Log cuts the subtitle's end, never this.
    marker = f"{new_rows:,} new row{'' if new_rows == 1 else 's'} ↓"
    return Content.assemble((marker, NEW_ROWS_STYLE), "  ·  ", text)


def filter_active(settings: ViewSettings) -> bool:
    return bool(
        settings.sources or settings.direction != "both" or settings.text or settings.hex_pattern
    )
