"""Health scores from anomaly flags and unresolved breaking drift."""
from __future__ import annotations

import pytest

from mimic_addon.watch.anomaly import Flags
from mimic_addon.watch.health import (HealthHistory, endpoint_health, global_score, latency_note, size_note,
                                      status_of)


@pytest.mark.parametrize("flags, breaking, score, status", [
    (Flags(), False, 100, "HEALTHY"),
    (Flags(latency=True, latency_ratio=2.0, latency_threshold=1.5), False, 85, "DEGRADED"),  # (anything active)
    (Flags(latency=True, latency_ratio=3.0, latency_threshold=1.5), False, 77.5, "DEGRADED"),
    (Flags(latency=True, latency_ratio=10.0, latency_threshold=7.4), False, 85, "DEGRADED"),
    (Flags(errors=True, error_factor=4.0), False, 75, "DEGRADED"),
    (Flags(errors=True, error_factor=6.0), False, 62.5, "DEGRADED"),
    (Flags(size=True, size_ratio=0.1, size_threshold=3.0), False, 90, "DEGRADED"),
    (Flags(size=True, size_ratio=0.1, size_threshold=150.0, size_count=16, size_window=16, size_way="smaller",
           size_share=0.7), False, 90, "DEGRADED"),
    (Flags(), True, 80, "DEGRADED"),
    (Flags(latency=True, latency_ratio=5, latency_threshold=2, errors=True, error_factor=9, size=True), True, 10,
     "CRITICAL"),
])
def test_penalties(flags: Flags, breaking: bool, score: float, status: str) -> None:
    h = endpoint_health(flags, breaking)
    assert (h.score, h.status) == (score, status)
    assert len(h.reasons) == sum([flags.latency, flags.errors, flags.size, breaking])


@pytest.mark.parametrize("share, text", [(1.0, "all"), (0.9999, "99.9%"), (0.7, "70%"), (0.0001, "0.1%")])
def test_a_size_drift_by_a_run_says_how_many_answers_and_beyond_how_many(share: float, text: str) -> None:
    flags = Flags(size=True, size_ratio=0.111, size_threshold=150.0, size_count=16, size_window=16,
                  size_way="smaller", size_share=share)
    assert endpoint_health(flags, False).reasons == [
        f"response size: 16 of the last 16 answers smaller than {text} of the usual ones; recent median 0.111x the usual"]


def test_the_checks_in_words() -> None:
    assert latency_note(Flags()) == size_note(Flags()) == "baseline still learning"
    assert latency_note(Flags(latency_ratio=1.02, latency_threshold=2.5)) == \
        "recent median 1.02x the usual; threshold 2.5x (or 5 or more of the last 16 far slower than the usual ones)"
    assert latency_note(Flags(latency=True, latency_ratio=3.1, latency_threshold=145.0, latency_count=10,
                              latency_window=16, latency_share=0.7)) == \
        "10 of the last 16 answers slower than 70% of the usual ones; recent median 3.1x the usual"
    assert size_note(Flags(size_ratio=0.9, size_threshold=3.0)) == ("recent median 0.9x the usual; threshold 3.0x "
                                                                    "either way (or 5 or more of the last 16 far smaller "
                                                                    "or larger than the usual ones)")
    # the median past its threshold, but not past the usual tail: a group of slow answers that is usual
    assert latency_note(Flags(latency_ratio=7.05, latency_threshold=1.9)) == (
        "recent median 7.05x the usual; threshold 1.9x, but fewer than 5 of the last 16 are in the slowest 2% seen: "
        "no spike")
    assert endpoint_health(Flags(latency=True, latency_ratio=9.18, latency_threshold=1.5), False).reasons == [
        "latency spike (recent median 9.18x the usual; threshold 1.5x)"]


def test_bands_and_global() -> None:
    assert [status_of(s) for s in (80, 79.9, 50, 49.9)] == ["HEALTHY", "DEGRADED", "DEGRADED", "CRITICAL"]
    assert global_score([]) == 100
    assert global_score([100, 100, 40]) == pytest.approx(0.7 * 80 + 0.3 * 40)


def test_history_is_bounded() -> None:
    h = HealthHistory(maxlen=3)
    for t in range(5):
        h.add(float(t), 90.0, {"GET /a": 90.0})
    assert [s["ts"] for s in h.snapshots] == [2.0, 3.0, 4.0]
