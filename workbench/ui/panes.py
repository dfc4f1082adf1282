"""The Listeners tree and the Connections table: thin views over `state.Session`.

Cells and labels are Rich `Text` built from sanitized strings: a plain `str` would be parsed
as markup by these widgets.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Tree
from textual.widgets.tree import TreeNode

from workbench.codec import format_size, sanitize_text
from workbench.state import ConnectionInfo, ListenerInfo, Session


def safe(text: str, style: str = "") -> Text:
    return Text(sanitize_text(text), style=style, no_wrap=True, overflow="ellipsis")


PROTO_LABEL = {"tcp": "tcp", "udp": "udp", "unix": "unix", "unix-dgram": "udgm"}

STATE_STYLE = {
    "open": "green",
    "connecting": "yellow",
    "closed": "bright_black",
    "failed": "red",
}


def id_number(item_id: str) -> int:
    digits = item_id.lstrip("LC")
    return int(digits) if digits.isdigit() else 0


def format_age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def short_size(n: int) -> str:
    """A byte count in at most 5 characters ("900B", "512K", "16.0M", "512M", "1.5G"), so that
    "N queued" fits the state column."""
    for unit, size in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= size:
            value = n / size
            if unit == "K" or value >= 100:
                return f"{int(value)}{unit}"
            return f"{value:.1f}{unit}"
    return f"{n}B"


def connection_state_text(conn: ConnectionInfo) -> Text:
    """The state, or for an ended connection why it ended ("reset by peer"); while the peer
    does not take what was sent, how much waits ("1.5 MiB queued")."""
    if conn.closed_at is not None:
        return safe(conn.reason or conn.state, "red" if conn.error else "bright_black")
    if conn.queued:
        return safe(f"{short_size(conn.queued)} queued", "bold yellow")
    return safe(conn.state, STATE_STYLE.get(conn.state, "yellow"))


class ListenersTree(Tree[str]):
    """Each listener with the peers it accepted nested under it. Node data: the id."""

    def __init__(self, clock: Callable[[], float] = time.time, *, id: str | None = None) -> None:
        super().__init__("listeners", id=id)
        self.show_root = False
        self.guide_depth = 2
        self._clock = clock

    def rebuild(self, session: Session) -> None:
        """Rebuild the nodes, keeping the cursor on the same id."""
        selected = self.cursor_node.data if self.cursor_node is not None else None
        self.clear()
        cursor_line = -1
        # In id order: listeners open concurrently, and L1 should stay above L2.
        for listener in sorted(session.listeners.values(), key=lambda item: id_number(item.lid)):
            node = self.root.add(
                self.listener_label(listener, session), data=listener.lid, expand=True
            )
            if listener.lid == selected:
                cursor_line = node.line
            for cid in listener.peers:
                conn = session.connections.get(cid)
                if conn is not None:
                    leaf = node.add_leaf(self.peer_label(conn), data=cid)
                    if cid == selected:
                        cursor_line = leaf.line
        if cursor_line >= 0:
            self.cursor_line = cursor_line

    def refresh_labels(self, session: Session, ids: set[str]) -> None:
        for node in self._nodes_with(ids):
            key = node.data or ""
            item = session.listeners.get(key) or session.connections.get(key)
            if isinstance(item, ListenerInfo):
                node.set_label(self.listener_label(item, session))
            elif isinstance(item, ConnectionInfo):
                node.set_label(self.peer_label(item))

    def _nodes_with(self, ids: set[str]) -> list[TreeNode[str]]:
        found = []
        for listener in self.root.children:
            if listener.data in ids:
                found.append(listener)
            found.extend(peer for peer in listener.children if peer.data in ids)
        return found

    @staticmethod
    def listener_label(listener: ListenerInfo, session: Session) -> Text:
        label = Text.assemble(
            (f"{listener.lid} ", "bold"),
            safe(listener.url.split("://", 1)[0] + " ", "cyan"),
            safe(", ".join(listener.local)),
        )
        live = sum(1 for cid in listener.peers if session.connections[cid].is_open)
        kind = "peers" if listener.is_datagram else "open"
        forgotten = f", {listener.forgotten:,} forgotten" if listener.forgotten else ""
        if listener.refused:
            forgotten += f", {listener.refused:,} refused at max {listener.max_connections:,}"
        label.append(f" ({live} {kind}{forgotten})", style="bright_black")
        return label

    def peer_label(self, conn: ConnectionInfo) -> Text:
        if conn.is_datagram and conn.is_open:
            # A datagram peer is an address heard from: how much, and how long ago.
            seen = format_age(self._clock() - conn.last_activity)
            counts = f"{conn.chunks_in}↓ {conn.chunks_out}↑ · {seen} ago"
            return Text.assemble(
                (f"{conn.cid} ", "bold"), safe(conn.remote), (f" {counts}", "green")
            )
        return Text.assemble(
            (f"{conn.cid} ", "bold"),
            safe(conn.remote),
            " ",
            connection_state_text(conn),
        )

    def refresh_datagram_peers(self, session: Session) -> None:
        """Once a second: keep "seen N s ago" true."""
        ids = {c.cid for c in session.connections.values() if c.is_datagram and c.is_open}
        if ids:
            self.refresh_labels(session, ids)


class ConnectionsTable(DataTable[Text]):
    """Every connection, accepted or outgoing, open or recently closed."""

    # (label, key, width): None sizes to content; the state column is bounded because a
    # closed connection shows why it ended there, and the Log has the whole sentence.
    COLUMNS = (
        ("id", "id", None),
        ("proto", "proto", None),
        ("state", "state", 12),
        ("local", "local", None),
        ("remote", "remote", None),
        ("in", "in", None),
        ("out", "out", None),
        ("age", "age", None),
    )

    def __init__(self, clock: Callable[[], float] = time.time, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self._clock = clock
        self.target: str | None = None
        self.marked: set[str] = set()

    class ToggleMark(Message):
        """Space on a row: mark or unmark it for sending to several at once."""

        def __init__(self, cid: str) -> None:
            super().__init__()
            self.cid = cid

    BINDINGS = [Binding("space", "toggle_mark", "Mark", show=True)]

    def action_toggle_mark(self) -> None:
        cid = self.selected_id()
        if cid is not None:
            self.post_message(self.ToggleMark(cid))

    def set_marked(self, marked: set[str]) -> None:
        changed = self.marked ^ marked
        self.marked = set(marked)
        for cid in changed:
            if cid in self.rows:
                self.update_cell(cid, "id", self.id_text(cid), update_width=True)

    def set_target(self, target: str | None) -> None:
        """Mark the composer's target, so the user sees where typing goes."""
        previous, self.target = self.target, target
        for cid in {previous, target}:
            if cid is not None and cid in self.rows:
                self.update_cell(cid, "id", self.id_text(cid), update_width=True)

    def id_text(self, cid: str) -> Text:
        mark = ("●", "bold yellow") if cid in self.marked else (" ", "")
        if cid == self.target:
            return Text.assemble(mark, ("▶", "bold green"), (cid, "bold"))
        return Text.assemble(mark, " ", (cid, "bold"))

    def on_mount(self) -> None:
        for label, key, width in self.COLUMNS:
            self.add_column(label, key=key, width=width)

    def rebuild(self, session: Session) -> None:
        selected = self.selected_id()
        self.clear()
        for conn in session.connections.values():
            self.add_row(*self.cells(conn), key=conn.cid)
        if selected is not None and selected in session.connections:
            self.move_cursor(row=self.get_row_index(selected))

    def refresh_rows(self, session: Session, ids: set[str]) -> None:
        for cid in ids:
            conn = session.connections.get(cid)
            if conn is None or cid not in self.rows:
                continue
            for (_, key, _), value in zip(self.COLUMNS, self.cells(conn), strict=True):
                self.update_cell(cid, key, value, update_width=True)

    def refresh_ages(self, session: Session) -> None:
        for conn in session.connections.values():
            if conn.cid in self.rows and conn.closed_at is None:
                self.update_cell(conn.cid, "age", self.age_text(conn))

    def selected_id(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:  # cursor outside the table after a clear
            return None
        return key.value

    def cells(self, conn: ConnectionInfo) -> tuple[Text, ...]:
        return (
            self.id_text(conn.cid),
            Text(PROTO_LABEL.get(conn.transport, conn.transport), style="cyan"),
            connection_state_text(conn),
            safe(conn.local or "-"),
            safe(conn.remote),
            Text(format_size(conn.bytes_in), justify="right"),
            Text(format_size(conn.bytes_out), justify="right"),
            self.age_text(conn),
        )

    def age_text(self, conn: ConnectionInfo) -> Text:
        end = conn.closed_at if conn.closed_at is not None else self._clock()
        return Text(format_age(end - conn.opened_at), justify="right")
