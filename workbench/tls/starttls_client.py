"""The client side of each STARTTLS negotiation, as `openssl s_client -starttls` runs it, but
checking every answer: a refusal or a missing STARTTLS fails in plain words quoting the server."""

from __future__ import annotations

import ipaddress
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


def hello_name(host: str) -> str:
    """The EHLO argument: a name, or an address literal (`[127.0.0.1]`, `[IPv6:::1]`)."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host or "localhost"
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


class ImapClient(LineNegotiator):
    """`* OK` greeting, `a001 CAPABILITY` unless the greeting lists STARTTLS, `aNNN STARTTLS`,
    `aNNN OK`. Untagged lines in between are read and passed over."""

    proto = "imap"
    role = "client"

    def __init__(self) -> None:
        super().__init__()
        self._tag = 0
        self._capabilities: set[bytes] = set()
        self._phase: Callable[[bytes], Step] = self._greeting

    def start(self) -> bytes:
        return b""

    def _on_line(self, line: bytes) -> Step:
        return self._phase(line)

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
        """True for the tagged OK that ends the current command; fails on NO or BAD."""
        if line.startswith(b"* "):
            return False
        tag, _, status = line.partition(b" ")
        if tag != self._current:
            raise NegotiationFailed(f"the server answered out of turn: {quote(line)}")
        if not status.upper().startswith(b"OK"):
            command = "STARTTLS" if self._phase == self._go_ahead else "CAPABILITY"
            raise NegotiationFailed(f"{command} refused: {quote(line)}")
        return True


class Pop3Client(LineNegotiator):
    """`+OK` greeting, `STLS`, `+OK` (RFC 2595)."""

    proto = "pop3"
    role = "client"

    def __init__(self) -> None:
        super().__init__()
        self._asked = False

    def start(self) -> bytes:
        return b""

    def _on_line(self, line: bytes) -> Step:
        if not line.startswith(b"+OK"):
            what = "STARTTLS refused" if self._asked else "the server refused the session"
            raise NegotiationFailed(f"{what}: {quote(line)}")
        if self._asked:
            return Step(ready=True)
        self._asked = True
        return Step(b"STLS\r\n")


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
        start = self._buffer.find(b"<proceed")
        end = self._buffer.find(b">", start)
        if start < 0 or end < 0:
            return NOTHING
        if self._buffer[end - 1 : end] != b"/":  # <proceed ...></proceed>
            close = self._buffer.find(b"</proceed>", end)
            if close < 0:
                return NOTHING
            end = close + len(b"</proceed")
        return Step(ready=True, leftover=bytes(self._buffer[end + 1 :]))

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
