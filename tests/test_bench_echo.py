"""The bench's TCP echo case, end to end at a small size: a real peer process against
sockbench's echo listener and against socat, then the case as `sockbench bench` lists it."""

from __future__ import annotations

import socket
import threading

import pytest
from peers import requires_socat

from workbench.bench.command import QUICK, cases
from workbench.bench.echo_case import SOCAT, SOCAT_SERVER, echo_case, echo_latency, echoed
from workbench.bench.rounds import SOCKBENCH, run_case
from workbench.bench.tools import BenchError, peer_report, python_peer, running

SIZE = 4 * 1024 * 1024


@requires_socat
def test_the_echo_case_times_both_echoes_and_compares_them() -> None:
    done = run_case(echo_case(SIZE), 1, lambda line: None)
    assert done.errors == {}
    assert set(done.figures) == {SOCKBENCH, SOCAT_SERVER}
    (verdict,) = done.verdicts()
    assert verdict.reference == SOCAT_SERVER
    assert verdict.sockbench is not None and verdict.sockbench.median > 0
    assert verdict.reference_figure is not None and verdict.reference_figure.median > 0
    ours, theirs = verdict.sockbench.median, verdict.reference_figure.median
    assert verdict.ratio == pytest.approx(ours / theirs)


def test_the_echo_case_is_one_of_the_bench_cases() -> None:
    assert "TCP echo" in [make().name for make in cases(QUICK)]


@requires_socat
def test_a_round_the_echo_did_not_finish_fails_in_words() -> None:
    """An echo that sends back half of what it got, then ends its stream."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def half_echo() -> None:
            conn, _ = server.accept()
            with conn:
                got = 0
                while piece := conn.recv(65536):
                    got += len(piece)
                conn.sendall(bytes(got // 2))

        thread = threading.Thread(target=half_echo, daemon=True)
        thread.start()
        with pytest.raises(BenchError, match="524,288 bytes came back of the 1,048,576 sent"):
            echoed(port, 1 << 20)
        thread.join(10)


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
