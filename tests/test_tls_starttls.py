"""STARTTLS negotiations, sans-IO: each protocol's client and server side fed whole, byte by
byte and pipelined; refusals and missing STARTTLS fail in plain words quoting the peer; bounds
on lines; and bytes after the go-ahead come back as `leftover`, never in `send` (the
CVE-2011-0411 injection)."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from workbench.tls.starttls import (
    CLIENT_PROTOCOLS,
    SERVER_PROTOCOLS,
    Negotiator,
    Step,
    negotiator,
)

XMPP_FEATURES = (
    b"<?xml version='1.0'?><stream:stream xmlns='jabber:client'"
    b" xmlns:stream='http://etherx.jabber.org/streams' from='example.net' version='1.0'>"
    b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>"
    b"</starttls><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></stream:features>"
)
PROCEED = b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"


def mysql_greeting(capabilities: int = 0xFFFF, version: bytes = b"8.0.36") -> bytes:
    """A MySQL 8 server's handshake packet (protocol 10), sequence 0."""
    payload = (
        b"\x0a" + version + b"\x00" + b"\x07\x00\x00\x00" + b"abcdefgh" + b"\x00"
        + capabilities.to_bytes(2, "little") + b"\xff\x02\x00\xff\xdf\x15" + bytes(10)
        + b"ijklmnopqrst\x00" + b"caching_sha2_password\x00"
    )  # fmt: skip
    return len(payload).to_bytes(3, "little") + b"\x00" + payload


# openssl's SSL request packet: length 32, sequence 1, capabilities, max packet, utf8, zeros.
MYSQL_SSL_REQUEST = bytes.fromhex("2000000185ae7f000000000121") + bytes(23)

