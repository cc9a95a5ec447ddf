"""Anomaly detection per endpoint against its own learned baseline.

- latency spike: the mean of the last few latencies (the slowest dropped), as a z-score against the baseline mean and
  deviation, above a threshold that adapts to the endpoint's volatility (coefficient of
  variation): 2 sigma for stable endpoints, up to 6 sigma for jittery ones;
- error-rate spike: the 5xx rate in a sliding window above 3x the baseline rate, with a minimum
  number of errors in the window;
- response-size drift: the median recent size more than 3x off the baseline mean.

Short windows that drop or outvote a single outlier ignore one slow or odd response; the baselines learn only
from observations that were not anomalous, so an incident does not become the new normal.
Baselines are `Moments` (mergeable); the whole monitor serialises to a small dict. Pure: no clock.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from statistics import median
from typing import Any

from ..model.stats import Moments

MIN_BASELINE = 30        # observations before any judgement
LATENCY_WINDOW = 9
ERROR_WINDOW = 100
ERROR_MIN_COUNT = 6
ERROR_FACTOR = 3.0
ERROR_SEVERE_FACTOR = 5.0
ERROR_RATE_FLOOR = 0.01  # a baseline of 0 errors still needs a rate to multiply
SIZE_WINDOW = 9
SIZE_FACTOR = 3.0
SIZE_MIN_BYTES = 64
SIGMA_FLOOR_RATIO = 0.05  # a perfectly flat baseline still has some deviation
SIGMA_FLOOR_MS = 0.5


def latency_threshold(cv: float) -> float:
    """z threshold for a coefficient of variation: 2 at cv <= 0.1, 6 at cv >= 1.0, linear between."""
    return 2.0 + 4.0 * min(max((cv - 0.1) / 0.9, 0.0), 1.0)


@dataclass
class Flags:
    """What is anomalous right now, with the figures behind it."""
    latency: bool = False
    latency_z: float = 0.0
    latency_threshold: float = 0.0
    errors: bool = False
    error_factor: float = 0.0     # window error rate / baseline rate
    size: bool = False
    size_ratio: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"latency": self.latency, "latency_z": round(self.latency_z, 2),
                "latency_threshold": round(self.latency_threshold, 2), "errors": self.errors,
                "error_factor": round(self.error_factor, 2), "size": self.size,
                "size_ratio": round(self.size_ratio, 2)}


class EndpointMonitor:
    """Baselines and recent windows of one endpoint."""

    def __init__(self) -> None:
        self.latency = Moments()
        self.size = Moments()
        self.requests = 0        # baseline requests for the error rate
        self.errors = 0
        self.recent_latency: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self.recent_errors: deque[int] = deque(maxlen=ERROR_WINDOW)
        self.recent_size: deque[int] = deque(maxlen=SIZE_WINDOW)
        self.flags = Flags()

    # -- judging ---------------------------------------------------------------------------------
    def observe(self, latency_ms: float | None, status: int, size: int) -> Flags:
        """Add one response; returns the flags after it."""
        f = self.flags
        error = 1 if status >= 500 else 0
        # Baselines learn from what is normal only, and late: a value joins the baseline when it
        # leaves the recent window unflagged, so the start of a slow streak cannot hide itself.
        if len(self.recent_size) == SIZE_WINDOW and not f.size:
            self.size.add(self.recent_size[0])
        self.recent_size.append(size)
        if latency_ms is not None:
            if len(self.recent_latency) == LATENCY_WINDOW and not f.latency:
                self.latency.add(self.recent_latency[0])
            self.recent_latency.append(latency_ms)
        self.recent_errors.append(error)
        self._judge_latency(f)
        self._judge_errors(f)
        self._judge_size(f)
        if not f.errors or self.requests < MIN_BASELINE:
            self.requests += 1
            self.errors += error
        return f

    def _judge_latency(self, f: Flags) -> None:
        base = self.latency
        if base.n < MIN_BASELINE or len(self.recent_latency) < LATENCY_WINDOW:
            f.latency, f.latency_z = False, 0.0
            return
        mean = base.mean
        sigma = max(base.std, mean * SIGMA_FLOOR_RATIO, SIGMA_FLOOR_MS)
        cv = base.std / mean if mean > 0 else 0.0
        f.latency_threshold = latency_threshold(cv)
        recent = sorted(self.recent_latency)[:-1]  # the slowest one is dropped: one outlier is no spike
        f.latency_z = (sum(recent) / len(recent) - mean) / sigma
        f.latency = f.latency_z > f.latency_threshold

    def _judge_errors(self, f: Flags) -> None:
        if self.requests < MIN_BASELINE:
            f.errors, f.error_factor = False, 0.0
            return
        n = len(self.recent_errors)
        count = sum(self.recent_errors)
        base_rate = max(self.errors / self.requests, ERROR_RATE_FLOOR)
        f.error_factor = (count / n) / base_rate if n else 0.0
        f.errors = count >= ERROR_MIN_COUNT and f.error_factor > ERROR_FACTOR

    def _judge_size(self, f: Flags) -> None:
        base = self.size
        if base.n < MIN_BASELINE or len(self.recent_size) < SIZE_WINDOW:
            f.size, f.size_ratio = False, 1.0
            return
        mean, recent = base.mean, median(self.recent_size)
        f.size_ratio = (recent + 1) / (mean + 1)
        off = f.size_ratio > SIZE_FACTOR or f.size_ratio < 1 / SIZE_FACTOR
        f.size = off and abs(recent - mean) >= SIZE_MIN_BYTES

    # -- merging and storage --------------------------------------------------------------------
    def merge(self, other: EndpointMonitor) -> None:
        """Fold another endpoint's baselines in (template re-grouping); recent windows restart."""
        self.latency.merge(other.latency)
        self.size.merge(other.size)
        self.requests += other.requests
        self.errors += other.errors

    def to_dict(self) -> dict[str, Any]:
        return {"lat": self.latency.to_list(), "size": self.size.to_list(), "req": self.requests,
                "err": self.errors, "rl": list(self.recent_latency), "re": list(self.recent_errors),
                "rs": list(self.recent_size), "flags": self.flags.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> EndpointMonitor:
        m = cls()
        if not d:
            return m
        m.latency = Moments.from_list(d.get("lat"))
        m.size = Moments.from_list(d.get("size"))
        m.requests, m.errors = d.get("req", 0), d.get("err", 0)
        m.recent_latency.extend(d.get("rl", []))
        m.recent_errors.extend(d.get("re", []))
        m.recent_size.extend(d.get("rs", []))
        fl = d.get("flags") or {}
        m.flags = Flags(**{k: v for k, v in fl.items() if k in Flags.__dataclass_fields__})
        return m
