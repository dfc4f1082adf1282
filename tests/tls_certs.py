"""Certificates for the TLS tests, made with `cryptography`: a CA, leaves signed by it, a
self-signed one, an expired one, one for the wrong name, client certificates."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from workbench.tls.certificates import fingerprint

NOW = datetime.datetime.now(datetime.UTC)
DAY = datetime.timedelta(days=1)


class Issued(NamedTuple):
    cert: Path  # PEM
    key: Path  # PEM
    sha256: str


class Ca(NamedTuple):
    cert: Path
    key: ec.EllipticCurvePrivateKey
    name: x509.Name


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write(
    directory: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> Issued:
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Issued(cert_path, key_path, fingerprint(cert.public_bytes(serialization.Encoding.DER)))


def make_ca(directory: Path, common: str = "Test CA") -> Ca:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + 30 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    issued = _write(directory, common.replace(" ", "-").lower(), cert, key)
    return Ca(issued.cert, key, name)


def issue(
    directory: Path,
    stem: str,
    ca: Ca | None,
    names: tuple[str, ...] = ("localhost", "127.0.0.1"),
    expired: bool = False,
    client: bool = False,
    common: str = "",
) -> Issued:
    """A leaf signed by `ca` (None: self-signed), for `names`."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(common or (names[0] if names else stem))
    issuer_name, issuer_key = (ca.name, ca.key) if ca else (subject, key)
    start, end = (NOW - 30 * DAY, NOW - DAY) if expired else (NOW - DAY, NOW + 30 * DAY)
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return _write(directory, stem, builder.sign(issuer_key, hashes.SHA256()), key)
