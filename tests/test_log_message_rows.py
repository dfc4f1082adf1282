"""A message shown whole on one row is held as its place in the record that completed it
(a MessageRow) until it is drawn: drawn, it is the row the framing's MessageRecord makes,
for any framing and any cut of the stream into reads."""

from __future__ import annotations

from framing_cuts import CUTS, cut
from hypothesis import assume, given
from hypothesis import strategies as st

from workbench.framing.messages import FramingError, encode, parse_framing
from workbench.log import LogModel, Record, ViewSettings
from workbench.log.message_framing import MESSAGE_ROW_FIELDS

SPECS = ["len:2:be", "len:1", "netstring", "delim:\\n", "delim:\\r\\n"]


def model_of(spec: str, settings: ViewSettings, records: list[Record]) -> LogModel:
    model = LogModel()
    model.set_framing("C1", spec)
    model.apply(settings)
    model.append(records)
    return model


def held_as_places(model: LogModel) -> int:
    """How many rows are held as a MessageRow now (before any is drawn)."""
    return sum(
        1 for item in model.rows._items if type(item) is tuple and len(item) == MESSAGE_ROW_FIELDS
    )


@given(st.sampled_from(SPECS), st.lists(st.binary(max_size=60), max_size=12), CUTS)
def test_a_message_held_as_its_place_is_drawn_as_its_record_would_be(
    spec: str, payloads: list[bytes], cuts: list[float]
) -> None:
    framing = parse_framing(spec)
    try:
        wire = b"".join(encode(framing, payload) for payload in payloads)
    except FramingError:  # a delimiter inside a payload: not a message of that framing
        assume(False)
    chunks = [c for c in cut(wire, cuts) if c]
    records = [Record(1, 99.0, "C1", "info", text="connected")]
    records += [Record(2 + i, 100.0 + i, "C1", "in", c, len(c)) for i, c in enumerate(chunks)]
    placed = model_of(spec, ViewSettings(framing="messages"), records)
    # A filter that lets every row through: each message is made a MessageRecord and laid out.
    laid_out = model_of(spec, ViewSettings(framing="messages", sources=frozenset({"C1"})), records)
    assert held_as_places(laid_out) == 0
    rows = [(r.record, r.text, r.lead, r.note, r.first) for r in placed.rows]
    assert rows == [(r.record, r.text, r.lead, r.note, r.first) for r in laid_out.rows]


def test_a_flood_s_messages_are_held_by_their_place_and_their_bytes_once() -> None:
    wire = encode(parse_framing("len:2:be"), b"m" * 97 + b"\n") * 1000
    chunks = [wire[at : at + 65_536] for at in range(0, len(wire), 65_536)]
    records = [Record(1 + i, 100.0, "C1", "in", c, len(c)) for i, c in enumerate(chunks)]
    model = model_of("len:2:be", ViewSettings(framing="messages"), records)
    # Every message but the one across the two reads (the first row: the stream was joined
    # late).
    assert held_as_places(model) == 999
    label = model.rows._items[2][0]  # type: ignore[index]
    assert label.data is chunks[0]  # the record's own bytes, not a copy
    assert model.rows[2].record.data == wire[100:200] and model.rows[2].lead == "len 98"
