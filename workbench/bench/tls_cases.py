"""TLS cases: bulk in through TLS, and full handshakes one after another. sockbench runs as
the app runs it (EngineHarness); the references are socat's OPENSSL-LISTEN sink and
`openssl s_server`. Both sides use one certificate (ECDSA P-256, made by `openssl req` for
the case) and one cipher: the sender offers only TLS_AES_128_GCM_SHA256 (an OpenSSL
configuration file in its environment), so every server must choose it.

Run as `python -m workbench.bench.tls_cases handshakes PORT COUNT`, this module is the
handshakes case's client: a separate process, so it never shares a GIL with what it
measures."""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from workbench.bench.harness import EngineHarness
from workbench.bench.rounds import SOCKBENCH, Case, Figures, Goal, Metric, Variant
from workbench.bench.stream_cases import (
    MB,
    THROUGHPUT,
    Argv,
    receive_seconds,
    sink_seconds,
    throughput,
)
from workbench.bench.tools import (
    LOCALHOST,
    BenchError,
    finish,
    free_port,
    missing,
    peer_report,
    running,
    wait_listening,
)
from workbench.protocol import events as ev

CIPHER = "TLS_AES_128_GCM_SHA256"
HANDSHAKES = Metric("handshakes", "handshakes/s")
OPENSSL_CONFIG = f"""openssl_conf = default_conf
[default_conf]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
Ciphersuites = {CIPHER}
"""
HANDSHAKE_SECONDS = 120.0  # a round slower than this is broken, not slow


def why_not_runnable(*tools: str) -> str:
    """Why the TLS cases cannot run here, or "" when they can."""
    return next((why for why in map(missing, tools) if why), "")


class Material:
    """The case's certificate and key, and the OpenSSL configuration that forces the cipher,
    in a folder made for the case."""

    def __init__(self) -> None:
        self.folder = Path()

    @property
    def cert(self) -> str:
        return str(self.folder / "cert.pem")

    @property
    def key(self) -> str:
        return str(self.folder / "key.pem")

    @property
    def config(self) -> str:
        return str(self.folder / "openssl.cnf")

    @property
    def sink_log(self) -> str:
        return str(self.folder / "socat-sink.log")

    @contextlib.contextmanager
    def made(self) -> Iterator[Material]:
        with tempfile.TemporaryDirectory(prefix="sockbench-bench-tls-") as folder:
            self.folder = Path(folder)
            subprocess.run(
                [
                    "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", self.key, "-out", self.cert,
                    "-subj", "/CN=localhost", "-days", "2",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                ],
                check=True, capture_output=True, timeout=30,
            )  # fmt: skip
            Path(self.config).write_text(OPENSSL_CONFIG)
            yield self

    def listener_url(self) -> str:
        return f"tls://{LOCALHOST}:0?cert={self.cert}&key={self.key}"


def tls_sender(size: int, material: Material) -> Argv:
    """socat sending `size` zero bytes through TLS, offering only the case's cipher."""
    return lambda port: [
        "env", f"OPENSSL_CONF={material.config}",
        "socat", "-b", "131072", "-u", f"OPEN:/dev/zero,readbytes={size}",
        f"OPENSSL:{LOCALHOST}:{port},verify=0",
    ]  # fmt: skip


def socat_tls_sink(material: Material) -> Argv:
    """socat's TLS sink, logging what it negotiated (`-d -d`) to the case's sink log."""
    return lambda port: [
        "socat", "-d", "-d", "-lf", material.sink_log, "-u",
        f"OPENSSL-LISTEN:{port},reuseaddr,cert={material.cert},key={material.key},verify=0",
        "OPEN:/dev/null",
    ]  # fmt: skip


def tls_bulk_in(size: int) -> Case:
    material = Material()

    def ours() -> Figures:
        url, sender = material.listener_url(), tls_sender(size, material)
        seconds, peer = receive_seconds(size, url=url, sender=sender)
        if peer.tls is None or peer.tls.cipher != CIPHER:
            raise BenchError(
                f"negotiated {peer.tls.cipher if peer.tls else 'no TLS'}, not {CIPHER}"
            )
        return throughput(size, seconds)

    def socat() -> Figures:
        Path(material.sink_log).unlink(missing_ok=True)
        seconds = sink_seconds(socat_tls_sink(material), tls_sender(size, material), size)
        if f"using {CIPHER}" not in Path(material.sink_log).read_text(errors="replace"):
            raise BenchError(f"socat's sink did not negotiate {CIPHER}")
        return throughput(size, seconds)

    why = why_not_runnable("socat", "openssl")
    return Case(
        "TLS bulk in",
        f"{size / MB:,.0f} MB from socat OPENSSL: into a tls:// listener, {CIPHER} "
        "(transcript off)",
        [THROUGHPUT],
        [Goal("throughput", 1.0, "socat")],
        [Variant(SOCKBENCH, ours, why), Variant("socat", socat, why)],
        prepare=material.made,
    )


# --- handshakes ---


def client_rate(port: int, count: int) -> Figures:
    """Run the client (this module, as a separate process) against `port`: its handshakes
    per second."""
    argv = [sys.executable, "-m", __name__, "handshakes", str(port), str(count)]
    with running(argv, stdout=subprocess.PIPE) as proc:
        done = peer_report(proc, HANDSHAKE_SECONDS)
    if done["handshakes"] != count:
        raise BenchError(f"{done['handshakes']:,.0f} handshakes of {count:,} succeeded")
    return {"handshakes": count / done["seconds"]}


def tls_handshakes(count: int) -> Case:
    material = Material()

    def ours() -> Figures:
        with EngineHarness() as bench:
            _, port = bench.listen(material.listener_url())
            figures = client_rate(port, count)

            def established() -> int:
                return sum(isinstance(e, ev.TlsEstablished) for e in bench.events)

            bench.wait(f"{count:,} handshakes reported", lambda: established() >= count)
        return figures

    def openssl() -> Figures:
        port = free_port()
        server = [
            "openssl", "s_server", "-quiet", "-accept", f"{LOCALHOST}:{port}",
            "-cert", material.cert, "-key", material.key, "-naccept", str(count), "-tls1_3",
        ]  # fmt: skip
        with running(server) as proc:
            wait_listening(port, proc=proc)
            figures = client_rate(port, count)
            finish(proc, HANDSHAKE_SECONDS)
        return figures

    why = why_not_runnable("openssl")
    return Case(
        "TLS handshakes",
        f"{count:,} full TLS 1.3 handshakes one after another from one Python client",
        [HANDSHAKES],
        [Goal("handshakes", None, "openssl s_server")],
        [Variant(SOCKBENCH, ours, why), Variant("openssl s_server", openssl, why)],
        prepare=material.made,
    )


def handshakes(port: int, count: int) -> dict[str, float]:
    """`count` full handshakes (no resumption: a new session each time), each closed once
    done; stops at the first failure."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    done = 0
    started = time.perf_counter()
    with contextlib.suppress(OSError):
        for _ in range(count):
            with (
                socket.create_connection((LOCALHOST, port), timeout=10) as plain,
                context.wrap_socket(plain) as tls,
            ):
                tls.do_handshake()
            done += 1
    return {"handshakes": done, "seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m workbench.bench.tls_cases")
    sub = parser.add_subparsers(dest="peer", required=True)
    client = sub.add_parser("handshakes")
    client.add_argument("port", type=int)
    client.add_argument("count", type=int)
    args = parser.parse_args()
    print(json.dumps(handshakes(args.port, args.count)), flush=True)


if __name__ == "__main__":
    main()
