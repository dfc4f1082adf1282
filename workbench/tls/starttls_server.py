"""The server side of each STARTTLS negotiation (what a listener with `starttls=PROTO` plays):
it greets, answers what a client asks before STARTTLS sensibly, refuses anything else until
TLS, and gives the go-ahead on STARTTLS. A client that never gets there is cut off after
MAX_REFUSED refused commands."""

from __future__ import annotations

import secrets
from html import escape

from workbench.tls.starttls_base import (
    MAX_LINE,
    NOTHING,
    LineNegotiator,
    NegotiationFailed,
    Negotiator,
    Step,
    first_word,
    quote,
)
from workbench.tls.starttls_client import SSL_REQUEST, XMPP_TLS_NS, element_end

MAX_REFUSED = 20
GSSENC_REQUEST = b"\x00\x00\x00\x08\x04\xd2\x16\x30"  # length 8, code 80877104


def server_name(host: str) -> str:
    """The name a server greets with: its listen host, unless that is a wildcard."""
    return "localhost" if host in ("", "0.0.0.0", "::", "[::]", "*") else host


class CommandServer(LineNegotiator):
    """A server of a line-command protocol: `_on_line` answers each command."""

    role = "server"

    def __init__(self, host: str) -> None:
        super().__init__()
        self._name = server_name(host)
        self._refused = 0

    def _refuse(self, reply: bytes) -> Step:
        self._refused += 1
        if self._refused >= MAX_REFUSED:
            raise NegotiationFailed(
                f"the client sent {MAX_REFUSED} commands without asking for STARTTLS"
            )
        return Step(reply)

    def _quit(self, reply: bytes) -> Step:
        return Step(reply, error="the client quit before STARTTLS")


class SmtpServer(CommandServer):
    """220 greeting; EHLO lists STARTTLS; STARTTLS gets 220; other mail commands get 530
    (RFC 3207)."""

    proto = "smtp"
    hello = b"EHLO"

    def start(self) -> bytes:
        return f"220 {self._name} ESMTP sockbench\r\n".encode()

    def _on_line(self, line: bytes) -> Step:
        verb, argument = first_word(line)
        name = self._name.encode()
        if verb == self.hello:
            if not argument:
                return self._refuse(b"501 5.5.4 Syntax: " + verb + b" hostname\r\n")
            return Step(b"250-" + name + b" Hello\r\n250 STARTTLS\r\n")
        if verb == b"HELO" and self.hello == b"EHLO":
            return Step(b"250 " + name + b"\r\n")
        if verb in (b"NOOP", b"RSET"):
            return Step(b"250 2.0.0 OK\r\n")
        if verb == b"QUIT":
            return self._quit(b"221 2.0.0 Bye\r\n")
        if verb == b"STARTTLS":
            if argument:
                return self._refuse(b"501 5.5.4 Syntax error (no parameters allowed)\r\n")
            return Step(b"220 2.0.0 Ready to start TLS\r\n", ready=True)
        return self._refuse(b"530 5.7.0 Must issue a STARTTLS command first\r\n")


class LmtpServer(SmtpServer):
    proto = "lmtp"
    hello = b"LHLO"

    def start(self) -> bytes:
        return f"220 {self._name} LMTP sockbench\r\n".encode()


class ImapServer(CommandServer):
    """`* OK` greeting listing STARTTLS; CAPABILITY, NOOP, LOGOUT answered; `tag STARTTLS`
    gets `tag OK`; LOGIN and the rest are refused until TLS (RFC 3501)."""

    proto = "imap"
    capability = b"CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED"

    def start(self) -> bytes:
        return b"* OK [" + self.capability + b"] " + self._name.encode() + b" ready\r\n"

    def _on_line(self, line: bytes) -> Step:
        tag, _, command = line.strip().partition(b" ")
        verb, _ = first_word(command)
        if not tag or not all(0x21 <= byte < 0x7F and byte not in b"*+%(){" for byte in tag):
            return self._refuse(b"* BAD a command starts with a tag\r\n")
        if verb == b"CAPABILITY":
            return Step(b"* " + self.capability + b"\r\n" + tag + b" OK CAPABILITY completed\r\n")
        if verb == b"NOOP":
            return Step(tag + b" OK NOOP completed\r\n")
        if verb == b"LOGOUT":
            return self._quit(b"* BYE logging out\r\n" + tag + b" OK LOGOUT completed\r\n")
        if verb == b"STARTTLS":
            return Step(tag + b" OK Begin TLS negotiation now\r\n", ready=True)
        if verb in (b"LOGIN", b"AUTHENTICATE"):
            return self._refuse(tag + b" NO [PRIVACYREQUIRED] issue STARTTLS first\r\n")
        return self._refuse(tag + b" BAD issue STARTTLS first\r\n")


