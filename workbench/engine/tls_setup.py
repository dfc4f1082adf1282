"""TLS set up for the engine: contexts built off the loop, failures in words. The TLS
modules load `cryptography`: imported where TLS is used, not with the engine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.protocol.addresses import EndpointError
from workbench.protocol.endpoints import Endpoint

if TYPE_CHECKING:
    from workbench.tls.contexts import ClientTls, ServerTls


def check_tls_options(endpoint: Endpoint) -> None:
    if endpoint.is_tls and endpoint.options.starttls:
        raise EndpointError(
            f"starttls={endpoint.options.starttls} begins in plain text: it is for tcp:// "
            "and unix:// without TLS, not for tls://"
        )


def server_setup(endpoint: Endpoint) -> ServerTls:
    from workbench.tls.contexts import server_tls

    return server_tls(endpoint.options, endpoint.host or "localhost")


def client_setup(endpoint: Endpoint) -> ClientTls:
    from workbench.tls.contexts import client_tls
    from workbench.tls.verification import system_roots

    system_roots()  # read once, here, off the loop: the first check would wait for it
    # A Unix socket has no host name: its server is checked as this machine's.
    return client_tls(endpoint.options, endpoint.host or "localhost")


def describe_handshake_failure(exc: BaseException) -> str:
    from workbench.tls.outcome import describe_handshake_failure as words

    return words(exc)


def handshake_broke(exc: OSError) -> bool:
    """Whether a failed TLS connect failed during the handshake (the TCP connect worked)."""
    return isinstance(exc, ConnectionResetError | ConnectionAbortedError | BrokenPipeError)
