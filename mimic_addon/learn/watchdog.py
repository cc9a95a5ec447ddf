"""The Brain's watchdog: checks each upstream response against its endpoint's learned contract.

Glue between the Brain and the pure `watch/` core. It runs in the learner thread, before the
observation is merged into the model (so a new shape cannot become "normal" first). Each place in
a document is judged on its own evidence (`watch/evidence.py`): a BREAKING/WARNING candidate change
that is not sure yet holds its answers back until the next answers confirm it (an alert) or
contradict it (they are learned), or its place goes unseen for long (`evidence.MAX_IDLE`). A
response with BREAKING or WARNING drift is withheld from the learned schema while its alert is open;
resolving the alert as "expected" merges what was withheld, so the schema moves on to the new
contract. INFO (new field) responses are learned as usual: the new field becomes an optional one
(in an object of another kind, a few answers later: see `evidence.holds`).
A change of a learned contract whose place is later seen as learned again (the field is back, the
value non-null again) is withdrawn: it was an optional or nullable place that looked stable; an
alert left with no BREAKING/WARNING change learns what it withheld, and with none at all it
resolves itself as "withdrawn". A field of a named object missing (or null) for the first time is,
before it alerts, weighed with the same-named objects of the host's other answers (`watch/kin.py`).
An answer of a young endpoint (one no consolidation has placed yet) that its template's history
judged doubtful waits for the next consolidation (`held_young`): folded into the template, it joins
the template's suspicion or open alert; kept apart, its endpoint learns it, and the runs it
lengthened in the template's suspicion are taken back.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..model.redact import redact_json
from ..model.schema import SchemaNode
from ..watch.alerts import Alert, AlertBook
from ..watch.drift import INFO, NOWHERE, Change, check_response
from ..watch.evidence import MAX_RUNS, Suspicion, holds, weighed
from ..watch.health import HealthHistory, endpoint_health, global_score, status_of
from ..watch.kin import KIN_KINDS, MAX_NODES_VISITED, weigh_with_kin
from .endpoint import Endpoint
from .observation import Observation

DEFAULT_DRIFT_AFTER = 8  # answers a place in a document needs before it is judged
# answers of a status judged every one (the learner learns every body until as many:
# `brain.SAMPLE_ALL_UNTIL`); past them, of those the learner does not sample, one in three is judged
# until JUDGE_THIRD_UNTIL, then one in ten, while nothing is suspected (`Watchdog.passes_over`)
JUDGE_ALL_UNTIL = 200
JUDGE_THIRD_UNTIL = 1000


_NOT_FOUND = frozenset((404, 410))
NOT_FOUND_RUN = 25  # 404s in a row of a path with a parameter, nothing found between, before they count


def judged_one_in(seen: int) -> int:
    """Of the answers of a status the learner only counts, one in this many is judged, once `seen`
    of its answers were (nothing being suspected there)."""
    return 1 if seen < JUDGE_ALL_UNTIL else 3 if seen < JUDGE_THIRD_UNTIL else 10


class Watchdog:
    def __init__(self, drift_after: int = DEFAULT_DRIFT_AFTER, enabled: bool = True) -> None:
        self.enabled = enabled
        self.drift_after = drift_after
        self.alerts = AlertBook()
        self.history = HealthHistory()
        self.reports: list[tuple[Alert, list[Change], bool]] = []  # (alert, new changes, opened)
        # (host, method, skeleton, status) -> candidate changes not sure enough yet (memory only)
        self.suspicions: dict[tuple[str, str, str, int], Suspicion] = {}
        # the same key, of a young endpoint -> (the key of the history that judged its answers, the
        # answers held back meanwhile: `check`'s `young`), apart from its own suspicion: they are
        # learned, or follow it into the template, once a consolidation has said where it belongs
        self.held_young: dict[tuple[str, str, str, int], tuple[tuple[str, str, str, int], Suspicion]] = {}
        # endpoints (host, method, skeleton) whose saved suspicions changed by other answers than their
        # own (young endpoints' answers they judged, evidence taken back): `Brain.take_changes` saves them
        self.touched: set[tuple[str, str, str]] = set()

    def stable_schema(self, ep: Endpoint, status: int):
        """The learned response schema of this status once some place in it can be judged (at
        once when an imported spec declared it: the spec is the baseline), else None."""
        node = ep.responses.get(str(status))
        if node is None:
            return None
        return node if node.count >= self.drift_after or declared(ep, status) else None

    def wants_body(self, ep: Endpoint, status: int) -> bool:
        return self.enabled and self.stable_schema(ep, status) is not None

    def passes_over(self, ep: Endpoint, status: int) -> bool:
        """Whether an answer the learner only counts (a busy endpoint's, past the bodies it samples:
        `Brain._count_only`) goes unjudged: past the first JUDGE_ALL_UNTIL answers of its status,
        one whose endpoint and status have nothing suspected and no alert open, unless it is one in
        three (past JUDGE_THIRD_UNTIL, one in ten) of its status' own answers (`judged_one_in`).
        Every answer the learner samples is judged too (all of a status' first 200, then one in ten
        of the endpoint's: a status whose answers come in step with those would never be). A change
        on a busy endpoint is seen within three (then ten) answers of its status that show it (a
        change of an optional field, only in the answers that have it), and from then on, its
        suspicion open, every answer is. An unjudged answer is not learned either,
        so nothing it changed gets into the contract unseen; errors in a row are counted by the
        endpoint's statistics (`Endpoint.shape_succeeded`), judged or not."""
        seen = ep.stats.statuses.get(status, 0)
        if seen % judged_one_in(seen) == 0:
            return False
        key = (ep.host, ep.method, ep.skeleton, status)
        return key not in self.suspicions and key not in self.alerts.open

    def check(self, ep: Endpoint, named: Callable[[str], str], obs: Observation,
              query: list[tuple[str, str]], body: Any, is_json: bool, young: Endpoint | None = None,
              kin: Iterable[Endpoint] = (), vouched: bool = True) -> bool:
        """Weigh one response's changes; record the sure ones. True when the body must not be
        learned (now: it drifted, or it is held back until its suspicion is settled). `young`: the
        endpoint whose answer it is, when another (`ep`, `Brain._elder`) judges it: a doubtful answer
        is held back for `young` (`held_young`), not for `ep`: were it learned by `young` at once,
        the next consolidation, which most likely folds `young` into `ep`, would bring the change in
        as if learned (and withdraw its alert). `kin`: the host's endpoints, whose same-named
        objects may show a place optional (`watch/kin.py`). `vouched` False: only the path says `ep`'s
        history is this answer's (`Brain._elder`): its changes extend their runs but never alert
        on this answer alone."""
        if not self.enabled:
            return False
        status = obs.status
        key = (ep.host, ep.method, ep.skeleton, status)
        suspicion = self.suspicions.get(key)
        alert = self.alerts.open.get(key)
        certain = declared(ep, status)
        changes, fine, errors = self._candidates(ep, status, certain, query, body, is_json, suspicion, alert)
        released = None  # an alert left with no drift, whose withheld answers are to be learned
        if alert is not None and fine and not certain:
            alert, released = self._contradicted(alert, fine, changes, obs.ts)
        if not changes and suspicion is None:
            if released is not None:
                resolve_into(ep, released)
            return False
        if suspicion is None:
            suspicion = self.suspicions[key] = Suspicion()
        if young is not None:
            self.touched.add(ep.key)  # (the judge's suspicion, saved with it, is its own answers' no more)
        running = set(suspicion.runs) if self.held_young else set()  # (only young answers' loans need it)
        schema = ep.responses.get(str(status))
        kin_roots = (lambda: [n for e in kin for n in e.responses.values()]) if schema is not None else None
        sure, doubtful, runs = self._weigh(changes, fine, is_json, errors, certain, suspicion, alert, schema, kin_roots,
                                           vouched)
        withheld = bool(sure) and self._record(ep, named, obs, sure, runs, suspicion, body, is_json)
        if ended := running - suspicion.runs.keys():  # (alerted, or seen as usual: nothing lent to them is left)
            self._forget_lent(key, ended)
        young_key = (young.host, young.method, young.skeleton, status) if young is not None else None
        if young_key is not None and (lent := [k for k in runs if k in suspicion.runs]):
            held = self._held_for(young_key, key)
            for change_key in lent:  # (the judge's runs it lengthened: taken back if `young` is kept apart)
                if change_key in held.runs or len(held.runs) < MAX_RUNS:
                    held.runs[change_key] = (held.runs.get(change_key, (0, False))[0] + 1, False)
        if not withheld and doubtful:
            if young_key is None:
                suspicion.hold(body, is_json)
            else:
                self._held_for(young_key, key).hold(body, is_json)
            withheld = True
        if released is not None:
            self._learn_withheld(ep, key, released, suspicion)
        if not suspicion.holding() and (suspicion.held or suspicion.overflow or suspicion.held_other):
            release(ep, str(status), suspicion)
        if not suspicion.runs:  # (what it held, no run holding it, was released just above)
            del self.suspicions[key]  # (nothing suspected any more: as if never, as a reload has it)
        return withheld

    def settled(self, host: str, endpoints: Mapping[tuple[str, str], Endpoint]) -> list[Endpoint]:
        """A consolidation of `host` ran (its folded endpoints' held answers went with them: `rekey`):
        the endpoints it kept apart learn what was held back for them while they were young. The
        endpoints that learned something (an endpoint gone since is not looked for)."""
        learned = []
        for key in [k for k in self.held_young if k[0] == host]:
            judge, held = self.held_young.pop(key)
            if judge != key:
                self._take_back(judge, held)
            else:
                held.runs.clear()  # (its judge became the endpoint itself: what it lent is its own)
            ep = endpoints.get((key[1], key[2]))
            if ep is not None:
                if held.held_count():
                    release(ep, str(key[3]), held)
                learned.append(ep)  # (saved: what was saved for it while young is gone)
        return learned

    def saved_suspicions(self, ep: Endpoint) -> dict[str, dict[str, Any]]:
        """The endpoint's candidate changes not sure yet, per status, as saved with it."""
        out = {}
        for status in ep.stats.statuses:
            key = (ep.host, ep.method, ep.skeleton, int(status))
            suspicion, young = self.suspicions.get(key), self.held_young.get(key)
            if suspicion is None and young is None:
                continue
            out[str(status)] = d = (suspicion or Suspicion()).to_dict()
            if young is not None:
                judge, held = young
                d["young"] = {**held.to_dict(), "judge": list(judge)}
        return out

    def load_suspicions(self, ep: Endpoint, saved: dict[str, dict[str, Any]]) -> None:
        for status, d in saved.items():
            key = (ep.host, ep.method, ep.skeleton, int(status))
            if d.get("runs") or d.get("held") or d.get("held_other"):
                self.suspicions[key] = Suspicion.from_dict(d)
            if d.get("young"):
                judge = d["young"].get("judge") or key
                self.held_young[key] = ((str(judge[0]), str(judge[1]), str(judge[2]), int(judge[3])),
                                        Suspicion.from_dict(d["young"]))

    def rekey(self, host: str, method: str, skeleton: str, target: str, folded: bool = False) -> None:
        """An endpoint's skeleton became `target` (templates changed): its candidate changes and
        the answers they hold back follow it (into the suspicion already there, if any). `folded`:
        into another endpoint; what was held back for it while young then joins that endpoint's
        withheld answers if a drift alert is open there (they may bring its change), else its
        suspicion (learned when that comes to nothing)."""
        for key in [k for k in self.suspicions if k[:3] == (host, method, skeleton)]:
            moved = self.suspicions.pop(key)
            home = self.suspicions.get((host, method, target, key[3]))
            if home is None:
                self.suspicions[(host, method, target, key[3])] = moved
            else:
                home.absorb(moved)
        self._rejudge(host, method, skeleton, target)
        for key in [k for k in self.held_young if k[:3] == (host, method, skeleton)]:
            judge, moved = self.held_young.pop(key)
            new = (host, method, target, key[3])
            alert = self.alerts.open.get(new)
            if not folded:
                if (there := self.held_young.get(new)) is not None:
                    there[1].absorb(moved)
                    moved = there[1]
                self.held_young[new] = (judge, moved)
                continue
            if judge != new:  # folded elsewhere than into the history that judged it
                self._take_back(judge, moved)
            moved.runs.clear()  # (what they lent is the judge's own now, or taken back)
            if not moved.held_count():
                continue  # (it only lent)
            if alert is not None and alert.label != INFO:
                alert.count += moved.held_count()
                withhold_held(alert, moved)
                self.alerts.dirty.add(alert.id)
            else:
                home = self.suspicions.get(new)
                if home is None:
                    home = self.suspicions[new] = Suspicion()
                home.absorb(moved)

    def _rejudge(self, host: str, method: str, skeleton: str, target: str) -> None:
        """The history at `skeleton` moved to `target`: what young endpoints' answers lent it follows."""
        for young_key, (judge, held) in list(self.held_young.items()):
            if judge[:3] == (host, method, skeleton):
                self.held_young[young_key] = ((host, method, target, judge[3]), held)

    def _take_back(self, judge: tuple[str, str, str, int], held: Suspicion) -> None:
        """The answers held for a young endpoint turned out not to be the judge's: the runs they
        lengthened in its suspicion are shortened again (`held.runs`: by how many answers)."""
        suspicion = self.suspicions.get(judge)
        if suspicion is not None and held.runs:
            self.touched.add(judge[:3])
            for change_key, (lent, _) in held.runs.items():
                run = suspicion.runs.get(change_key)
                if run is not None and run[0] > lent:
                    suspicion.runs[change_key] = (run[0] - lent, run[1])
                elif run is not None:
                    del suspicion.runs[change_key]
        held.runs.clear()

    def _forget_lent(self, judge: tuple[str, str, str, int], ended: set[tuple[str, str]]) -> None:
        """The judge's runs of `ended` are over: what young endpoints' answers lent them is no
        longer in them (`_take_back` must not shorten a later run by it)."""
        for young_key, (by, held) in self.held_young.items():
            if by == judge and held.runs.keys() & ended:
                for change_key in ended:
                    held.runs.pop(change_key, None)
                self.touched.add(young_key[:3])  # (saved with the young endpoint)

    def _judged_by(self, key: tuple[str, str, str, int]) -> list[Suspicion]:
        """Take out what is held for young endpoints whose answers the history at `key` judged."""
        keys = [k for k, (judge, _) in self.held_young.items() if judge == key]
        self.touched.update(k[:3] for k in keys)  # (what was saved with them is gone)
        return [self.held_young.pop(k)[1] for k in keys]

    def _held_for(self, young_key: tuple[str, str, str, int], judge: tuple[str, str, str, int]) -> Suspicion:
        """What is held for a young endpoint's answers, judged at `judge` (created if need be)."""
        entry = self.held_young.get(young_key)
        held = entry[1] if entry is not None else Suspicion()
        if entry is not None and entry[0] != judge:
            held.runs.clear()  # (lent to another history: one judge is kept, and only its loans are taken back)
        self.held_young[young_key] = (judge, held)
        return held

    def _candidates(self, ep: Endpoint, status: int, certain: bool, query: list[tuple[str, str]], body: Any,
                    is_json: bool, suspicion: Suspicion | None,
                    alert: Alert | None) -> tuple[list[Change], set[str], int]:
        """The answer's candidate changes, the followed places it had as usual (`drift.inspect`)
        and the errors in a row of its request shape (0: not applicable)."""
        schema = self.stable_schema(ep, status)
        successes, errors = 0, 0
        if status >= 400:
            shape = ep.shape_succeeded(query, self.drift_after)
            if shape is not None and ep.stats.statuses.get(status, 0) <= shape[1]:
                successes, errors = shape
                # (a 404 of a path with a parameter says the item asked for is not there: clients ask for
                # deleted and unknown ids all the time; only a long run of them, no item found at all, is
                # the endpoint gone, as a 404 of a fixed path is at once)
                if status in _NOT_FOUND and "{" in ep.skeleton and errors < NOT_FOUND_RUN:
                    successes, errors = 0, 0
        if schema is None:  # (nothing learned to compare the body with)
            return check_response(None, False, body, is_json, status, successes)[0], set(), errors
        always_json = schema.count >= ep.sampled[str(status)]
        # the places followed: those of the candidates not sure yet and of the alert's changes
        watched = ({path for path, _ in suspicion.runs} or NOWHERE) if suspicion is not None else NOWHERE
        if alert is not None and not certain and (standing := alert.watched()):
            watched = standing | set(watched)  # (NOWHERE kept otherwise: an empty set costs every leaf a path)
        min_count = 1 if certain else self.drift_after
        changes, fine = check_response(schema, always_json, body, is_json, status, successes, min_count, watched)
        if certain:  # a declared optional field counts as seen "in all but one" object: it is optional
            changes = [c for c in changes if not c.exceptions]
        return changes, fine, errors

    def _contradicted(self, alert: Alert, fine: set[str], changes: list[Change],
                      ts: float) -> tuple[Alert | None, Alert | None]:
        """A learned (not declared) contract is a sample: a place seen as learned again after its
        alert shows it was optional or nullable, not changed. The alert (None once it closed), and
        the alert again when nothing drifted after all: what it withheld is to be learned."""
        if alert.withdraw(fine, {c.key for c in changes}):
            self.alerts.dirty.add(alert.id)
            if alert.label == INFO:
                if not alert.change_list():
                    self.alerts.close_withdrawn(alert, ts)
                    return None, alert
                return alert, alert
        return alert, None

    def _learn_withheld(self, ep: Endpoint, key: tuple[str, str, str, int], alert: Alert,
                        suspicion: Suspicion) -> None:
        """What an alert left with no drift withheld is learned, unless this very answer drifted
        (it joins that alert) or a candidate not sure yet holds answers back (it waits with them):
        the withheld answers may well bring that change too, and learned they would make it look
        as usual."""
        now = self.alerts.open.get(key)
        moved = (alert.pending.count if alert.pending is not None else 0) + alert.pending_other
        if now is not None and now.label != INFO:
            if now is not alert:
                if alert.pending is not None:
                    if now.pending is None:
                        now.pending = SchemaNode()
                    now.pending.merge(alert.pending)
                now.pending_other += alert.pending_other
                now.count += moved
                alert.pending, alert.pending_other = None, 0
                self.alerts.dirty.add(now.id)
        elif any(hold and kind != "new_field" for (_, kind), (_, hold) in suspicion.runs.items()):
            # (a change of the learned contract is weighed: a new field alone says nothing of them)
            suspicion.keep(alert.pending, alert.pending_other)
            if alert.resolution is None:  # still open (INFO changes left): they are no longer its own
                alert.count -= moved
            alert.pending, alert.pending_other = None, 0
        else:
            resolve_into(ep, alert)

    @staticmethod
    def _weigh(changes: list[Change], fine: set[str], is_json: bool, errors: int, certain: bool,
               suspicion: Suspicion, alert: Alert | None, schema: SchemaNode | None = None,
               kin_roots: Callable[[], list[SchemaNode]] | None = None, vouched: bool = True,
               ) -> tuple[list[Change], bool, dict[tuple[str, str], int]]:
        """Count the answer into the suspicion's runs: (the changes sure now, whether a candidate
        not sure yet holds the answer back (`evidence.holds`), each candidate's run). A learned
        field missing (or null) about to alert is first weighed with its kin elsewhere in the
        host's answers (`kin.py`)."""
        runs = suspicion.update([c for c in changes if c.kind != "error_status"], fine, is_json)
        sure, doubtful, held = [], False, suspicion.held_count()
        roots = None
        budget = [MAX_NODES_VISITED]  # (one for the whole answer, however many changes it brings)
        for c in changes:
            run = errors + 1 if c.kind == "error_status" else runs[c.key]
            weighed_change, alert_now = weighed(c, run, certain, vouched)
            if alert_now and not certain and kin_roots is not None and not c.exceptions \
                    and c.kind in KIN_KINDS and not (alert is not None and alert.stands(c.key)):
                if roots is None:
                    roots = kin_roots()
                assert schema is not None  # `check` passes kin_roots only with a schema
                kin_change = weigh_with_kin(c, schema, roots, budget)
                if kin_change is None:  # optional in its kin: no change, the answer is learned
                    suspicion.runs.pop(c.key, None)
                    continue
                if kin_change is not c:  # optional now and then in its kin: far stronger evidence needed
                    c = kin_change
                    if c.key in suspicion.runs:  # (a full suspicion takes no new places: `Suspicion.update`)
                        suspicion.runs[c.key] = (run, holds(c, run, held))
                    weighed_change, alert_now = weighed(c, run, certain, vouched)
            if alert_now or (alert is not None and alert.stands(c.key)):
                sure.append(weighed_change)
                suspicion.runs.pop(c.key, None)
            elif c.key in suspicion.runs and holds(c, run, held):  # (a full suspicion follows no new place)
                doubtful = True
        return sure, doubtful, runs

    def _record(self, ep: Endpoint, named: Callable[[str], str], obs: Observation, sure: list[Change],
                runs: dict[tuple[str, str], int], suspicion: Suspicion, body: Any, is_json: bool) -> bool:
        """Record the sure changes in their alert; True when the answer drifted (BREAKING or
        WARNING): it is withheld, with the answers held back for the suspicion."""
        drifted = any(c.label != INFO for c in sure)
        status = obs.status
        key = (ep.host, ep.method, ep.skeleton, status)
        opened = key not in self.alerts.open
        young = self._judged_by(key) if drifted else []  # suspected before the alert, as the suspicion's
        earlier = suspicion.held_count() + sum(h.held_count() for h in young) if drifted else 0
        alert, new = self.alerts.record(ep.host, ep.method, ep.skeleton, named(ep.skeleton), status, sure, obs.ts,
                                        runs, earlier)
        if new:
            self.reports.append((alert, new, opened))
        if drifted:
            self.alerts.withhold(alert, redact_json(body) if is_json else None, is_json)
            for held in (suspicion, *young):
                withhold_held(alert, held)
        return drifted

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


def release(ep: Endpoint, code: str, suspicion: Suspicion) -> None:
    """Answers held back for a suspicion that came to nothing are learned after all."""
    held, other = suspicion.take(ep.responses.setdefault(code, SchemaNode()))
    ep.sampled[code] += held + other


def withhold_held(alert: Alert, held: Suspicion) -> None:
    """Answers held back for a suspicion join what a drift alert withholds (and leave the suspicion)."""
    if alert.pending is None:
        alert.pending = SchemaNode()
    alert.pending_other += held.take(alert.pending)[1]


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
