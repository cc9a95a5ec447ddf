"""The Explorer's reads of the store: endpoint pages, one endpoint, its alerts, health, settings.

Listing and searching go straight to the `endpoints` table (ORDER BY + LIMIT/OFFSET on its real
columns) and decode only what the page shows: each row's anomaly flags are extracted by the
database from the JSON column, and path trees (for display templates such as `/users/{user_id}`)
are parsed once per host and reused until the proxy saves a new one. Nothing here loads the whole
Brain, so a page stays fast with thousands of endpoints. Everything here is synchronous: callers
run it in a worker thread.
"""
from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import false, func, or_, select, tuple_

from mimic_addon.learn.endpoint import Endpoint as LearnedEndpoint
from mimic_addon.model.paths import PathTree
from mimic_addon.serve.endpoint_keys import endpoint_key, setting_for
from mimic_addon.serve.serve_addon import KEY_ENDPOINT_MODES
from mimic_addon.serve.twins_addon import KEY_OVERRIDES
from mimic_addon.store.tables import DriftAlert, Endpoint, Setting
from mimic_addon.store.tables import PathTree as PathTreeRow
from mimic_addon.watch.anomaly import Flags
from mimic_addon.watch.drift import BREAKING
from mimic_addon.watch.health import endpoint_health, global_score, latency_note, size_note, status_of

from .api_util import ApiError

SORTS = ("template", "count", "last_seen")
MAX_LIMIT = 500
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
_NAMED_PARAM = re.compile(r"\{[^{}/]*\}")
_FLAGS_PATH = ("watch", "monitor", "flags")


class QueryError(ApiError):
    """A bad listing parameter (answered 400)."""

    def __init__(self, message: str) -> None:
        super().__init__(400, message)


@dataclass(frozen=True)
class ListQuery:
    q: str = ""
    host: str = ""
    method: str = ""
    sort: str = "template"
    offset: int = 0
    limit: int = 50

    @classmethod
    def parse(cls, params: Any, default_limit: int = 50) -> ListQuery:
        """From query parameters; QueryError for a bad offset, limit, sort or method."""
        def number(name: str, default: int, lo: int, hi: int) -> int:
            raw = params.get(name)
            if raw in (None, ""):
                return default
            try:
                value = int(raw)
            except ValueError:
                raise QueryError(f"{name} must be an integer") from None
            if not lo <= value <= hi:
                raise QueryError(f"{name} must be between {lo} and {hi}")
            return value

        sort = params.get("sort") or "template"
        if sort not in SORTS:
            raise QueryError(f"sort must be one of {', '.join(SORTS)}")
        method = (params.get("method") or "").strip().upper()
        if method and not re.fullmatch(r"[A-Z]{1,16}", method):
            raise QueryError("method must be an HTTP method")
        return cls(q=(params.get("q") or "").strip()[:200], host=(params.get("host") or "").strip(),
                   method=method, sort=sort, offset=number("offset", 0, 0, 10**9),
                   limit=number("limit", default_limit, 1, MAX_LIMIT))


def search_terms(q: str) -> list[str]:
    """Whitespace-separated terms; a named parameter (`{user_id}`) matches any parameter (`{}`)."""
    return [_NAMED_PARAM.sub("{}", term) for term in q.split()]


@dataclass
class HostTree:
    """One host's parsed path tree, with the display names of its skeletons memoised."""

    stamp: float
    tree: PathTree
    names: dict[str, str] = field(default_factory=dict)

    def named(self, skeleton: str) -> str:
        name = self.names.get(skeleton)
        if name is None:
            name = self.names[skeleton] = self.tree.named(skeleton)
        return name


