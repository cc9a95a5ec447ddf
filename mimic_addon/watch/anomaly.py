"""Anomaly detection per endpoint against its own learned baseline.

- latency spike: the median of the last few latencies against the baseline's median, on a log
  scale, in units of the baseline's robust spread (its interquartile range): a spike is
  `LATENCY_Z` spreads, at least `LATENCY_MIN_RATIO` times and `LATENCY_Z` x `JITTER_FLOOR_MS`
  slower. Quantiles, not mean and deviation: rare stalls (a loaded machine, a GC pause) would
  inflate a deviation until a real slowdown hid inside it. A log scale makes a jittery endpoint
  need a larger factor by itself;
- error-rate spike: the 5xx rate in a sliding window above 3x the baseline rate, with a minimum
  number of errors in the window;
- response-size drift (of successful answers with a body): the median of the last few sizes off
  the baseline median, either way, by `SIZE_FACTOR` at least and by `SIZE_Z` robust spreads (a
  list endpoint's pages vary in size by themselves: judged against a mean, they looked like drift
  all the time).

Short windows that drop or outvote a single outlier ignore one slow or odd response; the baselines learn only
from observations that were not anomalous, so an incident does not become the new normal.
Baselines are mergeable (`LogBaseline`: log-spaced histograms); the whole monitor serialises to a
dict (a few kB for a jittery endpoint). Pure: no clock.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from ..model.stats import HISTOGRAM_RATIO, LatencyHistogram

MIN_BASELINE = 30        # observations before any judgement
LATENCY_WINDOW = 9
LATENCY_Z = 2.5           # robust spreads of ln(latency); the window's median wanders ~0.4 of one
LATENCY_MIN_RATIO = 1.5   # a steady endpoint's few percent of slowdown is no spike
LATENCY_SEVERE_FACTOR = 2.0  # a spike twice the factor it starts at is severe
ERROR_WINDOW = 100
ERROR_MIN_COUNT = 6
ERROR_FACTOR = 3.0
ERROR_SEVERE_FACTOR = 5.0
ERROR_RATE_FLOOR = 0.01  # a baseline of 0 errors still needs a rate to multiply
SIZE_WINDOW = 9
SIZE_FACTOR = 3.0         # the median size this far off, either way, at the least
SIZE_Z = 2.5              # and as many robust spreads of ln(size): a list's pages vary by themselves
SIZE_MIN_BYTES = 64
SPREAD_FLOOR_LOG = math.log(HISTOGRAM_RATIO)  # keeps z finite on a flat baseline (no finer bucket)
JITTER_FLOOR_MS = 0.5     # a spike is also LATENCY_Z times this above the median: a fast endpoint's
                          # sub-millisecond jitter is no signal
_LOG_FLOOR = 0.01         # values below this count as this, so a logarithm exists
IQR_PER_SIGMA = 1.349     # a normal distribution's interquartile range, in deviations


def _significant(ratio: float) -> float:
    """Three significant digits: a body gone empty is 0.000488x its usual size, not 0.0x."""
    return float(f"{ratio:.3g}")


class LogBaseline:
    """A baseline of positive values in a log-spaced histogram (mergeable), summarised by its median
    and the robust deviation of their logarithm (interquartile range / 1.349), worked out again as it
    grows. Quartiles are read from the buckets: within about 4%."""

    __slots__ = ("hist", "_at", "_summary")

    def __init__(self, hist: LatencyHistogram | None = None) -> None:
        self.hist = hist if hist is not None else LatencyHistogram()  # (its buckets suit any positive value)
        self._at = 0  # the count `_summary` was worked out at
        self._summary = (1.0, SPREAD_FLOOR_LOG)

    @property
    def count(self) -> int:
        return self.hist.count

    def add(self, value: float) -> None:
        self.hist.add(value)

    def merge(self, other: LogBaseline) -> None:
        self.hist.merge(other.hist)
        self._at = 0  # (the summary is of the baseline before the merge)

    def summary(self) -> tuple[float, float]:
        """(median, robust deviation of ln(value))."""
        h = self.hist
        if h.count >= self._at + max(8, self._at // 32):
            q25, q50, q75 = (max(h.quantile(q), _LOG_FLOOR) for q in (0.25, 0.5, 0.75))
            self._summary = (q50, max((math.log(q75) - math.log(q25)) / IQR_PER_SIGMA, SPREAD_FLOOR_LOG))
            self._at = h.count
        return self._summary


@dataclass
class Flags:
    """What is anomalous right now, with the figures behind it."""
    latency: bool = False
    latency_z: float = 0.0          # robust spreads of ln(latency) above the baseline median
    latency_ratio: float = 1.0      # the recent median over the baseline median
    latency_threshold: float = 0.0  # the ratio a spike starts at (0: baseline still learning)
    errors: bool = False
    error_factor: float = 0.0     # window error rate / baseline rate
    size: bool = False
    size_ratio: float = 1.0         # the recent median size over the baseline median
    size_threshold: float = 0.0     # the factor, either way, a drift starts at (0: baseline still learning)

    def to_dict(self) -> dict[str, Any]:
        return {"latency": self.latency, "latency_z": round(self.latency_z, 2),
                "latency_ratio": _significant(self.latency_ratio),
                "latency_threshold": round(self.latency_threshold, 2), "errors": self.errors,
                "error_factor": round(self.error_factor, 2), "size": self.size,
                "size_ratio": _significant(self.size_ratio), "size_threshold": round(self.size_threshold, 2)}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Flags:
        """Flags as stored. Latency and size verdicts stored before the quartile rules (without
        `latency_ratio`, `size_threshold`) are dropped: those baselines restart."""
        fields = {k: v for k, v in (d or {}).items() if k in cls.__dataclass_fields__}
        if "latency_ratio" not in fields:
            for name in ("latency", "latency_z", "latency_threshold"):
                fields.pop(name, None)
        if "size_threshold" not in fields:
            for name in ("size", "size_ratio"):
                fields.pop(name, None)
        return cls(**fields)


class EndpointMonitor:
    """Baselines and recent windows of one endpoint."""

    def __init__(self) -> None:
        self.latency = LogBaseline()  # milliseconds
        self.size = LogBaseline()     # bytes + 1 (an empty body has a logarithm too)
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
        if 200 <= status < 300 and status != 204:  # (errors and empty answers are other kinds of size)
            if len(self.recent_size) == SIZE_WINDOW and not f.size:
                self.size.add(self.recent_size[0] + 1)
            self.recent_size.append(size)
        if latency_ms is not None and math.isfinite(latency_ms):
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
        if self.latency.count < MIN_BASELINE or len(self.recent_latency) < LATENCY_WINDOW:
            f.latency, f.latency_z, f.latency_ratio, f.latency_threshold = False, 0.0, 1.0, 0.0
            return
        median, spread = self.latency.summary()
        recent = max(sorted(self.recent_latency)[LATENCY_WINDOW // 2], _LOG_FLOOR)
        f.latency_ratio = recent / median
        f.latency_z = math.log(f.latency_ratio) / spread
        f.latency_threshold = max(LATENCY_MIN_RATIO, math.exp(LATENCY_Z * spread),
                                  1 + LATENCY_Z * JITTER_FLOOR_MS / median)
        f.latency = f.latency_ratio > f.latency_threshold

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
        if self.size.count < MIN_BASELINE or len(self.recent_size) < SIZE_WINDOW:
            f.size, f.size_ratio, f.size_threshold = False, 1.0, 0.0
            return
        usual, spread = self.size.summary()
        recent = sorted(self.recent_size)[SIZE_WINDOW // 2] + 1
        f.size_ratio = recent / usual
        f.size_threshold = max(SIZE_FACTOR, math.exp(SIZE_Z * spread))
        off = f.size_ratio > f.size_threshold or f.size_ratio < 1 / f.size_threshold
        f.size = off and abs(recent - usual) >= SIZE_MIN_BYTES

    # -- merging and storage --------------------------------------------------------------------
    def merge(self, other: EndpointMonitor) -> None:
        """Fold another endpoint's baselines in (template re-grouping); recent windows restart."""
        self.latency.merge(other.latency)
        self.size.merge(other.size)
        self.requests += other.requests
        self.errors += other.errors

    def to_dict(self) -> dict[str, Any]:
        return {"lath": self.latency.hist.to_dict(), "sizeh": self.size.hist.to_dict(), "req": self.requests,
                "err": self.errors, "rl": list(self.recent_latency), "re": list(self.recent_errors),
                "rs": list(self.recent_size), "flags": self.flags.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> EndpointMonitor:
        m = cls()
        if not d:
            return m
        # (baselines of means and deviations, stored before 2026-12 under other keys, restart)
        if d.get("lath"):
            m.latency = LogBaseline(LatencyHistogram.from_dict(d["lath"]))
        if d.get("sizeh"):
            m.size = LogBaseline(LatencyHistogram.from_dict(d["sizeh"]))
        m.requests, m.errors = d.get("req", 0), d.get("err", 0)
        m.recent_latency.extend(d.get("rl", []))
        m.recent_errors.extend(d.get("re", []))
        m.recent_size.extend(d.get("rs", []))
        m.flags = Flags.from_dict(d.get("flags"))
        return m
