"""The Log's model: held records (with their bytes, bounded), how they are framed, filtered
and laid out as rows. Pure Python, no Textual: the LogView widget only draws rows."""

from __future__ import annotations

from dataclasses import dataclass

# What one record keeps of its bytes for the view (the detail view shows these);
# the transcript keeps every byte.
MAX_HELD_BYTES = 64 * 1024


@dataclass(slots=True)
class Record:
    seq: int  # position in the whole session, never reused
    ts: float
    source: str  # connection or listener id
    kind: str  # "in", "out", "info" or "error"
    data: bytes = b""  # the first MAX_HELD_BYTES of the payload
    size: int = 0  # the payload's whole size
    chunks: int = 1  # reads or datagrams merged into this record
    unit: str = "reads"  # "reads" (streams) or "datagrams"
    encoding: str = "utf-8"
    text: str = ""  # info and error records: plain text (from outside: sanitize to show)

    @property
    def is_data(self) -> bool:
        return self.kind in ("in", "out")

    @property
    def missing(self) -> int:
        """Bytes of the payload this record does not hold."""
        return self.size - len(self.data)