class TreeCache:
    """Parsed path trees per host, reloaded only when the store holds a newer one."""

    def __init__(self) -> None:
        self._trees: dict[str, HostTree] = {}
        self._lock = threading.Lock()

    def get(self, conn: Any, hosts: set[str]) -> dict[str, HostTree]:
        if not hosts:
            return {}
        table = PathTreeRow.__table__
        stamps = dict(conn.execute(select(table.c.host, table.c.updated_at).where(table.c.host.in_(sorted(hosts)))).all())
        with self._lock:
            stale = [h for h, ts in stamps.items() if h not in self._trees or self._trees[h].stamp != ts]
        if stale:
            rows = conn.execute(select(table.c.host, table.c.updated_at, table.c.data).where(table.c.host.in_(stale)))
            fresh = {h: HostTree(ts, PathTree.from_dict(data["tree"])) for h, ts, data in rows}
            with self._lock:
                self._trees.update(fresh)
        with self._lock:
            return {h: self._trees[h] for h in stamps if h in self._trees}


def named(trees: dict[str, HostTree], host: str, skeleton: str) -> str:
    tree = trees.get(host)
    return tree.named(skeleton) if tree is not None else skeleton


def _alert_counts(conn: Any, keys: set[tuple[str, str, str]] | None) -> dict[tuple[str, str, str], dict[str, Any]]:
    """{(host, method, skeleton): {"open", "total", "breaking"}} for these endpoints (all when None)."""
    t = DriftAlert.__table__
    skeleton = t.c.data["skeleton"].as_string()
    query = select(t.c.host, t.c.method, skeleton, t.c.resolved, t.c.label)
    if keys is not None:
        if not keys:
            return {}
        query = query.where(tuple_(t.c.host, t.c.method).in_(sorted({(h, m) for h, m, _ in keys})))
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for host, method, skel, resolved, label in conn.execute(query):
        c = out.setdefault((host, method, skel), {"open": 0, "total": 0, "breaking": False})
        c["total"] += 1
        if not resolved:
            c["open"] += 1
            c["breaking"] = c["breaking"] or label == BREAKING
    return out


