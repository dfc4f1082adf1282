"""sockbench's own certificate authority: an ECDSA P-256 CA made once and kept in the user's
data directory, which signs a certificate for each TLS listener that was given none. Users
trust it once (`sockbench tls ca` says where it is) instead of a new self-signed certificate
each run, which OpenSSL 3 and Python 3.13's strict checks refuse anyway."""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from workbench.data_dir import data_dir
from workbench.tls.certificates import fingerprint

CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
CA_YEARS = 10
# A listener's certificate: short-lived (browsers refuse more than ~13 months anyway).
LEAF_DAYS = 90
# Clocks a little behind still accept a certificate made just now.
BACKDATE = datetime.timedelta(hours=1)
ALWAYS_NAMED = ("localhost", "127.0.0.1", "::1")


class LocalCa(NamedTuple):
    cert_path: Path
    key_path: Path
    sha256: str


def local_ca() -> LocalCa:
    """The CA, made now if it does not exist yet (blocking: call it off the loop)."""
    directory = data_dir()
    cert_path, key_path = directory / CA_CERT_FILE, directory / CA_KEY_FILE
    if not (cert_path.exists() and key_path.exists()):
        make_ca(directory, cert_path, key_path)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    return LocalCa(cert_path, key_path, fingerprint(cert.public_bytes(serialization.Encoding.DER)))


def make_ca(directory: Path, cert_path: Path, key_path: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "sockbench local CA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sockbench"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(key_usage(signs_certificates=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_private(key_path, private_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def leaf_for(host: str) -> tuple[bytes, bytes]:
    """A server certificate (PEM, the CA's after it) and its key (PEM) for a listener on
    `host`, signed by the local CA: named for `host` and for this machine's loopback."""
    ca = local_ca()
    ca_cert = x509.load_pem_x509_certificate(ca.cert_path.read_bytes())
    ca_key = serialization.load_pem_private_key(ca.key_path.read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    names = [n for n in (host, *ALWAYS_NAMED) if n and not is_unspecified(n)]
    now = datetime.datetime.now(datetime.UTC)
    common_name = names[0]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=LEAF_DAYS))
        .add_extension(x509.SubjectAlternativeName(general_names(names)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage(signs_certificates=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    chain = cert.public_bytes(serialization.Encoding.PEM) + ca.cert_path.read_bytes()
    return chain, private_pem(key)


def general_names(names: list[str]) -> list[x509.GeneralName]:
    result: list[x509.GeneralName] = []
    for name in dict.fromkeys(names):
        try:
            result.append(x509.IPAddress(ipaddress.ip_address(name.split("%", 1)[0])))
        except ValueError:
            result.append(x509.DNSName(name))
    return result


def is_unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return False


def key_usage(signs_certificates: bool) -> x509.KeyUsage:
    """Signatures only; a CA's key signs certificates and revocation lists too."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_private(path: Path, data: bytes) -> None:
    """Write a key readable by its owner only, from the moment the file exists."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
