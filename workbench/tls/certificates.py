"""Certificates read into the protocol's `Certificate`, and their fingerprints."""

from __future__ import annotations

import datetime
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from workbench.protocol.tls_info import Certificate

# OpenSSL's and the usual names of the curves, where they differ.
_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


def fingerprint(der: bytes) -> str:
    """The SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` shows it."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def certificate_of(der: bytes) -> Certificate:
    """What a DER certificate says; one that cannot be read says so in its subject."""
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        unread = f"(a certificate sockbench cannot read: {exc})"
        return Certificate(unread, "", (), "", "", "", fingerprint(der))
    return Certificate(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        names=alternative_names(cert),
        not_before=iso(cert.not_valid_before_utc),
        not_after=iso(cert.not_valid_after_utc),
        key=key_description(cert),
        sha256=fingerprint(der),
    )


def iso(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def alternative_names(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except (x509.ExtensionNotFound, ValueError):
        return ()
    names = extension.value
    return (
        *(f"DNS:{name}" for name in names.get_values_for_type(x509.DNSName)),
        *(f"IP:{address}" for address in names.get_values_for_type(x509.IPAddress)),
        *(f"email:{mail}" for mail in names.get_values_for_type(x509.RFC822Name)),
        *(f"URI:{uri}" for uri in names.get_values_for_type(x509.UniformResourceIdentifier)),
    )


def key_description(cert: x509.Certificate) -> str:
    try:
        key = cert.public_key()
    except (ValueError, TypeError):
        return "unknown key"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {_CURVES.get(key.curve.name, key.curve.name)}"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA {key.key_size}"
    return type(key).__name__
