"""Health scores 0-100 per endpoint and globally, from anomaly flags and unresolved drift.

Penalties: latency spike -15 (-22.5 at twice the factor a spike starts at), error spike -25
(-37.5 above 5x the baseline rate), size drift -10, unresolved breaking drift -20. HEALTHY >= 80,
DEGRADED 50-79, CRITICAL < 50; an endpoint with anything active is DEGRADED at best. Global score:
70% the mean of the endpoint scores + 30% the worst one (its band by score alone).
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .anomaly import ERROR_SEVERE_FACTOR, LATENCY_SEVERE_FACTOR, RECENT, RUNS, SIZE_MIN_BYTES, TAIL, Flags

HEALTHY, DEGRADED, CRITICAL = "HEALTHY", "DEGRADED", "CRITICAL"
HISTORY_MAX = 500


def status_of(score: float) -> str:
    return HEALTHY if score >= 80 else DEGRADED if score >= 50 else CRITICAL


@dataclass
class EndpointHealth:
    score: float
    status: str
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"score": round(self.score, 1), "status": self.status, "reasons": self.reasons}


def endpoint_health(flags: Flags, breaking_drift: bool) -> EndpointHealth:
    score = 100.0
    reasons = []
    if flags.latency:
        severe = flags.latency_ratio >= LATENCY_SEVERE_FACTOR * flags.latency_threshold
        score -= 22.5 if severe else 15
        reasons.append(f"latency spike ({latency_note(flags)})")
    if flags.errors:
        severe = flags.error_factor > ERROR_SEVERE_FACTOR
        score -= 37.5 if severe else 25
        reasons.append(f"error spike ({flags.error_factor:.1f}x baseline)")
    if flags.size:
        score -= 10
        reasons.append(f"response size: {size_note(flags)}")
    if breaking_drift:
        score -= 20
        reasons.append("unresolved breaking drift")
    score = max(score, 0.0)
    status = status_of(score)
    if reasons and status == HEALTHY:  # (a spike of -15 alone leaves 85: not what HEALTHY says)
        status = DEGRADED
    return EndpointHealth(score, status, reasons)


def latency_note(flags: Flags) -> str:
    """The latency check now, in words (the endpoint page's "Now", and the reason of a spike): by
    the median against its threshold, or by a run of slow answers (`anomaly.RankTest`)."""
    if not flags.latency_threshold:
        return "baseline still learning"
    if flags.latency and flags.latency_window:
        return _run(flags.latency_count, flags.latency_window, "slower", flags.latency_share, flags.latency_ratio)
    note = f"recent median {flags.latency_ratio:.3g}x the usual; threshold {flags.latency_threshold:.1f}x"
    if not flags.latency and flags.latency_ratio > flags.latency_threshold:
        return note + f", but fewer than {RUNS[0]} of the last {RECENT} are in the slowest {TAIL:.0%} seen: no spike"
    return note + (f" (or {RUNS[0]} or more of the last {RECENT} far slower than the usual ones)" if not flags.latency
                   else "")


def size_note(flags: Flags) -> str:
    """The response-size check now, in words."""
    if not flags.size_threshold:
        return "baseline still learning"
    if flags.size and flags.size_window:
        return _run(flags.size_count, flags.size_window, flags.size_way, flags.size_share, flags.size_ratio)
    note = f"recent median {flags.size_ratio:.3g}x the usual; threshold {flags.size_threshold:.1f}x either way"
    off = flags.size_ratio > flags.size_threshold or flags.size_ratio * flags.size_threshold < 1
    if not flags.size and off:
        return note + (f", but fewer than {RUNS[0]} of the last {RECENT} are beyond the {TAIL:.0%} tail seen that way, "
                       f"or the median is less than {SIZE_MIN_BYTES} bytes off: no drift")
    return note + (f" (or {RUNS[0]} or more of the last {RECENT} far smaller or larger than the usual ones)"
                   if not flags.size else "")


def _run(count: int, window: int, way: str, share: float, ratio: float) -> str:
    """A run of answers off, in words; the share of usual answers is never rounded up to "all"."""
    beyond = "all" if share >= 1.0 else f"{max(math.floor(share * 1000) / 10, 0.1):g}%"
    return (f"{count} of the last {window} answers {way} than {beyond} of the usual ones; recent median "
            f"{ratio:.3g}x the usual")


def global_score(scores: list[float]) -> float:
    """70% mean + 30% worst; 100 with no endpoints."""
    if not scores:
        return 100.0
    return 0.7 * (sum(scores) / len(scores)) + 0.3 * min(scores)


class HealthHistory:
    """A bounded series of (ts, global score, per-endpoint scores) snapshots for charts."""

    def __init__(self, maxlen: int = HISTORY_MAX) -> None:
        self.snapshots: deque[dict[str, Any]] = deque(maxlen=maxlen)

    def add(self, ts: float, score: float, endpoints: dict[str, float]) -> dict[str, Any]:
        snap = {"ts": ts, "score": round(score, 1), "status": status_of(score), "endpoints": endpoints}
        self.snapshots.append(snap)
        return snap