def _health(flags: dict[str, Any] | None, breaking: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """(health, flags) of an endpoint from its stored anomaly flags; most endpoints share the same
    few flag values, so the verdicts are memoised."""
    flags = flags or {}
    health, fl = _verdict(tuple(flags.get(k) for k in _FLAG_FIELDS), breaking)
    return {**health, "reasons": list(health["reasons"])}, dict(fl)


_FLAG_FIELDS = tuple(Flags.__dataclass_fields__)


@lru_cache(maxsize=4096)
def _verdict(values: tuple[Any, ...], breaking: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    fl = Flags.from_dict({k: v for k, v in zip(_FLAG_FIELDS, values) if v is not None})
    return endpoint_health(fl, breaking).to_dict(), fl.to_dict()


def settings_of(store: Any) -> tuple[dict[str, str], dict[str, Any]]:
    """(per-endpoint modes, overrides), both keyed as `endpoint_keys` says, read in one query."""
    t = Setting.__table__
    with store.engine.connect() as conn:
        values = dict(conn.execute(select(t.c.key, t.c.value).where(t.c.key.in_([KEY_ENDPOINT_MODES, KEY_OVERRIDES]))).all())
    modes, overrides = values.get(KEY_ENDPOINT_MODES), values.get(KEY_OVERRIDES)
    return (modes if isinstance(modes, dict) else {}), (overrides if isinstance(overrides, dict) else {})


def _contains(column: Any, term: str, dialect: str) -> Any:
    """Case-insensitive substring match, `%` and `_` literal. SQLite's LIKE already ignores ASCII case
    (and lower() would make every search a few times slower); PostgreSQL needs ILIKE."""
    if dialect == "sqlite":
        return column.contains(term, autoescape=True)
    return column.icontains(term, autoescape=True)


def _where(q: ListQuery, dialect: str) -> list[Any]:
    t = Endpoint.__table__
    conds: list[Any] = []
    if q.host:
        conds.append(t.c.host == q.host)
    if q.method:
        conds.append(t.c.method == q.method)
    for term in search_terms(q.q):
        either = [_contains(t.c.host, term, dialect), _contains(t.c.template, term, dialect)]
        if term.upper() in HTTP_METHODS:
            either.append(t.c.method == term.upper())
        conds.append(or_(*either))
    return conds


def list_endpoints(store: Any, trees: TreeCache, q: ListQuery) -> dict[str, Any]:
    """One page of endpoints: {"items", "total", "offset", "limit"}."""
    t = Endpoint.__table__
    conds = _where(q, store.engine.dialect.name)
    order = {"template": (t.c.host, t.c.template, t.c.method),
             "count": (t.c.sample_count.desc(), t.c.id),
             "last_seen": (t.c.last_seen.desc(), t.c.id)}[q.sort]
    with store.engine.connect() as conn:
        ids = list(conn.execute(select(t.c.id).where(*conds).order_by(*order).offset(q.offset).limit(q.limit)).scalars())
        if 0 < len(ids) < q.limit or (not ids and not q.offset):
            total = q.offset + len(ids)  # a short page is the last one: no second scan to count
        else:
            total = conn.execute(select(func.count()).select_from(t).where(*conds)).scalar_one()
        rows = conn.execute(select(t.c.id, t.c.host, t.c.method, t.c.template, t.c.sample_count, t.c.first_seen,
                                   t.c.last_seen, t.c.data[_FLAGS_PATH]).where(t.c.id.in_(ids))).all() if ids else []
        keys = {(r.host, r.method, r.template) for r in rows}
        alerts = _alert_counts(conn, keys)
        tree_of = trees.get(conn, {r.host for r in rows})
    modes, overrides = settings_of(store)
    position = {i: n for n, i in enumerate(ids)}
    items = []
    for r in sorted(rows, key=lambda r: position[r.id]):
        a = alerts.get((r.host, r.method, r.template), {"open": 0, "total": 0, "breaking": False})
        health, _ = _health(r[7], a["breaking"])
        template = named(tree_of, r.host, r.template)
        mode = setting_for(modes, r.method, r.host, template)
        items.append({"id": r.id, "host": r.host, "method": r.method, "template": template, "skeleton": r.template,
                      "count": r.sample_count, "first_seen": r.first_seen, "last_seen": r.last_seen,
                      "health": {"score": health["score"], "status": health["status"]},
                      "alerts_open": a["open"], "mode": mode[1] if mode else None,
                      "override": setting_for(overrides, r.method, r.host, template) is not None})
    return {"items": items, "total": total, "offset": q.offset, "limit": q.limit}


def hosts(store: Any) -> list[str]:
    t = Endpoint.__table__
    with store.engine.connect() as conn:
        return list(conn.execute(select(t.c.host).distinct().order_by(t.c.host)).scalars())


def methods(store: Any) -> list[str]:
    t = Endpoint.__table__
    with store.engine.connect() as conn:
        return list(conn.execute(select(t.c.method).distinct().order_by(t.c.method)).scalars())


@dataclass
class Loaded:
    """One endpoint as stored, with what its pages need around it."""

    id: int
    ep: LearnedEndpoint
    template: str           # display template
    tree: PathTree | None
    alerts: list[dict[str, Any]]
    mode: str | None
    override: Any
    key: str                # `METHOD host/named/template`: this host's key of modes and overrides (endpoint_keys)
    mode_key: str           # the key of the mode in effect: this host's, or every host's
    override_key: str       # ... of the override in effect


def load_endpoint(store: Any, trees: TreeCache, endpoint_id: int) -> Loaded | None:
    t = Endpoint.__table__
    a = DriftAlert.__table__
    with store.engine.connect() as conn:
        row = conn.execute(select(t).where(t.c.id == endpoint_id)).first()
        if row is None:
            return None
        alert_rows = conn.execute(
            select(a.c.data).where(a.c.host == row.host, a.c.method == row.method,
                                   a.c.data["skeleton"].as_string() == row.template)
            .order_by(a.c.resolved, a.c.last_seen.desc())).scalars().all()
        host_tree = trees.get(conn, {row.host}).get(row.host)
    ep = LearnedEndpoint.from_dict({"host": row.host, "method": row.method, "template": row.template, "data": row.data})
    tree = host_tree.tree if host_tree is not None else None
    template = host_tree.named(row.template) if host_tree is not None else row.template
    key = endpoint_key(row.method, template, row.host)
    modes, overrides = settings_of(store)
    mode = setting_for(modes, row.method, row.host, template) or (key, None)
    override = setting_for(overrides, row.method, row.host, template) or (key, None)
    alerts = [public_alert(d) for d in alert_rows]
    return Loaded(row.id, ep, template, tree, alerts, mode[1], override[1], key, mode[0], override[0])


def public_alert(data: dict[str, Any]) -> dict[str, Any]:
    """An alert as the API shows it: without what only resolving needs (the withheld schema)."""
    return {k: v for k, v in data.items() if k not in ("pending", "pending_other")}


def endpoint_health_of(ep: LearnedEndpoint, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    breaking = any(not x["resolved"] and x["label"] == BREAKING for x in alerts)
    health, flags = _health(ep.monitor.flags.to_dict(), breaking)
    now = Flags.from_dict(flags)  # (as stored, as the reasons have them)
    return {**health, "flags": flags, "checks": {"latency": latency_note(now), "size": size_note(now)}}


def list_alerts(store: Any, unresolved: bool, offset: int, limit: int) -> dict[str, Any]:
    """Drift alerts, open ones first then newest first, with the id of their endpoint when it exists."""
    a = DriftAlert.__table__
    t = Endpoint.__table__
    conds = [a.c.resolved == false()] if unresolved else []
    with store.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(a).where(*conds)).scalar_one()
        rows = conn.execute(select(a.c.data).where(*conds).order_by(a.c.resolved, a.c.last_seen.desc(), a.c.id)
                            .offset(offset).limit(limit)).scalars().all()
        keys = {(d["host"], d["method"], d.get("skeleton", d["template"])) for d in rows}
        ids = {}
        if keys:
            ids = {(h, m, s): i for i, h, m, s in conn.execute(
                select(t.c.id, t.c.host, t.c.method, t.c.template)
                .where(tuple_(t.c.host, t.c.method, t.c.template).in_(sorted(keys))))}
    items = [{**public_alert(d), "endpoint_id": ids.get((d["host"], d["method"], d.get("skeleton", d["template"])))}
             for d in rows]
    return {"items": items, "total": total, "offset": offset, "limit": limit}


def load_alert(store: Any, alert_id: str) -> dict[str, Any] | None:
    a = DriftAlert.__table__
    with store.engine.connect() as conn:
        return conn.execute(select(a.c.data).where(a.c.id == alert_id)).scalar_one_or_none()


def health(store: Any, trees: TreeCache) -> dict[str, Any]:
    """What `Brain.health()` answers (score, status, endpoints worst first), from the store directly:
    the flags are extracted by the database, so no endpoint model is decoded."""
    t = Endpoint.__table__
    with store.engine.connect() as conn:
        rows = conn.execute(select(t.c.id, t.c.host, t.c.method, t.c.template, t.c.sample_count,
                                   t.c.data[_FLAGS_PATH])).all()
        alerts = _alert_counts(conn, None)
        tree_of = trees.get(conn, {r.host for r in rows})
    out = []
    for r in rows:
        a = alerts.get((r.host, r.method, r.template), {"open": 0, "total": 0, "breaking": False})
        h, flags = _health(r[5], a["breaking"])
        out.append({"id": r.id, "host": r.host, "method": r.method, "template": named(tree_of, r.host, r.template),
                    **h, "count": r.sample_count, "flags": flags,
                    "alerts": {"open": a["open"], "total": a["total"]}})
    out.sort(key=lambda e: (e["score"], e["host"], e["template"], e["method"]))
    score = global_score([e["score"] for e in out])
    bands = Counter(e["status"] for e in out)
    status = status_of(score)
    return {"score": round(score, 1), "status": status, "band": status, "counts": dict(bands),
            "total": len(out), "endpoints": out}
