"""Drift alerts: one open alert per (endpoint, status), accumulating its changes.

The same change on the same endpoint is one alert with an occurrence count, first and last seen,
not thousands. Pure: timestamps are passed in. Bodies that drifted are kept (redacted, as a
bounded `SchemaNode`) in `pending` so that resolving the alert as "expected" can move the learned
schema on to the new contract.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from ..model.schema import SchemaNode
from .drift import BREAKING, INFO, Change, label_of, score, summary
from .evidence import ALPHA_GRADED, chance
from .narrator import alert_paragraph, narrate, narration

RESOLUTIONS = ("expected", "fixed")  # a user's; "withdrawn": every change was contradicted (Watchdog)
WITHDRAWN = "withdrawn"
MAX_RESOLVED_KEPT = 1000
MAX_CHANGES_PER_ALERT = 200  # distinct (path, kind): random keys in bodies must not grow an alert forever


@dataclass
class ChangeRecord:
    change: Change
    count: int
    first_seen: float
    last_seen: float
    withdrawn: bool = False  # the place was seen as learned again after the alert: no change after all

    def to_dict(self) -> dict[str, Any]:
        return {**self.change.to_dict(), **narrate(self.change), "label": self.change.label,
                "count": self.count, "first_seen": self.first_seen, "last_seen": self.last_seen}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ChangeRecord:
        return cls(Change.from_dict(d), d.get("count", 1), d.get("first_seen", 0.0), d.get("last_seen", 0.0),
                   bool(d.get("withdrawn", False)))


@dataclass
class Alert:
    id: str
    host: str
    method: str
    skeleton: str        # endpoint key in the Brain
    template: str        # display template, with any base path (/v1/users/{user_id})
    status: int
    first_seen: float
    last_seen: float
    count: int = 0
    changes: dict[tuple[str, str], ChangeRecord] = field(default_factory=dict)
    resolution: str | None = None
    resolved_at: float | None = None
    pending: SchemaNode | None = None   # drifted bodies withheld from the learned schema
    pending_other: int = 0              # drifted responses without a JSON body

    @property
    def key(self) -> tuple[str, str, str, int]:
        return self.host, self.method, self.skeleton, self.status

    @property
    def resolved(self) -> bool:
        return self.resolution is not None

    def change_list(self) -> list[Change]:
        """The changes that stand (withdrawn ones are kept for the record, but no longer count)."""
        return [r.change for r in self.changes.values() if not r.withdrawn]

    def stands(self, key: tuple[str, str]) -> bool:
        """Is this change one of the alert's, not withdrawn?"""
        r = self.changes.get(key)
        return r is not None and not r.withdrawn

    def watched(self) -> set[str]:
        """The places of its standing BREAKING/WARNING changes: an answer having one of them as
        learned again contradicts the change (see `withdraw`)."""
        return {r.change.path for r in self.changes.values() if not r.withdrawn and r.change.label != INFO}

    def withdraw(self, fine: set[str], current: set[tuple[str, str]]) -> bool:
        """Withdraw the standing BREAKING/WARNING changes whose place this answer had as learned
        (`fine`) and did not show again (`current`): a field that comes back after going missing,
        or a value non-null again, was optional or nullable, not changed; unless the change was
        shown by a run of answers an optional place would show with chance <= ALPHA_GRADED.
        True if any was withdrawn."""
        hit = False
        for key, r in self.changes.items():
            if not r.withdrawn and r.change.label != INFO and r.change.path in fine and key not in current \
                    and chance(r.change.seen, r.change.exceptions, r.count) > ALPHA_GRADED:
                # (a change shown by so many answers that an optional place would hardly do so stands:
                # its place coming back is a rollback or a mixed rollout, not an optional field)
                r.withdrawn = hit = True
        return hit

    @property
    def label(self) -> str:
        return label_of(self.change_list()) or "INFO"

    @property
    def score(self) -> int:
        return score(self.change_list())

    @property
    def summary(self) -> str:
        return summary(self.change_list())

    @property
    def confidence(self) -> float:
        """How sure the alert is: that of its surest change of its worst label."""
        worst = [c for c in self.change_list() if c.label == self.label]
        return round(max((c.confidence for c in worst), default=1.0), 4)

    @property
    def breaking(self) -> bool:
        return self.label == BREAKING

    def narration(self) -> str:
        return narration(self.method, self.template, self.status, self.change_list())

    def to_dict(self) -> dict[str, Any]:
        """The public view (the CLI's --json, the admin API) plus what is needed to restore it."""
        return {
            "id": self.id, "host": self.host, "method": self.method, "template": self.template,
            "skeleton": self.skeleton, "status": self.status, "label": self.label, "score": self.score,
            "confidence": self.confidence,
            "summary": self.summary,
            "narration": alert_paragraph(self.method, self.template, self.status, self.change_list()),
            "changes": [r.to_dict() for r in self.changes.values() if not r.withdrawn],
            "withdrawn": [{**r.to_dict(), "withdrawn": True} for r in self.changes.values() if r.withdrawn],
            "count": self.count, "first_seen": self.first_seen, "last_seen": self.last_seen,
            "resolved": self.resolved, "resolution": self.resolution, "resolved_at": self.resolved_at,
            "pending": self.pending.to_dict() if self.pending is not None else None,
            "pending_other": self.pending_other,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Alert:
        a = cls(d["id"], d["host"], d["method"], d.get("skeleton", d["template"]), d["template"],
                int(d["status"]), d.get("first_seen", 0.0), d.get("last_seen", 0.0), d.get("count", 0))
        for c in d.get("changes", []) + d.get("withdrawn", []):
            r = ChangeRecord.from_dict(c)
            a.changes[r.change.key] = r
        a.resolution = d.get("resolution")
        a.resolved_at = d.get("resolved_at")
        a.pending = SchemaNode.from_dict(d["pending"]) if d.get("pending") else None
        a.pending_other = d.get("pending_other", 0)
        return a


def _alert_id(host: str, method: str, skeleton: str, status: int, ts: float) -> str:
    return hashlib.sha1(f"{host} {method} {skeleton} {status} {ts!r}".encode()).hexdigest()[:10]


class AlertBook:
    """Every alert, open ones indexed by (host, method, skeleton, status); tracks what changed."""

    def __init__(self) -> None:
        self.alerts: dict[str, Alert] = {}
        self.open: dict[tuple[str, str, str, int], Alert] = {}
        self.dirty: set[str] = set()
        self.deleted: set[str] = set()

    def record(self, host: str, method: str, skeleton: str, template: str, status: int,
               changes: list[Change], ts: float, runs: dict[tuple[str, str], int] | None = None,
               earlier: int = 0) -> tuple[Alert, list[Change]]:
        """Count one drifting response (and `earlier` ones held back while its changes were only
        suspected; `runs`: answers in a row that showed each change); returns its alert and the
        changes new to it."""
        key = (host, method, skeleton, status)
        alert = self.open.get(key)
        if alert is None:
            alert = Alert(_alert_id(host, method, skeleton, status, ts), host, method, skeleton, template,
                          status, ts, ts)
            while alert.id in self.alerts:  # same key and time (a replayed capture): keep ids unique
                alert.id = _alert_id(alert.id, method, skeleton, status, ts)
            self.alerts[alert.id] = alert
            self.open[key] = alert
        alert.template = template
        alert.count += 1 + earlier
        alert.first_seen = min(alert.first_seen, ts)
        alert.last_seen = max(alert.last_seen, ts)
        new = []
        for c in changes:
            r = alert.changes.get(c.key)
            if r is None:
                if len(alert.changes) >= MAX_CHANGES_PER_ALERT:
                    continue
                alert.changes[c.key] = ChangeRecord(c, (runs or {}).get(c.key, 1), ts, ts)
                new.append(c)
            elif r.withdrawn:  # withdrawn, then sure again: it stands anew
                alert.changes[c.key] = ChangeRecord(c, (runs or {}).get(c.key, 1), ts, ts)
                new.append(c)
            else:
                r.count += 1
                if c.confidence > r.change.confidence:  # the evidence grows with every answer
                    r.change = c
                r.first_seen = min(r.first_seen, ts)
                r.last_seen = max(r.last_seen, ts)
        self.dirty.add(alert.id)
        return alert, new

    def withhold(self, alert: Alert, body: Any, is_json: bool) -> None:
        """Keep a drifted (redacted) body out of the learned schema, for a later "expected"."""
        if is_json:
            if alert.pending is None:
                alert.pending = SchemaNode()
            alert.pending.observe(body)
        else:
            alert.pending_other += 1

    def resolve(self, alert_id: str, resolution: str, ts: float) -> Alert:
        """A user's resolution ("expected" or "fixed"); ValueError for another or an alert already resolved."""
        if resolution not in RESOLUTIONS:
            raise ValueError(f"resolution must be one of {', '.join(RESOLUTIONS)}")
        return self._close_open(alert_id, resolution, ts)

    def withdraw(self, alert_id: str, ts: float) -> Alert:
        """Close as "withdrawn" an alert another proxy withdrew (see `close_withdrawn`)."""
        return self._close_open(alert_id, WITHDRAWN, ts)

    def _close_open(self, alert_id: str, resolution: str, ts: float) -> Alert:
        alert = self.find(alert_id)
        if alert.resolved:
            raise ValueError(f"alert {alert.id} is already resolved ({alert.resolution})")
        self._close(alert, resolution, ts)
        return alert

    def close_withdrawn(self, alert: Alert, ts: float) -> None:
        """Every change of an open alert was withdrawn: it resolves itself as "withdrawn"."""
        self._close(alert, WITHDRAWN, ts)

    def _close(self, alert: Alert, resolution: str, ts: float) -> None:
        alert.resolution = resolution
        alert.resolved_at = ts
        self.open.pop(alert.key, None)
        self.dirty.add(alert.id)
        self._trim()

    def find(self, alert_id: str) -> Alert:
        alert = self.alerts.get(alert_id)
        if alert is None:
            matches = [a for i, a in self.alerts.items() if i.startswith(alert_id)] if alert_id else []
            if len(matches) != 1:
                raise KeyError(f"no such alert: {alert_id}")
            alert = matches[0]
        return alert

    def per_endpoint(self) -> dict[tuple[str, str, str], dict[str, int]]:
        """Alert counts per endpoint (host, method, skeleton): {"open": n, "total": n}."""
        out: dict[tuple[str, str, str], dict[str, int]] = {}
        for a in self.alerts.values():
            c = out.setdefault((a.host, a.method, a.skeleton), {"open": 0, "total": 0})
            c["total"] += 1
            c["open"] += not a.resolved
        return out

    def unresolved_breaking(self, host: str, method: str, skeleton: str) -> bool:
        return any(a.breaking for (h, m, s, _), a in self.open.items() if (h, m, s) == (host, method, skeleton))

    def rekey(self, host: str, method: str, old: str, new: str, folded: bool) -> None:
        """An endpoint's skeleton changed (template re-grouping). A folded endpoint's open alerts
        were judged against a schema that no longer exists: they are dropped, not moved."""
        for key, alert in list(self.open.items()):
            if key[:3] != (host, method, old):
                continue
            del self.open[key]
            if folded:
                del self.alerts[alert.id]
                self.dirty.discard(alert.id)
                self.deleted.add(alert.id)
                continue
            alert.skeleton = new
            self.dirty.add(alert.id)
            if (host, method, new, alert.status) not in self.open:
                self.open[(host, method, new, alert.status)] = alert

    def _trim(self) -> None:
        resolved = [a for a in self.alerts.values() if a.resolved]
        if len(resolved) > MAX_RESOLVED_KEPT:
            resolved.sort(key=lambda a: a.resolved_at or 0)
            for a in resolved[: len(resolved) - MAX_RESOLVED_KEPT]:
                del self.alerts[a.id]
                self.dirty.discard(a.id)  # the store keeps it; memory does not need it

    def take_changes(self) -> tuple[list[dict], list[str]]:
        rows = [self.alerts[i].to_dict() for i in self.dirty if i in self.alerts]
        deleted = sorted(self.deleted)
        self.dirty.clear()
        self.deleted.clear()
        return rows, deleted

    def restore_changes(self, rows: list[dict], deleted: list[str]) -> None:
        self.dirty.update(r["id"] for r in rows if r["id"] in self.alerts)
        self.deleted.update(deleted)

    def load(self, rows: list[dict]) -> None:
        self.alerts.clear()
        self.open.clear()
        for row in rows:
            alert = Alert.from_dict(row)
            self.alerts[alert.id] = alert
            if not alert.resolved:
                self.open[alert.key] = alert

    def listing(self, unresolved: bool = False) -> list[Alert]:
        alerts = [a for a in self.alerts.values() if not (unresolved and a.resolved)]
        return sorted(alerts, key=lambda a: (a.resolved, -a.score, -a.last_seen))
