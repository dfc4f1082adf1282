"""`sockbench export TRANSCRIPT --pcapng FILE [--session N] [--conn ID]...`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from workbench.codec import sanitize_text
from workbench.command_line import EXIT_USAGE, OneLineParser

PROG = "sockbench export"


def session_number(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a session number (1 is the first)")
    return number


def non_empty(text: str) -> str:
    if not text:  # `--pcapng "$OUT"` with OUT unset
        raise argparse.ArgumentTypeError("the file name is empty (an unset shell variable?)")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=PROG,
        description="Write what a transcript recorded as a pcapng capture that Wireshark and "
        "tshark open and follow: packets synthesised from the recorded bytes (IPv4 or IPv6; "
        "TCP with a handshake, sequence numbers that count the bytes, FIN and RST as "
        "recorded; UDP one datagram per record). Unix sockets are shown as TCP or UDP over "
        "127.0.0.2 and 127.0.0.3; TLS connections as their decrypted bytes over plain TCP.",
    )
    parser.add_argument("transcript", metavar="TRANSCRIPT", help="the transcript (JSON Lines)")
    parser.add_argument(
        "--pcapng", metavar="FILE", required=True, type=non_empty, help="the capture to write"
    )
    parser.add_argument(
        "--session",
        metavar="N",
        type=session_number,
        help="which session of the transcript (1 is the first; default: the last)",
    )
    parser.add_argument(
        "--conn",
        metavar="ID",
        action="append",
        default=[],
        help="only this connection (C1); repeatable (default: every connection)",
    )
    return parser


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    from workbench.transcript.capture import ExportError, export_pcapng

    try:
        capture = export_pcapng(args.transcript, args.pcapng, args.session, args.conn)
    except ExportError as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"{exc.filename or args.transcript}: {exc.strerror or exc}")
    except InterruptedError:  # not asked for here; said all the same
        return fail("interrupted")
    session = capture.session
    print(
        f"{args.pcapng}: {capture.packets:,} packets of {len(capture.connections)} "
        f"connection(s), session {session.number} of {capture.sessions}",
        file=sys.stderr,
    )
    if capture.sessions > 1 and args.session is None:
        print(f"{PROG}: the last session; --session N exports another", file=sys.stderr)
    if capture.skipped_lines:
        print(
            f"{PROG}: warning: {capture.skipped_lines:,} line(s) of this session are cut or "
            "damaged: bytes may be missing from the capture",
            file=sys.stderr,
        )
    if capture.without_open:
        names = sanitize_text(", ".join(sorted(capture.without_open)))
        print(
            f"{PROG}: warning: data of {names} left out: the transcript has no open record "
            "for it (its addresses are unknown)",
            file=sys.stderr,
        )
    return 0


def fail(message: str) -> int:
    print(f"{PROG}: error: {sanitize_text(message)}", file=sys.stderr)
    return EXIT_USAGE
