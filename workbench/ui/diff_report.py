"""What the diff screen shows: two live connections or two recordings compared per
direction (workbench/transcript/diff.py), with what was compared and how, as lines of a
kind (heading, added, removed...) that the screen styles.

Textual-free and meant to run in a worker: a diff of many messages takes a while. Every
line is safe text: the diff's lines are escaped by the diff engine, and the names, notes
and warnings (file names, framings, errors, from outside) are sanitized here, once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import zip_longest

from workbench.codec import sanitize_text
from workbench.framing.messages import FramingError, FramingSpec, parse_framing
from workbench.protocol.enums import Direction
from workbench.transcript.connections import RecordedConnection
from workbench.transcript.diff import DIRECTIONS, ConnectionDiff, diff_directions, diff_sessions
from workbench.ui.diff_sources import Collected, LiveConnection

DIRECTION_WORDS = {Direction.IN: "received (in)", Direction.OUT: "sent (out)"}
Line = tuple[str, str]  # (kind, text): what the screen styles, and the text it shows
Sizes = Mapping[Direction, tuple[int, int]]  # each direction's bytes, side A and side B


@dataclass(frozen=True)
class ComparedPair:
    diff: ConnectionDiff
    sizes: Sizes


@dataclass(frozen=True)
class DiffReport:
    title: str  # "C1 vs C3"
    notes: tuple[str, ...] = ()  # where the bytes come from, how they were cut
    warnings: tuple[str, ...] = ()  # what is not compared
    pairs: tuple[ComparedPair, ...] = ()
    error: str = ""  # why nothing could be compared

    @property
    def equal(self) -> bool:
        return not self.error and all(pair.diff.equal for pair in self.pairs)


def choose_framing(
    a: LiveConnection, b: LiveConnection
) -> tuple[FramingSpec | None, str, tuple[str, ...]]:
    """How two connections' bytes are cut: their framing when they share one, else text
    lines (datagrams: each datagram). Returns the framing, the note saying which, and a
    warning when their framing cannot be used."""
    if a.datagrams or b.datagrams:
        return None, "datagrams compared one by one, each one line", ()
    if a.framing == b.framing and a.framing:
        try:
            return parse_framing(a.framing), f"compared message by message: framing {a.framing}", ()
        except (FramingError, ImportError) as exc:  # ImportError: a framing not built in
            warning = f"framing {a.framing} cannot be used ({exc}): compared as text lines"
            return None, "compared as text lines", (warning,)
    if a.framing == b.framing:
        return None, "compared as text lines (neither has a framing=)", ()
    note = (
        f"compared as text lines: {a.cid} has framing {a.framing or 'none'}, "
        f"{b.cid} {b.framing or 'none'}"
    )
    return None, note, ()


def sizes_of(pieces: Mapping[Direction, Sequence[bytes]]) -> dict[Direction, int]:
    return {d: sum(len(piece) for piece in pieces.get(d, ())) for d in DIRECTIONS}


def compare_live(
    a: LiveConnection, b: LiveConnection, got_a: Collected, got_b: Collected, source: str
) -> DiffReport:
    """Two live connections' bytes compared; `source` says where they were read."""
    framing, note, framing_warnings = choose_framing(a, b)
    diff = diff_directions(
        got_a.pieces,
        got_b.pieces,
        name_a=a.cid,
        name_b=b.cid,
        framing=framing,
        datagrams=a.datagrams or b.datagrams,
    )
    size_a, size_b = sizes_of(got_a.pieces), sizes_of(got_b.pieces)
    sizes = {d: (size_a[d], size_b[d]) for d in DIRECTIONS}
    return DiffReport(
        f"{a.cid} vs {b.cid}",
        (source, note),
        (*framing_warnings, *got_a.warnings, *got_b.warnings),
        (ComparedPair(diff, sizes),),
    )


def parse_optional_framing(text: str) -> FramingSpec | None:
    """The recordings form's framing: blank for text lines. ValueError in words."""
    if not text.strip():
        return None
    try:
        return parse_framing(text.strip())
    except (FramingError, ImportError) as exc:
        raise ValueError(f"Framing: {exc}") from None


