"""The bench's broker fan-out case at its quick size: 50 receivers of one sender through
sockbench's broker listener and through `ncat --broker`, then the case as the bench lists it."""

from __future__ import annotations

import shutil

import pytest

from workbench.bench.broker_case import NCAT, broker_fanout, delivered
from workbench.bench.command import QUICK, cases
from workbench.bench.rounds import run_case
from workbench.bench.tools import BenchError


@pytest.mark.skipif(shutil.which("ncat") is None, reason="ncat is not installed")
def test_the_fanout_case_counts_what_both_brokers_deliver_and_compares_them() -> None:
    done = run_case(broker_fanout(QUICK.small_seconds), 1, lambda line: None)
    assert done.errors == {}
    (verdict,) = done.verdicts()
    assert verdict.reference == NCAT and verdict.met is None, "reported, not judged"
    assert verdict.sockbench is not None and verdict.sockbench.median > 0
    assert verdict.reference_figure is not None and verdict.reference_figure.median > 0
    ours, theirs = verdict.sockbench.median, verdict.reference_figure.median
    assert verdict.ratio == pytest.approx(ours / theirs)
    assert "Broker fan-out" in [make().name for make in cases(QUICK)]


@pytest.mark.parametrize(
    ("report", "words"),
    [
        ({"ready": 0, "sent": 0, "messages": 0, "seconds": 0.0}, "not every one of the 50"),
        ({"ready": 1, "sent": 10, "messages": 499, "seconds": 1.0}, "got 499 messages of 500"),
    ],
)
def test_a_round_that_did_not_deliver_everything_fails_in_words(
    report: dict[str, float], words: str
) -> None:
    with pytest.raises(BenchError, match=words):
        delivered(report)
    assert delivered({"ready": 1, "sent": 10, "messages": 500, "seconds": 0.5}) == {
        "delivered": 1000.0
    }
