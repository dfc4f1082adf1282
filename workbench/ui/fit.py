"""Fitting a label into the cells the terminal leaves it, without ever showing a wrong number.

Labels here are sanitized text (workbench/codec.py): what came from a peer shows as escapes
such as `\\x1b`, and an escape is never split. A cut shows as "…" and goes where it loses the
least:

- an address (`host:port`, `[v6]:port`, a Unix path) is cut in the middle of its host or
  path, so that the port stays whole: `very-lo…ample:9100`;
- other text first has its addresses cut so (down to a few cells of host each), then is cut
  at its end before a whole word, never inside a number nor right after one (`2 refused…`,
  never `2 ref…` nor `2…`, which would read as a count of something else).

A number (a run of digits, with the letters and digits joined to it) is never split: where
even `…:9100` does not fit, the label is `…` alone rather than `…:91`.

A fit is a list of pieces, each a kept range of the text or None where "…" goes, so that the
caller can keep the styles of what it kept (`join` makes the plain string).
"""

from __future__ import annotations

import re
import string

from rich.cells import cell_len

ELLIPSIS = "…"
Piece = tuple[int, int] | None  # a kept range text[start:end], or None for ELLIPSIS

# A host keeps at least this many cells (with its "…") before other text is cut instead.
MIN_HOST_CELLS = 7

# One shown character: an escape the sanitizer wrote, or a single character.
_ATOM = re.compile(r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)|.", re.DOTALL)
# host:port or [v6]:port as a whole label; the host has no slash (a Unix path may hold ":N").
_HOST_PORT = re.compile(r"(\[[^\]]*\]|[^:\[\]/]+):\d+")
# An address inside other text: a host (group 1) and its port, or a Unix path or abstract
# name (group 2).
_ADDRESS_IN_TEXT = re.compile(r"(\[[0-9A-Za-z:.%]+\]|[\w][\w.-]*\w):\d+\b|((?<!\S)[/@]\S{2,})")
# A word that is only a number ("2", "(1", "9,000"): never left just before a cut.
_NUMBER_WORD = re.compile(r"[(\[]?\d[\d,.]*[)\],;]?")


def join(text: str, pieces: list[Piece]) -> str:
    return "".join(ELLIPSIS if piece is None else text[piece[0] : piece[1]] for piece in pieces)


def fit_address(address: str, width: int) -> list[Piece]:
    """`address` in at most `width` cells: the host (or a Unix path) cut in its middle, the
    port whole; `…:port` or `…` when the host has no room at all."""
    if cell_len(address) <= width:
        return [(0, len(address))]
    match = _HOST_PORT.fullmatch(address)
    host_end = match.end(1) if match else len(address)
    port = (host_end, len(address))
    port_cells = cell_len(address[host_end:])
    room = width - port_cells
    if room < 1:
        return [None] if width >= 1 else []
    pieces = _pieces(address, [_middle_elision(address, 0, host_end, room)], host_end)
    return pieces + ([port] if host_end < len(address) else [])


def fit_text(text: str, width: int) -> list[Piece]:
    """`text` in at most `width` cells: its addresses cut in the middle of their hosts, and
    if that is not enough its end cut before a whole word (see the module's notes)."""
    if cell_len(text) <= width:
        return [(0, len(text))]
    elided = _shorten_addresses(text, width)
    if _width_up_to(text, elided, len(text)) <= width:
        return _pieces(text, elided, len(text))
    # Cut at the end: with the hosts cut only if that keeps more words.
    whole, shortened = _cut_end(text, width, []), _cut_end(text, width, elided)
    return shortened if _kept_end(shortened) > _kept_end(whole) else whole


def _kept_end(pieces: list[Piece]) -> int:
    return max((piece[1] for piece in pieces if piece is not None), default=0)


def _atoms(text: str, start: int, end: int) -> list[tuple[int, int]]:
    return [match.span() for match in _ATOM.finditer(text, start, end)]


