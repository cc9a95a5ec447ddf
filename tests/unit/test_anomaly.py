"""Anomaly detectors against a learned baseline: latency, error rate, response size."""
from __future__ import annotations

import math
import random

import pytest

from mimic_addon.model.stats import LatencyHistogram
from mimic_addon.watch.anomaly import (LATENCY_MIN_RATIO, RANK_ALPHA, RECENT, RUNS, EndpointMonitor, Flags, RankTest,
                                       critical_count, beta_binomial_tail)
from mimic_addon.watch.evidence import chance


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
    for _ in range(12):  # traffic back to normal: recovers once fewer than 5 of the last 16 are slow
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
    assert m.requests == 600 and m.latency.count == 2 * (300 - 16)  # the newest 16 wait in the window
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
    assert m.flags.size_threshold == 3.0 and m.size.count == 120 - 16
    for _ in range(9):
        m.observe(40.0, 200, 0)  # bodies gone empty
    assert m.flags.size and m.flags.to_dict()["size_ratio"] == pytest.approx(1 / 2004, rel=0.05)


def pages(rng: random.Random, empty_share: float) -> int:
    """A list's page: empty (26 bytes) or full (about 2 kB)."""
    return 26 if rng.random() < empty_share else int(rng.gauss(2000, 200))


@pytest.mark.parametrize("empty_share", [0.1, 0.2, 0.3, 0.45])
def test_empty_pages_beside_full_ones_are_no_size_drift(empty_share: float) -> None:
    """Two groups of sizes far apart: judged on quartiles, a fifth of empty pages fell outside them
    and five of nine in a window (one window in fifty) looked like a drift; ranks see no change."""
    rng = random.Random(5)
    m = EndpointMonitor()
    for i in range(5000):
        m.observe(40.0, 200, pages(rng, empty_share))
        assert not m.flags.size, i


