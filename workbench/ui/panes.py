"""The Listeners tree and the Connections table: thin views over `state.Session`.

Cells and labels are Rich `Text` built from sanitized strings: a plain `str` would be parsed
as markup by these widgets.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from typing import ClassVar

from rich.console import Console, ConsoleOptions, JustifyMethod
from rich.segment import Segment
from rich.style import Style
from rich.text import Span, Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Tree
from textual.widgets.data_table import CellKey, RowKey
from textual.widgets.data_table import Row as TableRow
from textual.widgets.tree import TreeNode

from workbench.codec import format_size, sanitize_text
from workbench.session.model import ConnectionInfo, ListenerInfo, Session, id_number
from workbench.ui.first_screen import listeners_floor
from workbench.ui.fit import ELLIPSIS, Piece, fit_address, fit_text
from workbench.ui.tls_mark import proto_mark


def safe(text: str, style: str = "", justify: JustifyMethod | None = None) -> Text:
    return Text(
        sanitize_text(text), style=style, justify=justify, no_wrap=True, overflow="ellipsis"
    )


def fitted(text: Text, pieces: list[Piece]) -> Text:
    """`text` cut as workbench/ui/fit.py says, its styles kept."""
    shown = Text(style=text.style, justify=text.justify, no_wrap=True, end=text.end)
    for piece in pieces:
        shown.append(ELLIPSIS if piece is None else text[piece[0] : piece[1]])
    return shown


class FittingText(Text):
    """A cell that fits itself into the width it is drawn in: cut before a whole word, its
    addresses in the middle of their hosts, never inside a number. It holds (and measures
    as) the whole text: the table sizes its columns from that."""

    fitter: ClassVar[Callable[[str, int], list[Piece]]] = staticmethod(fit_text)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterable[Segment]:
        width = options.max_width
        shown: Text = self
        if self.cell_len > width:
            shown = fitted(self, type(self).fitter(self.plain, width))
        yield from Text.__rich_console__(shown, console, options)


class FittingAddress(FittingText):
    """An address cell: its host (or Unix path) cut in the middle, its port whole."""

    fitter: ClassVar[Callable[[str, int], list[Piece]]] = staticmethod(fit_address)


def fitting(text: str, style: str = "", kind: type[FittingText] = FittingText) -> Text:
    return kind(sanitize_text(text), style=style, no_wrap=True)


@functools.lru_cache(maxsize=4096)
def shared(text: str, style: str = "", justify: JustifyMethod | None = None) -> Text:
    """`safe`, one Text for cells that repeat across rows ("open", "0 B", "0s", the
    listener's address): making eight Text objects for each of 5,000 new rows was a quarter
    of an accept storm's time. Shared, so never changed in place (the table only renders
    them)."""
    return safe(text, style, justify)


@functools.lru_cache(maxsize=4096)
def shared_fitting(text: str, style: str = "", kind: type[FittingText] = FittingText) -> Text:
    """`fitting`, shared as `shared` is."""
    return fitting(text, style, kind)


PROTO_LABEL = {"tcp": "tcp", "udp": "udp", "unix": "unix", "unix-dgram": "udgm"}


def proto_text(conn: ConnectionInfo) -> Text:
    """The `proto` cell: the transport, or the TLS version (workbench/ui/tls_mark.py)."""
    plain = PROTO_LABEL.get(conn.transport, conn.transport)
    return shared(*proto_mark(plain, conn.transport, conn.tls))


STATE_STYLE = {
    "open": "green",
    "connecting": "yellow",
    "closed": "bright_black",
    "failed": "red",
}


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


def short_count(n: int) -> str:
    """A count in at most 5 characters ("9999", "12.3k", "123k", "1.2M", "999M", "1.5G")."""
    if n < 10_000:
        return str(n)
    value, unit = n / 10**3, "k"
    if n >= 10**9:
        value, unit = n / 10**9, "G"
    elif n >= 10**6:
        value, unit = n / 10**6, "M"
    return f"{value:.1f}{unit}" if round(value, 1) < 100 else f"{int(value)}{unit}"


def rate_text(conn: ConnectionInfo, now: float) -> str:
    """Bytes per second both ways over the last whole second; "-" when nothing moved."""
    moved = 0 if conn.closed_at is not None else conn.history.last_second(now)
    return f"{short_size(moved)}/s" if moved else "-"


def connection_state_text(conn: ConnectionInfo) -> Text:
    """The state, or for an ended connection why it ended ("reset by peer"); while the peer
    does not take what was sent, how much waits ("1.5 MiB queued")."""
    if conn.closed_at is not None:
        return shared_fitting(conn.reason or conn.state, "red" if conn.error else "bright_black")
    if conn.queued:
        return shared_fitting(f"{short_size(conn.queued)} queued", "bold yellow")
    return shared_fitting(conn.state, STATE_STYLE.get(conn.state, "yellow"))


def same_text(old: object, new: Text) -> bool:
    return (
        isinstance(old, Text)
        and old.plain == new.plain
        and old.style == new.style
        and old.spans == new.spans
    )


# Peers listed under a listener; past that a last line says how many more there are (the
# Connections table has them all). A tree of thousands of peers took seconds to lay out.
MAX_PEERS_SHOWN = 100


def more_key(lid: str) -> str:
    return f"more:{lid}"


class ListenersTree(Tree[str]):
    """Each listener with the peers it accepted nested under it. Node data: the id.

    A label too long for the pane is fitted to it when drawn (the node keeps the whole
    label): a listener's counts in fewer words first, then its host cut in the middle,
    then its last words left out, never a number cut. The pane itself widens for its
    labels, up to a share of the screen (`fit_width`)."""

    BINDINGS = [Binding("b", "screen.behaviour", "Behaviour", show=True)]

    # The pane's width: what its labels need, but at least its width when empty (see
    # listeners_floor) and at most WIDEST_SHARE of the screen; the Connections table takes
    # the rest.
    WIDEST_SHARE = 0.4

    def __init__(self, clock: Callable[[], float] = time.time, *, id: str | None = None) -> None:
        super().__init__("listeners", id=id)
        self.show_root = False
        self.guide_depth = 2
        self._clock = clock
        self._node_of: dict[str, TreeNode[str]] = {}  # listener and peer ids -> their nodes
        self._short: dict[str, Text] = {}  # listener ids -> their labels in fewer words
        self._wanted = 0  # the cells the widest label needs, its indent included
        self._screen_width = 0

    def rebuild(self, session: Session) -> None:
        """Rebuild the nodes, keeping the cursor on the same id."""
        selected = self.cursor_node.data if self.cursor_node is not None else None
        self.clear()
        self._node_of = {}
        self._short = {}
        self._wanted = 0
        self.sync(session)
        self.fit_width()
        node = self._node_of.get(selected or "")
        if node is not None:
            self.cursor_line = node.line

    def sync(self, session: Session) -> None:
        """Add the nodes of new listeners and peers and remove the gone ones; the others stay
        (rebuilding the tree on every accepted connection took seconds with thousands)."""
        listeners = session.listeners
        shown = [key for key in self._node_of if key.startswith("L")]
        for lid in shown:
            if lid not in listeners:
                self._remove(self._node_of[lid])
        last_shown = max((id_number(lid) for lid in shown if lid in listeners), default=0)
        # In id order: listeners open concurrently, and L1 should stay above L2.
        for listener in sorted(listeners.values(), key=lambda item: id_number(item.lid)):
            node = self._node_of.get(listener.lid)
            if node is None:
                if id_number(listener.lid) < last_shown:
                    self.rebuild(session)  # it belongs above a listener already shown
                    return
                node = self._add_listener(listener, session)
            self._sync_peers(node, listener, session)

    def _sync_peers(self, node: TreeNode[str], listener: ListenerInfo, session: Session) -> None:
        known = [cid for cid in listener.peers if cid in session.connections]
        wanted = known[:MAX_PEERS_SHOWN]
        keep = set(wanted)
        for child in list(node.children):
            if child.data is not None and child.data not in keep:
                self._remove(child)
        more = self._node_of.pop(more_key(listener.lid), None)
        if more is not None:
            more.remove()  # re-added below, after any new peer
        for cid in wanted:
            if cid not in self._node_of:
                self._add_peer(node, session.connections[cid])
        hidden = len(known) - len(wanted)
        if hidden > 0:
            label = Text(f"… {hidden:,} more: see Connections", style="bright_black")
            self._node_of[more_key(listener.lid)] = node.add_leaf(label, data=None)

    def _add_listener(self, listener: ListenerInfo, session: Session) -> TreeNode[str]:
        node = self._node_of[listener.lid] = self.root.add("", data=listener.lid, expand=True)
        self._set_listener_label(node, listener, session)
        return node

    def _add_peer(self, node: TreeNode[str], conn: ConnectionInfo) -> TreeNode[str]:
        label = self.peer_label(conn)
        leaf = self._node_of[conn.cid] = node.add_leaf(label, data=conn.cid)
        self._want(label.cell_len + self.guide_depth)
        return leaf

    def _remove(self, node: TreeNode[str]) -> None:
        for child in node.children:
            self._node_of.pop(child.data or "", None)
        self._node_of.pop(node.data or "", None)
        self._short.pop(node.data or "", None)
        self._node_of.pop(more_key(node.data or ""), None)
        node.remove()

    def refresh_labels(self, session: Session, ids: set[str]) -> None:
        for node in self._nodes_with(ids):
            key = node.data or ""
            item = session.listeners.get(key) or session.connections.get(key)
            if isinstance(item, ListenerInfo):
                self._set_listener_label(node, item, session)
            elif isinstance(item, ConnectionInfo):
                node.set_label(self.peer_label(item))

    def _nodes_with(self, ids: set[str]) -> list[TreeNode[str]]:
        return [node for key in ids if (node := self._node_of.get(key)) is not None]

    @staticmethod
    def listener_label(listener: ListenerInfo, session: Session, short: bool = False) -> Text:
        """`short`: the counts in fewer words, for a narrow pane."""
        name = session.names.get(listener.lid)
        label = Text.assemble(
            (f"{listener.lid} ", "bold"),
            safe(f"{name} ", "italic") if name else "",
            safe(listener.url.split("://", 1)[0] + " ", "cyan"),
            safe(", ".join(listener.local)),
        )
        live = sum(1 for cid in listener.peers if session.connections[cid].is_open)
        kind = "peers" if listener.is_datagram else "open"
        counts = [f"{live} {kind}"]
        if listener.forgotten:
            counts.append(f"{listener.forgotten:,} forgotten")
        if listener.refused:
            at_max = "" if short else f" at max {listener.max_connections:,}"
            counts.append(f"{listener.refused:,} refused{at_max}")
        if listener.denied:
            counts.append(f"{listener.denied:,} denied" + ("" if short else " by allow/deny"))
        if listener.no_proxy_header:
            counts.append(
                f"{listener.no_proxy_header:,} "
                + ("no PROXY" if short else "closed without a PROXY header")
            )
        if listener.dropped:
            counts.append(f"{listener.dropped:,} dropped" + ("" if short else " by the system"))
        label.append(f" ({', '.join(counts)})", style="bright_black")
        return label

    def _set_listener_label(
        self, node: TreeNode[str], listener: ListenerInfo, session: Session
    ) -> None:
        label = self.listener_label(listener, session)
        node.set_label(label)
        self._short[listener.lid] = self.listener_label(listener, session, short=True)
        self._want(label.cell_len + 2)  # its expand icon

    def _want(self, cells: int) -> None:
        if cells > self._wanted:
            self._wanted = cells
            self.fit_width()

    def fit_width(self, screen_width: int | None = None) -> None:
        """Widen (or narrow) the pane for its labels, within a share of the screen."""
        if screen_width is not None:
            self._screen_width = screen_width
        screen = self._screen_width
        if screen <= 0:
            return
        floor = listeners_floor(screen)
        most = max(floor, int(screen * self.WIDEST_SHARE))
        chrome = self.outer_size.width - self.scrollable_content_region.width
        width = max(floor, min(most, self._wanted + max(chrome, 2)))
        if self.styles.width is None or self.styles.width.cells != width:
            self.styles.width = width

    def render_label(self, node: TreeNode[str], base_style: Style, style: Style) -> Text:
        """The label, fitted to the pane's width (see the class's notes)."""
        label = super().render_label(node, base_style, style)
        depth = 0 if node.parent is None or node.parent.is_root else 1
        room = self.scrollable_content_region.width - depth * self.guide_depth
        if room <= 0 or label.cell_len <= room:
            return label
        own = node.label if isinstance(node.label, Text) else Text(node.label)
        prefix = label.cell_len - own.cell_len  # the expand icon
        whole = self._short.get(node.data or "", own)
        shown = whole if whole.cell_len <= room - prefix else None
        if shown is None:
            shown = fitted(whole, fit_text(whole.plain, room - prefix))
        shown = shown.copy()
        shown.stylize(style)
        return Text.assemble(label[:prefix], shown)

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

    # (label, key). The local address comes last: the Log says it for every connection,
    # and for a listener's peers the Listeners tree too.
    COLUMNS = (
        ("id", "id"),
        ("proto", "proto"),
        ("state", "state"),  # for a closed connection, why it ended
        ("remote", "remote"),
        ("in", "in"),
        ("out", "out"),
        ("msgs", "msgs"),  # received/sent: reads or datagrams in, sends out
        ("rate", "rate"),  # both ways, over the last whole second
        ("age", "age"),
        ("local", "local"),
    )
    # Every column is as wide as its widest cell while the table has room. When it has not,
    # these give way, a step at a time, each step down to the width given (their cells fit
    # themselves: cut before a whole word or in the middle of a host, never in a number);
    # past the last step the table scrolls sideways.
    GIVING_WAY = (
        ("local", 12),
        ("remote", 24),
        ("state", 24),
        ("remote", 15),
        ("state", 12),
        ("local", 7),  # "…:40112": the port, which says which of our sockets it is
        ("remote", 11),  # "12…1:40112": the host's ends and the whole port
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
        if previous == target:
            return  # an unchanged cell still redraws the table: not on every batch
        for cid in {previous, target}:
            if cid is not None and cid in self.rows:
                self.update_cell(cid, "id", self.id_text(cid), update_width=True)

    def id_text(self, cid: str) -> Text:
        # Spans given directly: Text.assemble cost three times as much, for every row.
        spans = [Span(2, 2 + len(cid), "bold")]
        if cid in self.marked:
            spans.append(Span(0, 1, "bold yellow"))
        if cid == self.target:
            spans.append(Span(1, 2, "bold green"))
        mark = "●" if cid in self.marked else " "
        return Text(f"{mark}{'▶' if cid == self.target else ' '}{cid}", spans=spans)

    def on_mount(self) -> None:
        for label, key in self.COLUMNS:
            self.add_column(label, key=key)

    def on_resize(self, event: events.Resize) -> None:
        if self._fit_columns():
            self._require_update_dimensions = True
            self.check_idle()

    def _fit_columns(self) -> bool:
        """Share the width the table has among its columns (see GIVING_WAY); whether a
        column's width changed."""
        room = self.scrollable_content_region.width
        if room <= 0:
            return False  # not laid out yet
        columns = {key.value: column for key, column in self.columns.items()}
        padding = 2 * self.cell_padding
        giving = {key for key, _ in self.GIVING_WAY if key in columns}
        others = sum(
            column.get_render_width(self) for key, column in columns.items() if key not in giving
        )
        widths = {key: columns[key].content_width for key in giving}
        excess = others + sum(width + padding for width in widths.values()) - room
        for key, narrowest in self.GIVING_WAY:
            given = min(max(excess, 0), max(0, widths.get(key, 0) - narrowest))
            if given:
                widths[key] -= given
                excess -= given
        changed = False
        for key, width in widths.items():
            column = columns[key]
            if column.auto_width or column.width != width:
                column.auto_width, column.width = False, width
                changed = True
        if changed:
            self._update_count += 1  # the cells' renderings were cached at the old widths
        return changed

    def sync(self, session: Session) -> set[str]:
        """Add rows for new connections and remove the forgotten ones; the others stay as
        they are (rebuilding 5,000 rows on every new connection took seconds). Returns the
        ids of the rows added."""
        connections = session.connections
        for key in [key for key in self.rows if key.value not in connections]:
            self.remove_row(key)
        new = [(cid, self.cells(conn)) for cid, conn in connections.items() if cid not in self.rows]
        self._add_rows(new)
        return {cid for cid, _ in new}

    def _add_rows(self, rows: list[tuple[str, tuple[Text, ...]]]) -> None:
        """`add_row` for many rows: the columns looked up and the cursor checked once, not
        for every row (in `add_row` that was half the cost of listing 5,000 connections).
        Textual 8.2's own steps otherwise (the version is pinned)."""
        if not rows:
            return
        was_empty = self.row_count == 0
        keys = [column.key for column in self.ordered_columns]
        for cid, cells in rows:
            row_key = RowKey(cid)
            self._row_locations[row_key] = len(self.rows)
            self._data[row_key] = dict(zip(keys, cells, strict=True))
            self.rows[row_key] = TableRow(row_key, 1)
            self._new_rows.add(row_key)
        self._require_update_dimensions = True
        self.cursor_coordinate = self.cursor_coordinate
        if was_empty and self.columns and self.show_cursor and self.cursor_type != "none":
            self._highlight_cursor()
        self._update_count += 1
        self.check_idle()

    # Textual measures every cell it is given with Rich (about 30 us each), and re-measures a
    # whole column when a cell gets narrower: with thousands of connections that took
    # seconds. Every cell here is one line of Text, whose width is its cell length, and
    # columns only grow while the table lives.

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        columns = self.ordered_columns
        for row_key in new_rows:
            cells = self._data.get(row_key)
            if cells is None:
                continue  # removed before Textual got to it
            for column in columns:
                cell = cells.get(column.key)
                if isinstance(cell, Text):
                    column.content_width = max(column.content_width, cell.cell_len)
        self._fit_columns()
        super()._update_dimensions(())

    def _update_column_widths(self, updated_cells: set[CellKey]) -> None:
        for row_key, column_key in updated_cells:
            column = self.columns.get(column_key)
            cell = self._data.get(row_key, {}).get(column_key)
            if column is not None and isinstance(cell, Text):
                column.content_width = max(column.content_width, cell.cell_len)
        if self._fit_columns():
            self._require_update_dimensions = True

    def refresh_rows(self, session: Session, ids: set[str]) -> None:
        """Update the cells that changed (each update costs a refresh of the table)."""
        for cid in ids:
            conn = session.connections.get(cid)
            if conn is None or cid not in self.rows:
                continue
            shown = self._data.get(self.rows[RowKey(cid)].key, {})
            for (_, key), value in zip(self.COLUMNS, self.cells(conn), strict=True):
                if not same_text(shown.get(key), value):  # type: ignore[call-overload]
                    self.update_cell(cid, key, value, update_width=True)

    def refresh_each_second(self, session: Session) -> None:
        """Once a second: the ages and rates of the rows in sight (and a screen's worth
        around them); the others are brought up to date when they scroll into sight."""
        top = max(0, self.scroll_offset.y - self.size.height)
        rows = self.ordered_rows[top : self.scroll_offset.y + 2 * self.size.height]
        now = self._clock()
        for row in rows:
            conn = session.connections.get(row.key.value or "")
            if conn is not None and conn.closed_at is None:
                # Both grow wider ("59s" to "1m00s", "-" to "26B/s"): the column follows.
                self.update_cell(row.key, "age", self.age_text(conn), update_width=True)
                rate = shared(rate_text(conn, now), "", "right")
                if not same_text(self._data[row.key].get("rate"), rate):  # type: ignore[call-overload]
                    self.update_cell(row.key, "rate", rate, update_width=True)

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
            proto_text(conn),
            connection_state_text(conn),
            fitting(conn.remote, "", FittingAddress),
            shared(format_size(conn.bytes_in), "", "right"),
            shared(format_size(conn.bytes_out), "", "right"),
            shared(f"{short_count(conn.chunks_in)}/{short_count(conn.chunks_out)}", "", "right"),
            shared(rate_text(conn, self._clock()), "", "right"),
            self.age_text(conn),
            shared_fitting(conn.local or "-", "", FittingAddress),
        )

    def age_text(self, conn: ConnectionInfo) -> Text:
        end = conn.closed_at if conn.closed_at is not None else self._clock()
        return shared(format_age(end - conn.opened_at), "", "right")