def compare_recordings(a_text: str, b_text: str, framing_text: str = "") -> DiffReport:
    """Two recordings (FILE, FILE@N, FILE#CONN, FILE@N#CONN, as `sockbench diff` takes
    them) compared; a file, session or connection that cannot be loaded is the error."""
    from workbench.replay.diff_command import loaded

    title = f"{a_text} vs {b_text}"
    try:
        framing = parse_optional_framing(framing_text)
        a, b = loaded(a_text), loaded(b_text)
    except ValueError as exc:
        return DiffReport(title, error=str(exc))
    diffs = diff_sessions(a, b, name_a=a_text, name_b=b_text, framing=framing)
    how = f"message by message: framing {framing.text}" if framing else "as text lines"
    notes = (f"recordings {a_text} and {b_text}, compared {how}",)
    pairs = tuple(
        ComparedPair(diff, recorded_sizes(left, right))
        for diff, (left, right) in zip(diffs, zip_longest(a, b), strict=True)
    )
    return DiffReport(title, notes, pairs=pairs)


def recorded_sizes(a: RecordedConnection | None, b: RecordedConnection | None) -> Sizes:
    def size(conn: RecordedConnection | None, direction: Direction) -> int:
        return len(conn.bytes_of(direction)) if conn is not None else 0

    return {d: (size(a, d), size(b, d)) for d in DIRECTIONS}


def shown_lines(report: DiffReport) -> list[Line]:
    """The screen's lines: a summary, the notes and warnings, then each pair's directions,
    headed by what is compared, with their unified diff or "identical"."""
    if report.error:
        return [("error", sanitize_text(f"cannot diff {report.title}: {report.error}"))]
    verdict = "identical" if report.equal else "they differ"
    lines: list[Line] = [("summary", sanitize_text(f"{report.title}: {verdict}"))]
    lines += [("note", typed_text(note)) for note in report.notes]
    lines += [("warning", typed_text(warning)) for warning in report.warnings]
    if not report.pairs:
        lines.append(("note", "no connections on either side"))
    for pair in report.pairs:
        lines += pair_lines(pair)
    return lines


def typed_text(text: str) -> str:
    """A note's text, sanitized, with a backslash shown once: notes quote what the user
    typed (`delim:\\r\\n`, a file name), which is shown as typed. Still no control
    character: the sanitizer's escapes of one read as what they are."""
    return sanitize_text(text).replace("\\\\", "\\")


def pair_lines(pair: ComparedPair) -> list[Line]:
    diff = pair.diff
    names = sanitize_text(f"{diff.name_a} vs {diff.name_b}")
    if diff.missing:  # sanitized by the diff engine
        return [("blank", ""), ("heading", names), ("warning", diff.missing)]
    lines: list[Line] = []
    for stream in diff.streams:
        direction = Direction(stream.direction)
        size_a, size_b = pair.sizes[direction]
        sizes = f"{size_a:,} bytes" if size_a == size_b else f"{size_a:,} and {size_b:,} bytes"
        lines.append(("blank", ""))
        lines.append(("heading", f"{names}, {DIRECTION_WORDS[direction]}: {sizes}"))
        if stream.equal:
            lines.append(("same", "identical" if size_a else "identical: no bytes either side"))
            continue
        lines += [(line_kind(index, line), line) for index, line in enumerate(stream.lines)]
    return lines


def line_kind(index: int, line: str) -> str:
    """A unified diff's line: its first two are the file headers (a removed message that
    begins with "-- " also begins with "---")."""
    if index < 2:
        return "file"
    if line.startswith("@@"):
        return "hunk"
    return {"+": "added", "-": "removed", " ": "context"}.get(line[:1], "note")


def text_lines(report: DiffReport) -> list[str]:
    """What `s` saves: the lines as shown."""
    return [text for _, text in shown_lines(report)]
