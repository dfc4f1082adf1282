"""The bench's TCP echo case, end to end at a small size: a real peer process against
sockbench's echo listener and against socat, then the case as `sockbench bench` lists it."""

from __future__ import annotations

import socket

import pytest
from peers import requires_socat

from workbench.bench.command import QUICK, cases
from workbench.bench.echo_case import SOCAT, echo_case, echo_latency, echoed
from workbench.bench.rounds import SOCKBENCH, run_case
from workbench.bench.tools import BenchError, peer_report, python_peer, running

SIZE = 4 * 1024 * 1024


@requires_socat
def test_the_echo_case_times_both_echoes_and_compares_them() -> None:
    done = run_case(echo_case(SIZE), 1, lambda line: None)
    assert done.errors == {}
    assert set(done.figures) == {SOCKBENCH, SOCAT}
    (verdict,) = done.verdicts()
    assert verdict.reference == SOCAT
    assert verdict.sockbench is not None and verdict.sockbench.median > 0
    assert verdict.reference_figure is not None and verdict.reference_figure.median > 0
    ours, theirs = verdict.sockbench.median, verdict.reference_figure.median
    assert verdict.ratio == pytest.approx(ours / theirs)


def test_the_echo_case_is_one_of_the_bench_cases() -> None:
    assert "TCP echo" in [make().name for make in cases(QUICK)]


@pytest.mark.parametrize(
    ("report", "words"),
    [
        ({"received": 10, "extra": 0, "eof": 0, "seconds": 10.0}, "the peer gave up after 10.00 s"),
        ({"received": 10, "extra": 0, "eof": 1, "seconds": 0.5}, "the echo ended its stream"),
        ({"received": 100, "extra": 7, "eof": 1, "seconds": 0.5}, "7 bytes came back beyond"),
        ({"received": 100, "extra": 0, "eof": 0, "seconds": 0.5}, "did not end its stream"),
    ],
)
def test_a_round_the_echo_did_not_finish_fails_in_words(
    report: dict[str, float], words: str
) -> None:
    with pytest.raises(BenchError, match=words):
        echoed(100, report)
    assert echoed(100, {"received": 100, "extra": 0, "eof": 1, "seconds": 0.5}) == {
        "throughput": pytest.approx(100 / 1e6 / 0.5)
    }


@requires_socat
def test_the_echo_latency_case_times_round_trips_through_both_echoes() -> None:
    done = run_case(echo_latency(200), 1, lambda line: None)
    assert done.errors == {}
    assert set(done.figures) == {SOCKBENCH, SOCAT}
    verdicts = {verdict.metric: verdict for verdict in done.verdicts()}
    assert set(verdicts) == {"median_us", "p99_us"}
    for verdict in verdicts.values():
        assert verdict.reference == SOCAT
        assert verdict.sockbench is not None and verdict.reference_figure is not None
        assert 0 < verdict.sockbench.median < 1_000_000  # microseconds: under a second
    median, p99 = verdicts["median_us"].sockbench, verdicts["p99_us"].sockbench
    assert median is not None and p99 is not None and median.median <= p99.median
    assert "TCP echo latency" in [make().name for make in cases(QUICK)]


def test_a_latency_round_with_missing_round_trips_fails_in_words() -> None:
    """An echo that never answers: the peer gives up at its stall bound and says how many."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        with running(python_peer("echo-pings", str(port), "3", "64", "2"), stdout=-1) as proc:
            report = peer_report(proc, 30)
    assert report["round_trips"] == 0
