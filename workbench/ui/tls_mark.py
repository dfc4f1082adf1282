"""How the Connections pane and the connection picker mark a TLS connection in the `proto`
column: the version it negotiated (`tls1.3`; `utls1.3` over a Unix stream socket), green
when the peer's certificate was verified, yellow when verification failed and the user
connected anyway (verify=0), cyan when it was not asked (a server without client
certificates)."""

from __future__ import annotations

from workbench.protocol.enums import Transport
from workbench.protocol.tls_info import TlsInfo

PLAIN_STYLE = "cyan"


def tls_version_label(version: str) -> str:
    """ "TLSv1.3" as "tls1.3": short enough for the column."""
    return version.lower().replace("tlsv", "tls").replace(" ", "")


def proto_mark(plain: str, transport: str, tls: TlsInfo | None) -> tuple[str, str]:
    """The column's text and style: `plain` (the transport's label) for a plain connection."""
    if tls is None:
        return plain, PLAIN_STYLE
    label = tls_version_label(tls.version) or "tls"
    if transport == Transport.UNIX:
        label = "u" + label
    if tls.verified:
        return label, "green"
    return label, "yellow" if tls.verify_error else PLAIN_STYLE
