"""What the Explorer shows of one endpoint, as plain data: schemas as JSON Schema and as a field
table, statistics with chart data, a sample request for override previews, per-endpoint types.

Pure: takes a learned Endpoint (and its path tree) and returns dicts and dataclasses. Everything
in them came from traffic, so it is only ever rendered escaped (Jinja autoescape, textContent).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from mimic_addon.export import jsonschema_doc
from mimic_addon.export.openapi import _PARAM_SCHEMAS, param_kinds
from mimic_addon.learn.endpoint import Endpoint
from mimic_addon.model import segments as seg
from mimic_addon.model.paths import PathTree

from . import charts

MAX_FIELD_ROWS = 400
MAX_DEPTH_CLASS = 9  # the CSS has indentation classes depth-0 .. depth-9
_PARAM_EXAMPLES = {seg.INT: "1", seg.UUID: "00000000-0000-4000-8000-000000000001", seg.DATE: "2024-01-31",
                   seg.EMAIL: "user@example.com", seg.HEX: "0123456789abcdef", seg.TOKEN: "token",
                   seg.PREFIXED: "id_0123456789", seg.SLUG: "an-example-slug"}
_SCALAR_EXAMPLES = {"integer": "1", "number": "1.5", "boolean": "true", "string": "example"}


def scrub(value: Any) -> Any:
    """A copy whose strings encode as UTF-8: a JSON body may carry lone surrogates (`"\\ud800"`),
    which would make the page or the JSON answer fail to encode. They become U+FFFD."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in value)
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return value


# -- schemas as tables ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class FieldRow:
    path: str            # JSON path of the field ($.user.email, $.items[])
    name: str            # the key (or [] / {key} / a variant) as shown
    depth: int
    type: str
    format: str | None
    required: bool | None  # None: not an object property
    enum: list[Any] | None
    range: str

    @property
    def depth_class(self) -> str:
        return f"depth-{min(self.depth, MAX_DEPTH_CLASS)}"


def _type_of(schema: dict[str, Any]) -> str:
    t = schema.get("type")
    if isinstance(t, list):
        return " | ".join(t)
    if t:
        return str(t)
    return "any"


def _range(schema: dict[str, Any]) -> str:
    parts = []
    for lo, hi, unit in (("minLength", "maxLength", "chars"), ("minimum", "maximum", ""),
                         ("minItems", "maxItems", "items")):
        if lo in schema or hi in schema:
            a, b = schema.get(lo), schema.get(hi)
            span = f"{a}" if a == b else f"{a}..{b}"
            parts.append(f"{span} {unit}".strip())
    return ", ".join(parts)


def schema_rows(schema: dict[str, Any] | None, limit: int = MAX_FIELD_ROWS) -> tuple[list[FieldRow], bool]:
    """The fields of a JSON Schema as indented rows (body first), and whether rows were cut at `limit`."""
    rows: list[FieldRow] = []
    if not schema:
        return rows, False

    def walk(node: dict[str, Any], path: str, name: str, depth: int, required: bool | None) -> None:
        if len(rows) >= limit:
            return
        rows.append(FieldRow(path, name, depth, _type_of(node), node.get("format"), required, node.get("enum"),
                             _range(node)))
        for i, branch in enumerate(node.get("oneOf") or []):
            tag = next((p.get("const") for p in (branch.get("properties") or {}).values() if "const" in p), None)
            walk(branch, path, f"variant {tag}" if tag is not None else f"variant {i + 1}", depth + 1, None)
        must = set(node.get("required") or ())
        for key, child in (node.get("properties") or {}).items():
            walk(child, f"{path}.{key}", key, depth + 1, key in must)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            walk(extra, f"{path}.*", "{any key}", depth + 1, None)
        items = node.get("items")
        if isinstance(items, dict):
            walk(items, f"{path}[]", "[] item", depth + 1, None)

    walk(schema, "$", "(body)", 0, None)
    return rows, len(rows) >= limit


# -- the endpoint ----------------------------------------------------------------------------------------
def _status_key(code: str) -> tuple[int, str]:
    return (int(code), code) if code.isdigit() else (1000, code)


def path_params(template: str, kinds: list[str]) -> list[dict[str, Any]]:
    names = re.findall(r"\{([^}/]+)\}", template)
    return [{"name": n, "kind": k, "schema": _PARAM_SCHEMAS.get(k, {"type": "string"})}
            for n, k in zip(names, kinds + [seg.WORD] * (len(names) - len(kinds)))]


