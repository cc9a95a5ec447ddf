"""Anomaly detection per endpoint against its own learned baseline.

Latency spikes and response-size drift (of successful answers with a body) are found by either of
two rules:
- the median: the median of the last `MEDIAN_OF` values against the baseline's median, on a log
  scale, in units of the baseline's robust spread (its interquartile range): `LATENCY_Z` spreads,
  at least `LATENCY_MIN_RATIO` times and `LATENCY_Z` x `JITTER_FLOOR_MS` slower (sizes: `SIZE_Z`
  spreads, `SIZE_FACTOR` and `SIZE_MIN_BYTES` either way), with `RUNS[0]` of the last `RECENT`
  past the usual tail too (`TAIL`). Quantiles, not mean and deviation: rare stalls (a loaded
  machine, a GC pause) would inflate a deviation until a real slowdown hid inside it; a log scale
  makes a jittery endpoint need a larger factor by itself. The tail: where values come in two
  groups (cache hits and misses, empty pages beside full ones) and the quartiles miss the smaller
  one, five of its values in nine moved the median, one window in fifty;
- a run, by rank: `RUNS` of the last `RECENT` values beyond so much of the baseline that an
  unchanged endpoint would show that about once in 10^8 windows (`RankTest`: a beta-binomial
  tail, so a small baseline counts as the uncertain sample it is), and as far off the median as the
  first rule asks at the least. Ranks hold for any shape of baseline: where the quartiles span two
  groups, their threshold grows to a hundred times and more, and the median sees nothing.

An error-rate spike is the 5xx rate in a sliding window above 3x the baseline rate, with a minimum
number of errors in the window.

A single outlier never flags; the baselines learn only from observations that were not anomalous,
and only once they leave the recent window, so an incident does not become the new normal.
Baselines are mergeable (`LogBaseline`: log-spaced histograms); the whole monitor serialises to a
dict (a few kB for a jittery endpoint). Pure: no clock.
"""
from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Sequence

from ..model.stats import HISTOGRAM_RATIO, LatencyHistogram

MIN_BASELINE = 30        # observations before any judgement
MEDIAN_OF = 9            # the median rule: the median of the last 9 latencies or sizes
RECENT = 16              # the run rule: the last 16
RUNS = (5, 7, 10, 16)    # how many of them may be off together (few far off, or more a little off)
RANK_ALPHA = 1e-8        # how unlikely such a run is for the endpoint as it was, at the most
TAIL = 0.02              # the median rule: RUNS[0] of the last RECENT beyond this quantile as well
LATENCY_Z = 2.5           # robust spreads of ln(latency); the window's median wanders ~0.4 of one
LATENCY_MIN_RATIO = 1.5   # a steady endpoint's few percent of slowdown is no spike
LATENCY_SEVERE_FACTOR = 2.0  # a spike twice the factor it starts at is severe
ERROR_WINDOW = 100
ERROR_MIN_COUNT = 6
ERROR_FACTOR = 3.0
ERROR_SEVERE_FACTOR = 5.0
ERROR_RATE_FLOOR = 0.01  # a baseline of 0 errors still needs a rate to multiply
SIZE_FACTOR = 3.0         # the median size this far off, either way, at the least
SIZE_Z = 2.5              # and as many robust spreads of ln(size): a list's pages vary by themselves
SIZE_MIN_BYTES = 64
SPREAD_FLOOR_LOG = math.log(HISTOGRAM_RATIO)  # keeps z finite on a flat baseline (no finer bucket)
JITTER_FLOOR_MS = 0.5     # a spike is also LATENCY_Z times this above the median: a fast endpoint's
                          # sub-millisecond jitter is no signal
_LOG_FLOOR = 0.01         # values below this count as this, so a logarithm exists
IQR_PER_SIGMA = 1.349     # a normal distribution's interquartile range, in deviations


