"""Anomaly detection per endpoint against its own learned baseline.

- latency spike: the median of the last few latencies against the baseline's median, on a log
  scale, in units of the baseline's robust spread (its interquartile range): a spike is
  `LATENCY_Z` spreads, at least `LATENCY_MIN_RATIO` times and `LATENCY_Z` x `JITTER_FLOOR_MS`
  slower. Quantiles, not mean and deviation: rare stalls (a loaded machine, a GC pause) would
  inflate a deviation until a real slowdown hid inside it. A log scale makes a jittery endpoint
  need a larger factor by itself;
- error-rate spike: the 5xx rate in a sliding window above 3x the baseline rate, with a minimum
  number of errors in the window;
- response-size drift (of successful answers with a body): the last answers as a whole off where
  the baseline puts its sizes, judged by rank, not by a spread: most of the last 9, or of the last
  16, or all of them, smaller (or larger) than so much of the baseline that an unchanged endpoint
  would give that less than once in 100 million windows (`RankTest`), and `SIZE_FACTOR` times and
  `SIZE_MIN_BYTES` off its median. Ranks hold for any shape of sizes: a list's pages that vary
  by themselves, or empty pages beside full ones (two groups far apart, where quartiles either
  span both and see nothing, or miss the smaller and cry wolf when five of nine answers are empty).

Short windows that drop or outvote a single outlier ignore one slow or odd response; the baselines learn only
from observations that were not anomalous, so an incident does not become the new normal.
Baselines are mergeable (`LogBaseline`: log-spaced histograms); the whole monitor serialises to a
dict (a few kB for a jittery endpoint). Pure: no clock.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from ..model.stats import HISTOGRAM_BASE_MS, HISTOGRAM_RATIO, LatencyHistogram

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
SIZE_WINDOW = 16
SIZE_RUNS = ((9, 5), (9, 9), (16, 8), (16, 12), (16, 16))  # (last n answers, how many of them) off
SIZE_ALPHA = 1e-8         # how unlikely such a run is for the endpoint as it was, at the most
SIZE_FACTOR = 3.0         # those answers this far off the median size, either way, at the least
SIZE_MIN_BYTES = 64
SPREAD_FLOOR_LOG = math.log(HISTOGRAM_RATIO)  # keeps z finite on a flat baseline (no finer bucket)
JITTER_FLOOR_MS = 0.5     # a spike is also LATENCY_Z times this above the median: a fast endpoint's
                          # sub-millisecond jitter is no signal
_LOG_FLOOR = 0.01         # values below this count as this, so a logarithm exists
IQR_PER_SIGMA = 1.349     # a normal distribution's interquartile range, in deviations


def _significant(ratio: float) -> float:
    """Three significant digits: a body gone empty is 0.000488x its usual size, not 0.0x."""
    return float(f"{ratio:.3g}")


def beta_binomial_tail(n: int, k: int, below: int, total: int) -> float:
    """How likely at least `k` of `n` new values fall among the lowest `below` of `total` values
    seen, all of them exchangeable (the rule of succession: the share is uncertain, more so for a
    small baseline). P(X >= k) for X ~ BetaBinomial(n, below + 1, total - below + 1)."""
    a, b = below + 1.0, total - below + 1.0
    log_p = (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + math.lgamma(k + a)
             + math.lgamma(n - k + b) - math.lgamma(n + a + b) + math.lgamma(a + b) - math.lgamma(a)
             - math.lgamma(b))
    p = math.exp(log_p)
    tail = p
    for j in range(k, n):  # P(j + 1) from P(j)
        p *= (n - j) / (j + 1) * (j + a) / (n - j - 1 + b)
        tail += p
    return min(tail, 1.0)


class RankTest:
    """Bounds that say, for each run of `SIZE_RUNS`, when a window of new values is off a baseline
    histogram: `k` of the last `n` below `low[(n, k)]` (or above `high`) would be that unlikely
    (`alpha`) if nothing had changed. Worked out by bisection over the buckets (a few hundred
    microseconds, so not for every answer: `LogBaseline.rank_test`); judging a window is then a
    comparison per run. A value counts with its whole bucket (about 9% wide), the cautious way."""

    __slots__ = ("low", "high", "lowest_bound", "highest_bound")

    def __init__(self, hist: LatencyHistogram, runs: tuple[tuple[int, int], ...], alpha: float) -> None:
        edges = sorted(hist.buckets)
        at_or_below, seen = [], 0
        for i in edges:
            seen += hist.buckets[i]
            at_or_below.append(seen)
        total = hist.count
        self.low: dict[tuple[int, int], float] = {}
        self.high: dict[tuple[int, int], float] = {}
        for n, k in runs:
            # below: the last bucket a value may sit in; "none" (-1) means below every bucket
            last = _last_true(len(edges), lambda j: beta_binomial_tail(n, k, at_or_below[j] if j >= 0 else 0,
                                                                        total) <= alpha)
            self.low[(n, k)] = 0.0 if last is None else _lower_edge(edges[last + 1]) if last + 1 < len(edges) \
                else math.inf
            # above: the first bucket whose values and all above it are few enough
            first = _first_true(len(edges), lambda j: beta_binomial_tail(
                n, k, total - (at_or_below[j - 1] if j > 0 else 0), total) <= alpha)
            self.high[(n, k)] = math.inf if first is None else _lower_edge(edges[first - 1] + 1) if first > 0 \
                else 0.0
        # the loosest bounds: a window within them is off by no run (the quick check)
        self.lowest_bound, self.highest_bound = max(self.low.values()), min(self.high.values())


def _lower_edge(bucket: int) -> float:
    return HISTOGRAM_BASE_MS * HISTOGRAM_RATIO ** bucket


def _last_true(size: int, ok: Callable[[int], bool]) -> int | None:
    """The largest j in -1..size-1 with ok(j), for ok true up to some point (None: not even -1)."""
    if not ok(-1):
        return None
    lo, hi = -1, size - 1  # ok(lo) holds
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _first_true(size: int, ok: Callable[[int], bool]) -> int | None:
    """The smallest j in 0..size with ok(j), for ok true from some point on (None: not even size)."""
    if not ok(size):
        return None
    lo, hi = 0, size  # ok(hi) holds
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


class LogBaseline:
    """A baseline of positive values in a log-spaced histogram (mergeable), summarised by its median
    and the robust deviation of their logarithm (interquartile range / 1.349), worked out again as it
    grows by a thirty-second (at least 8 values), or by the bounds of a `RankTest`, worked out again
    as it grows by a quarter (at least 16 values). Quartiles are read from the buckets: within about 4%."""

    __slots__ = ("hist", "_at", "_summary", "_ranks_at", "_ranks")

    def __init__(self, hist: LatencyHistogram | None = None) -> None:
        self.hist = hist if hist is not None else LatencyHistogram()  # (its buckets suit any positive value)
        self._at = 0  # the count `_summary` was worked out at
        self._summary = (1.0, SPREAD_FLOOR_LOG)
        self._ranks_at = 0
        self._ranks: RankTest | None = None

    @property
    def count(self) -> int:
        return self.hist.count

    def add(self, value: float) -> None:
        self.hist.add(value)

    def merge(self, other: LogBaseline) -> None:
        self.hist.merge(other.hist)
        self._at = self._ranks_at = 0  # (both are of the baseline before the merge)

    def _stale(self, at: int) -> bool:
        return self.hist.count >= at + max(8, at // 32)

    def summary(self) -> tuple[float, float]:
        """(median, robust deviation of ln(value))."""
        h = self.hist
        if self._stale(self._at):
            q25, q50, q75 = (max(h.quantile(q), _LOG_FLOOR) for q in (0.25, 0.5, 0.75))
            self._summary = (q50, max((math.log(q75) - math.log(q25)) / IQR_PER_SIGMA, SPREAD_FLOOR_LOG))
            self._at = h.count
        return self._summary

    def rank_test(self) -> RankTest:
        """`RankTest` bounds for `SIZE_RUNS`, worked out again as the baseline grows by a quarter."""
        if self._ranks is None or self.hist.count >= self._ranks_at + max(16, self._ranks_at // 4):
            self._ranks = RankTest(self.hist, SIZE_RUNS, SIZE_ALPHA)
            self._ranks_at = self.hist.count
        return self._ranks

    @property
    def last_rank_test(self) -> RankTest | None:
        """The bounds as last worked out (None: never), however old."""
        return self._ranks


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
    size_ratio: float = 1.0         # the median of the last 9 sizes over the baseline median
    size_low: float = 0.0           # that ratio is off below this (0: baseline still learning)
    size_high: float = 0.0          # or above this (inf: never)
    size_count: int = 0             # the drift: this many of the last `size_window` answers were
    size_window: int = 0
    size_way: str = ""              # "smaller" or "larger"
    size_share: float = 0.0         # than this share of the usual answers

    def to_dict(self) -> dict[str, Any]:
        return {"latency": self.latency, "latency_z": round(self.latency_z, 2),
                "latency_ratio": _significant(self.latency_ratio),
                "latency_threshold": round(self.latency_threshold, 2), "errors": self.errors,
                "error_factor": round(self.error_factor, 2), "size": self.size,
                "size_ratio": _significant(self.size_ratio), "size_low": _significant(self.size_low),
                "size_high": _significant(self.size_high) if math.isfinite(self.size_high) else None,
                "size_count": self.size_count, "size_window": self.size_window, "size_way": self.size_way,
                "size_share": round(self.size_share, 4)}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Flags:
        """Flags as stored. A latency verdict stored before the quartile rule (without
        `latency_ratio`) is dropped, as its baseline restarts; a size verdict stored before the rank
        rule (without `size_low`) is dropped too, and made again on the next answer."""
        fields = {k: v for k, v in (d or {}).items()
                  if k in cls.__dataclass_fields__ and (v is not None or k == "size_high")}
        if "latency_ratio" not in fields:
            for name in ("latency", "latency_z", "latency_threshold"):
                fields.pop(name, None)
        if "size_low" not in fields:
            for name in ("size", "size_ratio"):
                fields.pop(name, None)
        if "size_high" in fields and fields["size_high"] is None:
            fields["size_high"] = math.inf  # (stored as null: JSON has no infinity)
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
        recent = self.recent_size
        if self.size.count < MIN_BASELINE or len(recent) < SIZE_RUNS[0][0]:
            f.size, f.size_ratio, f.size_low, f.size_high = False, 1.0, 0.0, 0.0
            self._size_run(f, [], None)
            return
        usual = self.size.summary()[0]
        f.size_ratio = (sorted(recent)[len(recent) // 2] + 1) / usual
        low, high = min(usual / SIZE_FACTOR, usual - SIZE_MIN_BYTES), max(usual * SIZE_FACTOR, usual + SIZE_MIN_BYTES)
        # no run is off unless some answer is that far off the median: the bounds are worked out
        # only then (`RankTest` takes a few hundred microseconds)
        test = self.size.rank_test() if f.size or min(recent) + 1 < low or max(recent) + 1 > high else \
            self.size.last_rank_test
        if test is None:
            f.size_low, f.size_high = low / usual, high / usual
            return
        f.size_low = min(test.low[SIZE_RUNS[0]], low) / usual
        f.size_high = max(test.high[SIZE_RUNS[0]], high) / usual
        if f.size or min(recent) + 1 < min(test.lowest_bound, low) or max(recent) + 1 > max(test.highest_bound, high):
            self._size_run(f, list(recent), test, low, high)

    def _size_run(self, f: Flags, recent: list[int], test: RankTest | None, low: float = 0.0,
                  high: float = 0.0) -> None:
        """The first of `SIZE_RUNS` the recent sizes are off by, in `f` (or none); `low`, `high`:
        the sizes, +1, a run must be off by at the least, beyond the bounds of `test`."""
        f.size, f.size_count, f.size_window, f.size_way, f.size_share = False, 0, 0, "", 0.0
        if test is None:
            return
        last: dict[int, list[int]] = {}  # the last n sizes (+1, as the baseline has them), sorted
        for n, k in SIZE_RUNS:
            if n > len(recent):
                continue
            if n not in last:
                last[n] = sorted(s + 1 for s in recent[-n:])
            values = last[n]
            if values[k - 1] < min(test.low[(n, k)], low):  # the k-th smallest, so k of them, that small
                f.size_way, value = "smaller", values[k - 1]
            elif values[n - k] > max(test.high[(n, k)], high):  # the k-th largest
                f.size_way, value = "larger", values[n - k]
            else:
                continue
            f.size, f.size_count, f.size_window = True, k, n
            f.size_share = self.size.hist.share_beyond(value, larger=f.size_way == "smaller")
            return

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