# What a server says, in turns; each turn answers what the client sent last.
SERVER_TURNS: dict[str, list[bytes]] = {
    "smtp": [
        b"220-mx.example.net ESMTP\r\n220 welcome\r\n",
        b"250-mx.example.net\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 SIZE 1000\r\n",
        b"220 2.0.0 Ready to start TLS\r\n",
    ],
    "lmtp": [b"220 lmtp ready\r\n", b"250-lmtp\r\n250 STARTTLS\r\n", b"220 go ahead\r\n"],
    "imap": [
        b"* OK IMAP4rev1 ready\r\n",
        b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\na001 OK done\r\n",
        b"a002 OK Begin TLS negotiation now\r\n",
    ],
    "pop3": [b"+OK POP3 ready\r\n", b"+OK Begin TLS\r\n"],
    "ftp": [b"220-Welcome\r\n to the server\r\n220 ready\r\n", b"234 AUTH TLS OK\r\n"],
    "xmpp": [XMPP_FEATURES, PROCEED],
    "xmpp-server": [XMPP_FEATURES.replace(b"jabber:client", b"jabber:server"), PROCEED],
    "nntp": [
        b"200 news.example ready\r\n",
        b"101 Capability list:\r\nVERSION 2\r\nREADER\r\nSTARTTLS\r\n.\r\n",
        b"382 Continue with TLS negotiation\r\n",
    ],
    "sieve": [
        b'"IMPLEMENTATION" "Dovecot"\r\n"SASL" ""\r\n"STARTTLS"\r\nOK "ready"\r\n',
        b'OK "Begin TLS negotiation now"\r\n',
    ],
    "irc": [
        b":irc.example NOTICE * :*** Looking up your hostname\r\nPING :1234\r\n",
        b":irc.example 670 * :STARTTLS successful, go ahead\r\n",
    ],
    "postgres": [b"S"],
    "mysql": [mysql_greeting()],
}
CLIENT_SAYS: dict[str, list[bytes]] = {
    "smtp": [b"EHLO mx.example.net\r\n", b"STARTTLS\r\n"],
    "lmtp": [b"LHLO mx.example.net\r\n", b"STARTTLS\r\n"],
    "imap": [b"a001 CAPABILITY\r\n", b"a002 STARTTLS\r\n"],
    "pop3": [b"STLS\r\n"],
    "ftp": [b"AUTH TLS\r\n"],
    "xmpp": [b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"],
    "xmpp-server": [b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"],
    "nntp": [b"CAPABILITIES\r\n", b"STARTTLS\r\n"],
    "sieve": [b"STARTTLS\r\n"],
    "irc": [b"PONG :1234\r\n"],
    "postgres": [],
    "mysql": [MYSQL_SSL_REQUEST],
}


def pieces(data: bytes, split: str) -> Iterable[bytes]:
    return [data[i : i + 1] for i in range(len(data))] if split == "bytes" else [data]


def feed_all(side: Negotiator, data: bytes, split: str = "whole") -> Step:
    """Feed data in pieces; the sends are joined, the last step's other fields kept."""
    sent = b""
    step = Step()
    for piece in pieces(data, split):
        step = side.feed(piece)
        sent += step.send
        if step.ready or step.error:
            break
    return step._replace(send=sent)


def run_client(proto: str, turns: list[bytes], split: str = "whole") -> tuple[list[bytes], Step]:
    client = negotiator(proto, "client", "mx.example.net")
    sent = [client.start()]
    step = Step()
    for turn in turns:
        step = feed_all(client, turn, split)
        sent.append(step.send)
        if step.ready or step.error:
            break
    return [s for s in sent if s], step


@pytest.mark.parametrize("split", ["whole", "bytes"])
@pytest.mark.parametrize("proto", CLIENT_PROTOCOLS)
def test_each_client_reaches_the_go_ahead(proto: str, split: str) -> None:
    sent, step = run_client(proto, SERVER_TURNS[proto], split)
    assert step._replace(send=b"") == Step(ready=True)  # mysql sends with its go-ahead
    opening = negotiator(proto, "client", "mx.example.net").start()
    assert sent == ([opening] if opening else []) + CLIENT_SAYS[proto]


def test_the_client_openings_are_those_of_openssl() -> None:
    assert negotiator("postgres", "client", "db").start() == bytes.fromhex("0000000804d2162f")
    header = negotiator("xmpp", "client", "chat.example").start()
    assert b"to='chat.example'" in header and b"xmlns='jabber:client'" in header
    assert b"xmlns='jabber:server'" in negotiator("xmpp-server", "client", "x").start()
    assert negotiator("irc", "client", "x").start() == b"STARTTLS\r\n"
    for proto in ("smtp", "lmtp", "imap", "pop3", "ftp", "nntp", "sieve", "mysql"):
        assert negotiator(proto, "client", "x").start() == b""


@pytest.mark.parametrize(
    ("host", "ehlo"),
    [
        ("mx.example", b"EHLO mx.example\r\n"),
        ("127.0.0.1", b"EHLO [127.0.0.1]\r\n"),
        ("::1", b"EHLO [IPv6:::1]\r\n"),
        ("bücher.example", b"EHLO xn--bcher-kva.example\r\n"),
        ("", b"EHLO localhost\r\n"),
    ],
)
def test_ehlo_gives_a_name_or_an_address_literal(host: str, ehlo: bytes) -> None:
    assert negotiator("smtp", "client", host).feed(b"220 hi\r\n").send == ehlo


def test_a_host_that_would_break_the_protocol_is_refused() -> None:
    with pytest.raises(ValueError, match="no spaces or control"):
        negotiator("smtp", "client", "a\r\nMAIL FROM:<x>")
    quoted = negotiator("xmpp", "client", "a'b<c").start()
    assert b"to='a&#x27;b&lt;c'" in quoted


def test_unknown_protocols_and_roles_say_what_is_known() -> None:
    with pytest.raises(ValueError, match="smtp, lmtp, imap"):
        negotiator("gopher", "client", "x")
    with pytest.raises(ValueError, match="client or server"):
        negotiator("smtp", "peer", "x")
    assert negotiator("SMTP", "client", "x").proto == "smtp"
    for proto in CLIENT_PROTOCOLS:
        assert negotiator(proto, "client", "x").proto == proto
    for proto in SERVER_PROTOCOLS:
        assert negotiator(proto, "server", "x").role == "server"
        assert negotiator(proto, "server", "x").proto == proto


def test_imap_skips_capability_when_the_greeting_lists_starttls() -> None:
    turns = [b"* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n", b"* NOTE x\r\na001 OK go\r\n"]
    sent, step = run_client("imap", turns)
    assert sent == [b"a001 STARTTLS\r\n"] and step.ready


@pytest.mark.parametrize(
    ("proto", "turns", "error"),
    [
        ("smtp", [b"554 no service for you\r\n"], "the server refused the session: 554 no"),
        (
            "smtp",
            [b"220 hi\r\n", b"250-mx\r\n250 SIZE 10\r\n"],
            "the server does not offer STARTTLS (its EHLO answer: 250-mx / 250 SIZE 10)",
        ),
        ("smtp", [b"220 hi\r\n", b"502 no EHLO\r\n"], "the server refused EHLO: 502 no EHLO"),
        (
            "smtp",
            [b"220 hi\r\n", b"250-mx\r\n250 STARTTLS\r\n", b"454 4.7.0 TLS not available\r\n"],
            "STARTTLS refused: 454 4.7.0 TLS not available",
        ),
        ("smtp", [b"220 hi\r\n", b"250-mx\r\n220 x\r\n"], "the server's reply mixes codes"),
        ("smtp", [b"hello there\r\n"], "not a numbered reply: hello there"),
        ("imap", [b"* BYE go away\r\n"], "the server refused the session: * BYE go away"),
        ("imap", [b"* PREAUTH hi\r\n"], "STARTTLS is not allowed after that"),
        (
            "imap",
            [b"* OK hi\r\n", b"* CAPABILITY IMAP4rev1\r\na001 OK\r\n"],
            "the server does not offer STARTTLS (its capabilities: IMAP4REV1)",
        ),
        (
            "imap",
            [b"* OK [CAPABILITY STARTTLS] hi\r\n", b"a001 BAD not now\r\n"],
            "STARTTLS refused: a001 BAD not now",
        ),
        ("imap", [b"* OK hi\r\n", b"a007 OK\r\n"], "the server answered out of turn: a007 OK"),
        ("imap", [b"* OK hi\r\n", b"* BYE shutting down\r\n"], "ended the session: * BYE"),
        ("pop3", [b"-ERR busy\r\n"], "the server refused the session: -ERR busy"),
        ("pop3", [b"+OK hi\r\n", b"-ERR not here\r\n"], "STARTTLS refused: -ERR not here"),
        ("ftp", [b"421 too many\r\n"], "the server refused the session: 421 too many"),
        ("ftp", [b"220 hi\r\n", b"530 no\r\n"], "AUTH TLS refused: 530 no"),
        (
            "xmpp",
            [b"<stream:stream><stream:features><bind/></stream:features>"],
            "the server does not offer STARTTLS (its features: <stream:stream>",
        ),
        (
            "xmpp",
            [XMPP_FEATURES, b"<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"],
            "STARTTLS refused: <failure",
        ),
        ("xmpp", [b"<stream:error><host-unknown/>"], "the server ended the stream"),
        ("postgres", [b"N"], "the server does not speak TLS (it answered N to SSLRequest)"),
        ("postgres", [b"E\x00\x00\x00\x10"], "not S or N"),
        ("nntp", [b"400 go away\r\n"], "the server refused the session: 400 go away"),
        (
            "nntp",
            [b"200 hi\r\n", b"500 What?\r\n"],
            "the server does not list its capabilities: 500 What?",
        ),
        (
            "nntp",
            [b"200 hi\r\n", b"101 list\r\nVERSION 2\r\n.\r\n"],
            "the server does not offer STARTTLS (its capabilities: 101 list / VERSION 2)",
        ),
        ("nntp", [*SERVER_TURNS["nntp"][:2], b"580 can not\r\n"], "STARTTLS refused: 580"),
        (
            "sieve",
            [b'"SASL" "PLAIN"\r\nOK\r\n'],
            'the server does not offer STARTTLS (its capabilities: "SASL" "PLAIN")',
        ),
        ("sieve", [b'BYE "busy"\r\n'], 'the server refused the session: BYE "busy"'),
        ("sieve", [SERVER_TURNS["sieve"][0], b'NO "no"\r\n'], 'STARTTLS refused: NO "no"'),
        ("irc", [b":x 691 * :STARTTLS failed\r\n"], "STARTTLS refused: :x 691"),
        ("irc", [b":x 421 me STARTTLS :Unknown command\r\n"], "STARTTLS refused: :x 421"),
        ("irc", [b"ERROR :Closing link\r\n"], "the server ended the session: ERROR"),
        ("mysql", [mysql_greeting(0xF7FF)], "the server does not offer TLS (MySQL 8.0.36)"),
        (
            "mysql",
            [b"\x16\x00\x00\x00\xff\x6a\x04Host is not allowed"],
            "the server refused the session: Host is not allowed",
        ),
        ("mysql", [b"\x05\x00\x00\x00\x09abcd"], "does not speak MySQL protocol 10"),
        ("mysql", [b"HTTP/1.1 400 Bad Request\r\n"], "the server is not speaking MySQL"),
    ],
)
def test_refusals_fail_in_plain_words_quoting_the_server(
    proto: str, turns: list[bytes], error: str
) -> None:
    _, step = run_client(proto, turns)
    assert error in step.error
    assert not step.ready and not step.leftover


def test_ftp_waits_through_a_preliminary_reply() -> None:
    sent, step = run_client("ftp", [b"120 in 5 minutes\r\n", b"220 ready\r\n", b"234 go\r\n"])
    assert sent == [b"AUTH TLS\r\n"] and step.ready


def test_a_line_over_the_bound_is_an_error_not_a_buffer() -> None:
    client = negotiator("smtp", "client", "x")
    step = Step()
    for _ in range(3):
        step = client.feed(b"2" * 4000)
    assert "a line longer than 8 KiB" in step.error
    assert client.feed(b"\r\n").error == "the STARTTLS negotiation is already over"


def test_a_peer_that_talks_on_and_on_is_cut_off() -> None:
    client = negotiator("imap", "client", "x")
    client.feed(b"* OK hi\r\n")
    step = client.feed(b"* NOTE blah\r\n" * 1200)
    assert "more than 1000 lines" in step.error


def test_xmpp_is_bounded_without_line_ends() -> None:
    client = negotiator("xmpp", "client", "x")
    step = client.feed(b"<stream:stream>" + b"<x/>" * 20000)
    assert "64 KiB without finishing" in step.error


# The injection (CVE-2011-0411): what follows the go-ahead in the same read is leftover.
INJECTED = b"250 injected\r\n"


@pytest.mark.parametrize("proto", CLIENT_PROTOCOLS)
def test_bytes_after_the_go_ahead_are_leftover_never_sent(proto: str) -> None:
    turns = [*SERVER_TURNS[proto][:-1], SERVER_TURNS[proto][-1] + INJECTED]
    sent, step = run_client(proto, turns)
    assert step.ready and step.leftover == INJECTED
    assert all(INJECTED not in s for s in sent)


def test_leftover_splits_exactly_at_the_go_ahead() -> None:
    client = negotiator("smtp", "client", "x")
    client.feed(b"220 hi\r\n")
    client.feed(b"250-x\r\n250 STARTTLS\r\n")
    step = client.feed(b"220 go ahead\r\n\x16\x03\x01 not TLS")
    assert step == Step(ready=True, leftover=b"\x16\x03\x01 not TLS")


# The server side.


def test_smtp_server_greets_offers_starttls_and_refuses_mail_before_it() -> None:
    server = negotiator("smtp", "server", "0.0.0.0")
    assert server.start() == b"220 localhost ESMTP sockbench\r\n"
    assert server.feed(b"EHLO client.example\r\n").send == (
        b"250-localhost Hello\r\n250 STARTTLS\r\n"
    )
    assert server.feed(b"MAIL FROM:<a@b>\r\n").send == (
        b"530 5.7.0 Must issue a STARTTLS command first\r\n"
    )
    assert server.feed(b"HELO x\r\nNOOP\r\n").send == b"250 localhost\r\n250 2.0.0 OK\r\n"
    assert server.feed(b"STARTTLS now\r\n").send.startswith(b"501 ")
    assert server.feed(b"STARTTLS\r\n") == Step(b"220 2.0.0 Ready to start TLS\r\n", ready=True)


def test_smtp_server_reports_what_a_client_pipelined_after_starttls() -> None:
    server = negotiator("smtp", "server", "mx.example")
    step = server.feed(b"EHLO c\r\nSTARTTLS\r\nMAIL FROM:<evil>\r\n")
    assert step.ready and step.leftover == b"MAIL FROM:<evil>\r\n"
    assert b"MAIL" not in step.send and step.send.endswith(b"220 2.0.0 Ready to start TLS\r\n")


def test_smtp_server_quit_and_a_client_that_never_asks() -> None:
    server = negotiator("smtp", "server", "mx")
    assert server.feed(b"QUIT\r\n") == Step(
        b"221 2.0.0 Bye\r\n", error="the client quit before STARTTLS"
    )
    stubborn = negotiator("smtp", "server", "mx")
    step = stubborn.feed(b"DATA\r\n" * 25)
    assert "20 commands without asking for STARTTLS" in step.error
    assert step.send.count(b"530 ") == 19


@pytest.mark.parametrize(
    ("proto", "say", "answer"),
    [
        ("imap", b"t1 LOGIN a b\r\n", b"t1 NO [PRIVACYREQUIRED] issue STARTTLS first\r\n"),
        ("imap", b"t1 CAPABILITY\r\n", b"* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n"),
        ("imap", b"*x\r\n", b"* BAD a command starts with a tag\r\n"),
        ("pop3", b"USER a\r\n", b"-ERR issue STLS first\r\n"),
        ("pop3", b"CAPA\r\n", b"+OK capability list follows\r\nSTLS\r\n.\r\n"),
        ("ftp", b"USER a\r\n", b"530 issue AUTH TLS first\r\n"),
        ("ftp", b"FEAT\r\n", b"211-Features:\r\n AUTH TLS\r\n211 End\r\n"),
        ("ftp", b"AUTH KERBEROS\r\n", b"504 AUTH TLS only\r\n"),
        ("lmtp", b"LHLO c\r\n", b"250-localhost Hello\r\n250 STARTTLS\r\n"),
        ("nntp", b"GROUP x\r\n", b"483 issue STARTTLS first\r\n"),
        ("nntp", b"CAPABILITIES\r\n", b"101 Capability list:\r\nVERSION 2\r\nSTARTTLS\r\n"),
        ("sieve", b"AUTHENTICATE x\r\n", b'NO "issue STARTTLS first"\r\n'),
        ("sieve", b"CAPABILITY\r\n", b'"IMPLEMENTATION" "sockbench"\r\n'),
        ("irc", b"NICK me\r\n", b":localhost 451 * :issue STARTTLS first\r\n"),
        ("irc", b"PING abc\r\n", b":localhost PONG localhost abc\r\n"),
        ("irc", b"CAP LS 302\r\n", b":localhost CAP * LS :tls\r\n"),
    ],
)
def test_servers_answer_before_starttls_sensibly(proto: str, say: bytes, answer: bytes) -> None:
    step = negotiator(proto, "server", "localhost").feed(say)
    assert step.send.startswith(answer) and not step.ready and not step.error


def test_postgres_server_declines_gssapi_then_accepts_tls() -> None:
    server = negotiator("postgres", "server", "db")
    gss = bytes.fromhex("0000000804d21630")
    step = server.feed(gss + bytes.fromhex("0000000804d2162f") + b"\x00\x00")
    assert step == Step(b"NS", ready=True, leftover=b"\x00\x00")
    plain = negotiator("postgres", "server", "db").feed(bytes.fromhex("0000000800030000"))
    assert "did not ask for TLS (its first packet began 0000000800030000)" in plain.error


def pump(proto: str, split: str) -> tuple[Step, Step]:
    """A client and a server of `proto` talking to each other until both are ready."""
    client = negotiator(proto, "client", "mx.example")
    server = negotiator(proto, "server", "mx.example")
    to_server, to_client = client.start(), server.start()
    client_step = server_step = Step()
    for _ in range(20):
        if to_client and not client_step.ready:
            client_step = feed_all(client, to_client, split)
            assert not client_step.error, client_step.error
            to_server += client_step.send
        to_client = b""
        if to_server and not server_step.ready:
            server_step = feed_all(server, to_server, split)
            assert not server_step.error, server_step.error
            to_client = server_step.send
        to_server = b""
        if client_step.ready and server_step.ready:
            break
    return client_step, server_step


@pytest.mark.parametrize("split", ["whole", "bytes"])
@pytest.mark.parametrize("proto", SERVER_PROTOCOLS)
def test_each_server_side_brings_our_client_to_the_go_ahead(proto: str, split: str) -> None:
    client_step, server_step = pump(proto, split)
    assert client_step.ready and server_step.ready
    assert client_step.leftover == server_step.leftover == b""


def test_the_xmpp_server_answers_in_the_clients_namespace() -> None:
    server = negotiator("xmpp-server", "server", "chat")
    step = server.feed(negotiator("xmpp-server", "client", "chat").start())
    assert b"xmlns='jabber:server'" in step.send and b"<starttls" in step.send
    done = server.feed(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'></starttls>\x16")
    assert done == Step(PROCEED, ready=True, leftover=b"\x16")


def test_xmpp_proceed_in_its_long_form_with_bytes_after_it() -> None:
    client = negotiator("xmpp", "client", "chat")
    client.feed(XMPP_FEATURES)
    assert client.feed(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'>") == Step()
    step = client.feed(b"</proceed><message>forged</message>")
    assert step == Step(ready=True, leftover=b"<message>forged</message>")
