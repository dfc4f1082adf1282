"""The TLS bench cases: their references run against real socat and openssl (one cipher forced
on both sides, checked), the handshake client is a separate process, and without TLS in
sockbench the cases say why they cannot run instead of failing."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys

import pytest
from peers import requires_socat

from workbench.bench.command import Report
from workbench.bench.rounds import run_case
from workbench.bench.tls_cases import tls_bulk_in, tls_handshakes

MIB = 1024**2
requires_openssl = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="openssl is not installed"
)


def reference(case_maker: object, name: str) -> dict[str, float]:
    """One round of a case's reference variant, run even where sockbench's cannot."""
    assert callable(case_maker)
    case = case_maker()
    variant = next(v for v in case.variants if v.name == name)
    with case.prepare():
        figures: dict[str, float] = variant.run()
    return figures


@requires_socat
@requires_openssl
def test_the_socat_tls_sink_takes_the_bytes_with_the_forced_cipher() -> None:
    figures = reference(lambda: tls_bulk_in(8 * MIB), "socat")  # checks the cipher itself
    assert figures["throughput"] > 0


@requires_openssl
def test_openssl_s_server_takes_the_client_s_handshakes() -> None:
    figures = reference(lambda: tls_handshakes(20), "openssl s_server")
    assert figures["handshakes"] > 0


def test_a_case_whose_tools_are_missing_says_why_and_is_not_judged() -> None:
    case = tls_bulk_in(MIB)
    why = "socat is not installed (apt-get install socat)"
    case.variants = [dataclasses.replace(v, missing=why) for v in case.variants]
    result = run_case(case, 1, lambda line: None)
    assert result.figures == {}
    verdicts = result.verdicts()
    assert [v.met for v in verdicts] == [None]
    assert why in verdicts[0].note
    table = Report([result], 1, quick=True).table()
    assert re.search(r"^TLS bulk in +not run ", table, re.MULTILINE)


@requires_socat
@requires_openssl
def test_the_quick_tls_cases_measure_sockbench_against_socat_and_openssl() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "workbench", "bench", "--quick", "--json", "--case", "TLS"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout)
    assert [case["name"] for case in report["cases"]] == ["TLS bulk in", "TLS handshakes"]
    assert all(not case["errors"] for case in report["cases"]), report
    for case in report["cases"]:
        (verdict,) = case["verdicts"]
        assert verdict["sockbench"]["median"] > 0 and verdict["reference_figure"]["median"] > 0
        assert verdict["ratio"] > 0
