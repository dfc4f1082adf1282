"""Framing bytes into messages, pure (bytes in, messages out): lines today. The Log frames
with it, and so can the engine's behaviours; it imports nothing else of the project."""

from workbench.framing.characters import (
    LINE_FEEDS,
    incomplete_tail,
    line_feed,
    whole_characters,
)
from workbench.framing.lines import MAX_LINE, Line, LineFramer, split_lines

__all__ = [
    "LINE_FEEDS",
    "MAX_LINE",
    "Line",
    "LineFramer",
    "incomplete_tail",
    "line_feed",
    "split_lines",
    "whole_characters",
]
