"""Health scores from anomaly flags and unresolved breaking drift."""
from __future__ import annotations

import pytest

from mimic_addon.watch.anomaly import Flags
from mimic_addon.watch.health import HealthHistory, endpoint_health, global_score, status_of


@pytest.mark.parametrize("flags, breaking, score, status", [
    (Flags(), False, 100, "HEALTHY"),
    (Flags(latency=True, latency_ratio=2.0, latency_threshold=1.5), False, 85, "HEALTHY"),
    (Flags(latency=True, latency_ratio=3.0, latency_threshold=1.5), False, 77.5, "DEGRADED"),
    (Flags(latency=True, latency_ratio=10.0, latency_threshold=7.4), False, 85, "HEALTHY"),
    (Flags(errors=True, error_factor=4.0), False, 75, "DEGRADED"),
    (Flags(errors=True, error_factor=6.0), False, 62.5, "DEGRADED"),
    (Flags(size=True, size_ratio=0.1, size_threshold=3.0), False, 90, "HEALTHY"),
    (Flags(), True, 80, "HEALTHY"),
    (Flags(latency=True, latency_ratio=5, latency_threshold=2, errors=True, error_factor=9, size=True), True, 10,
     "CRITICAL"),
])
def test_penalties(flags: Flags, breaking: bool, score: float, status: str) -> None:
    h = endpoint_health(flags, breaking)
    assert (h.score, h.status) == (score, status)
    assert len(h.reasons) == sum([flags.latency, flags.errors, flags.size, breaking])


def test_bands_and_global() -> None:
    assert [status_of(s) for s in (80, 79.9, 50, 49.9)] == ["HEALTHY", "DEGRADED", "DEGRADED", "CRITICAL"]
    assert global_score([]) == 100
    assert global_score([100, 100, 40]) == pytest.approx(0.7 * 80 + 0.3 * 40)


def test_history_is_bounded() -> None:
    h = HealthHistory(maxlen=3)
    for t in range(5):
        h.add(float(t), 90.0, {"GET /a": 90.0})
    assert [s["ts"] for s in h.snapshots] == [2.0, 3.0, 4.0]