def test_full_pages_truncated_beside_empty_ones_are_a_size_drift() -> None:
    """30% of pages empty: the quartiles spanned both groups, and a truncation was within them."""
    rng = random.Random(6)
    m = EndpointMonitor()
    for _ in range(3000):
        m.observe(40.0, 200, pages(rng, 0.3))
    flagged = []
    for _ in range(16):
        size = pages(rng, 0.3)
        flagged.append(m.observe(40.0, 200, size if size == 26 else size // 10).size)
    assert flagged[-1] and not flagged[8]
    f = m.flags
    assert (f.size_count, f.size_window, f.size_way) == (16, 16, "smaller")
    assert f.size_share == pytest.approx(0.7, abs=0.03) and f.size_ratio == pytest.approx(0.1, rel=0.15)
    assert f.size_threshold > 100  # (the quartiles span both groups)


def test_a_larger_body_is_a_size_drift_too() -> None:
    rng = random.Random(7)
    m = EndpointMonitor()
    for _ in range(500):
        m.observe(40.0, 200, pages(rng, 0.3))
    for _ in range(16):
        m.observe(40.0, 200, 50_000)
    assert m.flags.size and m.flags.size_way == "larger" and m.flags.size_share == pytest.approx(1.0, abs=0.01)


def test_the_rank_tail_is_the_rule_of_succession() -> None:
    """All n of the next answers among the lowest `below` of `total` seen: the same chance as the
    drift watch's evidence (`evidence.chance`); one answer: (below + 1) / (total + 2)."""
    for n, below, total in ((1, 0, 8), (2, 0, 8), (9, 3, 30), (16, 300, 1000)):
        assert beta_binomial_tail(n, n, below, total) == pytest.approx(chance(total, below, n))
    assert beta_binomial_tail(1, 1, 4, 10) == pytest.approx(5 / 12)
    assert beta_binomial_tail(9, 0, 10, 100) == pytest.approx(1.0)
    # at least 5 of 9: the beta-binomial's probabilities summed over 5..9, each from its definition
    a, b = 11, 91
    pmf = [math.comb(9, j) * math.exp(math.lgamma(j + a) + math.lgamma(9 - j + b) - math.lgamma(9 + a + b)
                                      + math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)) for j in range(10)]
    assert sum(pmf) == pytest.approx(1.0)
    assert beta_binomial_tail(9, 5, 10, 100) == pytest.approx(sum(pmf[5:]), rel=1e-9)


def test_a_small_baseline_needs_a_longer_run() -> None:
    """30 values seen: 5 of 16 below all of them happens about once in 350 windows for an unchanged
    endpoint, too often to call by rank alone; 16 of 16, about once in 10^12."""
    hist = LatencyHistogram()
    for i in range(30):
        hist.add(1000 + i)
    test = RankTest(hist, 1e-8)
    assert beta_binomial_tail(16, 5, 0, 30) > 1e-4 and test.low[0] == 0.0
    assert beta_binomial_tail(16, 16, 0, 30) < 1e-8 and 900 < test.low[-1] <= 1000


def test_a_run_round_trips() -> None:
    f = Flags(size=True, size_ratio=0.1, size_threshold=150.0, size_count=16, size_window=16, size_way="smaller",
              size_share=0.7, latency_count=5, latency_window=16, latency_share=1.0)
    assert Flags.from_dict(f.to_dict()) == f


def cached(rng: random.Random, miss_share: float) -> float:
    """A latency: a cache hit (about 5 ms) or a miss (about 50 ms)."""
    return (50.0 if rng.random() < miss_share else 5.0) * rng.lognormvariate(0, 0.2)


@pytest.mark.parametrize("miss_share", [0.1, 0.2, 0.3, 0.45])
def test_cache_misses_beside_hits_are_no_latency_spike(miss_share: float) -> None:
    """Latencies in two groups: judged on quartiles, a fifth of misses fell outside them and five
    misses of nine in a window (one window in fifty) looked like a spike."""
    rng = random.Random(8)
    m = EndpointMonitor()
    for i in range(5000):
        m.observe(cached(rng, miss_share), 200, 1000)
        assert not m.flags.latency, i


def test_a_slowdown_behind_cache_misses_is_a_spike() -> None:
    """30% of misses: the quartiles spanned both groups, and a threshold of some tens of times hid a
    backend three times slower."""
    rng = random.Random(9)
    m = EndpointMonitor()
    for _ in range(3000):
        m.observe(cached(rng, 0.3), 200, 1000)
    for _ in range(16):
        m.observe(3 * cached(rng, 0.3), 200, 1000)
    f = m.flags
    assert f.latency and f.latency_window == 16 and f.latency_threshold > 10  # (not by the median)


def test_a_small_steady_baseline_flags_a_spike_by_its_median() -> None:
    """40 latencies seen: ranks alone would need all 16 slow answers in a row; the median against the
    spread flags five, as they are also past the usual tail."""
    m = EndpointMonitor()
    for i in range(56):
        m.observe(10.0 + i % 3, 200, 1000)
    assert m.latency.count == 40
    flagged = [m.observe(30.0, 200, 1000).latency for _ in range(5)]
    assert flagged == [False] * 4 + [True] and m.flags.latency_window == 0


def test_latencies_getting_faster_are_no_spike() -> None:
    m = baseline()
    for _ in range(40):
        m.observe(5.0, 200, 1000)  # ten times faster: a cache put in front, say
    assert not m.flags.latency


def test_stored_recent_sizes_of_before_are_read_as_they_were() -> None:
    """Recent sizes are kept + 1 (as the baseline has them) since 2026-12-07: a window stored before
    ("rs", as they came) is read + 1, or its empty answers would look smaller than any usual one."""
    rng = random.Random(4)
    m = EndpointMonitor()
    for _ in range(400):
        m.observe(40.0, 200, 0 if rng.random() < 0.4 else int(rng.gauss(2000, 200)))
    old = m.to_dict()
    old["rs"] = [v - 1 for v in old.pop("rs1")]
    again = EndpointMonitor.from_dict(old)
    assert list(again.recent_size) == list(m.recent_size)
    for _ in range(16):
        assert not again.observe(40.0, 200, 0 if rng.random() < 0.4 else int(rng.gauss(2000, 200))).size


def test_flags_of_a_rule_of_before_come_back_without_their_verdict_nor_run() -> None:
    stored = {"size": True, "size_ratio": 0.1, "size_low": 0.33, "size_high": 3.0, "size_count": 9, "size_window": 9,
              "size_way": "smaller", "size_share": 1.0, "error_factor": 1.0}
    assert Flags.from_dict(stored) == Flags(error_factor=1.0)


def test_a_share_is_stored_rounded_down() -> None:
    assert Flags(size_share=0.99996, latency_share=0.99999).to_dict()["size_share"] == 0.9999


@pytest.mark.parametrize("total", [30, 31, 100, 999, 5000])
def test_thecritical_count_is_the_largest_that_is_unlikely_enough(total: int) -> None:
    for k in RUNS:
        c = critical_count(k, total, RANK_ALPHA)
        assert c == -1 or beta_binomial_tail(RECENT, k, c, total) <= RANK_ALPHA
        assert c == total or beta_binomial_tail(RECENT, k, c + 1, total) > RANK_ALPHA


def test_a_spike_is_told_by_its_run_while_there_is_one() -> None:
    """The median rule and the run both see a steady slowdown: the flags keep the run, so the
    reason does not change from one answer to the next as the median moves."""
    m = baseline(n=600)
    told = []
    for _ in range(40):
        f = m.observe(150.0, 200, 1000)
        told.append((f.latency, f.latency_window))
    assert told[4][0] and all(t == (True, 16) for t in told[15:])
