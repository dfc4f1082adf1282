"""`sockbench replay TRANSCRIPT --serve URL | --against URL`: a recording played back on
the engine, without the screen, printing the Log as `sockbench run` does.

--serve: a listener whose replay behaviour plays the recorded server to each new client.
--against: one connection per recorded connection, each playing the recorded client to a
live server; the run is recorded to a transcript and each connection's responses are then
compared with the recording's (workbench.transcript.diff). --framing, --match and --pace
are the replayed endpoints' framing=, replay-match= and replay-pace= options.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from workbench.command_line import EXIT_USAGE, OneLineParser, transcript_file
from workbench.engine.behaviours.replay import DIFFERS
from workbench.framing.messages import FramingError, FramingSpec, parse_framing
from workbench.protocol import events as ev
from workbench.protocol.addresses import EndpointError
from workbench.protocol.endpoints import Endpoint, parse_url
from workbench.protocol.enums import Direction
from workbench.protocol.options import MAX_REPLAY_PAUSE, REPLAY_MATCHES, REPLAY_PACES
from workbench.replay.recording import RecordingError, scripts_selected
from workbench.replay.script import Script, Selection, SelectionError, Side, parse_selection
from workbench.runner.headless import HeadlessRun, stop_on_signals
from workbench.runner.outcome import EXIT_FAILED, EXIT_PASSED, Outcome
from workbench.session_file.model import ConnectSpec, ListenSpec, SessionSpec
from workbench.transcript.diff import DEFAULT_CONTEXT, diff_pieces
from workbench.transcript.records import Data

PROG = "sockbench replay"
# How long --against waits for a server that has gone quiet before it gives up on it.
DEFAULT_QUIET_SECONDS = 5.0


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog=PROG,
        description="Play a recording back. --serve URL: a mock server that plays the "
        "recorded server to each new client in order (the first client gets the first "
        "recorded connection...; after the last, the first again), waiting for as many of "
        "the client's bytes (--framing: messages) as were recorded before each answer; a "
        "client that sends others is reported (stderr and the Log) and served on. Serves "
        "until SIGINT or "
        "SIGTERM, exit 0. --against URL: plays each recorded client against a live server "
        "and shows where its responses differ from the recording's: exit 0 when every "
        "response is the same, 1 when one differs, 2 for a bad transcript or usage.",
    )
    parser.add_argument(
        "transcript",
        metavar="TRANSCRIPT",
        help="the recording (JSON Lines transcript); FILE@2 is its session 2, FILE#C3 its "
        "connection C3 (default: every stream connection of the last session)",
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--serve", metavar="URL", help="listen at URL and play the server")
    target.add_argument("--against", metavar="URL", help="connect to URL and play the client")
    parser.add_argument("--session", metavar="N", type=int, help="the session to play (1 = first)")
    parser.add_argument(
        "--conn", metavar="ID", help="the connection to play (--serve: to every client)"
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="--serve: exit once the recorded clients are served (exit 1 if one differed)",
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=DEFAULT_QUIET_SECONDS,
        help="--against: give up on a server quiet for this long (default: 5)",
    )
    parser.add_argument(
        "--framing",
        metavar="SPEC",
        help="wait for and compare the other side's messages in this framing, not its bytes "
        "(len:2:be, netstring, delim:\\r\\n, resp, http); --against: diff message by message "
        "(default: text lines)",
    )
    parser.add_argument(
        "--match",
        choices=REPLAY_MATCHES,
        help="exact: compare what the other side sends with the recording (the default); "
        "count: only wait for as many bytes or messages, answer whatever is asked",
    )
    parser.add_argument(
        "--pace",
        choices=REPLAY_PACES,
        help="none: answer at once (the default); recorded: each turn after the pause the "
        f"recording had before it (at most {MAX_REPLAY_PAUSE:g} s)",
    )
    parser.add_argument(
        "--context", metavar="N", type=int, default=DEFAULT_CONTEXT, help="diff context lines"
    )
    parser.add_argument("--json", action="store_true", help="print JSON Lines events instead")
    parser.add_argument(
        "--transcript",
        dest="record",
        metavar="FILE",
        type=transcript_file,
        help="append a lossless JSON Lines record of the replay to FILE",
    )
    return parser


def fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        selection = parse_selection(args.transcript)
    except SelectionError as exc:
        return fail(str(exc))
    if args.session is not None:
        if args.session < 1:
            return fail("--session counts from 1")
        selection = replace(selection, session=args.session)
    if args.conn is not None:
        selection = replace(selection, conn=args.conn)
    framing: FramingSpec | None = None
    if args.framing is not None:
        try:
            framing = parse_framing(args.framing)
        except (FramingError, ImportError) as exc:  # ImportError: a framing not built in
            return fail(f"--framing: {exc}")
    if args.timeout <= 0 or args.context < 0:
        return fail("--timeout must be above 0 and --context 0 or more")
    try:
        scripts = scripts_selected(selection)
    except RecordingError as exc:
        return fail(str(exc))
    if args.serve is not None:
        return serve(args, selection, scripts)
    return against(args, selection, scripts, framing)


def replaying(
    url: str, for_listen: bool, selection: Selection, args: argparse.Namespace
) -> Endpoint:
    """`url`'s endpoint, replaying `selection` with --framing, --match and --pace where
    given (EndpointError for a bad URL)."""
    from workbench.behaviour_options import checked

    endpoint = parse_url(url, for_listen=for_listen)
    if endpoint.is_datagram:
        raise EndpointError(f"'{url}': replay plays stream connections (tcp://, unix://)")
    options = replace(endpoint.options, replay=str(selection))
    given = {"framing": args.framing, "replay_match": args.match, "replay_pace": args.pace}
    options = replace(options, **{name: value for name, value in given.items() if value})
    return checked(replace(endpoint, options=options))


@dataclass
class WatchedOutcome(Outcome):
    """The run's outcome, its events shown to `watch` as well."""

    watch: Callable[[list[ev.Event]], None] | None = None

    def apply(self, events: list[ev.Event]) -> None:
        super().apply(events)
        if self.watch is not None:
            self.watch(events)


