"""The command line's nc forms: `sockbench -l 9000`, `-l HOST PORT`, `sockbench HOST PORT`,
with -u (UDP), -U (a Unix socket: the address is its path), -6 (IPv6) and -k (accepted:
sockbench always keeps listening). They become one endpoint to listen on or connect to, as
if its URL had been given to --listen or --connect."""

from __future__ import annotations

import argparse
import ipaddress
from dataclasses import dataclass

from workbench.protocol.addresses import EndpointError
from workbench.protocol.endpoints import DEFAULT_HOST, Endpoint, parse_url
from workbench.protocol.enums import Transport
from workbench.protocol.loose_address import LooseAddress, parse_address, split_address

IPV6_DEFAULT_HOST = "::1"

USAGE = """\
sockbench -l [-u] [-6] [-k] [HOST] PORT [OPTIONS]   listen, as nc -l does
       sockbench [-u] [-6] HOST PORT [OPTIONS]            connect, as nc does
       sockbench -U [-l] [-u] PATH [OPTIONS]              a Unix socket (-u: datagram)
       sockbench [--listen URL]... [--connect URL]... [OPTIONS]
       sockbench bench [--quick] [--json] [...]"""

QUICK_FORMS = """\
Quick forms, as with nc and ncat:
  sockbench -l 9000                 listen on TCP port 9000 of 127.0.0.1 (this machine only)
  sockbench -l 0.0.0.0 9000         listen on every interface
  sockbench 127.0.0.1 9000          connect
  sockbench -lu 5000                a UDP listener (sockbench -u HOST PORT: a UDP socket to it)
  sockbench -l6 9000                listen on [::1]:9000
  sockbench -lU /tmp/app.sock       a Unix stream listener (-lUu: a Unix datagram one)
  sockbench -l 9000 --echo          with any of the options below
The address after -l may also be :9000, HOST:9000, [::1]:9000 or a whole URL."""


class NcFormError(ValueError):
    """An nc form sockbench cannot read; the message says why and what was probably meant."""


@dataclass(frozen=True, slots=True)
class NcEndpoint:
    endpoint: Endpoint
    for_listen: bool


def add_nc_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "address",
        nargs="*",
        metavar="[HOST] PORT",
        help="connect to HOST PORT, or listen on [HOST] PORT with -l (or a PATH with -U, or a URL)",
    )
    parser.add_argument(
        "-l",
        dest="nc_listen",
        action="store_true",
        help="listen on [HOST] PORT (the host defaults to 127.0.0.1, to ::1 with -6)",
    )
    parser.add_argument("-u", dest="nc_udp", action="store_true", help="UDP instead of TCP")
    parser.add_argument(
        "-U",
        dest="nc_unix",
        action="store_true",
        help="a Unix socket: the address is its PATH or @name (with -u a datagram socket)",
    )
    parser.add_argument("-6", dest="nc_ipv6", action="store_true", help="IPv6")
    parser.add_argument(
        "-k",
        dest="nc_keep_listening",
        action="store_true",
        help="accepted for nc's sake: sockbench always keeps listening",
    )


def nc_endpoint(args: argparse.Namespace) -> NcEndpoint | None:
    """The endpoint the nc form of `args` names, None without one; NcFormError if it is
    ambiguous or wrong."""
    words: list[str] = args.address
    flags = [
        flag
        for flag, given in (
            ("-l", args.nc_listen),
            ("-u", args.nc_udp),
            ("-U", args.nc_unix),
            ("-6", args.nc_ipv6),
        )
        if given
    ]
    typed = " ".join(words)
    form = " ".join([*flags, *words])
    for_listen = args.nc_listen
    if not words:
        if flags:
            what = "a PATH" if args.nc_unix else "an address: -l PORT, -l HOST PORT or HOST PORT"
            raise NcFormError(f"{flags[0]} needs {what}")
        return None
    try:
        return NcEndpoint(read_endpoint(args, words, form), for_listen)
    except EndpointError as exc:
        message, quoted = str(exc), f"'{typed}'"
        if message.startswith(quoted):  # it quotes the words: quote them with the flags
            raise NcFormError(f"'{form}'{message.removeprefix(quoted)}") from None
        raise NcFormError(f"'{form}': {message}") from None


def read_endpoint(args: argparse.Namespace, words: list[str], form: str) -> Endpoint:
    """The endpoint of `words` (`form`: them with the nc flags, as the user wrote them)."""
    typed = " ".join(words)
    for_listen: bool = args.nc_listen
    if len(words) > 2 or (args.nc_unix and len(words) > 1):
        expected = "PATH" if args.nc_unix else "PORT or HOST PORT"
        raise NcFormError(f"'{form}': too many words; expected {expected} or a URL")
    if len(words) == 1 and "://" in typed:
        if args.nc_udp or args.nc_unix or args.nc_ipv6:
            raise NcFormError(f"'{form}': a URL says its own transport; drop -u, -U and -6")
        return parse_url(typed, for_listen=for_listen)
    if args.nc_unix:
        if args.nc_ipv6:
            raise NcFormError(f"'{form}': -6 is for IP; a Unix socket has a path")
        transport = Transport.UNIX_DGRAM if args.nc_udp else Transport.UNIX
        return parse_address(typed, transport, for_listen=for_listen)
    transport = Transport.UDP if args.nc_udp else Transport.TCP
    # -l PORT binds --bind-host (or the config file's bind_host); -6 says ::1.
    default_host = IPV6_DEFAULT_HOST if args.nc_ipv6 else getattr(args, "bind_host", DEFAULT_HOST)
    if len(words) == 2 and words[0].isdigit():
        meant = listen_meant(LooseAddress(None, words[0]), transport, default_host)
        raise NcFormError(f"'{form}': two ports; to listen on one say {meant}")
    bare = typed.partition("?")[0]  # without its options
    if len(words) == 1 and not bare.isdigit() and ":" not in bare:
        raise NcFormError(f"'{form}' has no port: say {form} PORT")
    # Two words are HOST PORT as the shell split them (a host cannot hold a space).
    address = split_address(typed) if len(words) == 1 else LooseAddress(*words)
    if address.host is None and not for_listen:
        meant = listen_meant(address, transport, default_host)
        raise NcFormError(
            f"'{form}' alone: to listen say {meant}; to connect say HOST {address.port}"
        )
    if args.nc_ipv6 and address.host is not None:
        check_ipv6(address, transport, form, for_listen)
    return address.endpoint(
        transport, typed=typed, for_listen=for_listen, default_host=default_host
    )


def listen_meant(address: LooseAddress, transport: Transport, default_host: str) -> str:
    """`-l PORT (URL)`: the listen form and the URL it gives, for an error to suggest."""
    flag = {Transport.UDP: "-lu"}.get(transport, "-l")
    if default_host == IPV6_DEFAULT_HOST:
        flag += "6"
    endpoint = address.endpoint(
        transport, typed=address.port, for_listen=True, default_host=default_host
    )
    return f"{flag} {address.port} ({endpoint.url})"


def check_ipv6(address: LooseAddress, transport: Transport, form: str, for_listen: bool) -> None:
    """-6 takes IPv6 addresses only: sockbench resolves a host name to either family."""
    host = (address.host or "").strip("[]")
    try:
        ipaddress.IPv6Address(host.split("%", 1)[0])
    except ValueError:
        problem = f"'{form}': '{host}' is not an IPv6 address"
        try:
            without = address.endpoint(
                transport, typed=form, for_listen=for_listen, default_host=DEFAULT_HOST
            )
        except EndpointError:
            raise NcFormError(problem) from None
        raise NcFormError(f"{problem} (without -6: {without.url})") from None
