"""Answers from the learned model: pick a status (and latency), then a body from the synthesizer.

`Mocker.answer(ep, template, ...)` reads one learned `Endpoint` (the caller holds the Brain's lock)
and returns a `MockAnswer`. Plans are compiled once per (endpoint, status, schema version).
`closest(...)` names the learned templates nearest to an unknown request, for the 404.
"""
from __future__ import annotations

import difflib
import json
import math
import random
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from faker import Faker

from ..learn.endpoint import Endpoint
from ..model import safe_json
from ..model.paths import PARAM, TAIL, aligned, param_name
from ..model.stats import HISTOGRAM_BASE_MS, HISTOGRAM_RATIO
from .request_check import is_json_document
from .synth import Context, NameIndex, Plan, compile_plan, generate

REALISM = ("happy", "realistic")
MAX_CACHED_ANSWERS = 4096
MAX_CACHED_BODY = 64 * 1024
JSON = "application/json"


@dataclass(slots=True, frozen=True)
class MockAnswer:
    status: int
    body: bytes
    content_type: str
    delay_s: float = 0.0


def context_for(template: str, path_parts: list[str], query: dict[str, str], body: Any,
                resource_field: str | None = None) -> Context:
    """Path parameters by name from the named template (`/users/{user_id}`) and the concrete path;
    the last one is also echoed into `resource_field` (default `id`). A parameter taking the rest
    of the path (`/files/{+file_path}`) takes it, slashes and all."""
    names = [p for p in template.split("/") if p]
    pairs = aligned(template, path_parts)
    params = {name: value for segment, value in pairs if (name := param_name(segment)) is not None}
    last = names[-1] if names else ""
    resource = pairs[-1][1] if last.startswith("{") and len(pairs) == len(names) else None
    return Context(params=params, query=query, body=body, resource_id=resource, resource_field=resource_field or "id",
                   resource_learned=resource_field is not None)


def echo_field(tree: Any, skeleton: str) -> str | None:
    """The body key the last path parameter's values came back under most often in learned traffic."""
    if not skeleton.endswith(("/" + PARAM, "/" + TAIL)):
        return None
    node = tree.node_at(skeleton)
    keys = getattr(node, "echo_keys", None)
    return keys.most_common(1)[0][0] if keys else None


def choose_status(ep: Endpoint, realism: str, rng: random.Random) -> int:
    """happy: the dominant 2xx; realistic: sampled from the learned status distribution."""
    statuses = ep.stats.statuses
    if realism == "realistic" and statuses:
        x = rng.random() * sum(statuses.values())
        for status in sorted(statuses):
            x -= statuses[status]
            if x < 0:
                return status
    ok = [(c, s) for s, c in statuses.items() if 200 <= s < 300]
    if ok:
        return max(ok)[1]
    codes = [int(c) for c in ep.responses if c.isdigit() and 200 <= int(c) < 300]
    if codes:
        return min(codes)
    declared = [c for c in (ep.imported or {}).get("codes") or () if isinstance(c, int) and 200 <= c < 300]
    if declared:  # (a spec's success without a body: `DELETE` answering only 204)
        return min(declared)
    return max(((c, s) for s, c in statuses.items()), default=(0, 200))[1]


def sample_latency_ms(ep: Endpoint, rng: random.Random) -> float:
    """A latency drawn from the learned histogram (0 when none was learned)."""
    h = ep.stats.latency
    if not h.count:
        return 0.0
    x = rng.random() * h.count
    for i in sorted(h.buckets):
        x -= h.buckets[i]
        if x < 0:
            lo = HISTOGRAM_BASE_MS * HISTOGRAM_RATIO ** i
            ms = lo * math.exp(rng.random() * math.log(HISTOGRAM_RATIO))
            return min(max(ms, h.min or 0.0), h.max or ms)
    return h.max or 0.0


def _version(endpoints: list[Endpoint]) -> tuple[int, int]:
    """Moves whenever any of these endpoints learns something."""
    return len(endpoints), sum(ep.stats.count for ep in endpoints)