def detail(endpoint_id: int, ep: Endpoint, template: str, tree: PathTree | None) -> dict[str, Any]:
    """Everything the API and the page show of one endpoint (without health, alerts and settings)."""
    kinds = param_kinds(tree, ep.skeleton) if tree is not None else []
    total = ep.stats.count
    query = [{"name": name, "required": node.count >= total, "count": node.count, "schema": node.to_json_schema()}
             for name, node in sorted(ep.query.items())]
    responses = {}
    for code in sorted({str(s) for s in ep.stats.statuses} | set(ep.responses), key=_status_key):
        node = ep.responses.get(code)
        responses[code] = {"schema": node.to_json_schema() if node is not None else None,
                           "samples": node.count if node is not None else 0,
                           "media": dict(ep.response_types.get(code, {})), "example": ep.examples.get(code)}
    summary = ep.stats.summary()
    return scrub({
        "id": endpoint_id, "host": ep.host, "method": ep.method, "template": template, "skeleton": ep.skeleton,
        "params": path_params(template, kinds),
        "query": query,
        "request": {"schema": ep.request.to_json_schema() if ep.request is not None else None,
                    "samples": ep.request.count if ep.request is not None else 0,
                    "media": dict(ep.request_types), "example": ep.request_example},
        "responses": responses,
        "stats": {**summary, "histogram": [{"lo": b.lo, "hi": None if b.hi == float("inf") else b.hi,
                                            "count": b.count} for b in charts.latency_bins(ep.stats.latency.to_dict())]},
    })


def sample_request(info: dict[str, Any]) -> dict[str, Any]:
    """A request to this endpoint as override templates see it (`request`): path parameters and
    query parameters filled with plausible values, the learned request example as the body."""
    params = {p["name"]: _PARAM_EXAMPLES.get(p["kind"], "example") for p in info["params"]}
    path = re.sub(r"\{([^}/]+)\}", lambda m: params.get(m.group(1), "example"), info["template"])
    query = {}
    for q in info["query"]:
        schema = q["schema"] or {}
        enum = schema.get("enum")
        t = schema.get("type")
        t = t[0] if isinstance(t, list) else t
        query[q["name"]] = str(enum[0]) if enum else _SCALAR_EXAMPLES.get(t or "string", "example")
    body = info["request"]["example"]
    return {"method": info["method"], "path": path, "params": params, "query": query,
            "headers": {"accept": "application/json"}, "body": body,
            "text": json.dumps(body) if body is not None else ""}


def chart_data(info: dict[str, Any]) -> tuple[charts.Histogram, charts.StatusMix]:
    stats = info["stats"]
    bins = [charts.Bin(b["lo"], b["hi"] if b["hi"] is not None else float("inf"), b["count"])
            for b in stats["histogram"]]
    return charts.histogram(bins, stats["latency"]), charts.status_mix(stats["statuses"])


# -- types ---------------------------------------------------------------------------------------------------
TYPE_KINDS = {"jsonschema": ("JSON Schema", "application/schema+json", "json"),
              "typescript": ("TypeScript", "application/typescript", "ts"),
              "pydantic": ("Pydantic", "text/x-python", "py")}


def types_document(ep: Endpoint, template: str, tree: PathTree | None) -> dict[str, Any]:
    """The endpoint's JSON Schema document (the same builder as `mimic export jsonschema`)."""
    kinds = param_kinds(tree, ep.skeleton) if tree is not None else []
    return jsonschema_doc.build([(ep, template, kinds)], title=f"{ep.method} {template}")


def types_text(kind: str, doc: dict[str, Any]) -> str:
    """One endpoint's types: its JSON Schema, TypeScript or Pydantic module (may be slow: Pydantic
    runs datamodel-code-generator; call in a worker thread)."""
    if kind == "jsonschema":
        return jsonschema_doc.dumps(doc)
    if kind == "typescript":
        from mimic_addon.export import typescript

        return typescript.from_document(doc)
    if kind == "pydantic":
        from mimic_addon.export import pydantic_models

        return pydantic_models.from_document(doc)
    raise KeyError(kind)


def type_filename(kind: str, ep: Endpoint, template: str) -> str:
    stem = re.sub(r"[^0-9A-Za-z]+", "_", f"{ep.method} {template}").strip("_").lower() or "endpoint"
    return f"{stem}.{TYPE_KINDS[kind][2]}"
