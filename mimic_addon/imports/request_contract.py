r"""The request body schema an OpenAPI document declares, as JSON Schema 2020-12 that `jsonschema` checks
(`serve/request_check.py`, mock mode's `spec` validation): the spec's own schema, not one rebuilt from the
model's summary of it (that lost `pattern`s and made up bounds of its own).

- `$ref`s inside the document are inlined (a schema referring to itself, at the second visit, accepts
  anything: a body is checked as deep as it can be without a loop);
- OpenAPI 3.0 and Swagger 2 dialects become JSON Schema: `nullable` / `x-nullable` add `null` to the type
  (and to an `enum`; without a `type`, null or the rest), a boolean `exclusiveMinimum`/`exclusiveMaximum` becomes the bound itself, Swagger's
  `type: file` accepts anything;
- `readOnly` properties are no part of a request: not required (also where an `allOf` member declares
  them), and anything is taken for them; a `discriminator`'s `oneOf` is an `anyOf` (it picks one of
  shapes that may overlap); a list `items` is `prefixItems`; a `pattern` Python cannot read (ECMA-262's
  `\p{L}`) is not checked, and a schema `jsonschema` cannot run at all is not judged
  (`serve/request_check.py`).
"""
from __future__ import annotations

import re
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
        elif key == "items" and isinstance(value, list):  # (Swagger's and draft 4's tuple form)
            out["prefixItems"] = [_convert(v, refs, legacy, following, depth + 1) for v in value]
        elif key == "pattern" and not _compiles(value):
            continue  # (an ECMA-262 pattern Python's `re` cannot read, `\p{L}`: not checked rather than refused)
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
    if isinstance(out.get("discriminator"), dict) and isinstance(out.get("oneOf"), list):
        out["anyOf"] = out.pop("oneOf")  # (the discriminator picks one; overlapping shapes may all match)
    if legacy:
        out = _legacy_keywords(out)
    if out.get("additionalProperties") is False and isinstance(out.get("allOf"), list):
        # (closed, made of `allOf` members: what they declare is no unknown field, as the spec means it)
        props = out.setdefault("properties", {})
        for member in out["allOf"]:
            for name in (member.get("properties") or {}) if isinstance(member, dict) else ():
                props.setdefault(name, {})
    written_by_server = _read_only(out)
    if written_by_server:
        _not_required(out, written_by_server)
    return out


def _read_only(s: dict[str, Any]) -> set[str]:
    """The properties marked readOnly in this object schema and the `allOf` members it is made of: the
    server writes them, a request may leave them out (or send them: they accept anything)."""
    names: set[str] = set()
    props = s.get("properties")
    if isinstance(props, dict):
        for name, p in props.items():
            if isinstance(p, dict) and p.get("readOnly") is True:
                names.add(name)
                props[name] = {"readOnly": True}  # (anything: an annotation only, seen again by an outer allOf)
    for member in s.get("allOf") or ():
        if isinstance(member, dict):
            names |= _read_only(member)
    return names


def _not_required(s: dict[str, Any], names: set[str]) -> None:
    if isinstance(s.get("required"), list):
        s["required"] = [r for r in s["required"] if r not in names]
    for member in s.get("allOf") or ():
        if isinstance(member, dict):
            _not_required(member, names)


def _compiles(pattern: Any) -> bool:
    try:
        re.compile(pattern)
    except (re.error, TypeError):
        return False
    return True


def _legacy_keywords(s: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI 3.0 / Swagger 2 keywords in their JSON Schema 2020-12 meaning."""
    nullable = s.pop("nullable", None) is True
    nullable = s.pop("x-nullable", None) is True or nullable
    if nullable:
        kind = s.get("type")
        if isinstance(kind, str):
            s["type"] = [kind, "null"]
        elif isinstance(kind, list) and "null" not in kind:
            s["type"] = [*kind, "null"]
        elif kind is None:  # (`allOf`/`oneOf` and nullable: null or what they say)
            _bounds(s)
            return {"anyOf": [s, {"type": "null"}]}
        if isinstance(s.get("enum"), list) and None not in s["enum"]:
            s["enum"] = [*s["enum"], None]
    _bounds(s)
    return s


def _bounds(s: dict[str, Any]) -> None:
    for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(s.get(flag), bool):
            if s.pop(flag) and isinstance(s.get(bound), (int, float)):
                s[flag] = s.pop(bound)
