"""A handshake's outcome: what it established (`TlsInfo`), whether the client accepts the
server it reached, and handshake failures in plain words."""

from __future__ import annotations

import ssl
from typing import Any

from workbench.protocol.tls_info import Certificate, TlsInfo
from workbench.tls.certificates import certificate_of, fingerprint
from workbench.tls.contexts import ClientTls
from workbench.tls.verification import check_server

DER = ssl._ssl.ENCODING_DER  # type: ignore[attr-defined]
# OpenSSL's alert names (as its reason codes carry them) in words.
_ALERTS = {
    "HANDSHAKE_FAILURE": "no parameters in common (handshake failure)",
    "PROTOCOL_VERSION": "no TLS version in common (min=, max=)",
    "UNKNOWN_CA": "it does not trust the CA that issued our certificate",
    "BAD_CERTIFICATE": "it refused our certificate",
    "CERTIFICATE_REQUIRED": "it requires a client certificate (cert=FILE&key=FILE)",
    "CERTIFICATE_EXPIRED": "it says our certificate expired",
    "UNRECOGNIZED_NAME": "it does not know the server name we sent (sni=)",
    "NO_APPLICATION_PROTOCOL": "none of the ALPN protocols offered suits it (alpn=)",
    "INTERNAL_ERROR": "it had an internal error",
    "ACCESS_DENIED": "access denied",
    "DECRYPT_ERROR": "a signature or key did not check out (decrypt error)",
    "ILLEGAL_PARAMETER": "an illegal parameter",
}
# OpenSSL's own reasons for giving up, in words.
_REASONS = {
    "WRONG_VERSION_NUMBER": "the peer does not speak TLS (plain text sent to a TLS port?)",
    "HTTP_REQUEST": "the peer sent a plain HTTP request, not TLS",
    "RECORD_LAYER_FAILURE": "the peer does not speak TLS (plain text sent to a TLS port?)",
    "PACKET_LENGTH_TOO_LONG": "the peer does not speak TLS (plain text sent to a TLS port?)",
    "UNSUPPORTED_PROTOCOL": "no TLS version in common (min=, max=)",
    "NO_PROTOCOLS_AVAILABLE": "no TLS version in common (min=, max=)",
    "TLSV1_ALERT_PROTOCOL_VERSION": "no TLS version in common (min=, max=)",
    "NO_SHARED_CIPHER": "no cipher in common",
    "PEER_DID_NOT_RETURN_A_CERTIFICATE": (
        "the client sent no certificate and this listener requires one (client-cert=require)"
    ),
    "NO_APPLICATION_PROTOCOL": "no ALPN protocol in common (alpn=)",
    "UNEXPECTED_EOF_WHILE_READING": "the peer closed the connection during the handshake",
}


def describe_handshake_failure(exc: BaseException) -> str:
    """A TLS handshake that failed, in words."""
    return f"TLS handshake failed: {tls_error_words(exc)}"


def tls_error_words(exc: BaseException) -> str:
    """What went wrong in a TLS exchange, in words (without saying when)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"the peer's certificate was refused: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or ""
        if reason in _REASONS:
            return _REASONS[reason]
        for prefix in ("TLSV13_ALERT_", "TLSV1_ALERT_", "SSLV3_ALERT_"):
            if reason.startswith(prefix):
                alert = reason.removeprefix(prefix)
                return (
                    f"the peer sent an alert: {_ALERTS.get(alert, alert.lower().replace('_', ' '))}"
                )
        return reason.lower().replace("_", " ") or str(exc)
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        if "taking longer" in str(exc):
            return "the peer did not complete it in time"
        return "the peer closed the connection during it"
    if isinstance(exc, TimeoutError):
        return "the peer did not complete it in time"
    return str(exc)


def peer_chain(ssl_object: Any) -> list[bytes]:
    """The peer's certificates as it sent them (DER, leaf first). Python 3.13 names this
    `get_unverified_chain`; 3.10-3.12 have it on the object beneath."""
    getter = getattr(ssl_object, "get_unverified_chain", None)
    inner = getattr(ssl_object, "_sslobj", None)
    if getter is None and inner is not None:
        getter = getattr(inner, "get_unverified_chain", None)
    chain = getter() if getter is not None else None
    if chain:
        return [cert.public_bytes(DER) for cert in chain]
    leaf = ssl_object.getpeercert(binary_form=True)
    return [leaf] if leaf else []


def established(
    ssl_object: Any, client: ClientTls | None, local: Certificate | None
) -> tuple[TlsInfo, str]:
    """What the handshake on `ssl_object` established, and for a client why it refuses the
    server ("" : it goes on)."""
    chain = peer_chain(ssl_object)
    cipher = ssl_object.cipher()
    verified, verify_error, refusal = False, "", ""
    if client is not None:
        verified, verify_error, refusal = judge_server(chain, client)
        sni = client.server_hostname
    else:
        # A listener that asked for a client certificate had OpenSSL check it.
        verified = bool(chain) and ssl_object.context.verify_mode != ssl.CERT_NONE
        sni = ssl_object.server_hostname or getattr(ssl_object, "sni_name", "") or ""
    info = TlsInfo(
        version=ssl_object.version() or "",
        cipher=cipher[0] if cipher else "",
        alpn=ssl_object.selected_alpn_protocol() or "",
        sni=sni or "",
        verified=verified,
        verify_error=verify_error,
        chain=tuple(certificate_of(der) for der in chain),
        local_certificate=local,
    )
    return info, refusal


def judge_server(chain: list[bytes], client: ClientTls) -> tuple[bool, str, str]:
    """(verified, verify_error, refusal) for the server's chain."""
    if client.pin is not None:
        got = fingerprint(chain[0]) if chain else "none"
        if got == client.pin:
            return True, "", ""
        refusal = f"its SHA-256 fingerprint is {got}, not the pinned {client.pin} (pin=)"
        return False, refusal, refusal_words(chain, refusal, pinned=True)
    problem = check_server(chain, client.check_name, client.ca_file)
    if not problem:
        return True, "", ""
    refusal = refusal_words(chain, problem) if client.verify else ""
    return False, problem, refusal


def refusal_words(chain: list[bytes], problem: str, pinned: bool = False) -> str:
    """Why the server's certificate is refused, what it is, and how to go on anyway."""
    what = ""
    if chain:
        cert = certificate_of(chain[0])
        what = (
            f" The certificate: subject {cert.subject}; issuer {cert.issuer}; names "
            f"{', '.join(cert.names) or 'none'}; valid {cert.not_before} to {cert.not_after}; "
            f"SHA-256 {cert.sha256}."
        )
    anyway = (
        "To accept this certificate, pin it with its fingerprint (pin=)."
        if pinned
        else "To connect anyway, add verify=0 (or pin= with its SHA-256 fingerprint)."
    )
    return f"server certificate refused: {problem}.{what} {anyway}"
