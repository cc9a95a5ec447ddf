"""Anomaly detectors against a learned baseline: latency, error rate, response size."""
from __future__ import annotations

import random

import pytest

from mimic_addon.watch.anomaly import LATENCY_MIN_RATIO, EndpointMonitor, Flags


def baseline(n: int = 300, lat: float = 50.0, jitter: float = 2.0, err_every: int = 0, size: int = 1000,
             seed: int = 1) -> EndpointMonitor:
    rng = random.Random(seed)
    m = EndpointMonitor()
    for i in range(n):
        status = 500 if err_every and i % err_every == 0 else 200
        m.observe(lat + rng.uniform(-jitter, jitter), status, size + rng.randint(-50, 50))
    return m


def test_quiet_baseline_raises_nothing() -> None:
    f = baseline().flags
    assert not (f.latency or f.errors or f.size)


def test_one_slow_response_is_not_a_spike_but_a_slow_streak_is() -> None:
    m = baseline()
    assert not m.observe(500.0, 200, 1000).latency
    flags = [m.observe(200.0, 200, 1000).latency for _ in range(9)]
    assert flags[-1] and m.flags.latency_z > 4 and m.flags.latency_ratio == pytest.approx(4, rel=0.1)
    for _ in range(9):  # traffic back to normal: recovers
        m.observe(50.0, 200, 1000)
    assert not m.flags.latency


def test_jittery_endpoint_tolerates_more() -> None:
    rng = random.Random(3)
    m = EndpointMonitor()
    for _ in range(500):
        m.observe(rng.lognormvariate(3.5, 0.8), 200, 1000)
    assert m.flags.latency_threshold > 4  # a spike starts at more than 4x the median
    assert not m.flags.latency
    for _ in range(9):
        m.observe(rng.lognormvariate(3.5, 0.8) * 3, 200, 1000)
    assert not m.flags.latency  # three times slower is within this endpoint's usual spread


def test_rare_stalls_do_not_hide_a_slowdown() -> None:
    """A baseline with a few very slow answers (a loaded machine, a GC pause) keeps a narrow spread."""
    rng = random.Random(5)
    m = EndpointMonitor()
    for i in range(1000):
        m.observe(2.0 * rng.uniform(0.9, 1.1) * (75 if i % 50 == 7 else 1), 200, 1000)
        assert not m.flags.latency, i  # nor are the stalls themselves a spike
    for _ in range(9):
        m.observe(150.0, 200, 1000)
    assert m.flags.latency and m.flags.latency_ratio > 50


def test_a_steady_endpoint_needs_a_real_factor() -> None:
    m = baseline(jitter=0.1)
    for _ in range(9):
        m.observe(50.0 * (LATENCY_MIN_RATIO - 0.1), 200, 1000)
    assert not m.flags.latency and m.flags.latency_threshold == LATENCY_MIN_RATIO
    for _ in range(9):
        m.observe(50.0 * (LATENCY_MIN_RATIO + 0.1), 200, 1000)
    assert m.flags.latency


def test_error_spike_needs_a_minimum_count() -> None:
    m = baseline()
    m.observe(50.0, 500, 1000)  # one error on a clean endpoint: not an incident
    assert not m.flags.errors
    for _ in range(10):
        m.observe(50.0, 503, 1000)
    assert m.flags.errors and m.flags.error_factor > 5
    for _ in range(100):
        m.observe(50.0, 200, 1000)
    assert not m.flags.errors


def test_size_drift_both_ways() -> None:
    m = baseline()
    for _ in range(9):
        m.observe(50.0, 200, 100)  # truncated
    assert m.flags.size and m.flags.size_ratio < 1 / 3
    m = baseline()
    for _ in range(9):
        m.observe(50.0, 200, 5000)  # bloated
    assert m.flags.size


def test_incident_does_not_become_the_baseline() -> None:
    m = baseline()
    before = m.latency.count
    for _ in range(200):
        m.observe(400.0, 200, 1000)
    assert m.flags.latency
    assert m.latency.count - before < 10


