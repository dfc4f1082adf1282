"""The replay behaviour's framing-aware matching, its looser match and its pace, sans-IO:
plain calls with a clock the test holds, no sockets (the real peers are in
test_replay_messages.py)."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from workbench.behaviour_options import checked
from workbench.engine.behaviours import Action, Close, Context, Later, Report, Send
from workbench.engine.behaviours.replay import MAX_PAUSE, PACE_GAP, ReplayFactory
from workbench.framing.messages import encode, parse_framing
from workbench.protocol.addresses import EndpointError
from workbench.protocol.endpoints import parse_url
from workbench.protocol.enums import CloseCause, Direction, RecordKind, Transport
from workbench.protocol.options import REPLAY_MATCHES
from workbench.replay.matching import MATCHES, recorded_messages
from workbench.replay.recording import script_of
from workbench.replay.script import Ended, Script, Sent, Side
from workbench.session_file.option_keys import option_value
from workbench.transcript.connections import RecordedConnection
from workbench.transcript.records import NO_SESSION, Data, Event

CLIENT, SERVER = Side.CLIENT, Side.SERVER
PEER = Context("C1", Transport.TCP, "127.0.0.1:5000")  # a listener's peer: we serve
OURS = Context("C1", Transport.TCP, "127.0.0.1:9000", outgoing=True)  # we are the client
LEN2 = parse_framing("len:2:be")


def framed(*payloads: bytes) -> bytes:
    return b"".join(encode(LEN2, payload) for payload in payloads)


def sends(actions: Sequence[Action]) -> list[bytes]:
    """What `actions` send, Later ones included, in the order they go out."""
    out: list[bytes] = []
    for action in actions:
        if isinstance(action, Send):
            out.append(action.data)
        elif isinstance(action, Later):
            out += sends(action.actions)
    return out


def errors(actions: Sequence[Action]) -> list[str]:
    return [a.message for a in actions if isinstance(a, Report) and a.error]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# Two turns of the client, each of messages, and the server's answers.
ASKED = (framed(b"GET key1"), framed(b"GET key2", b"GET key3"))
ANSWERED = (framed(b"value1"), framed(b"value2", b"value3"))
KEYS = Script(
    1,
    "C1",
    "tcp",
    (
        Sent(CLIENT, ASKED[0]),
        Sent(SERVER, ANSWERED[0]),
        Sent(CLIENT, ASKED[1]),
        Sent(SERVER, ANSWERED[1]),
        Ended(CLIENT),
        Ended(SERVER),
    ),
)


def test_a_recorded_turn_is_cut_into_the_messages_it_holds() -> None:
    cut = recorded_messages(KEYS, LEN2)
    assert [len(messages) for messages in cut] == [1, 1, 2, 2, 0, 0]
    assert cut[2][1].data == framed(b"GET key3")


def test_the_framed_mock_waits_for_messages_not_bytes() -> None:
    replay = ReplayFactory((KEYS,), LEN2)()
    assert sends(replay.on_open(PEER)) == []
    asked = framed(b"GET a-much-longer-key")  # longer than recorded: one message all the same
    assert sends(replay.on_data(PEER, asked[:5])) == []
    actions = replay.on_data(PEER, asked[5:])
    assert sends(actions) == [ANSWERED[0]]
    (said,) = errors(actions)
    assert "the client sent another message (its turn 1, message 1 of 1), at byte 1" in said
    assert sends(replay.on_data(PEER, framed(b"x"))) == [], "its turn 2 holds two messages"
    assert sends(replay.on_data(PEER, framed(b"y"))) == [ANSWERED[1]]
    assert isinstance(replay.on_eof(PEER)[-1], Close)


def test_the_peers_bytes_in_a_report_are_escaped() -> None:
    replay = ReplayFactory((KEYS,), LEN2)()
    replay.on_open(PEER)
    (said,) = errors(replay.on_data(PEER, framed(b"\x1b]2;title\x07")))
    assert "got '\\x00\\n\\x1b]2;title\\x07'" in said and "\x1b" not in said


def test_count_answers_whatever_is_asked_without_a_word() -> None:
    replay = ReplayFactory((KEYS,), LEN2, "count")()
    replay.on_open(PEER)
    actions = replay.on_data(PEER, framed(b"PUT", b"whatever", b"else"))
    assert sends(actions) == list(ANSWERED)
    assert errors(actions) == [] and not replay.differed


def test_count_without_a_framing_waits_for_as_many_bytes() -> None:
    script = Script(1, "C1", "tcp", (Sent(CLIENT, b"abcd"), Sent(SERVER, b"ok")))
    replay = ReplayFactory((script,), None, "count")()
    replay.on_open(PEER)
    assert sends(replay.on_data(PEER, b"xyz")) == []
    assert sends(replay.on_data(PEER, b"w")) == [b"ok"]
    assert not replay.differed


def test_a_peer_that_ends_early_is_told_in_messages() -> None:
    replay = ReplayFactory((KEYS,), LEN2)()
    replay.on_open(PEER)
    replay.on_data(PEER, ASKED[0] + framed(b"GET key2"))
    actions = replay.on_eof(PEER)
    assert "the client ended after 1 of 2 messages of its turn 2" in errors(actions)[0]
    assert sends(actions) == [ANSWERED[1]], "served what is left, as recorded"


def test_an_unfinished_message_at_the_peers_end_is_malformed_and_said() -> None:
    replay = ReplayFactory((KEYS,), LEN2)()
    replay.on_open(PEER)
    replay.on_data(PEER, b"\x00\x09GET")  # a message cut short, then EOF
    said = errors(replay.on_eof(PEER))
    assert "sent a malformed message (its turn 1, message 1 of 1" in said[0]


def test_what_a_framed_peer_sends_past_its_turns_is_counted_not_kept() -> None:
    script = Script(1, "C1", "tcp", (Sent(CLIENT, framed(b"a")), Sent(SERVER, b"b"), Ended(CLIENT)))
    replay = ReplayFactory((script,), LEN2)()
    replay.on_open(PEER)
    replay.on_data(PEER, framed(b"a"))
    flood = framed(*[b"x" * 100] * 600)  # about 60 KB of messages a read
    for _ in range(200):
        replay.on_data(PEER, flood)
        assert replay.held <= 200, "one message's first bytes, whatever comes"
    (said,) = errors(replay.on_eof(PEER))
    assert "sent 120,000 messages more than recorded before its end of stream" in said


@given(st.data())
def test_any_messages_split_anywhere_get_the_recorded_answers(data: st.DataObject) -> None:
    """Whatever the client's messages hold (any lengths) and however they arrive (any
    chunks), the framed mock answers each recorded turn once its messages are in; `count`
    says nothing, `exact` says a difference exactly when a message is not the recorded."""
    counts = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=4))
    recorded = [[data.draw(st.binary(max_size=8)) for _ in range(n)] for n in counts]
    asked = [[data.draw(st.binary(max_size=40)) for _ in range(n)] for n in counts]
    answers = [data.draw(st.binary(min_size=1, max_size=10)) for _ in counts]
    turns = [
        t
        for mine, theirs in zip(recorded, answers, strict=True)
        for t in (Sent(CLIENT, framed(*mine)), Sent(SERVER, theirs))
    ]
    script = Script(1, "C1", "tcp", tuple(turns))
    stream = b"".join(framed(*messages) for messages in asked)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    match = data.draw(st.sampled_from(MATCHES))
    replay = ReplayFactory((script,), LEN2, match)()
    answered = sends(replay.on_open(PEER))
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        answered += sends(replay.on_data(PEER, stream[start:end]))
    assert answered == answers
    assert replay.differed is (match == "exact" and asked != recorded)


def paced(script: Script, clock: Clock) -> ReplayFactory:
    return ReplayFactory((script,), pace="recorded", clock=clock)


def test_a_paced_greeting_waits_its_recorded_pause_then_closes_after_it() -> None:
    script = Script(1, "C1", "tcp", (Sent(SERVER, b"hi\n", 0.5), Ended(SERVER, 0.25)))
    actions = paced(script, Clock())().on_open(PEER)
    (later,) = [a for a in actions if isinstance(a, Later)]
    assert later.seconds == 0.5 and isinstance(later.actions[0], Send)
    (close_later,) = later.actions[1:]
    assert isinstance(close_later, Later) and close_later.seconds == 0.25
    assert isinstance(close_later.actions[0], Close), "the close waits for the send"


def test_a_pause_is_capped_and_no_pace_sends_at_once() -> None:
    script = Script(1, "C1", "tcp", (Sent(SERVER, b"late", 3600.0),))
    (later,) = [a for a in paced(script, Clock())().on_open(PEER) if isinstance(a, Later)]
    assert later.seconds == MAX_PAUSE == 10.0
    unpaced = ReplayFactory((script,))().on_open(PEER)
    assert [a for a in unpaced if isinstance(a, Send)] == [Send(b"late")]


def test_an_answer_due_while_one_is_still_waiting_goes_after_it() -> None:
    """A client that does not wait for the answers (pipelining): each paced answer is
    scheduled after the one before it, so they go out in the recorded order."""
    script = Script(
        1,
        "C1",
        "tcp",
        (Sent(CLIENT, b"a"), Sent(SERVER, b"A", 2.0), Sent(CLIENT, b"b"), Sent(SERVER, b"B", 1.0)),
    )
    clock = Clock()
    replay = paced(script, clock)()
    replay.on_open(PEER)
    (first,) = replay.on_data(PEER, b"a")
    assert isinstance(first, Later) and first.seconds == 2.0
    clock.now += 0.5
    (second,) = replay.on_data(PEER, b"b")
    assert isinstance(second, Later)
    assert second.seconds == 1.5 + PACE_GAP + 1.0, "after the first's 1.5 s left, then its own"


def recorded(accepted: bool, opened: float, items: list[tuple[float, str, object]]) -> Script:
    made = RecordedConnection(1, "C1", "tcp", accepted, opened=opened)
    for ts, kind, value in items:
        if kind == "data":
            direction, payload = value  # type: ignore[misc]
            made.items.append(Data(NO_SESSION, ts, "C1", direction, payload))
        else:
            made.items.append(Event(NO_SESSION, ts, RecordKind(kind), "C1", value))  # type: ignore[arg-type]
    return script_of(made)


def test_each_turn_keeps_the_pause_before_it_from_the_recording() -> None:
    script = recorded(
        True,
        10.0,
        [
            (10.25, "data", (Direction.OUT, b"hello")),  # a greeting, 0.25 s after the open
            (11.0, "data", (Direction.IN, b"a")),
            (11.5, "data", (Direction.IN, b"b")),  # the same turn
            (13.5, "data", (Direction.OUT, b"AB")),  # 2 s after the client's last
            (14.0, "close", {"cause": CloseCause.PEER}),
        ],
    )
    assert script.turns == (
        Sent(SERVER, b"hello", 0.25),
        Sent(CLIENT, b"ab", 0.75),
        Sent(SERVER, b"AB", 2.0),
        Ended(CLIENT, 0.5),
    )


def test_a_framed_client_replay_tells_its_framer_of_its_requests() -> None:
    """HTTP: the answer to a HEAD request has a Content-Length and no body. A client replay
    frames the server's answers knowing what it asked, so it does not wait for a body."""
    http = parse_framing("http")
    head = b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
    script = Script(1, "C1", "tcp", (Sent(CLIENT, head), Sent(SERVER, answer), Sent(CLIENT, head)))
    replay = ReplayFactory((script,), http)()
    assert sends(replay.on_open(OURS)) == [head]
    assert sends(replay.on_data(OURS, answer)) == [head], "the answer is whole without a body"
    assert not replay.differed


def test_the_options_say_their_values_in_one_place_and_need_replay() -> None:
    assert REPLAY_MATCHES == MATCHES
    endpoint = parse_url(
        "tcp://127.0.0.1:0?replay-match=count&replay-pace=recorded", for_listen=True
    )
    try:
        checked(endpoint)
    except EndpointError as exc:
        assert "replay-match= needs replay=FILE" in str(exc)
    else:
        raise AssertionError("replay-match= without replay= was taken")
    assert option_value("replay-pace", "recorded", "tcp", True) == ("replay_pace", "recorded")
