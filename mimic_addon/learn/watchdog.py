"""The Brain's watchdog: checks each upstream response against its endpoint's learned contract.

Glue between the Brain and the pure `watch/` core. It runs in the learner thread, before the
observation is merged into the model (so a new shape cannot become "normal" first). A response
with BREAKING or WARNING drift is withheld from the learned schema while its alert is open;
resolving the alert as "expected" merges what was withheld, so the schema moves on to the new
contract. INFO (new field) responses are learned as usual: the new field becomes an optional one.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..model.redact import redact_json
from ..watch.alerts import Alert, AlertBook
from ..watch.drift import INFO, Change, check_response
from ..watch.health import HealthHistory, endpoint_health, global_score, status_of
from .endpoint import Endpoint
from .observation import Observation

DEFAULT_DRIFT_AFTER = 50
SHAPE_MIN_SUCCESSES = 20


class Watchdog:
    def __init__(self, drift_after: int = DEFAULT_DRIFT_AFTER, enabled: bool = True) -> None:
        self.enabled = enabled
        self.drift_after = drift_after
        self.alerts = AlertBook()
        self.history = HealthHistory()
        self.reports: list[tuple[Alert, list[Change], bool]] = []  # (alert, new changes, opened)

    def stable_schema(self, ep: Endpoint, status: int):
        """The learned response schema of this status once past its learning phase (at once when an
        imported spec declared it: the spec is the baseline), else None."""
        node = ep.responses.get(str(status))
        if node is None:
            return None
        return node if node.count >= self.drift_after or declared(ep, status) else None

    def wants_body(self, ep: Endpoint, status: int) -> bool:
        return self.enabled and self.stable_schema(ep, status) is not None

    def check(self, ep: Endpoint, named: Callable[[str], str], obs: Observation,
              query: list[tuple[str, str]], body: Any, is_json: bool) -> bool:
        """Compare one response; record drift. True when the body must not be learned."""
        if not self.enabled or (ep.stats.count < self.drift_after and ep.imported is None):
            return False
        status = obs.status
        code = str(status)
        schema = self.stable_schema(ep, status)
        always_json = schema is not None and schema.count >= ep.sampled[code]
        shape_ok = (status >= 400 and not ep.stats.statuses.get(status)
                    and ep.shape_succeeded(query, min(self.drift_after, SHAPE_MIN_SUCCESSES)))
        min_count = self.drift_after if ep.imported is None else min(self.drift_after, DEFAULT_DRIFT_AFTER)
        changes = check_response(schema, always_json, body, is_json, status, shape_ok, min_count)
        if not changes:
            return False
        alert, new = self.alerts.record(ep.host, ep.method, ep.skeleton, named(ep.skeleton), status, changes, obs.ts)
        if new:
            self.reports.append((alert, new, alert.count == 1))
        if all(c.label == INFO for c in changes):
            return False
        self.alerts.withhold(alert, redact_json(body) if is_json else None, is_json)
        return True

    def take_reports(self) -> list[tuple[Alert, list[Change], bool]]:
        reports, self.reports = self.reports, []
        return reports

    # -- health -----------------------------------------------------------------------------------
    def health(self, endpoints: list[tuple[Endpoint, str]]) -> dict[str, Any]:
        """Per-endpoint and global health from the anomaly flags and unresolved breaking drift."""
        rows = []
        alerts = self.alerts.per_endpoint()
        for ep, template in endpoints:
            flags = ep.monitor.flags
            h = endpoint_health(flags, self.alerts.unresolved_breaking(ep.host, ep.method, ep.skeleton))
            rows.append({"host": ep.host, "method": ep.method, "template": template, **h.to_dict(),
                         "count": ep.stats.count, "flags": flags.to_dict(),
                         "alerts": alerts.get(ep.key, {"open": 0, "total": 0})})
        rows.sort(key=lambda r: (r["score"], r["host"], r["template"], r["method"]))
        score = global_score([r["score"] for r in rows])
        return {"score": round(score, 1), "status": status_of(score), "endpoints": rows}


def declared(ep: Endpoint, status: int) -> bool:
    """Did an imported spec declare this endpoint's response schema for this status?"""
    return ep.imported is not None and str(status) in ep.imported.get("statuses", ())


def resolve_into(ep: Endpoint | None, alert: Alert) -> None:
    """An alert resolved as expected: what was withheld joins the learned schema."""
    if ep is not None:
        code = str(alert.status)
        if alert.pending is not None:
            node = ep.responses.get(code)
            if node is None:
                ep.responses[code] = alert.pending
            else:
                node.merge(alert.pending)
            ep.sampled[code] += alert.pending.count
        ep.sampled[code] += alert.pending_other
    alert.pending, alert.pending_other = None, 0