def test_round_trip_and_merge() -> None:
    m = baseline(err_every=20)
    clone = EndpointMonitor.from_dict(m.to_dict())
    assert clone.to_dict() == m.to_dict()
    other = baseline(seed=2)
    m.merge(other)
    assert m.requests == 600 and m.latency.count == 2 * (300 - 9)  # the newest 9 wait in the window
    assert EndpointMonitor.from_dict(None).requests == 0


def test_a_baseline_stored_as_mean_and_deviation_restarts() -> None:
    """Stores written before the quartile baselines keep their error baseline; their latency and
    size verdicts (thresholds against means) are dropped with those baselines."""
    old = baseline(err_every=20).to_dict()
    old["lat"], old["size"] = [291, 14550.0, 728000.0], [291, 291000, 291000000]
    del old["lath"], old["sizeh"]
    old["flags"] = {"latency": True, "latency_z": 7.5, "latency_threshold": 2.0, "errors": False,
                    "error_factor": 1.0, "size": True, "size_ratio": 0.2}
    m = EndpointMonitor.from_dict(old)
    assert m.latency.count == 0 and m.size.count == 0 and m.requests == 300 and m.errors == 15
    assert not m.flags.latency and m.flags.latency_threshold == 0.0 and m.flags.error_factor == 1.0
    assert Flags.from_dict(old["flags"]) == Flags(error_factor=1.0)
    # stored between the two rules: the latency verdict is kept, the size one dropped
    between = {"latency": True, "latency_ratio": 4.0, "latency_threshold": 1.5, "size": True, "size_ratio": 0.2}
    assert Flags.from_dict(between) == Flags(latency=True, latency_ratio=4.0, latency_threshold=1.5)


@pytest.mark.parametrize("usual", [0.0, 0.05, 1.0])
def test_a_fast_endpoint_is_judged_in_milliseconds_too(usual: float) -> None:
    """Sub-millisecond jitter is no spike, a few milliseconds more are, even from nothing."""
    m = EndpointMonitor()
    for i in range(100):
        m.observe(usual * (1 + (i % 5) / 20), 200, 1000)
    for _ in range(9):
        m.observe(usual + 1.0, 200, 1000)
    assert not m.flags.latency
    for _ in range(9):
        m.observe(usual + 2.5, 200, 1000)
    assert m.flags.latency


def test_latencies_that_are_not_numbers_are_ignored() -> None:
    m = baseline()
    for bad in (float("nan"), float("inf")) * 9:
        m.observe(bad, 200, 1000)
    assert not m.flags.latency and all(x < 100 for x in m.recent_latency)


def test_a_list_whose_pages_vary_in_size_is_no_size_drift() -> None:
    """Sizes spread over two orders of magnitude (pages of 2 items, then of 60): judged against a
    mean (their median is about half of it), one window in eight looked a third of it; against
    their own quartiles, none does."""
    rng = random.Random(9)
    m = EndpointMonitor()
    for i in range(2000):
        m.observe(40.0, 200, int(2000 * rng.lognormvariate(-0.6, 1.1)))
        assert not m.flags.size, i
    assert m.flags.size_threshold > 10
    for _ in range(9):
        m.observe(40.0, 200, 20)  # all but empty: far below what any page was
    assert m.flags.size and m.flags.size_ratio < 1 / m.flags.size_threshold


def test_errors_and_empty_answers_are_not_sizes_of_the_endpoint() -> None:
    """A 304 or 204 (no body) or an error beside 2 kB answers is another kind of answer: mixed in,
    they would widen the spread until no drift could show."""
    m = EndpointMonitor()
    for i in range(300):
        m.observe(40.0, (304, 204, 500, 200, 200)[i % 5], 0 if i % 5 < 2 else 2000 + i % 7)
    assert m.flags.size_threshold == 3.0 and m.size.count == 120 - 9
    for _ in range(9):
        m.observe(40.0, 200, 0)  # bodies gone empty
    assert m.flags.size and m.flags.to_dict()["size_ratio"] == pytest.approx(1 / 2004, rel=0.05)
