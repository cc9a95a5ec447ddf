"""Mergeable behaviour statistics: latency histograms and per-endpoint counters."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

HISTOGRAM_BASE_MS = 0.01
HISTOGRAM_RATIO = 2 ** (1 / 8)
_LOG_RATIO = math.log(HISTOGRAM_RATIO)


class LatencyHistogram:
    """Sparse log-spaced histogram: bucket i holds [base*r**i, base*r**(i+1)) milliseconds.

    Quantiles are reported at a bucket's geometric midpoint (clamped to the exact min/max),
    so they are within half a bucket width, about 4.4 %, of a true sample value.
    """

    __slots__ = ("buckets", "count", "total", "min", "max")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.total = 0.0
        self.min: float | None = None
        self.max: float | None = None

    def add(self, ms: float) -> None:
        """Record one latency; negative values count as 0, NaN and infinities are ignored."""
        if not math.isfinite(ms):
            return
        ms = max(ms, 0.0)
        i = self.bucket_of(ms)
        self.buckets[i] = self.buckets.get(i, 0) + 1
        self.count += 1
        self.total += ms
        self.min = ms if self.min is None else min(self.min, ms)
        self.max = ms if self.max is None else max(self.max, ms)

    @staticmethod
    def bucket_of(value: float) -> int:
        return int(math.log(value / HISTOGRAM_BASE_MS) / _LOG_RATIO) if value > HISTOGRAM_BASE_MS else 0

    @staticmethod
    def lower_edge(bucket: int) -> float:
        """Where bucket `bucket` starts (values below it are in lower buckets)."""
        return HISTOGRAM_BASE_MS * HISTOGRAM_RATIO ** bucket

    def share_beyond(self, value: float, *, larger: bool) -> float:
        """The share of values in buckets wholly above `value`'s bucket (`larger`), or wholly below."""
        at = self.bucket_of(value)
        beyond = sum(c for i, c in self.buckets.items() if (i > at if larger else i < at))
        return beyond / self.count if self.count else 0.0

    def merge(self, other: LatencyHistogram) -> None:
        for i, c in other.buckets.items():
            self.buckets[i] = self.buckets.get(i, 0) + c
        self.count += other.count
        self.total += other.total
        if other.min is not None:
            self.min = other.min if self.min is None else min(self.min, other.min)
            # (other.max is not None either: min and max are set together)
            self.max = other.max if self.max is None else max(self.max, other.max)  # type: ignore[type-var]

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def quantile(self, q: float) -> float:
        """The q-quantile (0 <= q <= 1) by nearest rank; ValueError when empty."""
        if not self.count:
            raise ValueError("quantile of an empty histogram")
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile {q} outside [0, 1]")
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for i in sorted(self.buckets):
            seen += self.buckets[i]
            if seen >= rank:
                break
        mid = HISTOGRAM_BASE_MS * HISTOGRAM_RATIO ** (i + 0.5)
        return min(max(mid, self.min), self.max)

    def to_dict(self) -> dict[str, Any]:
        return {
            "b": [[i, self.buckets[i]] for i in sorted(self.buckets)],
            "n": self.count,
            "s": self.total,
            "lo": self.min,
            "hi": self.max,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LatencyHistogram:
        h = cls()
        h.buckets = {int(i): int(c) for i, c in d["b"]}
        h.count, h.total, h.min, h.max = d["n"], d["s"], d["lo"], d["hi"]
        return h

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LatencyHistogram) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value: unhashable


class SizeStats:
    """Sum, min and max of byte sizes (so the mean)."""

    __slots__ = ("count", "total", "min", "max")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0
        self.min: int | None = None
        self.max: int | None = None

    def add(self, size: int) -> None:
        self.count += 1
        self.total += size
        self.min = size if self.min is None else min(self.min, size)
        self.max = size if self.max is None else max(self.max, size)

    def merge(self, other: SizeStats) -> None:
        self.count += other.count
        self.total += other.total
        if other.min is not None:
            self.min = other.min if self.min is None else min(self.min, other.min)
            # (other.max is not None either: min and max are set together)
            self.max = other.max if self.max is None else max(self.max, other.max)  # type: ignore[type-var]

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def summary(self) -> dict[str, Any]:
        mean = self.mean
        return {"mean": None if mean is None else round(mean, 1), "min": self.min, "max": self.max}

    def to_dict(self) -> list[int | None]:
        return [self.count, self.total, self.min, self.max]

    @classmethod
    def from_dict(cls, d: list[int | None]) -> SizeStats:
        s = cls()
        s.count, s.total, s.min, s.max = d  # type: ignore[assignment]  # count and total are never None
        return s