class Mocker:
    def __init__(self) -> None:
        self.fake = Faker()
        self._plans: dict[tuple, tuple[tuple[int, tuple[int, int]], Plan]] = {}
        self._indexes: dict[str, tuple[tuple[int, int], NameIndex]] = {}
        self._answers: OrderedDict[tuple, MockAnswer] = OrderedDict()

    def plan(self, ep: Endpoint, code: str, siblings: Iterable[Endpoint] = ()) -> Plan | None:
        """The compiled plan of one answer; `siblings` (the API's endpoints) tell the values of fields
        this answer only had redacted."""
        endpoints = list(siblings)
        return self._plan(ep, code, endpoints, _version(endpoints))

    def _plan(self, ep: Endpoint, code: str, endpoints: list[Endpoint], version: tuple[int, int]) -> Plan | None:
        node = ep.responses.get(code)
        if node is None or not node.count:
            return None
        key = (ep.key, code)
        learned = (node.count, version)  # the plan also reads the other endpoints' values
        cached = self._plans.get(key)
        if cached is not None and cached[0] == learned:
            return cached[1]
        plan = compile_plan(node, elsewhere=self._names(ep.host, endpoints, learned[1]))
        self._plans[key] = (learned, plan)
        return plan

    def _names(self, host: str, endpoints: list[Endpoint], version: tuple[int, int]) -> NameIndex:
        """The fields of every answer of the API by name, indexed once per version of what was learned."""
        cached = self._indexes.get(host)
        if cached is None or cached[0] != version:
            cached = self._indexes[host] = (version, NameIndex([n for ep in endpoints for n in ep.responses.values()]))
        return cached[1]

    def answer(self, ep: Endpoint, ctx: Context, realism: str, seed: int,
               siblings: Iterable[Endpoint] = (), draw: int | None = None) -> MockAnswer:
        """The answer is a function of the request (through `seed`, which hashes it, and `ctx`, which
        is read from it) and of what was learned (`ep.stats.count` moves whenever that changes), so
        repeated requests are served from a bounded cache instead of being generated again. `draw`:
        the seed of the status and latency instead (realistic mode, one per call); the body of a
        status is the request's own all the same."""
        endpoints = list(siblings)
        version = _version(endpoints)
        key = (ep.key, ep.stats.count, version, realism, seed, draw)
        cached = self._answers.get(key)
        if cached is not None:
            self._answers.move_to_end(key)
            return cached
        answer = self._generate(ep, ctx, realism, seed, endpoints, version, draw)
        if len(answer.body) <= MAX_CACHED_BODY:
            self._answers[key] = answer
            if len(self._answers) > MAX_CACHED_ANSWERS:
                self._answers.popitem(last=False)
        return answer

    def body_of(self, ep: Endpoint, status: int, ctx: Context, seed: int, siblings: Iterable[Endpoint] = ()) -> bytes | None:
        """A body of the shape the endpoint answered `status` with (learned or declared), or None."""
        endpoints = list(siblings)
        plan = self._plan(ep, str(status), endpoints, _version(endpoints))
        if plan is None:
            return None
        self.fake.seed_instance(seed)
        return safe_json.dumps(generate(plan, ctx, random.Random(seed), self.fake), separators=(",", ":")).encode()

    def _generate(self, ep: Endpoint, ctx: Context, realism: str, seed: int,
                  endpoints: list[Endpoint], version: tuple[int, int], draw: int | None = None) -> MockAnswer:
        rng = random.Random(seed)
        status = choose_status(ep, realism, rng)
        delay = sample_latency_ms(ep, rng) / 1000.0 if realism == "realistic" else 0.0
        if draw is not None and draw != seed:  # (`rng` drew as on the first call: the body stays the same)
            drawn = random.Random(draw)
            status = choose_status(ep, realism, drawn)
            delay = sample_latency_ms(ep, drawn) / 1000.0 if realism == "realistic" else 0.0
        code = str(status)
        plan = self._plan(ep, code, endpoints, version)
        types = ep.response_types.get(code)
        ctype = types.most_common(1)[0][0] if types else JSON
        if plan is None:
            if types and 200 <= status < 300 and is_json_document(ctype):
                # JSON bodies were seen, none readable: an empty one would be no JSON
                return MockAnswer(501, json.dumps({"error": UNREADABLE, "status": status}).encode(), JSON, delay)
            return MockAnswer(status, b"", ctype if types else "", delay)
        self.fake.seed_instance(seed)
        value = generate(plan, ctx, rng, self.fake)
        if "json" not in ctype:
            ctype = JSON
        return MockAnswer(status, safe_json.dumps(value, separators=(",", ":")).encode(), ctype, delay)


UNREADABLE = ("Mimic cannot make up this answer: the JSON bodies it saw for it were not readable (malformed, "
              "over mimic_max_body, or not in the Content-Encoding they named)")


def closest(method: str, path: str, templates: list[tuple[str, str, str | None]], n: int = 3) -> list[str]:
    """The learned "METHOD /template" strings nearest to a request, same method first.

    `templates` are (method, template, origin): with an origin (`https://api.example.com`, given when
    templates of several hosts are in play) the label is "METHOD origin/template", so the same
    template on two hosts reads as two suggestions."""
    scored: dict[str, float] = {}
    for m, t, origin in templates:
        label = f"{m} {origin or ''}{t}"
        ratio = difflib.SequenceMatcher(None, path, t).ratio() + (0.5 if m == method else 0.0)
        scored[label] = max(ratio, scored.get(label, 0.0))
    return [label for label, _ in sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]
