"""Unix socket paths (workbench/engine/unix.py) against real sockets, files and socat.

Everything lives in pytest's tmp_path; abstract names carry the pid and a counter so parallel
runs never collide. Every wait has a timeout.
"""

from __future__ import annotations

import errno
import itertools
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from unprivileged import require_nobody, run_as_nobody

from workbench.engine.unix import (
    UnixPathError,
    bound_identity,
    describe_unix_error,
    dgram_client_socket,
    prepare_listen_path,
    remove_own_socket,
)
from workbench.protocol.endpoints import UNIX_PATH_MAX

TIMEOUT = 5.0
POLL_SECONDS = 0.02

requires_linux = pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="abstract Unix socket names and autobind are Linux-only",
)
requires_socat = pytest.mark.skipif(
    shutil.which("socat") is None, reason="socat is not installed (apt-get install socat)"
)

_counter = itertools.count()


def abstract_name() -> str:
    return f"\0sockbench-test-{os.getpid()}-{next(_counter)}"


def unix_socket(kind: int) -> socket.socket:
    return socket.socket(socket.AF_UNIX, kind)


def make_stale(path: Path, kind: int) -> None:
    """Leave a socket file behind, as a listener that crashed would."""
    sock = unix_socket(kind)
    sock.bind(str(path))
    if kind == socket.SOCK_STREAM:
        sock.listen()
    sock.close()
    assert path.is_socket()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def wait_for_socket_file(path: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not path.is_socket():
        if proc.poll() is not None:
            pytest.fail(f"socat exited early with {proc.returncode}")
        if time.monotonic() > deadline:
            pytest.fail(f"socat did not create {path} within {TIMEOUT} s")
        time.sleep(POLL_SECONDS)


@pytest.fixture
def sock_path(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "s.sock"


# --- stale sockets ---


@pytest.mark.parametrize(
    ("kind", "name"), [(socket.SOCK_STREAM, "stream"), (socket.SOCK_DGRAM, "dgram")]
)
def test_stale_socket_is_removed_and_can_be_bound_again(
    sock_path: Path, kind: int, name: str
) -> None:
    make_stale(sock_path, kind)
    prepare_listen_path(str(sock_path), name)
    assert not os.path.lexists(sock_path)
    with unix_socket(kind) as again:
        again.bind(str(sock_path))


def test_nothing_there_is_fine(sock_path: Path) -> None:
    prepare_listen_path(str(sock_path), "stream")
    assert not os.path.lexists(sock_path)


def test_relative_path_in_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    make_stale(tmp_path / "rel.sock", socket.SOCK_STREAM)
    prepare_listen_path("rel.sock", "stream")
    assert not (tmp_path / "rel.sock").exists()


# --- live sockets are never removed ---


def test_live_python_listener_is_in_use(sock_path: Path) -> None:
    with unix_socket(socket.SOCK_STREAM) as listener:
        listener.bind(str(sock_path))
        listener.listen()
        with pytest.raises(UnixPathError) as caught:
            prepare_listen_path(str(sock_path), "stream")
        assert str(caught.value) == f"{sock_path} is in use: another program is listening there"
        assert caught.value.errno == errno.EADDRINUSE
        assert sock_path.is_socket()
        # The probe must not leave a connection for the other program to accept.
        listener.settimeout(0.2)
        with pytest.raises(TimeoutError):
            listener.accept()


def test_live_dgram_receiver_is_in_use(sock_path: Path) -> None:
    with unix_socket(socket.SOCK_DGRAM) as receiver:
        receiver.bind(str(sock_path))
        with pytest.raises(UnixPathError, match="is in use"):
            prepare_listen_path(str(sock_path), "dgram")
        assert sock_path.is_socket()


def test_live_socket_of_the_other_kind_is_in_use(sock_path: Path) -> None:
    with unix_socket(socket.SOCK_STREAM) as listener:
        listener.bind(str(sock_path))
        listener.listen()
        with pytest.raises(UnixPathError, match="is in use"):
            prepare_listen_path(str(sock_path), "dgram")
        assert sock_path.is_socket()


def test_bound_but_not_yet_listening_stream_socket_is_in_use(sock_path: Path) -> None:
    # A program between bind() and listen(): a stream connect() would see ECONNREFUSED here.
    with unix_socket(socket.SOCK_STREAM) as starting:
        starting.bind(str(sock_path))
        with pytest.raises(UnixPathError, match="is in use"):
            prepare_listen_path(str(sock_path), "stream")
        assert sock_path.is_socket()


def test_dgram_receiver_connected_elsewhere_is_in_use(tmp_path: Path) -> None:
    # A connected datagram socket refuses others with EPERM: still a live socket.
    with unix_socket(socket.SOCK_DGRAM) as other, unix_socket(socket.SOCK_DGRAM) as busy:
        other.bind(str(tmp_path / "other.sock"))
        busy.bind(str(tmp_path / "busy.sock"))
        busy.connect(str(tmp_path / "other.sock"))
        with pytest.raises(UnixPathError, match="is in use"):
            prepare_listen_path(str(tmp_path / "busy.sock"), "dgram")


@requires_socat
def test_live_socat_listener_is_in_use(sock_path: Path) -> None:
    proc = subprocess.Popen(
        ["socat", f"UNIX-LISTEN:{sock_path},fork", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_socket_file(sock_path, proc)
        with pytest.raises(UnixPathError) as caught:
            prepare_listen_path(str(sock_path), "stream")
        assert str(caught.value) == f"{sock_path} is in use: another program is listening there"
        assert sock_path.is_socket()
        assert proc.poll() is None, "the probe disturbed socat"
    finally:
        proc.kill()
        proc.wait(timeout=TIMEOUT)
        if proc.stdin:
            proc.stdin.close()


# --- things that are not sockets are left alone ---


def test_regular_file_is_refused_and_kept(sock_path: Path) -> None:
    sock_path.write_bytes(b"precious")
    with pytest.raises(UnixPathError) as caught:
        prepare_listen_path(str(sock_path), "stream")
    assert str(caught.value) == f"{sock_path} exists and is not a socket; not replacing it"
    assert sock_path.read_bytes() == b"precious"


def test_directory_is_refused_and_kept(sock_path: Path) -> None:
    sock_path.mkdir()
    (sock_path / "inside").write_text("x")
    with pytest.raises(UnixPathError, match="exists and is not a socket"):
        prepare_listen_path(str(sock_path), "dgram")
    assert (sock_path / "inside").read_text() == "x"


def test_fifo_is_refused_and_kept(sock_path: Path) -> None:
    os.mkfifo(sock_path)
    with pytest.raises(UnixPathError, match="exists and is not a socket"):
        prepare_listen_path(str(sock_path), "stream")
    assert sock_path.is_fifo()


def test_symlink_to_stale_socket_is_refused_and_kept(tmp_path: Path) -> None:
    target = tmp_path / "target.sock"
    make_stale(target, socket.SOCK_STREAM)
    link = tmp_path / "link.sock"
    link.symlink_to(target)
    with pytest.raises(UnixPathError, match="exists and is not a socket"):
        prepare_listen_path(str(link), "stream")
    assert link.is_symlink()
    assert target.is_socket()


# --- paths that cannot work ---


def test_missing_parent_directory(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "x.sock"
    with pytest.raises(UnixPathError) as caught:
        prepare_listen_path(str(path), "stream")
    assert str(caught.value) == (
        f"cannot listen on {path}: the directory {tmp_path / 'nope'} does not exist"
    )
    assert caught.value.errno == errno.ENOENT


def test_missing_directories_deeper_down(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "x.sock"
    with pytest.raises(UnixPathError, match=r"the directory .*/a/b does not exist"):
        prepare_listen_path(str(path), "stream")


def test_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    path = tmp_path / "file" / "x.sock"
    with pytest.raises(UnixPathError) as caught:
        prepare_listen_path(str(path), "stream")
    assert str(caught.value) == f"cannot listen on {path}: {tmp_path / 'file'} is not a directory"


def test_path_too_long(tmp_path: Path) -> None:
    path = str(tmp_path / ("x" * UNIX_PATH_MAX))
    with pytest.raises(UnixPathError, match=rf"too long: \d+ bytes, the limit is {UNIX_PATH_MAX}"):
        prepare_listen_path(path, "stream")


# Run as nobody from root (root bypasses file permissions); nobody must be able to reach the
# directory, so it is made in a world-readable one rather than in pytest's private tmp_path.
LOCKED_CHILD = """
import sys
from workbench.engine.unix import UnixPathError, prepare_listen_path
try:
    prepare_listen_path(sys.argv[1], "stream")
except UnixPathError as exc:
    print(exc)
else:
    print("no error")
"""


def test_directory_without_write_permission() -> None:
    with tempfile.TemporaryDirectory(prefix="sockbench-perm-") as folder:
        os.chmod(folder, 0o755)
        locked = Path(folder) / "locked"
        locked.mkdir(mode=0o555)
        path = str(locked / "x.sock")
        try:
            if os.geteuid() == 0:
                require_nobody()
                result = run_as_nobody("-c", LOCKED_CHILD, path)
                assert result.returncode == 0, result.stderr
                said = result.stdout.strip()
            else:
                with pytest.raises(UnixPathError) as caught:
                    prepare_listen_path(path, "stream")
                said = str(caught.value)
        finally:
            locked.chmod(0o700)
    assert said == (
        f"cannot listen on {path}: permission denied: cannot create files in the directory {locked}"
    )


def test_unknown_kind_is_a_programming_error(sock_path: Path) -> None:
    with pytest.raises(ValueError):
        prepare_listen_path(str(sock_path), "seqpacket")


@requires_linux
def test_abstract_names_skip_all_checks() -> None:
    name = abstract_name()
    with unix_socket(socket.SOCK_STREAM) as listener:
        listener.bind(name)
        listener.listen()
        prepare_listen_path(name, "stream")  # bind() itself will report the clash
    assert bound_identity(name) is None
    remove_own_socket(name, (1, 2))  # a no-op, and no error


# --- removing our own socket file, and only ours ---


def test_remove_own_socket_removes_our_file(sock_path: Path) -> None:
    with unix_socket(socket.SOCK_STREAM) as listener:
        listener.bind(str(sock_path))
        listener.listen()
        identity = bound_identity(str(sock_path))
    assert identity is not None
    remove_own_socket(str(sock_path), identity)
    assert not os.path.lexists(sock_path)


def test_remove_own_socket_keeps_a_replacement(sock_path: Path) -> None:
    ours = unix_socket(socket.SOCK_STREAM)
    ours.bind(str(sock_path))
    ours.listen()
    identity = bound_identity(str(sock_path))
    assert identity is not None
    # Another program takes over the path while our listener is still open.
    sock_path.unlink()
    with unix_socket(socket.SOCK_STREAM) as theirs:
        theirs.bind(str(sock_path))
        theirs.listen()
        ours.close()
        remove_own_socket(str(sock_path), identity)
        assert sock_path.is_socket()
        assert bound_identity(str(sock_path)) != identity


def test_remove_own_socket_keeps_a_regular_file_put_there(sock_path: Path) -> None:
    with unix_socket(socket.SOCK_DGRAM) as ours:
        ours.bind(str(sock_path))
        identity = bound_identity(str(sock_path))
    sock_path.unlink()
    sock_path.write_text("someone else's")
    remove_own_socket(str(sock_path), identity)
    assert sock_path.read_text() == "someone else's"


def test_remove_own_socket_never_raises(tmp_path: Path) -> None:
    missing = tmp_path / "gone.sock"
    remove_own_socket(str(missing), (1, 2))
    remove_own_socket(str(missing), None)
    remove_own_socket(str(tmp_path / "no" / "dir.sock"), (1, 2))


def test_bound_identity_of_a_vanished_file(sock_path: Path) -> None:
    assert bound_identity(str(sock_path)) is None


# --- datagram clients ---


def wait_readable(sock: socket.socket) -> None:
    ready, _, _ = select.select([sock], [], [], TIMEOUT)
    assert ready, f"nothing arrived within {TIMEOUT} s"


def exchange(server_address: str, server: socket.socket) -> None:
    server.settimeout(TIMEOUT)
    client = dgram_client_socket(server_address)
    try:
        assert client.getblocking() is False
        client.send(b"ping")
        data, reply_to = server.recvfrom(65536)
        assert data == b"ping"
        # Autobind: the client has an abstract address the server can answer.
        assert isinstance(reply_to, bytes) and reply_to.startswith(b"\0")
        server.sendto(b"pong", reply_to)
        wait_readable(client)
        assert client.recv(65536) == b"pong"
    finally:
        client.close()


@requires_linux
def test_dgram_client_talks_to_a_filesystem_server(sock_path: Path) -> None:
    with unix_socket(socket.SOCK_DGRAM) as server:
        server.bind(str(sock_path))
        exchange(str(sock_path), server)


@requires_linux
def test_dgram_client_talks_to_an_abstract_server() -> None:
    name = abstract_name()
    with unix_socket(socket.SOCK_DGRAM) as server:
        server.bind(name)
        exchange(name, server)


def test_dgram_client_to_missing_path(sock_path: Path) -> None:
    before = open_fds()
    with pytest.raises(UnixPathError) as caught:
        dgram_client_socket(str(sock_path))
    assert str(caught.value) == f"no such socket: {sock_path}"
    assert caught.value.errno == errno.ENOENT
    assert open_fds() == before, "the failed socket was not closed"


def test_dgram_client_to_stale_socket(sock_path: Path) -> None:
    make_stale(sock_path, socket.SOCK_DGRAM)
    with pytest.raises(UnixPathError) as caught:
        dgram_client_socket(str(sock_path))
    assert str(caught.value) == f"nothing is bound at {sock_path} (connection refused)"


def test_dgram_client_to_stream_listener(sock_path: Path) -> None:
    with unix_socket(socket.SOCK_STREAM) as listener:
        listener.bind(str(sock_path))
        listener.listen()
        with pytest.raises(UnixPathError, match=r"another type \(stream vs datagram\)"):
            dgram_client_socket(str(sock_path))


@requires_linux
def test_dgram_client_to_missing_abstract_name() -> None:
    name = abstract_name()
    with pytest.raises(UnixPathError) as caught:
        dgram_client_socket(name)
    assert str(caught.value) == f"nothing is bound at @{name[1:]} (connection refused)"


# --- messages ---


def real_error(call: object) -> OSError:
    try:
        call()  # type: ignore[operator]
    except OSError as exc:
        return exc
    raise AssertionError("expected an OSError")


def test_describe_real_errors(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.sock")
    with unix_socket(socket.SOCK_STREAM) as probe:
        exc = real_error(lambda: probe.connect(missing))
    assert exc.errno == errno.ENOENT
    assert describe_unix_error(exc, missing) == f"no such socket: {missing}"

    stale = tmp_path / "stale.sock"
    make_stale(stale, socket.SOCK_STREAM)
    with unix_socket(socket.SOCK_STREAM) as probe:
        exc = real_error(lambda: probe.connect(str(stale)))
    assert exc.errno == errno.ECONNREFUSED
    assert describe_unix_error(exc, str(stale)) == f"nothing is listening at {stale}"

    with unix_socket(socket.SOCK_STREAM) as probe:
        exc = real_error(lambda: probe.bind(str(stale)))
    assert exc.errno == errno.EADDRINUSE
    assert describe_unix_error(exc, str(stale)).startswith(f"{stale} is in use")

    with unix_socket(socket.SOCK_DGRAM) as dgram, unix_socket(socket.SOCK_STREAM) as probe:
        dgram.bind(str(tmp_path / "d.sock"))
        exc = real_error(lambda: probe.connect(str(tmp_path / "d.sock")))
    assert exc.errno == errno.EPROTOTYPE
    assert describe_unix_error(exc, "x") == "x is a socket of another type (stream vs datagram)"

    too_long = "/" + "x" * UNIX_PATH_MAX
    with unix_socket(socket.SOCK_STREAM) as probe:
        exc = real_error(lambda: probe.connect(too_long))
    assert "too long" in describe_unix_error(exc, too_long)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (errno.ENOENT, "no such socket: /tmp/x.sock"),
        (errno.ECONNREFUSED, "nothing is listening at /tmp/x.sock"),
        (errno.EACCES, "permission denied for /tmp/x.sock"),
        (errno.EADDRINUSE, "/tmp/x.sock is in use (a socket or file is already there)"),
        (errno.ENOTSOCK, "/tmp/x.sock is not a socket"),
        (errno.ENOTDIR, "a part of /tmp/x.sock is not a directory"),
        (errno.EPROTOTYPE, "/tmp/x.sock is a socket of another type (stream vs datagram)"),
    ],
)
def test_describe_by_errno(code: int, expected: str) -> None:
    assert describe_unix_error(OSError(code, os.strerror(code)), "/tmp/x.sock") == expected


def test_describe_abstract_names_with_at() -> None:
    exc = OSError(errno.ECONNREFUSED, os.strerror(errno.ECONNREFUSED))
    assert describe_unix_error(exc, "\0name") == "nothing is listening at @name"
    assert (
        describe_unix_error(exc, "\0name", kind="dgram")
        == "nothing is bound at @name (connection refused)"
    )


def test_describe_name_too_long() -> None:
    path = "/" + "y" * 200
    text = describe_unix_error(OSError(errno.ENAMETOOLONG, "File name too long"), path)
    assert text.startswith(f"the socket path is too long: 201 bytes, the limit is {UNIX_PATH_MAX}")


def test_unix_path_error_str_is_the_message() -> None:
    exc = UnixPathError("plain words", errno.EADDRINUSE)
    assert str(exc) == "plain words"
    assert exc.errno == errno.EADDRINUSE
    assert isinstance(exc, OSError)
