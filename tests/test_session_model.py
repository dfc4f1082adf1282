"""The UI's model of listeners and connections, and the per-connection rates."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from workbench.protocol import events as ev
from workbench.session.model import Session
from workbench.session.rates import RATE_WINDOW_SECONDS, RateHistory


def test_rate_history_counts_each_second_and_forgets_after_a_minute() -> None:
    history = RateHistory()
    history.add(1000.2, 100, outgoing=False)
    history.add(1000.9, 50, outgoing=False)
    history.add(1001.5, 7, outgoing=True)
    assert history.rate(1001.5, outgoing=False) == 150
    assert history.rate(1002.1, outgoing=True) == 7
    series = history.series(1002.0)
    assert len(series) == RATE_WINDOW_SECONDS
    assert series[-3:] == [150, 7, 0]
    assert history.series(1000.0 + RATE_WINDOW_SECONDS + 5) == [0] * RATE_WINDOW_SECONDS


def test_rate_history_ignores_a_clock_far_behind_its_data() -> None:
    history = RateHistory()
    history.add(1_800_000_000.5, 10, outgoing=False)
    assert history.series(0.0) == [0] * RATE_WINDOW_SECONDS


@given(
    st.lists(st.tuples(st.floats(0, 200), st.integers(0, 10**6), st.booleans()), max_size=40).map(
        sorted
    ),
    st.floats(0, 300),
)
def test_last_second_is_the_rate_in_plus_out(
    traffic: list[tuple[float, int, bool]], now: float
) -> None:
    history = RateHistory()
    for ts, size, outgoing in traffic:
        history.add(1000 + ts, size, outgoing)
    at = 1000 + now
    shown = history.last_second(at)  # first: it must not need series() to bring it up to date
    assert shown == history.rate(at, outgoing=False) + history.rate(at, outgoing=True)


def test_session_counts_bytes_and_messages_and_prunes_closed() -> None:
    session = Session(max_closed=2)
    session.apply([ev.ListenerOpened(1.0, "L1", "tcp://127.0.0.1:1", ("127.0.0.1:1",))])
    for n in range(1, 5):
        session.apply([ev.ConnectionOpened(2.0, f"C{n}", "L1", "a", "b")])
    session.apply([ev.Data(3.0, "C1", False, b"xy", 10, chunks=3)])
    conn = session.connections["C1"]
    assert (conn.bytes_in, conn.chunks_in) == (10, 3)
    changes = session.apply([ev.ConnectionClosed(4.0, f"C{n}", "closed") for n in (1, 2, 3)])
    assert "C1" not in session.connections  # the oldest closed one is forgotten
    assert changes.structure
    assert session.listeners["L1"].peers == ["C2", "C3", "C4"]


def counters(session: Session, now: float) -> dict[str, tuple[object, ...]]:
    return {
        cid: (
            conn.bytes_in,
            conn.bytes_out,
            conn.chunks_in,
            conn.chunks_out,
            conn.last_activity,
            conn.state,
            tuple(conn.history.series(now)),
        )
        for cid, conn in session.connections.items()
    }


# A flood's events come in runs (one connection, one direction); other events break runs.
flood_events = st.lists(
    st.one_of(
        st.builds(
            ev.Data,
            ts=st.floats(1000.0, 1003.0),
            cid=st.sampled_from(["C1", "C2", "C9"]),  # C9: a connection the UI never knew
            outgoing=st.booleans(),
            data=st.just(b""),
            size=st.integers(0, 5000),
            chunks=st.integers(1, 3),
        ),
        st.builds(ev.HalfClosed, ts=st.just(1001.0), cid=st.just("C2"), outgoing=st.booleans()),
    ),
    max_size=60,
).map(lambda events: sorted(events, key=lambda event: event.ts))


@given(flood_events)
def test_a_batch_counts_what_its_events_one_by_one_count(events: list[ev.Event]) -> None:
    def opened() -> Session:
        session = Session()
        session.apply([ev.ConnectionOpened(999.0, cid, None, "a", "b") for cid in ("C1", "C2")])
        return session

    one_by_one, batched = opened(), opened()
    for event in events:
        one_by_one.apply([event])
    changes = batched.apply(events)
    assert counters(batched, 1004.0) == counters(one_by_one, 1004.0)
    known = {"C1", "C2"}
    assert changes.counted == {e.cid for e in events if isinstance(e, ev.Data)} & known
