"""Contract drift: compare one upstream response with the schema learned for it.

Pure: a parsed body and a `SchemaNode` in, a list of `Change`s out. What counts as drift:

- BREAKING: a field present in every observation is missing; a type changed; a response that
  was always JSON is not JSON; an error status for a request shape that always succeeded.
- WARNING: a never-null field is null; a string format changed (uuid -> free text, date-time ->
  epoch number); a value outside a learned enum.
- INFO: a field never seen before.

Optional fields (seen in only some observations) being absent are not drift.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ..model.redact import REDACTED, is_sensitive_name, redact_json
from ..model.schema import SchemaNode, has_format, json_type

BREAKING, WARNING, INFO = "BREAKING", "WARNING", "INFO"
LABEL_RANK = {BREAKING: 3, WARNING: 2, INFO: 1}

# kind -> label
KINDS = {
    "missing_field": BREAKING,
    "type_changed": BREAKING,
    "not_json": BREAKING,
    "error_status": BREAKING,
    "null_value": WARNING,
    "format_changed": WARNING,
    "new_enum_value": WARNING,
    "new_field": INFO,
}

MAX_CHANGES = 50          # per response: a totally different body is one alert, not a novel
MAX_ITEMS_CHECKED = 20    # array items compared per array
MAX_EXAMPLE_CHARS = 120
_NUMERIC = frozenset(("integer", "number"))
_DATES = frozenset(("date-time", "date"))
ENUM_MIN_RATIO = 5        # observations per enum value before an unseen value is news
# Names of fields whose values are data, not a closed set, even when few were seen.
_OPEN_VALUE_WORDS = frozenset(("id", "ids", "uuid", "name", "username", "login", "email", "slug", "key", "title",
                               "code", "token", "url", "href", "uri", "path", "label", "description", "text",
                               "message", "nickname", "handle", "phone", "address", "firstname", "lastname"))


def _open_valued(key: str) -> bool:
    words = [w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", key)]
    return bool(words) and (words[-1] in _OPEN_VALUE_WORDS or "".join(words) in _OPEN_VALUE_WORDS)


@dataclass(frozen=True, slots=True)
class Change:
    path: str        # JSON path: $.user.avatar_url, $.items[].id
    kind: str        # a key of KINDS
    expected: str    # what the learned schema says ("string", "string (uuid)", "present", ...)
    actual: str      # what arrived
    example: Any = None  # redacted, shortened example of the new value

    @property
    def label(self) -> str:
        return KINDS[self.kind]

    @property
    def key(self) -> tuple[str, str]:
        return self.path, self.kind

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "label": self.label,
                "expected": self.expected, "actual": self.actual, "example": self.example}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Change:
        return cls(d["path"], d["kind"], d.get("expected", ""), d.get("actual", ""), d.get("example"))


def example_of(value: Any, key: str = "") -> Any:
    """A redacted example small enough for a log line."""
    if key and is_sensitive_name(key) and value is not None and not isinstance(value, bool):
        return REDACTED
    safe = redact_json(value)
    if isinstance(safe, (dict, list)):
        text = json.dumps(safe, separators=(",", ":"), default=str)
        return safe if len(text) <= MAX_EXAMPLE_CHARS else text[:MAX_EXAMPLE_CHARS] + "…"
    if isinstance(safe, str) and len(safe) > MAX_EXAMPLE_CHARS:
        return safe[:MAX_EXAMPLE_CHARS] + "…"
    return safe


def _expected_types(counts: dict[str, int]) -> str:
    names = [n for n in counts if n != "null"]
    return " | ".join(names) or "null"


def compare(node: SchemaNode, value: Any, path: str = "$", min_count: int = 1) -> list[Change]:
    """The changes of one parsed JSON body against what `node` learned (bounded work).

    Places in the document observed fewer than `min_count` times (a rarely present sub-object,
    one branch of a polymorphic field) are still learning: they are not judged.
    """
    out: dict[tuple[str, str], Change] = {}
    _walk(node, value, path, "", out, min_count)
    return list(out.values())


def _add(out: dict[tuple[str, str], Change], change: Change) -> None:
    if len(out) < MAX_CHANGES:
        out.setdefault(change.key, change)


def _walk(node: SchemaNode, value: Any, path: str, key: str, out: dict, min_count: int) -> None:
    if node.count < min_count:
        return
    counts = node.type_counts()
    if not counts:
        return
    try:
        t = json_type(value)
    except TypeError:
        return
    if t == "null":
        if "null" not in counts:
            _add(out, Change(path, "null_value", _expected_types(counts), "null", None))
        return
    if t not in counts and not (t in _NUMERIC and _NUMERIC & counts.keys()):
        fmt = node.string_format() if "string" in counts else None
        if fmt in _DATES and t in _NUMERIC:
            _add(out, Change(path, "format_changed", f"string ({fmt})", t, example_of(value, key)))
        else:
            _add(out, Change(path, "type_changed", _expected_types(counts), t, example_of(value, key)))
        return
    if t == "object":
        props = node.properties()
        if props is None or node.is_map:
            return
        objects = node.object_count
        for name, child in props.items():
            if name not in value and child.count >= objects:
                _add(out, Change(f"{path}.{name}", "missing_field", "present", "missing", None))
        for name, v in value.items():
            child = props.get(name)
            if child is None:
                if isinstance(name, str):
                    _add(out, Change(f"{path}.{name}", "new_field", "absent", _type_name(v), example_of(v, name)))
            else:
                _walk(child, v, f"{path}.{name}", name, out, min_count)
    elif t == "array":
        items = node.item_node
        if items is not None and value:
            n = len(value)
            step = max(1, n // MAX_ITEMS_CHECKED)
            for v in value[::step][:MAX_ITEMS_CHECKED]:
                _walk(items, v, path + "[]", key, out, min_count)
    elif t == "string":
        fmt = node.string_format()
        if fmt and not has_format(value, fmt):
            _add(out, Change(path, "format_changed", f"string ({fmt})", "string", example_of(value, key)))
            return
        enum = node.enum_values()
        if enum and value not in enum and node.type_counts().get("string", 0) >= ENUM_MIN_RATIO * len(enum) \
                and not _open_valued(key):
            _add(out, Change(path, "new_enum_value", "one of " + ", ".join(enum), "string", example_of(value, key)))


def _type_name(value: Any) -> str:
    try:
        return json_type(value)
    except TypeError:
        return "unknown"


def check_response(schema: SchemaNode | None, always_json: bool, body: Any, is_json: bool,
                   status: int, shape_always_succeeded: bool, min_count: int = 1) -> list[Change]:
    """Every change of one response: the status, then JSON-ness, then the body's fields.

    `schema` is the learned schema of this status (None: not stable yet, nothing to compare);
    `always_json`: every body learned for this status was JSON; `shape_always_succeeded`: this
    request shape was answered with 2xx every time so far (and often enough to say so).
    """
    changes: list[Change] = []
    if status >= 400 and shape_always_succeeded:
        changes.append(Change("$", "error_status", "2xx", str(status), None))
    if schema is None:
        return changes
    if not is_json:
        if always_json:
            changes.append(Change("$", "not_json", "JSON", "not JSON", None))
        return changes
    changes.extend(compare(schema, body, min_count=min_count))
    return changes


def label_of(changes: list[Change]) -> str | None:
    """The worst label among the changes (None when there are none)."""
    return max((c.label for c in changes), key=LABEL_RANK.__getitem__, default=None)


def summary(changes: list[Change]) -> str:
    """One line: "2 breaking, 1 warning"."""
    parts = []
    for label in (BREAKING, WARNING, INFO):
        n = sum(1 for c in changes if c.label == label)
        if n:
            parts.append(f"{n} {label.lower()}")
    return ", ".join(parts) or "no changes"


def score(changes: list[Change]) -> int:
    """Drift score 0-100: breaking changes weigh most; a few of them saturate it."""
    weights = {BREAKING: 40, WARNING: 15, INFO: 3}
    return min(100, sum(weights[c.label] for c in changes))
