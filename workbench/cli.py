"""The `sockbench` command line."""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from workbench import __version__
from workbench.behaviour_options import checked
from workbench.codec import ENCODINGS
from workbench.command_line import EXIT_USAGE, OneLineParser, argument, transcript_file
from workbench.config import CONFIG_DIR_VARIABLE
from workbench.log import MAX_LOG_RECORDS
from workbench.log.settings import FRAMINGS as LOG_FRAMINGS
from workbench.nc_forms import QUICK_FORMS, USAGE, NcFormError, add_nc_arguments, nc_endpoint
from workbench.payloads import DEFAULT_ENCODING, DEFAULT_LINE_ENDING, LINE_ENDING_NAMES
from workbench.protocol.addresses import EndpointError, check_host
from workbench.protocol.endpoints import DEFAULT_HOST, Endpoint, parse_url, with_defaults
from workbench.protocol.enums import Transport
from workbench.protocol.option_kinds import Flag
from workbench.protocol.options import (
    NO_OPTIONS,
    OPTIONS,
    Option,
    SocketOptions,
    options_from,
    positive_whole_number,
    url_options,
    with_behaviour,
)

if TYPE_CHECKING:
    from workbench.engine import Engine, EventBridge

HELP_WIDTH = 90


def listen_url(text: str) -> Endpoint:
    return parse_url(text, for_listen=True)


def connect_url(text: str) -> Endpoint:
    return parse_url(text, for_listen=False)


def log_records(text: str) -> int:
    count = argument(positive_whole_number)(text)
    if count > MAX_LOG_RECORDS:
        raise argparse.ArgumentTypeError(
            f"'{text}' is more records than the Log can keep (at most {MAX_LOG_RECORDS:,}: "
            "64 MiB holds about that many even when they are empty)"
        )
    return count


def terminal_problem() -> str | None:
    """Why the interface cannot run here (it reads keys from standard input and draws on
    standard error), or None. Under `nohup` neither is the terminal any more."""
    for name, stream in (("input", sys.__stdin__), ("error", sys.__stderr__)):
        try:
            if stream is not None and os.isatty(stream.fileno()):
                continue
        except (OSError, ValueError):
            pass
        return (
            f"standard {name} is not a terminal: sockbench is interactive and needs one "
            "(under nohup or with a redirection, use tmux or screen to keep it running)"
        )
    return None


def url_options_help() -> str:
    """What --help says of the URLs' options, from their declarations."""
    lines = [
        f"{transport} options: "
        + ", ".join(f"{option.url_name}={option.kind.metavar}" for option in url_options(transport))
        for transport in (Transport.TCP, Transport.UDP)
    ]
    lines.append("unix:// and unix-dgram:// endpoints take theirs from the flags above.")
    for option in OPTIONS:
        usage = f"{option.url_name}={option.kind.metavar}"
        text = option.help + (f" ({option.note})" if option.note else "")
        lines += textwrap.wrap(
            text, HELP_WIDTH, initial_indent=f"  {usage:<16} ", subsequent_indent=" " * 19
        )
    return "\n".join(lines)