class ReplayRun(HeadlessRun):
    """The headless run, watching the replayed connections: differences said on stderr,
    --once's end, --against's quiet servers."""

    def __init__(self, spec: SessionSpec, record: str | None, as_json: bool) -> None:
        super().__init__(spec, transcript_path=record, as_json=as_json)
        self.outcome = WatchedOutcome(listened=bool(spec.listeners), watch=self._watch)
        self.clients_left: int | None = None  # --once: clients still to serve
        self.quiet_seconds: float | None = None  # --against: give up on a quiet server
        self.opened: list[str] = []  # the connections made, in order (--against)
        self.replayed: set[str] = set()  # open replayed connections
        self.last_heard: dict[str, float] = {}
        self.differed: set[str] = set()

    def _open_connections(self) -> None:
        for spec in self.spec.connections:
            cid = self.engine.connect(spec.endpoint)
            self.opened.append(cid)
            self.outcome.connections.add(cid)
            self.last_heard[cid] = time.monotonic()

    def _pump(self, wait: float) -> None:
        super()._pump(wait)
        self._give_up_on_quiet()

    def _watch(self, events: list[ev.Event]) -> None:
        now = time.monotonic()
        for event in events:
            if isinstance(event, ev.ConnectionOpened):
                self.replayed.add(event.cid)
                self.last_heard[event.cid] = now
            elif isinstance(event, ev.Data):
                self.last_heard[event.cid] = now
            elif isinstance(event, ev.ErrorReported) and event.source in self.replayed:
                if event.message.startswith(DIFFERS):
                    self.differed.add(event.source)
                    print(f"{PROG}: {event.source}: {event.message}", file=sys.stderr)
            elif isinstance(event, ev.ConnectionClosed):
                self.last_heard.pop(event.cid, None)
                if event.cid in self.replayed:
                    self.replayed.discard(event.cid)
                    if self.clients_left is not None and self.spec.listeners:
                        self.clients_left -= 1
                        if self.clients_left <= 0:
                            self.stop()

    def _give_up_on_quiet(self) -> None:
        if self.quiet_seconds is None:
            return
        now = time.monotonic()
        for cid, heard in list(self.last_heard.items()):
            if now - heard > self.quiet_seconds:
                del self.last_heard[cid]
                print(
                    f"{PROG}: {cid}: nothing for {self.quiet_seconds:g} s: closed",
                    file=sys.stderr,
                )
                self.engine.close(cid)