class EndpointStats:
    """Traffic statistics for one endpoint; timestamps are epoch seconds supplied by the caller."""

    def __init__(self, alpha: float = 0.1) -> None:
        self.alpha = alpha
        self.count = 0
        self.statuses: Counter[int] = Counter()
        self.latency = LatencyHistogram()
        self.latency_ema: float | None = None
        self.response_size = SizeStats()
        self.request_size = SizeStats()
        self.first_seen: float | None = None
        self.last_seen: float | None = None

    def add(
        self,
        status: int,
        latency_ms: float | None,
        response_size: int,
        request_size: int,
        ts: float,
    ) -> None:
        self.count += 1
        self.statuses[status] += 1
        if latency_ms is not None and math.isfinite(latency_ms):
            self.latency.add(latency_ms)
            ema = self.latency_ema
            self.latency_ema = latency_ms if ema is None else ema + self.alpha * (latency_ms - ema)
        self.response_size.add(response_size)
        self.request_size.add(request_size)
        self.first_seen = ts if self.first_seen is None else min(self.first_seen, ts)
        self.last_seen = ts if self.last_seen is None else max(self.last_seen, ts)

    def merge(self, other: EndpointStats) -> None:
        """Fold `other` in; the EMAs combine weighted by their latency sample counts."""
        if other.latency_ema is not None:
            if self.latency_ema is None:
                self.latency_ema = other.latency_ema
            else:
                mine, theirs = self.latency.count, other.latency.count
                self.latency_ema = (self.latency_ema * mine + other.latency_ema * theirs) / (mine + theirs)
        self.count += other.count
        self.statuses.update(other.statuses)
        self.latency.merge(other.latency)
        self.response_size.merge(other.response_size)
        self.request_size.merge(other.request_size)
        if other.first_seen is not None:
            self.first_seen = other.first_seen if self.first_seen is None else min(self.first_seen, other.first_seen)
        if other.last_seen is not None:
            self.last_seen = other.last_seen if self.last_seen is None else max(self.last_seen, other.last_seen)

    def _share(self, lowest_status: int) -> float:
        if not self.count:
            return 0.0
        return sum(c for s, c in self.statuses.items() if s >= lowest_status) / self.count

    @property
    def error_rate(self) -> float:
        """Share of responses with status >= 400."""
        return self._share(400)

    @property
    def server_error_rate(self) -> float:
        """Share of responses with status >= 500."""
        return self._share(500)

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.alpha,
            "n": self.count,
            "st": {str(s): self.statuses[s] for s in sorted(self.statuses)},
            "lat": self.latency.to_dict(),
            "ema": self.latency_ema,
            "rs": self.response_size.to_dict(),
            "qs": self.request_size.to_dict(),
            "fs": self.first_seen,
            "ls": self.last_seen,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EndpointStats:
        e = cls(alpha=d["a"])
        e.count = d["n"]
        e.statuses = Counter({int(s): c for s, c in d["st"].items()})
        e.latency = LatencyHistogram.from_dict(d["lat"])
        e.latency_ema = d["ema"]
        e.response_size = SizeStats.from_dict(d["rs"])
        e.request_size = SizeStats.from_dict(d["qs"])
        e.first_seen, e.last_seen = d["fs"], d["ls"]
        return e

    def summary(self) -> dict[str, Any]:
        """Human/JSON-friendly view; latency figures are None until a latency was recorded."""
        lat = self.latency
        latency: dict[str, float | None] = dict.fromkeys(("p50", "p95", "p99", "ema", "mean"))
        if lat.count:
            latency.update(
                p50=round(lat.quantile(0.50), 3),
                p95=round(lat.quantile(0.95), 3),
                p99=round(lat.quantile(0.99), 3),
                ema=round(self.latency_ema, 3),  # type: ignore[arg-type]  # set with the first latency
                mean=round(lat.mean, 3),  # type: ignore[arg-type]  # not None: lat.count > 0
            )
        return {
            "count": self.count,
            "statuses": {str(s): self.statuses[s] for s in sorted(self.statuses)},
            "error_rate": round(self.error_rate, 4),
            "server_error_rate": round(self.server_error_rate, 4),
            "latency": latency,
            "size": self.response_size.summary(),
            "request_size": self.request_size.summary(),
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
        }
