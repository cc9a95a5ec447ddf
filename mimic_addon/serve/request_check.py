"""Mock mode checks a request's JSON body against the endpoint's request schema, as Prism does.

`mimic_mock_validate` says against what:

- `spec` (the default): endpoints imported from a spec (`mimic import openapi`), against the request
  schema the spec declared (kept at import: what traffic learned since adds nothing to it): types,
  required fields, enums, bounds, closed objects and the formats `jsonschema` checks (e-mail, date-time,
  uuid, ...) hold.
- `learned`: also endpoints learned from traffic, once `LEARNED_MIN` request bodies were seen, against
  what the exports state as their contract (`model.contract`): types, fields present in every body
  seen, closed sets the evidence supports; no bounds or formats taken from samples.
- `off`: no check.

A body that breaks the schema is answered 422 with what is wrong, a body sent as JSON that is not JSON
400 (to any endpoint, whatever the mode but `off`); a request without a body, or with one too large to read, is not judged. What is said names the
place and the rule, never the value sent (it may be a secret).
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from ..model import safe_json
from ..model.contract import schema_of
from ..model.schema import SchemaNode

MODES = ("spec", "learned", "off")
LEARNED_MIN = 5       # request bodies learned before a learned schema is held against requests
MAX_PROBLEMS = 10     # told per answer
CACHED = 256          # compiled validators kept
_SAMPLED_KEYWORDS = frozenset(("format", "pattern", "examples"))  # not a contract when learned
_Validator = jsonschema.Draft202012Validator


class RequestCheck:
    """Compiled validators of the endpoints' request schemas (the most recently used `CACHED`), built
    again when a schema learned more."""

    def __init__(self) -> None:
        self._validators: OrderedDict[int, tuple[int, Any, Any]] = OrderedDict()  # id -> (count, schema, validator)

    def problems(self, ep: Any, mode: str, body: bytes | None, content_type: str) -> tuple[int, dict] | None:
        """(status, answer) for a request body the endpoint's schema refuses; None when it passes or is
        not judged."""
        declared = bool(ep.imported)
        node = ep.request
        if mode == "off" or not body:
            return None
        sent_as_json = is_json_document(content_type)
        judged = node is not None and (declared or (mode == "learned" and node.count >= LEARNED_MIN))
        if not (judged or sent_as_json):
            return None
        try:
            value = safe_json.loads(body)
        except safe_json.TooDeep:
            return None  # (JSON, but deeper than anything is walked: not judged)
        except ValueError:
            if sent_as_json:  # (any endpoint's: a backend refuses JSON it cannot read, whatever its schema)
                return 400, {"error": "the request body is not valid JSON", "method": ep.method}
            return None  # (a form or a file where JSON was learned: not this check's business)
        if not judged:
            return None
        spec = ep.imported.get("request_schema") if declared else None
        try:
            validator = self._declared(spec) if isinstance(spec, dict) else self._validator(node, declared)
            errors = sorted(validator.iter_errors(value), key=lambda e: (list(e.absolute_path), e.validator))
        except Exception:  # noqa: BLE001 (a schema `jsonschema` cannot run: an ECMA-262 pattern Python's re
            return None    # refuses, a keyword of another dialect): not judged, never a failed request
        if not errors:
            return None
        said: list[dict[str, str]] = []
        for e in errors:  # (one `required` error per missing field: told once, naming them all)
            problem = {"path": _json_path(e), "rule": str(e.validator), "message": _message(e)}
            if problem not in said:
                said.append(problem)
        basis = "the imported spec" if declared else "the learned request schema"
        return 422, {"error": f"the request body does not match {basis}", "problems": said[:MAX_PROBLEMS],
                     "more": max(0, len(said) - MAX_PROBLEMS)}

    def _declared(self, schema: dict[str, Any]) -> Any:
        """The validator of a request schema an import kept (formats checked)."""
        return self._cached(schema, 0, lambda: _Validator(schema, format_checker=_Validator.FORMAT_CHECKER))

    def _validator(self, node: SchemaNode, declared: bool) -> Any:
        def build() -> Any:
            schema = schema_of(node, declared)
            return _Validator(schema if declared else _without_samples(schema),
                              format_checker=_Validator.FORMAT_CHECKER if declared else None)
        return self._cached(node, node.count, build)

    def _cached(self, source: Any, count: int, build: Callable[[], Any]) -> Any:
        """The validator built from `source` (a schema or a node) when it had `count` samples, built now
        if not kept (or kept for another count); the least recently used beyond CACHED are forgotten."""
        known = self._validators.get(id(source))
        if known is not None and known[0] == count and known[1] is source:
            self._validators.move_to_end(id(source))
            return known[2]
        validator = build()
        self._validators[id(source)] = (count, source, validator)
        if len(self._validators) > CACHED:
            self._validators.popitem(last=False)
        return validator

def is_json_document(content_type: str) -> bool:
    """`application/json`, `application/merge-patch+json`: one JSON document (not NDJSON, a stream of them),
    in a request (what is checked) or an answer (what a mock can make up: `mock.py`)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media.endswith("/json") or media.endswith("+json")


def _without_samples(schema: Any) -> Any:
    """A learned contract without what samples only suggest (formats, patterns, examples)."""
    if isinstance(schema, dict):
        return {k: _without_samples(v) for k, v in schema.items()
                if k not in _SAMPLED_KEYWORDS and not k.startswith("x-")}
    if isinstance(schema, list):
        return [_without_samples(v) for v in schema]
    return schema


def _json_path(e: ValidationError) -> str:
    path = "$"
    for step in e.absolute_path:
        path += f"[{step}]" if isinstance(step, int) else f".{step}"
    return path


def _message(e: ValidationError) -> str:
    """What the rule asks, without the value sent."""
    rule, wanted, sent = e.validator, e.validator_value, e.instance
    listed = wanted if isinstance(wanted, list) else []
    if rule == "type":
        return f"must be of type {' or '.join(map(str, listed)) if listed else wanted}"
    if rule == "required":
        missing = [str(name) for name in listed if isinstance(sent, dict) and name not in sent]
        return f"missing required field{'s' if len(missing) > 1 else ''}: {', '.join(missing)}"
    if rule == "enum":
        return f"must be one of {', '.join(map(repr, listed))}"
    if rule == "additionalProperties":
        schema = e.schema if isinstance(e.schema, dict) else {}
        extra = sorted(str(k) for k in sent if k not in (schema.get("properties") or {})) if isinstance(sent, dict) else []
        return f"unknown field{'s' if len(extra) > 1 else ''}: {', '.join(extra)}"
    if rule in ("oneOf", "anyOf"):
        return "matches none of the allowed shapes"
    return f"breaks {rule}: {wanted!r}"
