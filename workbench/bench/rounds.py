"""Cases, rounds and the verdict: run sockbench and its reference tools interleaved, round by
round (so the machine's drift hits both alike), and judge the medians against the targets."""

from __future__ import annotations

import contextlib
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

Figures = dict[str, float]  # one round of one variant: metric key -> value

SOCKBENCH = "sockbench"


@dataclass(frozen=True)
class Metric:
    key: str
    unit: str
    higher_is_better: bool = True
    digits: int = 0  # decimals shown


@dataclass(frozen=True)
class Goal:
    """A target on a metric of sockbench: absolute, or a ratio to a reference variant.
    `limit` None reports the ratio without judging it."""

    metric: str
    limit: float | None
    versus: str | None = None

    def text(self, metric: Metric) -> str:
        if self.limit is None:
            return "(reported)"
        sign = ">=" if metric.higher_is_better else "<="
        if self.versus is not None:
            return f"{sign} {self.limit:g}x {self.versus}"
        return f"{sign} {self.limit:g} {metric.unit}"


@dataclass(frozen=True)
class Variant:
    name: str
    run: Callable[[], Figures]
    missing: str = ""  # why it cannot run here (a tool not installed); empty when it can


@dataclass
class Case:
    name: str
    how: str
    metrics: list[Metric]
    goals: list[Goal]
    variants: list[Variant]
    rounds: int | None = None  # None: the run's default
    # What the rounds need around them (a payload file), made once per case.
    prepare: Callable[[], AbstractContextManager[object]] = contextlib.nullcontext

    def metric(self, key: str) -> Metric:
        return next(m for m in self.metrics if m.key == key)


@dataclass
class Spread:
    median: float
    low: float
    high: float
    rounds: int

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values), len(values))


@dataclass
class Verdict:
    case: str
    metric: str
    unit: str
    goal: str
    sockbench: Spread | None
    reference: str | None = None
    reference_figure: Spread | None = None
    ratio: float | None = None
    met: bool | None = None  # None: not judged (reported only, or a variant could not run)
    note: str = ""


@dataclass
class CaseResult:
    case: Case
    figures: dict[str, list[Figures]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def spread(self, variant: str, key: str) -> Spread | None:
        values = [f[key] for f in self.figures.get(variant, []) if key in f]
        return Spread.of(values) if values else None

    def verdicts(self) -> list[Verdict]:
        return [self._verdict(goal) for goal in self.case.goals]

    def _verdict(self, goal: Goal) -> Verdict:
        metric = self.case.metric(goal.metric)
        ours = self.spread(SOCKBENCH, metric.key)
        verdict = Verdict(self.case.name, metric.key, metric.unit, goal.text(metric), ours)
        if ours is None:
            could_not_run = self._missing(SOCKBENCH)  # not judged: say why (TLS not built)
            verdict.note = self.errors.get(SOCKBENCH) or could_not_run or "no figure"
            verdict.met = False if goal.limit is not None and not could_not_run else None
            return verdict
        if goal.versus is None:
            if goal.limit is not None:
                verdict.met = within(ours.median, goal.limit, metric.higher_is_better)
            return verdict
        verdict.reference = goal.versus
        theirs = self.spread(goal.versus, metric.key)
        if theirs is None:
            verdict.note = self.errors.get(goal.versus) or self._missing(goal.versus) or "no figure"
            return verdict
        verdict.reference_figure = theirs
        if theirs.median > 0:
            # sockbench's figure over the reference's: a time ratio for times, a rate ratio
            # for rates; the goal's direction says which side of the limit is good.
            verdict.ratio = ours.median / theirs.median
            if goal.limit is not None:
                verdict.met = within(verdict.ratio, goal.limit, metric.higher_is_better)
        return verdict

    def _missing(self, name: str) -> str:
        return next((v.missing for v in self.case.variants if v.name == name), "")


def within(value: float, limit: float, higher_is_better: bool) -> bool:
    return value >= limit if higher_is_better else value <= limit


def run_case(case: Case, rounds: int, progress: Callable[[str], None]) -> CaseResult:
    """Each round runs every variant once, in the case's order; a variant that fails is
    reported and not run again."""
    result = CaseResult(case)
    started = time.monotonic()
    runnable = [v for v in case.variants if not v.missing]
    with case.prepare():
        for number in range(1, (case.rounds or rounds) + 1):
            for variant in runnable:
                if variant.name not in result.errors:
                    progress(f"{case.name}: round {number}, {variant.name}")
                    run_variant(variant, result)
    result.seconds = time.monotonic() - started
    return result


def run_variant(variant: Variant, result: CaseResult) -> None:
    try:
        figures = variant.run()
    except Exception as exc:  # a failed round is a result to show, not a crash
        result.errors[variant.name] = f"{type(exc).__name__}: {exc}"
        return
    result.figures.setdefault(variant.name, []).append(figures)


def stderr_progress(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)
