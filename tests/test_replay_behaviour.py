"""The replay behaviour, sans-IO: told what its connection does, it answers with actions.
Plain calls, no sockets (the end-to-end tests with real peers are in test_replay.py)."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from workbench.engine.behaviours import Action, Close, Context, HalfClose, Report, Send
from workbench.engine.behaviours.replay import ReplayFactory
from workbench.protocol.enums import CloseCause, Direction, RecordKind, Transport
from workbench.replay.recording import script_of
from workbench.replay.script import (
    Ended,
    Script,
    SelectionError,
    Sent,
    Side,
    parse_selection,
)
from workbench.transcript.connections import RecordedConnection
from workbench.transcript.records import NO_SESSION, Data, Event

CLIENT, SERVER = Side.CLIENT, Side.SERVER
PEER = Context("C1", Transport.TCP, "127.0.0.1:5000")  # a listener's peer: we serve
OURS = Context("C1", Transport.TCP, "127.0.0.1:9000", outgoing=True)  # we are the client

ECHO = Script(
    1,
    "C1",
    "tcp",
    (
        Sent(CLIENT, b"hello\n"),
        Sent(SERVER, b"hello\n"),
        Sent(CLIENT, b"world\n"),
        Sent(SERVER, b"world\n"),
        Ended(CLIENT),
        Ended(SERVER),
    ),
)


def sends(actions: Sequence[Action]) -> list[bytes]:
    return [a.data for a in actions if isinstance(a, Send)]


def errors(actions: Sequence[Action]) -> list[str]:
    return [a.message for a in actions if isinstance(a, Report) and a.error]


def test_a_greeting_then_close_is_played_at_once() -> None:
    script = Script(1, "C1", "tcp", (Sent(SERVER, b"hi\n"), Ended(SERVER)))
    actions = ReplayFactory((script,))().on_open(PEER)
    assert sends(actions) == [b"hi\n"]
    assert isinstance(actions[-1], Close)
    assert not errors(actions)


def test_the_server_waits_for_as_many_bytes_as_were_recorded() -> None:
    replay = ReplayFactory((ECHO,))()
    assert sends(replay.on_open(PEER)) == []
    assert sends(replay.on_data(PEER, b"hel")) == []
    assert sends(replay.on_data(PEER, b"lo\nwor")) == [b"hello\n"]
    assert sends(replay.on_data(PEER, b"ld\n")) == [b"world\n"]
    end = replay.on_eof(PEER)
    assert isinstance(end[-1], Close), "its EOF was the recording's last but ours: we close"
    assert not replay.differed


def test_other_bytes_are_reported_escaped_and_the_replay_goes_on() -> None:
    replay = ReplayFactory((ECHO,))()
    replay.on_open(PEER)
    actions = replay.on_data(PEER, b"he\x1b]2;x\x07")
    assert sends(actions) == [b"hello\n"], "a mock answers as recorded all the same"
    (said,) = errors(actions)
    assert "the client sent other bytes, at byte 2" in said
    assert "got 'he\\x1b]2;'" in said and "\x1b" not in said
    assert replay.differed


def test_a_client_that_ends_early_is_reported_and_served_on() -> None:
    replay = ReplayFactory((ECHO,))()
    replay.on_open(PEER)
    replay.on_data(PEER, b"hello\nwo")
    actions = replay.on_eof(PEER)
    assert "ended after 2 of 6 bytes" in errors(actions)[0]
    assert sends(actions) == [b"world\n"]
    assert isinstance(actions[-1], Close)


def test_bytes_past_the_recording_are_reported_once() -> None:
    script = Script(1, "C1", "tcp", (Sent(CLIENT, b"a"), Sent(SERVER, b"b")))
    replay = ReplayFactory((script,))()
    replay.on_open(PEER)
    assert sends(replay.on_data(PEER, b"a")) == [b"b"]
    assert "2 bytes more than recorded after" in errors(replay.on_data(PEER, b"zz"))[0]
    assert errors(replay.on_data(PEER, b"zz")) == []


def test_the_client_side_sends_first_then_half_closes_as_recorded() -> None:
    replay = ReplayFactory((ECHO,))()
    assert sends(replay.on_open(OURS)) == [b"hello\n"]
    assert sends(replay.on_data(OURS, b"hello\n")) == [b"world\n"]
    actions = replay.on_data(OURS, b"world\n")
    assert isinstance(actions[-1], HalfClose), "the server's EOF was recorded after ours"
    assert isinstance(replay.on_eof(OURS)[-1], Close)


def test_each_new_peer_gets_the_next_recorded_connection_then_the_first_again() -> None:
    first = Script(1, "C1", "tcp", (Sent(SERVER, b"one"),))
    second = Script(1, "C2", "tcp", (Sent(SERVER, b"two"),))
    factory = ReplayFactory((first, second))
    played = [sends(factory().on_open(PEER)) for _ in range(3)]
    assert played == [[b"one"], [b"two"], [b"one"]]


@given(st.data())
def test_any_split_of_the_client_bytes_gets_the_same_answers(data: st.DataObject) -> None:
    """However the client's bytes arrive (any chunks), the server answers each recorded
    turn once all its bytes are in, and nothing differs."""
    turns = data.draw(
        st.lists(st.tuples(st.binary(min_size=1, max_size=20), st.binary(max_size=20)), max_size=5)
    )
    script = Script(
        1,
        "C1",
        "tcp",
        tuple(t for asked, answer in turns for t in (Sent(CLIENT, asked), Sent(SERVER, answer))),
    )
    stream = b"".join(asked for asked, _ in turns)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    replay = ReplayFactory((script,))()
    answered = sends(replay.on_open(PEER))
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        answered += sends(replay.on_data(PEER, stream[start:end]))
    assert b"".join(answered) == b"".join(answer for _, answer in turns)
    assert not replay.differed


def recorded(accepted: bool, items: list[tuple[str, object]]) -> RecordedConnection:
    made = RecordedConnection(1, "C1", "tcp", accepted)
    for kind, value in items:
        if kind == "data":
            direction, payload = value  # type: ignore[misc]
            made.items.append(Data(NO_SESSION, 0.0, "C1", direction, payload))
        else:
            made.items.append(Event(NO_SESSION, 0.0, RecordKind(kind), "C1", value))  # type: ignore[arg-type]
    return made


def test_a_connection_sockbench_opened_was_recorded_by_the_client() -> None:
    script = script_of(
        recorded(
            False,
            [
                ("data", (Direction.OUT, b"he")),
                ("data", (Direction.OUT, b"llo")),
                ("data", (Direction.IN, b"HELLO")),
                ("eof", {"dir": "in", "then": "close"}),
                ("close", {"cause": CloseCause.PEER}),
            ],
        )
    )
    assert script.turns == (Sent(CLIENT, b"hello"), Sent(SERVER, b"HELLO"), Ended(SERVER))


def test_a_listeners_peer_was_recorded_by_the_server() -> None:
    script = script_of(
        recorded(
            True,
            [
                ("data", (Direction.IN, b"ping")),
                ("data", (Direction.OUT, b"pong")),
                ("close", {"cause": CloseCause.PEER}),
            ],
        )
    )
    assert script.turns == (Sent(CLIENT, b"ping"), Sent(SERVER, b"pong"), Ended(CLIENT))


def test_selections_name_a_session_and_a_connection(tmp_path: object) -> None:
    assert parse_selection("rec.jsonl@2#C3") == parse_selection("rec.jsonl@2#C3")
    chosen = parse_selection("rec.jsonl@2#C3")
    assert (chosen.path, chosen.session, chosen.conn) == ("rec.jsonl", 2, "C3")
    assert parse_selection("rec.jsonl#C1").session is None
    assert parse_selection("a@b.jsonl").path == "a@b.jsonl"
    for bad in ("", "rec.jsonl@0"):
        try:
            parse_selection(bad)
        except SelectionError:
            continue
        raise AssertionError(f"{bad!r} accepted")


def test_a_peer_sending_without_end_is_counted_not_kept() -> None:
    """Past the recording (or while its end of stream is awaited) what a peer sends is
    counted, not held: memory stays bounded whatever it sends."""
    script = Script(1, "C1", "tcp", (Sent(CLIENT, b"a"), Sent(SERVER, b"b"), Ended(CLIENT)))
    replay = ReplayFactory((script,))()
    replay.on_open(PEER)
    replay.on_data(PEER, b"a")
    for _ in range(1000):
        replay.on_data(PEER, b"x" * 65536)
        assert replay.held <= 64
    (said,) = errors(replay.on_eof(PEER))
    assert "sent 65,536,000 bytes more than recorded before its end of stream" in said
