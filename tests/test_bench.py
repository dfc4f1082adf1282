"""`sockbench bench`: the verdict logic on known figures, and a short real run of the command
(the figures themselves are not judged here; the benchmark does that on a quiet machine)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from peers import requires_socat

from workbench.bench.command import Report
from workbench.bench.rounds import SOCKBENCH, Case, CaseResult, Goal, Metric, Variant, run_case

RATE = Metric("rate", "MB/s")
TIME = Metric("seconds", "s", higher_is_better=False)


def result(metric: Metric, goals: list[Goal], figures: dict[str, list[float]]) -> CaseResult:
    case = Case("c", "how", [metric], goals, [Variant(n, dict) for n in figures])
    done = CaseResult(case)
    done.figures = {name: [{metric.key: v} for v in values] for name, values in figures.items()}
    return done


def test_a_rate_goal_is_met_above_the_limit_and_uses_the_median() -> None:
    (verdict,) = result(RATE, [Goal("rate", 1.0, "socat")], {
        SOCKBENCH: [90, 120, 110], "socat": [100, 100, 1000]
    }).verdicts()  # fmt: skip
    assert verdict.sockbench is not None and verdict.sockbench.median == 110
    assert (verdict.sockbench.low, verdict.sockbench.high, verdict.sockbench.rounds) == (90, 120, 3)
    assert verdict.ratio == pytest.approx(1.1)
    assert verdict.met is True


def test_a_time_goal_is_a_ratio_that_must_stay_below_the_limit() -> None:
    figures = {SOCKBENCH: [0.8], "minimal": [0.5]}
    (verdict,) = result(TIME, [Goal("seconds", 1.5, "minimal")], figures).verdicts()
    assert verdict.ratio == pytest.approx(1.6)
    assert verdict.met is False
    (absolute,) = result(TIME, [Goal("seconds", 1.0)], figures).verdicts()
    assert absolute.met is True and absolute.ratio is None


def test_a_reported_goal_is_not_judged_and_a_missing_reference_says_why() -> None:
    case = Case(
        "c",
        "how",
        [RATE],
        [Goal("rate", None, "socat"), Goal("rate", 1.0, "ncat")],
        [
            Variant(SOCKBENCH, lambda: {"rate": 5.0}),
            Variant("socat", lambda: {"rate": 10.0}),
            Variant("ncat", lambda: {"rate": 1.0}, missing="ncat is not installed"),
        ],
    )
    reported, unjudged = run_case(case, 2, lambda line: None).verdicts()
    assert reported.ratio == pytest.approx(0.5) and reported.met is None
    assert unjudged.met is None and unjudged.note == "ncat is not installed"


def test_a_failing_round_is_reported_and_the_variant_not_run_again() -> None:
    calls = []

    def broken() -> dict[str, float]:
        calls.append(1)
        raise RuntimeError("the sink died")

    case = Case("c", "how", [RATE], [Goal("rate", 1.0)], [Variant(SOCKBENCH, broken)])
    done = run_case(case, 3, lambda line: None)
    assert calls == [1]
    assert done.errors == {SOCKBENCH: "RuntimeError: the sink died"}
    (verdict,) = done.verdicts()
    assert verdict.met is False and "the sink died" in verdict.note
    table = Report([done], 3, quick=False).table()
    assert "failed" in table and "the sink died" in table


QUICK_CASES = ["--case", "TCP bulk in", "--case", "UDP", "--case", "start-up"]


@requires_socat
def test_the_quick_benchmark_runs_real_cases_and_prints_json() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "workbench", "bench", "--quick", "--json", *QUICK_CASES],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout)
    names = [case["name"] for case in report["cases"]]
    assert names == ["TCP bulk in", "TCP bulk in, transcript on", "UDP", "start-up"]
    assert all(not case["errors"] for case in report["cases"])
    verdicts = {(v["case"], v["reference"], v["metric"]): v for c in report["cases"]
                for v in c["verdicts"]}  # fmt: skip
    bulk = verdicts[("TCP bulk in", "socat", "throughput")]
    assert bulk["sockbench"]["median"] > 0 and bulk["reference_figure"]["median"] > 0
    assert bulk["ratio"] == pytest.approx(
        bulk["sockbench"]["median"] / bulk["reference_figure"]["median"]
    )
    startup = verdicts[("start-up", "minimal Textual app", "seconds")]
    assert 0 < startup["sockbench"]["median"] < 20


def test_an_unknown_case_is_a_usage_error() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "workbench", "bench", "--case", "no such case"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 2
    assert "no case matches no such case" in run.stderr
