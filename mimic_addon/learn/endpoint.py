"""What Mimic knows about one endpoint (host, method, path template): mergeable, serialisable."""
from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from ..model.redact import redact_json
from ..model.schema import SchemaNode
from ..model.stats import EndpointStats
from ..watch.anomaly import EndpointMonitor

if TYPE_CHECKING:
    from .digest import Digest

MAX_EXAMPLE_BYTES = 4096
MAX_QUERY_PARAMS = 64
MAX_CONTENT_TYPES = 8
MAX_SHAPES = 64  # request shapes whose success is tracked (for the drift watchdog)


def redacted_example(value: Any) -> Any:
    """A redacted example, dropped when too big to be useful in a document."""
    return _small(redact_json(value))


def _example(safe: Any, original: Any) -> Any:
    """`redacted_example(safe)` for `safe = redact_json(original)`: when that redacted nothing (the very
    same object came back), redacting it again would too, and the walk is skipped."""
    return _small(safe) if safe is original else redacted_example(safe)


def _small(safe: Any) -> Any:
    """The example, or None when its JSON is too big to be useful in a document."""
    try:
        text = json.dumps(safe, separators=(",", ":"))
    except (TypeError, ValueError):
        return None
    return safe if len(text) <= MAX_EXAMPLE_BYTES else None


