"""sockbench's own check of a server's certificate, made after a handshake that accepted
any (so that a refusal can say what the certificate is, and verify=0 can still say what the
check found). The chain is checked with `cryptography`'s verifier against the system's CAs,
sockbench's local CA and ca=FILE; the common failures are said in plain words first."""

from __future__ import annotations

import datetime
import functools
import ipaddress
import ssl
import warnings
from pathlib import Path

from cryptography import x509
from cryptography.x509 import DNSName, IPAddress
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from workbench.data_dir import data_dir
from workbench.tls.local_ca import CA_CERT_FILE


def check_server(chain: list[bytes], name: str, ca_file: str | None) -> str:
    """Why the server certificate chain `chain` (DER, leaf first) is not to be trusted for
    `name`, or "" when it is."""
    if not chain:
        return "the server sent no certificate"
    try:
        certs = [x509.load_der_x509_certificate(der) for der in chain]
    except ValueError as exc:
        return f"its certificate cannot be read ({exc})"
    leaf = certs[0]
    now = datetime.datetime.now(datetime.UTC)
    if leaf.not_valid_after_utc < now:
        return f"it expired on {leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
    if leaf.not_valid_before_utc > now:
        return f"it is not valid before {leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
    if not names_match(leaf, name):
        return f"it is not for {name} (it names {', '.join(names_of(leaf)) or 'nothing'})"
    roots = trusted_roots(ca_file)
    try:
        policy = PolicyBuilder().store(Store(roots)).time(now)
        policy.build_server_verifier(subject(name)).verify(leaf, certs[1:])
    except VerificationError as exc:
        if leaf.issuer == leaf.subject and all(root != leaf for root in roots):
            return "it is self-signed, and not a certificate you trust (ca=FILE)"
        known = {cert.subject for cert in (*roots, *certs[1:])}
        if leaf.issuer not in known:
            return (
                f"it was issued by {leaf.issuer.rfc4514_string()}, a CA you do not trust "
                "(give its certificate with ca=FILE)"
            )
        return f"its chain was refused: {exc}"
    return ""


def subject(name: str) -> DNSName | IPAddress:
    try:
        return IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return DNSName(name)


def names_of(cert: x509.Certificate) -> list[str]:
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    dns = names.get_values_for_type(x509.DNSName)
    return [*dns, *(str(ip) for ip in names.get_values_for_type(x509.IPAddress))]


def names_match(cert: x509.Certificate, name: str) -> bool:
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return any(dns_match(pattern, name) for pattern in names_of(cert))
    return any(str(address) == item for item in names_of(cert))


def dns_match(pattern: str, name: str) -> bool:
    """A certificate's DNS name against a host name: exact, or `*.` standing for one label."""
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = name.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == name


def trusted_roots(ca_file: str | None) -> list[x509.Certificate]:
    roots = [*system_roots(), *local_roots()]
    if ca_file:
        roots += read_pem(Path(ca_file))
    return roots


@functools.cache
def system_roots() -> tuple[x509.Certificate, ...]:
    """The system's CAs, read once (a bundle of ~150 takes some milliseconds)."""
    paths = ssl.get_default_verify_paths()
    for name in (paths.cafile, paths.openssl_cafile):
        if name and Path(name).is_file():
            return tuple(read_pem(Path(name)))
    return ()


def local_roots() -> list[x509.Certificate]:
    """sockbench's own CA, when it was made: a sockbench client trusts sockbench servers."""
    path = data_dir() / CA_CERT_FILE
    return read_pem(path) if path.is_file() else []


def read_pem(path: Path) -> list[x509.Certificate]:
    try:
        with warnings.catch_warnings():
            # A system bundle may hold an old CA that cryptography warns about (a serial
            # number that is not positive): not the user's to hear of.
            warnings.simplefilter("ignore")
            return x509.load_pem_x509_certificates(path.read_bytes())
    except (OSError, ValueError):
        return []
