"""The Brain: the in-memory model of every host and endpoint, fed one observation at a time.

Only the learner thread writes to it; readers (exports, the admin app) take `lock` too.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from ..model.consolidate import consolidate
from ..model.paths import MAX_SEGMENTS, PARAM, TAIL, PathTree, Shape, skeleton_parts
from ..watch.alerts import WITHDRAWN
from .digest import Digest, digest, path_parts, query_fields
from .endpoint import Endpoint
from .observation import Observation, decode_body
from .watchdog import Watchdog, resolve_into

SAMPLE_ALL_UNTIL = 200
SETTLE_FIRST = 1024         # observations before path templates are first consolidated ...
SETTLE_MAX_STEP = 4096    # ... then at doubling counts, at least this often


@dataclass
class HostModel:
    name: str
    scheme: str = "https"
    tree: PathTree = field(default_factory=PathTree)
    endpoints: dict[tuple[str, str], Endpoint] = field(default_factory=dict)
    # endpoints first learned since the host's last consolidation: no pass has judged their literals yet
    young: set[tuple[str, str]] = field(default_factory=set)
    # endpoints whose skeleton the tree does not hold as it is, with nowhere else to go (None: not
    # known; the next regroup looks at every endpoint)
    stranded: set[tuple[str, str]] | None = None


class Brain:
    def __init__(self, watch: Watchdog | None = None) -> None:
        self.watch = watch or Watchdog()
        self.hosts: dict[str, HostModel] = {}
        self.lock = threading.RLock()
        self._dirty_hosts: set[str] = set()
        self._dirty: set[tuple[str, str, str]] = set()
        self._deleted: set[tuple[str, str, str]] = set()
        self._unsettled: set[str] = set()  # hosts whose tree learned something since the last `settle`
        self._next_settle = SETTLE_FIRST
        self.observed = 0
        self.learned_fully = 0  # observations whose bodies were learned or weighed for the path (not only counted)
        self.judged: Endpoint | None = None  # the endpoint whose history judged the last answer (`_elder`)

    # -- learning -------------------------------------------------------------------------------
    def learn(self, obs: Observation) -> Endpoint:
        known = obs.digest  # (computed by `mimic learn`'s reader process: `learn/digest.py`)
        parts = known.parts if known is not None else path_parts(obs)
        ep = self._count_only(obs, parts, known)
        if ep is None:
            self.learned_fully += 1
            ep = self._learn(obs, known or digest(obs, parts))
        if self.observed >= self._next_settle:
            self._next_settle += min(self._next_settle, SETTLE_MAX_STEP)
            self.settle()
        return ep

    def settle(self) -> None:
        """Consolidate the path templates of every host that learned something new, with all of its
        traffic in view (`model.consolidate`). Run at fixed observation counts and when learning
        ends, so the same flows give the same templates, live or from a file."""
        # Only the learner thread writes the trees, and this is it: the copy is consolidated outside
        # the lock, so the proxy's readers (mock, failover, the admin app) never wait for it.
        for name in sorted(self._unsettled):
            host = self.hosts.get(name)
            if host is None:
                continue
            if host.young:
                host.young.clear()
                self._dirty_hosts.add(name)  # (saved with the tree)
            trial = PathTree(host.tree.root.copy())
            if consolidate(trial):
                with self.lock:
                    host.tree = trial
                    self._regroup(host)
                    self._dirty_hosts.add(name)
            if self.watch.held_young:
                with self.lock:
                    self._dirty.update(ep.key for ep in self.watch.settled(name, host.endpoints))
        self._unsettled.clear()

    def _count_only(self, obs: Observation, parts: list[str], known: Digest | None) -> Endpoint | None:
        """The cheap path for a stable endpoint: nothing new in the path and no body sample due,
        so only statistics and query parameters are updated (bodies are not even decoded)."""
        with self.lock:
            host = self.hosts.get(obs.host)
            if host is None:
                return None
            skeleton = host.tree.known(obs.method, parts)
            ep = host.endpoints.get((obs.method, skeleton)) if skeleton is not None else None
            if ep is None or ep.should_sample(obs.status, SAMPLE_ALL_UNTIL) or (obs.method, skeleton) in host.young:
                return None  # (a young endpoint's answers may be judged by another's history: `_learn`)
            query = known.query if known is not None else obs.query
            self.judged = ep
            if self.watch.enabled and not self.watch.passes_over(ep, obs.status):
                if not self.watch.wants_body(ep, obs.status):
                    body, is_json = None, False
                elif known is not None:
                    body, is_json = known.response_json, known.response_is_json
                else:
                    body, is_json = decode_body(obs.response)
                self.watch.check(ep, host.tree.named, obs, query, body, is_json, kin=host.endpoints.values())
            fields = known.query_fields if known is not None else query_fields(query)
            self._observe(ep, obs, query, fields, None, sample=False)
        return ep

    def _observe(self, ep: Endpoint, obs: Observation, query: list[tuple[str, str]], fields: list[tuple[str, Any]],
                 bodies: Digest | None, sample: bool) -> None:
        ep.observe(
            status=obs.status, latency_ms=obs.latency_ms, ts=obs.ts, query=query, fields=fields,
            request_type=obs.request.content_type, request_size=obs.request.size,
            response_type=obs.response.content_type, response_size=obs.response.size,
            bodies=bodies if sample else None,
        )
        self._dirty.add(ep.key)
        self._dirty_hosts.add(obs.host)
        self.observed += 1

    def _learn(self, obs: Observation, known: Digest) -> Endpoint:
        parts, query, shape = known.parts, known.query, known.shape
        with self.lock:
            host = self.hosts.get(obs.host)
            if host is None:
                host = self.hosts[obs.host] = HostModel(obs.host, obs.scheme)
            learned = host.tree.learn(obs.method, parts, known.echo, shape)
            self._unsettled.add(obs.host)
            if learned.moved:
                self._regroup(host, learned.under)
            ep = host.endpoints.get((obs.method, learned.skeleton))
            if ep is None:
                ep = host.endpoints[(obs.method, learned.skeleton)] = Endpoint(obs.host, obs.method, learned.skeleton)
                self._deleted.discard(ep.key)
                host.young.add((obs.method, learned.skeleton))
                if host.stranded is not None and not host.tree.holds(obs.method, learned.skeleton):
                    host.stranded.add((obs.method, learned.skeleton))
            sample = ep.should_sample(obs.status, SAMPLE_ALL_UNTIL)
            young = (obs.method, ep.skeleton) in host.young
            judge, vouched = self._elder(host, ep, parts, obs.status, shape, known.response_json) if young \
                else (ep, True)
            self.judged = judge
            if self.watch.enabled and self.watch.check(judge, host.tree.named, obs, query, known.response_json,
                                                       known.response_is_json, young=None if judge is ep else ep,
                                                       kin=host.endpoints.values(), vouched=vouched):
                sample = False  # drifted: kept out of the learned schema while its alert is open
            self._observe(ep, obs, query, known.query_fields, known, sample=sample)
        return ep

    @staticmethod
    def _elder(host: HostModel, ep: Endpoint, parts: list[str], status: int, shape: Shape,
               body: Any) -> tuple[Endpoint, bool]:
        """The endpoint that judges an answer of an endpoint no consolidation has seen yet, and
        whether the answer's keys vouch for it: of the templates its path also matches, the one
        holding the most answers of this status, if it holds more than `ep` and most of this
        answer's keys. A new word beside a parameter (a realm seen with an endpoint new to all
        realms, a value the last pass folded) is most likely one more value of it, and until the
        next pass decides, its answers are watched with that template's history; an answer of
        another shape (`/items/search` beside `/items/{id}`) is another resource's, and only its
        own history judges it.

        An empty object (`{}`: every field its answers had gone, or all of them optional) has no
        keys to tell. The first one of a young endpoint is judged with a template whose parameter
        its new word stands at and whose literal segments go on below it (`/acme/clients/{}/perms`
        beside `/{realm}/clients/{}/perms`: a value, the path says so; `/items/reindex` beside
        `/items/{slug}` ends there: maybe an action), unvouched: such answers count as evidence
        but never alert alone (`Watchdog.check`), so one new tenant with empty settings says
        nothing, while new values in a row answering `{}` where their template always had a field
        do (and an endpoint's own repeats count once)."""
        mine = {t for t in shape.tokens if not t.startswith(("?", "b."))}
        empty = not mine and type(body) is dict and not body and 200 <= status < 300 \
            and not ep.stats.statuses.get(status)
        if not mine and not empty:
            return ep, True

        def answers(e: Endpoint) -> int:
            node = e.responses.get(str(status))
            return node.count if node is not None else 0

        best, most = ep, answers(ep)
        for skeleton in host.tree.routes(ep.method, parts):
            other = host.endpoints.get((ep.method, skeleton)) if skeleton != ep.skeleton else None
            if other is None or answers(other) <= most:
                continue
            if (_value_within(ep.skeleton, skeleton) if empty else
                    2 * len(mine & host.tree.answer_tokens(ep.method, skeleton)) >= len(mine)):
                best, most = other, answers(other)
        return best, not empty

    def _regroup(self, host: HostModel, under: tuple[str, ...] | None = None) -> None:
        """Templates changed: fold endpoints whose skeleton now routes elsewhere into their new home.
        `under`: the skeletons of the only positions whose children moved, when known; then only the
        endpoints below them (and those stranded before) are looked at, which gives the same result."""
        stranded: set[tuple[str, str]] = set()
        for (method, skeleton), ep in self._regroup_candidates(host, under):
            if host.tree.holds(method, skeleton):
                continue
            target = host.tree.match(method, skeleton_parts(skeleton))
            if target is None or target == skeleton:
                stranded.add((method, skeleton))
                continue
            del host.endpoints[(method, skeleton)]
            self._dirty.discard(ep.key)
            self._deleted.add(ep.key)
            home = host.endpoints.get((method, target))
            self.watch.alerts.rekey(host.name, method, skeleton, target, folded=home is not None)
            self.watch.rekey(host.name, method, skeleton, target, folded=home is not None)
            if home is None:
                ep.skeleton = target
                host.endpoints[(method, target)] = ep
                home = ep
            else:
                home.merge(ep)
            self._deleted.discard(home.key)
            self._dirty.add(home.key)
        host.stranded = stranded

    @staticmethod
    def _regroup_candidates(host: HostModel, under: tuple[str, ...] | None) -> list[tuple[tuple[str, str], Endpoint]]:
        """The endpoints `_regroup` must look at, in the model's order. Below the positions `under`,
        a skeleton's text starts with theirs and a slash, unless `split_path` reads it otherwise
        (matrix parameters, too many segments): those are looked at too."""
        if under is None or host.stranded is None or "/" in under:
            return list(host.endpoints.items())
        stranded = host.stranded
        prefixes = tuple(u + "/" for u in under)
        return [(key, ep) for key, ep in host.endpoints.items()
                if key[1].startswith(prefixes) or key in stranded or ";" in key[1] or key[1].count("/") > MAX_SEGMENTS]

    # -- importing ----------------------------------------------------------------------------------
    def declare(self, ep: Endpoint, scheme: str, parts: list[str], names: list[str | None]) -> Endpoint:
        """Put an endpoint from an imported spec into the model: its template (`parts`, with PARAM where
        `names` names a parameter) is declared in the host's tree and `ep` becomes the endpoint, or
        is merged into the one already learned there. Returns the endpoint now in the model."""
        with self.lock:
            host = self.hosts.get(ep.host)
            if host is None:
                host = self.hosts[ep.host] = HostModel(ep.host, scheme)
            ep.skeleton = host.tree.declare(ep.method, parts, names)
            mine = host.endpoints.get((ep.method, ep.skeleton))
            if mine is None or not mine.stats.count:  # nothing learned yet: the spec's version replaces it
                mine = host.endpoints[(ep.method, ep.skeleton)] = ep
            else:
                mine.merge(ep)
                mine.imported = ep.imported
            self._deleted.discard(mine.key)
            self._dirty.add(mine.key)
            self._dirty_hosts.add(host.name)
            return mine

    def fold_declared(self, host_name: str) -> None:
        """After `declare`: what traffic learned under literals a declared parameter covers joins it."""
        with self.lock:
            host = self.hosts.get(host_name)
            if host is not None and host.tree.fold_declared():
                self._regroup(host)
                self._dirty_hosts.add(host_name)

    # -- reading ------------------------------------------------------------------------------------
    def endpoints(self) -> list[Endpoint]:
        with self.lock:
            return [ep for h in self.hosts.values() for ep in h.endpoints.values()]

    def template(self, ep: Endpoint) -> str:
        """Display template of an endpoint (`/users/{user_id}`)."""
        with self.lock:
            return self.hosts[ep.host].tree.named(ep.skeleton)

    def health(self) -> dict:
        with self.lock:
            return self.watch.health([(ep, self.template(ep)) for ep in self.endpoints()])

    def alert_list(self, unresolved: bool = False) -> list[dict]:
        with self.lock:
            return [a.to_dict() for a in self.watch.alerts.listing(unresolved)]

    def resolve_alert(self, alert_id: str, resolution: str, ts: float) -> dict:
        """Resolve a drift alert ("expected": the schema moves on; "fixed": the backend was fixed;
        "withdrawn", as another proxy found it: its places were seen as learned again, and what was
        withheld is learned as for "expected"). KeyError / ValueError for an unknown or already
        resolved alert."""
        with self.lock:
            book = self.watch.alerts
            alert = book.withdraw(alert_id, ts) if resolution == WITHDRAWN else book.resolve(alert_id, resolution, ts)
            host = self.hosts.get(alert.host)
            ep = host.endpoints.get((alert.method, alert.skeleton)) if host is not None else None
            if resolution in ("expected", WITHDRAWN):
                resolve_into(ep, alert)
                if ep is not None:
                    self._dirty.add(ep.key)
                    self._dirty_hosts.add(ep.host)
            else:
                alert.pending, alert.pending_other = None, 0
            return alert.to_dict()

    # -- persistence --------------------------------------------------------------------------------
    def take_changes(self) -> tuple[dict[str, dict], list[dict], list[tuple[str, str, str]]]:
        """Snapshot what changed since the last call (to hand to the store) and reset the marks."""
        with self.lock:
            self._dirty.update(self.watch.touched)  # (an endpoint gone since is skipped below)
            self.watch.touched.clear()
            trees = {h: self._tree_row(self.hosts[h]) for h in self._dirty_hosts}
            eps = []
            for host, method, skeleton in self._dirty:
                ep = self.hosts[host].endpoints.get((method, skeleton))
                if ep is not None:
                    eps.append(self.row(ep))
            deleted = sorted(self._deleted)
            self._dirty_hosts.clear()
            self._dirty.clear()
            self._deleted.clear()
        return trees, eps, deleted

    @staticmethod
    def _tree_row(host: HostModel) -> dict:
        """The host as saved: its path tree, and the endpoints no consolidation has placed yet."""
        row: dict = {"scheme": host.scheme, "tree": host.tree.to_dict()}
        if host.young:
            row["young"] = sorted(list(k) for k in host.young)
        return row

    def row(self, ep: Endpoint) -> dict:
        """The endpoint as saved: its model and the watch's candidate changes not sure yet."""
        row = ep.to_dict()
        suspicions = self.watch.saved_suspicions(ep)
        if suspicions:
            row["data"]["watch"]["suspicions"] = suspicions
        return row

    def restore_changes(self, trees: dict[str, dict], eps: list[dict], deleted: list[tuple[str, str, str]]) -> None:
        """A save failed: mark the same things dirty again so the next save retries them."""
        with self.lock:
            self._dirty_hosts.update(trees)
            self._dirty.update((e["host"], e["method"], e["template"]) for e in eps)
            self._deleted.update(k for k in deleted if k not in self._dirty)

    def load(self, snapshot: dict) -> None:
        """Replace the model with what the store holds."""
        with self.lock:
            self.hosts.clear()
            self.watch.suspicions.clear()
            self.watch.held_young.clear()
            self.watch.touched.clear()
            for name, data in snapshot.get("trees", {}).items():
                young = {(str(m), str(s)) for m, s in data.get("young", [])}
                self.hosts[name] = HostModel(name, data.get("scheme", "https"), PathTree.from_dict(data["tree"]),
                                             young=young)
                if young:
                    self._unsettled.add(name)
            for row in snapshot.get("endpoints", []):
                ep = Endpoint.from_dict(row)
                host = self.hosts.get(ep.host)
                if host is None:
                    host = self.hosts[ep.host] = HostModel(ep.host)
                host.endpoints[(ep.method, ep.skeleton)] = ep
                self.watch.load_suspicions(ep, (row["data"].get("watch") or {}).get("suspicions") or {})
            self.watch.alerts.load(snapshot.get("alerts", []))


def _value_within(young: str, template: str) -> bool:
    """Does `young` hold a literal where `template` has a parameter, with a literal segment of
    `template` below it (`/acme/clients/{}/perms` in `/{}/clients/{}/perms`)?"""
    mine, theirs = skeleton_parts(young), skeleton_parts(template)
    if len(mine) != len(theirs):
        return False
    value_at = -1
    for i, (a, b) in enumerate(zip(mine, theirs)):
        if b == PARAM and a != PARAM:
            value_at = i
        elif b not in (PARAM, TAIL, "") and value_at >= 0:  # ("": a trailing slash is no segment below)
            return True
    return False
