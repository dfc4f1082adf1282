"""Endpoint options, each declared once on the `SocketOptions` field that holds it: its name
in URLs, its type and range, which transports and roles take it, its command-line flag, its
dialog checkbox and its help. URL parsing, `SocketOptions.query()`, merging the flags' and the
dialogs' values, `sockbench --help` and the dialogs' checkboxes are all derived from them."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, NamedTuple, TypeVar
from urllib.parse import quote, unquote

from workbench.protocol.addresses import EndpointError
from workbench.protocol.enums import Transport
from workbench.protocol.option_kinds import (
    Choice,
    Fingerprint,
    Flag,
    FramingText,
    Integer,
    Interface,
    Kind,
    OnOff,
    PeerList,
    ProtocolList,
    Seconds,
    ServerName,
    Text,
)

OptionValue = bool | int | float | str | None
T = TypeVar("T")

MAX_IDLE_SECONDS = 7 * 24 * 3600
# How long a connection stays open after its peer's EOF (socat's -t is 0.5 s too): a reply
# sent in that time still reaches a peer that only shut down its sending side.
DEFAULT_EOF_GRACE = 0.5
MAX_EOF_GRACE = 3600.0
MAX_CONNECTIONS_LIMIT = 1_000_000
# A replay's matching and pacing (workbench.engine.behaviours.replay; a test keeps them the
# same): the protocol is a leaf and cannot ask it.
REPLAY_MATCHES = ("exact", "count")
REPLAY_PACES = ("none", "recorded")
MAX_REPLAY_PAUSE = 10.0

UDP = frozenset({Transport.UDP})
STREAMS = frozenset({Transport.TCP, Transport.UNIX})
EVERY_TRANSPORT = frozenset(Transport)

# What an option's value keeps as it is in a URL's query; the rest is percent-encoded. (`=`
# too: an item is cut at its first, so `framing=len:2:be:max=100` reads back as written.)
URL_SAFE = "\\!,:;/@'()*$~[]="
TLS_VERSIONS = ("1.0", "1.1", "1.2", "1.3")
# The protocols whose plain-text exchange sockbench plays before a STARTTLS handshake.
# Those whose both sides sockbench plays (workbench.tls.starttls); it has mysql's client too.
STARTTLS_PROTOCOLS = (
    "smtp",
    "lmtp",
    "imap",
    "pop3",
    "ftp",
    "xmpp",
    "xmpp-server",
    "nntp",
    "sieve",
    "irc",
    "postgres",
)


# --- the declaration ---


class CommandLine(NamedTuple):
    flag: str  # `--max-conns`; a Flag option's is a switch (`--half-open`)
    # Where the flag words its errors unlike the URL (it refuses with its own words).
    parse: Callable[[str], OptionValue] | None = None
    # Given again, it adds to the list (`--allow A --allow B`) instead of replacing it.
    adds_to_list: bool = False


class DialogCheckbox(NamedTuple):
    label: str
    text: str
    tooltip: str


class Option(NamedTuple):
    url_name: str
    kind: Kind
    transports: frozenset[Transport]  # unix ones take it from the flags and dialogs only
    help: str
    note: str = ""  # said in parentheses after the help: the default, say
    listeners_only: str = ""  # why only listeners take it, for the error that says so
    connections_only: str = ""  # why only connections (the client's side) take it
    aliases: tuple[str, ...] = ()  # other names URLs may use
    command_line: CommandLine | None = None
    dialog: DialogCheckbox | None = None
    # Filled in from the SocketOptions field that declares the option:
    field: str = ""
    default: OptionValue = None

    def takes(self, transport: str, for_listen: bool) -> bool:
        return transport in self.transports and self.takes_role(for_listen)

    def takes_role(self, for_listen: bool) -> bool:
        return not self.connections_only if for_listen else not self.listeners_only

    def parse(self, text: str) -> OptionValue:
        """The value `text` gives, or EndpointError in words that do not quote the URL."""
        return self.kind.parse(self.url_name, text)

    def parse_flag(self, text: str) -> OptionValue:
        custom = self.command_line.parse if self.command_line else None
        return custom(text) if custom else self.parse(text)

    def show(self, value: OptionValue) -> str:
        """`value` as the URL writes it."""
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, float):
            return f"{value:g}"
        # Percent-encoded where a URL would read it otherwise (`&`, `#`, `%`, spaces...).
        return quote(str(value), safe=URL_SAFE)


_OPTION = "option"


def declared(default: T, option: Option) -> T:
    """A SocketOptions field that is the option `option`."""
    return field(default=default, metadata={_OPTION: option})


def positive_whole_number(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise EndpointError(f"'{text}' is not a positive whole number")
    return int(text)


@dataclass(frozen=True, slots=True)
class SocketOptions:
    """Options from a URL's query string (`udp://0.0.0.0:5000?broadcast=1&rcvbuf=4194304`),
    the command line's flags or a dialog's checkboxes. The order here is the URL's."""

    broadcast: bool = declared(
        False, Option("broadcast", Flag(), UDP, "may send to broadcast addresses (SO_BROADCAST)")
    )
    join: bool = declared(
        False, Option("join", Flag(), UDP, "a listener on a multicast group address joins it")
    )
    interface: str | None = declared(
        None,
        Option(
            "iface",
            Interface(),
            UDP,
            "the local IPv4 address (or IPv6 interface index) for multicast",
            aliases=("interface",),
        ),
    )
    ttl: int | None = declared(
        None, Option("ttl", Integer((0, 255)), UDP, "multicast TTL (hop limit) of what is sent")
    )
    loop: bool | None = declared(
        None,
        Option("loop", Flag("1|0"), UDP, "multicast loopback: receive what this host sends"),
    )
    rcvbuf: int | None = declared(
        None,
        Option("rcvbuf", Integer(metavar="BYTES"), UDP, "SO_RCVBUF, against drops under load"),
    )
    max_connections: int | None = declared(
        None,
        Option(
            "max",
            Integer((1, MAX_CONNECTIONS_LIMIT)),
            STREAMS,
            "connections a stream listener takes at once",
            note="default 100",
            listeners_only="the most connections",
            command_line=CommandLine("--max-conns", parse=positive_whole_number),
        ),
    )
    idle: float | None = declared(
        None,
        Option(
            "idle",
            Seconds(MAX_IDLE_SECONDS, above_zero=True),
            STREAMS,
            "close stream connections idle that long",
            command_line=CommandLine("--idle"),
        ),
    )
    # A peer's EOF ends the connection after a grace (socat's -t), unless it is kept half-open.
    half_open: bool = declared(
        False,
        Option(
            "halfopen",
            Flag(),
            STREAMS,
            "keep stream connections open for sending after the peer's EOF",
            note="by default they close 0.5 s after it",
            command_line=CommandLine("--half-open"),
            dialog=DialogCheckbox(
                "Peer's EOF",
                "keep open (half-open)",
                "Off: a connection closes 0.5 s after its peer's EOF, as nc does",
            ),
        ),
    )
    eof_grace: float | None = declared(  # None: DEFAULT_EOF_GRACE
        None,
        Option(
            "grace",
            Seconds(MAX_EOF_GRACE),
            STREAMS,
            "how long a stream connection stays open after the peer's EOF",
            note=f"default {DEFAULT_EOF_GRACE:g}",
            command_line=CommandLine("--eof-grace"),
        ),
    )
    # Who a listener takes (ncat's --allow/--deny); unix-dgram senders are not identified.
    allow: str | None = declared(
        None,
        Option(
            "allow",
            PeerList(),
            frozenset({Transport.TCP, Transport.UDP, Transport.UNIX}),
            "listeners take only these peers: addresses, networks (10.0.0.0/8) or Unix uids "
            "(uid:1000), comma-separated",
            note="others are closed at once, counted and recorded",
            listeners_only="it names the peers a listener takes",
            command_line=CommandLine("--allow", adds_to_list=True),
        ),
    )
    deny: str | None = declared(
        None,
        Option(
            "deny",
            PeerList(),
            frozenset({Transport.TCP, Transport.UDP, Transport.UNIX}),
            "listeners refuse these peers, in a list as for allow=",
            note="deny wins over allow",
            listeners_only="it names the peers a listener refuses",
            command_line=CommandLine("--deny", adds_to_list=True),
        ),
    )
    # The PROXY protocol (HAProxy's): a header first on the stream names the relayed client.
    proxy_header: bool = declared(
        False,
        Option(
            "proxy",
            Flag(),
            STREAMS,
            "each client sends a PROXY protocol header first (v1 or v2, before TLS): its "
            "connection's peer is the client the header names",
            note="a client without a valid one within 5 s is closed and counted",
            listeners_only="it reads the header its clients send",
            command_line=CommandLine("--accept-proxy"),
        ),
    )
    send_proxy: str | None = declared(
        None,
        Option(
            "send-proxy",
            Choice(("v1", "v2"), "v1|v2"),
            frozenset({Transport.TCP}),
            "send a PROXY protocol header first (before TLS), naming the connection's own "
            "local and remote addresses",
            connections_only="a connection sends it to the server",
            command_line=CommandLine("--send-proxy"),
        ),
    )
    # Behaviours: what a listener does by itself with what its peers send.
    echo: bool = declared(
        False,
        Option(
            "echo",
            Flag(),
            EVERY_TRANSPORT,
            "send each peer back what it sends",
            command_line=CommandLine("--echo"),
        ),
    )
    greet: str | None = declared(
        None,
        Option(
            "greet",
            Text(),
            EVERY_TRANSPORT,
            "send TEXT (with the composer's escapes: \\r \\n \\xNN...) to each peer as it "
            "connects (a datagram listener's: on its first datagram)",
            command_line=CommandLine("--greet"),
        ),
    )
    hangup: bool = declared(
        False,
        Option(
            "hangup",
            Flag(),
            EVERY_TRANSPORT,
            "close each connection once its greeting is sent",
            command_line=CommandLine("--hangup"),
        ),
    )
    rules: str | None = declared(
        None,
        Option(
            "rules",
            Text(metavar="FILE"),
            EVERY_TRANSPORT,
            "answer peers by the rules in FILE (TOML; reloaded when it changes)",
            command_line=CommandLine("--rules"),
        ),
    )
    broker: bool = declared(
        False,
        Option(
            "broker",
            Flag(),
            STREAMS,
            "listeners relay what each peer sends to all their other peers (what you type "
            "to one goes to all)",
            listeners_only="it relays among the peers it accepted",
            command_line=CommandLine("--broker"),
        ),
    )
    chat: bool = declared(
        False,
        Option(
            "chat",
            Flag(),
            STREAMS,
            "as broker=1, each line prefixed with its sender (<C3>) and controls escaped",
            listeners_only="it relays among the peers it accepted",
            command_line=CommandLine("--chat"),
        ),
    )
    exec_command: str | None = declared(
        None,
        Option(
            "exec",
            Text(metavar="COMMAND"),
            STREAMS,
            "run COMMAND (split as a shell would, no shell) per connection, its stdin and "
            "stdout the peer's",
            command_line=CommandLine("--exec"),
        ),
    )
    sh_command: str | None = declared(
        None,
        Option(
            "sh",
            Text(metavar="COMMAND"),
            STREAMS,
            "as exec=, through /bin/sh -c COMMAND",
            command_line=CommandLine("--sh"),
        ),
    )

    replay: str | None = declared(
        None,
        Option(
            "replay",
            Text(metavar="FILE"),
            STREAMS,
            "play one side of a recorded connection from the transcript FILE (FILE@2#C3: "
            "session 2's C3): a listener plays the server to each new peer, a connection the "
            "client (see sockbench replay)",
        ),
    )
    replay_match: str | None = declared(  # None: exact
        None,
        Option(
            "replay-match",
            Choice(REPLAY_MATCHES, "|".join(REPLAY_MATCHES)),
            STREAMS,
            "replay=: how the other side's turns are matched: exact (compare the bytes, or "
            "with framing= each message) or count (only wait for as many bytes or messages, "
            "answer whatever is asked)",
            note="default exact",
        ),
    )
    replay_pace: str | None = declared(  # None: none
        None,
        Option(
            "replay-pace",
            Choice(REPLAY_PACES, "|".join(REPLAY_PACES)),
            STREAMS,
            "replay=: none (answer at once) or recorded (each turn after the pause the "
            f"recording had before it, at most {MAX_REPLAY_PAUSE:g} s)",
            note="default none",
        ),
    )

    # How the stream's messages are framed: the Log's messages view, per connection.
    framing: str | None = declared(
        None,
        Option(
            "framing",
            FramingText(),
            STREAMS,
            "the stream's messages are framed as SPEC: delim:\\r\\n, len:2:be[:incl][:max=N], "
            "netstring, resp, http (the Log's messages framing shows them)",
            command_line=CommandLine("--framing"),
        ),
    )

    # TLS over a stream: `tls://HOST:PORT` is a TCP endpoint with tls=1 (see workbench.tls).
    tls: bool = declared(
        False,
        Option(
            "tls",
            Flag(),
            STREAMS,
            "TLS over the stream (tls://HOST:PORT is tcp:// with tls=1)",
            command_line=CommandLine("--tls"),
            # Beside the Transport selector, not on a row of its own (ui/dialogs.py).
            dialog=DialogCheckbox(
                "TLS",
                "TLS",
                "TLS over this stream (tls://): a listener without cert= and key= uses "
                "sockbench's own CA; a connection verifies the server (verify=0 in Options "
                "connects anyway)",
            ),
        ),
    )
    tls_cert: str | None = declared(
        None,
        Option(
            "cert",
            Text(metavar="FILE"),
            STREAMS,
            "TLS: the certificate (PEM, chain after it) sockbench presents",
            note="a listener without one gets one from sockbench's own CA",
            command_line=CommandLine("--cert"),
        ),
    )
    tls_key: str | None = declared(
        None,
        Option(
            "key",
            Text(metavar="FILE"),
            STREAMS,
            "TLS: the private key of cert= (PEM; in the certificate's file if not given)",
            command_line=CommandLine("--key"),
        ),
    )
    tls_ca: str | None = declared(
        None,
        Option(
            "ca",
            Text(metavar="FILE"),
            STREAMS,
            "TLS: CA certificates (PEM) to trust besides the system's and sockbench's own; "
            "a listener checks client certificates against them",
            command_line=CommandLine("--ca"),
        ),
    )
    tls_verify: bool | None = declared(
        None,
        Option(
            "verify",
            OnOff(),
            STREAMS,
            "TLS: check the server's certificate; 0 goes on anyway and says what the check found",
            note="default 1",
            connections_only="a listener checks client certificates with client-cert= and ca=",
            command_line=CommandLine("--verify"),
        ),
    )
    tls_pin: str | None = declared(
        None,
        Option(
            "pin",
            Fingerprint(),
            STREAMS,
            "TLS: accept exactly the certificate with this SHA-256 fingerprint",
            connections_only="it names the server a connection accepts",
            command_line=CommandLine("--pin"),
        ),
    )
    tls_sni: str | None = declared(
        None,
        Option(
            "sni",
            ServerName(),
            STREAMS,
            "TLS: the server name sent (sni= sends none)",
            note="default the host's name",
            connections_only="the client sends it",
            command_line=CommandLine("--sni"),
        ),
    )
    tls_alpn: str | None = declared(
        None,
        Option(
            "alpn",
            ProtocolList(),
            STREAMS,
            "TLS: application protocols offered (ALPN), in order: h2,http/1.1",
            command_line=CommandLine("--alpn"),
        ),
    )
    tls_min: str | None = declared(
        None,
        Option(
            "min",
            Choice(TLS_VERSIONS, "1.2"),
            STREAMS,
            "TLS: the oldest version accepted",
            command_line=CommandLine("--tls-min"),
        ),
    )
    tls_max: str | None = declared(
        None,
        Option(
            "max",
            Choice(TLS_VERSIONS, "1.3"),
            STREAMS,
            "TLS: the newest version accepted (max=N with a whole number is the most connections)",
            command_line=CommandLine("--tls-max"),
        ),
    )
    tls_client_cert: str | None = declared(
        None,
        Option(
            "client-cert",
            Choice(("optional", "require"), "optional|require"),
            STREAMS,
            "TLS: a listener asks clients for a certificate, checked against ca=",
            listeners_only="it asks the clients it accepts",
            command_line=CommandLine("--client-cert"),
        ),
    )
    starttls: str | None = declared(
        None,
        Option(
            "starttls",
            Choice(STARTTLS_PROTOCOLS, "PROTO"),
            STREAMS,
            "TLS after PROTO's plain-text exchange (" + ", ".join(STARTTLS_PROTOCOLS) + "), "
            "as openssl s_client -starttls; a listener plays the server's side",
            command_line=CommandLine("--starttls"),
        ),
    )
    tls_keylog: str | None = declared(
        None,
        Option(
            "keylog",
            Text(metavar="FILE"),
            STREAMS,
            "TLS: append the session keys to FILE (NSS key log, for Wireshark)",
            note="SSLKEYLOGFILE is honoured too",
            command_line=CommandLine("--keylog"),
        ),
    )

    def query(self, only: Collection[str] | None = None) -> str:
        """The URL's query: the options set (of the fields `only` names), in declaration
        order."""
        return "&".join(
            f"{option.url_name}={option.show(value)}"
            for option in OPTIONS
            if (only is None or option.field in only)
            and (value := getattr(self, option.field)) != option.default
        )

    def with_defaults(
        self, defaults: SocketOptions, transport: str, for_listen: bool
    ) -> SocketOptions:
        """These options, with `defaults`' values where these set none: the flags and the
        dialogs' checkboxes under a URL's own options. Only the options `transport` and the
        role take are filled in."""
        changes: dict[str, Any] = {
            option.field: getattr(defaults, option.field)
            for option in OPTIONS
            if option.takes(transport, for_listen) and getattr(self, option.field) == option.default
        }
        return replace(self, **changes)