def serve(args: argparse.Namespace, selection: Selection, scripts: tuple[Script, ...]) -> int:
    try:
        endpoint = replaying(args.serve, True, selection, args)
    except EndpointError as exc:
        return fail(str(exc))
    spec = SessionSpec(listeners=(ListenSpec(endpoint, "replay"),))
    try:
        run = ReplayRun(spec, args.record, args.json)
    except OSError as exc:
        return fail(f"cannot write transcript {args.record}: {exc.strerror or exc}")
    if args.once:
        run.clients_left = len(scripts) if args.conn is None else 1
    stop_on_signals(run.stop)
    run.run()
    for failure in run.outcome.failures:
        print(f"{PROG}: {failure}", file=sys.stderr)
    if run.outcome.listener_failed:
        return EXIT_FAILED
    if args.once and (run.differed or run.clients_left):
        return EXIT_FAILED
    return EXIT_PASSED


def against(
    args: argparse.Namespace,
    selection: Selection,
    scripts: tuple[Script, ...],
    framing: FramingSpec | None,
) -> int:
    try:
        endpoints = [
            replaying(args.against, False, Selection(selection.path, s.session, s.cid), args)
            for s in scripts
        ]
    except EndpointError as exc:
        return fail(str(exc))
    spec = SessionSpec(
        connections=tuple(
            ConnectSpec(e, f"replay-{s.cid}") for e, s in zip(endpoints, scripts, strict=True)
        )
    )
    scratch = None
    record = args.record
    if record is None:  # the run is recorded to be compared: every byte, losslessly
        scratch = tempfile.mkdtemp(prefix="sockbench-replay-")
        record = str(Path(scratch) / "against.jsonl")
    try:
        try:
            run = ReplayRun(spec, record, args.json)
        except OSError as exc:
            return fail(f"cannot write transcript {record}: {exc.strerror or exc}")
        run.quiet_seconds = args.timeout
        stop_on_signals(run.stop)
        run.run()
        for failure in run.outcome.failures:
            print(f"{PROG}: {failure}", file=sys.stderr)
        return compare(args, selection.path, record, scripts, run.opened, framing)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def compare(
    args: argparse.Namespace,
    path: str,
    record: str,
    scripts: tuple[Script, ...],
    opened: list[str],
    framing: FramingSpec | None,
) -> int:
    """Each recorded connection's server bytes against what the live server sent."""
    from workbench.transcript.connections import LoadError, load_connections

    try:
        live = {c.cid: c for c in load_connections(record)}
    except LoadError as exc:
        print(f"{PROG}: cannot read back the run: {exc}", file=sys.stderr)
        return EXIT_FAILED
    status = EXIT_PASSED
    for script, cid in zip(scripts, opened, strict=True):
        recorded = f"{path}@{script.session}#{script.cid}"
        found = live.get(cid)
        if found is None:
            print(f"{recorded} ({cid}): did not connect", file=sys.stderr)
            status = EXIT_FAILED
            continue
        got = [i.data for i in found.items if isinstance(i, Data) and i.dir is Direction.IN]
        diff = diff_pieces(
            [script.sent_by(Side.SERVER)],
            got,
            name_a=f"{recorded} (recorded)",
            name_b=f"{args.against} ({cid})",
            direction="responses",
            framing=framing,
            context=args.context,
        )
        if diff.equal:
            print(f"{recorded} vs {cid}: responses same")
            continue
        status = EXIT_FAILED
        print(f"{recorded} vs {cid}: responses differ")
        print("\n".join(diff.lines))
    return status
