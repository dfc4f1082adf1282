"""SSL contexts from an endpoint's options. Blocking (files, and the local CA made the first
time): the engine builds them off its loop, once per listener or connection."""

from __future__ import annotations

import os
import ssl
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from workbench.data_dir import data_dir
from workbench.protocol.addresses import EndpointError
from workbench.protocol.options import SocketOptions
from workbench.protocol.tls_info import Certificate
from workbench.tls import TlsSetupError
from workbench.tls.certificates import certificate_of
from workbench.tls.local_ca import leaf_for, local_ca, write_private

KEYLOG_VARIABLE = "SSLKEYLOGFILE"
VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}


class ClientTls(NamedTuple):
    """What a client needs for its handshake and its own check of the server."""

    context: ssl.SSLContext
    server_hostname: str  # "" sends no SNI
    check_name: str  # the name the certificate must carry
    verify: bool
    pin: str | None
    ca_file: str | None
    local: Certificate | None  # the client certificate it presents, if any


class ServerTls(NamedTuple):
    context: ssl.SSLContext
    local: Certificate | None  # the certificate it presents
    note: str  # for the "listening on" line: where the certificate came from


def server_tls(options: SocketOptions, host: str) -> ServerTls:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    common_setup(context, options)
    context.sni_callback = remember_server_name
    try:
        local = own_certificate(context, options)
        if options.tls_cert:
            note = f"TLS with {options.tls_cert}"
        else:
            local = load_local_certificate(context, host)
            ca = local_ca()
            note = (
                f"TLS with a certificate from sockbench's local CA (clients trust it with "
                f"{ca.cert_path}, SHA-256 {ca.sha256})"
            )
        if options.tls_client_cert:
            context.verify_mode = (
                ssl.CERT_REQUIRED if options.tls_client_cert == "require" else ssl.CERT_OPTIONAL
            )
            context.load_verify_locations(options.tls_ca or str(local_ca().cert_path))
    except (OSError, ssl.SSLError) as exc:
        raise TlsSetupError(setup_words(exc)) from None
    return ServerTls(context, local, note)


def remember_server_name(ssl_object: Any, name: str | None, context: ssl.SSLContext) -> None:
    """Keep the name the client asked for (SNI), for the handshake's report."""
    ssl_object.sni_name = name or ""


def first_certificate(pem: bytes) -> Certificate | None:
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        return None
    return certificate_of(cert.public_bytes(serialization.Encoding.DER))


def client_tls(options: SocketOptions, host: str) -> ClientTls:
    # The handshake accepts any certificate: sockbench checks it itself afterwards, so that
    # a refusal can say what the certificate is, and verify=0 can say what the check found.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    common_setup(context, options)
    try:
        local = own_certificate(context, options)
        if options.tls_ca:
            ssl.create_default_context(cafile=options.tls_ca)  # read now: refused in words
    except (OSError, ssl.SSLError) as exc:
        raise TlsSetupError(setup_words(exc)) from None
    sni = host if options.tls_sni is None else options.tls_sni
    return ClientTls(
        context,
        server_hostname=sni,
        check_name=options.tls_sni or host,
        verify=options.tls_verify is not False,
        pin=options.tls_pin,
        ca_file=options.tls_ca,
        local=local,
    )


def own_certificate(context: ssl.SSLContext, options: SocketOptions) -> Certificate | None:
    """Load cert= (and key=) into `context`: what it presents (None: none given)."""
    check_readable(options)
    if options.tls_cert:
        context.load_cert_chain(options.tls_cert, options.tls_key)
        return first_certificate(Path(options.tls_cert).read_bytes())
    if options.tls_key:
        raise TlsSetupError("key= needs cert= as well")
    return None


def check_readable(options: SocketOptions) -> None:
    """Open each file given, so that one missing is named (the ssl module does not say which
    file it could not read)."""
    for path in (options.tls_cert, options.tls_key, options.tls_ca):
        if path:
            with open(path, "rb"):
                pass


def common_setup(context: ssl.SSLContext, options: SocketOptions) -> None:
    if options.tls_min:
        context.minimum_version = VERSIONS[options.tls_min]
    if options.tls_max:
        context.maximum_version = VERSIONS[options.tls_max]
    if options.tls_min and options.tls_max and options.tls_min > options.tls_max:
        raise EndpointError(f"min={options.tls_min} is newer than max={options.tls_max}")
    if options.tls_min in ("1.0", "1.1") or options.tls_max in ("1.0", "1.1"):
        # OpenSSL 3 refuses TLS 1.0 and 1.1 at its default security level.
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    if options.tls_alpn:
        context.set_alpn_protocols(options.tls_alpn.split(","))
    keylog = options.tls_keylog or os.environ.get(KEYLOG_VARIABLE)
    if keylog:
        try:
            context.keylog_filename = keylog
        except OSError as exc:
            raise TlsSetupError(f"cannot write the key log {keylog}: {exc.strerror}") from None


def load_local_certificate(context: ssl.SSLContext, host: str) -> Certificate | None:
    """A certificate from the local CA: written to a private file only long enough to load
    (the ssl module loads certificates from files only)."""
    chain, key = leaf_for(host)
    directory = data_dir()
    descriptor, path = tempfile.mkstemp(prefix="listener-", suffix=".pem", dir=directory)
    os.close(descriptor)
    try:
        write_private(Path(path), key + chain)
        context.load_cert_chain(path)
    finally:
        os.unlink(path)
    return first_certificate(chain)


def setup_words(exc: OSError | ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or str(exc)
        if reason == "KEY_VALUES_MISMATCH":
            return "the key does not belong to the certificate (key= and cert=)"
        if "PEM" in reason or "NO_START_LINE" in reason:
            return f"a certificate or key file is not PEM ({reason})"
        return f"cannot load the certificate or key: {reason}"
    name = exc.filename or "a TLS file"
    return f"cannot read {name}: {exc.strerror or exc}"