NO_OPTIONS = SocketOptions()
OPTIONS: tuple[Option, ...] = tuple(
    spec.metadata[_OPTION]._replace(field=spec.name, default=spec.default)
    for spec in fields(SocketOptions)
)


# What a listener does on its own, changed while it runs (the Behaviour dialog).
BEHAVIOUR_FIELDS = (
    "echo",
    "greet",
    "hangup",
    "rules",
    "broker",
    "chat",
    "exec_command",
    "sh_command",
    "replay",
    "replay_match",
    "replay_pace",
)


def with_behaviour(options: SocketOptions, behaviour: SocketOptions) -> SocketOptions:
    """`options` with `behaviour`'s behaviour options in place of its own."""
    return replace(options, **{name: getattr(behaviour, name) for name in BEHAVIOUR_FIELDS})


def url_options(transport: str) -> tuple[Option, ...]:
    """The options a URL of `transport` may set (unix ones have no query string)."""
    return tuple(option for option in OPTIONS if transport in option.transports)


def parse_options(query: str, original: str, transport: str, for_listen: bool) -> SocketOptions:
    """The options of `original`'s query string (`broadcast=1&rcvbuf=4194304`)."""
    known = url_options(transport)
    by_name: dict[str, list[Option]] = {}
    for option in known:
        for name in (option.url_name, *option.aliases):
            by_name.setdefault(name, []).append(option)
    values: dict[str, OptionValue] = {}
    for item in filter(None, query.split("&")):
        name, _, text = item.partition("=")
        chosen = fitting(by_name.get(name, []), percent_decoded(text))
        if chosen is None:
            names = ", ".join(option.url_name for option in known)
            raise EndpointError(
                f"'{original}': unknown option '{name}' for {transport}://; known: {names}"
            )
        if not chosen.takes_role(for_listen):
            raise EndpointError(
                f"'{original}': {chosen.url_name} is for "
                + (
                    f"connections ({chosen.connections_only})"
                    if for_listen
                    else f"listeners ({chosen.listeners_only})"
                )
            )
        try:
            values[chosen.field] = chosen.parse(percent_decoded(text))
        except EndpointError as exc:
            raise EndpointError(f"'{original}': {exc}") from None
    return options_from(values)


def fitting(options: list[Option], text: str) -> Option | None:
    """Of the options a URL name stands for, the one whose kind takes `text` (`max=100` is
    the most connections, `max=1.3` the newest TLS version); the first if none does, to
    refuse it in its words."""
    for option in options:
        try:
            option.parse(text)
        except EndpointError:
            continue
        return option
    return options[0] if options else None


def options_from(values: Mapping[str, Any]) -> SocketOptions:
    """SocketOptions with `values` by field name, the others at their defaults. Each value
    has its field's type: its option's kind parsed it, or a flag or a checkbox gave it."""
    return replace(NO_OPTIONS, **values)


def percent_decoded(text: str) -> str:
    """A URL's option value with its %XX sequences decoded (UTF-8)."""
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise EndpointError(
            f"'{text}' is not UTF-8 once percent-decoded; write a raw byte as \\xNN"
        ) from None