def _floor4(share: float) -> float:
    """Four decimals, rounded down: a share just under 1 is not "all"."""
    return math.floor(share * 10_000) / 10_000


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
    """Bounds that say, for each run of `RUNS`, when the recent window is off a baseline histogram:
    `RUNS[i]` of the last `RECENT` values below `low[i]` (or above `high[i]`) would be that unlikely
    (about `alpha`) if nothing had changed. Worked out from the largest count of baseline values a
    run may lie among (`critical_count`), then the buckets; judging a window is then two
    comparisons per run. A value counts with its whole bucket (about 9% wide), the cautious way."""

    __slots__ = ("low", "high", "lowest_bound", "highest_bound")

    def __init__(self, hist: LatencyHistogram, alpha: float) -> None:
        edges = sorted(hist.buckets)
        at_or_below, seen = [], 0
        for i in edges:
            seen += hist.buckets[i]
            at_or_below.append(seen)
        total = hist.count
        self.low: list[float] = []
        self.high: list[float] = []
        for k in RUNS:
            most = critical_count(k, total, alpha)
            if most < 0:  # (even below, or above, every value seen is not enough: a small baseline)
                self.low.append(0.0)
                self.high.append(math.inf)
                continue
            # below: values in buckets holding, with all below them, `most` values at most
            after = bisect.bisect_right(at_or_below, most)
            self.low.append(LatencyHistogram.lower_edge(edges[after]) if after < len(edges) else math.inf)
            # above: values in buckets holding, with all above them, `most` values at most
            before = bisect.bisect_left(at_or_below, total - most) if total > most else -1
            self.high.append(LatencyHistogram.lower_edge(edges[before] + 1) if before >= 0 else 0.0)
        # the loosest bounds: a window within them is off by no run (the quick check)
        self.lowest_bound, self.highest_bound = max(self.low), min(self.high)


def _binomial_share(k: int, alpha: float) -> float:
    """The share p at which `k` or more of `RECENT` fall with probability `alpha` (a binomial: the
    large-baseline limit of `beta_binomial_tail`), by bisection."""
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        tail = sum(math.comb(RECENT, j) * mid ** j * (1 - mid) ** (RECENT - j) for j in range(k, RECENT + 1))
        lo, hi = (mid, hi) if tail <= alpha else (lo, mid)
    return lo


_SHARES = {k: _binomial_share(k, RANK_ALPHA) for k in RUNS}


