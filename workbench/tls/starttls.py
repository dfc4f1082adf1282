"""STARTTLS: the plaintext negotiation before a TLS handshake on a plain connection, for each
protocol `openssl s_client -starttls` knows, on either side.

`negotiator(proto, role, host)` makes a sans-IO `Negotiator`: send `start()`, feed every read
to `feed()`, and for each `Step` send `send`, then start TLS if `ready` (never feeding
`leftover` to it: bytes the peer sent after its go-ahead, possible injection,
CVE-2011-0411), or close with `error` if set. `host` is the peer's name on the client side
(the EHLO argument and XMPP's `to`), this side's name on the server side (its greeting)."""

from __future__ import annotations

from collections.abc import Callable

from workbench.tls.starttls_base import Negotiator, Step
from workbench.tls.starttls_client import (
    FtpClient,
    ImapClient,
    IrcClient,
    LmtpClient,
    MysqlClient,
    NntpClient,
    Pop3Client,
    PostgresClient,
    SieveClient,
    SmtpClient,
    XmppClient,
)
from workbench.tls.starttls_server import (
    FtpServer,
    ImapServer,
    IrcServer,
    LmtpServer,
    NntpServer,
    Pop3Server,
    PostgresServer,
    SieveServer,
    SmtpServer,
    XmppServer,
)

__all__ = ["CLIENT_PROTOCOLS", "SERVER_PROTOCOLS", "Negotiator", "Step", "negotiator"]

Make = Callable[[str], Negotiator]

CLIENTS: dict[str, Make] = {
    "smtp": SmtpClient,
    "lmtp": LmtpClient,
    "imap": lambda host: ImapClient(),
    "pop3": lambda host: Pop3Client(),
    "ftp": lambda host: FtpClient(),
    "xmpp": XmppClient,
    "xmpp-server": lambda host: XmppClient(host, "jabber:server"),
    "nntp": lambda host: NntpClient(),
    "sieve": lambda host: SieveClient(),
    "irc": lambda host: IrcClient(),
    "postgres": lambda host: PostgresClient(),
    "mysql": lambda host: MysqlClient(),
}
SERVERS: dict[str, Make] = {
    "smtp": SmtpServer,
    "lmtp": LmtpServer,
    "imap": ImapServer,
    "pop3": Pop3Server,
    "ftp": FtpServer,
    "xmpp": XmppServer,
    "xmpp-server": lambda host: XmppServer(host, "xmpp-server"),
    "nntp": NntpServer,
    "sieve": SieveServer,
    "irc": IrcServer,
    "postgres": lambda host: PostgresServer(),
}
CLIENT_PROTOCOLS = tuple(CLIENTS)
SERVER_PROTOCOLS = tuple(SERVERS)


def negotiator(proto: str, role: str, host: str) -> Negotiator:
    """A new negotiation of `proto` ("smtp", "imap", ...) as `role` ("client" or "server")."""
    if role not in ("client", "server"):
        raise ValueError(f"a STARTTLS role is client or server, not {role!r}")
    makers = CLIENTS if role == "client" else SERVERS
    make = makers.get(proto.lower())
    if make is None:
        raise ValueError(
            f"sockbench does not know STARTTLS for {proto!r} (it knows {', '.join(makers)})"
        )
    if any(not character.isprintable() or character.isspace() for character in host):
        raise ValueError(f"a STARTTLS host name has no spaces or control characters: {host!r}")
    return make(host)
