"""`sockbench diff A B`: two recordings compared per direction, as unified diffs."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence

from workbench.command_line import EXIT_USAGE, OneLineParser
from workbench.framing.messages import FramingError, FramingSpec, parse_framing
from workbench.replay.script import SelectionError, parse_selection
from workbench.transcript.connections import LoadError, RecordedConnection, load_connections
from workbench.transcript.diff import DEFAULT_CONTEXT, diff_sessions, report_lines

PROG = "sockbench diff"
EXIT_SAME = 0
EXIT_DIFFERENT = 1


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=PROG,
        description="Compare two recordings per direction (in, out) and print a unified diff "
        "of their messages (text lines, peer bytes escaped). A and B are transcripts: FILE "
        "(every connection of its last session, paired by position), FILE@2 (session 2), "
        "FILE#C3 (connection C3 of the last session) or FILE@2#C3. Exit 0 when equal, 1 when "
        "not, 2 for bad input.",
    )
    parser.add_argument("a", metavar="A", help="the first recording")
    parser.add_argument("b", metavar="B", help="the second recording")
    parser.add_argument(
        "--framing",
        metavar="SPEC",
        help="diff message by message in this framing (delim:\\r\\n, len:2:be, netstring, "
        "resp, http; default: text lines)",
    )
    parser.add_argument(
        "--context", metavar="N", type=int, default=DEFAULT_CONTEXT, help="context lines (3)"
    )
    return parser


def loaded(text: str) -> list[RecordedConnection]:
    try:
        selection = parse_selection(text)
        return load_connections(selection.path, selection.session, selection.conn)
    except (SelectionError, LoadError) as exc:
        raise ValueError(str(exc)) from None


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    framing: FramingSpec | None = None
    try:
        if args.framing is not None:
            try:
                framing = parse_framing(args.framing)
            except (FramingError, ImportError) as exc:  # ImportError: a framing not built in
                raise ValueError(f"--framing: {exc}") from None
        if args.context < 0:
            raise ValueError("--context takes 0 or more")
        a, b = loaded(args.a), loaded(args.b)
    except ValueError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    diffs = diff_sessions(a, b, name_a=args.a, name_b=args.b, framing=framing, context=args.context)
    if not diffs:
        print("no connections on either side")
    lines = report_lines(diffs)
    with contextlib.suppress(BrokenPipeError):  # `sockbench diff A B | head`
        print("\n".join(lines))
    return EXIT_SAME if all(d.equal for d in diffs) else EXIT_DIFFERENT