class Pop3Server(CommandServer):
    """`+OK` greeting; CAPA lists STLS; STLS gets `+OK`; the rest `-ERR` (RFC 2595)."""

    proto = "pop3"

    def start(self) -> bytes:
        return f"+OK {self._name} POP3 sockbench\r\n".encode()

    def _on_line(self, line: bytes) -> Step:
        verb, _ = first_word(line)
        if verb == b"CAPA":
            return Step(b"+OK capability list follows\r\nSTLS\r\n.\r\n")
        if verb == b"NOOP":
            return Step(b"+OK\r\n")
        if verb == b"QUIT":
            return self._quit(b"+OK bye\r\n")
        if verb == b"STLS":
            return Step(b"+OK begin TLS negotiation\r\n", ready=True)
        return self._refuse(b"-ERR issue STLS first\r\n")


class FtpServer(CommandServer):
    """220 greeting; FEAT lists AUTH TLS; `AUTH TLS` (or SSL, TLS-C) gets 234; the rest 530
    (RFC 4217)."""

    proto = "ftp"

    def start(self) -> bytes:
        return f"220 {self._name} FTP sockbench\r\n".encode()

    def _on_line(self, line: bytes) -> Step:
        verb, argument = first_word(line)
        if verb == b"FEAT":
            return Step(b"211-Features:\r\n AUTH TLS\r\n211 End\r\n")
        if verb == b"NOOP":
            return Step(b"200 NOOP ok\r\n")
        if verb == b"QUIT":
            return self._quit(b"221 Goodbye\r\n")
        if verb == b"AUTH":
            if argument.upper() in (b"TLS", b"SSL", b"TLS-C"):
                return Step(b"234 Proceed with negotiation\r\n", ready=True)
            return self._refuse(b"504 AUTH TLS only\r\n")
        return self._refuse(b"530 issue AUTH TLS first\r\n")


class NntpServer(CommandServer):
    """200 greeting; CAPABILITIES lists STARTTLS; STARTTLS gets 382; the rest 483 (RFC 4642)."""

    proto = "nntp"

    def start(self) -> bytes:
        return f"200 {self._name} NNTP sockbench\r\n".encode()

    def _on_line(self, line: bytes) -> Step:
        verb, _ = first_word(line)
        if verb == b"CAPABILITIES":
            return Step(b"101 Capability list:\r\nVERSION 2\r\nSTARTTLS\r\n.\r\n")
        if verb == b"QUIT":
            return self._quit(b"205 bye\r\n")
        if verb == b"STARTTLS":
            return Step(b"382 Continue with TLS negotiation\r\n", ready=True)
        return self._refuse(b"483 issue STARTTLS first\r\n")


class SieveServer(CommandServer):
    """Capabilities with `"STARTTLS"` then OK; STARTTLS gets OK; the rest NO (RFC 5804)."""

    proto = "sieve"

    def start(self) -> bytes:
        return self._capabilities(f'OK "{self._name} ManageSieve ready"')

    @staticmethod
    def _capabilities(last: str) -> bytes:
        lines = ('"IMPLEMENTATION" "sockbench"', '"SIEVE" ""', '"STARTTLS"', '"VERSION" "1.0"')
        return "".join(f"{line}\r\n" for line in (*lines, last)).encode()

    def _on_line(self, line: bytes) -> Step:
        verb, _ = first_word(line)
        if verb == b"CAPABILITY":
            return Step(self._capabilities('OK "CAPABILITY completed"'))
        if verb == b"NOOP":
            return Step(b'OK "NOOP completed"\r\n')
        if verb == b"LOGOUT":
            return self._quit(b'OK "bye"\r\n')
        if verb == b"STARTTLS":
            return Step(b'OK "Begin TLS negotiation now"\r\n', ready=True)
        return self._refuse(b'NO "issue STARTTLS first"\r\n')


