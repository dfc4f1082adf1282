"""The client side of each STARTTLS negotiation, as `openssl s_client -starttls` runs it, but
checking every answer: a refusal or a missing STARTTLS fails in plain words quoting the server."""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable
from html import escape

from workbench.tls.starttls_base import (
    MAX_LINE,
    NOTHING,
    LineNegotiator,
    NegotiationFailed,
    Negotiator,
    Reply,
    Step,
    quote,
)

XMPP_TLS_NS = b"urn:ietf:params:xml:ns:xmpp-tls"
MAX_XML = 8 * MAX_LINE  # an XMPP stream header and features fit easily
SSL_REQUEST = b"\x00\x00\x00\x08\x04\xd2\x16\x2f"  # length 8, code 80877103
MYSQL_CLIENT_SSL = 0x0800
MYSQL_MAX_GREETING = 1 << 16  # a handshake packet is a few dozen bytes
# MySQL's SSL request as openssl sends it: its capabilities (CLIENT_SSL and PROTOCOL_41
# among them), a 16 MiB maximum packet, utf8 (33), 23 reserved zero bytes.
MYSQL_SSL_REQUEST = bytes.fromhex("85ae7f00") + struct.pack("<I", 1 << 24) + b"\x21" + bytes(23)


def element_end(buffer: bytearray, name: bytes) -> int:
    """Where the first whole `<name .../>` or `<name ...>...</name>` in `buffer` ends (-1 while
    there is none yet)."""
    start = buffer.find(b"<" + name)
    end = buffer.find(b">", start)
    if start < 0 or end < 0:
        return -1
    if buffer[end - 1 : end] == b"/":
        return end + 1
    close = buffer.find(b"</" + name + b">", end)
    return -1 if close < 0 else close + len(name) + 3


