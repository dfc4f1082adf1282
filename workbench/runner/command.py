"""`sockbench run FILE [--json] [--transcript FILE]`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from workbench.command_line import OneLineParser, transcript_file
from workbench.runner.outcome import EXIT_BAD_FILE, EXIT_PASSED


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="sockbench run",
        description="Run a session file without the screen: open its listeners and "
        "connections, run every connection's steps, print the Log as text lines. Exit 0 "
        "when every sequence passed, 1 when one failed (or a listener could not open), 2 "
        "for a bad file. With listeners and no steps it serves until SIGINT or SIGTERM, "
        "then exits 0: a mock server for CI.",
    )
    parser.add_argument("file", metavar="FILE", help="the session file (TOML)")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print JSON Lines events (the transcript's records; data in base64) instead",
    )
    parser.add_argument(
        "--transcript",
        metavar="FILE",
        type=transcript_file,
        help="append a lossless JSON Lines record of every event and byte to FILE",
    )
    return parser


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    from workbench.session_file.loader import SessionFileError, load_session

    try:
        spec = load_session(args.file)
    except SessionFileError as exc:
        print(f"sockbench run: error: {exc}", file=sys.stderr)
        return EXIT_BAD_FILE
    if not spec.listeners and not spec.connections:
        print(
            f"sockbench run: error: {args.file}: nothing to run (no [[listen]] or [[connect]])",
            file=sys.stderr,
        )
        return EXIT_BAD_FILE
    from workbench.runner.headless import HeadlessRun, stop_on_signals

    try:
        run = HeadlessRun(spec, transcript_path=args.transcript, as_json=args.json)
    except OSError as exc:
        print(
            f"sockbench run: error: cannot write transcript {args.transcript}: "
            f"{exc.strerror or exc}",
            file=sys.stderr,
        )
        return EXIT_BAD_FILE
    stop_on_signals(run.stop)
    status = run.run()
    for failure in run.outcome.failures:
        print(f"sockbench run: {failure}", file=sys.stderr)
    if status == EXIT_PASSED and run.outcome.had_sequences:
        print("sockbench run: every sequence passed", file=sys.stderr)
    return status