class IrcServer(CommandServer):
    """Silent until asked; STARTTLS gets 670; CAP LS lists `tls`; PING gets PONG; the rest
    451 (IRCv3 tls)."""

    proto = "irc"

    def start(self) -> bytes:
        return b""

    def _on_line(self, line: bytes) -> Step:
        verb, argument = first_word(line)
        name = self._name.encode()
        if verb == b"STARTTLS":
            return Step(b":" + name + b" 670 * :STARTTLS successful, go ahead\r\n", ready=True)
        if verb == b"CAP" and argument.upper().startswith(b"LS"):
            return Step(b":" + name + b" CAP * LS :tls\r\n")
        if verb == b"PING":
            return Step(b":" + name + b" PONG " + name + b" " + argument + b"\r\n")
        if verb == b"QUIT":
            return self._quit(b"ERROR :Closing link\r\n")
        if not verb:
            return NOTHING
        return self._refuse(b":" + name + b" 451 * :issue STARTTLS first\r\n")


class XmppServer(Negotiator):
    """Answers the client's stream header with features requiring STARTTLS, and `<starttls/>`
    with `<proceed/>` (RFC 6120)."""

    role = "server"

    def __init__(self, host: str, proto: str = "xmpp") -> None:
        super().__init__()
        self.proto = proto  # xmpp-server: answered in the client's namespace all the same
        self._name = server_name(host)
        self._buffer = bytearray()
        self._opened = False

    def start(self) -> bytes:
        return b""

    def _take(self, data: bytes) -> Step:
        self._buffer += data
        if b"</stream:stream>" in self._buffer:
            raise NegotiationFailed(f"the client ended the stream: {quote(bytes(self._buffer))}")
        header = b""
        if not self._opened:
            header = self._header()
            if not self._opened:
                return self._bounded()
        step = self._go_ahead()
        return step._replace(send=header + step.send)

    def _header(self) -> bytes:
        start = self._buffer.find(b"<stream:stream")
        end = self._buffer.find(b">", start)
        if start < 0 or end < 0:
            return b""
        self._opened = True
        server = b"jabber:server" in self._buffer[start:end]
        del self._buffer[: end + 1]
        return (
            "<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams'"
            f" xmlns='jabber:{'server' if server else 'client'}' id='{secrets.token_hex(8)}'"
            f" from='{escape(self._name)}' version='1.0'><stream:features>"
            "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
            "</stream:features>"
        ).encode()

    def _go_ahead(self) -> Step:
        end = element_end(self._buffer, b"starttls")
        if end < 0:
            return self._bounded()
        proceed = b"<proceed xmlns='" + XMPP_TLS_NS + b"'/>"
        return Step(proceed, ready=True, leftover=bytes(self._buffer[end:]))

    def _bounded(self) -> Step:
        if len(self._buffer) > 8 * MAX_LINE:
            raise NegotiationFailed(
                f"the client sent {8 * MAX_LINE // 1024} KiB without asking for STARTTLS"
            )
        return NOTHING


class PostgresServer(Negotiator):
    """Answers SSLRequest with `S`, GSSENCRequest with `N` (the client then asks for TLS)."""

    proto = "postgres"
    role = "server"

    def __init__(self) -> None:
        super().__init__()
        self._buffer = b""

    def start(self) -> bytes:
        return b""

    def _take(self, data: bytes) -> Step:
        self._buffer += data
        refused = b""
        while len(self._buffer) >= len(SSL_REQUEST):
            request, self._buffer = self._buffer[:8], self._buffer[8:]
            if request == SSL_REQUEST:
                return Step(refused + b"S", ready=True, leftover=self._buffer)
            if request != GSSENC_REQUEST:
                raise NegotiationFailed(
                    f"the client did not ask for TLS (its first packet began {request.hex()})"
                )
            refused += b"N"  # no GSSAPI encryption: the client asks for TLS next
        return Step(refused)
