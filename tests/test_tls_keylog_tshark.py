"""The key log decrypts a capture: tshark, given the file `keylog=` wrote, reads the bytes a
client sent inside TLS to a sockbench listener. Skipped where tshark, dumpcap or capturing
on the loopback interface is not to be had (apt-get install tshark; capturing needs root or
the wireshark group)."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path
from typing import IO

import pytest
from peers import Collector
from test_tls import listen
from tls_certs import make_pki

from workbench.engine import Engine
from workbench.protocol import events as ev

MARKER = b"secret-marker-4242"
WAIT = 15.0

pytestmark = pytest.mark.skipif(
    shutil.which("tshark") is None or shutil.which("dumpcap") is None,
    reason="tshark and dumpcap are not installed (apt-get install tshark)",
)


def start_capture(port: int, file: Path) -> subprocess.Popen[bytes]:
    """dumpcap on the loopback interface, writing to a pipe (flushed packet by packet, unlike
    a file) that a thread copies to `file`; once its filter takes packets."""
    argv = ["dumpcap", "-q", "-i", "lo", "-f", f"tcp port {port}", "-w", "-"]
    capture = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert capture.stderr is not None and capture.stdout is not None
    ready, _, _ = select.select([capture.stderr], [], [], WAIT)
    said = capture.stderr.readline().decode(errors="replace") if ready else ""
    if "Capturing on" not in said:
        capture.kill()
        capture.wait(WAIT)
        pytest.skip(f"cannot capture on the loopback interface here: {said.strip() or 'no word'}")
    threading.Thread(target=copy, args=(capture.stdout, file), daemon=True).start()
    # It says so before its filter is in place: knock (a plain connect, which the TLS
    # listener refuses) until a packet is in the file.
    deadline = time.monotonic() + WAIT
    while not captured(file, "tcp"):
        if time.monotonic() > deadline:
            capture.kill()
            pytest.skip("dumpcap captured nothing on the loopback interface")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            pass
        time.sleep(0.1)  # between knocks: the condition is the file's packets
    return capture


def copy(pipe: IO[bytes], file: Path) -> None:
    with file.open("wb") as out:
        while piece := os.read(pipe.fileno(), 65536):
            out.write(piece)
            out.flush()


def captured(file: Path, wanted: str) -> bool:
    """Whether `file` holds a packet that matches `wanted` (a display filter) yet: dumpcap
    gets packets from the kernel in batches, and writes them as they come."""
    found = subprocess.run(
        ["tshark", "-r", str(file), "-Y", wanted],
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    return bool(found.stdout.strip())


def test_tshark_decrypts_a_capture_with_the_key_log(
    engine: Engine, events: Collector, tmp_path: Path
) -> None:
    pki = make_pki(tmp_path)
    keylog, pcap = tmp_path / "keys.log", tmp_path / "capture.pcapng"
    url = f"tls://127.0.0.1:0?cert={pki.server.cert}&key={pki.server.key}&keylog={keylog}"
    _, port = listen(engine, events, url)
    capture = start_capture(port, pcap)
    try:
        context = ssl.create_default_context(cafile=str(pki.ca.cert))
        with (
            socket.create_connection(("127.0.0.1", port), timeout=WAIT) as plain,
            context.wrap_socket(plain, server_hostname="localhost") as tls,
        ):
            client_port = tls.getsockname()[1]
            tls.sendall(MARKER)
            events.wait_until(lambda: any(MARKER in e.data for e in events.of(ev.Data)))
        # The session's end in the file before dumpcap stops (it drops a batch not yet taken
        # from the kernel).
        session_end = (
            f"tcp.srcport == {client_port} && (tcp.flags.fin == 1 || tcp.flags.reset == 1)"
        )
        events.wait_until(lambda: captured(pcap, session_end))
    finally:
        capture.send_signal(signal.SIGINT)
        capture.wait(WAIT)
    argv = [
        "tshark", "-r", str(pcap), "-o", f"tls.keylog_file:{keylog}",
        "-d", f"tcp.port=={port},tls", "-Y", "tls.app_data", "-T", "fields", "-e", "data.data",
    ]  # fmt: skip
    decrypted = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
    assert MARKER in bytes.fromhex("".join(decrypted.stdout.split()))
    without = subprocess.run(argv[:3] + argv[5:], capture_output=True, text=True, timeout=60)
    assert MARKER not in bytes.fromhex("".join(without.stdout.split())), "only with the key log"