class AddToList(argparse.Action):
    """A list flag given again adds to its list: `--allow A --allow B` is `--allow A,B`."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        before = getattr(namespace, self.dest, None)
        setattr(namespace, self.dest, ",".join(str(v) for v in (before, values) if v))


def add_option_flag(parser: argparse.ArgumentParser, option: Option) -> None:
    """The flag of a declared option, where it has one; its value lands on `option.field`."""
    if option.command_line is None:
        return
    before = f"{option.note}; " if option.note else ""
    text = f"{option.help} ({before}a URL's ?{option.url_name}= wins)"
    if isinstance(option.kind, Flag):
        parser.add_argument(
            option.command_line.flag, dest=option.field, action="store_true", help=text
        )
        return
    parser.add_argument(
        option.command_line.flag,
        dest=option.field,
        metavar=option.kind.metavar,
        type=argument(option.parse_flag),
        action=AddToList if option.command_line.adds_to_list else "store",
        help=text,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="sockbench",
        usage=USAGE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="An interactive socket workbench for TCP, UDP and Unix sockets, over IPv4 "
        "and IPv6:\nlisten, connect, type to peers and watch all traffic in one terminal UI.\n\n"
        + QUICK_FORMS,
        epilog="URL forms:\n"
        "  tcp://HOST:PORT[?OPTIONS]   IPv6 in brackets: tcp://[::1]:PORT\n"
        "  udp://HOST:PORT[?OPTIONS]   udp://0.0.0.0:5000?broadcast=1&rcvbuf=4194304\n"
        "  unix:///path/to.sock        Unix stream socket (unix://rel/path is relative)\n"
        "  unix://@name                Unix stream socket in Linux's abstract namespace\n"
        "  unix-dgram:///path          Unix datagram socket (or unix-dgram://@name)\n"
        f"{url_options_help()}\n"
        "example: sockbench --listen tcp://127.0.0.1:9000 --connect udp://127.0.0.1:5000\n"
        "benchmark: sockbench bench [--quick] [--json] (see sockbench bench --help)\n"
        "TLS: sockbench tls ca (where sockbench's local CA is, to trust it)\n"
        "config file: sockbench config (where it is and the values it gives)\n"
        "sessions: sockbench --session FILE; sockbench run FILE (without the screen)\n"
        "capture: sockbench export TRANSCRIPT --pcapng FILE (for Wireshark)",
    )
    add_nc_arguments(parser)
    parser.add_argument(
        "--listen",
        metavar="URL",
        action="append",
        default=[],
        type=argument(listen_url),
        help="open a listener at start-up (repeatable); port 0 picks a free port",
    )
    parser.add_argument(
        "--connect",
        metavar="URL",
        action="append",
        default=[],
        type=argument(connect_url),
        help="open a connection at start-up (repeatable); udp:// and unix-dgram:// give a "
        "connected datagram socket",
    )
    parser.add_argument(
        "--session",
        metavar="FILE",
        help="open a session file: its listeners, connections (running their steps) and "
        "macros (see sockbench run to run one without the screen)",
    )
    for option in OPTIONS:
        add_option_flag(parser, option)
    parser.add_argument(
        "--bind-host",
        metavar="HOST",
        type=argument(check_host),
        default=DEFAULT_HOST,
        help=f"the host a listener given only a port binds: -l 9000, the Listen dialog "
        f"(default: {DEFAULT_HOST}; 0.0.0.0 or :: for every interface)",
    )
    parser.add_argument(
        "--transcript",
        metavar="FILE",
        type=transcript_file,
        help="append a lossless JSON Lines record of every event and byte to FILE",
    )
    parser.add_argument(
        "--line-ending",
        choices=LINE_ENDING_NAMES,
        default=DEFAULT_LINE_ENDING,
        help="what Enter adds to a typed line in text mode (default: lf)",
    )
    parser.add_argument(
        "--encoding",
        choices=ENCODINGS,
        default=DEFAULT_ENCODING,
        help="how typed text is encoded and received bytes are shown (default: utf-8)",
    )
    parser.add_argument(
        "--log-records",
        metavar="N",
        type=log_records,
        default=100_000,
        help=f"how many recent records the Log keeps (default: 100000, at most "
        f"{MAX_LOG_RECORDS}; the transcript keeps all)",
    )
    parser.add_argument(
        "--log-framing",
        choices=LOG_FRAMINGS,
        default="raw",
        help="how the Log shows data at start: raw (records as read), lines, or messages "
        "(each connection's framing=); l changes it (default: raw)",
    )
    # For `sockbench bench`, which measures the app from outside.
    parser.add_argument("--stats-file", metavar="FILE", help=argparse.SUPPRESS)
    parser.add_argument("--version", action="version", version=f"sockbench {__version__}")
    return parser


def parse_command_line(
    argv: Sequence[str], defaults: Mapping[str, object] | None = None
) -> argparse.Namespace:
    """The arguments, with the nc form's endpoint (`-l 9000`, `HOST PORT`) first among the
    --listen or --connect ones; a usage error (status 2) for what cannot be read.
    `defaults`: the flags' values where they are not given (the config file's)."""
    parser = build_parser()
    parser.set_defaults(**(defaults or {}))
    # Intermixed: `sockbench 127.0.0.1 --echo 9000` is one address, as nc would read it.
    args = parser.parse_intermixed_args(argv)
    try:
        nc = nc_endpoint(args)
    except NcFormError as exc:
        parser.error(str(exc))
    if nc is not None:
        endpoints: list[Endpoint] = args.listen if nc.for_listen else args.connect
        endpoints.insert(0, nc.endpoint)
    try:
        startup_endpoints(args)  # the behaviours' options, checked with the flags' values
    except EndpointError as exc:
        parser.error(str(exc))
    return args


def flag_options(args: argparse.Namespace) -> SocketOptions:
    """The options the command line's flags set."""
    return options_from(
        {option.field: getattr(args, option.field) for option in OPTIONS if option.command_line}
    )


def startup_endpoints(args: argparse.Namespace) -> tuple[list[Endpoint], list[Endpoint]]:
    """The --listen and --connect endpoints with the flags' options (--max-conns, --idle,
    --echo...) where the URL set none (the only way to give them to unix:// endpoints). The
    behaviour flags (--echo, --greet...) are the listeners'; a connection takes its own from
    its URL."""
    defaults = flag_options(args)
    listen = [checked(with_defaults(e, defaults, for_listen=True)) for e in args.listen]
    connection_defaults = with_behaviour(defaults, NO_OPTIONS)
    connect = [
        checked(with_defaults(e, connection_defaults, for_listen=False)) for e in args.connect
    ]
    return listen, connect