class Endpoint:
    def __init__(self, host: str, method: str, skeleton: str) -> None:
        self.host = host
        self.method = method
        self.skeleton = skeleton
        self.stats = EndpointStats()
        self.query: dict[str, SchemaNode] = {}
        self.request: SchemaNode | None = None
        self.request_types: Counter[str] = Counter()
        self.responses: dict[str, SchemaNode] = {}
        self.response_types: dict[str, Counter[str]] = {}
        self.examples: dict[str, Any] = {}
        self.request_example: Any = None
        self.sampled: Counter[str] = Counter()  # bodies observed per status (sampling)
        self.monitor = EndpointMonitor()  # anomaly baselines (watch/)
        # request shape -> [2xx count, error count, errors in a row now] (for the drift watchdog)
        self.shapes: dict[str, list[int]] = {}
        self.imported: dict[str, Any] | None = None  # the spec it came from (imports/openapi_import.py)

    @property
    def key(self) -> tuple[str, str, str]:
        return self.host, self.method, self.skeleton

    # -- learning ------------------------------------------------------------------------------
    def observe(self, *, status: int, latency_ms: float | None, ts: float,
                query: list[tuple[str, str]], fields: list[tuple[str, Any]], request_type: str, request_size: int,
                response_type: str, response_size: int, bodies: Digest | None) -> None:
        """Count one exchange; `fields`: its query parameters' values (`digest.query_fields`);
        `bodies`: its parsed bodies, when they are to be learned (a sample)."""
        self.stats.add(status, latency_ms, response_size, request_size, ts)
        self.monitor.observe(latency_ms, status, response_size)
        self._count_shape(query, status)
        code = str(status)
        if response_size:
            _count_type(self.response_types.setdefault(code, Counter()), response_type)
        if request_size:
            _count_type(self.request_types, request_type)
        for name, value in fields:
            node = self.query.get(name)
            if node is None:
                if len(self.query) >= MAX_QUERY_PARAMS:
                    continue
                node = self.query[name] = SchemaNode()
            node.observe(value)
        if bodies is None:
            return
        bodies.redact()
        self.sampled[code] += 1
        if bodies.request_is_json and not 400 <= status < 500:  # (a request the backend refused is no contract)
            safe = bodies.request_safe
            if self.request is None:
                self.request = SchemaNode()
            self.request.observe(safe)
            if self.request_example is None and 200 <= status < 300:
                self.request_example = _example(safe, bodies.request_json)
        if bodies.response_is_json:
            safe = bodies.response_safe
            self.responses.setdefault(code, SchemaNode()).observe(safe)
            if code not in self.examples:
                example = _example(safe, bodies.response_json)
                if example is not None:
                    self.examples[code] = example

    def _count_shape(self, query: list[tuple[str, str]], status: int) -> None:
        if not (200 <= status < 300 or status >= 400):
            return
        shape = self.shapes.get(request_shape(query))
        if shape is None:
            if len(self.shapes) >= MAX_SHAPES:
                return
            shape = self.shapes[request_shape(query)] = [0, 0, 0]
        if status < 300:
            shape[0] += 1
            shape[2] = 0
        else:
            shape[1] += 1
            shape[2] += 1

    def shape_succeeded(self, query: list[tuple[str, str]], times: int) -> tuple[int, int] | None:
        """(2xx answers, errors in a row now) when this request shape was answered 2xx at least
        `times` times and its only errors are the current run of them; else None."""
        shape = self.shapes.get(request_shape(query))
        if shape is None or shape[0] < times or shape[1] != shape[2]:
            return None
        return shape[0], shape[2]

    def should_sample(self, status: int, every_after: int) -> bool:
        """Every body until `every_after` were seen for this status, then one in ten."""
        n = self.sampled[str(status)]
        return n < every_after or self.stats.count % 10 == 0

    def merge(self, other: Endpoint) -> None:
        self.stats.merge(other.stats)
        for name, node in other.query.items():
            if name in self.query:
                self.query[name].merge(node)
            elif len(self.query) < MAX_QUERY_PARAMS:
                self.query[name] = node
        if other.request is not None:
            if self.request is None:
                self.request = other.request
            else:
                self.request.merge(other.request)
        self.request_types.update(other.request_types)
        for code, node in other.responses.items():
            if code in self.responses:
                self.responses[code].merge(node)
            else:
                self.responses[code] = node
        for code, types in other.response_types.items():
            self.response_types.setdefault(code, Counter()).update(types)
        for code, ex in other.examples.items():
            self.examples.setdefault(code, ex)
        if self.request_example is None:
            self.request_example = other.request_example
        self.sampled.update(other.sampled)
        self.monitor.merge(other.monitor)
        if self.imported is None:
            self.imported = other.imported
        for shape, counts in other.shapes.items():
            mine = self.shapes.setdefault(shape, [0, 0, 0]) if len(self.shapes) < MAX_SHAPES or shape in self.shapes else None
            if mine is not None:
                mine[0] += counts[0]
                mine[1] += counts[1]
                if counts[1]:  # errors in a row survive a merge only when one side had none
                    mine[2] = counts[2] if mine[1] == counts[1] else 0

    # -- persistence -----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "host": self.host, "method": self.method, "template": self.skeleton,
            "count": self.stats.count, "first_seen": self.stats.first_seen, "last_seen": self.stats.last_seen,
            "data": {
                "stats": self.stats.to_dict(),
                "query": {k: v.to_dict() for k, v in self.query.items()},
                "request": self.request.to_dict() if self.request is not None else None,
                "request_types": dict(self.request_types),
                "responses": {k: v.to_dict() for k, v in self.responses.items()},
                "response_types": {k: dict(v) for k, v in self.response_types.items()},
                "examples": self.examples,
                "request_example": self.request_example,
                "sampled": dict(self.sampled),
                "watch": {"monitor": self.monitor.to_dict(), "shapes": self.shapes},
                **({"imported": self.imported} if self.imported is not None else {}),
            },
        }

    @classmethod
    def from_dict(cls, row: dict) -> Endpoint:
        ep = cls(row["host"], row["method"], row["template"])
        d = row["data"]
        ep.stats = EndpointStats.from_dict(d["stats"])
        ep.query = {k: SchemaNode.from_dict(v) for k, v in d.get("query", {}).items()}
        ep.request = SchemaNode.from_dict(d["request"]) if d.get("request") else None
        ep.request_types = Counter(d.get("request_types", {}))
        ep.responses = {k: SchemaNode.from_dict(v) for k, v in d.get("responses", {}).items()}
        ep.response_types = {k: Counter(v) for k, v in d.get("response_types", {}).items()}
        ep.examples = d.get("examples", {})
        ep.request_example = d.get("request_example")
        ep.sampled = Counter(d.get("sampled", {}))
        watch = d.get("watch") or {}
        ep.monitor = EndpointMonitor.from_dict(watch.get("monitor"))
        ep.shapes = {k: (list(v) + [0])[:3] for k, v in watch.get("shapes", {}).items()}
        ep.imported = d.get("imported")
        return ep


def _media(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower() or "application/octet-stream"


def _count_type(types: Counter[str], content_type: str) -> None:
    media = _media(content_type)
    if media in types or len(types) < MAX_CONTENT_TYPES:
        types[media] += 1


def request_shape(query: list[tuple[str, str]]) -> str:
    """What distinguishes kinds of requests to one endpoint cheaply: its query parameter names."""
    return "&".join(sorted({k for k, _ in query})) if query else ""
