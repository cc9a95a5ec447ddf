from __future__ import annotations

import json
import math
import random

import pytest

from mimic_addon.model.stats import EndpointStats, LatencyHistogram


def histogram(samples: list[float]) -> LatencyHistogram:
    h = LatencyHistogram()
    for s in samples:
        h.add(s)
    return h


def exact_quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


_rng = random.Random(1)
DISTRIBUTIONS = {
    "lognormal": [_rng.lognormvariate(3, 1) for _ in range(20_000)],
    "uniform": [_rng.uniform(0.5, 2000) for _ in range(20_000)],
    "bimodal": [_rng.choice((5.0, 500.0)) * _rng.uniform(0.9, 1.1) for _ in range(5_000)],
    "sub-millisecond": [_rng.uniform(0.02, 0.9) for _ in range(5_000)],
}


@pytest.mark.parametrize("name", DISTRIBUTIONS)
@pytest.mark.parametrize("q", [0.5, 0.9, 0.95, 0.99])
def test_quantiles_within_ten_percent(name, q):
    samples = DISTRIBUTIONS[name]
    estimate = histogram(samples).quantile(q)
    exact = exact_quantile(samples, q)
    assert abs(estimate - exact) / exact < 0.10


def test_quantile_of_a_single_value_is_that_value():
    assert histogram([123.0]).quantile(0.5) == 123.0
    assert histogram([0.0, 0.0]).quantile(0.99) == 0.0


def test_quantile_extremes_are_clamped_to_min_and_max():
    h = histogram([10.0, 20.0, 30.0])
    assert h.quantile(0.0) == 10.0
    assert h.quantile(1.0) == 30.0


@pytest.mark.parametrize("q", [-0.1, 1.5])
def test_quantile_rejects_out_of_range(q):
    with pytest.raises(ValueError):
        histogram([1.0]).quantile(q)


def test_quantile_of_empty_histogram_raises():
    with pytest.raises(ValueError):
        LatencyHistogram().quantile(0.5)


def test_non_finite_latencies_are_ignored_and_negative_ones_clamped():
    h = histogram([float("nan"), float("inf"), -3.0, 5.0])
    assert h.count == 2
    assert h.min == 0.0 and h.max == 5.0


def test_merged_histograms_equal_histogram_of_all_samples():
    samples = DISTRIBUTIONS["lognormal"]
    parts = [samples[i::4] for i in range(4)]
    merged = LatencyHistogram()
    for part in parts:
        merged.merge(histogram(part))
    whole = histogram(samples)
    assert merged.buckets == whole.buckets
    assert (merged.count, merged.min, merged.max) == (whole.count, whole.min, whole.max)
    assert merged.total == pytest.approx(whole.total)
    for q in (0.5, 0.95, 0.99):
        assert merged.quantile(q) == whole.quantile(q)


def test_histogram_round_trip_and_sparseness():
    h = histogram(DISTRIBUTIONS["uniform"])
    restored = LatencyHistogram.from_dict(json.loads(json.dumps(h.to_dict())))
    assert restored == h
    assert restored.quantile(0.95) == h.quantile(0.95)
    assert len(h.buckets) < 120  # 0.5 ms .. 2 s at 8 buckets per doubling


def test_endpoint_stats_counts_rates_and_sizes():
    e = EndpointStats()
    for status in (200, 200, 201, 404, 429, 500, 503, 200, 200, 200):
        e.add(status, 10.0, response_size=100, request_size=10, ts=1000.0)
    e.add(200, None, response_size=300, request_size=0, ts=999.0)
    assert e.count == 11
    assert e.statuses[200] == 6
    assert e.error_rate == pytest.approx(4 / 11)
    assert e.server_error_rate == pytest.approx(2 / 11)
    assert e.latency.count == 10  # the None latency is not a sample
    summary = e.summary()
    assert summary["size"] == {"mean": round(1300 / 11, 1), "min": 100, "max": 300}
    assert summary["request_size"] == {"mean": round(100 / 11, 1), "min": 0, "max": 10}
    assert (summary["first_seen"], summary["last_seen"]) == (999.0, 1000.0)
    assert summary["statuses"] == {"200": 6, "201": 1, "404": 1, "429": 1, "500": 1, "503": 1}


def test_empty_endpoint_summary_is_json_friendly():
    summary = EndpointStats().summary()
    assert summary["error_rate"] == 0.0
    assert summary["latency"] == {"p50": None, "p95": None, "p99": None, "ema": None, "mean": None}
    json.dumps(summary, allow_nan=False)


def test_ema_follows_recent_latency():
    e = EndpointStats(alpha=0.5)
    for latency in (100.0, 100.0, 10.0, 10.0, 10.0):
        e.add(200, latency, 0, 0, 0.0)
    assert e.latency_ema == pytest.approx(100 * 0.5**3 + 10 * (1 - 0.5**3))
    assert e.summary()["latency"]["mean"] == pytest.approx(46.0)


def test_merge_combines_everything_and_weights_emas_by_count():
    a, b = EndpointStats(), EndpointStats()
    for _ in range(3):
        a.add(200, 10.0, 50, 5, ts=100.0)
    b.add(500, 50.0, 500, 1, ts=50.0)
    b.add(404, None, 10, 1, ts=200.0)
    a.merge(b)
    assert a.count == 5
    assert a.latency_ema == pytest.approx((10.0 * 3 + 50.0 * 1) / 4)
    assert a.server_error_rate == pytest.approx(1 / 5)
    assert a.error_rate == pytest.approx(2 / 5)
    assert (a.first_seen, a.last_seen) == (50.0, 200.0)
    assert (a.response_size.min, a.response_size.max, a.response_size.total) == (10, 500, 660)
    assert a.latency.count == 4


def test_merge_into_empty_takes_the_other_side():
    a, b = EndpointStats(), EndpointStats()
    b.add(200, 7.0, 1, 1, ts=5.0)
    a.merge(b)
    assert a.summary() == b.summary()


def test_merge_matches_adding_all_samples():
    rng = random.Random(7)
    events = [(rng.choice((200, 201, 404, 500)), rng.uniform(1, 900), rng.randint(0, 10_000), rng.randint(0, 500),
               rng.uniform(0, 1e6)) for _ in range(2000)]
    whole, left, right = EndpointStats(), EndpointStats(), EndpointStats()
    for i, ev in enumerate(events):
        whole.add(*ev)
        (left if i % 3 else right).add(*ev)
    left.merge(right)
    got, want = left.summary(), whole.summary()
    for key in ("count", "statuses", "error_rate", "server_error_rate", "size", "request_size", "first_seen", "last_seen"):
        assert got[key] == want[key]
    for key in ("p50", "p95", "p99"):
        assert got["latency"][key] == want["latency"][key]
    assert got["latency"]["mean"] == pytest.approx(want["latency"]["mean"])


def test_endpoint_stats_round_trip():
    e = EndpointStats(alpha=0.2)
    e.add(200, 12.5, 10, 2, 1.0)
    e.add(502, 800.0, 0, 2, 3.0)
    restored = EndpointStats.from_dict(json.loads(json.dumps(e.to_dict())))
    assert restored.to_dict() == e.to_dict()
    assert restored.summary() == e.summary()
    assert restored.alpha == 0.2
    assert restored.statuses[502] == 1
