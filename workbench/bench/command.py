"""`sockbench bench`: run the cases, print the verdicts as a table or as JSON."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from workbench import __version__
from workbench.bench import (
    app_cases,
    broker_case,
    echo_case,
    pcapng_case,
    stream_cases,
    tls_cases,
    udp_case,
)
from workbench.bench.rounds import (
    SOCKBENCH,
    Case,
    CaseResult,
    Spread,
    Verdict,
    run_case,
    stderr_progress,
)

GIB = 1024**3
MIB = 1024**2


@dataclass(frozen=True)
class Sizes:
    rounds: int
    bulk_bytes: int
    small_seconds: float
    udp_rate: int
    udp_seconds: float
    storm_connections: int
    flood: app_cases.FloodPlan
    framed_flood: app_cases.FloodPlan  # messages, not records
    soak_seconds: float
    round_trips: int
    handshakes: int


FULL = Sizes(
    rounds=5,
    bulk_bytes=GIB,
    small_seconds=2.0,
    udp_rate=100_000,
    udp_seconds=2.0,
    storm_connections=5_000,
    flood=app_cases.FloodPlan(1_000_000, 60.0),
    framed_flood=app_cases.FloodPlan(1_000_000, 60.0),
    soak_seconds=30.0,
    round_trips=20_000,
    handshakes=1_000,
)
QUICK = Sizes(
    rounds=1,
    bulk_bytes=32 * MIB,
    small_seconds=0.3,
    udp_rate=20_000,
    udp_seconds=0.3,
    storm_connections=200,
    flood=app_cases.FloodPlan(20_000, 20.0),
    framed_flood=app_cases.FloodPlan(20_000, 20.0),
    soak_seconds=4.0,
    round_trips=500,
    handshakes=100,
)


def cases(sizes: Sizes) -> list[Callable[[], Case]]:
    return [
        lambda: stream_cases.bulk_in(sizes.bulk_bytes),
        lambda: stream_cases.bulk_in_with_transcript(sizes.bulk_bytes),
        lambda: stream_cases.bulk_out(sizes.bulk_bytes),
        lambda: tls_cases.tls_bulk_in(sizes.bulk_bytes),
        lambda: tls_cases.tls_handshakes(sizes.handshakes),
        lambda: echo_case.echo_case(sizes.bulk_bytes),
        lambda: echo_case.echo_latency(sizes.round_trips),
        lambda: broker_case.broker_fanout(sizes.small_seconds),
        lambda: stream_cases.small_messages(sizes.small_seconds),
        lambda: udp_case.datagram_case(sizes.udp_rate, sizes.udp_seconds),
        lambda: app_cases.accept_storm(sizes.storm_connections),
        lambda: app_cases.ui_flood(sizes.flood),
        lambda: app_cases.framed_flood(sizes.framed_flood),
        app_cases.startup,
        lambda: app_cases.soak(sizes.soak_seconds),
        lambda: pcapng_case.pcapng_export(sizes.bulk_bytes),
    ]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sockbench bench",
        description="Measure sockbench against socat, ncat and a minimal Textual app on this "
        "machine, interleaved round by round. All traffic stays on 127.0.0.1.",
    )
    parser.add_argument("--quick", action="store_true", help="a short run that proves it works")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--rounds", type=int, help="rounds per case (default 5; --quick 1)")
    parser.add_argument(
        "--case",
        action="append",
        metavar="NAME",
        help="run only cases whose name contains NAME (repeatable), e.g. --case udp",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a target is not met"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    sizes = QUICK if args.quick else FULL
    rounds = max(1, args.rounds or sizes.rounds)
    chosen = [make() for make in cases(sizes)]
    if args.case:
        wanted = [name.lower() for name in args.case]
        chosen = [c for c in chosen if any(w in c.name.lower() for w in wanted)]
        if not chosen:
            print(f"sockbench bench: no case matches {', '.join(args.case)}", file=sys.stderr)
            return 2
    results = [run_case(case, rounds, stderr_progress) for case in chosen]
    report = Report(results, rounds, args.quick)
    print(report.json() if args.json else report.table())
    if any(r.errors for r in results):
        return 1
    return 1 if args.strict and not report.all_met else 0


class Report:
    def __init__(self, results: list[CaseResult], rounds: int, quick: bool) -> None:
        self.results = results
        self.rounds = rounds
        self.quick = quick
        self.verdicts = [v for r in results for v in r.verdicts()]
        self.when = datetime.datetime.now().astimezone()

    @property
    def all_met(self) -> bool:
        return all(v.met is not False for v in self.verdicts)

    def machine(self) -> dict[str, object]:
        return {
            "system": f"{platform.system()} {platform.release()}",
            "cpus": os.cpu_count(),
            "cpu": cpu_model(),
            "python": platform.python_version(),
            "sockbench": __version__,
        }

    def json(self) -> str:
        return json.dumps(
            {
                "date": self.when.isoformat(timespec="seconds"),
                "machine": self.machine(),
                "rounds": self.rounds,
                "quick": self.quick,
                "all_met": self.all_met,
                "cases": [
                    {
                        "name": r.case.name,
                        "how": r.case.how,
                        "seconds": round(r.seconds, 1),
                        "errors": r.errors,
                        "missing": {v.name: v.missing for v in r.case.variants if v.missing},
                        "verdicts": [asdict(v) for v in r.verdicts()],
                    }
                    for r in self.results
                ],
            },
            indent=2,
        )

    def table(self) -> str:
        machine = self.machine()
        head = (
            f"sockbench bench{' --quick' if self.quick else ''} · "
            f"{self.when:%Y-%m-%d %H:%M %Z} · {machine['system']} · {machine['cpus']} CPUs "
            f"({machine['cpu']}) · Python {machine['python']} · median of {self.rounds} "
            f"round{'s' if self.rounds > 1 else ''} (min-max)"
        )
        rows = [("case", "sockbench", "reference", "ratio", "target", "met")]
        digits = {(r.case.name, m.key): m.digits for r in self.results for m in r.case.metrics}
        previous_case = ""
        not_run = {  # cases sockbench cannot run in this build (TLS without the TLS core)
            r.case.name for r in self.results for v in r.case.variants
            if v.name == SOCKBENCH and v.missing
        }  # fmt: skip
        for v in self.verdicts:
            places = digits[(v.case, v.metric)]
            rows.append(
                (
                    v.case if v.case != previous_case else "",
                    "not run" if v.case in not_run else figure(v.sockbench, v.unit, places),
                    reference_text(v, places),
                    f"{v.ratio:.2f}x" if v.ratio is not None else "",
                    v.goal,
                    {True: "yes", False: "NO", None: "-"}[v.met],
                )
            )
            previous_case = v.case
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = [head, ""]
        for row in rows:
            lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        notes = [
            f"{r.case.name}: {name}: {why}"
            for r in self.results
            for name, why in [*r.errors.items(), *((v.name, v.missing) for v in r.case.variants)]
            if why
        ]
        notes += [f"{v.case}: {v.note}" for v in self.verdicts if v.note and v.met is None]
        if notes:
            lines += ["", *dict.fromkeys(notes)]
        lines += ["", "Cases:"] + [f"  {r.case.name}: {r.case.how}" for r in self.results]
        return "\n".join(lines)


def figure(spread: Spread | None, unit: str, places: int) -> str:
    if spread is None:
        return "failed"
    text = f"{spread.median:,.{places}f} {unit}"
    if spread.rounds > 1:
        text += f" ({spread.low:,.{places}f}-{spread.high:,.{places}f})"
    return text


def reference_text(verdict: Verdict, places: int) -> str:
    if verdict.reference is None:
        return ""
    if verdict.reference_figure is None:
        return f"{verdict.reference}: not run"
    return f"{verdict.reference} {figure(verdict.reference_figure, verdict.unit, places)}"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"
