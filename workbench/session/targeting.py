"""Which connection the composer sends to, and how that follows what the user does.

Plain Python over the session's state (no Textual): the user's choice wins; a connection the
user opens becomes the target; when the target ends (closed, failed, or closing after its
peer's EOF) the target moves to the most recently opened connection that can be sent to, or
to none, and says why.
"""

from __future__ import annotations

from collections.abc import Iterable

from workbench.protocol.enums import ConnState
from workbench.session.model import ConnectionInfo, Session, id_number


class Target:
    def __init__(self) -> None:
        self.cid: str | None = None
        # "new": the target moved there by itself (until the user sends or chooses); with no
        # target, why (e.g. "C3 closed").
        self.note = ""
        # A connection the user asked to open that the session does not know yet.
        self._requested: str | None = None
        # With no target: the one that ended last, which the note is about.
        self._former: str | None = None
        # Chosen by the user in its EOF grace (to reply): it stays the target until it closes.
        self._closing_chosen: str | None = None

    def choose(self, cid: str | None, closing: bool = False) -> None:
        """The user picked `cid` (Enter on a row, the palette, Send to); `closing`: it is in
        its EOF grace, and stays the target for a reply until it closes."""
        self.cid, self.note, self._requested, self._former = cid, "", None, None
        self._closing_chosen = cid if closing else None

    def opened_by_user(self, cid: str) -> None:
        """The user opened `cid` (f3, --connect, the palette): the next line goes to it."""
        self.choose(cid)
        self._requested = cid

    def acknowledge(self) -> None:
        """The user sent to the target: it is no longer news that it moved there."""
        if self.note == "new":
            self.note = ""

    def update(self, session: Session, opened: Iterable[str]) -> bool:
        """After a batch of events in which the `opened` connections opened. True if the
        target or its note changed."""
        before = (self.cid, self.note)
        conns = session.connections
        conn = conns.get(self.cid) if self.cid is not None else None
        if conn is not None and self.cid == self._requested:
            self._requested = None  # the session knows it now
        if self.cid is not None and self.cid == self._requested:
            return False  # opening: its Connecting event is on its way
        opened = [cid for cid in opened if cid in conns and conns[cid].can_send]
        if conn is not None and (conn.can_send or conn.is_pending):
            return False
        if conn is not None and conn.can_reply and self.cid == self._closing_chosen:
            return False  # chosen in its grace: the user replies before it closes
        if conn is not None and conn.is_open and not conn.ending:
            # You sent EOF on it: it stays the target until another connection opens.
            if opened:
                self.cid, self.note = newest(conns[cid] for cid in opened).cid, "new"
            return (self.cid, self.note) != before
        if self.cid is None:
            if opened:  # the first connection that opens becomes the target
                moved = self._former is not None  # news after "no target: C1 closed"
                self.cid, self.note, self._former = opened[0], "new" if moved else "", None
            elif self._former is not None:
                # The note follows the one that left: closing, then closed.
                self.note = f"{self._former} {ended_word(conns.get(self._former))}"
            return (self.cid, self.note) != before
        # The target ended (closed, failed, closing): the newest connection still open.
        usable = [c for c in conns.values() if c.can_send]
        if usable:
            self.cid, self.note, self._former = newest(usable).cid, "new", None
        else:
            self._former = self.cid
            self.cid, self.note = None, f"{self.cid} {ended_word(conn)}"
        return (self.cid, self.note) != before


def ended_word(conn: ConnectionInfo | None) -> str:
    """How a connection that was the target ended: closing, failed or closed."""
    if conn is not None and conn.state in (ConnState.FAILED, ConnState.CLOSING):
        return str(conn.state)
    return "closed"


def newest(conns: Iterable[ConnectionInfo]) -> ConnectionInfo:
    """The most recently opened of `conns`."""
    return max(conns, key=lambda conn: (conn.opened_at, id_number(conn.cid)))