def _joined(
    text: str, left: tuple[int, int], right: tuple[int, int], hexadecimal: bool = False
) -> bool:
    """Whether a cut between these two atoms would split a number (in an IPv6 address,
    the hexadecimal groups are numbers)."""
    a, b = text[left[0] : left[1]], text[right[0] : right[1]]
    if hexadecimal:
        return all(c in string.hexdigits for c in a + b)
    return a.isalnum() and b.isalnum() and (a.isdigit() or b.isdigit())


def _middle_elision(text: str, start: int, end: int, width: int) -> tuple[int, int]:
    """The span of text[start:end] to show as "…" so that its head, "…" and its tail take at
    most `width` cells, cut only where no number is split."""
    atoms = _atoms(text, start, end)
    hexadecimal = text.startswith("[", start)
    room = width - 1
    head = 0  # atoms kept at the start: about half the room, the tail takes the rest
    used = 0
    for index, (a, b) in enumerate(atoms):
        used += cell_len(text[a:b])
        if used > room // 2:
            break
        if index + 1 == len(atoms) or not _joined(
            text, atoms[index], atoms[index + 1], hexadecimal
        ):
            head = index + 1
    used = sum(cell_len(text[a:b]) for a, b in atoms[:head])
    tail = len(atoms)  # the first atom of the tail
    for index in range(len(atoms) - 1, head - 1, -1):
        a, b = atoms[index]
        used += cell_len(text[a:b])
        if used > room:
            break
        if index == 0 or not _joined(text, atoms[index - 1], atoms[index], hexadecimal):
            tail = index
    elided_start = atoms[head - 1][1] if head else start
    elided_end = atoms[tail][0] if tail < len(atoms) else end
    return elided_start, elided_end


def _pieces(text: str, elided: list[tuple[int, int]], end: int) -> list[Piece]:
    """text[:end] with each elided span (in order, within it) as "…"."""
    pieces: list[Piece] = []
    position = 0
    for a, b in elided:
        if a > position:
            pieces.append((position, a))
        pieces.append(None)
        position = b
    if position < end:
        pieces.append((position, end))
    return pieces


def _width_up_to(text: str, elided: list[tuple[int, int]], end: int) -> int:
    """The cells of text[:end] once its elided spans (which end by `end`) show as "…"."""
    cells = cell_len(text[:end])
    return cells - sum(cell_len(text[a:b]) - 1 for a, b in elided if b <= end)


def _shorten_addresses(text: str, width: int) -> list[tuple[int, int]]:
    """Spans to elide from the hosts of the addresses in `text`, longest host first, none
    left under MIN_HOST_CELLS, until the text fits (or they are all that short)."""
    hosts = []
    for match in _ADDRESS_IN_TEXT.finditer(text):
        hosts.append(match.span(1 if match.group(1) is not None else 2))
    excess = cell_len(text) - width
    elided = []
    for a, b in sorted(hosts, key=lambda span: -cell_len(text[span[0] : span[1]])):
        cells = cell_len(text[a:b])
        if excess <= 0 or cells <= MIN_HOST_CELLS:
            continue
        span = _middle_elision(text, a, b, max(MIN_HOST_CELLS, cells - excess))
        if span[1] > span[0]:
            elided.append(span)
            excess -= cell_len(text[span[0] : span[1]]) - 1
    return sorted(elided)


def _cut_end(text: str, width: int, elided: list[tuple[int, int]]) -> list[Piece]:
    """The longest start of `text` (with its `elided` spans) that ends a word, not a
    number, and leaves room for "…"; failing that, the longest that splits no number."""
    room = width - 1
    if room < 0:
        return []
    best = 0
    for match in re.finditer(r"\S+", text):
        if _width_up_to(text, elided, match.end()) > room:
            break
        if not _NUMBER_WORD.fullmatch(match.group()):
            best = match.end()
    if best == 0:  # no whole word fits: the start of the first one
        elided = []
        atoms = _atoms(text, 0, len(text))
        used = 0
        for index, (a, b) in enumerate(atoms):
            used += cell_len(text[a:b])
            if used > room:
                break
            if index + 1 < len(atoms) and not _joined(text, atoms[index], atoms[index + 1]):
                best = b
    end = len(text[:best].rstrip())
    return [*_pieces(text, [span for span in elided if span[1] <= end], end), None]
