"""Certificates for the TLS tests, made with `cryptography` into a tmp dir (nothing is
committed): a CA, leaves it signs with given names and dates, self-signed, expired,
wrong-name and unknown-CA certificates, client certificates, and one with hostile fields
(ESC, OSC, C1, bidi, Textual markup in its subject's CN and O and in its SAN DNS names).

Certificates carry what Python 3.13's strict verification wants (a critical basicConstraints,
key usages, SKI, AKI, a SAN), so a failure in a test is the one the test means.

    pki = make_pki(tmp_path)                   # CA, server leaf, client leaf
    client_context(pki.ca)                     # Python's ssl, trusting the CA, strict
    server_context(pki.server)                 # serving the leaf
    expired(tmp_path, pki.ca).cert             # a PEM path
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")
DAY = datetime.timedelta(days=1)

# Hostile text for certificate fields: a title-setting OSC, a CSI, the C1 CSI, a bidi
# override, a zero-width space, and Textual markup that would raise or run an action.
HOSTILE_CN = "\x1b]2;owned\x07evil \x1b[31mred\x1b[0m [bold]bold[/bold] \u202egnp.exe"
HOSTILE_O = "[@click=app.quit]quit[/] \x9b31m c1 [/bold] \u200bzero-width"
HOSTILE_DNS = ("\x1b]2;owned\x07.example", "[bold]x[/bold].example", "\x1b[2J.example")
HOSTILE_UNICODE_DNS = "\u202egnp.example"  # not an A-label: written without validation


@dataclass(frozen=True)
class Issued:
    """A certificate and its key: PEM files, and the objects for checks."""

    cert: Path
    key: Path
    certificate: x509.Certificate
    private_key: PrivateKey

    @property
    def sha256(self) -> str:
        """The SHA-256 fingerprint as sockbench shows it: uppercase hex, colon-separated."""
        return self.certificate.fingerprint(hashes.SHA256()).hex(":").upper()

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)


class Pki(NamedTuple):
    ca: Issued
    server: Issued  # for DEFAULT_NAMES, serverAuth
    client: Issued  # CN "sockbench test client", clientAuth


def new_key(kind: str = "ec") -> PrivateKey:
    """ "ec" (P-256) or "rsa" (2048 bits)."""
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        pass
    if name.isascii():
        return x509.DNSName(name)
    return x509.DNSName._init_without_validation(name)  # hostile on purpose


def subject(common_name: str, organization: str = "") -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def write(directory: Path, stem: str, certificate: x509.Certificate, key: PrivateKey) -> Issued:
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Issued(cert_path, key_path, certificate, key)


def make_ca(
    directory: Path, name: str = "sockbench test CA", *, key: str = "ec", stem: str = "ca"
) -> Issued:
    """A self-signed CA valid from yesterday for a year."""
    private_key = new_key(key)
    now = datetime.datetime.now(datetime.UTC)
    public = private_key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject(name, "sockbench tests"))
        .issuer_name(subject(name, "sockbench tests"))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - DAY)
        .not_valid_after(now + 365 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(private_key, hashes.SHA256())
    )
    return write(directory, stem, certificate, private_key)


def key_usage(cert_sign: bool = False, rsa_key: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=rsa_key and not cert_sign,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def make_leaf(
    directory: Path,
    ca: Issued | None,
    names: tuple[str, ...] = DEFAULT_NAMES,
    *,
    common_name: str = "",
    organization: str = "sockbench tests",
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
    key: str = "ec",
    client: bool = False,
    stem: str = "",
) -> Issued:
    """A leaf for `names` (DNS names or IP addresses) signed by `ca`, or by itself when `ca`
    is None; valid from yesterday for 30 days unless dates are given; serverAuth, or
    clientAuth with `client=True`."""
    private_key = new_key(key)
    public = private_key.public_key()
    now = datetime.datetime.now(datetime.UTC)
    name = subject(common_name or (names[0] if names else "sockbench test"), organization)
    signer_name = ca.certificate.subject if ca else name
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(signer_name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - DAY)
        .not_valid_after(not_after or now + 30 * DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage(rsa_key=key == "rsa"), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([general_name(n) for n in names]), critical=False
        )
    signer_public = ca.private_key.public_key() if ca else public
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_public), critical=False
    )
    certificate = builder.sign(ca.private_key if ca else private_key, hashes.SHA256())
    return write(directory, stem or ("client" if client else "server"), certificate, private_key)


def make_pki(directory: Path) -> Pki:
    """A CA, a server leaf for DEFAULT_NAMES and a client leaf, all in `directory`."""
    ca = make_ca(directory)
    server = make_leaf(directory, ca)
    client = make_leaf(directory, ca, (), common_name="sockbench test client", client=True)
    return Pki(ca, server, client)


def self_signed(directory: Path, names: tuple[str, ...] = DEFAULT_NAMES) -> Issued:
    return make_leaf(directory, None, names, stem="self-signed")


def expired(directory: Path, ca: Issued, names: tuple[str, ...] = DEFAULT_NAMES) -> Issued:
    """Valid for a month that ended yesterday."""
    now = datetime.datetime.now(datetime.UTC)
    return make_leaf(
        directory, ca, names, not_before=now - 31 * DAY, not_after=now - DAY, stem="expired"
    )


def wrong_name(directory: Path, ca: Issued) -> Issued:
    """Signed by `ca` for `wrong.example` only."""
    return make_leaf(directory, ca, ("wrong.example",), stem="wrong-name")


def unknown_ca(directory: Path, names: tuple[str, ...] = DEFAULT_NAMES) -> Issued:
    """A leaf signed by a CA nobody was given (its files are `unknown-ca.*`)."""
    stranger = make_ca(directory, "sockbench unknown CA", stem="unknown-ca")
    return make_leaf(directory, stranger, names, stem="unknown-ca-leaf")


def hostile(
    directory: Path, ca: Issued, names: tuple[str, ...] = DEFAULT_NAMES, unicode: bool = True
) -> Issued:
    """Signed by `ca` for `names` (so it verifies) plus HOSTILE_DNS (and, with `unicode`,
    HOSTILE_UNICODE_DNS), with HOSTILE_CN and HOSTILE_O in its subject."""
    extra = (*HOSTILE_DNS, HOSTILE_UNICODE_DNS) if unicode else HOSTILE_DNS
    return make_leaf(
        directory,
        ca,
        (*names, *extra),
        common_name=HOSTILE_CN,
        organization=HOSTILE_O,
        stem="hostile",
    )


def chain_file(directory: Path, *issued: Issued, stem: str = "chain") -> Path:
    """The certificates concatenated in order (leaf first), for a server sending its chain."""
    path = directory / f"{stem}.pem"
    path.write_bytes(b"".join(i.cert.read_bytes() for i in issued))
    return path


def client_context(ca: Issued, certificate: Issued | None = None) -> ssl.SSLContext:
    """Python's ssl as a client trusting `ca` only, with strict verification (as 3.13's
    defaults), presenting `certificate` if given."""
    context = ssl.create_default_context(cafile=str(ca.cert))
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    if certificate:
        context.load_cert_chain(certificate.cert, certificate.key)
    return context


def server_context(certificate: Issued, client_ca: Issued | None = None) -> ssl.SSLContext:
    """Python's ssl as a server of `certificate`; requiring a client certificate signed by
    `client_ca` if given."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate.cert, certificate.key)
    if client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca.cert)
    return context


def issue(
    directory: Path,
    stem: str,
    ca: Issued | None,
    names: tuple[str, ...] = ("localhost", "127.0.0.1"),
    *,
    expired: bool = False,
    client: bool = False,
    common: str = "",
) -> Issued:
    """A leaf in `stem`.pem for `names`, signed by `ca` (None: self-signed), valid now or
    `expired` yesterday: the TLS core's tests' way of asking for `make_leaf`."""
    now = datetime.datetime.now(datetime.UTC)
    dates = (now - 30 * DAY, now - DAY) if expired else (None, None)
    return make_leaf(
        directory,
        ca,
        names,
        common_name=common,
        organization="",
        not_before=dates[0],
        not_after=dates[1],
        client=client,
        stem=stem,
    )