def critical_count(k: int, total: int, alpha: float) -> int:
    """The largest count c of `total` baseline values such that `k` of `RECENT` new ones among them
    is that unlikely: beta_binomial_tail(RECENT, k, c, total) <= alpha (-1: not even c = 0). Walked
    to from the binomial's share, less about k / 3 (the baseline's uncertainty): a step or two."""
    def ok(c: int) -> bool:
        return c < 0 or beta_binomial_tail(RECENT, k, c, total) <= alpha

    share = _SHARES[k] if alpha == RANK_ALPHA else _binomial_share(k, alpha)
    c = min(max(int(share * (total + 2)) - 1 - (k - 1) // 3, -1), total)
    if ok(c):
        while c < total and ok(c + 1):
            c += 1
    else:
        while not ok(c - 1):
            c -= 1
        c -= 1
    return c


def _off_run(ordered: Sequence[float], test: RankTest, low: float, high: float,
             slower_only: bool = False) -> tuple[int, str, float] | None:
    """The first of `RUNS` the recent values (`ordered`: sorted, `RECENT` of them) are off by: (how
    many, "smaller" or "larger", the value that many reach), or None. `low`, `high`: how far off the
    run must be in any case (`slower_only`: latencies, never off below)."""
    for k, bound_low, bound_high in zip(RUNS, test.low, test.high):
        if not slower_only and ordered[k - 1] < min(bound_low, low):  # the k-th smallest
            return k, "smaller", ordered[k - 1]
        if ordered[RECENT - k] > max(bound_high, high):  # the k-th largest
            return k, "larger", ordered[RECENT - k]
    return None


class LogBaseline:
    """A baseline of positive values in a log-spaced histogram (mergeable), summarised by its median
    and the robust deviation of their logarithm (interquartile range / 1.349) and its tails, worked
    out again as it grows by a thirty-second (at least 8 values), and by the bounds of a `RankTest`,
    worked out again as it grows by half (at least 16 values). Quartiles are read from the buckets:
    within about 4%."""

    __slots__ = ("hist", "_at", "_summary", "_tails_at", "_tails", "_ranks_at", "_ranks")

    def __init__(self, hist: LatencyHistogram | None = None) -> None:
        self.hist = hist if hist is not None else LatencyHistogram()  # (its buckets suit any positive value)
        self._at = 0  # the count `_summary` was worked out at
        self._summary = (1.0, SPREAD_FLOOR_LOG)
        self._tails_at = -1
        self._tails = (0.0, math.inf)
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

    def tails(self) -> tuple[float, float]:
        """Where the usual values end: below the `TAIL` quantile's bucket, above the 1 - `TAIL`
        quantile's (worked out again as `summary` is)."""
        h = self.hist
        if self._tails_at != self._at:
            low, high = (h.bucket_of(h.quantile(q)) for q in (TAIL, 1 - TAIL))
            self._tails, self._tails_at = (h.lower_edge(low), h.lower_edge(high + 1)), self._at
        return self._tails

    def run_off(self, recent: Sequence[float], low: float, high: float,
                slower_only: bool = False) -> tuple[int, str, float] | None:
        """The run of `RUNS` the last `RECENT` values are off this baseline by, at least below `low` or
        above `high`: (how many, "smaller" or "larger", the share of usual values they lie beyond), or
        None (`slower_only`: latencies, never off below). The bounds are worked out only when some
        value lies beyond `low` or `high`."""
        if len(recent) < RECENT:
            return None
        ordered = sorted(recent)
        if (slower_only or ordered[0] >= low) and ordered[-1] <= high:
            return None  # (none is that far off)
        test = self.rank_test()
        if (slower_only or ordered[0] >= test.lowest_bound) and ordered[-1] <= test.highest_bound:
            return None
        run = _off_run(ordered, test, low, high, slower_only)
        if run is None:
            return None
        count, way, value = run
        return count, way, self.hist.share_beyond(value, larger=way == "smaller")

    def rank_test(self) -> RankTest:
        """`RankTest` bounds, worked out again as the baseline grows by half."""
        if self._ranks is None or self.hist.count >= self._ranks_at + max(16, self._ranks_at // 2):
            self._ranks = RankTest(self.hist, RANK_ALPHA)
            self._ranks_at = self.hist.count
        return self._ranks


@dataclass
class Flags:
    """What is anomalous right now, with the figures behind it."""
    latency: bool = False
    latency_z: float = 0.0          # robust spreads of ln(latency) above the baseline median
    latency_ratio: float = 1.0      # the median of the last 9 latencies over the baseline median
    latency_threshold: float = 0.0  # that ratio is a spike above this (0: baseline still learning)
    latency_count: int = 0          # or a run: this many of the last `latency_window` answers were
    latency_window: int = 0         # (0: no run)
    latency_share: float = 0.0      # slower than this share of the usual ones
    errors: bool = False
    error_factor: float = 0.0     # window error rate / baseline rate
    size: bool = False
    size_ratio: float = 1.0         # the median of the last 9 sizes over the baseline median
    size_threshold: float = 0.0     # that ratio is off, either way, by this (0: baseline still learning)
    size_count: int = 0             # or a run: this many of the last `size_window` answers were
    size_window: int = 0            # (0: no run)
    size_way: str = ""              # "smaller" or "larger"
    size_share: float = 0.0         # than this share of the usual ones

    def to_dict(self) -> dict[str, Any]:
        return {"latency": self.latency, "latency_z": round(self.latency_z, 2),
                "latency_ratio": _significant(self.latency_ratio),
                "latency_threshold": round(self.latency_threshold, 2),
                "latency_count": self.latency_count, "latency_window": self.latency_window,
                "latency_share": _floor4(self.latency_share), "errors": self.errors,
                "error_factor": round(self.error_factor, 2), "size": self.size,
                "size_ratio": _significant(self.size_ratio), "size_threshold": round(self.size_threshold, 2),
                "size_count": self.size_count, "size_window": self.size_window, "size_way": self.size_way,
                "size_share": _floor4(self.size_share)}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Flags:
        """Flags as stored. Latency and size verdicts stored before the quartile rules (without
        `latency_ratio`, `size_threshold`) are dropped, with their runs: those baselines restart, or
        the verdict is made again on the next answer."""
        fields = {k: v for k, v in (d or {}).items() if k in cls.__dataclass_fields__ and v is not None}
        if "latency_ratio" not in fields:
            for name in ("latency", "latency_z", "latency_threshold", *_RUN_FIELDS["latency"]):
                fields.pop(name, None)
        if "size_threshold" not in fields:  # (also flags stored on 2026-12-07 with "size_low" instead)
            for name in ("size", "size_ratio", *_RUN_FIELDS["size"]):
                fields.pop(name, None)
        return cls(**fields)


_RUN_FIELDS = {"latency": ("latency_count", "latency_window", "latency_share"),
               "size": ("size_count", "size_window", "size_way", "size_share")}


class EndpointMonitor:
    """Baselines and recent windows of one endpoint."""

    def __init__(self) -> None:
        self.latency = LogBaseline()  # milliseconds
        self.size = LogBaseline()     # bytes + 1 (an empty body has a logarithm too)
        self.requests = 0        # baseline requests for the error rate
        self.errors = 0
        self.recent_latency: deque[float] = deque(maxlen=RECENT)
        self.recent_errors: deque[int] = deque(maxlen=ERROR_WINDOW)
        self.recent_size: deque[int] = deque(maxlen=RECENT)  # bytes + 1, as the baseline has them
        self.flags = Flags()

    # -- judging ---------------------------------------------------------------------------------
    def observe(self, latency_ms: float | None, status: int, size: int) -> Flags:
        """Add one response; returns the flags after it."""
        f = self.flags
        error = 1 if status >= 500 else 0
        # Baselines learn from what is normal only, and late: a value joins the baseline when it
        # leaves the recent window unflagged, so the start of a slow streak cannot hide itself.
        if 200 <= status < 300 and status != 204:  # (errors and empty answers are other kinds of size)
            if len(self.recent_size) == RECENT and not f.size:
                self.size.add(self.recent_size[0])
            self.recent_size.append(size + 1)
        if latency_ms is not None and math.isfinite(latency_ms):
            if len(self.recent_latency) == RECENT and not f.latency:
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
        recent = self.recent_latency
        f.latency, f.latency_count, f.latency_window, f.latency_share = False, 0, 0, 0.0
        if self.latency.count < MIN_BASELINE or len(recent) < MEDIAN_OF:
            f.latency_z, f.latency_ratio, f.latency_threshold = 0.0, 1.0, 0.0
            return
        median, spread = self.latency.summary()
        last = sorted(list(recent)[-MEDIAN_OF:])
        f.latency_ratio = max(last[MEDIAN_OF // 2], _LOG_FLOOR) / median
        f.latency_z = math.log(f.latency_ratio) / spread
        least = max(LATENCY_MIN_RATIO, 1 + LATENCY_Z * JITTER_FLOOR_MS / median)
        f.latency_threshold = max(least, math.exp(LATENCY_Z * spread))
        if f.latency_ratio > f.latency_threshold:
            # and past the usual tail, or the median fell among a group of slow answers that is usual
            # (cache misses) where the quartiles did not reach
            slow = self.latency.tails()[1]
            f.latency = sum(v > slow for v in recent) >= RUNS[0]
        # (a spike the median found is told by its run too, when there is one: the reason then does
        # not change from one answer to the next as the median moves)
        run = self.latency.run_off(recent, 0.0, median * least, slower_only=True)
        if run:
            f.latency, f.latency_count, f.latency_window, f.latency_share = True, run[0], RECENT, run[2]

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
        f.size, f.size_count, f.size_window, f.size_way, f.size_share = False, 0, 0, "", 0.0
        if self.size.count < MIN_BASELINE or len(recent) < MEDIAN_OF:
            f.size_ratio, f.size_threshold = 1.0, 0.0
            return
        usual, spread = self.size.summary()
        middle = sorted(list(recent)[-MEDIAN_OF:])[MEDIAN_OF // 2]
        f.size_ratio = middle / usual
        f.size_threshold = max(SIZE_FACTOR, math.exp(SIZE_Z * spread))
        if abs(middle - usual) >= SIZE_MIN_BYTES:
            small, large = self.size.tails()  # (and past the usual tail, as latencies)
            if f.size_ratio > f.size_threshold:
                f.size = sum(v > large for v in recent) >= RUNS[0]
            elif f.size_ratio < 1 / f.size_threshold:
                f.size = sum(v < small for v in recent) >= RUNS[0]
        low, high = min(usual / SIZE_FACTOR, usual - SIZE_MIN_BYTES), max(usual * SIZE_FACTOR, usual + SIZE_MIN_BYTES)
        run = self.size.run_off(recent, low, high)  # (as latencies: a drift is told by its run, if any)
        if run:
            f.size, f.size_count, f.size_window, f.size_way, f.size_share = True, run[0], RECENT, run[1], run[2]

    # -- merging and storage --------------------------------------------------------------------
    def merge(self, other: EndpointMonitor) -> None:
        """Fold another endpoint's baselines in (template re-grouping); the recent windows are this
        endpoint's."""
        self.latency.merge(other.latency)
        self.size.merge(other.size)
        self.requests += other.requests
        self.errors += other.errors

    def to_dict(self) -> dict[str, Any]:
        return {"lath": self.latency.hist.to_dict(), "sizeh": self.size.hist.to_dict(), "req": self.requests,
                "err": self.errors, "rl": list(self.recent_latency), "re": list(self.recent_errors),
                "rs1": list(self.recent_size), "flags": self.flags.to_dict()}

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
        # sizes + 1 ("rs1"); stored before 2026-12-07 as they came ("rs")
        m.recent_size.extend(d["rs1"] if "rs1" in d else [v + 1 for v in d.get("rs", [])])
        m.flags = Flags.from_dict(d.get("flags"))
        return m
