"""The test certificates toolkit (tests/tls_certs.py) makes what it says: Python's ssl with
strict verification accepts the CA's leaves and refuses self-signed, expired, wrong-name and
unknown-CA ones for the reason meant; `openssl verify` agrees; client certificates work for
mTLS; the hostile certificate carries its hostile fields and still verifies."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from tls_certs import (
    HOSTILE_CN,
    HOSTILE_DNS,
    HOSTILE_O,
    HOSTILE_UNICODE_DNS,
    Issued,
    Pki,
    chain_file,
    client_context,
    expired,
    hostile,
    make_ca,
    make_leaf,
    make_pki,
    self_signed,
    server_context,
    unknown_ca,
    wrong_name,
)

WAIT = 10.0


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def handshake(
    pki: Pki, served: Issued, client_cert: Issued | None = None, require: bool = False
) -> str:
    """A TLS handshake on loopback: our strict client against `served`; "" or the error."""
    serving = server_context(served, pki.ca if require else None)
    connecting = client_context(pki.ca, client_cert)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        server_errors: list[str] = []

        def serve() -> None:
            listener.settimeout(WAIT)
            conn, _ = listener.accept()
            try:
                with serving.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"ok")
                    tls.recv(1)
            except (ssl.SSLError, OSError) as error:
                server_errors.append(str(error))

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            with (
                socket.create_connection(listener.getsockname(), timeout=WAIT) as sock,
                connecting.wrap_socket(sock, server_hostname="localhost") as tls,
            ):
                received = tls.recv(2)
                if require and not received:
                    return "the server refused the client"
                return "" if received == b"ok" else "nothing received"
        except (ssl.SSLError, OSError) as error:
            return str(error)
        finally:
            thread.join(WAIT)


def test_a_leaf_of_the_ca_verifies_strictly(pki: Pki) -> None:
    assert handshake(pki, pki.server) == ""
    rsa = make_leaf(pki.ca.cert.parent, pki.ca, key="rsa", stem="rsa")
    assert handshake(pki, rsa) == ""


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda d, ca: self_signed(d), "self-signed certificate"),
        (expired, "certificate has expired"),
        (lambda d, ca: wrong_name(d, ca), "Hostname mismatch"),
        (lambda d, ca: unknown_ca(d), "unable to get local issuer certificate"),
    ],
)
def test_bad_certificates_fail_for_the_reason_meant(
    make: Callable[[Path, Issued], Issued], reason: str, pki: Pki, tmp_path: Path
) -> None:
    served = make(tmp_path, pki.ca)
    assert reason in handshake(pki, served)


def test_openssl_verify_agrees(pki: Pki, tmp_path: Path) -> None:
    def verify(cert: Path) -> str:
        result = subprocess.run(
            ["openssl", "verify", "-x509_strict", "-CAfile", str(pki.ca.cert), str(cert)],
            capture_output=True,
            text=True,
            timeout=WAIT,
        )
        return result.stdout + result.stderr

    assert ": OK" in verify(pki.server.cert)
    assert "certificate has expired" in verify(expired(tmp_path, pki.ca).cert)
    assert "unable to get local issuer" in verify(unknown_ca(tmp_path).cert)


def test_client_certificates_for_mtls(pki: Pki) -> None:
    assert handshake(pki, pki.server, client_cert=pki.client, require=True) == ""
    assert handshake(pki, pki.server, require=True) != ""


def test_the_hostile_certificate_carries_its_fields_and_verifies(pki: Pki, tmp_path: Path) -> None:
    evil = hostile(tmp_path, pki.ca)
    subject = evil.certificate.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == HOSTILE_CN
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == HOSTILE_O
    names = evil.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    dns = names.value.get_values_for_type(x509.DNSName)
    assert {*HOSTILE_DNS, HOSTILE_UNICODE_DNS} <= set(dns)
    assert "\x1b" in HOSTILE_CN and "\u202e" in HOSTILE_CN and "[bold]" in HOSTILE_CN
    assert handshake(pki, evil) == ""


def test_fingerprints_and_chains(pki: Pki, tmp_path: Path) -> None:
    assert len(pki.server.sha256.split(":")) == 32 and pki.server.sha256.isupper()
    chain = chain_file(tmp_path, pki.server, pki.ca)
    assert chain.read_bytes().count(b"BEGIN CERTIFICATE") == 2
    other = make_ca(tmp_path, "another CA", stem="another")
    assert other.certificate.subject != pki.ca.certificate.subject
