"""Real peers for tests: event collection, small threaded servers, and socat/ncat/http.server
subprocesses. Everything binds to loopback, every wait has a timeout, and every thread and
subprocess is ended when its context manager exits.

Shared by the engine tests and the UI tests.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from workbench.engine import EventBridge
from workbench.protocol import events as ev

LOCALHOST = "127.0.0.1"
DEFAULT_TIMEOUT = 5.0
POLL_SECONDS = 0.02

requires_socat = pytest.mark.skipif(
    shutil.which("socat") is None, reason="socat is not installed (apt-get install socat)"
)
requires_ncat = pytest.mark.skipif(
    shutil.which("ncat") is None, reason="ncat is not installed (apt-get install ncat)"
)


def ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


requires_ipv6 = pytest.mark.skipif(
    not ipv6_loopback_available(), reason="IPv6 loopback (::1) is not available here"
)


# --- waiting ---

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T], timeout: float = DEFAULT_TIMEOUT, what: str = "condition"
) -> T:
    """Poll `condition` until it returns something truthy; return that. AssertionError on
    timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(POLL_SECONDS)


class Collector:
    """Drains an EventBridge into `events` (in order) and waits for events with a timeout."""

    def __init__(self, bridge: EventBridge) -> None:
        self.bridge = bridge
        self.events: list[ev.Event] = []

    def pump(self, timeout: float = 0.0) -> list[ev.Event]:
        """Drain the bridge once (waiting up to `timeout` for the first event)."""
        new = self.bridge.drain(timeout)
        self.events.extend(new)
        return new

    def first(self, predicate: Callable[[ev.Event], bool]) -> ev.Event | None:
        return next((e for e in self.events if predicate(e)), None)

    def wait_for(
        self, predicate: Callable[[ev.Event], bool], timeout: float = DEFAULT_TIMEOUT
    ) -> Any:
        """The first event seen so far (or arriving within `timeout`) that matches."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.first(predicate)
            if found is not None:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"no matching event within {timeout:g} s; events seen:\n{self.describe()}"
                )
            self.pump(min(remaining, 0.1))

    def wait_until(
        self, condition: Callable[[], T], timeout: float = DEFAULT_TIMEOUT, what: str = ""
    ) -> T:
        """Pump events until `condition()` (which may look at self.events) is truthy."""
        deadline = time.monotonic() + timeout
        while True:
            result = condition()
            if result:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out after {timeout:g} s waiting for {what or 'a condition'}; "
                    f"events seen:\n{self.describe()}"
                )
            self.pump(min(remaining, 0.1))

    def settle(self, quiet: float = 0.2) -> None:
        """Pump until no event arrives for `quiet` seconds (bounded to 10 quiet periods)."""
        for _ in range(10):
            if not self.pump(quiet):
                return

    # typed shortcuts

    def of(self, kind: type[T], cid: str | None = None) -> list[T]:
        return [
            e
            for e in self.events
            if isinstance(e, kind) and (cid is None or getattr(e, "cid", None) == cid)
        ]

    def for_conn(self, cid: str) -> list[ev.Event]:
        return [e for e in self.events if getattr(e, "cid", None) == cid]

    def data(self, cid: str, outgoing: bool) -> list[ev.Data]:
        return [e for e in self.of(ev.Data, cid) if e.outgoing == outgoing]

    def received(self, cid: str) -> bytes:
        """Bytes the engine received on `cid` (exact while the bridge was not under pressure)."""
        return b"".join(e.data for e in self.data(cid, outgoing=False))

    def sent(self, cid: str) -> bytes:
        return b"".join(e.data for e in self.data(cid, outgoing=True))

    def size(self, cid: str, outgoing: bool) -> int:
        return sum(e.size for e in self.data(cid, outgoing))

    def wait_opened(
        self, cid: str | None = None, listener: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> ev.ConnectionOpened:
        """ConnectionOpened for `cid`, or the first one accepted on `listener`."""
        return self.wait_for(
            lambda e: (
                isinstance(e, ev.ConnectionOpened)
                and (cid is None or e.cid == cid)
                and (listener is None or e.listener == listener)
            ),
            timeout,
        )

    def wait_closed(self, cid: str, timeout: float = DEFAULT_TIMEOUT) -> ev.ConnectionClosed:
        return self.wait_for(lambda e: isinstance(e, ev.ConnectionClosed) and e.cid == cid, timeout)

    def wait_received(self, cid: str, size: int, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """Wait until `size` bytes arrived on `cid`; return what arrived."""
        self.wait_until(
            lambda: self.size(cid, outgoing=False) >= size,
            timeout,
            f"{size} bytes received on {cid}",
        )
        return self.received(cid)

    def wait_error(self, source: str, timeout: float = DEFAULT_TIMEOUT) -> ev.ErrorReported:
        return self.wait_for(
            lambda e: isinstance(e, ev.ErrorReported) and e.source == source, timeout
        )

    def describe(self, last: int = 40) -> str:
        shown = self.events[-last:]
        lines = [f"  {_short(e)}" for e in shown]
        if len(self.events) > last:
            lines.insert(0, f"  ... {len(self.events) - last} earlier events")
        return "\n".join(lines) or "  (none)"


def _short(event: ev.Event) -> str:
    if isinstance(event, ev.Data):
        preview = event.data[:40]
        return (
            f"Data(cid={event.cid!r}, outgoing={event.outgoing}, size={event.size}, "
            f"chunks={event.chunks}, data={preview!r}{'...' if len(event.data) > 40 else ''})"
        )
    return repr(event)


_collectors: weakref.WeakKeyDictionary[EventBridge, Collector] = weakref.WeakKeyDictionary()


def collector_for(bridge: EventBridge) -> Collector:
    """One Collector per bridge, so repeated waits on a bridge see every event."""
    found = _collectors.get(bridge)
    if found is None:
        found = _collectors[bridge] = Collector(bridge)
    return found


def wait_for(
    source: Collector | EventBridge,
    predicate: Callable[[ev.Event], bool],
    timeout: float = DEFAULT_TIMEOUT,
) -> Any:
    """The first event from `source` matching `predicate`; AssertionError listing the events
    seen on timeout."""
    collector = source if isinstance(source, Collector) else collector_for(source)
    return collector.wait_for(predicate, timeout)


def listening_port(events: Collector | list[ev.Event], lid: str | None = None) -> int:
    """The port of the (first, or `lid`'s) ListenerOpened event."""
    seen = events.events if isinstance(events, Collector) else events
    for event in seen:
        if isinstance(event, ev.ListenerOpened) and (lid is None or event.lid == lid):
            return port_of(event.local[0])
    raise AssertionError(f"no ListenerOpened{f' for {lid}' if lid else ''} among {seen!r}")


def port_of(address: str) -> int:
    """The port of a 'host:port' or '[v6]:port' string."""
    return int(address.rsplit(":", 1)[1])


# --- plain sockets ---


def connect_client(
    port: int, host: str = LOCALHOST, timeout: float = DEFAULT_TIMEOUT
) -> socket.socket:
    """A blocking client socket with a timeout on every operation."""
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.settimeout(timeout)
    return sock


def recv_exactly(sock: socket.socket, size: int, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """Read exactly `size` bytes (AssertionError if the stream ends or the time runs out)."""
    deadline = time.monotonic() + timeout
    parts: list[bytes] = []
    got = 0
    while got < size:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"received {got} of {size} bytes within {timeout:g} s")
        sock.settimeout(remaining)
        chunk = sock.recv(min(size - got, 1 << 20))
        if not chunk:
            raise AssertionError(f"stream ended after {got} of {size} bytes")
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def recv_until_eof(sock: socket.socket, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """Read until the peer's EOF (AssertionError if it does not come within `timeout`)."""
    deadline = time.monotonic() + timeout
    parts: list[bytes] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no EOF within {timeout:g} s (got {sum(map(len, parts))} bytes)")
        sock.settimeout(remaining)
        chunk = sock.recv(1 << 20)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)


def abort(sock: socket.socket) -> None:
    """Close with a TCP RST (SO_LINGER on, zero timeout)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def free_port(host: str = LOCALHOST) -> int:
    """A port that was free a moment ago (for subprocesses that must be told a port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def closed_port(host: str = LOCALHOST) -> int:
    """A port on which nothing listens (connecting to it is refused)."""
    return free_port(host)


@contextlib.contextmanager
def unanswering_listener(host: str = LOCALHOST) -> Iterator[int]:
    """A port whose accept queue is full, so that new connects get no answer and hang: a
    listener with backlog 0 filled by connects nobody accepts (Linux drops further SYNs)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = socket.socket(family, socket.SOCK_STREAM)
    fillers: list[socket.socket] = []
    try:
        server.bind((host, 0))
        server.listen(0)
        port = server.getsockname()[1]
        for _ in range(4):
            filler = socket.socket(family, socket.SOCK_STREAM)
            filler.setblocking(False)
            fillers.append(filler)
            filler.connect_ex((host, port))
        yield port
    finally:
        for filler in fillers:
            filler.close()
        server.close()


# --- threaded servers ---


class ThreadedServer:
    """A TCP server on loopback, port 0, one thread per connection. Use as a context manager;
    subclasses implement `handle(conn)`. `port`, `connections` (accepted count)."""

    def __init__(self, host: str = LOCALHOST, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.host = host
        self.timeout = timeout
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self.connections = 0
        self.errors: list[BaseException] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._accepter = threading.Thread(target=self._accept_loop, daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"

    def __enter__(self) -> Any:
        self._accepter.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping.set()
        self._accepter.join(self.timeout)
        self.sock.close()
        with self._lock:
            conns, threads = list(self._conns), list(self._threads)
        for conn in conns:
            # shutdown, unlike close, wakes a thread blocked in recv on the socket.
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(self.timeout)

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(self.timeout)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            with self._lock:
                self.connections += 1
                self._conns.append(conn)
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handle(conn)
        except OSError as exc:
            if not self._stopping.is_set():
                self.errors.append(exc)
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def handle(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def received(self, conn: socket.socket) -> Iterator[bytes]:
        """What the client sends, read by read, until its EOF or the server stops."""
        while not self._stopping.is_set():
            try:
                chunk = conn.recv(1 << 16)
            except TimeoutError:
                continue
            if not chunk:
                return
            yield chunk


class EchoServer(ThreadedServer):
    """Sends back everything it receives; answers our EOF with its own."""

    def handle(self, conn: socket.socket) -> None:
        for chunk in self.received(conn):
            conn.sendall(self.answer(chunk))
        if not self._stopping.is_set():
            conn.shutdown(socket.SHUT_WR)

    def answer(self, chunk: bytes) -> bytes:
        """What it sends back for `chunk` (a changed server overrides it)."""
        return chunk


class GreetingServer(ThreadedServer):
    """Sends `greeting` to each client, then closes the connection."""

    def __init__(self, greeting: bytes = b"hello from the greeting server\n", **kw: Any) -> None:
        super().__init__(**kw)
        self.greeting = greeting

    def handle(self, conn: socket.socket) -> None:
        conn.sendall(self.greeting)


class RecordingServer(ThreadedServer):
    """Records what each connection sends (in accept order) and whether it ended with EOF.
    Keeps its side open until the client's EOF or the server stops; `reply` is sent first."""

    def __init__(self, reply: bytes = b"", **kw: Any) -> None:
        super().__init__(**kw)
        self.reply = reply
        self.received: list[bytearray] = []
        self.eof: list[bool] = []

    def handle(self, conn: socket.socket) -> None:
        with self._lock:
            index = len(self.received)
            self.received.append(bytearray())
            self.eof.append(False)
        if self.reply:
            conn.sendall(self.reply)
        while not self._stopping.is_set():
            try:
                chunk = conn.recv(1 << 16)
            except TimeoutError:
                continue
            if not chunk:
                with self._lock:
                    self.eof[index] = True
                return
            with self._lock:
                self.received[index] += chunk

    def data(self, index: int = 0) -> bytes:
        with self._lock:
            return bytes(self.received[index]) if index < len(self.received) else b""

    def wait_for_bytes(self, size: int, index: int = 0, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        wait_until(lambda: len(self.data(index)) >= size, timeout, f"{size} bytes at the server")
        return self.data(index)

    def wait_for_eof(self, index: int = 0, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        wait_until(lambda: index < len(self.eof) and self.eof[index], timeout, "EOF at the server")
        return self.data(index)


# --- subprocess peers ---


class ProcessPeer:
    """A subprocess (socat, ncat, ...) with stdin piped and stdout read by a thread."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self._out = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while chunk := self.proc.stdout.read1(1 << 16):
            with self._lock:
                self._out += chunk

    @property
    def output(self) -> bytes:
        with self._lock:
            return bytes(self._out)

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close_stdin(self) -> None:
        """EOF on stdin: socat and ncat then send EOF to their peer."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()

    def wait_output(self, size: int, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        wait_until(lambda: len(self.output) >= size, timeout, f"{size} bytes from {self.argv[0]}")
        return self.output

    def wait_exit(self, timeout: float = DEFAULT_TIMEOUT) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(DEFAULT_TIMEOUT)
        self._reader.join(DEFAULT_TIMEOUT)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


@contextlib.contextmanager
def process_peer(argv: list[str]) -> Iterator[ProcessPeer]:
    peer = ProcessPeer(argv)
    try:
        yield peer
    finally:
        peer.stop()


def socat_client(
    port: int, host: str = LOCALHOST
) -> contextlib.AbstractContextManager[ProcessPeer]:
    """`socat - TCP:host:port`: stdin goes to the socket, the socket to stdout."""
    address = f"TCP6:[{host}]:{port}" if ":" in host else f"TCP4:{host}:{port}"
    return process_peer(["socat", "-", address])


def ncat_client(port: int, host: str = LOCALHOST) -> contextlib.AbstractContextManager[ProcessPeer]:
    """`ncat host port`: stdin goes to the socket, the socket to stdout."""
    return process_peer(["ncat", host, str(port)])


# --- http.server ---


class HttpServer:
    def __init__(self, port: int, directory: Path, filename: str, content: bytes) -> None:
        self.port = port
        self.directory = directory
        self.filename = filename
        self.content = content

    @property
    def url(self) -> str:
        return f"tcp://{LOCALHOST}:{self.port}"

    def request(self, path: str | None = None) -> bytes:
        """A minimal HTTP/1.0 GET, for typing into a connection."""
        return f"GET /{path or self.filename} HTTP/1.0\r\nHost: {LOCALHOST}\r\n\r\n".encode()


HTTP_FILE_NAME = "hello.txt"
HTTP_FILE_CONTENT = b"hello from sockbench's test http server\n"


@contextlib.contextmanager
def http_server(timeout: float = 10.0) -> Iterator[HttpServer]:
    """`python -m http.server` on 127.0.0.1, serving a temp dir holding `hello.txt`."""
    with tempfile.TemporaryDirectory(prefix="sockbench-http-") as tmp:
        directory = Path(tmp)
        (directory / HTTP_FILE_NAME).write_bytes(HTTP_FILE_CONTENT)
        port = free_port()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "http.server",
                "--bind",
                LOCALHOST,
                "--directory",
                tmp,
                str(port),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until(
                lambda: _accepts(port) or proc.poll() is not None, timeout, "http.server to accept"
            )
            if proc.poll() is not None:
                raise AssertionError(f"http.server exited with {proc.returncode}")
            yield HttpServer(port, directory, HTTP_FILE_NAME, HTTP_FILE_CONTENT)
        finally:
            proc.kill()
            proc.wait(DEFAULT_TIMEOUT)


def _accepts(port: int, host: str = LOCALHOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


# --- datagram and Unix socket peers (UDP, AF_UNIX stream and datagram) ---


def udp_socket(host: str = LOCALHOST, timeout: float = DEFAULT_TIMEOUT) -> socket.socket:
    """A UDP socket bound to `host` on a free port, with a timeout on every operation."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.settimeout(timeout)
    return sock


def closed_udp_port(host: str = LOCALHOST) -> int:
    """A UDP port on which nothing is bound (datagrams sent there draw ICMP port unreachable)."""
    with udp_socket(host) as probe:
        return probe.getsockname()[1]


def recv_nothing(sock: socket.socket, wait: float = 0.2) -> bytes | None:
    """What arrives on `sock` within `wait` seconds (None when nothing does)."""
    sock.settimeout(wait)
    try:
        return sock.recv(1 << 16)
    except (TimeoutError, BlockingIOError):
        return None
    finally:
        sock.settimeout(DEFAULT_TIMEOUT)


def udp_drops(port: int) -> int | None:
    """Datagrams the kernel dropped at the UDP socket bound to `port` (its receive queue was
    full), from /proc/net/udp and /proc/net/udp6; None when no such socket is listed."""
    total = None
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table) as rows:
                lines = rows.read().splitlines()[1:]
        except OSError:
            continue
        for row in lines:
            fields = row.split()
            if fields[1].endswith(f":{port:04X}"):
                total = (total or 0) + int(fields[-1])
    return total


class _ServingThread:
    """A socket served by one thread until `stop`; subclasses implement `serve_once`, called
    in a loop (it should block at most ~0.1 s). Use as a context manager."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.settimeout(0.1)
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(DEFAULT_TIMEOUT)
        self.sock.close()

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.serve_once()
            except TimeoutError:
                continue
            except OSError as exc:
                if not self._stopping.is_set():
                    self.errors.append(exc)
                return

    def serve_once(self) -> None:
        raise NotImplementedError


class UdpEchoServer(_ServingThread):
    """A UDP server on loopback (port 0) that sends each datagram back to its sender, prefixed
    with `prefix`, and records (datagram, sender) in `received`."""

    def __init__(self, host: str = LOCALHOST, prefix: bytes = b"") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.bind((host, 0))
        super().__init__(sock)
        self.host = host
        self.prefix = prefix
        self.port: int = sock.getsockname()[1]
        self.received: list[tuple[bytes, Any]] = []

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"udp://{host}:{self.port}"

    def serve_once(self) -> None:
        data, sender = self.sock.recvfrom(1 << 16)
        with self._lock:
            self.received.append((data, sender))
        self.sock.sendto(self.prefix + data, sender)

    def datagrams(self) -> list[bytes]:
        with self._lock:
            return [data for data, _ in self.received]

    def wait_for_datagrams(self, count: int, timeout: float = DEFAULT_TIMEOUT) -> list[bytes]:
        wait_until(lambda: len(self.datagrams()) >= count, timeout, f"{count} datagrams")
        return self.datagrams()


class UnixDgramServer(_ServingThread):
    """An AF_UNIX datagram server bound at `path` that answers each datagram with `prefix` +
    datagram, and records (datagram, sender address) in `received`."""

    def __init__(self, path: str, prefix: bytes = b"reply: ") -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        super().__init__(sock)
        self.path = path
        self.prefix = prefix
        self.received: list[tuple[bytes, Any]] = []

    def serve_once(self) -> None:
        data, sender = self.sock.recvfrom(1 << 16)
        with self._lock:
            self.received.append((data, sender))
        if sender:
            self.sock.sendto(self.prefix + data, sender)

    def wait_for_datagrams(
        self, count: int, timeout: float = DEFAULT_TIMEOUT
    ) -> list[tuple[bytes, Any]]:
        def enough() -> list[tuple[bytes, Any]] | None:
            with self._lock:
                return list(self.received) if len(self.received) >= count else None

        return wait_until(enough, timeout, f"{count} datagrams at {self.path}")


class UnixEchoServer(_ServingThread):
    """An AF_UNIX stream server at `path`: each connection gets its bytes echoed back (one
    connection at a time, which is all the tests need) and EOF answered with EOF."""

    def __init__(self, path: str) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(path)
        sock.listen(16)
        super().__init__(sock)
        self.path = path
        self.connections = 0

    def serve_once(self) -> None:
        conn, _ = self.sock.accept()
        with self._lock:
            self.connections += 1
        with conn:
            conn.settimeout(0.1)
            while not self._stopping.is_set():
                try:
                    chunk = conn.recv(1 << 16)
                except TimeoutError:
                    continue
                if not chunk:
                    conn.shutdown(socket.SHUT_WR)
                    return
                conn.sendall(chunk)


@contextlib.contextmanager
def short_temp_dir(prefix: str = "sb-") -> Iterator[Path]:
    """A fresh directory directly under /tmp: pytest's tmp_path can be too long for a Unix
    socket path (107 bytes). Removed afterwards with everything in it."""
    directory = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    try:
        yield Path(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def socat_udp_client(
    port: int, host: str = LOCALHOST
) -> contextlib.AbstractContextManager[ProcessPeer]:
    """`socat - UDP:host:port`: each write to stdin is one datagram; replies go to stdout."""
    address = f"UDP6:[{host}]:{port}" if ":" in host else f"UDP4:{host}:{port}"
    return process_peer(["socat", "-", address])


def ncat_udp_client(
    port: int, host: str = LOCALHOST
) -> contextlib.AbstractContextManager[ProcessPeer]:
    """`ncat -u host port`: each line on stdin is one datagram; replies go to stdout."""
    return process_peer(["ncat", "-u", host, str(port)])
