"""What the user chose to see: display, framing, time, wrapping, and the filter."""

from __future__ import annotations

from dataclasses import dataclass

DISPLAYS = ("text", "hex", "both")
FRAMINGS = ("raw", "lines", "messages")
DIRECTIONS = ("both", "in", "out")


@dataclass(frozen=True)
class ViewSettings:
    display: str = "text"  # "text", "hex" or "both" (hexdump -C style)
    # "raw" (records as read), "lines" (reassembled at LF) or "messages" (each connection's
    # own framing, its endpoint's framing=: workbench.log.message_framing)
    framing: str = "raw"
    relative_time: bool = False
    wrap: bool = False  # long rows wrap onto more lines (else cut at the edge, with a mark)
    sources: frozenset[str] | None = None  # None: every source
    direction: str = "both"  # "both", "in" or "out"; info and error records always pass
    text: str = ""  # case-insensitive, matched against the record's display text
    regex: bool = False  # `text` is a regular expression
    hex_pattern: bytes = b""  # records whose held bytes contain this

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("display", self.display, DISPLAYS),
            ("framing", self.framing, FRAMINGS),
            ("direction", self.direction, DIRECTIONS),
        ):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
