"""The UI's model of listeners and connections, and the per-connection rates."""

from __future__ import annotations

from workbench.engine import events as ev
from workbench.state import RATE_WINDOW_SECONDS, RateHistory, Session


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
