"""The chaos engine: for one request, which rules fire and what the proxy must do. Pure.

Randomness and time are handed in: every rule draws from its own `random.Random` seeded from
(`mimic_seed`, rule name), so adding or removing a rule never shifts another rule's sequence,
and token buckets read an injected clock. Every rule whose scope matches draws on every request,
whether or not an earlier rule already answered, for the same reason.

What the learned model offers (template, latency histogram, statuses, error bodies) comes in as
an `EndpointView`, built by `endpoint_view` from the Brain.
"""
from __future__ import annotations

import fnmatch
import json
import math
import random
import urllib.parse
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from ..model.paths import split_path
from .chaos_rules import (QUANTILES, Error, Latency, Observed, Profile, RateLimit, Reset, Rule,
                          SlowBody, Timeout, path_matches)

MAX_BUCKET_KEYS = 10_000      # token buckets kept per rule (least recently used are forgotten)
MAX_COUNT_LABELS = 2_000      # distinct (rule, endpoint) counters before they fold into "(other)"
PROBLEM_TYPE = "application/problem+json"


@dataclass(frozen=True)
class ChaosRequest:
    host: str                         # host key as the learner uses it ("api.x.com", "127.0.0.1:8001")
    method: str
    path: str                         # without the query
    headers: Mapping[str, str]        # lower-case names
    client: str                       # client address


@dataclass
class EndpointView:
    """What the learned model says about the request's endpoint."""

    template: str                             # named template, "/users/{user_id}"
    histogram: Any = None                     # LatencyHistogram or None
    statuses: Mapping[int, int] = field(default_factory=dict)
    count: int = 0
    examples: Mapping[str, Any] = field(default_factory=dict)

    def quantile(self, q: float) -> float | None:
        h = self.histogram
        return h.quantile(q) if h is not None and h.count else None


@dataclass(frozen=True)
class Answer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass
class Plan:
    """What to do with one request. Empty (`not plan`) when no rule applies."""

    rules: list[str] = field(default_factory=list)     # rules that changed something, in order
    delay_s: float = 0.0                                # wait before forwarding / answering
    answer: Answer | None = None                        # short-circuit with this response
    reset: bool = False                                 # drop the connection (after delay_s)
    bytes_per_second: int | None = None                 # throttle the response body
    headers: tuple[tuple[str, str], ...] = ()           # add to a response that passed (RateLimit-*)

    @property
    def fault(self) -> bool:
        """True when the client does not get the backend's own answer."""
        return self.answer is not None or self.reset

    def __bool__(self) -> bool:
        return bool(self.rules or self.headers)


def problem(status: int, title: str = "", detail: str = "", type_: str = "about:blank",
            rule: str = "") -> bytes:
    """An RFC 9457 problem document."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    doc: dict[str, Any] = {"type": type_, "title": title or phrase, "status": status,
                           "detail": detail or f"Injected by Mimic chaos rule {rule!r}"}
    return json.dumps(doc).encode()


class _Bucket:
    __slots__ = ("tokens", "at")

    def __init__(self, tokens: float, at: float) -> None:
        self.tokens, self.at = tokens, at


class _RuleState:
    def __init__(self, rule: Rule, seed: int) -> None:
        self.rule = rule
        self.rng = random.Random(f"mimic-chaos:{seed}:{rule.name}")
        self.parts = rule.scope.path_parts
        self.uses_template = rule.scope.uses_template
        self.bad: bool | None = None                       # Markov state; None before the first draw
        self.buckets: OrderedDict[str, _Bucket] = OrderedDict()

    # -- scope -------------------------------------------------------------------------------------------
    def matches(self, req: ChaosRequest, parts: list[str], view: Callable[[], EndpointView | None]) -> bool:
        s = self.rule.scope
        if s.methods is not None and req.method not in s.methods:
            return False
        if s.host is not None:
            bare = req.host.rsplit(":", 1)[0] if req.host.rsplit(":", 1)[-1].isdigit() else req.host
            if not (fnmatch.fnmatchcase(req.host.lower(), s.host) or fnmatch.fnmatchcase(bare.lower(), s.host)):
                return False
        for name, pattern in s.headers:
            value = req.headers.get(name)
            if value is None or not fnmatch.fnmatchcase(value, pattern):
                return False
        if self.parts is not None:
            template = None
            if self.uses_template:
                v = view()
                if v is not None:
                    t = split_path(v.template)
                    template = t if len(t) == len(parts) else None
            if not path_matches(self.parts, parts, template):
                return False
        return True

    # -- draws -------------------------------------------------------------------------------------------
    def fires(self) -> bool:
        """One draw of the rule's gate: uniform, or the good/bad Markov chain of a burst rule."""
        p = self.rule.probability
        u = self.rng.random()
        burst = self.rule.burst
        if burst is None or p in (0.0, 1.0):
            return u < p
        if self.bad is None:
            self.bad = u < p                       # start from the stationary distribution
        elif self.bad:
            self.bad = u >= 1.0 / burst.mean_length
        else:
            self.bad = u < p / (burst.mean_length * (1.0 - p))
        return self.bad

    def take_token(self, rl: RateLimit, key: str, now: float) -> tuple[bool, float, float]:
        """(allowed, tokens left, seconds until one token is back)."""
        b = self.buckets.get(key)
        if b is None:
            b = self.buckets[key] = _Bucket(float(rl.burst), now)
            if len(self.buckets) > MAX_BUCKET_KEYS:
                self.buckets.popitem(last=False)
        else:
            self.buckets.move_to_end(key)
            b.tokens = min(float(rl.burst), b.tokens + (now - b.at) * rl.rate)
            b.at = now
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return True, b.tokens, 0.0 if b.tokens >= 1.0 else (1.0 - b.tokens) / rl.rate
        return False, b.tokens, (1.0 - b.tokens) / rl.rate


