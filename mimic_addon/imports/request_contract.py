"""The request body schema an OpenAPI document declares, as JSON Schema 2020-12 that `jsonschema` checks
(`serve/request_check.py`, mock mode's `spec` validation): the spec's own schema, not one rebuilt from the
model's summary of it (that lost `pattern`s and made up bounds of its own).

- `$ref`s inside the document are inlined (a schema referring to itself, at the second visit, accepts
  anything: a body is checked as deep as it can be without a loop);
- OpenAPI 3.0 and Swagger 2 dialects become JSON Schema: `nullable` / `x-nullable` add `null` to the type
  (and to an `enum`), a boolean `exclusiveMinimum`/`exclusiveMaximum` becomes the bound itself, Swagger's
  `type: file` accepts anything;
- `readOnly` properties are no part of a request: left out of `properties` and `required`.
"""
from __future__ import annotations

from typing import Any

from ..model.from_jsonschema import Refs, SchemaImportError

MAX_DEPTH = 64  # nested schemas followed (a body deeper than this is not checked below it)


def declared_request_schema(schema: Any, refs: Refs, legacy: bool) -> dict[str, Any]:
    """`schema` (a request body's, as the document writes it) as checkable JSON Schema; `legacy`: the
    document is OpenAPI 3.0 or Swagger 2 (their `nullable` and boolean exclusive bounds)."""
    out = _convert(schema, refs, legacy, frozenset(), 0)
    return out if isinstance(out, dict) else {}


def _convert(schema: Any, refs: Refs, legacy: bool, following: frozenset[str], depth: int) -> Any:
    if isinstance(schema, bool):
        return schema  # (`true`/`false` schemas of 3.1)
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return {}
    ref = schema.get("$ref")
    if isinstance(ref, str):
        if ref in following:
            return {}
        try:
            target = refs.resolve(ref)
        except SchemaImportError:
            return {}
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}} if isinstance(target, dict) else target
        return _convert(merged, refs, legacy, following | {ref}, depth + 1)
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas"):
            if isinstance(value, dict):
                out[key] = {k: _convert(v, refs, legacy, following, depth + 1) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else",
                     "unevaluatedProperties", "unevaluatedItems", "additionalItems"):
            out[key] = _convert(value, refs, legacy, following, depth + 1) if isinstance(value, dict) else value
        elif key in ("allOf", "anyOf", "oneOf", "prefixItems"):
            if isinstance(value, list):
                out[key] = [_convert(v, refs, legacy, following, depth + 1) for v in value]
        elif key == "type" and value == "file":
            continue  # (Swagger 2: a file upload, any bytes)
        else:
            out[key] = value
    if legacy:
        _legacy_keywords(out)
    props = out.get("properties")
    if isinstance(props, dict):
        written_by_server = {name for name, p in props.items() if isinstance(p, dict) and p.get("readOnly") is True}
        if written_by_server:
            out["properties"] = {k: v for k, v in props.items() if k not in written_by_server}
            if isinstance(out.get("required"), list):
                out["required"] = [r for r in out["required"] if r not in written_by_server]
    return out


def _legacy_keywords(s: dict[str, Any]) -> None:
    """OpenAPI 3.0 / Swagger 2 keywords in their JSON Schema 2020-12 meaning, in place."""
    if s.pop("nullable", None) is True or s.pop("x-nullable", None) is True:
        kind = s.get("type")
        if isinstance(kind, str):
            s["type"] = [kind, "null"]
        elif isinstance(kind, list) and "null" not in kind:
            s["type"] = [*kind, "null"]
        if isinstance(s.get("enum"), list) and None not in s["enum"]:
            s["enum"] = [*s["enum"], None]
    for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(s.get(flag), bool):
            if s.pop(flag) and isinstance(s.get(bound), (int, float)):
                s[flag] = s.pop(bound)
