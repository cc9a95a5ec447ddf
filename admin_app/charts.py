"""Server-side chart geometry: a latency histogram and a status mix, drawn by a Jinja macro as SVG.

The pages send a strict Content-Security-Policy (no inline styles or scripts), so charts are plain
SVG shapes with presentation attributes, computed here; the template only places them (and
escapes every label). Pure: dicts in, dataclasses out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mimic_addon.model.stats import HISTOGRAM_BASE_MS, HISTOGRAM_RATIO

# Readable bin edges (ms) for the latency histogram; the learned buckets are much finer (8 per doubling).
EDGES = (0.0, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000,
         50_000, 100_000, math.inf)
MIN_BINS = 6
STATUS_COLORS = {1: "#667085", 2: "#12b76a", 3: "#2e90fa", 4: "#f79009", 5: "#d92d20"}


@dataclass(frozen=True)
class Bin:
    lo: float
    hi: float
    count: int


def ms_label(ms: float) -> str:
    if ms >= 1000:
        s = ms / 1000
        return f"{s:g}s"
    return f"{ms:g}"


def latency_bins(hist: dict[str, Any]) -> list[Bin]:
    """The learned log-bucket histogram (`LatencyHistogram.to_dict`) regrouped on `EDGES`, from the
    first to the last non-empty bin. Each fine bucket goes to the bin holding its geometric middle
    (the value quantiles report), so a count lands at most half a fine bucket (~4%) off."""
    counts = [0] * (len(EDGES) - 1)
    for i, c in hist.get("b") or []:
        mid = HISTOGRAM_BASE_MS * HISTOGRAM_RATIO ** (int(i) + 0.5)
        k = next(k for k in range(len(EDGES) - 1) if mid < EDGES[k + 1])
        counts[k] += int(c)
    used = [k for k, c in enumerate(counts) if c]
    if not used:
        return []
    # an empty bin on each side (and at least MIN_BINS) shows where the latencies sit on the scale
    lo, hi, last = max(used[0] - 1, 0), min(used[-1] + 1, len(counts) - 2), len(counts) - 1
    hi = max(hi, used[-1])
    while hi - lo + 1 < MIN_BINS and (lo > 0 or hi < last - 1):
        if hi < last - 1:
            hi += 1
        if hi - lo + 1 < MIN_BINS and lo > 0:
            lo -= 1
    return [Bin(EDGES[k], EDGES[k + 1], counts[k]) for k in range(lo, hi + 1)]


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    fill: str
    title: str


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Marker:
    x: float
    label: str


@dataclass
class Histogram:
    width: int
    height: int
    top: int
    base: int                  # y of the x axis
    bars: list[Bar] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    max_count: int = 0


def histogram(bins: list[Bin], quantiles: dict[str, float | None], width: int = 560, height: int = 200) -> Histogram:
    """Bars of equal width per bin, bin edges as ticks, and p50/p95/p99 as vertical markers placed
    inside their bin on a log scale."""
    top, left, right, bottom = 18, 8, 8, 34
    chart = Histogram(width, height, top, height - bottom)
    if not bins:
        return chart
    chart.max_count = max(b.count for b in bins)
    slot = (width - left - right) / len(bins)
    usable = chart.base - top
    for n, b in enumerate(bins):
        h = usable * b.count / chart.max_count if chart.max_count else 0
        x = left + n * slot
        upper = "+" if math.isinf(b.hi) else ms_label(b.hi)
        chart.bars.append(Bar(round(x + 1, 1), round(chart.base - h, 1), round(max(slot - 2, 1), 1), round(h, 1),
                              "#3056d3", f"{ms_label(b.lo)}-{upper} ms: {b.count}"))
        chart.ticks.append(Tick(round(x, 1), ms_label(b.lo)))
    if not math.isinf(bins[-1].hi):
        chart.ticks.append(Tick(round(left + len(bins) * slot, 1), ms_label(bins[-1].hi)))
    for name in ("p50", "p95", "p99"):
        value = quantiles.get(name)
        if value is None:
            continue
        for n, b in enumerate(bins):
            if b.lo <= value < b.hi or (n == len(bins) - 1 and value >= b.lo):
                frac = _fraction(value, b)
                chart.markers.append(Marker(round(left + (n + frac) * slot, 1), name))
                break
    return chart


def _fraction(value: float, b: Bin) -> float:
    if math.isinf(b.hi):
        return 0.5
    if b.lo <= 0:
        return min(max(value / b.hi, 0.0), 1.0)
    return min(max(math.log(value / b.lo) / math.log(b.hi / b.lo), 0.0), 1.0)


@dataclass(frozen=True)
class StatusRow:
    y: float
    status: str
    count: int
    share: float
    width: float
    fill: str


@dataclass
class StatusMix:
    width: int
    height: int
    label_width: int
    rows: list[StatusRow] = field(default_factory=list)


def status_mix(statuses: dict[str, int], width: int = 560, row_height: int = 24) -> StatusMix:
    """One horizontal bar per status code, longest for the most frequent, colored by class."""
    label_width, count_width = 48, 110
    items = sorted(((str(s), int(c)) for s, c in statuses.items()), key=lambda sc: sc[0])
    chart = StatusMix(width, max(len(items), 1) * row_height + 4, label_width)
    total = sum(c for _, c in items)
    most = max((c for _, c in items), default=0)
    usable = width - label_width - count_width
    for n, (status, count) in enumerate(items):
        klass = int(status[0]) if status[:1].isdigit() else 0
        chart.rows.append(StatusRow(n * row_height + 2, status, count, count / total if total else 0.0,
                                    round(usable * count / most, 1) if most else 0.0,
                                    STATUS_COLORS.get(klass, "#667085")))
    return chart
