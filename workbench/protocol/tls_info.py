"""What a TLS handshake established, as the UI and the transcript see it (Textual-free).

Every text field of a certificate came from the peer: it is shown only through the one
sanitizer (workbench/codec.py)."""

from __future__ import annotations

from typing import NamedTuple


class Certificate(NamedTuple):
    """One certificate of a chain, as people read it."""

    subject: str
    issuer: str
    names: tuple[str, ...]  # its SANs: "DNS:x", "IP:y"
    not_before: str  # ISO 8601 UTC
    not_after: str  # ISO 8601 UTC
    key: str  # "EC P-256", "RSA 2048"
    sha256: str  # hex, colon-separated uppercase


class TlsInfo(NamedTuple):
    """The negotiated parameters and the certificates of one handshake."""

    version: str  # "TLSv1.3"
    cipher: str
    alpn: str  # "" : none
    sni: str
    verified: bool
    verify_error: str  # "" when verified or not asked
    chain: tuple[Certificate, ...]  # the peer's, leaf first; empty when none
    local_certificate: Certificate | None