def config_command(argv: Sequence[str]) -> int:
    """`sockbench config`: where the config file is, the values it gives and what it ignored.
    Exit 0 even with a bad file: sockbench goes on without what it ignores."""
    parser = OneLineParser(
        prog="sockbench config",
        description="Print where the config file is, each key's effective value and where it "
        "comes from (default or config), and what of the file is ignored. "
        f"${CONFIG_DIR_VARIABLE} names another directory for it.",
    )
    parser.parse_args(argv)
    from textual.theme import BUILTIN_THEMES

    from workbench.config import describe, load_config, with_known_theme

    for line in describe(with_known_theme(load_config(), BUILTIN_THEMES)):
        print(line)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments[:1] == ["bench"]:
        from workbench.bench.command import main as bench

        return bench(arguments[1:])
    if arguments[:1] == ["tls"]:
        from workbench.tls.command import main as tls

        return tls(arguments[1:])
    if arguments[:1] == ["config"]:
        return config_command(arguments[1:])
    if arguments[:1] == ["export"]:
        from workbench.export_command import main as export

        return export(arguments[1:])
    if arguments[:1] == ["run"]:
        from workbench.runner.command import main as run

        return run(arguments[1:])
    if arguments[:1] == ["replay"]:
        from workbench.replay.command import main as replay

        return replay(arguments[1:])
    if arguments[:1] == ["diff"]:
        from workbench.replay.diff_command import main as diff

        return diff(arguments[1:])
    from workbench.config import load_config, with_known_theme

    config = load_config()
    args = parse_command_line(arguments, config.flag_defaults())
    session = None
    if args.session is not None:
        from workbench.session_file.loader import SessionFileError, load_session

        try:
            session = load_session(args.session)
        except SessionFileError as exc:
            print(f"sockbench: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
    from workbench.gc_tuning import pause_until_first_screen, tune_for_long_run

    pause_until_first_screen()
    # Imported here so --help and usage errors answer without loading Textual.
    from textual.theme import BUILTIN_THEMES  # loaded with the app already

    from workbench.memory import load_memory
    from workbench.payloads import SendSettings
    from workbench.session.startup import StartupAction, actions_of
    from workbench.ui.app import SockbenchApp
    from workbench.ui.exit_signals import ExitSignals
    from workbench.ui.remembering import start_theme

    config = with_known_theme(config, BUILTIN_THEMES)
    memory = load_memory()
    configured = config.values.get("theme")
    theme = start_theme(
        None if configured is None else str(configured), memory.memory.theme, BUILTIN_THEMES
    )

    bridge: EventBridge | None = None  # without a transcript: the app's, made after the screen
    # With a transcript the engine is made now: a file it cannot write is said before the
    # screen. Without one it is made when it starts, after the first screen: loading its
    # core is not worth a wait for the screen.
    opened: Engine | None = None
    if args.transcript:
        from workbench.engine import Engine

        try:
            from workbench.engine.bridge import EventBridge

            bridge = EventBridge()
            opened = Engine(bridge, transcript_path=args.transcript)
        except OSError as exc:
            print(
                f"sockbench: error: cannot write transcript {args.transcript}: "
                f"{exc.strerror or exc}",
                file=sys.stderr,
            )
            return EXIT_USAGE
    if (problem := terminal_problem()) is not None:
        if opened is not None:
            opened.stop()
        print(f"sockbench: error: {problem}", file=sys.stderr)
        return EXIT_USAGE

    def make_engine() -> Engine:
        from workbench.engine import Engine

        # Called by the app (made below) once its first screen is drawn.
        return opened if opened is not None else Engine(app.bridge)

    listen, connect = startup_endpoints(args)
    startup = [StartupAction("listen", e) for e in listen]
    startup += [StartupAction("connect", e) for e in connect]
    if session is not None:
        startup += actions_of(session)
    settings = SendSettings(line_ending=args.line_ending, encoding=args.encoding)
    app = SockbenchApp(
        make_engine,
        bridge,
        startup,
        default_settings=settings,
        log_max_rows=args.log_records,
        stats_path=args.stats_file,
        log_framing=args.log_framing,
        after_first_screen=tune_for_long_run,
        first_screen=True,
        theme=theme,
        notices=config.notices,
        keymap=config.keymap,
        bind_host=args.bind_host,
        memory=memory,
        macros=session.macros if session is not None else (),
    )
    # Runs the app, then stops the engine; SIGHUP/SIGTERM/SIGINT quit as ctrl+q does.
    status = ExitSignals(app).run()
    if opened is not None and opened.transcript_error is not None:
        # Said in the Log too, but it may have gone unseen.
        print(f"sockbench: {opened.transcript_error}", file=sys.stderr)
    return status
