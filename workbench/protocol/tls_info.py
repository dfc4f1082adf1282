"""What a TLS handshake established, as the engine reports it (`TlsEstablished`) and the
transcript keeps it. Every text field of a certificate is the peer's: shown only through the
one sanitizer."""

from __future__ import annotations

from typing import NamedTuple


class Certificate(NamedTuple):
    subject: str  # RFC 4514, as OpenSSL prints it: "CN=localhost,O=sockbench"
    issuer: str
    names: tuple[str, ...]  # its subject alternative names: "DNS:localhost", "IP:127.0.0.1"
    not_before: str  # ISO 8601, UTC
    not_after: str
    key: str  # "EC P-256", "RSA 2048"
    sha256: str  # hex, colon-separated, uppercase (as `openssl x509 -fingerprint` shows it)


class TlsInfo(NamedTuple):
    version: str  # "TLSv1.3"
    cipher: str  # "TLS_AES_256_GCM_SHA384"
    alpn: str  # the protocol agreed with ALPN ("" : none)
    sni: str  # the server name the client sent ("" : none)
    verified: bool  # the peer's certificate was checked and accepted (or matched pin=)
    verify_error: str  # why it would not be accepted ("" when verified or not asked for)
    chain: tuple[Certificate, ...]  # the peer's, leaf first; empty when it sent none
    local_certificate: Certificate | None  # the one sockbench presented, if any


def handshake_text(info: TlsInfo) -> str:
    """The Log's line: `TLSv1.3 TLS_AES_256_GCM_SHA384, ALPN h2, verified`."""
    parts = [f"{info.version} {info.cipher}"]
    if info.alpn:
        parts.append(f"ALPN {info.alpn}")
    if info.verified:
        parts.append("verified")
    elif info.verify_error:
        parts.append(f"not verified: {info.verify_error} (verify=0)")
    elif info.chain:
        parts.append("peer's certificate not checked")
    else:
        parts.append("no peer certificate")
    return ", ".join(parts)
