"""A transcript's session as a pcapng capture: what sockbench recorded, as packets Wireshark
and tshark open and follow (see synthesis.py for the packets, pcapng.py for the file).

Streaming: records are read one at a time and written as they come; nothing holds a
connection's bytes, so a 1 GiB connection exports in the memory of its longest record.
The capture is written to a new private file beside the name asked for and renamed over it
at the end (workbench/files.py): a planted link is replaced, never written through, and a
failed export leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from workbench import __version__
from workbench.files import NewFile, commit, new_file_beside, open_for_reading, same_file
from workbench.protocol.addresses import socket_peer
from workbench.protocol.enums import CloseCause, Direction, RecordKind, Transport
from workbench.transcript.pcapng import LINKTYPE_IPV4, LINKTYPE_IPV6, PcapngWriter
from workbench.transcript.reader import Stats, read, sessions
from workbench.transcript.records import Data, Event, Session
from workbench.transcript.synthesis import (
    Endpoints,
    Packet,
    TcpFlow,
    UdpFlow,
    ip_endpoints,
    unix_endpoints,
)

LINKTYPES = {4: LINKTYPE_IPV4, 6: LINKTYPE_IPV6}
APPLICATION = f"sockbench {__version__}"
TLS_NOTE = (
    "TLS ({version}, {cipher}): these are the decrypted bytes sockbench recorded, shown as "
    "plain TCP; the wire carried TLS records. To read a capture of the wire itself, give "
    "Wireshark the TLS key log (keylog=FILE or SSLKEYLOGFILE)"
)


class ExportError(Exception):
    """What the user asked for cannot be exported, in words."""


@dataclass
class Capture:
    """What an export wrote."""

    session: Session
    sessions: int
    connections: list[str] = field(default_factory=list)  # in the order they opened
    packets: int = 0
    skipped_lines: int = 0  # lines of the session that were not whole records
    without_open: set[str] = field(default_factory=set)  # data of connections never opened


@dataclass
class Connection:
    flow: TcpFlow | UdpFlow
    interface: int
    comment: str | None  # for its next packet (its first, or the first after TLS began)


def chosen_session(path: str, wanted: int) -> tuple[Session, int, int | None]:
    """Session `wanted` of the file (1 = the first), how many it holds, and where the next
    one starts (None: it is the last)."""
    try:
        found = sessions(path)
    except OSError as exc:
        raise ExportError(f"cannot read {path}: {words(exc)}") from None
    if not 1 <= wanted <= len(found):
        holds = f"it holds {len(found)} session(s), numbered from 1" if found else "it holds none"
        raise ExportError(f"no session {wanted} in {path}: {holds}")
    later = found[wanted] if wanted < len(found) else None
    return found[wanted - 1], len(found), later.offset if later is not None else None


def export_pcapng(
    transcript: str,
    output: str,
    session: int | None = None,
    connections: Sequence[str] = (),
    cancelled: Callable[[], bool] | None = None,
) -> Capture:
    """Write session `session` (1 = the first; None: the last) of `transcript` to `output`
    as pcapng, every connection or only `connections`. Raises ExportError (in words), OSError
    (reading or writing), or InterruptedError once `cancelled()`."""
    if same_file(transcript, output):
        raise ExportError(f"{output} is the transcript itself; give the capture another name")
    try:
        start, end, count = 0, None, 0
        if session is not None:  # found first, to read only it
            chosen, count, end = chosen_session(transcript, session)
            start = chosen.offset
        with opened(transcript) as source, created(output) as (temp, file):
            if end is None:  # what the file holds now: a transcript being written grows
                end = os.fstat(source.fileno()).st_size
            stats = Stats()
            only = connections[0] if len(connections) == 1 else None
            records = read(
                source, conn=only, stats=stats, start=start, end=end, cancelled=cancelled
            )
            # The last session, in one pass: each session that begins starts the file anew.
            exporter = Exporter(file, transcript, output, set(connections), stats)
            capture = exporter.run(records)
            if capture is None:
                raise ExportError(f"{transcript} holds no session: is it a sockbench transcript?")
            capture.sessions = count or stats.sessions
            capture.skipped_lines = stats.skipped - exporter.skipped_before
            missing = [cid for cid in connections if cid not in capture.connections]
            if missing:
                raise ExportError(no_connection(missing, capture))
            with said_as_writing(output):
                file.flush()
                replaceable(temp, output)
                commit(temp, output)
    except ValueError as exc:  # a session of a newer schema: NewerSchema says so in words
        raise ExportError(str(exc)) from None
    return capture


def words(exc: OSError) -> str:
    return exc.strerror or str(exc)


@contextlib.contextmanager
def said_as_writing(output: str) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        raise ExportError(f"cannot write {output}: {words(exc)}") from None


@contextlib.contextmanager
def opened(path: str) -> Iterator[BinaryIO]:
    try:
        source = open_for_reading(path)
    except OSError as exc:
        raise ExportError(f"cannot read {path}: {words(exc)}") from None
    with source:
        yield source


def replaceable(temp: NewFile, output: str) -> None:
    """Only a file (or a link, replaced, not followed) is replaced by the capture: as root,
    renaming over /dev/full would put a file where the device was."""
    try:
        mode = os.stat(temp.name, dir_fd=temp.directory, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise ExportError(
            f"cannot write {output}: it is not a regular file (a device, a pipe or a "
            "directory); give the name of a file"
        )


@contextlib.contextmanager
def created(output: str) -> Iterator[tuple[NewFile, BinaryIO]]:
    """The new file the capture is written to; an error writing it is said as such."""
    with contextlib.ExitStack() as stack:
        with said_as_writing(output):
            made = stack.enter_context(new_file_beside(output))
        replaceable(made[0], output)  # said now, before the work; checked again at the end
        yield made


def no_connection(missing: list[str], capture: Capture) -> str:
    names = ", ".join(missing)
    return f"no connection {names} in session {capture.session.number} of the transcript"


class Exporter:
    """Turns one session's records into packets, written as they come (the last session's,
    when the records hold several)."""

    def __init__(
        self, file: BinaryIO, path: str, output: str, wanted: set[str], stats: Stats
    ) -> None:
        self.file = file
        self.output = output
        self.path = path
        self.wanted = wanted
        self.stats = stats
        self.skipped_before = 0  # lines skipped before the session exported
        self.capture: Capture | None = None
        self.writer = PcapngWriter(file, APPLICATION)
        self.open: dict[str, Connection] = {}
        self.interfaces: dict[int, int] = {}

    def begin(self, session: Session) -> Capture:
        """A session begins: the capture starts anew with it (a later one replaces it)."""
        if self.capture is not None:
            self.file.seek(0)
            self.file.truncate()
            self.writer = PcapngWriter(self.file, APPLICATION)
            self.open.clear()
            self.interfaces.clear()
        self.skipped_before = self.stats.skipped
        self.capture = Capture(session, 0)
        return self.capture

    def run(self, records: Iterable[Session | Data | Event]) -> Capture | None:
        for record in records:
            if isinstance(record, Session):
                self.begin(record)
            elif self.capture is None:
                continue  # before any session: not a record sockbench writes
            elif isinstance(record, Data):
                self.data(record)
            elif isinstance(record, Event) and (not self.wanted or record.conn in self.wanted):
                self.event(record)
        if self.capture is not None:
            self.capture.packets = self.writer.packets
        return self.capture

    @property
    def current(self) -> Capture:
        assert self.capture is not None, "records are exported once a session has begun"
        return self.capture

    def interface(self, version: int) -> int:
        if version not in self.interfaces:
            self.interfaces[version] = self.writer.add_interface(
                LINKTYPES[version],
                f"sockbench-ipv{version}",
                f"IPv{version} packets synthesised from session {self.current.session.number} "
                f"of the sockbench transcript {self.path}",
            )
        return self.interfaces[version]

    def write(self, connection: Connection, stamp: float, packets: Iterable[Packet]) -> None:
        microseconds = round(stamp * 1_000_000)
        with said_as_writing(self.output):
            for packet in packets:
                self.writer.write_packet(
                    connection.interface,
                    microseconds,
                    packet.headers,
                    packet.payload,
                    connection.comment,
                )
                connection.comment = None

    def data(self, record: Data) -> None:
        connection = self.open.get(record.cid)
        if connection is None:
            if not self.wanted or record.cid in self.wanted:
                self.current.without_open.add(record.cid)
            return
        from_local = record.dir is Direction.OUT
        flow = connection.flow
        if isinstance(flow, TcpFlow):
            self.write(connection, record.ts, flow.data(from_local, record.data))
        else:
            self.write(connection, record.ts, flow.datagram(from_local, record.data))

    def event(self, record: Event) -> None:
        if record.event is RecordKind.OPEN:
            self.opened(record)
            return
        connection = self.open.get(record.conn)
        if connection is None:
            return
        flow = connection.flow
        if record.event is RecordKind.TLS:
            connection.comment = TLS_NOTE.format(
                version=record.fields.get("version", "?"), cipher=record.fields.get("cipher", "?")
            )
        elif record.event is RecordKind.EOF and isinstance(flow, TcpFlow):
            from_local = record.fields.get("dir") == Direction.OUT
            self.write(connection, record.ts, flow.fin(from_local))
        elif record.event is RecordKind.CLOSE:
            del self.open[record.conn]
            if isinstance(flow, TcpFlow):
                reset, by_local = how_closed(record.fields)
                self.write(connection, record.ts, flow.close(reset, by_local))

    def opened(self, record: Event) -> None:
        cid, fields = record.conn, record.fields
        if cid in self.open or cid in self.current.connections:
            return  # an id opened twice in one session: not a record sockbench writes
        transport = str(fields.get("transport", ""))
        listener = fields.get("listener")
        listener = listener if isinstance(listener, str) else None
        local, remote = str(fields.get("local", "")), str(fields.get("remote", ""))
        endpoints = endpoints_of(cid, transport, listener, local, remote)
        flow: TcpFlow | UdpFlow
        if transport in (Transport.UDP, Transport.UNIX_DGRAM):
            flow = UdpFlow(endpoints)
        else:
            flow = TcpFlow(endpoints, f"{self.current.session.number} {cid}")
        how = f"accepted by listener {listener}" if listener else "outgoing"
        comment = f"{cid} ({transport}, {how}): local {local}, remote {remote}"
        if endpoints.note:
            comment += f"; {endpoints.note}"
        connection = Connection(flow, self.interface(endpoints.version), comment)
        self.open[cid] = connection
        self.current.connections.append(cid)
        if isinstance(flow, TcpFlow):
            self.write(connection, record.ts, flow.handshake())


def endpoints_of(
    cid: str, transport: str, listener: str | None, local: str, remote: str
) -> Endpoints:
    local_connected = listener is None
    if transport in (Transport.UNIX, Transport.UNIX_DGRAM):
        shown = "UDP" if transport == Transport.UNIX_DGRAM else "TCP"
        why = f"a Unix socket has no IP address; synthesised as {shown}"
        return unix_endpoints(cid, listener, why)
    # The packets went between the sockets: a PROXY-named client is said in the comment.
    found = ip_endpoints(local, socket_peer(remote), local_connected)
    if found is None:
        why = "its addresses are not two IP addresses of one family"
        return unix_endpoints(cid, listener, why)
    return found


def how_closed(fields: dict[str, object]) -> tuple[bool, bool]:
    """(reset, by the local side) from a close record: its `cause` says who, its `reason`
    whether it was a reset (a reset's reason says so, or counts bytes never sent)."""
    reason = str(fields.get("reason", "")).lower()
    cause = str(fields.get("cause", CloseCause.UNKNOWN))
    by_local = cause != CloseCause.PEER
    reset = (
        "reset" in reason
        or "were not sent" in reason
        or reason.startswith("cut off")  # a broker's peer that did not read
        or "broken pipe" in reason
        or cause == CloseCause.ERROR
    )
    if reset and ("by peer" in reason or cause == CloseCause.ERROR):
        by_local = False  # the peer's reset, or a connection lost: the far side's doing
    return reset, by_local
