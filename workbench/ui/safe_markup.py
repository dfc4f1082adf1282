"""Text from outside for the few Textual APIs that take only a markup string.

The command palette parses each command's title as markup, so a peer's name there could
style text, add a link or a click action (`[@click=app.quit]`), or break the parse. Widgets
that take `Content` or Rich `Text` should get those instead; this is for when a str is all an
API accepts.
"""

from __future__ import annotations

from workbench.codec import sanitize_text


def literal_markup(text: str) -> str:
    """Markup that shows `text`, sanitized, exactly: no tag can start in it.

    Textual's markup opens a tag at every `[` not preceded by a backslash and turns `\\[` back
    into `[`; escaping every `[` is enough (`textual.markup.escape` only escapes what looks
    like a tag today). Backslashes are already doubled by the sanitizer, so an escaped `[`
    cannot be mistaken for a backslash followed by a tag.
    """
    return sanitize_text(text).replace("[", "\\[")