def sample_histogram(h: Any, rng: random.Random) -> float | None:
    """A latency drawn from a LatencyHistogram: a bucket by its count, then log-uniform inside it."""
    if h is None or not h.count:
        return None
    from ..model.stats import HISTOGRAM_BASE_MS, HISTOGRAM_RATIO

    pick = rng.random() * h.count
    seen = 0
    for i in sorted(h.buckets):
        seen += h.buckets[i]
        if seen > pick:
            break
    value = HISTOGRAM_BASE_MS * HISTOGRAM_RATIO ** (i + rng.random())
    return min(max(value, h.min), h.max)


class ChaosEngine:
    """Decides, request by request, what the active profile's rules do."""

    def __init__(self, profile: Profile, seed: int = 0, clock: Callable[[], float] | None = None) -> None:
        import time

        self.profile = profile
        self.seed = seed
        self.clock = clock or time.monotonic
        self.states = [_RuleState(r, seed) for r in profile.rules]

    def decide(self, req: ChaosRequest, view: Callable[[], EndpointView | None] = lambda: None) -> Plan:
        plan = Plan()
        if not self.states:
            return plan
        parts = [urllib.parse.unquote(p) for p in split_path(req.path)]
        cached: list[EndpointView | None] = []

        def endpoint() -> EndpointView | None:
            if not cached:
                cached.append(view())
            return cached[0]

        for st in self.states:
            if st.matches(req, parts, endpoint):
                self._apply(st, req, endpoint, plan)
        return plan

    def _apply(self, st: _RuleState, req: ChaosRequest, endpoint: Callable[[], EndpointView | None],
               plan: Plan) -> None:
        rule, a = st.rule, st.rule.action
        fired = st.fires()
        terminal_free = not plan.fault
        if isinstance(a, RateLimit):
            if not fired:
                return
            key = req.client if a.key == "client" else req.headers.get(a.key[7:], "")
            ok, left, wait = st.take_token(a, key, self.clock())
            limit = (("RateLimit-Limit", str(a.burst)), ("RateLimit-Remaining", str(int(left))),
                     ("RateLimit-Reset", str(math.ceil(wait))),
                     ("RateLimit-Policy", f"{a.burst};w={max(1, round(a.burst / a.rate))}"))
            if ok:
                plan.headers += limit
            elif terminal_free:
                retry = str(max(1, math.ceil(wait)))
                body = problem(429, detail=f"Rate limit of {a.rate:g}/s (burst {a.burst}) exceeded", rule=rule.name)
                plan.answer = Answer(429, (("Content-Type", PROBLEM_TYPE), ("Retry-After", retry), *limit), body)
                plan.rules.append(rule.name)
            return
        if isinstance(a, Observed):
            self._observed(st, a, fired, endpoint(), plan, terminal_free)
            return
        if not fired:
            return
        if isinstance(a, Latency):
            ms = self._latency_ms(st, a, endpoint)
            if ms is None:
                return
            plan.delay_s += ms / 1000.0
        elif isinstance(a, SlowBody):
            plan.bytes_per_second = min(plan.bytes_per_second or a.bytes_per_second, a.bytes_per_second)
        elif not terminal_free:
            return                                  # an earlier rule already answered
        elif isinstance(a, Error):
            headers = dict(a.headers)
            if a.body is not None:
                body = a.body.encode() if isinstance(a.body, str) else json.dumps(a.body).encode()
                ctype = "text/plain" if isinstance(a.body, str) else "application/json"
            else:
                body, ctype = problem(a.status, a.title, a.detail, a.type, rule.name), PROBLEM_TYPE
            if not any(k.lower() == "content-type" for k in headers):
                headers = {"Content-Type": ctype, **headers}
            plan.answer = Answer(a.status, tuple(headers.items()), body)
        elif isinstance(a, Reset):
            plan.reset = True
        elif isinstance(a, Timeout):
            plan.delay_s += a.after_ms / 1000.0
            if a.then == "drop":
                plan.reset = True
            else:
                plan.answer = Answer(504, (("Content-Type", PROBLEM_TYPE),),
                                     problem(504, detail=f"Timed out after {a.after_ms:g} ms (Mimic chaos)", rule=rule.name))
        plan.rules.append(rule.name)

    @staticmethod
    def _latency_ms(st: _RuleState, a: Latency, endpoint: Callable[[], EndpointView | None]) -> float | None:
        if a.fixed_ms is not None:
            return a.fixed_ms * a.factor
        if a.min_ms is not None and a.max_ms is not None:
            return st.rng.uniform(a.min_ms, a.max_ms) * a.factor
        v = endpoint()
        q = v.quantile(QUANTILES[a.learned]) if v is not None and a.learned else None
        return None if q is None else q * a.factor

    @staticmethod
    def _observed(st: _RuleState, a: Observed, fired: bool, v: EndpointView | None, plan: Plan,
                  terminal_free: bool) -> None:
        """The endpoint's own behaviour: an error with its learned rate, status mix and body, and a
        latency drawn from its learned histogram, both scaled by `factor`. Draws are made in a fixed
        order whatever the endpoint knows, so sequences stay stable while the model grows."""
        u_err, u_status, u_lat = st.rng.random(), st.rng.random(), random.Random(st.rng.random())
        if not fired or v is None or not v.count:
            return
        applied = False
        if a.latency:
            ms = sample_histogram(v.histogram, u_lat)
            if ms is not None and ms * a.factor > 0:
                plan.delay_s += ms * a.factor / 1000.0
                applied = True
        errors = {s: c for s, c in v.statuses.items() if s >= a.min_status}
        rate = min(1.0, a.factor * sum(errors.values()) / v.count)
        if a.errors and terminal_free and errors and u_err < rate:
            pick, seen = u_status * sum(errors.values()), 0
            for status in sorted(errors):
                seen += errors[status]
                if seen > pick:
                    break
            example = v.examples.get(str(status))
            if example is not None:
                answer = Answer(status, (("Content-Type", "application/json"),), json.dumps(example).encode())
            else:
                answer = Answer(status, (("Content-Type", PROBLEM_TYPE),),
                                problem(status, detail="Learned failure replayed by Mimic chaos", rule=st.rule.name))
            plan.answer = answer
            applied = True
        if applied:
            plan.rules.append(st.rule.name)


