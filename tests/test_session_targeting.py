"""Where the target goes, from the session's events alone (no Textual, no sockets)."""

from __future__ import annotations

from workbench.protocol import events as ev
from workbench.session.model import Session
from workbench.session.targeting import Target


def opened(ts: float, cid: str) -> ev.ConnectionOpened:
    return ev.ConnectionOpened(ts, cid, "L1", "127.0.0.1:9000", f"127.0.0.1:{40000 + ts:.0f}")


def step(session: Session, target: Target, *events: ev.Event) -> bool:
    changes = session.apply(events)
    return target.update(session, changes.opened)


def test_the_first_peer_becomes_the_target_without_news() -> None:
    session, target = Session(), Target()
    assert step(session, target, opened(1, "C1"))
    assert (target.cid, target.note) == ("C1", "")


def test_a_usable_target_stays_when_others_open() -> None:
    session, target = Session(), Target()
    step(session, target, opened(1, "C1"))
    assert not step(session, target, opened(2, "C2"))
    assert target.cid == "C1"


def test_when_the_target_ends_the_newest_open_one_takes_over() -> None:
    session, target = Session(), Target()
    step(session, target, opened(1, "C1"), opened(2, "C2"), opened(3, "C3"))
    step(session, target, ev.ConnectionClosed(4, "C3", "closed by peer"))
    assert target.cid == "C1"  # C3 was never the target: nothing moves
    assert step(session, target, ev.ConnectionClosed(5, "C1", "closed by peer"))
    assert (target.cid, target.note) == ("C2", "new")
    target.acknowledge()
    assert target.note == ""


def test_a_target_closing_after_its_peers_eof_is_left_at_once() -> None:
    session, target = Session(), Target()
    step(session, target, opened(1, "C1"))
    assert step(session, target, ev.HalfClosed(2, "C1", False, closes_after=0.5))
    assert (target.cid, target.note) == (None, "C1 closing")
    assert step(session, target, ev.ConnectionClosed(2.5, "C1", "closed after the peer's EOF"))
    assert target.note == "C1 closed"
    assert step(session, target, opened(3, "C2"))
    assert (target.cid, target.note) == ("C2", "new")


def test_a_half_open_target_stays() -> None:
    session, target = Session(), Target()
    step(session, target, opened(1, "C1"), opened(2, "C2"))
    assert not step(session, target, ev.HalfClosed(3, "C1", False, closes_after=None))
    assert target.cid == "C1"


def test_after_your_own_eof_the_target_waits_for_a_new_connection() -> None:
    session, target = Session(), Target()
    step(session, target, opened(1, "C1"), opened(2, "C2"))
    assert not step(session, target, ev.HalfClosed(3, "C1", True))
    assert target.cid == "C1", "your EOF is your choice: it stays"
    assert step(session, target, opened(4, "C3"))
    assert (target.cid, target.note) == ("C3", "new")


def test_a_connection_you_open_is_the_target_before_the_session_knows_it() -> None:
    session, target = Session(), Target()
    step(session, target, opened(1, "C1"))
    target.opened_by_user("C2")
    assert not step(session, target)  # its Connecting event has not arrived yet
    assert target.cid == "C2"
    step(session, target, ev.Connecting(2, "C2", "127.0.0.1:80"))
    assert target.cid == "C2"
    assert step(session, target, ev.ConnectionClosed(3, "C2", "connection refused", True))
    assert (target.cid, target.note) == ("C1", "new")


def test_a_failed_connect_with_nothing_else_open_says_so() -> None:
    session, target = Session(), Target()
    target.opened_by_user("C1")
    step(session, target, ev.Connecting(1, "C1", "127.0.0.1:80"))
    step(session, target, ev.ConnectionClosed(2, "C1", "connection refused", True))
    assert (target.cid, target.note) == (None, "C1 failed")