def hello_name(host: str) -> str:
    """The EHLO argument: a name (in ASCII: `xn--` for an international one), or an address
    literal (`[127.0.0.1]`, `[IPv6:::1]`)."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        try:
            return host.encode("idna").decode("ascii") if host else "localhost"
        except UnicodeError:  # not a valid name: sent as it is, the server says what it thinks
            return host
    return f"[IPv6:{address}]" if address.version == 6 else f"[{address}]"


class ReplyClient(LineNegotiator):
    """A client of a numbered-reply protocol: each complete reply goes to the current phase."""

    role = "client"
    strict = True  # every line of a reply carries its code

    def __init__(self) -> None:
        super().__init__()
        self._reply = Reply(self.strict)
        self._phase: Callable[[Reply], Step] = self._greeting

    def start(self) -> bytes:
        return b""

    def _on_line(self, line: bytes) -> Step:
        if not self._reply.add(line):
            return NOTHING
        reply, self._reply = self._reply, Reply(self.strict)
        return self._phase(reply)

    def _greeting(self, reply: Reply) -> Step:
        raise NotImplementedError


class SmtpClient(ReplyClient):
    """220 greeting, `EHLO`, 250 with STARTTLS among its keywords, `STARTTLS`, 220."""

    proto = "smtp"
    hello = "EHLO"

    def __init__(self, host: str) -> None:
        super().__init__()
        self._name = hello_name(host)

    def _greeting(self, reply: Reply) -> Step:
        if reply.code != b"220":
            raise NegotiationFailed(f"the server refused the session: {reply.words()}")
        self._phase = self._hello_answer
        return Step(f"{self.hello} {self._name}\r\n".encode())

    def _hello_answer(self, reply: Reply) -> Step:
        if reply.code != b"250":
            raise NegotiationFailed(f"the server refused {self.hello}: {reply.words()}")
        keywords = {line[4:].split(b" ", 1)[0].upper() for line in reply.lines[1:]}
        if b"STARTTLS" not in keywords:
            raise NegotiationFailed(
                f"the server does not offer STARTTLS (its {self.hello} answer: {reply.words()})"
            )
        self._phase = self._go_ahead
        return Step(b"STARTTLS\r\n")

    def _go_ahead(self, reply: Reply) -> Step:
        if reply.code != b"220":
            raise NegotiationFailed(f"STARTTLS refused: {reply.words()}")
        return Step(ready=True)


class LmtpClient(SmtpClient):
    proto = "lmtp"
    hello = "LHLO"


class FtpClient(ReplyClient):
    """220 greeting (after any 1xx "wait"), `AUTH TLS`, 234 (RFC 4217)."""

    proto = "ftp"
    strict = False

    def _greeting(self, reply: Reply) -> Step:
        if reply.code.startswith(b"1"):  # 120: ready in a few minutes; the 220 follows
            return NOTHING
        if reply.code != b"220":
            raise NegotiationFailed(f"the server refused the session: {reply.words()}")
        self._phase = self._go_ahead
        return Step(b"AUTH TLS\r\n")

    def _go_ahead(self, reply: Reply) -> Step:
        if reply.code != b"234":
            raise NegotiationFailed(f"AUTH TLS refused: {reply.words()}")
        return Step(ready=True)


class LineClient(LineNegotiator):
    """A client of a line protocol: each line goes to the current phase."""

    role = "client"

    def __init__(self) -> None:
        super().__init__()
        self._phase: Callable[[bytes], Step] = self._greeting

    def start(self) -> bytes:
        return b""

    def _on_line(self, line: bytes) -> Step:
        return self._phase(line)

    def _greeting(self, line: bytes) -> Step:
        raise NotImplementedError


class ImapClient(LineClient):
    """`* OK` greeting, `a001 CAPABILITY` unless the greeting lists STARTTLS, `aNNN STARTTLS`,
    `aNNN OK`. Untagged lines in between are read and passed over."""

    proto = "imap"

    def __init__(self) -> None:
        super().__init__()
        self._tag = 0
        self._capabilities: set[bytes] = set()

    def _command(self, verb: bytes) -> Step:
        self._tag += 1
        return Step(self._current + b" " + verb + b"\r\n")

    @property
    def _current(self) -> bytes:
        return b"a%03d" % self._tag

    def _greeting(self, line: bytes) -> Step:
        upper = line.upper()
        if upper.startswith(b"* PREAUTH"):
            raise NegotiationFailed(
                f"the server logged the session in already ({quote(line)}):"
                " STARTTLS is not allowed after that"
            )
        if not upper.startswith(b"* OK"):
            raise NegotiationFailed(f"the server refused the session: {quote(line)}")
        self._note_capabilities(upper.partition(b"[CAPABILITY ")[2].partition(b"]")[0])
        if b"STARTTLS" in self._capabilities:
            return self._starttls()
        self._phase = self._capability_answer
        return self._command(b"CAPABILITY")

    def _note_capabilities(self, words: bytes) -> None:
        self._capabilities.update(words.upper().split())

    def _capability_answer(self, line: bytes) -> Step:
        if line.upper().startswith(b"* CAPABILITY "):
            self._note_capabilities(line[13:])
        if not self._tagged(line):
            return NOTHING
        if b"STARTTLS" not in self._capabilities:
            raise NegotiationFailed(
                "the server does not offer STARTTLS (its capabilities: "
                f"{quote(b' '.join(sorted(self._capabilities)))})"
            )
        return self._starttls()

    def _starttls(self) -> Step:
        self._phase = self._go_ahead
        return self._command(b"STARTTLS")

    def _go_ahead(self, line: bytes) -> Step:
        return Step(ready=True) if self._tagged(line) else NOTHING

    def _tagged(self, line: bytes) -> bool:
        """True for the tagged OK that ends the current command; fails on NO, BAD or BYE."""
        if line.upper().startswith(b"* BYE"):
            raise NegotiationFailed(f"the server ended the session: {quote(line)}")
        if line.startswith(b"* "):
            return False
        tag, _, status = line.partition(b" ")
        if tag != self._current:
            raise NegotiationFailed(f"the server answered out of turn: {quote(line)}")
        if not status.upper().startswith(b"OK"):
            command = "STARTTLS" if self._phase == self._go_ahead else "CAPABILITY"
            raise NegotiationFailed(f"{command} refused: {quote(line)}")
        return True


class Pop3Client(LineClient):
    """`+OK` greeting, `STLS`, `+OK` (RFC 2595)."""

    proto = "pop3"

    def _greeting(self, line: bytes) -> Step:
        if not line.startswith(b"+OK"):
            raise NegotiationFailed(f"the server refused the session: {quote(line)}")
        self._phase = self._go_ahead
        return Step(b"STLS\r\n")

    def _go_ahead(self, line: bytes) -> Step:
        if not line.startswith(b"+OK"):
            raise NegotiationFailed(f"STARTTLS refused: {quote(line)}")
        return Step(ready=True)


class NntpClient(LineClient):
    """200/201 greeting, `CAPABILITIES`, a 101 list with STARTTLS ending in `.`, `STARTTLS`,
    382 (RFC 4642)."""

    proto = "nntp"

    def __init__(self) -> None:
        super().__init__()
        self._capabilities: list[bytes] = []

    def _greeting(self, line: bytes) -> Step:
        if line[:3] not in (b"200", b"201"):
            raise NegotiationFailed(f"the server refused the session: {quote(line)}")
        self._phase = self._capability_list
        return Step(b"CAPABILITIES\r\n")

    def _capability_list(self, line: bytes) -> Step:
        if not self._capabilities and not line.startswith(b"101"):
            raise NegotiationFailed(f"the server does not list its capabilities: {quote(line)}")
        if line != b".":
            self._capabilities.append(line)
            return NOTHING
        if not any(word.split(b" ")[0].upper() == b"STARTTLS" for word in self._capabilities):
            raise NegotiationFailed(
                f"the server does not offer STARTTLS (its capabilities: "
                f"{quote(*self._capabilities)})"
            )
        self._phase = self._go_ahead
        return Step(b"STARTTLS\r\n")

    def _go_ahead(self, line: bytes) -> Step:
        if not line.startswith(b"382"):
            raise NegotiationFailed(f"STARTTLS refused: {quote(line)}")
        return Step(ready=True)


class SieveClient(LineClient):
    """Capability lines (`"STARTTLS"`) ending in `OK`, `STARTTLS`, `OK` (ManageSieve, RFC
    5804)."""

    proto = "sieve"

    def __init__(self) -> None:
        super().__init__()
        self._capabilities: list[bytes] = []

    def _greeting(self, line: bytes) -> Step:
        if line.startswith(b'"'):
            self._capabilities.append(line)
            return NOTHING
        if not line.upper().startswith(b"OK"):
            raise NegotiationFailed(f"the server refused the session: {quote(line)}")
        if not any(c.upper().startswith(b'"STARTTLS"') for c in self._capabilities):
            raise NegotiationFailed(
                f"the server does not offer STARTTLS (its capabilities: "
                f"{quote(*self._capabilities)})"
            )
        self._phase = self._go_ahead
        return Step(b"STARTTLS\r\n")

    def _go_ahead(self, line: bytes) -> Step:
        if not line.upper().startswith(b"OK"):
            raise NegotiationFailed(f"STARTTLS refused: {quote(line)}")
        return Step(ready=True)


class IrcClient(LineClient):
    """`STARTTLS` at once, then the numeric 670; 691 (or 421/451 about STARTTLS) fails; PINGs
    are answered and other lines passed over (IRCv3 tls)."""

    proto = "irc"

    def start(self) -> bytes:
        return b"STARTTLS\r\n"

    def _greeting(self, line: bytes) -> Step:
        words = line.split()
        if words[:1] and words[0].startswith(b":"):  # the prefix: who says it
            del words[0]
        command = words[0].upper() if words else b""
        if command == b"PING":
            return Step(b"PONG " + b" ".join(words[1:]) + b"\r\n")
        if command == b"ERROR":
            raise NegotiationFailed(f"the server ended the session: {quote(line)}")
        if command == b"670":
            return Step(ready=True)
        if command == b"691" or (command in (b"421", b"451") and b"STARTTLS" in line.upper()):
            raise NegotiationFailed(f"STARTTLS refused: {quote(line)}")
        return NOTHING


class XmppClient(Negotiator):
    """Stream header to the host, `<stream:features>` with `<starttls>`, `<starttls/>`,
    `<proceed/>` (RFC 6120). Not line-based: the buffer is bounded by MAX_XML."""

    role = "client"

    def __init__(self, host: str, namespace: str = "jabber:client") -> None:
        super().__init__()
        self.proto = "xmpp" if namespace == "jabber:client" else "xmpp-server"
        to = escape(host or "localhost")  # quote=True: ' becomes &#x27;
        self._header = (
            "<?xml version='1.0'?><stream:stream"
            " xmlns:stream='http://etherx.jabber.org/streams'"
            f" xmlns='{namespace}' to='{to}' version='1.0'>"
        )
        self._buffer = bytearray()
        self._asked = False

    def start(self) -> bytes:
        return self._header.encode()

    def _take(self, data: bytes) -> Step:
        self._buffer += data
        if b"<stream:error" in self._buffer or b"</stream:stream>" in self._buffer:
            raise NegotiationFailed(f"the server ended the stream: {self._words()}")
        step = self._go_ahead() if self._asked else self._features()
        if step is NOTHING and len(self._buffer) > MAX_XML:
            raise NegotiationFailed(
                f"the server sent {MAX_XML // 1024} KiB without finishing the STARTTLS"
                f" negotiation ({self._words()})"
            )
        return step

    def _features(self) -> Step:
        start = self._buffer.find(b"<starttls")
        end = self._buffer.find(b">", start)
        if start >= 0 and end >= 0 and XMPP_TLS_NS in self._buffer[start:end]:
            self._asked = True
            self._buffer.clear()
            return Step(b"<starttls xmlns='" + XMPP_TLS_NS + b"'/>")
        if b"</stream:features>" in self._buffer or b"<stream:features/>" in self._buffer:
            raise NegotiationFailed(
                f"the server does not offer STARTTLS (its features: {self._words()})"
            )
        return NOTHING

    def _go_ahead(self) -> Step:
        if b"<failure" in self._buffer:
            raise NegotiationFailed(f"STARTTLS refused: {self._words()}")
        end = element_end(self._buffer, b"proceed")
        return NOTHING if end < 0 else Step(ready=True, leftover=bytes(self._buffer[end:]))

    def _words(self) -> str:
        return quote(bytes(self._buffer))


class PostgresClient(Negotiator):
    """The 8-byte SSLRequest; one byte back: `S` go ahead, `N` no TLS."""

    proto = "postgres"
    role = "client"

    def start(self) -> bytes:
        return SSL_REQUEST

    def _take(self, data: bytes) -> Step:
        if not data:
            return NOTHING
        answer, rest = data[:1], data[1:]
        if answer == b"S":
            return Step(ready=True, leftover=rest)
        if answer == b"N":
            raise NegotiationFailed("the server does not speak TLS (it answered N to SSLRequest)")
        raise NegotiationFailed(f"the server's answer to SSLRequest is not S or N: {quote(data)}")


class MysqlClient(Negotiator):
    """The server's handshake packet (protocol 10) must offer SSL; the SSL request packet goes
    back and TLS starts at once, without a go-ahead. (No server side: its client's ClientHello
    follows the request with nothing between, so those bytes are TLS, not `leftover`.)"""

    proto = "mysql"
    role = "client"

    def __init__(self) -> None:
        super().__init__()
        self._buffer = b""

    def start(self) -> bytes:
        return b""

    def _take(self, data: bytes) -> Step:
        self._buffer += data
        length = int.from_bytes(self._buffer[:3], "little")
        if length > MYSQL_MAX_GREETING:
            raise NegotiationFailed(
                f"the server is not speaking MySQL (a first packet of {length} bytes:"
                f" {quote(self._buffer[:40])})"
            )
        if len(self._buffer) < 4 or len(self._buffer) < 4 + length:
            return NOTHING
        sequence, payload = self._buffer[3], self._buffer[4 : 4 + length]
        if payload[:1] == b"\xff":  # an error packet: a code, then the message
            raise NegotiationFailed(f"the server refused the session: {quote(payload[3:])}")
        if payload[:1] != b"\x0a":
            raise NegotiationFailed(
                f"the server does not speak MySQL protocol 10: {quote(payload[:40])}"
            )
        version, _, after = payload[1:].partition(b"\x00")
        if len(after) < 15:  # connection id, 8 bytes of scramble, a filler, capabilities
            raise NegotiationFailed("the server's MySQL handshake packet is cut short")
        if not int.from_bytes(after[13:15], "little") & MYSQL_CLIENT_SSL:
            raise NegotiationFailed(f"the server does not offer TLS (MySQL {quote(version)})")
        request = len(MYSQL_SSL_REQUEST).to_bytes(3, "little") + bytes([(sequence + 1) & 0xFF])
        leftover = self._buffer[4 + length :]
        return Step(request + MYSQL_SSL_REQUEST, ready=True, leftover=leftover)