def endpoint_view(brain: Any, host: str, method: str, path: str) -> EndpointView | None:
    """The learned endpoint a concrete request belongs to, or None when the Brain does not know it."""
    parts = [urllib.parse.unquote(p) for p in split_path(path)]
    with brain.lock:
        model = brain.hosts.get(host)
        if model is None:
            return None
        skeleton = model.tree.match(method, parts)
        if skeleton is None:
            return None
        ep = model.endpoints.get((method, skeleton))
        template = model.tree.named(skeleton)
        if ep is None:
            return EndpointView(template)
        return EndpointView(template, ep.stats.latency, dict(ep.stats.statuses), ep.stats.count, dict(ep.examples))


class Counts:
    """Faults injected, per (rule, endpoint label); bounded, mergeable, JSON-serialisable."""

    def __init__(self) -> None:
        self.by: Counter[tuple[str, str]] = Counter()

    def add(self, rule: str, label: str, n: int = 1) -> None:
        key = (rule, label)
        if key not in self.by and len(self.by) >= MAX_COUNT_LABELS:
            key = (rule, "(other)")
        self.by[key] += n

    def to_dict(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for (rule, label), n in sorted(self.by.items()):
            out.setdefault(rule, {})[label] = n
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Mapping[str, int]] | None) -> Counts:
        c = cls()
        for rule, labels in (d or {}).items():
            for label, n in labels.items():
                c.by[(rule, label)] += int(n)
        return c

    def per_rule(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for (rule, _), n in self.by.items():
            out[rule] += n
        return out
